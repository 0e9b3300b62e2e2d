//! The tokio driver: one task per client owning its WebSocket, its UDP sockets and its
//! [`Session`], and a [`Client`] handle to talk to it.
//!
//! The task sleeps until one of four things happens: a command from the handle, a frame on
//! the WebSocket, a readable UDP socket (drained with non-blocking reads, up to a batch, so
//! a burst costs one wake-up), or the session's next timeout. No thread is started per
//! client: hundreds of clients share the runtime's worker threads.

use std::collections::HashMap;
use std::future::poll_fn;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::counters::ClientCounters;
use crate::events::{
    ClientError, ClientEvent, JoinError, JoinedInfo, MediaDelivery, PublishedTrack, RequestOk,
};
use crate::kernel_receive::{self, BatchReceiver};
use crate::session::{
    Output, PublishOptions, Session, SessionOptions, SessionState, SocketFactory,
};

/// What this SDK calls itself in `sdk_version`.
pub const SDK_VERSION: &str = "oriel-rust-0.1";
/// Datagrams read per wake-up before the task yields to its other inputs.
const RECV_BATCH: usize = 64;
/// Read buffer of the signaling socket. The driver's loop polls the socket on every wake-up
/// (a datagram, a timer) and tungstenite zero-fills this much on each read attempt: its 128 KiB
/// default made that memset 7 % of a load generator's CPU, and 4 KiB still 2.5 %. A larger
/// frame is read in several reads (one syscall each, at a join: nothing to save there).
const WS_READ_BUFFER: usize = 512;
/// How long closing the WebSocket may take when leaving.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How to connect.
pub struct ClientOptions {
    /// The signaling base URL, as `MUX_SPACES_BACKEND_URL` for the SDK:
    /// `ws://127.0.0.1:8080/pluto` (`/v1?...` is appended). Only `ws://` is supported.
    pub server: String,
    /// The join token (JWT).
    pub token: String,
    pub display_name: Option<String>,
    /// 0 manual subscriptions, 1 to 20 automatic; the SDK's default is 16.
    pub managed_subscriptions: u8,
    pub sdk_version: String,
    /// Where the client's UDP sockets (one per peer connection) are bound.
    pub bind_ip: IpAddr,
    /// Bound on connecting plus waiting for `joined` (the SDK has none).
    pub join_timeout: Duration,
    pub media: MediaDelivery,
}

impl ClientOptions {
    pub fn new(server: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            token: token.into(),
            display_name: None,
            managed_subscriptions: 16,
            sdk_version: SDK_VERSION.to_owned(),
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            join_timeout: Duration::from_secs(15),
            media: MediaDelivery::Events,
        }
    }
}

/// `application/x-www-form-urlencoded`, as `URLSearchParams` writes it.
fn form_encode(value: &str, out: &mut String) {
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
}

/// The join URL the SDK would open: `{server}/v1?token=..&sdk_version=..&managed_subscriptions=..`
/// then `display_name` when set.
pub fn join_url(
    server: &str,
    token: &str,
    sdk_version: &str,
    managed_subscriptions: u8,
    display_name: Option<&str>,
) -> String {
    let mut url = format!("{}/v1?token=", server.trim_end_matches('/'));
    form_encode(token, &mut url);
    url.push_str("&sdk_version=");
    form_encode(sdk_version, &mut url);
    url.push_str(&format!("&managed_subscriptions={managed_subscriptions}"));
    if let Some(name) = display_name.filter(|n| !n.is_empty()) {
        url.push_str("&display_name=");
        form_encode(name, &mut url);
    }
    url
}

/// Events of a client, in order; ends when the client's task ends.
pub type EventStream = mpsc::UnboundedReceiver<ClientEvent>;

enum Command {
    Publish(
        PublishOptions,
        oneshot::Sender<Result<Vec<PublishedTrack>, ClientError>>,
    ),
    CustomEvent(String, oneshot::Sender<Result<RequestOk, ClientError>>),
    DisplayName(String, oneshot::Sender<Result<RequestOk, ClientError>>),
    Subscribe {
        connection_id: String,
        track_ids: Vec<String>,
        subscribe: bool,
        max_height: Option<u32>,
    },
    RequestKeyframe(String),
    Leave(Option<oneshot::Sender<()>>),
}

/// A joined client. Dropping it leaves the space.
pub struct Client {
    commands: mpsc::UnboundedSender<Command>,
    info: JoinedInfo,
    counters: Arc<ClientCounters>,
}

/// Opens the signaling socket, waits for `joined` and starts the client's task.
///
/// Errors are the SDK's `join()` rejections ([`JoinError::InvalidJwt`],
/// [`JoinError::Duplicate`], ...) plus connection failures and [`JoinError::Timeout`].
pub async fn connect(options: ClientOptions) -> Result<(Client, EventStream), JoinError> {
    let deadline = tokio::time::Instant::now() + options.join_timeout;
    let url = join_url(
        &options.server,
        &options.token,
        &options.sdk_version,
        options.managed_subscriptions,
        options.display_name.as_deref(),
    );
    let ws = tokio::time::timeout_at(deadline, open(&url))
        .await
        .map_err(|_| JoinError::Timeout)??;
    let opened_at = Instant::now();
    let counters = Arc::new(ClientCounters::default());
    let session = Session::new(
        opened_at,
        SessionOptions {
            token: options.token,
            display_name: options.display_name,
            managed_subscriptions: options.managed_subscriptions,
        },
        options.media,
        Arc::clone(&counters),
    );
    let (commands, command_inbox) = mpsc::unbounded_channel();
    let (events, event_stream) = mpsc::unbounded_channel();
    let (joined_tx, joined_rx) = oneshot::channel();
    let driver = Driver {
        session,
        ws,
        ws_open: true,
        sockets: Vec::new(),
        bind_ip: options.bind_ip,
        events,
        joined: Some(joined_tx),
        waiters: HashMap::new(),
        leave_acks: Vec::new(),
        counters: Arc::clone(&counters),
    };
    tokio::spawn(driver.run(command_inbox));
    match tokio::time::timeout_at(deadline, joined_rx).await {
        Ok(Ok(Ok(info))) => Ok((
            Client {
                commands,
                info,
                counters,
            },
            event_stream,
        )),
        Ok(Ok(Err(error))) => Err(error),
        Ok(Err(_)) => Err(JoinError::ClosedBeforeJoin),
        Err(_) => {
            let _ = commands.send(Command::Leave(None));
            Err(JoinError::Timeout)
        }
    }
}

async fn open(url: &str) -> Result<WebSocketStream<TcpStream>, JoinError> {
    let request = url
        .into_client_request()
        .map_err(|e| JoinError::Connect(e.to_string()))?;
    let uri = request.uri();
    if uri.scheme_str() != Some("ws") {
        return Err(JoinError::Connect(format!(
            "only ws:// URLs are supported, not {url:?}"
        )));
    }
    let host = uri
        .host()
        .ok_or_else(|| JoinError::Connect("the URL has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| JoinError::Connect(format!("{host}:{port}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let config = WebSocketConfig::default().read_buffer_size(WS_READ_BUFFER);
    let (ws, _response) = tokio_tungstenite::client_async_with_config(request, tcp, Some(config))
        .await
        .map_err(|e| JoinError::Connect(e.to_string()))?;
    Ok(ws)
}

impl Client {
    /// The local participant as `joined` described it, with the join's timing.
    pub fn info(&self) -> &JoinedInfo {
        &self.info
    }

    pub fn counters(&self) -> &Arc<ClientCounters> {
        &self.counters
    }

    /// Whether the client's task still runs (it ends on leave or disconnection).
    pub fn is_running(&self) -> bool {
        !self.commands.is_closed()
    }

    /// Publishes the synthetic microphone and/or camera; resolves once the offer is sent
    /// (like the SDK's `publishTracks`), media starts when the publisher PC connects.
    pub async fn publish(
        &self,
        options: PublishOptions,
    ) -> Result<Vec<PublishedTrack>, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Publish(options, reply))
            .map_err(|_| ClientError::Closed)?;
        answer.await.map_err(|_| ClientError::Closed)?
    }

    /// Sends a custom event to the space; resolves with the sequence number the server gave
    /// it once the server echoes it (or with the server's refusal, or after 30 s).
    pub async fn publish_custom_event(
        &self,
        payload: impl Into<String>,
    ) -> Result<u64, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::CustomEvent(payload.into(), reply))
            .map_err(|_| ClientError::Closed)?;
        match answer.await.map_err(|_| ClientError::Closed)?? {
            RequestOk::CustomEvent { sequence_num } => Ok(sequence_num),
            RequestOk::DisplayName => Ok(0),
        }
    }

    /// Changes the display name; resolves when the server confirms it.
    pub async fn set_display_name(&self, name: impl Into<String>) -> Result<(), ClientError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::DisplayName(name.into(), reply))
            .map_err(|_| ClientError::Closed)?;
        answer.await.map_err(|_| ClientError::Closed)??;
        Ok(())
    }

    /// Manual mode: asks for tracks of a participant (all of them when `track_ids` is
    /// empty); the reply comes as [`ClientEvent::SubscriptionReply`].
    pub fn subscribe_tracks(&self, connection_id: &str, track_ids: Vec<String>) {
        let _ = self.commands.send(Command::Subscribe {
            connection_id: connection_id.to_owned(),
            track_ids,
            subscribe: true,
            max_height: None,
        });
    }

    /// [`Self::subscribe_tracks`] for videos drawn at most `max_height` pixels tall: an Oriel
    /// SFU forwards the smallest simulcast layer that fills that height (asking again with
    /// another height moves the layer), saving the link and the decoder the larger ones.
    pub fn subscribe_tracks_fitting(
        &self,
        connection_id: &str,
        track_ids: Vec<String>,
        max_height: u32,
    ) {
        let _ = self.commands.send(Command::Subscribe {
            connection_id: connection_id.to_owned(),
            track_ids,
            subscribe: true,
            max_height: Some(max_height),
        });
    }

    /// Asks the publisher of a received video track for a keyframe (PLI, repeated until one
    /// comes): for a decoder that starts over, as a browser's does after a decoding error.
    pub fn request_keyframe(&self, tid: &str) {
        let _ = self.commands.send(Command::RequestKeyframe(tid.to_owned()));
    }

    pub fn unsubscribe_tracks(&self, connection_id: &str, track_ids: Vec<String>) {
        let _ = self.commands.send(Command::Subscribe {
            connection_id: connection_id.to_owned(),
            track_ids,
            subscribe: false,
            max_height: None,
        });
    }

    /// Leaves: closes the peer connections and the WebSocket, and waits for the task to end.
    pub async fn leave(self) {
        let (ack, done) = oneshot::channel();
        if self.commands.send(Command::Leave(Some(ack))).is_ok() {
            let _ = done.await;
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Leave(None));
    }
}

/// Binds the sockets a session asks for and keeps them for the driver.
struct Binder<'a> {
    ip: IpAddr,
    sockets: &'a mut Vec<(SocketAddr, UdpSocket)>,
}

impl SocketFactory for Binder<'_> {
    fn bind(&mut self) -> std::io::Result<SocketAddr> {
        let socket = std::net::UdpSocket::bind(SocketAddr::new(self.ip, 0))?;
        kernel_receive::enable(&socket);
        socket.set_nonblocking(true)?;
        let addr = socket.local_addr()?;
        self.sockets.push((addr, UdpSocket::from_std(socket)?));
        Ok(addr)
    }
}

struct Driver {
    session: Session,
    ws: WebSocketStream<TcpStream>,
    ws_open: bool,
    sockets: Vec<(SocketAddr, UdpSocket)>,
    bind_ip: IpAddr,
    events: mpsc::UnboundedSender<ClientEvent>,
    joined: Option<oneshot::Sender<Result<JoinedInfo, JoinError>>>,
    waiters: HashMap<String, oneshot::Sender<Result<RequestOk, ClientError>>>,
    leave_acks: Vec<oneshot::Sender<()>>,
    counters: Arc<ClientCounters>,
}

/// Resolves with the index of a socket that has a datagram to read.
async fn readable(sockets: &[(SocketAddr, UdpSocket)]) -> usize {
    poll_fn(|cx| {
        for (index, (_, socket)) in sockets.iter().enumerate() {
            if socket.poll_recv_ready(cx).is_ready() {
                return Poll::Ready(index);
            }
        }
        Poll::Pending
    })
    .await
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut receiver = BatchReceiver::default();
        let idle = Duration::from_secs(3600);
        let sleep = tokio::time::sleep(idle);
        tokio::pin!(sleep);
        loop {
            if !self.flush().await {
                break;
            }
            let wake = self
                .session
                .poll_timeout()
                .map_or_else(|| tokio::time::Instant::now() + idle, Into::into);
            sleep.as_mut().reset(wake);
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => self.session.leave(Instant::now()),
                },
                frame = self.ws.next(), if self.ws_open => self.on_frame(frame),
                index = readable(&self.sockets) => self.read_socket(index, &mut receiver),
                () = &mut sleep => self.session.handle_timeout(Instant::now()),
            }
        }
        if self.ws_open {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.ws.close(None)).await;
        }
        if let Some(joined) = self.joined.take() {
            let _ = joined.send(Err(JoinError::ClosedBeforeJoin));
        }
        for (_, waiter) in self.waiters.drain() {
            let _ = waiter.send(Err(ClientError::Closed));
        }
        for ack in self.leave_acks.drain(..) {
            let _ = ack.send(());
        }
    }

    /// Carries out what the session produced; false once the session is over.
    async fn flush(&mut self) -> bool {
        let mut close = false;
        let mut feed = false;
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Signal(text) => {
                    if self.ws_open {
                        if let Err(error) = self.ws.feed(Message::text(text)).await {
                            self.ws_open = false;
                            self.session
                                .handle_close(Instant::now(), None, error.to_string());
                        } else {
                            feed = true;
                        }
                    }
                }
                Output::Transmit {
                    source,
                    destination,
                    contents,
                } => self.transmit(source, destination, &contents).await,
                Output::Event(event) => self.dispatch(event),
                Output::Close => close = true,
            }
        }
        if feed && self.ws_open {
            if let Err(error) = self.ws.flush().await {
                self.ws_open = false;
                self.session
                    .handle_close(Instant::now(), None, error.to_string());
                // Deliver what that produced (the Closed event).
                while let Some(output) = self.session.poll_output() {
                    if let Output::Event(event) = output {
                        self.dispatch(event);
                    }
                }
            }
        }
        !close && self.session.state() != SessionState::Ended
    }

    async fn transmit(&mut self, source: SocketAddr, destination: SocketAddr, contents: &[u8]) {
        let Some((_, socket)) = self.sockets.iter().find(|(addr, _)| *addr == source) else {
            return;
        };
        let sent = match socket.try_send_to(contents, destination) {
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                socket.send_to(contents, destination).await
            }
            other => other,
        };
        match sent {
            Ok(_) => self.counters.add(&self.counters.datagrams_sent, 1),
            Err(_) => self.counters.add(&self.counters.send_errors, 1),
        }
    }

    fn dispatch(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Joined(info) => {
                if let Some(joined) = self.joined.take() {
                    let _ = joined.send(Ok(*info));
                }
            }
            ClientEvent::JoinFailed(error) => {
                if let Some(joined) = self.joined.take() {
                    let _ = joined.send(Err(error));
                }
            }
            ClientEvent::RequestDone { request_id, result } => {
                match self.waiters.remove(&request_id) {
                    Some(waiter) => {
                        let _ = waiter.send(result);
                    }
                    None => {
                        let _ = self
                            .events
                            .send(ClientEvent::RequestDone { request_id, result });
                    }
                }
            }
            event => {
                let _ = self.events.send(event);
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        let now = Instant::now();
        let mut binder = Binder {
            ip: self.bind_ip,
            sockets: &mut self.sockets,
        };
        match command {
            Command::Publish(options, reply) => {
                let _ = reply.send(self.session.publish(now, &options, &mut binder));
            }
            Command::CustomEvent(payload, reply) => {
                match self.session.publish_custom_event(now, payload) {
                    Ok(id) => {
                        self.waiters.insert(id, reply);
                    }
                    Err(error) => {
                        let _ = reply.send(Err(error));
                    }
                }
            }
            Command::DisplayName(name, reply) => match self.session.set_display_name(now, name) {
                Ok(id) => {
                    self.waiters.insert(id, reply);
                }
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
            },
            Command::Subscribe {
                connection_id,
                track_ids,
                subscribe,
                max_height,
            } => {
                let _ =
                    self.session
                        .subscribe_tracks(connection_id, track_ids, subscribe, max_height);
            }
            Command::RequestKeyframe(tid) => self.session.request_keyframe(&tid),
            Command::Leave(ack) => {
                self.session.leave(now);
                if let Some(ack) = ack {
                    self.leave_acks.push(ack);
                }
            }
        }
    }

    fn on_frame(&mut self, frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) {
        let now = Instant::now();
        match frame {
            Some(Ok(Message::Text(text))) => {
                let mut binder = Binder {
                    ip: self.bind_ip,
                    sockets: &mut self.sockets,
                };
                self.session.handle_signal(now, text.as_str(), &mut binder);
            }
            Some(Ok(Message::Close(frame))) => {
                // tungstenite answers the close itself; the socket is done for us.
                self.ws_open = false;
                let (code, reason) = match frame {
                    Some(frame) => (Some(u16::from(frame.code)), frame.reason.to_string()),
                    None => (None, String::new()),
                };
                self.session.handle_close(now, code, reason);
            }
            Some(Ok(_)) => {} // pings are answered by tungstenite; binary frames are not ours
            Some(Err(error)) => {
                self.ws_open = false;
                self.session.handle_close(now, None, error.to_string());
            }
            None => {
                self.ws_open = false;
                self.session
                    .handle_close(now, None, "connection closed".into());
            }
        }
    }

    fn read_socket(&mut self, index: usize, receiver: &mut BatchReceiver) {
        let Some((local, _)) = self.sockets.get(index) else {
            return;
        };
        let local = *local;
        let mut read = 0;
        while read < RECV_BATCH {
            let more = receiver.try_recv(&self.sockets[index].1);
            let now = Instant::now();
            for (datagram, contents) in receiver.datagrams() {
                read += 1;
                self.session.handle_datagram_arrived(
                    now,
                    datagram.kernel_time.unwrap_or(now),
                    datagram.source,
                    local,
                    contents,
                );
            }
            match more {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    // ICMP port unreachable and the like: nothing to read now.
                    tracing::debug!(%error, %local, "receive failed");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_sdks_join_url() {
        assert_eq!(
            join_url(
                "ws://127.0.0.1:8080/pluto/",
                "a.b+c",
                SDK_VERSION,
                16,
                Some("Ana María")
            ),
            "ws://127.0.0.1:8080/pluto/v1?token=a.b%2Bc&sdk_version=oriel-rust-0.1&managed_subscriptions=16&display_name=Ana+Mar%C3%ADa"
        );
        assert_eq!(
            join_url("ws://h/pluto", "t", "x", 0, Some("")),
            "ws://h/pluto/v1?token=t&sdk_version=x&managed_subscriptions=0"
        );
    }
}
