//! One WebSocket connection: authenticate, admit, then relay between the browser and the
//! media worker that holds the space, until either side ends it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use oriel_jointoken::Role;
use oriel_net::{ConnectionKey, JoinRequest, MediaTarget, Outgoing, PreparedPeers};
use oriel_proto::{
    ClientMessage, ErrorType, IceServer, ParticipantRole, ServerMessage, SignalError,
    MAX_DISPLAY_NAME_CHARS,
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::presence::{Admission, Membership, PresenceRefusal};
use super::upgrade::{discard_until_closed, Socket, Upgrade};
use crate::client_address::ClientAddress;
use crate::clock::unix_now;
use crate::cluster::relay::{self, Destination};
use crate::cluster::Cluster;
use crate::join::{authorize_join, JoinRefusal};
use crate::state::AppState;

/// Close code after which the SDK does not reconnect.
const CLOSE_AFTER_ERROR: u16 = 4000;
/// "Going away" (RFC 6455): the node shuts down; the SDK reconnects elsewhere or later.
const CLOSE_GOING_AWAY: u16 = 1001;
/// RFC 6455 close codes for a broken or oversized frame.
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_TOO_BIG: u16 = 1009;
/// Largest frame accepted from a client; signaling messages are small, SDP a few KiB.
const MAX_FRAME_BYTES: usize = 256 * 1024;
/// Read buffer of a signaling socket. tungstenite zero-fills this much on every read attempt
/// (one per wake-up of the connection's task, whatever woke it): its 128 KiB default made
/// that memset 2 % of a busy node's CPU. Larger frames still arrive; the buffer grows for them.
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// How long a socket we close waits for the client's close reply.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(2);
/// `managed_subscriptions` when the URL has none: the SDK's default.
const DEFAULT_MANAGED_SUBSCRIPTIONS: u8 = 16;
/// Liveness: a ping this often, and the connection is dropped after this long in silence.
const PING_INTERVAL: Duration = Duration::from_secs(15);
const SILENCE_LIMIT: Duration = Duration::from_secs(45);
/// A client sending more frames than this per second is broken or hostile.
const MAX_FRAMES_PER_SECOND: u32 = 200;

pub fn router() -> Router<AppState> {
    Router::new().route("/pluto/v1", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
    ClientAddress(client): ClientAddress,
    upgrade: Upgrade,
) -> Response {
    let config = WebSocketConfig::default()
        .max_frame_size(Some(MAX_FRAME_BYTES))
        .max_message_size(Some(MAX_FRAME_BYTES))
        .read_buffer_size(READ_BUFFER_BYTES);
    if let Some(cluster) = state.cluster.clone() {
        match cluster_destination(&state, &cluster, &query, &uri, &headers, client).await {
            Destination::Here => {}
            Destination::Relayed {
                upstream,
                early,
                node_id,
            } => {
                tracing::debug!(%node_id, "relaying a join to the node holding its space");
                let shutting_down = state.shutting_down.clone();
                return upgrade.on_upgrade_raw(move |client| {
                    relay::splice(client, upstream, early, shutting_down)
                });
            }
            Destination::Retry => {
                // Not 4000: the SDK reconnects, and finds the space placed by then.
                return upgrade.on_upgrade(config, |mut socket| async move {
                    let _ = close_with(
                        &mut socket,
                        CLOSE_GOING_AWAY,
                        "the space is moving to another node",
                    )
                    .await;
                });
            }
        }
    }
    upgrade.on_upgrade(config, move |socket| serve(state, query, socket))
}

/// In a cluster: where a join is served (see [`relay::destination`]). A join whose token is
/// not valid is served here, which refuses it as a lone node does.
async fn cluster_destination(
    state: &AppState,
    cluster: &Cluster,
    query: &HashMap<String, String>,
    uri: &Uri,
    headers: &HeaderMap,
    client: Option<std::net::IpAddr>,
) -> Destination {
    let token = query.get("token").map(String::as_str).unwrap_or_default();
    let Ok(authorized) = authorize_join(state.store.as_ref(), token).await else {
        return Destination::Here;
    };
    let path_and_query = uri
        .path_and_query()
        .map_or("/pluto/v1", |path_and_query| path_and_query.as_str());
    relay::destination(
        cluster,
        &authorized.grant.space_id,
        cluster.is_relayed(headers),
        path_and_query,
        headers,
        client,
    )
    .await
}

async fn serve(state: AppState, query: HashMap<String, String>, mut socket: Socket) {
    let opened = Instant::now();
    let token = query.get("token").map(String::as_str).unwrap_or_default();
    // The SDK sends nothing on open: it waits for `joined` or `error`.
    let authorized = match authorize_join(state.store.as_ref(), token).await {
        Ok(authorized) => authorized,
        Err(JoinRefusal::Token(refusal)) => {
            tracing::info!(%refusal, "join refused");
            return refuse(&state, socket, ErrorType::InvalidJwt, refusal.message()).await;
        }
        Err(JoinRefusal::Store(error)) => {
            tracing::error!(%error, "join could not be checked");
            return refuse(
                &state,
                socket,
                ErrorType::Unknown,
                "the server could not check the join token",
            )
            .await;
        }
    };
    let grant = authorized.grant;
    let admission = Admission {
        space_id: &grant.space_id,
        participant_id: grant.participant_id.as_deref(),
        reconnect_id: query
            .get("reconnect_id")
            .map(String::as_str)
            .filter(|id| !id.is_empty()),
        token_digest: Sha256::digest(token.as_bytes()).into(),
        hidden: grant.hidden,
    };
    let membership = match state.presence.join(admission).await {
        Ok(membership) => membership,
        Err(PresenceRefusal::DuplicateParticipant) => {
            tracing::info!(space_id = %grant.space_id, "join refused: duplicate participant");
            return refuse(
                &state,
                socket,
                ErrorType::DuplicateParticipantRejected,
                "a participant with this participant_id is already connected to the space",
            )
            .await;
        }
        Err(PresenceRefusal::SpaceIdle) => {
            tracing::info!(space_id = %grant.space_id, "hidden join refused: nobody in the space");
            return refuse(
                &state,
                socket,
                ErrorType::InvalidJwt,
                "a hidden participant joins only a space someone is in",
            )
            .await;
        }
        Err(PresenceRefusal::SpaceGone) => {
            tracing::info!(space_id = %grant.space_id, "join refused: space deleted");
            return refuse(
                &state,
                socket,
                ErrorType::InvalidJwt,
                "the space of this join token no longer exists",
            )
            .await;
        }
        Err(PresenceRefusal::Store(error)) => {
            tracing::error!(%error, "join could not be recorded");
            return refuse(
                &state,
                socket,
                ErrorType::Unknown,
                "the server could not admit the participant",
            )
            .await;
        }
    };
    let display_name: String = query
        .get("display_name")
        .map(|name| name.chars().take(MAX_DISPLAY_NAME_CHARS).collect())
        .unwrap_or_default();
    let managed_subscriptions = query
        .get("managed_subscriptions")
        .and_then(|n| n.parse::<u8>().ok())
        .map_or(DEFAULT_MANAGED_SUBSCRIPTIONS, |n| n.min(20));
    let broadcasting = match state.store.broadcasts_of_space(&membership.space_id).await {
        Ok(broadcasts) => broadcasts.iter().any(|b| b.active),
        Err(error) => {
            // Not worth refusing a join for: the worker keeps what it knows.
            tracing::warn!(%error, "broadcast state could not be read at a join");
            false
        }
    };
    let connection = state.media.next_connection_key();
    let request = JoinRequest {
        connection,
        connection_id: membership.connection_id.clone(),
        participant_id: membership.participant_id.clone(),
        session_id: membership.session_id.clone(),
        role: match grant.role {
            Role::Publisher => ParticipantRole::Publisher,
            Role::Subscriber => ParticipantRole::Subscriber,
        },
        display_name,
        managed_subscriptions,
        hidden: membership.hidden,
        ice_servers: turn_servers(&state, &membership.connection_id),
    };
    tracing::info!(
        space_id = %membership.space_id,
        participant_id = %membership.participant_id,
        connection_id = %membership.connection_id,
        role = grant.role.as_str(),
        "participant joined"
    );
    match start_media(&state, &membership, request, broadcasting).await {
        Some(mut media) => {
            relay(
                &state,
                &mut socket,
                &mut media,
                connection,
                &membership,
                opened,
            )
            .await;
            media.worker.leave(&membership.space_id, connection);
            state.media.release(
                &membership.space_id,
                &membership.participant_id,
                media.worker.shard(),
            );
        }
        None => {
            let _ = close(
                &mut socket,
                ErrorType::Unknown,
                "the media worker of this space is not running",
            )
            .await;
        }
    }
    state.presence.leave(&membership).await;
    tracing::info!(
        space_id = %membership.space_id,
        connection_id = %membership.connection_id,
        "participant left"
    );
}

/// Tries to place a participant's media on another node before it is placed here instead.
const REMOTE_PLACEMENT_TRIES: u32 = 3;
/// How long a worker on another node may take to answer a join (its `joined`).
const REMOTE_JOIN_WAIT: Duration = Duration::from_secs(10);

/// A participant's media as its signaling task drives it.
struct MediaSession {
    worker: MediaTarget,
    /// What the worker says to the participant.
    outbox: mpsc::UnboundedReceiver<Outgoing>,
    /// Said already, and not yet passed on: a worker on another node's `joined`.
    first: Option<Outgoing>,
}

/// Places the participant's media and joins it there: the worker, its outbox and, for a worker
/// on another node, the first thing it said (its `joined`). A node that turns the join away
/// or cannot be reached before answering (it is draining or gone, and the registry does not
/// say so yet) is passed over and the join placed again, unseen by the SDK, which would give
/// up on a reconnection closed before `joined`. `None` when no worker runs.
async fn start_media(
    state: &AppState,
    membership: &Membership,
    request: JoinRequest,
    broadcasting: bool,
) -> Option<MediaSession> {
    let mut tries = 0;
    loop {
        tries += 1;
        let worker = state
            .media
            .place(&membership.space_id, &membership.participant_id);
        let (outbox_sender, mut outbox) = mpsc::unbounded_channel();
        // The connections' DTLS and ICE setup (about a millisecond each) happens here, on a
        // blocking thread, not on the media worker that forwards everyone's packets (a worker
        // on another node has its own node build them).
        let peers = match worker.candidates() {
            Some(candidates) => {
                let publishes = request.role == ParticipantRole::Publisher;
                tokio::task::spawn_blocking(move || {
                    Box::new(PreparedPeers::build(
                        &candidates,
                        publishes,
                        std::time::Instant::now(),
                    ))
                })
                .await
                .ok()
            }
            None => None,
        };
        let remote = worker.candidates().is_none();
        let joined = worker.join(
            &membership.space_id,
            request.clone(),
            outbox_sender,
            broadcasting,
            peers,
        );
        if joined && !remote {
            return Some(MediaSession {
                worker,
                outbox,
                first: None,
            });
        }
        if !joined && remote {
            state.media.avoid_node_of(worker.shard());
        }
        if joined {
            match tokio::time::timeout(REMOTE_JOIN_WAIT, outbox.recv()).await {
                Ok(Some(first)) => {
                    return Some(MediaSession {
                        worker,
                        outbox,
                        first: Some(first),
                    })
                }
                Ok(None) | Err(_) => {
                    tracing::info!(space_id = %membership.space_id, shard = worker.shard(), "another node did not take a join; placing it again");
                    worker.leave(&membership.space_id, request.connection);
                    state.media.avoid_node_of(worker.shard());
                }
            }
        }
        state.media.release(
            &membership.space_id,
            &membership.participant_id,
            worker.shard(),
        );
        if !remote || tries >= REMOTE_PLACEMENT_TRIES {
            return None;
        }
    }
}

/// `joined.ice_servers`: the node's TURN servers with credentials for this connection.
/// Never an outside STUN server: an empty list keeps the Mux SDK from falling back to one.
fn turn_servers(state: &AppState, connection_id: &str) -> Vec<IceServer> {
    let now = u64::try_from(unix_now()).unwrap_or(0);
    state
        .turn
        .as_ref()
        .and_then(|offer| offer.grant(connection_id, now))
        .map(|grant| IceServer {
            urls: grant.urls,
            username: grant.username,
            credential: grant.credential,
            credential_type: "password".to_owned(),
        })
        .into_iter()
        .collect()
}

/// Moves frames both ways until the browser leaves, the worker ends the connection, a
/// reconnection replaces it, or the node shuts down.
async fn relay(
    state: &AppState,
    socket: &mut Socket,
    media: &mut MediaSession,
    connection: ConnectionKey,
    membership: &Membership,
    opened: Instant,
) {
    let MediaSession {
        worker,
        outbox,
        first,
    } = media;
    let mut shutting_down = state.shutting_down.clone();
    // The join is timed from the socket's open to `joined` sent, the first signal.
    let mut joined_at_first_signal = true;
    let mut ping = tokio::time::interval(PING_INTERVAL);
    let mut last_heard = Instant::now();
    let mut window_start = Instant::now();
    let mut frames_in_window = 0u32;
    loop {
        tokio::select! {
            frame = socket.next() => {
                let frame = match frame {
                    Some(Ok(frame)) => frame,
                    // Gone, or the connection itself broke: nobody to tell.
                    Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_))) | None => return,
                    Some(Err(error)) => {
                        // Oversized frames are the common case: say so with 1009, as RFC 6455 asks.
                        let (code, reason) = match error {
                            WsError::Capacity(_) => (CLOSE_TOO_BIG, "message too big"),
                            _ => (CLOSE_PROTOCOL_ERROR, "protocol error"),
                        };
                        tracing::debug!(%error, "signaling socket failed");
                        close_unparseable(socket, code, reason).await;
                        return;
                    }
                };
                last_heard = Instant::now();
                if last_heard.duration_since(window_start) >= Duration::from_secs(1) {
                    window_start = last_heard;
                    frames_in_window = 0;
                }
                frames_in_window += 1;
                if frames_in_window > MAX_FRAMES_PER_SECOND {
                    let _ = close(socket, ErrorType::Unknown, "too many messages; connection closed").await;
                    return;
                }
                match frame {
                    Message::Text(text) => match ClientMessage::parse(text.as_str()) {
                        Ok(message) => {
                            worker.message(&membership.space_id, connection, text.as_str(), message);
                        }
                        Err(error) => {
                            tracing::debug!(%error, "malformed signaling frame");
                            let reply = ServerMessage::Error(SignalError::Connection {
                                error_type: ErrorType::Unknown,
                                message: error.to_string(),
                                fatal: false,
                            });
                            if send(socket, &reply).await.is_err() { return; }
                        }
                    },
                    Message::Binary(_) => {
                        let reply = ServerMessage::Error(SignalError::Connection {
                            error_type: ErrorType::Unknown,
                            message: "binary frames are not part of the protocol; send JSON text".into(),
                            fatal: false,
                        });
                        if send(socket, &reply).await.is_err() { return; }
                    }
                    Message::Close(_) => {
                        // Flushes the close reply tungstenite queued, completing the handshake.
                        let _ = SinkExt::close(socket).await;
                        return;
                    }
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                }
            }
            outgoing = async { match first.take() { Some(first) => Some(first), None => outbox.recv().await } } => match outgoing {
                Some(Outgoing::Signal(message)) => {
                    if std::mem::take(&mut joined_at_first_signal) {
                        state.metrics.join_answered(true, opened.elapsed());
                    }
                    if send(socket, &message).await.is_err() { return; }
                }
                Some(Outgoing::Close(message)) => {
                    let _ = send(socket, &message).await;
                    let _ = close_with(socket, CLOSE_AFTER_ERROR, "closed by the server").await;
                    return;
                }
                // From a worker on another node: the same, already JSON.
                Some(Outgoing::SignalText(json)) => {
                    if std::mem::take(&mut joined_at_first_signal) {
                        state.metrics.join_answered(true, opened.elapsed());
                    }
                    if socket.send(Message::text(json)).await.is_err() { return; }
                }
                Some(Outgoing::CloseText(json)) => {
                    let _ = socket.send(Message::text(json)).await;
                    let _ = close_with(socket, CLOSE_AFTER_ERROR, "closed by the server").await;
                    return;
                }
                // The worker let the participant go without a word: its node (another one, for a
                // space spanning nodes) is gone or draining. The SDK reconnects after 1001.
                None => {
                    let _ = close_with(socket, CLOSE_GOING_AWAY, "the media node went away").await;
                    return;
                }
            },
            () = membership.moved.notified() => {
                let _ = close_with(socket, CLOSE_GOING_AWAY, "the space moved to another node").await;
                return;
            }
            () = membership.kicked.notified() => {
                let _ = close(socket, ErrorType::Disconnected, "replaced by a reconnection of the same participant").await;
                return;
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    tracing::info!(connection_id = %membership.connection_id, "connection silent; dropping it");
                    return;
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() { return; }
            }
            _ = async { shutting_down.wait_for(|down| *down).await.map(|_| ()) } => {
                let _ = close_with(socket, CLOSE_GOING_AWAY, "server shutting down").await;
                return;
            }
        }
    }
}

async fn send(socket: &mut Socket, message: &ServerMessage) -> Result<(), WsError> {
    socket.send(Message::text(message.to_json())).await
}

/// Closes a socket whose incoming frames can no longer be parsed (an oversized or broken
/// frame): our close frame, then the rest of the client's bytes read and dropped until it
/// closes too, so that the close frame is not destroyed by a reset.
async fn close_unparseable(socket: &mut Socket, code: u16, reason: &str) {
    if socket.send(close_frame(code, reason)).await.is_ok() {
        discard_until_closed(socket).await;
    }
}

fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    }))
}

/// Sends our close frame, then completes the closing handshake: reads (and drops) what the
/// client still sends until its close reply, for at most [`CLOSE_REPLY_WAIT`]. Dropping the
/// connection at once would be a race: with client frames still unread in our receive buffer
/// the kernel answers with a reset, which can destroy the close frame before the client reads
/// it, and the client sees 1006 instead of our code (and the SDK reconnects when told not to).
async fn close_with(socket: &mut Socket, code: u16, reason: &str) -> Result<(), WsError> {
    socket.send(close_frame(code, reason)).await?;
    let unparseable = tokio::time::timeout(CLOSE_REPLY_WAIT, async {
        loop {
            match socket.next().await {
                Some(Ok(_)) => {}
                Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) | None => {
                    return false
                }
                Some(Err(_)) => return true,
            }
        }
    })
    .await;
    if unparseable == Ok(true) {
        discard_until_closed(socket).await;
    }
    Ok(())
}

/// Sends a fatal `error`, then closes with 4000 so that the SDK does not retry.
async fn close(socket: &mut Socket, error_type: ErrorType, message: &str) -> Result<(), WsError> {
    let error = ServerMessage::Error(SignalError::Connection {
        error_type,
        message: message.to_owned(),
        fatal: true,
    });
    send(socket, &error).await?;
    close_with(socket, CLOSE_AFTER_ERROR, "closed after an error").await
}

/// Refuses a join: `error` first (a close alone would leave the SDK's `join()` pending).
async fn refuse(state: &AppState, mut socket: Socket, error_type: ErrorType, message: &str) {
    state
        .metrics
        .join_answered(false, std::time::Duration::ZERO);
    let _ = close(&mut socket, error_type, message).await;
}
