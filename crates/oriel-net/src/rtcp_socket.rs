//! A media port as two UDP sockets: the kernel steers RTCP to the second, everything else
//! (RTP, STUN, DTLS) to the first.
//!
//! Why: every subscriber sends transport-wide congestion feedback every 50 ms (as Chrome
//! does) plus receiver reports, so a worker with a hundred subscribers was woken some two
//! thousand times a second for one small datagram each, and on a VM each wake-up (a context
//! switch out of idle) cost more than forwarding a dozen packets. None of that RTCP needs an
//! answer within microseconds: it moves estimates and asks for resends. So the worker waits
//! only on the first socket and reads the second whenever it is awake anyway (media keeps it
//! awake every few milliseconds) and at least every [`RTCP_READ_INTERVAL`].
//!
//! Both sockets share the port through `SO_REUSEPORT`, and a classic BPF program on the group
//! (`SO_ATTACH_REUSEPORT_CBPF`) picks the socket from the first two bytes of the UDP payload,
//! the RFC 5761 demultiplexing: version 2 and a packet type of 192-223 is RTCP. A client sees
//! one address; sends all leave by the first socket. Another process of the same user that
//! joined the group later would get nothing: the program only ever names these two.
//!
//! Measured (AMD EPYC, 2 CPUs, `oriel load-test` niced beside the server, alternating runs of
//! the same build with and without the steering): fan-out 1 -> 100, the media threads' wake-ups
//! from ~960 to ~630 a second each and 108k / 117k against 83k / 94k packets per server
//! CPU-second, delay p99 1.9 against 2.4-2.9 ms; audio room 10 -> 300 (the server busy, so
//! wake-ups were fewer already) 130k / 137k against 128k / 127k.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use nix::sys::socket::{setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};

/// The longest RTCP waits to be read while the worker has connections and nothing else woke
/// it: small next to the 50 ms between a subscriber's feedback packets and to a round trip.
pub(crate) const RTCP_READ_INTERVAL: Duration = Duration::from_millis(5);

/// One media port: `media` is waited on and sends everything; `rtcp`, when the kernel took the
/// steering program, receives the RTCP.
pub(crate) struct MediaPort {
    pub(crate) media: UdpSocket,
    pub(crate) rtcp: Option<UdpSocket>,
}

/// Binds `address` (port 0: one the kernel picks). The port is first bound alone, so that one
/// already taken fails here rather than joining another process's `SO_REUSEPORT` group. When
/// the steering cannot be set up (an old kernel, a sandbox), the port is one plain socket.
pub(crate) fn bind_media_port(address: SocketAddr) -> io::Result<MediaPort> {
    let probe = UdpSocket::bind(address)?;
    let address = probe.local_addr()?;
    drop(probe);
    match bind_steered(address) {
        Ok(port) => Ok(port),
        Err(error) => {
            tracing::warn!(%error, %address, "RTCP cannot be steered to a socket of its own; one socket reads all");
            Ok(MediaPort {
                media: UdpSocket::bind(address)?,
                rtcp: None,
            })
        }
    }
}

fn bind_steered(address: SocketAddr) -> io::Result<MediaPort> {
    // The group's order is the order of binding: the media socket is index 0.
    let media = reuse_port_socket(address)?;
    let rtcp = reuse_port_socket(address)?;
    let mut program = rtcp_steering_program();
    let program = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    setsockopt(&media, sockopt::AttachReusePortCbpf, &program)?;
    Ok(MediaPort {
        media: media.into(),
        rtcp: Some(rtcp.into()),
    })
}

fn reuse_port_socket(address: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    Ok(socket)
}

/// The socket index for a datagram, from its UDP payload: 1 for RTCP, 0 for anything else (a
/// payload too short to read also gives 0).
fn rtcp_steering_program() -> [libc::sock_filter; 8] {
    const LOAD_BYTE: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_ABS) as u16;
    const AND: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
    const JUMP_IF_EQUAL: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JUMP_IF_AT_LEAST: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const JUMP_IF_ABOVE: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
    const RETURN: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    // Jump offsets count from the next instruction; 7 is "return 0".
    [
        op(LOAD_BYTE, 0, 0, 0),          // 0: A = payload[0]
        op(AND, 0, 0, 0xc0),             // 1: A = the version bits
        op(JUMP_IF_EQUAL, 0, 4, 0x80),   // 2: version 2, else -> 7
        op(LOAD_BYTE, 0, 0, 1),          // 3: A = payload[1] (marker and payload type)
        op(JUMP_IF_AT_LEAST, 0, 2, 192), // 4: >= 192, else -> 7
        op(JUMP_IF_ABOVE, 1, 0, 223),    // 5: > 223 -> 7
        op(RETURN, 0, 0, 1),             // 6: RTCP
        op(RETURN, 0, 0, 0),             // 7: the media socket
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(socket: &UdpSocket) -> Vec<Vec<u8>> {
        let mut datagrams = Vec::new();
        let mut buffer = [0u8; 64];
        for _ in 0..100 {
            match socket.recv(&mut buffer) {
                Ok(length) => datagrams.push(buffer[..length].to_vec()),
                Err(_) if !datagrams.is_empty() => break,
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        datagrams
    }

    #[test]
    fn rtcp_reaches_the_second_socket_and_everything_else_the_first() {
        let port = bind_media_port("127.0.0.1:0".parse().unwrap()).unwrap();
        let rtcp = port.rtcp.expect("this kernel steers");
        let address = port.media.local_addr().unwrap();
        assert_eq!(rtcp.local_addr().unwrap(), address, "one port");
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sent: [&[u8]; 7] = [
            &[0x80, 96, 0, 1],         // RTP, VP8
            &[0x80, 0x80 | 111, 0, 2], // RTP with the marker bit
            &[0x00, 0x01, 0, 0],       // STUN binding request
            &[22, 0xfe, 0xfd],         // DTLS handshake
            &[0x80],                   // too short to tell: media
            &[0x81, 205, 0, 3],        // RTCP transport feedback
            &[0x80, 200, 0, 6],        // RTCP sender report
        ];
        for datagram in sent {
            client.send_to(datagram, address).unwrap();
        }
        assert_eq!(received(&port.media).len(), 5);
        let steered = received(&rtcp);
        assert_eq!(steered, [vec![0x81, 205, 0, 3], vec![0x80, 200, 0, 6]]);
    }

    #[test]
    fn a_port_in_use_is_refused_not_shared() {
        let port = bind_media_port("127.0.0.1:0".parse().unwrap()).unwrap();
        let taken = port.media.local_addr().unwrap();
        let error = bind_media_port(taken).err().expect("the port is taken");
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
    }
}
