//! One WebSocket connection: authenticate, admit, then hold the membership until it closes.

use std::collections::HashMap;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::messages::{self, ErrorType};
use super::presence::PresenceRefusal;
use crate::join::{authorize_join, JoinRefusal};
use crate::state::AppState;

/// Close code after which the SDK does not reconnect.
const CLOSE_AFTER_ERROR: u16 = 4000;
/// Close code for "going away" (RFC 6455): the node shuts down, the client should reconnect.
const CLOSE_GOING_AWAY: u16 = 1001;
/// Largest frame accepted from a client; signaling messages are small, SDP a few KiB.
const MAX_FRAME_BYTES: usize = 256 * 1024;
/// Mux's limit on display names.
const MAX_DISPLAY_NAME_CHARS: usize = 64;

pub fn router() -> Router<AppState> {
    Router::new().route("/pluto/v1", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| serve(state, query, socket))
}

async fn serve(state: AppState, query: HashMap<String, String>, mut socket: WebSocket) {
    let token = query.get("token").map(String::as_str).unwrap_or_default();
    // The SDK sends nothing on open: it waits for `joined` or `error`.
    let authorized = match authorize_join(state.store.as_ref(), token).await {
        Ok(authorized) => authorized,
        Err(JoinRefusal::Token(refusal)) => {
            tracing::info!(%refusal, "join refused");
            return refuse(socket, ErrorType::InvalidJwt, refusal.message()).await;
        }
        Err(JoinRefusal::Store(error)) => {
            tracing::error!(%error, "join could not be checked");
            return refuse(
                socket,
                ErrorType::Unknown,
                "the server could not check the join token",
            )
            .await;
        }
    };
    let display_name: String = query
        .get("display_name")
        .map(|name| name.chars().take(MAX_DISPLAY_NAME_CHARS).collect())
        .unwrap_or_default();
    let grant = authorized.grant;
    let membership = match state
        .presence
        .join(
            &grant.space_id,
            grant.participant_id.clone(),
            grant.role,
            display_name.clone(),
        )
        .await
    {
        Ok(membership) => membership,
        Err(PresenceRefusal::DuplicateParticipant) => {
            return refuse(
                socket,
                ErrorType::DuplicateParticipantRejected,
                "a participant with this participant_id is already connected to the space",
            )
            .await;
        }
        Err(PresenceRefusal::SpaceGone) => {
            return refuse(
                socket,
                ErrorType::InvalidJwt,
                "the space of this join token no longer exists",
            )
            .await;
        }
        Err(PresenceRefusal::Store(error)) => {
            tracing::error!(%error, "join could not be recorded");
            return refuse(
                socket,
                ErrorType::Unknown,
                "the server could not admit the participant",
            )
            .await;
        }
    };
    tracing::info!(
        space_id = %membership.space_id,
        participant_id = %membership.participant_id,
        connection_id = %membership.connection_id,
        role = grant.role.as_str(),
        "participant joined"
    );
    let joined = messages::joined(
        &membership.session_id,
        &membership.connection_id,
        &membership.participant_id,
        &display_name,
        &membership.others,
    );
    if socket.send(Message::Text(joined.into())).await.is_ok() {
        hold(&state, &mut socket).await;
    }
    state.presence.leave(&membership).await;
    tracing::info!(
        space_id = %membership.space_id,
        connection_id = %membership.connection_id,
        "participant left"
    );
}

/// Keeps the connection until the client closes it or the node shuts down.
async fn hold(state: &AppState, socket: &mut WebSocket) {
    let mut shutting_down = state.shutting_down.clone();
    loop {
        tokio::select! {
            frame = socket.recv() => match frame {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                // Messages of the media protocol arrive with the SFU; ignore them until then.
                Some(Ok(_)) => {}
            },
            _ = async { shutting_down.wait_for(|down| *down).await.map(|_| ()) } => {
                let _ = socket
                    .send(Message::Close(Some(CloseFrame {
                        code: CLOSE_GOING_AWAY,
                        reason: "server shutting down".into(),
                    })))
                    .await;
                return;
            }
        }
    }
}

/// Sends an `error` frame, then closes with 4000 so that the SDK rejects `join()` for good.
async fn refuse(mut socket: WebSocket, error_type: ErrorType, message: &str) {
    let _ = socket
        .send(Message::Text(messages::error(error_type, message).into()))
        .await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: CLOSE_AFTER_ERROR,
            reason: "join refused".into(),
        })))
        .await;
}
