//! TURN over TCP and TLS (RFC 8656 section 3.1): STUN messages and ChannelData framed on a
//! byte stream, presented to the TURN server as one packet connection whose "source address"
//! is each client connection's remote address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use webrtc_util::Conn;

/// Frames waiting for the TURN server, from all connections together.
const INBOUND_QUEUE: usize = 1024;
/// Frames waiting to be written to one client; a client that does not read loses the rest.
const OUTBOUND_QUEUE: usize = 256;
/// A STUN message or ChannelData is at most this long (a UDP datagram's worth).
const MAX_FRAME: usize = 4 + 65_535 + 3;
/// A connection that has not sent a whole first frame by then is closed.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// The packet connection the TURN server reads from.
pub(crate) struct StreamConn {
    local: SocketAddr,
    inbound: tokio::sync::Mutex<mpsc::Receiver<(Vec<u8>, SocketAddr)>>,
    inbound_sender: mpsc::Sender<(Vec<u8>, SocketAddr)>,
    writers: Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>,
}

impl StreamConn {
    pub fn new(local: SocketAddr) -> Arc<Self> {
        let (inbound_sender, inbound) = mpsc::channel(INBOUND_QUEUE);
        Arc::new(Self {
            local,
            inbound: tokio::sync::Mutex::new(inbound),
            inbound_sender,
            writers: Mutex::new(HashMap::new()),
        })
    }

    /// Serves one accepted client connection (plain TCP, or TLS once its handshake is done)
    /// until it closes.
    pub async fn serve<S>(self: Arc<Self>, stream: S, remote: SocketAddr)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (mut reader, mut writer) = tokio::io::split(stream);
        let (outbound_sender, mut outbound) = mpsc::channel::<Vec<u8>>(OUTBOUND_QUEUE);
        self.writers_map().insert(remote, outbound_sender);
        let write = async move {
            while let Some(frame) = outbound.recv().await {
                if writer.write_all(&frame).await.is_err() {
                    break;
                }
            }
        };
        let inbound = self.inbound_sender.clone();
        let read = async move {
            let mut first = true;
            loop {
                let frame = if first {
                    match tokio::time::timeout(FIRST_FRAME_TIMEOUT, read_frame(&mut reader)).await {
                        Ok(frame) => frame,
                        Err(_) => break,
                    }
                } else {
                    read_frame(&mut reader).await
                };
                first = false;
                let Some(frame) = frame else { break };
                if inbound.send((frame, remote)).await.is_err() {
                    break;
                }
            }
        };
        tokio::select! {
            () = read => {}
            () = write => {}
        }
        self.writers_map().remove(&remote);
    }

    fn writers_map(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>> {
        self.writers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reads one STUN message or ChannelData (with its padding); `None` at the end of the
/// stream or on a frame that is neither.
async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> Option<Vec<u8>> {
    let mut header = [0u8; 4];
    reader.read_exact(&mut header).await.ok()?;
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let total = match header[0] >> 6 {
        // STUN: a 20-byte header, then attributes (always a multiple of 4).
        0b00 => 20 + length,
        // ChannelData (channel numbers 0x4000..0x7FFF): padded to 4 bytes on streams.
        0b01 => 4 + length.div_ceil(4) * 4,
        _ => return None,
    };
    if total > MAX_FRAME {
        return None;
    }
    let mut frame = vec![0u8; total];
    frame[..4].copy_from_slice(&header);
    reader.read_exact(&mut frame[4..]).await.ok()?;
    Some(frame)
}

#[async_trait]
impl Conn for StreamConn {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Err(webrtc_util::Error::Other("not supported".into()))
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let mut inbound = self.inbound.lock().await;
        loop {
            let (frame, remote) = inbound
                .recv()
                .await
                .ok_or(webrtc_util::Error::ErrUseClosedNetworkConn)?;
            // The server reads into a 1500-byte buffer, as it does for UDP: longer frames
            // cannot be handled and are dropped.
            if frame.len() <= buf.len() {
                buf[..frame.len()].copy_from_slice(&frame);
                return Ok((frame.len(), remote));
            }
        }
    }

    async fn send(&self, _buf: &[u8]) -> webrtc_util::Result<usize> {
        Err(webrtc_util::Error::Other("not supported".into()))
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        let writer = self.writers_map().get(&target).cloned();
        match writer {
            // A full queue drops the frame, as a congested UDP path would.
            Some(writer) => {
                let _ = writer.try_send(buf.to_vec());
                Ok(buf.len())
            }
            None => Err(webrtc_util::Error::ErrUseClosedNetworkConn),
        }
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}
