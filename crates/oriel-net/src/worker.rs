//! One media worker thread: a UDP socket (and an ICE-TCP listener) on each media IP, the
//! spaces assigned to it, their timers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use oriel_sfu::{ConnectionKey, MediaCandidates, Output, Protocol, ShardEvent, Space, SpaceConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use std::sync::Arc;

use crate::meters::{MediaTotals, WorkerMeters};
use crate::node_link::{node_of, Frame, LinkSender, NodeLinks, ShardMessage};
use crate::rtcp_socket::RTCP_READ_INTERVAL;
use crate::send_batch::{SendBatch, BATCH};
use crate::tcp_media::{TcpEvent, TcpMedia};
use crate::{Command, Outgoing};

/// Largest datagram we read; WebRTC keeps packets under the path MTU.
const MAX_DATAGRAM: usize = 2048;
/// Datagrams read per wake-up before their answers are flushed, so that a burst costs one
/// batched send instead of one per packet; bounded so timers and commands are not starved.
const MAX_READS_PER_WAKE: usize = 64;
/// How often the spaces' link reports (NACKs, loss, estimates) are gathered for metrics.
const LINK_REPORT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The sockets a worker is started with: one [`BoundAddress`] per media IP.
pub(crate) struct WorkerSockets {
    pub(crate) addresses: Vec<BoundAddress>,
}

/// A worker's sockets on one media IP.
pub(crate) struct BoundAddress {
    pub(crate) udp: std::net::UdpSocket,
    /// The second socket on `udp`'s port, which the kernel gives the RTCP (see `rtcp_socket`).
    pub(crate) rtcp: Option<std::net::UdpSocket>,
    /// The ICE-TCP listener, unless ICE-TCP is off.
    pub(crate) tcp: Option<std::net::TcpListener>,
    /// What clients are told: the sockets' addresses, or the public ones they map to.
    pub(crate) candidates: MediaCandidates,
}

/// A UDP socket of the worker, the candidate it is advertised as (the destination str0m's ICE
/// sees on what arrives on it, and the source str0m names for what leaves by it), and what
/// waits to leave by it.
struct MediaSocket {
    socket: UdpSocket,
    /// The RTCP arriving on the same port: not waited on, read while the worker is awake.
    rtcp: Option<std::net::UdpSocket>,
    candidate: SocketAddr,
    outgoing: SendBatch,
}

pub(crate) struct Worker {
    /// Its number on this node: its ports are the first ones plus this.
    index: usize,
    /// The cluster-wide number of this node's first worker (0 outside a cluster): shards
    /// are addressed by `base + index`.
    base: usize,
    /// The links to other nodes, once the node joined a cluster, and the ones this worker
    /// used, kept to send without asking again.
    links: Option<NodeLinks>,
    link_senders: HashMap<u16, LinkSender>,
    /// Shard commands from another node for a space this worker has not opened yet: the
    /// node's links do not keep each other's order, so another node's state for a new shard
    /// may come before the space's node says to open it.
    early: HashMap<Arc<str>, Vec<Command>>,
    udp: Vec<MediaSocket>,
    tcp: Option<TcpMedia>,
    /// Every candidate, for the spaces' config.
    candidates: Arc<[MediaCandidates]>,
    /// Which socket the next drain reads first, so that one busy socket cannot starve another.
    next_read: usize,
    spaces: HashMap<String, Space>,
    /// Of the spaces spread over several workers: the other workers holding them.
    shards: HashMap<String, ShardLinks>,
    /// Every worker's inbox (this one's too), to relay to a space's other shards.
    relays: Relays,
    outboxes: HashMap<ConnectionKey, mpsc::UnboundedSender<Outgoing>>,
    /// Which space a remote (transport and address) belongs to, once a space accepted a
    /// datagram from it.
    routes: HashMap<(Protocol, SocketAddr), String>,
    /// Counted here per datagram, published to `meters` once per wake-up.
    totals: MediaTotals,
    meters: Arc<WorkerMeters>,
    /// When the spaces' link reports are next taken into `totals`.
    next_link_report: Instant,
    /// When the RTCP sockets were last read.
    rtcp_read_at: Instant,
}

/// Packets a worker may have queued for another (relayed, not yet handled there) before more
/// are dropped: a worker that fell behind gets loss, as a full socket would give it, rather
/// than an ever longer queue, and the others' memory stays bounded.
const MAX_RELAY_BACKLOG: usize = 4096;

/// Every worker's inbox, to relay to a space's other shards, and how many relayed packets
/// each has queued and not handled yet.
pub(crate) struct Relays {
    pub(crate) inboxes: Arc<[mpsc::UnboundedSender<Command>]>,
    pub(crate) backlogs: Arc<[AtomicUsize]>,
}

/// A shard's links to the other shards of its space.
struct ShardLinks {
    name: Arc<str>,
    /// The other workers holding the space (numbered cluster-wide): what this shard relays
    /// goes to each.
    peers: Vec<usize>,
    /// `peers` as they are reached: this node's by their index here, the others' grouped
    /// per node, so that a packet crosses to a node once for all its shards there.
    local_peers: Vec<usize>,
    remote_peers: Vec<(u16, Arc<[u16]>)>,
    /// Workers whose state this shard still waits for; meanwhile the space's commands wait
    /// in `deferred`, so that a joiner's `joined` lists everyone.
    awaiting: Vec<usize>,
    deferred: Vec<Command>,
}

impl Worker {
    pub(crate) fn run(
        index: usize,
        sockets: WorkerSockets,
        inbox: mpsc::UnboundedReceiver<Command>,
        relays: Relays,
        meters: Arc<WorkerMeters>,
    ) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                tracing::error!(%error, index, "media worker cannot start its runtime");
                return;
            }
        };
        runtime.block_on(async move {
            let candidates: Arc<[MediaCandidates]> =
                sockets.addresses.iter().map(|a| a.candidates).collect();
            let mut udp = Vec::new();
            let mut listeners = Vec::new();
            for address in sockets.addresses {
                match UdpSocket::from_std(address.udp) {
                    Ok(socket) => udp.push(MediaSocket {
                        socket,
                        rtcp: address.rtcp,
                        candidate: address.candidates.udp,
                        outgoing: SendBatch::default(),
                    }),
                    Err(error) => {
                        tracing::error!(%error, index, "media socket cannot join the runtime");
                        return;
                    }
                }
                let (Some(listener), Some(candidate)) = (address.tcp, address.candidates.tcp)
                else {
                    continue;
                };
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listeners.push((listener, candidate)),
                    Err(error) => {
                        tracing::error!(%error, index, "ICE-TCP listener cannot join the runtime");
                        return;
                    }
                }
            }
            let tcp = (!listeners.is_empty()).then(|| TcpMedia::new(listeners));
            let worker = Self {
                index,
                base: 0,
                links: None,
                link_senders: HashMap::new(),
                early: HashMap::new(),
                udp,
                tcp,
                candidates,
                next_read: 0,
                spaces: HashMap::new(),
                shards: HashMap::new(),
                relays,
                outboxes: HashMap::new(),
                routes: HashMap::new(),
                totals: MediaTotals::default(),
                meters,
                next_link_report: Instant::now(),
                rtcp_read_at: Instant::now(),
            };
            worker.serve(inbox).await;
        });
    }

    async fn serve(mut self, mut inbox: mpsc::UnboundedReceiver<Command>) {
        tracing::info!(
            index = self.index,
            udp = ?self.udp.iter().filter_map(|s| s.socket.local_addr().ok()).collect::<Vec<_>>(),
            tcp = ?self.tcp.as_ref().map(TcpMedia::local_addrs),
            candidates = ?self.candidates,
            "media worker started"
        );
        let mut buffer = vec![0u8; MAX_DATAGRAM];
        loop {
            let deadline = match (self.next_timeout(), self.rtcp_read_due()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = inbox.recv() => match command {
                    Some(command) => {
                        self.handle_command(command);
                        // Packets relayed from a space's other shards come as commands, many
                        // at a time: take what is queued before sending, as for datagrams.
                        for _ in 1..MAX_READS_PER_WAKE {
                            let Ok(command) = inbox.try_recv() else {
                                break;
                            };
                            self.handle_command(command);
                            self.collect_outputs();
                            for socket in &mut self.udp {
                                if socket.outgoing.len() >= BATCH {
                                    socket.outgoing.flush(&socket.socket).await;
                                }
                            }
                        }
                    }
                    None => break,
                },
                (index, received) = recv_any(&self.udp, &mut buffer) => {
                    match received {
                        Ok((length, source)) => {
                            let candidate = self.udp[index].candidate;
                            self.handle_datagram(Protocol::Udp, source, candidate, &buffer[..length])
                        }
                        Err(error) => tracing::debug!(%error, "media socket receive failed"),
                    }
                    // Drain what else is queued before sending, to batch the answers.
                    for _ in 1..MAX_READS_PER_WAKE {
                        // Send once a batch is full rather than after the whole burst: the
                        // first subscribers should not wait for the last packet's fan-out.
                        self.collect_outputs();
                        for socket in &mut self.udp {
                            if socket.outgoing.len() >= BATCH {
                                socket.outgoing.flush(&socket.socket).await;
                            }
                        }
                        match self.try_recv_any(&mut buffer) {
                            Some((length, source, candidate)) => self.handle_datagram(
                                Protocol::Udp,
                                source,
                                candidate,
                                &buffer[..length],
                            ),
                            None => break,
                        }
                    }
                }
                event = next_tcp_event(&mut self.tcp) => match event {
                    TcpEvent::Frame { source, candidate, frame } => {
                        self.handle_datagram(Protocol::Tcp, source, candidate, &frame)
                    }
                    TcpEvent::Closed { source } => {
                        self.routes.remove(&(Protocol::Tcp, source));
                    }
                },
                () = sleep => {}
            }
            self.read_rtcp(&mut buffer);
            self.handle_timeouts();
            // Taken before flush() forgets the spaces that emptied.
            self.totals.keyframe_requests += self
                .spaces
                .values_mut()
                .map(Space::take_keyframe_requests)
                .sum::<u64>();
            self.flush().await;
            self.take_link_reports();
            self.totals.spaces = self.spaces.len() as u64;
            self.totals.connections = self.outboxes.len() as u64;
            if let Some(tcp) = &self.tcp {
                self.totals.tcp_connections = tcp.connections() as u64;
                self.totals.tcp_frames_dropped = tcp.dropped;
            }
            self.meters.publish(&self.totals);
        }
        tracing::info!(index = self.index, "media worker stopped");
    }

    /// Once a second: what subscribers reported about their links, into the totals.
    fn take_link_reports(&mut self) {
        let now = Instant::now();
        if now < self.next_link_report {
            return;
        }
        self.next_link_report = now + LINK_REPORT_INTERVAL;
        let mut estimates = 0;
        for space in self.spaces.values_mut() {
            let report = space.take_link_report();
            self.totals.nacks_received += report.nacks_received;
            self.totals.packets_lost_reported += report.packets_lost;
            estimates += report.egress_estimate_bps;
        }
        self.totals.egress_estimate_bps = estimates;
    }

    fn next_timeout(&self) -> Option<Instant> {
        self.spaces.values().filter_map(Space::poll_timeout).min()
    }

    fn handle_command(&mut self, command: Command) {
        let now = Instant::now();
        // A shard still taking its peers' state serves nothing of its space yet.
        let waiting_space = match &command {
            Command::Join { space_id, .. }
            | Command::Message { space_id, .. }
            | Command::Leave { space_id, .. }
            | Command::SetBroadcasting { space_id, .. } => Some(space_id.as_str()),
            _ => None,
        };
        if let Some(links) = waiting_space
            .and_then(|id| self.shards.get_mut(id))
            .filter(|links| !links.awaiting.is_empty())
        {
            links.deferred.push(command);
            return;
        }
        match command {
            Command::OpenShard { space_id, peers } => {
                self.space_entry(&space_id).set_relaying(true);
                let links = self.links_entry(&space_id);
                for peer in peers {
                    if !links.peers.contains(&peer) {
                        links.peers.push(peer);
                    }
                    links.awaiting.push(peer);
                }
                self.route_peers(&space_id);
                for command in self.early.remove(&space_id).unwrap_or_default() {
                    self.handle_command(command);
                }
            }
            Command::ShardOpened { space_id, worker } => {
                let from = self.address();
                // The placement counts this worker a holder: its first join may still be on
                // its way here (built off the thread), so the space is made now, to relay to
                // the new shard from its first packet.
                let space = self.space_entry(&space_id);
                space.set_relaying(true);
                for event in space.shard_state() {
                    self.send_to(
                        worker,
                        Command::Relay {
                            space_id: Arc::clone(&space_id),
                            from,
                            event,
                        },
                    );
                }
                let links = self.links_entry(&space_id);
                if !links.peers.contains(&worker) {
                    links.peers.push(worker);
                }
                self.route_peers(&space_id);
                self.send_to(worker, Command::SyncDone { space_id, from });
            }
            Command::ShardClosed { space_id, worker } => {
                if worker == self.address() {
                    self.early.remove(&space_id);
                    // What its last connections' leaving said must still reach the others.
                    self.collect_outputs();
                    if self.spaces.get(&*space_id).is_some_and(Space::is_empty) {
                        self.spaces.remove(&*space_id);
                        self.shards.remove(&*space_id);
                    }
                    return;
                }
                let Some(links) = self.shards.get_mut(&*space_id) else {
                    // What another node's shard sent ahead of a space that never opened here.
                    self.early.remove(&space_id);
                    return;
                };
                links.peers.retain(|&peer| peer != worker);
                links.awaiting.retain(|&peer| peer != worker);
                let alone = links.peers.is_empty();
                self.route_peers(&space_id);
                if alone {
                    if let Some(space) = self.spaces.get_mut(&*space_id) {
                        space.set_relaying(false);
                    }
                }
                self.release_deferred(&space_id);
            }
            Command::Relay {
                space_id,
                event,
                from,
            } => {
                if matches!(event, ShardEvent::Media(_)) {
                    self.relays.backlogs[self.index].fetch_sub(1, Ordering::Relaxed);
                }
                if let Some(space) = self.spaces.get_mut(&*space_id) {
                    space.handle_shard_event(now, event);
                } else if !self.is_local(from) && !matches!(event, ShardEvent::Media(_)) {
                    // (A packet before the space opens has no consumer to reach: dropped.)
                    let command = Command::Relay {
                        space_id,
                        from,
                        event,
                    };
                    self.keep_early(command);
                }
            }
            Command::SyncDone { space_id, from }
                if !self.shards.contains_key(&*space_id) && !self.is_local(from) =>
            {
                self.keep_early(Command::SyncDone { space_id, from });
            }
            Command::JoinCluster { base, links } => {
                self.base = base;
                self.links = Some(links);
            }
            Command::SyncDone { space_id, from } => {
                if let Some(links) = self.shards.get_mut(&*space_id) {
                    links.awaiting.retain(|&peer| peer != from);
                }
                self.release_deferred(&space_id);
            }
            Command::Join {
                space_id,
                request,
                outbox,
                broadcasting,
                peers,
            } => {
                self.outboxes.insert(request.connection, outbox);
                let space = self.space_entry(&space_id);
                // A space new here (or a shard that has no connection of its own yet) starts
                // in the store's broadcast state; one with connections keeps its own.
                if space.is_empty() {
                    space.set_broadcasting(broadcasting);
                }
                space.join_prepared(now, request, peers.map(|p| *p));
            }
            Command::SetBroadcasting {
                space_id,
                broadcasting,
            } => {
                if let Some(space) = self.spaces.get_mut(&space_id) {
                    space.set_broadcasting(broadcasting);
                }
            }
            Command::Message {
                space_id,
                connection,
                message,
            } => {
                if let Some(space) = self.spaces.get_mut(&space_id) {
                    space.handle_message(now, connection, message);
                }
            }
            Command::Leave {
                space_id,
                connection,
            } => {
                if let Some(space) = self.spaces.get_mut(&space_id) {
                    space.leave(now, connection);
                }
                self.outboxes.remove(&connection);
            }
            Command::Snapshot { space_id, reply } => {
                let snapshot = self.spaces.get(&space_id).map(|s| s.snapshot(now));
                let _ = reply.send(snapshot.unwrap_or_default());
            }
        }
    }

    /// The space's shard on this worker, made if it is not here.
    fn space_entry(&mut self, space_id: &str) -> &mut Space {
        if !self.spaces.contains_key(space_id) {
            let config = SpaceConfig {
                candidates: Arc::clone(&self.candidates),
                // At most 16 workers a node, 4096 nodes: the number fits.
                shard: self.address() as u16,
                ..SpaceConfig::new(self.candidates[0].udp)
            };
            self.spaces.insert(space_id.to_owned(), Space::new(config));
        }
        self.spaces.get_mut(space_id).expect("just inserted")
    }

    fn links_entry(&mut self, space_id: &Arc<str>) -> &mut ShardLinks {
        self.shards
            .entry(space_id.to_string())
            .or_insert_with(|| ShardLinks {
                name: Arc::clone(space_id),
                peers: Vec::new(),
                local_peers: Vec::new(),
                remote_peers: Vec::new(),
                awaiting: Vec::new(),
                deferred: Vec::new(),
            })
    }

    /// Serves a shard's waiting commands once it has every peer's state.
    fn release_deferred(&mut self, space_id: &str) {
        let Some(links) = self.shards.get_mut(space_id) else {
            return;
        };
        if !links.awaiting.is_empty() {
            return;
        }
        let deferred = std::mem::take(&mut links.deferred);
        if links.peers.is_empty() {
            self.shards.remove(space_id);
        }
        for command in deferred {
            self.handle_command(command);
        }
    }

    /// This worker's cluster-wide number.
    fn address(&self) -> usize {
        self.base + self.index
    }

    fn is_local(&self, worker: usize) -> bool {
        worker
            .checked_sub(self.base)
            .is_some_and(|index| index < self.relays.inboxes.len())
    }

    /// A shard command for another shard, on this node or another.
    fn send_to(&mut self, worker: usize, command: Command) {
        if self.is_local(worker) {
            let _ = self.relays.inboxes[worker - self.base].send(command);
            return;
        }
        let (space, message) = match command {
            Command::Relay {
                space_id, event, ..
            } => (space_id, ShardMessage::Relay(event)),
            Command::SyncDone { space_id, .. } => (space_id, ShardMessage::SyncDone),
            _ => return,
        };
        let frame = Frame::Shard {
            space,
            from: self.address() as u16,
            targets: Arc::from([worker as u16]),
            message,
        };
        if let Some(link) = self.link_to(node_of(worker)) {
            link.send(frame);
        }
    }

    /// The link to another node, opened if need be.
    fn link_to(&mut self, node: u16) -> Option<LinkSender> {
        if let Some(link) = self.link_senders.get(&node).filter(|l| !l.is_closed()) {
            return Some(link.clone());
        }
        let link = self.links.as_ref()?.sender(node)?;
        self.link_senders.insert(node, link.clone());
        Some(link)
    }

    /// Keeps a shard command from another node until its space opens here (bounded: a space
    /// that never opens must not grow without end).
    fn keep_early(&mut self, command: Command) {
        const MAX_EARLY: usize = 4096;
        let space = match &command {
            Command::Relay { space_id, .. } | Command::SyncDone { space_id, .. } => {
                Arc::clone(space_id)
            }
            _ => return,
        };
        let kept = self.early.entry(space).or_default();
        if kept.len() < MAX_EARLY {
            kept.push(command);
        }
    }

    /// Works out how a space's peers are reached, after they changed.
    fn route_peers(&mut self, space_id: &str) {
        let (base, count) = (self.base, self.relays.inboxes.len());
        let Some(links) = self.shards.get_mut(space_id) else {
            return;
        };
        links.local_peers.clear();
        let mut remote: std::collections::BTreeMap<u16, Vec<u16>> = Default::default();
        for &peer in &links.peers {
            match peer.checked_sub(base).filter(|&index| index < count) {
                Some(index) => links.local_peers.push(index),
                None => remote.entry(node_of(peer)).or_default().push(peer as u16),
            }
        }
        links.remote_peers = remote
            .into_iter()
            .map(|(node, shards)| (node, Arc::from(shards)))
            .collect();
    }

    /// The next datagram already queued on any UDP socket, taking the sockets in turn: its
    /// length, source and the candidate of the socket it arrived on.
    fn try_recv_any(&mut self, buffer: &mut [u8]) -> Option<(usize, SocketAddr, SocketAddr)> {
        let count = self.udp.len();
        for k in 0..count {
            let index = (self.next_read + k) % count;
            let socket = &self.udp[index];
            if let Ok((length, source)) = socket.socket.try_recv_from(buffer) {
                self.next_read = (index + 1) % count;
                return Some((length, source, socket.candidate));
            }
        }
        None
    }

    /// When the RTCP sockets must be read next if nothing wakes the worker before: only while
    /// it has connections (an idle worker sleeps).
    fn rtcp_read_due(&self) -> Option<Instant> {
        let steered = self.udp.iter().any(|socket| socket.rtcp.is_some());
        (steered && !self.routes.is_empty()).then(|| self.rtcp_read_at + RTCP_READ_INTERVAL)
    }

    /// Everything the RTCP sockets hold, handled as any datagram (bounded per wake-up, so that
    /// a flood cannot starve media; what is left is read on the next).
    fn read_rtcp(&mut self, buffer: &mut [u8]) {
        const MAX_READS: usize = 4096;
        self.rtcp_read_at = Instant::now();
        for index in 0..self.udp.len() {
            let candidate = self.udp[index].candidate;
            for _ in 0..MAX_READS {
                let Some(socket) = &self.udp[index].rtcp else {
                    break;
                };
                let Ok((length, source)) = socket.recv_from(buffer) else {
                    break;
                };
                self.handle_datagram(Protocol::Udp, source, candidate, &buffer[..length]);
            }
        }
    }

    /// A UDP datagram, or one frame of an ICE-TCP connection, from `source` to the candidate
    /// `destination` (ICE matches what arrives to the candidate it was sent to, which behind a
    /// 1:1 NAT is not our socket's address).
    fn handle_datagram(
        &mut self,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        let now = Instant::now();
        self.totals.datagrams_in += 1;
        self.totals.bytes_in += contents.len() as u64;
        let remote = (proto, source);
        if let Some(space_id) = self.routes.get(&remote) {
            if let Some(space) = self.spaces.get_mut(space_id) {
                space.handle_datagram(now, proto, source, destination, contents);
                return;
            }
        }
        let owner = self
            .spaces
            .iter()
            .find(|(_, space)| space.accepts(now, proto, source, destination, contents))
            .map(|(id, _)| id.clone());
        if let Some(space_id) = owner {
            if let Some(space) = self.spaces.get_mut(&space_id) {
                space.handle_datagram(now, proto, source, destination, contents);
            }
            self.routes.insert(remote, space_id);
        } else {
            self.totals.datagrams_unrouted += 1;
        }
    }

    /// Serves every due timer. str0m often asks to be woken "now" again (its pacer releases
    /// one queue per timeout): that is served here at once, as a tokio sleep would round it up
    /// to the next millisecond and delay media. Bounded, so a busy space cannot starve I/O.
    fn handle_timeouts(&mut self) {
        const MAX_ROUNDS: usize = 16;
        for _ in 0..MAX_ROUNDS {
            let now = Instant::now();
            let mut served = false;
            for space in self.spaces.values_mut() {
                if space.poll_timeout().is_some_and(|at| at <= now) {
                    space.handle_timeout(now);
                    served = true;
                }
            }
            if !served {
                return;
            }
        }
    }

    /// Sends what the spaces produced and forgets spaces nobody is in any more.
    async fn flush(&mut self) {
        self.collect_outputs();
        for socket in &mut self.udp {
            if !socket.outgoing.is_empty() {
                socket.outgoing.flush(&socket.socket).await;
            }
        }
        let before = self.spaces.len();
        // A shard of a space spread over several workers goes when the placement says so
        // (`ShardClosed`): another connection may be on its way to it.
        let shards = &self.shards;
        self.spaces
            .retain(|id, space| !space.is_empty() || shards.contains_key(id));
        if self.spaces.len() != before {
            let spaces = &self.spaces;
            self.routes
                .retain(|_, space_id| spaces.contains_key(space_id));
        }
    }

    /// Takes what the spaces produced: datagrams into the send batch, signaling to outboxes.
    fn collect_outputs(&mut self) {
        for (space_id, space) in self.spaces.iter_mut() {
            while let Some(output) = space.poll_output() {
                match output {
                    Output::Relay(event) => {
                        let Some(links) = self.shards.get(space_id) else {
                            continue;
                        };
                        let media = matches!(event, ShardEvent::Media(_));
                        let from = self.base + self.index;
                        for (node, targets) in &links.remote_peers {
                            let link = match self.link_senders.get(node).filter(|l| !l.is_closed())
                            {
                                Some(link) => link.clone(),
                                None => match self.links.as_ref().and_then(|l| l.sender(*node)) {
                                    Some(link) => {
                                        self.link_senders.insert(*node, link.clone());
                                        link
                                    }
                                    None => continue,
                                },
                            };
                            let frame = Frame::Shard {
                                space: Arc::clone(&links.name),
                                from: from as u16,
                                targets: Arc::clone(targets),
                                message: ShardMessage::Relay(event.clone()),
                            };
                            if media {
                                if !link.send_packet(frame) {
                                    self.totals.relayed_packets_dropped += 1;
                                }
                            } else {
                                link.send(frame);
                            }
                        }
                        for &peer in &links.local_peers {
                            let (Some(inbox), Some(backlog)) = (
                                self.relays.inboxes.get(peer),
                                self.relays.backlogs.get(peer),
                            ) else {
                                continue;
                            };
                            // Changes always go; packets only while the peer keeps up.
                            if media {
                                if backlog.load(Ordering::Relaxed) >= MAX_RELAY_BACKLOG {
                                    self.totals.relayed_packets_dropped += 1;
                                    continue;
                                }
                                backlog.fetch_add(1, Ordering::Relaxed);
                            }
                            let _ = inbox.send(Command::Relay {
                                space_id: Arc::clone(&links.name),
                                from,
                                event: event.clone(),
                            });
                        }
                    }
                    Output::Transmit {
                        proto,
                        source,
                        destination,
                        contents,
                    } => {
                        self.totals.datagrams_out += 1;
                        self.totals.bytes_out += contents.len() as u64;
                        match (proto, &mut self.tcp) {
                            (Protocol::Udp, _) => {
                                // By the socket of the candidate ICE chose (a short scan: one
                                // socket per media IP).
                                let socket =
                                    match self.udp.iter().position(|s| s.candidate == source) {
                                        Some(index) => &mut self.udp[index],
                                        None => &mut self.udp[0],
                                    };
                                socket.outgoing.push(destination, contents);
                            }
                            (_, Some(tcp)) => tcp.send(destination, &contents),
                            (_, None) => {}
                        }
                    }
                    Output::Signal {
                        connection,
                        message,
                    } => {
                        if let Some(outbox) = self.outboxes.get(&connection) {
                            let _ = outbox.send(Outgoing::Signal(message));
                        }
                    }
                    Output::Close {
                        connection,
                        message,
                    } => {
                        if let Some(outbox) = self.outboxes.get(&connection) {
                            let _ = outbox.send(Outgoing::Close(message));
                        }
                    }
                }
            }
        }
    }
}

/// The next datagram on any of `sockets`: which socket, and its length and source.
async fn recv_any(
    sockets: &[MediaSocket],
    buffer: &mut [u8],
) -> (usize, std::io::Result<(usize, SocketAddr)>) {
    std::future::poll_fn(|cx| {
        for (index, socket) in sockets.iter().enumerate() {
            let mut read = tokio::io::ReadBuf::new(buffer);
            if let std::task::Poll::Ready(result) = socket.socket.poll_recv_from(cx, &mut read) {
                let length = read.filled().len();
                return std::task::Poll::Ready((index, result.map(|source| (length, source))));
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// The next event of the ICE-TCP listener; never, when ICE-TCP is off.
async fn next_tcp_event(tcp: &mut Option<TcpMedia>) -> TcpEvent {
    match tcp {
        Some(tcp) => tcp.next_event().await,
        None => std::future::pending().await,
    }
}
