use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use oriel_sfu::{ConnectionKey, MediaCandidates, SpaceSnapshot};
use tokio::sync::{mpsc, oneshot};

use crate::media_target::MediaTarget;
use crate::meters::{MediaTotals, WorkerMeters};
use crate::node_link::{node_of, Frame, NodeLinks, ShardMessage, WORKERS_PER_NODE};
use crate::rtcp_socket::bind_media_port;
use crate::worker::{BoundAddress, Relays, Worker, WorkerSockets};
use crate::Command;

/// The contract allows a node at most 16 media ports.
const MAX_WORKERS: usize = 16;

/// Where a node's media workers listen, and what clients are told.
#[derive(Clone, Debug)]
pub struct MediaSettings {
    /// The addresses the media sockets bind (several for dual stack or several NICs): every
    /// worker binds each of them on its ports and offers a candidate on each.
    pub ips: Vec<IpAddr>,
    /// Worker `i` takes UDP on `udp_port + i`.
    pub udp_port: u16,
    /// Worker `i` takes ICE-TCP on `tcp_port + i`; `None` turns ICE-TCP off.
    pub tcp_port: Option<u16>,
    /// The address clients reach the media IP of its family at when a 1:1 NAT stands between
    /// (a cloud VM's public IP): advertised in candidates instead of that IP.
    pub public_ip: Option<IpAddr>,
    /// Worker threads; capped at 16.
    pub workers: usize,
    /// A space's connections go to its home worker until it holds this many; then each goes
    /// to the worker that holds the fewest of them, so a big space uses every core. 0 keeps
    /// every space on one worker.
    pub spread_space_after: usize,
}

/// A running media worker: where its commands go.
#[derive(Clone, Debug)]
pub struct WorkerHandle {
    /// Its number: its ports are the first ones plus this.
    pub index: usize,
    /// What the worker advertises to clients, per media IP.
    pub candidates: Arc<[MediaCandidates]>,
    commands: mpsc::UnboundedSender<Command>,
    meters: Arc<WorkerMeters>,
}

impl WorkerHandle {
    /// Sends a command; false when the worker has stopped.
    pub fn send(&self, command: Command) -> bool {
        self.commands.send(command).is_ok()
    }
}

/// All media workers of a node.
#[derive(Clone, Debug)]
pub struct MediaWorkers {
    workers: Arc<Vec<WorkerHandle>>,
    next_connection: Arc<AtomicU64>,
    /// Which workers hold each space's connections. Taken at joins and leaves only, never on
    /// the media path; commands about a space's shards are sent under it, so each worker
    /// sees them in the order they were decided.
    placements: Arc<Mutex<HashMap<String, SpacePlacement>>>,
    spread_space_after: usize,
    /// Set once the node joins a cluster: spaces may then span nodes.
    cluster: Arc<OnceLock<ClusterMedia>>,
    relay_backlogs: Arc<[AtomicUsize]>,
}

/// This node's part in spaces that span nodes.
#[derive(Debug)]
struct ClusterMedia {
    links: NodeLinks,
    /// The cluster-wide number of this node's first worker.
    base: usize,
    /// A space's connections beyond this many on its node go to another node's worker.
    spill_space_after: usize,
    /// The other nodes, as the registry last said.
    peers: Mutex<Vec<PeerNode>>,
    /// Nodes that turned a join away (draining, or cut off), not placed on until then.
    avoided: Mutex<HashMap<u16, std::time::Instant>>,
}

/// How long a node that turned a join away is passed over: past the registry's next word.
const AVOID_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// Another node of the cluster as placement sees it.
#[derive(Clone, Debug)]
pub struct PeerNode {
    pub ordinal: u16,
    pub workers: usize,
    /// Its participants: the least loaded takes a space's overflow.
    pub load: u64,
    /// Where it takes links: HOST:PORT.
    pub link_address: String,
}

/// Where one space's connections are.
#[derive(Debug)]
struct SpacePlacement {
    name: Arc<str>,
    /// Connections per shard (numbered cluster-wide; some may be other nodes' workers).
    connections: BTreeMap<usize, u32>,
    /// Each connected participant's worker and connections there (a reconnection overlaps its
    /// predecessor for a moment and must land beside it, which replaces it).
    participants: HashMap<String, (usize, u32)>,
}

impl SpacePlacement {
    /// Shards holding connections of the space, but `except`.
    fn holders_except(&self, except: usize) -> Vec<usize> {
        self.connections
            .iter()
            .filter(|&(&w, &count)| w != except && count > 0)
            .map(|(&w, _)| w)
            .collect()
    }

    fn count(&self, shard: usize) -> u32 {
        self.connections.get(&shard).copied().unwrap_or(0)
    }
}

impl MediaWorkers {
    /// Binds, per worker, one UDP socket (and one ICE-TCP listener) on each media IP and
    /// starts the worker threads.
    pub fn start(settings: &MediaSettings) -> std::io::Result<Self> {
        if settings.ips.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "no media IP",
            ));
        }
        let count = settings.workers.clamp(1, MAX_WORKERS);
        let mut workers = Vec::with_capacity(count);
        // Every worker can reach every other: a space spread over several relays between them.
        let (senders, mut inboxes): (Vec<_>, Vec<_>) =
            (0..count).map(|_| mpsc::unbounded_channel()).unzip();
        let peers: Arc<[mpsc::UnboundedSender<Command>]> = senders.into();
        let relay_backlogs: Arc<[AtomicUsize]> = (0..count).map(|_| AtomicUsize::new(0)).collect();
        for index in 0..count {
            let udp_port = nth_port(settings.udp_port, index)?;
            let tcp_port = settings
                .tcp_port
                .map(|first| nth_port(first, index))
                .transpose()?;
            let mut addresses = Vec::with_capacity(settings.ips.len());
            for &ip in &settings.ips {
                let port = bind_media_port(SocketAddr::new(ip, udp_port))?;
                port.media.set_nonblocking(true)?;
                enlarge_buffers(&port.media);
                if let Some(rtcp) = &port.rtcp {
                    enlarge_buffers(rtcp);
                }
                let tcp = tcp_port
                    .map(|port| bind_tcp(SocketAddr::new(ip, port)))
                    .transpose()?;
                let advertised = settings.advertised(ip);
                addresses.push(BoundAddress {
                    udp: port.media,
                    rtcp: port.rtcp,
                    tcp,
                    candidates: MediaCandidates {
                        udp: SocketAddr::new(advertised, udp_port),
                        tcp: tcp_port.map(|port| SocketAddr::new(advertised, port)),
                    },
                });
            }
            let candidates: Arc<[MediaCandidates]> =
                addresses.iter().map(|a| a.candidates).collect();
            let sockets = WorkerSockets { addresses };
            let inbox = inboxes.remove(0);
            let meters = Arc::new(WorkerMeters::default());
            let worker_meters = Arc::clone(&meters);
            let relays = Relays {
                inboxes: Arc::clone(&peers),
                backlogs: Arc::clone(&relay_backlogs),
            };
            std::thread::Builder::new()
                .name(format!("oriel-media-{index}"))
                .spawn(move || Worker::run(index, sockets, inbox, relays, worker_meters))?;
            workers.push(WorkerHandle {
                index,
                candidates,
                commands: peers[index].clone(),
                meters,
            });
        }
        Ok(Self {
            workers: Arc::new(workers),
            next_connection: Arc::new(AtomicU64::new(1)),
            placements: Arc::new(Mutex::new(HashMap::new())),
            spread_space_after: settings.spread_space_after,
            cluster: Arc::new(OnceLock::new()),
            relay_backlogs,
        })
    }

    /// The node joined a cluster as `ordinal` (below 4096): its shards are numbered from
    /// `ordinal × 16`, other nodes reach them through `listener`, and a space with more than
    /// `spill_space_after` connections here takes its next ones on another node. Call before
    /// the first join, inside the runtime.
    pub fn join_cluster(
        &self,
        listener: tokio::net::TcpListener,
        ordinal: u16,
        secret: String,
        spill_space_after: usize,
    ) -> NodeLinks {
        let base = usize::from(ordinal) * WORKERS_PER_NODE;
        let links = NodeLinks::start(
            listener,
            ordinal,
            secret,
            Arc::clone(&self.workers),
            Arc::clone(&self.relay_backlogs),
        );
        for worker in self.workers.iter() {
            worker.send(Command::JoinCluster {
                base,
                links: links.clone(),
            });
        }
        // Connection keys unique cluster-wide: a participant's key travels with it.
        self.next_connection
            .store(u64::from(ordinal) << 48 | 1, Ordering::Relaxed);
        let _ = self.cluster.set(ClusterMedia {
            links: links.clone(),
            base,
            spill_space_after: spill_space_after.max(1),
            peers: Mutex::new(Vec::new()),
            avoided: Mutex::new(HashMap::new()),
        });
        links
    }

    /// The node drains: other nodes' participants are no longer taken here.
    pub fn refuse_remote_joins(&self) {
        if let Some(cluster) = self.cluster.get() {
            cluster.links.refuse_joins();
        }
    }

    /// The node of shard `shard` turned a join away: it is passed over for a while.
    pub fn avoid_node_of(&self, shard: usize) {
        if let Some(cluster) = self.cluster.get() {
            cluster
                .avoided
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(node_of(shard), std::time::Instant::now() + AVOID_FOR);
        }
    }

    /// The other nodes of the cluster, as the registry says now.
    pub fn set_peer_nodes(&self, peers: Vec<PeerNode>) {
        let Some(cluster) = self.cluster.get() else {
            return;
        };
        cluster.links.set_addresses(
            peers
                .iter()
                .map(|p| (p.ordinal, p.link_address.clone()))
                .collect(),
        );
        *cluster.peers.lock().unwrap_or_else(PoisonError::into_inner) = peers;
    }

    /// The cluster-wide number of this node's first worker.
    fn base(&self) -> usize {
        self.cluster.get().map_or(0, |c| c.base)
    }

    /// This node's worker of cluster-wide number `shard`, if it is one.
    fn local(&self, shard: usize) -> Option<&WorkerHandle> {
        shard
            .checked_sub(self.base())
            .and_then(|index| self.workers.get(index))
    }

    /// A shard command from the placement to a shard, here or on another node.
    fn tell(&self, shard: usize, space_id: &Arc<str>, command: Command) {
        if let Some(worker) = self.local(shard) {
            worker.send(command);
            return;
        }
        let message = match command {
            Command::OpenShard { peers, .. } => ShardMessage::OpenShard {
                peers: peers.iter().map(|&p| p as u16).collect(),
            },
            Command::ShardOpened { worker, .. } => ShardMessage::ShardOpened {
                worker: worker as u16,
            },
            Command::ShardClosed { worker, .. } => ShardMessage::ShardClosed {
                worker: worker as u16,
            },
            _ => return,
        };
        let Some(link) = self
            .cluster
            .get()
            .and_then(|c| c.links.sender(node_of(shard)))
        else {
            return;
        };
        link.send(Frame::Shard {
            space: Arc::clone(space_id),
            from: self.base() as u16,
            targets: Arc::from([shard as u16]),
            message,
        });
    }

    /// Where a space's next connection goes once it holds `spill_space_after` here: a node
    /// it already spans with room, or the least loaded other node. `None` keeps it here.
    fn spill_target(&self, space_id: &str, placement: &SpacePlacement) -> Option<usize> {
        let cluster = self.cluster.get()?;
        let base = cluster.base;
        let here: u32 = placement
            .connections
            .iter()
            .filter(|&(&w, _)| self.local(w).is_some())
            .map(|(_, &c)| c)
            .sum();
        if (here as usize) < cluster.spill_space_after {
            return None;
        }
        let now = std::time::Instant::now();
        let mut avoided = cluster
            .avoided
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        avoided.retain(|_, until| *until > now);
        let all_peers = cluster.peers.lock().unwrap_or_else(PoisonError::into_inner);
        let peers: Vec<&PeerNode> = all_peers
            .iter()
            .filter(|p| !avoided.contains_key(&p.ordinal))
            .collect();
        let mut per_node: BTreeMap<u16, (usize, u32)> = BTreeMap::new();
        for (&shard, &count) in &placement.connections {
            if count > 0
                && shard
                    .checked_sub(base)
                    .is_none_or(|i| i >= self.workers.len())
            {
                let entry = per_node.entry(node_of(shard)).or_insert((shard, 0));
                entry.1 += count;
            }
        }
        // Fill a node before spilling to the next.
        if let Some((_, &(shard, _))) = per_node
            .iter()
            .filter(|(node, &(_, count))| {
                (count as usize) < cluster.spill_space_after
                    && peers.iter().any(|p| p.ordinal == **node)
            })
            .min_by_key(|(_, &(_, count))| std::cmp::Reverse(count))
        {
            return Some(shard);
        }
        let node = peers
            .iter()
            .filter(|p| !per_node.contains_key(&p.ordinal) && p.workers > 0)
            .min_by_key(|p| (p.load, p.ordinal))?;
        let mut hasher = DefaultHasher::new();
        space_id.hash(&mut hasher);
        let worker = (hasher.finish() % node.workers.min(WORKERS_PER_NODE) as u64) as usize;
        Some(usize::from(node.ordinal) * WORKERS_PER_NODE + worker)
    }

    /// What every worker has done so far, summed (as last published: at most one wake-up old).
    pub fn totals(&self) -> MediaTotals {
        let mut totals = MediaTotals::default();
        for worker in self.workers.iter() {
            totals.add(&worker.meters.read());
        }
        totals
    }

    /// How many media workers run.
    pub fn count(&self) -> usize {
        self.workers.len()
    }

    /// A space's home worker: where its connections go while it is small.
    fn home_of(&self, space_id: &str) -> usize {
        let mut hasher = DefaultHasher::new();
        space_id.hash(&mut hasher);
        (hasher.finish() % self.workers.len() as u64) as usize
    }

    /// Chooses the worker for a new connection of a participant and records it there; call
    /// [`Self::release`] when it leaves. The participant's own worker if it is connected
    /// already (a reconnection replaces its old connection there), the home worker while the
    /// space is small, then the worker holding the fewest of its connections. A worker new to
    /// a space another holds becomes one of its shards: it is told to take their state first,
    /// and they to relay to it.
    pub fn place(&self, space_id: &str, participant_id: &str) -> MediaTarget {
        let home = self.home_of(space_id);
        let base = self.base();
        let count = self.workers.len();
        let mut placements = self
            .placements
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let placement = placements
            .entry(space_id.to_owned())
            .or_insert_with(|| SpacePlacement {
                name: Arc::from(space_id),
                connections: BTreeMap::new(),
                participants: HashMap::new(),
            });
        let total: u32 = (0..count).map(|w| placement.count(base + w)).sum();
        let mut shard = match placement.participants.get(participant_id) {
            Some(&(shard, _)) => shard,
            None => match self.spill_target(space_id, placement) {
                Some(shard) => shard,
                None if self.spread_space_after == 0
                    || (total as usize) < self.spread_space_after =>
                {
                    base + home
                }
                None => {
                    base + (0..count)
                        .min_by_key(|&w| (placement.count(base + w), w != home))
                        .unwrap_or(home)
                }
            },
        };
        // Another node's worker, reached by a link; if there is none, here after all.
        let mut remote = None;
        if self.local(shard).is_none() {
            remote = self
                .cluster
                .get()
                .and_then(|c| Some((c.links.clone(), c.links.sender(node_of(shard))?)));
            if remote.is_none() {
                shard = base + home;
            }
        }
        if placement.count(shard) == 0 {
            let peers = placement.holders_except(shard);
            if !peers.is_empty() {
                tracing::debug!(space_id, shard, ?peers, "space spreads to another shard");
                let space_id = Arc::clone(&placement.name);
                // The new shard hears first: a peer may answer `ShardOpened` (its state, then
                // `SyncDone`) before this thread sends anything else, and what reached the
                // new shard before its `OpenShard` would be lost, leaving it waiting for that
                // peer forever (every join placed there unanswered). A shard on another node
                // keeps what comes first from a third node until its `OpenShard`.
                self.tell(
                    shard,
                    &space_id,
                    Command::OpenShard {
                        space_id: Arc::clone(&space_id),
                        peers: peers.clone(),
                    },
                );
                for &peer in &peers {
                    self.tell(
                        peer,
                        &space_id,
                        Command::ShardOpened {
                            space_id: Arc::clone(&space_id),
                            worker: shard,
                        },
                    );
                }
            }
        }
        *placement.connections.entry(shard).or_insert(0) += 1;
        placement
            .participants
            .entry(participant_id.to_owned())
            .or_insert((shard, 0))
            .1 += 1;
        match (remote, self.local(shard)) {
            (Some((links, link)), _) => MediaTarget::Remote { shard, link, links },
            (None, Some(worker)) => MediaTarget::Local {
                worker: worker.clone(),
                shard,
            },
            // A shard is this node's unless it has a link (the home worker otherwise).
            (None, None) => MediaTarget::Local {
                worker: self.workers[home].clone(),
                shard: base + home,
            },
        }
    }

    /// A connection [`Self::place`]d on `worker` left (after its `Leave` was sent there). A
    /// worker left without connections of a space others hold stops being one of its shards.
    pub fn release(&self, space_id: &str, participant_id: &str, worker: usize) {
        let mut placements = self
            .placements
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(placement) = placements.get_mut(space_id) else {
            return;
        };
        if let Some(entry) = placement.participants.get_mut(participant_id) {
            entry.1 = entry.1.saturating_sub(1);
            if entry.1 == 0 {
                placement.participants.remove(participant_id);
            }
        }
        let Some(connections) = placement.connections.get_mut(&worker) else {
            return;
        };
        *connections = connections.saturating_sub(1);
        if *connections > 0 {
            return;
        }
        placement.connections.remove(&worker);
        let remaining = placement.holders_except(worker);
        if remaining.is_empty() {
            let name = Arc::clone(&placement.name);
            placements.remove(space_id);
            // A shard on another node goes when it is told to.
            if self.local(worker).is_none() {
                self.tell(
                    worker,
                    &name,
                    Command::ShardClosed {
                        space_id: Arc::clone(&name),
                        worker,
                    },
                );
            }
            return;
        }
        let name = Arc::clone(&placement.name);
        for peer in remaining.into_iter().chain([worker]) {
            self.tell(
                peer,
                &name,
                Command::ShardClosed {
                    space_id: Arc::clone(&name),
                    worker,
                },
            );
        }
    }

    /// This node's workers holding a space's connections (its home worker when none does).
    fn holders(&self, space_id: &str) -> Vec<usize> {
        let placements = self
            .placements
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let base = self.base();
        let local: Vec<usize> = placements
            .get(space_id)
            .map(|p| p.holders_except(usize::MAX))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|shard| shard.checked_sub(base).filter(|&i| i < self.workers.len()))
            .collect();
        if local.is_empty() {
            vec![self.home_of(space_id)]
        } else {
            local
        }
    }

    /// Other nodes' shards holding a space's connections.
    fn remote_holders(&self, space_id: &str) -> Vec<usize> {
        let placements = self
            .placements
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        placements
            .get(space_id)
            .map(|p| p.holders_except(usize::MAX))
            .unwrap_or_default()
            .into_iter()
            .filter(|&shard| self.local(shard).is_none())
            .collect()
    }

    /// Who is in a space now, from every worker holding some of it: for the dashboard.
    /// `None` when a worker has stopped.
    pub async fn snapshot(&self, space_id: &str) -> Option<SpaceSnapshot> {
        let mut replies = Vec::new();
        for worker in self.holders(space_id) {
            let (reply, answer) = oneshot::channel();
            if !self.workers[worker].send(Command::Snapshot {
                space_id: space_id.to_owned(),
                reply,
            }) {
                return None;
            }
            replies.push(answer);
        }
        let mut shards = Vec::with_capacity(replies.len());
        for answer in replies {
            shards.push(answer.await.ok()?);
        }
        // The space's shards on other nodes (a node that does not answer is left out).
        if let Some(cluster) = self.cluster.get() {
            for shard in self.remote_holders(space_id) {
                if let Some(snapshot) = cluster.links.snapshot(shard, space_id).await {
                    shards.push(snapshot);
                }
            }
        }
        Some(SpaceSnapshot::combine(shards))
    }

    /// A broadcast of a space started or stopped: every worker holding some of it hears.
    pub fn set_broadcasting(&self, space_id: &str, broadcasting: bool) {
        for worker in self.holders(space_id) {
            self.workers[worker].send(Command::SetBroadcasting {
                space_id: space_id.to_owned(),
                broadcasting,
            });
        }
        let Some(cluster) = self.cluster.get() else {
            return;
        };
        let space: Arc<str> = Arc::from(space_id);
        for shard in self.remote_holders(space_id) {
            if let Some(link) = cluster.links.sender(node_of(shard)) {
                link.send(Frame::SetBroadcasting {
                    space: Arc::clone(&space),
                    target: shard as u16,
                    broadcasting,
                });
            }
        }
    }

    /// A key for a new connection, unique in this node.
    pub fn next_connection_key(&self) -> ConnectionKey {
        ConnectionKey(self.next_connection.fetch_add(1, Ordering::Relaxed))
    }
}

impl MediaSettings {
    /// What clients are told for media IP `ip`: the public IP of its family, if any.
    pub fn advertised(&self, ip: IpAddr) -> IpAddr {
        match self.public_ip {
            Some(public) if public.is_ipv4() == ip.is_ipv4() => public,
            _ => ip,
        }
    }
}

fn nth_port(first: u16, index: usize) -> std::io::Result<u16> {
    u16::try_from(index)
        .ok()
        .and_then(|index| first.checked_add(index))
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "media ports run past 65535",
            )
        })
}

/// The ICE-TCP listener; SO_REUSEADDR so that a restarted node binds again at once, while the
/// connections of the one before linger in TIME_WAIT.
fn bind_tcp(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Socket buffers big enough for a burst: one publisher packet becomes hundreds of copies, and
/// a join storm delays reading. The kernel's default (about 200 KiB) dropped packets under a
/// 200-subscriber join. Forcing past `rmem_max` needs CAP_NET_ADMIN; otherwise the kernel's cap
/// applies.
fn enlarge_buffers(socket: &std::net::UdpSocket) {
    use rustix::net::sockopt;
    const BUFFER_BYTES: usize = 8 * 1024 * 1024;
    if sockopt::set_socket_recv_buffer_size_force(socket, BUFFER_BYTES).is_err() {
        let _ = sockopt::set_socket_recv_buffer_size(socket, BUFFER_BYTES);
    }
    if sockopt::set_socket_send_buffer_size_force(socket, BUFFER_BYTES).is_err() {
        let _ = sockopt::set_socket_send_buffer_size(socket, BUFFER_BYTES);
    }
}

#[cfg(test)]
#[path = "workers_tests.rs"]
mod tests;
