//! Receiving datagrams with the time the kernel took them in (`SO_TIMESTAMPNS`).
//!
//! A load generator runs hundreds of clients on the cores it shares with the server, so the
//! moment its task gets to read a datagram says more about its own scheduling than about the
//! network path. The kernel stamps each datagram as it queues it on the socket; delay measured
//! to that stamp is what the sender and the server added, whatever the reader was doing.
//!
//! [`BatchReceiver`] reads several datagrams per system call (`recvmmsg`) and tells when the
//! socket is empty, so a wake-up that finds one datagram costs one call, not a read and a
//! `WouldBlock`: system calls were a quarter of a load generator's CPU.

use std::cell::RefCell;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::socket::{
    recvmmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrLike,
    SockaddrStorage,
};
use nix::sys::time::TimeSpec;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Control-message room for one `SCM_TIMESTAMPNS`.
fn control_buffer() -> Vec<u8> {
    nix::cmsg_space!(TimeSpec)
}

/// Asks the kernel to stamp what `socket` receives. Without it (not Linux, or refused),
/// datagrams simply come without a kernel time.
pub fn enable(socket: &std::net::UdpSocket) {
    if let Err(error) = setsockopt(socket, sockopt::ReceiveTimestampns, &true) {
        tracing::debug!(%error, "SO_TIMESTAMPNS refused: delays are taken at the read");
    }
}

/// A datagram read, as the kernel handed it over.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    pub len: usize,
    pub source: SocketAddr,
    /// When the kernel queued it, on the monotonic clock; `None` without a kernel stamp.
    pub kernel_time: Option<Instant>,
}

/// Datagrams one [`BatchReceiver::try_recv`] reads at most.
pub const BATCH_SLOTS: usize = 16;
/// Room for each datagram; longer ones are cut (nothing on this path sends them).
const SLOT_BYTES: usize = 2048;

thread_local! {
    /// The `recvmmsg` headers (addresses, control buffers), reused by every receiver on this
    /// thread: they hold raw pointers, hence are not `Send` and cannot live in a task that
    /// moves between threads, and a receive never spans an `await`.
    static HEADERS: RefCell<MultiHeaders<SockaddrStorage>> =
        RefCell::new(MultiHeaders::preallocate(BATCH_SLOTS, Some(control_buffer())));
}

/// Buffers for reading up to [`BATCH_SLOTS`] datagrams per `recvmmsg`, each with its kernel time.
pub struct BatchReceiver {
    buffers: Box<[u8]>,
    /// Each datagram read, with the slot of `buffers` holding it.
    received: Vec<(usize, Received)>,
}

impl Default for BatchReceiver {
    fn default() -> Self {
        Self {
            buffers: vec![0; BATCH_SLOTS * SLOT_BYTES].into_boxed_slice(),
            received: Vec::with_capacity(BATCH_SLOTS),
        }
    }
}

impl BatchReceiver {
    /// Reads what the socket holds, up to [`BATCH_SLOTS`] datagrams, without waiting; they are
    /// then in [`Self::datagrams`]. `Ok(true)`: the batch is full and more may be waiting.
    /// `Ok(false)`: the socket is empty (the task's readiness is cleared, so it sleeps until
    /// the next datagram).
    pub fn try_recv(&mut self, socket: &UdpSocket) -> io::Result<bool> {
        let Self { buffers, received } = self;
        received.clear();
        let result = HEADERS.with_borrow_mut(|headers| {
            socket.try_io(Interest::READABLE, || {
                let mut chunks = buffers.chunks_exact_mut(SLOT_BYTES);
                let mut slices: [[IoSliceMut<'_>; 1]; BATCH_SLOTS] =
                    std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
                let messages = recvmmsg(
                    socket.as_raw_fd(),
                    headers,
                    slices.iter_mut(),
                    MsgFlags::MSG_DONTWAIT,
                    None,
                )
                .map_err(io::Error::from)?;
                let clocks = Clocks::now();
                let mut read = 0;
                for (slot, message) in messages.enumerate() {
                    read += 1;
                    // A datagram without a source address cannot be answered: skipped.
                    let Some(source) = message.address.as_ref().and_then(socket_addr) else {
                        continue;
                    };
                    let received_at = Received {
                        len: message.bytes,
                        source,
                        kernel_time: clocks.and_then(|c| c.kernel_time(message.cmsgs().ok())),
                    };
                    received.push((slot, received_at));
                }
                // Non-blocking `recvmmsg` stops early only when the queue runs dry: report that as
                // `WouldBlock` so tokio clears the readiness (a datagram arriving meanwhile sets it
                // again), and keep what was read.
                if read == BATCH_SLOTS {
                    Ok(())
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                }
            })
        });
        match result {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The datagrams the last [`Self::try_recv`] read, in order.
    pub fn datagrams(&self) -> impl Iterator<Item = (Received, &[u8])> + '_ {
        self.received.iter().map(|&(slot, received)| {
            let start = slot * SLOT_BYTES;
            (
                received,
                &self.buffers[start..start + received.len.min(SLOT_BYTES)],
            )
        })
    }
}

/// Both clocks read once per batch, to map the kernel's wall-clock stamps onto `Instant`.
#[derive(Clone, Copy)]
struct Clocks {
    now: Instant,
    wall_now: Duration,
}

impl Clocks {
    fn now() -> Option<Self> {
        let now = Instant::now();
        let wall_now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()?;
        Some(Self { now, wall_now })
    }

    /// The `SCM_TIMESTAMPNS` among `cmsgs`, by its age now, never later than now.
    fn kernel_time<'a>(
        self,
        cmsgs: Option<impl Iterator<Item = ControlMessageOwned> + 'a>,
    ) -> Option<Instant> {
        let since_unix_epoch = cmsgs?.find_map(|cmsg| match cmsg {
            ControlMessageOwned::ScmTimestampns(at) => Some(Duration::from(at)),
            _ => None,
        })?;
        let age = self.wall_now.saturating_sub(since_unix_epoch);
        self.now.checked_sub(age)
    }
}

fn socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
    match address.family()? {
        nix::sys::socket::AddressFamily::Inet => address.as_sockaddr_in().map(|a| (*a).into()),
        nix::sys::socket::AddressFamily::Inet6 => address.as_sockaddr_in6().map(|a| (*a).into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (UdpSocket, std::net::UdpSocket, SocketAddr) {
        let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        std_socket.set_nonblocking(true).unwrap();
        enable(&std_socket);
        let local = std_socket.local_addr().unwrap();
        let receiver = UdpSocket::from_std(std_socket).unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        (receiver, sender, local)
    }

    #[tokio::test]
    async fn datagrams_carry_the_kernel_time() {
        let (receiver, sender, local) = pair();
        let mut batch = BatchReceiver::default();
        // The kernel turns receive timestamps on asynchronously (a static key flipped from a
        // work queue), and stamps at the read what arrived before: on a busy machine the
        // first datagrams may come stamped late, so a few rounds are allowed.
        let mut late_reads = Vec::new();
        for round in 0..10u8 {
            let before = Instant::now();
            sender.send_to(&[round], local).unwrap();
            // Read late on purpose: the kernel time is when it arrived, not when it was read.
            std::thread::sleep(Duration::from_millis(30));
            receiver.readable().await.unwrap();
            let after = Instant::now();
            assert!(
                !batch.try_recv(&receiver).unwrap(),
                "one datagram: the socket is empty"
            );
            let datagrams: Vec<_> = batch.datagrams().collect();
            assert_eq!(datagrams.len(), 1);
            let (received, contents) = datagrams[0];
            assert_eq!(contents, &[round]);
            assert_eq!(received.source, sender.local_addr().unwrap());
            let kernel_time = received.kernel_time.expect("a kernel time on Linux");
            // Never before the send (give or take the wall/monotonic mapping) ...
            assert!(
                kernel_time + Duration::from_millis(5) >= before,
                "{kernel_time:?} {before:?}"
            );
            // ... and, once stamping is on, well before the late read.
            let read_late_by = after.saturating_duration_since(kernel_time);
            if read_late_by >= Duration::from_millis(25) {
                return;
            }
            late_reads.push(read_late_by);
        }
        panic!("datagrams are stamped when read, not when they arrive: {late_reads:?}");
    }

    #[tokio::test]
    async fn a_batch_reads_many_datagrams_in_order_and_says_when_the_socket_is_empty() {
        let (receiver, sender, local) = pair();
        let mut batch = BatchReceiver::default();
        let count = BATCH_SLOTS + 3;
        for index in 0..count {
            // Lengths differ so that a slot mix-up shows.
            sender
                .send_to(&vec![index as u8; index + 1], local)
                .unwrap();
        }
        // Loopback queues them at once; wait until the last has arrived.
        std::thread::sleep(Duration::from_millis(20));
        receiver.readable().await.unwrap();

        assert!(
            batch.try_recv(&receiver).unwrap(),
            "a full batch: more may wait"
        );
        let first: Vec<Vec<u8>> = batch.datagrams().map(|(_, c)| c.to_vec()).collect();
        assert_eq!(first.len(), BATCH_SLOTS);
        assert!(!batch.try_recv(&receiver).unwrap(), "the rest, then empty");
        let rest: Vec<Vec<u8>> = batch.datagrams().map(|(_, c)| c.to_vec()).collect();
        assert_eq!(rest.len(), 3);
        for (index, contents) in first.iter().chain(&rest).enumerate() {
            assert_eq!(contents, &vec![index as u8; index + 1]);
        }
        for (received, _) in batch.datagrams() {
            assert_eq!(received.source, sender.local_addr().unwrap());
            assert!(received.kernel_time.is_some());
        }

        // Empty now: nothing read, and not an error.
        assert!(!batch.try_recv(&receiver).unwrap());
        assert_eq!(batch.datagrams().count(), 0);
        // The readiness was cleared with the short batch; a new datagram sets it again.
        sender.send_to(b"again", local).unwrap();
        tokio::time::timeout(Duration::from_secs(2), receiver.readable())
            .await
            .expect("woken by the next datagram")
            .unwrap();
        assert!(!batch.try_recv(&receiver).unwrap());
        assert_eq!(batch.datagrams().next().unwrap().1, b"again");
    }
}
