use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use oriel_sfu::{ConnectionKey, MediaCandidates, SpaceSnapshot};
use tokio::sync::{mpsc, oneshot};

use crate::meters::{MediaTotals, WorkerMeters};
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
}

/// Where one space's connections are.
#[derive(Debug)]
struct SpacePlacement {
    name: Arc<str>,
    /// Connections per worker.
    connections: Vec<u32>,
    /// Each connected participant's worker and connections there (a reconnection overlaps its
    /// predecessor for a moment and must land beside it, which replaces it).
    participants: HashMap<String, (usize, u32)>,
}

impl SpacePlacement {
    /// Workers holding connections of the space, but `except`.
    fn holders_except(&self, except: usize) -> Vec<usize> {
        (0..self.connections.len())
            .filter(|&w| w != except && self.connections[w] > 0)
            .collect()
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
                let udp = std::net::UdpSocket::bind(SocketAddr::new(ip, udp_port))?;
                udp.set_nonblocking(true)?;
                enlarge_buffers(&udp);
                let tcp = tcp_port
                    .map(|port| bind_tcp(SocketAddr::new(ip, port)))
                    .transpose()?;
                let advertised = settings.advertised(ip);
                addresses.push(BoundAddress {
                    udp,
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
        })
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
    pub fn place(&self, space_id: &str, participant_id: &str) -> &WorkerHandle {
        let home = self.home_of(space_id);
        let count = self.workers.len();
        let mut placements = self
            .placements
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let placement = placements
            .entry(space_id.to_owned())
            .or_insert_with(|| SpacePlacement {
                name: Arc::from(space_id),
                connections: vec![0; count],
                participants: HashMap::new(),
            });
        let total: u32 = placement.connections.iter().sum();
        let worker = match placement.participants.get(participant_id) {
            Some(&(worker, _)) => worker,
            None if self.spread_space_after == 0 || (total as usize) < self.spread_space_after => {
                home
            }
            None => (0..count)
                .min_by_key(|&w| (placement.connections[w], w != home))
                .unwrap_or(home),
        };
        if placement.connections[worker] == 0 {
            let peers = placement.holders_except(worker);
            if !peers.is_empty() {
                tracing::debug!(space_id, worker, ?peers, "space spreads to another worker");
                let space_id = Arc::clone(&placement.name);
                // The new shard hears first: a peer may answer `ShardOpened` (its state, then
                // `SyncDone`) before this thread sends anything else, and what reached the
                // new shard before its `OpenShard` would be lost, leaving it waiting for that
                // peer forever (every join placed there unanswered).
                self.workers[worker].send(Command::OpenShard {
                    space_id: Arc::clone(&space_id),
                    peers: peers.clone(),
                });
                for &peer in &peers {
                    self.workers[peer].send(Command::ShardOpened {
                        space_id: Arc::clone(&space_id),
                        worker,
                    });
                }
            }
        }
        placement.connections[worker] += 1;
        placement
            .participants
            .entry(participant_id.to_owned())
            .or_insert((worker, 0))
            .1 += 1;
        &self.workers[worker]
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
        let Some(connections) = placement.connections.get_mut(worker) else {
            return;
        };
        *connections = connections.saturating_sub(1);
        if *connections > 0 {
            return;
        }
        let remaining = placement.holders_except(worker);
        if remaining.is_empty() {
            placements.remove(space_id);
            return;
        }
        for peer in remaining.into_iter().chain([worker]) {
            self.workers[peer].send(Command::ShardClosed {
                space_id: Arc::clone(&placement.name),
                worker,
            });
        }
    }

    /// The workers holding a space's connections (its home worker when none does).
    fn holders(&self, space_id: &str) -> Vec<usize> {
        let placements = self
            .placements
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match placements.get(space_id) {
            Some(placement) if placement.connections.iter().any(|&c| c > 0) => {
                placement.holders_except(usize::MAX)
            }
            _ => vec![self.home_of(space_id)],
        }
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
