//! ICE over TCP (RFC 6544): a worker's passive TCP candidate, for browsers that cannot send UDP.
//!
//! Each connection carries RFC 4571 frames: a 16-bit big-endian length, then one STUN, DTLS or
//! SRTP packet. A task per connection reads frames and hands them to the worker, which feeds
//! them to its spaces as datagrams; another writes the frames the spaces send. A writer that
//! falls behind drops frames rather than queueing without bound: media over TCP must behave
//! like media over a lossy link, which congestion control and NACK already handle, not like a
//! growing delay.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// Largest frame we take: WebRTC packets stay under the path MTU; anything bigger is not ours.
const MAX_FRAME: usize = 2048;
/// Connections one worker holds at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 4096;
/// Frames queued towards one connection before new ones are dropped (about 0.3 s of a
/// 2.5 Mbit/s subscriber).
const WRITE_QUEUE: usize = 64;
/// Frames read from all connections and not yet taken by the worker: reading pauses when full.
const READ_QUEUE: usize = 1024;
/// A connection that sends nothing this long is closed: ICE consent checks come every few
/// seconds on a live one, and a port scan or a half-open connection must not hold a slot.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a connection's reader tells the worker.
pub(crate) enum TcpEvent {
    /// A frame from `source`, on the listener advertised as `candidate`.
    Frame {
        source: SocketAddr,
        candidate: SocketAddr,
        frame: Vec<u8>,
    },
    Closed {
        source: SocketAddr,
    },
}

struct Link {
    frames: mpsc::Sender<Vec<u8>>,
    reader: AbortHandle,
}

pub(crate) struct TcpMedia {
    /// One listener per media IP, with the candidate address it is advertised as.
    listeners: Vec<(TcpListener, SocketAddr)>,
    links: HashMap<SocketAddr, Link>,
    events: mpsc::Receiver<TcpEvent>,
    events_sender: mpsc::Sender<TcpEvent>,
    /// Frames dropped because a connection's queue was full or it was gone.
    pub(crate) dropped: u64,
}

impl TcpMedia {
    pub(crate) fn new(listeners: Vec<(TcpListener, SocketAddr)>) -> Self {
        let (events_sender, events) = mpsc::channel(READ_QUEUE);
        Self {
            listeners,
            links: HashMap::new(),
            events,
            events_sender,
            dropped: 0,
        }
    }

    pub(crate) fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|(listener, _)| listener.local_addr().ok())
            .collect()
    }

    pub(crate) fn connections(&self) -> usize {
        self.links.len()
    }

    /// Accepts connections until a frame arrives or a connection ends, and answers that.
    pub(crate) async fn next_event(&mut self) -> TcpEvent {
        loop {
            tokio::select! {
                (accepted, candidate) = accept_any(&self.listeners) => match accepted {
                    Ok((stream, source)) => self.adopt(stream, source, candidate),
                    Err(error) => {
                        tracing::debug!(%error, "ICE-TCP accept failed");
                        // Out of descriptors, say: do not spin on it.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(event) = self.events.recv() => {
                    if let TcpEvent::Closed { source } = &event {
                        self.links.remove(source);
                    }
                    return event;
                }
            }
        }
    }

    fn adopt(&mut self, stream: TcpStream, source: SocketAddr, candidate: SocketAddr) {
        if self.links.len() >= MAX_CONNECTIONS {
            tracing::warn!(%source, "too many ICE-TCP connections; refusing one");
            return;
        }
        let _ = stream.set_nodelay(true);
        let (read_half, write_half) = stream.into_split();
        let (frames, queue) = mpsc::channel(WRITE_QUEUE);
        tokio::spawn(write_frames(write_half, queue));
        let reader = tokio::spawn(read_frames(
            read_half,
            source,
            candidate,
            self.events_sender.clone(),
        ));
        let old = self.links.insert(
            source,
            Link {
                frames,
                reader: reader.abort_handle(),
            },
        );
        if let Some(old) = old {
            old.reader.abort();
        }
    }

    /// Queues one packet for the connection from `destination`, framed; dropped when that
    /// connection is gone or its queue is full.
    pub(crate) fn send(&mut self, destination: SocketAddr, packet: &[u8]) {
        let Some(link) = self.links.get(&destination) else {
            self.dropped += 1;
            return;
        };
        let Ok(length) = u16::try_from(packet.len()) else {
            self.dropped += 1;
            return;
        };
        let mut frame = Vec::with_capacity(packet.len() + 2);
        frame.extend_from_slice(&length.to_be_bytes());
        frame.extend_from_slice(packet);
        if link.frames.try_send(frame).is_err() {
            self.dropped += 1;
        }
    }
}

impl Drop for TcpMedia {
    fn drop(&mut self) {
        for link in self.links.values() {
            link.reader.abort();
        }
    }
}

/// The next connection on any of `listeners`, with the candidate its listener stands for.
async fn accept_any(
    listeners: &[(TcpListener, SocketAddr)],
) -> (io::Result<(TcpStream, SocketAddr)>, SocketAddr) {
    std::future::poll_fn(|cx| {
        for (listener, candidate) in listeners {
            if let std::task::Poll::Ready(accepted) = listener.poll_accept(cx) {
                return std::task::Poll::Ready((accepted, *candidate));
            }
        }
        std::task::Poll::Pending
    })
    .await
}

async fn read_frames(
    half: OwnedReadHalf,
    source: SocketAddr,
    candidate: SocketAddr,
    events: mpsc::Sender<TcpEvent>,
) {
    let mut reader = BufReader::new(half);
    loop {
        match tokio::time::timeout(IDLE_TIMEOUT, read_frame(&mut reader)).await {
            Ok(Ok(frame)) => {
                if events
                    .send(TcpEvent::Frame {
                        source,
                        candidate,
                        frame,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Ok(Err(error)) => {
                tracing::debug!(%error, %source, "ICE-TCP connection ended");
                break;
            }
            Err(_) => {
                tracing::debug!(%source, "ICE-TCP connection idle; closing it");
                break;
            }
        }
    }
    let _ = events.send(TcpEvent::Closed { source }).await;
}

async fn read_frame(reader: &mut BufReader<OwnedReadHalf>) -> io::Result<Vec<u8>> {
    let length = usize::from(reader.read_u16().await?);
    if length == 0 || length > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {length} bytes is not a WebRTC packet"),
        ));
    }
    let mut frame = vec![0; length];
    reader.read_exact(&mut frame).await?;
    Ok(frame)
}

/// Writes queued frames until the link is dropped or the peer stops taking them.
async fn write_frames(mut half: OwnedWriteHalf, mut queue: mpsc::Receiver<Vec<u8>>) {
    while let Some(frame) = queue.recv().await {
        if half.write_all(&frame).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pair() -> (TcpMedia, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let media = TcpMedia::new(vec![(listener, addr)]);
        let client = TcpStream::connect(addr).await.unwrap();
        (media, client)
    }

    #[tokio::test]
    async fn frames_arrive_whole_however_the_stream_splits_them() {
        let (mut media, mut client) = pair().await;
        let source = client.local_addr().unwrap();
        // Two frames, written in pieces that cut through a length and a body.
        let bytes = [0u8, 3, b'a', b'b', b'c', 0, 2, b'x', b'y'];
        for piece in [&bytes[..1], &bytes[1..4], &bytes[4..6], &bytes[6..]] {
            client.write_all(piece).await.unwrap();
            client.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for expected in [&b"abc"[..], &b"xy"[..]] {
            match media.next_event().await {
                TcpEvent::Frame {
                    source: from,
                    frame,
                    ..
                } => {
                    assert_eq!(from, source);
                    assert_eq!(frame, expected);
                }
                TcpEvent::Closed { .. } => panic!("closed early"),
            }
        }
        assert_eq!(media.connections(), 1);
    }

    #[tokio::test]
    async fn each_frame_names_the_candidate_of_its_listener() {
        let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let second = TcpListener::bind("127.0.0.2:0").await.unwrap();
        let (a, b) = (first.local_addr().unwrap(), second.local_addr().unwrap());
        // Advertised as other addresses, as behind a 1:1 NAT.
        let (public_a, public_b): (SocketAddr, SocketAddr) = (
            "203.0.113.1:1".parse().unwrap(),
            "[2001:db8::1]:2".parse().unwrap(),
        );
        let mut media = TcpMedia::new(vec![(first, public_a), (second, public_b)]);
        for (addr, candidate) in [(b, public_b), (a, public_a)] {
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(&[0, 1, 7]).await.unwrap();
            match media.next_event().await {
                TcpEvent::Frame {
                    candidate: got,
                    frame,
                    ..
                } => {
                    assert_eq!(got, candidate);
                    assert_eq!(frame, [7]);
                }
                TcpEvent::Closed { .. } => panic!("closed early"),
            }
            drop(client);
            let TcpEvent::Closed { .. } = media.next_event().await else {
                panic!("the connection did not end");
            };
        }
    }

    #[tokio::test]
    async fn sent_packets_are_framed_with_their_length() {
        let (mut media, mut client) = pair().await;
        let source = client.local_addr().unwrap();
        client.write_all(&[0, 1, 0]).await.unwrap();
        let TcpEvent::Frame { .. } = media.next_event().await else {
            panic!("no frame");
        };
        media.send(source, b"hello");
        let mut got = [0u8; 7];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"\x00\x05hello");
        media.send("127.0.0.1:9".parse().unwrap(), b"nobody");
        assert_eq!(media.dropped, 1, "a packet for no connection is dropped");
    }

    #[tokio::test]
    async fn an_oversized_frame_closes_the_connection_and_frees_its_slot() {
        let (mut media, mut client) = pair().await;
        let source = client.local_addr().unwrap();
        client.write_all(&[0xff, 0xff, 1, 2, 3]).await.unwrap();
        match media.next_event().await {
            TcpEvent::Closed { source: from } => assert_eq!(from, source),
            TcpEvent::Frame { .. } => panic!("an oversized frame was taken"),
        }
        assert_eq!(media.connections(), 0);
        let mut rest = Vec::new();
        // The server's side is closed: the client reads the end of the stream.
        let read =
            tokio::time::timeout(Duration::from_secs(2), client.read_to_end(&mut rest)).await;
        assert!(
            matches!(read, Ok(Ok(_))),
            "the connection was closed: {read:?}"
        );
    }
}
