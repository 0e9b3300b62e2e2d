//! Receiving datagrams with the time the kernel took them in (`SO_TIMESTAMPNS`).
//!
//! A load generator runs hundreds of clients on the cores it shares with the server, so the
//! moment its task gets to read a datagram says more about its own scheduling than about the
//! network path. The kernel stamps each datagram as it queues it on the socket; delay measured
//! to that stamp is what the sender and the server added, whatever the reader was doing.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::socket::{
    recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrLike, SockaddrStorage,
};
use nix::sys::time::TimeSpec;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Control-message room for one `SCM_TIMESTAMPNS`.
pub fn control_buffer() -> Vec<u8> {
    nix::cmsg_space!(TimeSpec)
}

/// Asks the kernel to stamp what `socket` receives. Without it (not Linux, or refused),
/// datagrams simply come without a kernel time.
pub fn enable(socket: &std::net::UdpSocket) {
    if let Err(error) = setsockopt(socket, sockopt::ReceiveTimestampns, &true) {
        tracing::debug!(%error, "SO_TIMESTAMPNS refused: delays are taken at the read");
    }
}

/// A datagram read into the caller's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    pub len: usize,
    pub source: SocketAddr,
    /// When the kernel queued it, on the monotonic clock; `None` without a kernel stamp.
    pub kernel_time: Option<Instant>,
}

/// Reads one datagram without waiting (`WouldBlock` when there is none).
pub fn try_recv(socket: &UdpSocket, buffer: &mut [u8], control: &mut [u8]) -> io::Result<Received> {
    socket.try_io(Interest::READABLE, || {
        let mut iov = [IoSliceMut::new(buffer)];
        let message = recvmsg::<SockaddrStorage>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut *control),
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(io::Error::from)?;
        let source = message
            .address
            .as_ref()
            .and_then(socket_addr)
            .ok_or_else(|| io::Error::other("datagram without a source address"))?;
        let wall = message.cmsgs().ok().and_then(|mut cmsgs| {
            cmsgs.find_map(|cmsg| match cmsg {
                ControlMessageOwned::ScmTimestampns(at) => Some(Duration::from(at)),
                _ => None,
            })
        });
        Ok(Received {
            len: message.bytes,
            source,
            kernel_time: wall.and_then(monotonic_from_wall),
        })
    })
}

fn socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
    match address.family()? {
        nix::sys::socket::AddressFamily::Inet => address.as_sockaddr_in().map(|a| (*a).into()),
        nix::sys::socket::AddressFamily::Inet6 => address.as_sockaddr_in6().map(|a| (*a).into()),
        _ => None,
    }
}

/// The kernel stamps with the wall clock; this maps a stamp onto `Instant` by its age now,
/// never later than now.
fn monotonic_from_wall(since_unix_epoch: Duration) -> Option<Instant> {
    let now = Instant::now();
    let wall_now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?;
    let age = wall_now.saturating_sub(since_unix_epoch);
    now.checked_sub(age)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn datagrams_carry_the_kernel_time() {
        let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        std_socket.set_nonblocking(true).unwrap();
        enable(&std_socket);
        let local = std_socket.local_addr().unwrap();
        let receiver = UdpSocket::from_std(std_socket).unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buffer = [0u8; 64];
        let mut control = control_buffer();
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
            let received = try_recv(&receiver, &mut buffer, &mut control).unwrap();
            assert_eq!(&buffer[..received.len], &[round]);
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
                let again = try_recv(&receiver, &mut buffer, &mut control).unwrap_err();
                assert_eq!(again.kind(), io::ErrorKind::WouldBlock);
                return;
            }
            late_reads.push(read_late_by);
        }
        panic!("datagrams are stamped when read, not when they arrive: {late_reads:?}");
    }
}
