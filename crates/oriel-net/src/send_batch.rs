//! Outgoing datagrams collected and sent with `sendmmsg`: one system call for many packets,
//! which is what a fan-out of one packet to many subscribers needs.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::AsFd;

use rustix::net::{sendmmsg, MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams per system call: the kernel takes up to 1024; 64 keeps the headers in cache.
pub(crate) const BATCH: usize = 64;

#[derive(Default)]
pub(crate) struct SendBatch {
    pending: Vec<(SocketAddr, Vec<u8>)>,
}

impl SendBatch {
    pub(crate) fn push(&mut self, destination: SocketAddr, contents: Vec<u8>) {
        self.pending.push((destination, contents));
    }

    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Sends everything collected, waiting for the socket when its buffer is full. A
    /// datagram the kernel refuses (say, an unreachable address) is dropped, as UDP would.
    pub(crate) async fn flush(&mut self, socket: &UdpSocket) {
        let mut sent = 0;
        while sent < self.pending.len() {
            let chunk = &self.pending[sent..(sent + BATCH).min(self.pending.len())];
            match socket.try_io(Interest::WRITABLE, || send_chunk(socket, chunk)) {
                Ok(count) => sent += count.max(1),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    if socket.writable().await.is_err() {
                        break;
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, destination = %chunk[0].0, "media send failed; datagram dropped");
                    sent += 1;
                }
            }
        }
        self.pending.clear();
    }
}

fn send_chunk(socket: &UdpSocket, chunk: &[(SocketAddr, Vec<u8>)]) -> io::Result<usize> {
    let addresses: Vec<SocketAddrAny> = chunk
        .iter()
        .map(|(addr, _)| SocketAddrAny::from(*addr))
        .collect();
    let slices: Vec<[IoSlice<'_>; 1]> =
        chunk.iter().map(|(_, data)| [IoSlice::new(data)]).collect();
    let mut ancillary: Vec<SendAncillaryBuffer<'_, '_, '_>> = chunk
        .iter()
        .map(|_| SendAncillaryBuffer::default())
        .collect();
    let mut messages: Vec<MMsgHdr<'_>> = addresses
        .iter()
        .zip(slices.iter())
        .zip(ancillary.iter_mut())
        .map(|((addr, iov), control)| MMsgHdr::new_with_addr(addr, iov, control))
        .collect();
    sendmmsg(socket.as_fd(), &mut messages, SendFlags::empty()).map_err(io::Error::from)
}
