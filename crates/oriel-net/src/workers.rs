use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use oriel_sfu::{ConnectionKey, MediaCandidates};
use tokio::sync::mpsc;

use crate::meters::{MediaTotals, WorkerMeters};
use crate::worker::{BoundAddress, Worker, WorkerSockets};
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
}

/// A running media worker: where its commands go.
#[derive(Clone, Debug)]
pub struct WorkerHandle {
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
            let (commands, inbox) = mpsc::unbounded_channel();
            let meters = Arc::new(WorkerMeters::default());
            let worker_meters = Arc::clone(&meters);
            std::thread::Builder::new()
                .name(format!("oriel-media-{index}"))
                .spawn(move || Worker::run(index, sockets, inbox, worker_meters))?;
            workers.push(WorkerHandle {
                candidates,
                commands,
                meters,
            });
        }
        Ok(Self {
            workers: Arc::new(workers),
            next_connection: Arc::new(AtomicU64::new(1)),
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

    /// The worker that holds a space: always the same one for the same space.
    pub fn for_space(&self, space_id: &str) -> &WorkerHandle {
        let mut hasher = DefaultHasher::new();
        space_id.hash(&mut hasher);
        let index = (hasher.finish() % self.workers.len() as u64) as usize;
        &self.workers[index]
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
