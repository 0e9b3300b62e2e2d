use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use oriel_sfu::ConnectionKey;
use tokio::sync::mpsc;

use crate::meters::{MediaTotals, WorkerMeters};
use crate::worker::Worker;
use crate::Command;

/// The contract allows a node at most 16 media ports.
const MAX_WORKERS: usize = 16;

/// A running media worker: where its commands go.
#[derive(Clone, Debug)]
pub struct WorkerHandle {
    pub media_addr: SocketAddr,
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
    /// Binds one UDP socket per worker at `ip`, ports `first_port`, `first_port + 1`, ...,
    /// and starts the worker threads. `count` is capped at 16.
    pub fn start(ip: IpAddr, first_port: u16, count: usize) -> std::io::Result<Self> {
        let count = count.clamp(1, MAX_WORKERS);
        let mut workers = Vec::with_capacity(count);
        for index in 0..count {
            let port = first_port.checked_add(index as u16).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "media ports run past 65535",
                )
            })?;
            let addr = SocketAddr::new(ip, port);
            let socket = std::net::UdpSocket::bind(addr)?;
            socket.set_nonblocking(true)?;
            enlarge_buffers(&socket);
            let (commands, inbox) = mpsc::unbounded_channel();
            let meters = Arc::new(WorkerMeters::default());
            let worker_meters = Arc::clone(&meters);
            std::thread::Builder::new()
                .name(format!("oriel-media-{index}"))
                .spawn(move || Worker::run(index, socket, inbox, worker_meters))?;
            workers.push(WorkerHandle {
                media_addr: addr,
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
