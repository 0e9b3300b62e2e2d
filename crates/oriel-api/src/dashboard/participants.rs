//! `GET /dashboard/api/environments/{id}/spaces/{space_id}/participants`: the space (as the
//! REST API shows it) and who is connected to it now, asked of the media worker that holds it;
//! in a cluster, a space held by another node shows what that node last published.

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use oriel_net::SpaceSnapshot;
use oriel_proto::{ParticipantRole, TrackKind, TrackSource};
use serde_json::{json, Value};

use super::session::SignedIn;
use super::{environment, DashPath};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views::SpaceView;

/// A worker answers within microseconds; a stopped one never does.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/dashboard/api/environments/{environment_id}/spaces/{space_id}/participants",
        get(participants),
    )
}

async fn participants(
    State(state): State<AppState>,
    _session: SignedIn,
    DashPath((environment_id, space_id)): DashPath<(String, String)>,
) -> ApiResult<Json<Value>> {
    let environment = environment(&state, &environment_id).await?;
    let space = state
        .store
        .space(&environment.id, &space_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Space"))?;
    let snapshot = tokio::time::timeout(SNAPSHOT_TIMEOUT, state.media.snapshot(&space.id))
        .await
        .map_err(|_| ApiError::internal("the media worker did not answer a snapshot"))?
        .unwrap_or_default();
    // In a cluster, the node holding the space knows all of it (its shards on other nodes
    // answer it); another node may have some of its media only, and reads what the holder
    // published.
    let holds_here = state.presence.space_ids().await.contains(&space.id);
    let participants = match &state.cluster {
        Some(cluster) if !holds_here => crate::cluster::remote_participants(cluster, &space.id)
            .await
            .unwrap_or_default(),
        _ => view(&snapshot),
    };
    Ok(Json(json!({
        "data": {
            "space": SpaceView::from(space),
            "participants": participants,
        }
    })))
}

pub fn view(snapshot: &SpaceSnapshot) -> Vec<Value> {
    snapshot
        .participants
        .iter()
        .map(|p| {
            json!({
                "connection_id": p.connection_id,
                "participant_id": p.participant_id,
                "display_name": p.display_name,
                "role": match p.role {
                    ParticipantRole::Publisher => "publisher",
                    ParticipantRole::Subscriber => "subscriber",
                },
                "state": p.state.as_str(),
                "connected_seconds": p.connected_for.as_secs(),
                "tracks": p.tracks.iter().map(|t| json!({
                    "id": t.tid,
                    "kind": match t.kind { TrackKind::Audio => "audio", TrackKind::Video => "video" },
                    "source": source(t.source),
                    "name": t.name,
                    "muted": t.muted,
                    "width": t.width,
                    "height": t.height,
                    "simulcast": t.simulcast,
                    "layer_bitrates_bps": t.layer_bitrates_bps,
                    "subscribers": t.subscribers,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn source(source: TrackSource) -> &'static str {
    match source {
        TrackSource::Camera => "camera",
        TrackSource::Microphone => "microphone",
        TrackSource::Screenshare => "screenshare",
        TrackSource::Screenshareaudio => "screenshare_audio",
        TrackSource::Other => "other",
    }
}
