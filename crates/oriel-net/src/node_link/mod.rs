//! Links between the nodes of a cluster, for spaces that span nodes.
//!
//! A space is held by one node (its signaling, admission and live state stay there); when it
//! outgrows that node, its next participants' media goes to a worker of another node. The
//! shards on the nodes then relay to each other exactly as the workers of one node do
//! ([`oriel_sfu::ShardEvent`]), over these links: each track crosses once to each node, and
//! the participant's signaling travels between its WebSocket (on the space's node) and its
//! worker (on the other).
//!
//! One TCP connection per direction and pair of nodes, opened on first use to the address the
//! cluster's registry gives for the node's ordinal, authenticated by the cluster's secret.
//! A link that breaks takes with it what depended on it: the participants whose media was on
//! the other node are disconnected and reconnect through the SDK, as after a node's loss.

mod frame;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use oriel_proto::{ClientMessage, ParticipantRole};
use oriel_sfu::{ConnectionKey, JoinRequest, PreparedPeers, SpaceSnapshot};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

pub use frame::{Frame, Hello, RemoteJoin, ShardMessage};
use frame::{FrameDecoder, FrameEncoder};

use crate::workers::WorkerHandle;
use crate::{Command, Outgoing};

/// Workers per node in the cluster-wide shard numbering (the contract's most).
pub const WORKERS_PER_NODE: usize = 16;
/// Relayed packets a link may hold unsent before more are dropped (changes always go).
const MAX_QUEUED_PACKETS: usize = 8192;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Bytes gathered before a write, so that a burst of packets costs few system calls.
const WRITE_BATCH: usize = 64 * 1024;

/// The node's ordinal of a cluster-wide shard number.
pub fn node_of(shard: usize) -> u16 {
    (shard / WORKERS_PER_NODE) as u16
}

/// The links of this node: cheap to clone.
#[derive(Clone)]
pub struct NodeLinks {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for NodeLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeLinks")
            .field("ordinal", &self.inner.ordinal)
            .finish_non_exhaustive()
    }
}

struct Inner {
    ordinal: u16,
    secret: String,
    runtime: tokio::runtime::Handle,
    workers: Arc<Vec<WorkerHandle>>,
    backlogs: Arc<[AtomicUsize]>,
    /// Where each other node takes links.
    addresses: Mutex<HashMap<u16, String>>,
    /// The connection this node opened to each other node.
    senders: Mutex<HashMap<u16, LinkSender>>,
    /// WebSockets here of participants whose media is on another node: where that node's
    /// signals for them go.
    remote_outboxes: Mutex<HashMap<ConnectionKey, (u16, mpsc::UnboundedSender<Outgoing>)>>,
    /// Set when the node drains: participants other nodes place here are turned away (their
    /// SDK reconnects, to a node that stays).
    refusing: AtomicBool,
    /// Snapshots asked of other nodes, by request id.
    snapshots: Mutex<HashMap<u64, oneshot::Sender<SpaceSnapshot>>>,
    next_request: AtomicU64,
}

/// Sends to one other node.
#[derive(Clone, Debug)]
pub struct LinkSender {
    frames: mpsc::UnboundedSender<Frame>,
    queued_packets: Arc<AtomicUsize>,
    /// Set when the other node is known gone (its link to this one ended): nothing more is
    /// sent, although the connection this node opened has not noticed yet.
    dead: Arc<AtomicBool>,
}

impl LinkSender {
    /// Queues a frame; false when the link is gone.
    pub fn send(&self, frame: Frame) -> bool {
        !self.is_closed() && self.frames.send(frame).is_ok()
    }

    /// Queues a relayed packet unless the link is that far behind; false when dropped.
    pub fn send_packet(&self, frame: Frame) -> bool {
        if self.queued_packets.load(Ordering::Relaxed) >= MAX_QUEUED_PACKETS {
            return false;
        }
        self.queued_packets.fetch_add(1, Ordering::Relaxed);
        self.send(frame)
    }

    pub fn is_closed(&self) -> bool {
        self.frames.is_closed() || self.dead.load(Ordering::Relaxed)
    }
}

impl NodeLinks {
    /// Takes links on `listener`; this node is `ordinal` in the cluster.
    pub(crate) fn start(
        listener: TcpListener,
        ordinal: u16,
        secret: String,
        workers: Arc<Vec<WorkerHandle>>,
        backlogs: Arc<[AtomicUsize]>,
    ) -> Self {
        let links = Self {
            inner: Arc::new(Inner {
                ordinal,
                secret,
                runtime: tokio::runtime::Handle::current(),
                workers,
                backlogs,
                addresses: Mutex::new(HashMap::new()),
                senders: Mutex::new(HashMap::new()),
                remote_outboxes: Mutex::new(HashMap::new()),
                refusing: AtomicBool::new(false),
                snapshots: Mutex::new(HashMap::new()),
                next_request: AtomicU64::new(1),
            }),
        };
        tokio::spawn(links.clone().accept(listener));
        links
    }

    pub fn ordinal(&self) -> u16 {
        self.inner.ordinal
    }

    /// The node drains: it takes no more participants from other nodes.
    pub fn refuse_joins(&self) {
        self.inner.refusing.store(true, Ordering::SeqCst);
    }

    /// Where the other nodes take links, from the cluster's registry.
    pub fn set_addresses(&self, addresses: HashMap<u16, String>) {
        *lock(&self.inner.addresses) = addresses;
    }

    /// The link to `node`, opened if there is none (a stale one is replaced).
    pub fn sender(&self, node: u16) -> Option<LinkSender> {
        let mut senders = lock(&self.inner.senders);
        if let Some(sender) = senders.get(&node).filter(|s| !s.is_closed()) {
            return Some(sender.clone());
        }
        let address = lock(&self.inner.addresses).get(&node)?.clone();
        let (frames, queue) = mpsc::unbounded_channel();
        let sender = LinkSender {
            frames,
            queued_packets: Arc::new(AtomicUsize::new(0)),
            dead: Arc::new(AtomicBool::new(false)),
        };
        senders.insert(node, sender.clone());
        self.inner.runtime.spawn(self.clone().write(
            node,
            address,
            queue,
            Arc::clone(&sender.queued_packets),
            Arc::clone(&sender.dead),
        ));
        Some(sender)
    }

    /// A participant whose WebSocket is here and whose media is on `node`: its signals come
    /// back to `outbox`.
    pub fn register_remote(
        &self,
        connection: ConnectionKey,
        node: u16,
        outbox: mpsc::UnboundedSender<Outgoing>,
    ) {
        lock(&self.inner.remote_outboxes).insert(connection, (node, outbox));
    }

    pub fn unregister_remote(&self, connection: ConnectionKey) {
        lock(&self.inner.remote_outboxes).remove(&connection);
    }

    /// Who is in a space on another node's worker `shard`; `None` if it does not answer soon.
    pub async fn snapshot(&self, shard: usize, space_id: &str) -> Option<SpaceSnapshot> {
        const ANSWER_WITHIN: Duration = Duration::from_secs(2);
        let link = self.sender(node_of(shard))?;
        let id = self.inner.next_request.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        lock(&self.inner.snapshots).insert(id, reply);
        link.send(Frame::SnapshotRequest {
            id,
            space: Arc::from(space_id),
            target: shard as u16,
        });
        let answered = tokio::time::timeout(ANSWER_WITHIN, answer).await;
        lock(&self.inner.snapshots).remove(&id);
        answered.ok()?.ok()
    }

    /// Everything that depended on `node`: its link and the participants whose media was
    /// there (their sockets here end; the SDK reconnects them).
    fn lost(&self, node: u16) {
        if let Some(sender) = lock(&self.inner.senders).remove(&node) {
            sender.dead.store(true, Ordering::Relaxed);
        }
        // Not placed on again until the registry says it is there (its next heartbeat).
        lock(&self.inner.addresses).remove(&node);
        lock(&self.inner.remote_outboxes).retain(|_, (n, _)| *n != node);
    }

    async fn write(
        self,
        node: u16,
        address: String,
        mut queue: mpsc::UnboundedReceiver<Frame>,
        queued_packets: Arc<AtomicUsize>,
        dead: Arc<AtomicBool>,
    ) {
        let stream =
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address.as_str())).await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::warn!(node, %address, %error, "cannot open a link to another node");
                    return self.lost_writer(node, queue);
                }
                Err(_) => {
                    tracing::warn!(node, %address, "no answer opening a link to another node");
                    return self.lost_writer(node, queue);
                }
            };
        let _ = stream.set_nodelay(true);
        let (_, mut writer) = stream.into_split();
        let mut encoder = FrameEncoder::default();
        let mut bytes = Vec::with_capacity(WRITE_BATCH);
        let hello = Frame::Hello(Hello {
            ordinal: self.inner.ordinal,
            secret: self.inner.secret.clone(),
        });
        encoder.encode(Instant::now(), &hello, &mut bytes);
        tracing::info!(node, %address, "link to another node open");
        loop {
            if dead.load(Ordering::Relaxed) {
                return;
            }
            if bytes.is_empty() {
                match queue.recv().await {
                    Some(frame) => self.encode(&mut encoder, &queued_packets, &frame, &mut bytes),
                    None => return,
                }
            }
            while bytes.len() < WRITE_BATCH {
                match queue.try_recv() {
                    Ok(frame) => self.encode(&mut encoder, &queued_packets, &frame, &mut bytes),
                    Err(_) => break,
                }
            }
            if let Err(error) = writer.write_all(&bytes).await {
                tracing::warn!(node, %error, "link to another node broke");
                return self.lost_writer(node, queue);
            }
            bytes.clear();
        }
    }

    fn encode(
        &self,
        encoder: &mut FrameEncoder,
        queued_packets: &AtomicUsize,
        frame: &Frame,
        bytes: &mut Vec<u8>,
    ) {
        if matches!(
            frame,
            Frame::Shard {
                message: ShardMessage::Relay(oriel_sfu::ShardEvent::Media(_)),
                ..
            }
        ) {
            queued_packets.fetch_sub(1, Ordering::Relaxed);
        }
        encoder.encode(Instant::now(), frame, bytes);
    }

    fn lost_writer(&self, node: u16, queue: mpsc::UnboundedReceiver<Frame>) {
        drop(queue);
        self.lost(node);
    }

    async fn accept(self, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(self.clone().read(stream, peer));
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a link");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Reads one accepted link until it ends; then the participants it brought here leave.
    async fn read(self, mut stream: TcpStream, peer: SocketAddr) {
        let mut decoder = FrameDecoder::default();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut from_node = None;
        // Participants placed here by that node: their space and worker.
        let mut seen = Seen::default();
        'link: loop {
            let read = match stream.read(&mut buffer).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(error) => {
                    tracing::debug!(%peer, %error, "link read failed");
                    break;
                }
            };
            decoder.feed(&buffer[..read]);
            loop {
                let frame = match decoder.next_frame(Instant::now()) {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(%peer, %error, "unreadable link; closing it");
                        break 'link;
                    }
                };
                match (from_node, frame) {
                    (None, Frame::Hello(hello)) => {
                        if !constant_time_eq(hello.secret.as_bytes(), self.inner.secret.as_bytes())
                        {
                            tracing::warn!(%peer, "a link with the wrong cluster secret; closing it");
                            break 'link;
                        }
                        tracing::info!(node = hello.ordinal, %peer, "link from another node open");
                        from_node = Some(hello.ordinal);
                    }
                    (None, _) => {
                        tracing::warn!(%peer, "a link that did not say hello; closing it");
                        break 'link;
                    }
                    (Some(node), frame) => self.deliver(node, frame, &mut seen),
                }
            }
        }
        self.forget(seen);
        if let Some(node) = from_node {
            tracing::info!(node, "link from another node closed");
            self.lost(node);
        }
    }

    fn local_index(&self, shard: usize) -> Option<usize> {
        let base = usize::from(self.inner.ordinal) * WORKERS_PER_NODE;
        shard
            .checked_sub(base)
            .filter(|&index| index < self.inner.workers.len())
    }

    fn to_worker(&self, shard: usize, command: Command) {
        if let Some(index) = self.local_index(shard) {
            self.inner.workers[index].send(command);
        }
    }

    fn deliver(&self, node: u16, frame: Frame, seen: &mut Seen) {
        match frame {
            Frame::Hello(_) => {}
            Frame::Shard {
                space,
                from,
                targets,
                message,
            } => {
                seen.note(&space, from, &targets, &message);
                let from = usize::from(from);
                for &target in targets.iter() {
                    let target = usize::from(target);
                    let Some(index) = self.local_index(target) else {
                        continue;
                    };
                    let command = match &message {
                        ShardMessage::Relay(event) => {
                            if matches!(event, oriel_sfu::ShardEvent::Media(_)) {
                                // Counted as the worker's own relays are: it takes them off.
                                let backlog = &self.inner.backlogs[index];
                                if backlog.load(Ordering::Relaxed) >= MAX_QUEUED_PACKETS {
                                    continue;
                                }
                                backlog.fetch_add(1, Ordering::Relaxed);
                            }
                            Command::Relay {
                                space_id: Arc::clone(&space),
                                from,
                                event: event.clone(),
                            }
                        }
                        ShardMessage::OpenShard { peers } => Command::OpenShard {
                            space_id: Arc::clone(&space),
                            peers: peers.iter().map(|&p| usize::from(p)).collect(),
                        },
                        ShardMessage::ShardOpened { worker } => Command::ShardOpened {
                            space_id: Arc::clone(&space),
                            worker: usize::from(*worker),
                        },
                        ShardMessage::ShardClosed { worker } => Command::ShardClosed {
                            space_id: Arc::clone(&space),
                            worker: usize::from(*worker),
                        },
                        ShardMessage::SyncDone => Command::SyncDone {
                            space_id: Arc::clone(&space),
                            from,
                        },
                    };
                    self.inner.workers[index].send(command);
                }
            }
            Frame::Join {
                space,
                target,
                join,
            } => {
                let target = usize::from(target);
                let Some(index) = self.local_index(target) else {
                    return;
                };
                let connection = ConnectionKey(join.connection);
                seen.hosted.insert(connection, (Arc::clone(&space), target));
                tokio::spawn(self.clone().host(node, space, index, join));
            }
            Frame::Message {
                space,
                target,
                connection,
                text,
            } => match ClientMessage::parse(&text) {
                Ok(message) => self.to_worker(
                    usize::from(target),
                    Command::Message {
                        space_id: space.to_string(),
                        connection,
                        message,
                    },
                ),
                Err(error) => tracing::debug!(%error, "a relayed frame did not parse"),
            },
            Frame::Leave {
                space,
                target,
                connection,
            } => {
                seen.hosted.remove(&connection);
                self.to_worker(
                    usize::from(target),
                    Command::Leave {
                        space_id: space.to_string(),
                        connection,
                    },
                );
            }
            Frame::SetBroadcasting {
                space,
                target,
                broadcasting,
            } => self.to_worker(
                usize::from(target),
                Command::SetBroadcasting {
                    space_id: space.to_string(),
                    broadcasting,
                },
            ),
            Frame::Signal {
                connection,
                close,
                json,
            } => {
                if let Some((_, outbox)) = lock(&self.inner.remote_outboxes).get(&connection) {
                    let _ = outbox.send(if close {
                        Outgoing::CloseText(json)
                    } else {
                        Outgoing::SignalText(json)
                    });
                }
            }
            Frame::Gone { connection } => {
                lock(&self.inner.remote_outboxes).remove(&connection);
            }
            Frame::SnapshotRequest { id, space, target } => {
                let Some(index) = self.local_index(usize::from(target)) else {
                    return;
                };
                let (reply, answer) = oneshot::channel();
                self.inner.workers[index].send(Command::Snapshot {
                    space_id: space.to_string(),
                    reply,
                });
                let links = self.clone();
                tokio::spawn(async move {
                    let snapshot = answer.await.unwrap_or_default();
                    if let Some(link) = links.sender(node) {
                        link.send(Frame::Snapshot {
                            id,
                            snapshot: Box::new(snapshot),
                        });
                    }
                });
            }
            Frame::Snapshot { id, snapshot } => {
                if let Some(reply) = lock(&self.inner.snapshots).remove(&id) {
                    let _ = reply.send(*snapshot);
                }
            }
        }
    }

    /// A participant placed here by `node`: its connections are built off the worker's
    /// thread, then it joins, and what the worker says to it goes back over the link.
    async fn host(self, node: u16, space: Arc<str>, index: usize, join: Box<RemoteJoin>) {
        let connection = ConnectionKey(join.connection);
        if self.inner.refusing.load(Ordering::SeqCst) {
            if let Some(link) = self.sender(node) {
                link.send(Frame::Gone { connection });
            }
            return;
        }
        let worker = self.inner.workers[index].clone();
        let publishes = join.publisher;
        let candidates = Arc::clone(&worker.candidates);
        let peers = tokio::task::spawn_blocking(move || {
            Box::new(PreparedPeers::build(&candidates, publishes, Instant::now()))
        })
        .await
        .ok();
        let (outbox, mut signals) = mpsc::unbounded_channel();
        let request = JoinRequest {
            connection,
            connection_id: join.connection_id,
            participant_id: join.participant_id,
            session_id: join.session_id,
            role: if join.publisher {
                ParticipantRole::Publisher
            } else {
                ParticipantRole::Subscriber
            },
            display_name: join.display_name,
            managed_subscriptions: join.managed_subscriptions,
            hidden: join.hidden,
            ice_servers: join.ice_servers,
        };
        if !worker.send(Command::Join {
            space_id: space.to_string(),
            request,
            outbox,
            broadcasting: join.broadcasting,
            peers,
        }) {
            return;
        }
        while let Some(outgoing) = signals.recv().await {
            let frame = match outgoing {
                Outgoing::Signal(message) => Frame::Signal {
                    connection,
                    close: false,
                    json: message.to_json(),
                },
                Outgoing::Close(message) => Frame::Signal {
                    connection,
                    close: true,
                    json: message.to_json(),
                },
                Outgoing::SignalText(json) => Frame::Signal {
                    connection,
                    close: false,
                    json,
                },
                Outgoing::CloseText(json) => Frame::Signal {
                    connection,
                    close: true,
                    json,
                },
            };
            let Some(link) = self.sender(node) else {
                break;
            };
            link.send(frame);
        }
        if let Some(link) = self.sender(node) {
            link.send(Frame::Gone { connection });
        }
    }
}

/// What one accepted link brought here, to be undone when it ends: the other node is gone (or
/// cut off) and will not say that its participants left.
#[derive(Default)]
struct Seen {
    /// Participants it placed on workers here: their space and worker (cluster-wide).
    hosted: HashMap<ConnectionKey, (Arc<str>, usize)>,
    /// Its shards' participants mirrored here: by space and connection, the shard it is on
    /// and the shards here that mirror it.
    mirrored: HashMap<(Arc<str>, ConnectionKey), (u16, BTreeSet<u16>)>,
    /// Its shards that shards here relay with.
    shards: BTreeSet<(Arc<str>, u16)>,
}

impl Seen {
    fn note(&mut self, space: &Arc<str>, from: u16, targets: &Arc<[u16]>, message: &ShardMessage) {
        if !matches!(
            message,
            ShardMessage::Relay(oriel_sfu::ShardEvent::Media(_))
        ) {
            self.shards.insert((Arc::clone(space), from));
        }
        match message {
            ShardMessage::Relay(oriel_sfu::ShardEvent::Joined(remote)) => {
                self.mirrored
                    .entry((Arc::clone(space), remote.key))
                    .or_insert_with(|| (from, BTreeSet::new()))
                    .1
                    .extend(targets.iter().copied());
            }
            ShardMessage::Relay(oriel_sfu::ShardEvent::Left { connection }) => {
                self.mirrored.remove(&(Arc::clone(space), *connection));
            }
            _ => {}
        }
    }
}

impl NodeLinks {
    /// A link ended: what it brought leaves as if told so. Participants placed here leave;
    /// the other node's participants leave the shards here that mirrored them (taking their
    /// tracks); its shards stop being peers.
    fn forget(&self, seen: Seen) {
        for (connection, (space_id, worker)) in seen.hosted {
            self.to_worker(
                worker,
                Command::Leave {
                    space_id: space_id.to_string(),
                    connection,
                },
            );
        }
        for ((space, connection), (from, targets)) in seen.mirrored {
            for &target in targets.iter() {
                self.to_worker(
                    usize::from(target),
                    Command::Relay {
                        space_id: Arc::clone(&space),
                        from: usize::from(from),
                        event: oriel_sfu::ShardEvent::Left { connection },
                    },
                );
            }
        }
        for (space, from) in seen.shards {
            for worker in self.inner.workers.iter() {
                worker.send(Command::ShardClosed {
                    space_id: Arc::clone(&space),
                    worker: usize::from(from),
                });
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Compares without leaking through timing how much of a secret matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
