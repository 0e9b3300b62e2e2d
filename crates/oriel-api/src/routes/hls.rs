//! HLS playback of live streams: `GET /hls/{PLAYBACK_ID}.m3u8` and its segments under
//! `/hls/{PLAYBACK_ID}/`. While a broadcast runs the playlist is live and grows; once the
//! recording ended (the compositor wrote `#EXT-X-ENDLIST`) or the live stream was completed, the
//! same URL plays the whole recording as VOD. Any origin may play it (hls.js from another site,
//! Safari); playlists are never cached for long while live, segments never change.
//!
//! A signed playback id plays only with `?token=`: an RS256 JWT from one of the live stream's
//! environment's signing keys with `sub` the playback id and `aud` `"v"`, as Mux took it (and as
//! `@mux/mux-node`'s `jwt.signPlaybackId` makes it). The playlist then lists its segments with
//! the same token, so players need nothing more; shared caches keep none of it.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use oriel_jointoken::PublicSigningKey;
use oriel_store::LiveStream;
use serde::Deserialize;

use crate::clock::unix_now;
use crate::error::{ApiError, ApiResult};
use crate::recordings::is_segment_name;
use crate::state::AppState;

/// `?token=` of a signed playback id.
#[derive(Deserialize)]
struct Access {
    token: Option<String>,
}

/// How a playback id may be played.
enum Playback {
    Public,
    /// Signed, and this token was accepted for it.
    Signed(String),
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hls/{playlist}", get(playlist))
        .route("/hls/{playback_id}/{segment}", get(segment))
}

/// The live stream a playback id plays (public, or signed with a token that lets this request
/// play it), and its current recording's directory.
async fn recording_of(
    state: &AppState,
    playback_id: &str,
    token: Option<String>,
) -> ApiResult<(LiveStream, Playback, std::path::PathBuf)> {
    let (stream, playback) = state
        .store
        .live_stream_by_playback_id(playback_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Playback ID"))?;
    let access = match playback.policy.as_str() {
        "public" => Playback::Public,
        _ => {
            let token = token.ok_or_else(|| {
                ApiError::forbidden("this playback id is signed: play it with ?token=")
            })?;
            authorize(state, &stream, playback_id, &token).await?;
            Playback::Signed(token)
        }
    };
    let dir = state
        .recordings
        .current(&stream.id)
        .ok_or_else(|| ApiError::not_found("Recording"))?;
    Ok((stream, access, dir))
}

/// Checks a signed playback token against the live stream's environment's signing keys.
async fn authorize(
    state: &AppState,
    stream: &LiveStream,
    playback_id: &str,
    token: &str,
) -> ApiResult<()> {
    if token.len() > oriel_jointoken::MAX_TOKEN_LEN {
        return Err(ApiError::forbidden("playback token is too long"));
    }
    let refused = |e: &dyn std::fmt::Display| ApiError::forbidden(e.to_string());
    let key_id = oriel_jointoken::key_id(token)
        .map_err(|e| refused(&oriel_jointoken::PlaybackTokenError::from(e)))?;
    let key = state
        .store
        .signing_key_by_id(&key_id)
        .await?
        .filter(|key| key.environment_id == stream.environment_id)
        .ok_or_else(|| {
            ApiError::forbidden("playback token is signed with an unknown signing key")
        })?;
    let public_key = PublicSigningKey {
        id: &key.id,
        public_key_pem: &key.public_key_pem,
    };
    let now = u64::try_from(unix_now()).unwrap_or(0);
    oriel_jointoken::verify_playback(token, &public_key, playback_id, now)
        .map(|_| ())
        .map_err(|e| refused(&e))
}

async fn playlist(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(access): Query<Access>,
) -> ApiResult<Response> {
    let playback_id = name
        .strip_suffix(".m3u8")
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or_else(|| ApiError::not_found("Playlist"))?;
    let (stream, access, dir) = recording_of(&state, playback_id, access.token).await?;
    let text = tokio::fs::read_to_string(dir.join("index.m3u8"))
        .await
        .map_err(|_| ApiError::not_found("Playlist"))?;
    let finished = stream.completed_at.is_some() || text.contains("#EXT-X-ENDLIST");
    let token = match &access {
        Playback::Public => None,
        Playback::Signed(token) => Some(token.as_str()),
    };
    let body = rewrite(&text, playback_id, token, finished);
    let cache = if token.is_some() {
        // Only the token's holder may play it: no shared cache keeps it.
        "private, no-cache, max-age=1"
    } else if finished {
        "public, max-age=60"
    } else {
        // A live playlist changes every segment: players re-read it, caches must not hold it.
        "no-cache, max-age=1"
    };
    Ok(hls_response(
        body.into(),
        "application/vnd.apple.mpegurl",
        cache,
    ))
}

/// Points segment URIs at `/hls/{PLAYBACK_ID}/...` (with `?token=` for a signed playback id),
/// and marks a finished recording as VOD.
fn rewrite(playlist: &str, playback_id: &str, token: Option<&str>, finished: bool) -> String {
    let mut out = String::with_capacity(playlist.len() + 64 * 8);
    for line in playlist.lines() {
        let line = line.trim_end();
        if line.starts_with("#EXT-X-PLAYLIST-TYPE") || line == "#EXT-X-ENDLIST" {
            continue;
        }
        if !line.is_empty() && !line.starts_with('#') {
            let file = line.rsplit('/').next().unwrap_or(line);
            out.push_str(playback_id);
            out.push('/');
            out.push_str(file);
            if let Some(token) = token {
                // A JWT is base64url and dots: nothing in it needs escaping in a query.
                out.push_str("?token=");
                out.push_str(token);
            }
        } else {
            out.push_str(line);
        }
        out.push('\n');
        if finished && line == "#EXTM3U" {
            out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
        }
    }
    if finished {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

async fn segment(
    State(state): State<AppState>,
    Path((playback_id, segment)): Path<(String, String)>,
    Query(access): Query<Access>,
) -> ApiResult<Response> {
    if !is_segment_name(&segment) {
        return Err(ApiError::not_found("Segment"));
    }
    let (_, access, dir) = recording_of(&state, &playback_id, access.token).await?;
    let cache = match access {
        Playback::Public => "public, max-age=31536000, immutable",
        Playback::Signed(_) => "private, max-age=31536000, immutable",
    };
    let bytes = tokio::fs::read(dir.join(&segment))
        .await
        .map_err(|_| ApiError::not_found("Segment"))?;
    Ok(hls_response(Body::from(bytes), "video/mp2t", cache))
}

fn hls_response(body: Body, content_type: &'static str, cache: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:2\n\n#EXTINF:2.0,\nsegment00000.ts\n#EXTINF:2.0,\nsegment00001.ts\n";

    #[test]
    fn segments_point_under_the_playback_id_and_finished_ones_are_vod() {
        let live = rewrite(LIVE, "PID", None, false);
        assert!(
            live.contains("\nPID/segment00000.ts\n") && live.contains("\nPID/segment00001.ts\n")
        );
        assert!(!live.contains("ENDLIST") && !live.contains("VOD"));
        let vod = rewrite(&format!("{LIVE}#EXT-X-ENDLIST\n"), "PID", None, true);
        assert!(vod.starts_with("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n"));
        assert!(vod.ends_with("PID/segment00001.ts\n#EXT-X-ENDLIST\n"));
        assert_eq!(vod.matches("ENDLIST").count(), 1);
    }

    #[test]
    fn a_signed_playlist_lists_its_segments_with_the_token() {
        let live = rewrite(LIVE, "PID", Some("a.b.c"), false);
        assert!(live.contains("\nPID/segment00000.ts?token=a.b.c\n"));
        assert!(live.contains("\nPID/segment00001.ts?token=a.b.c\n"));
    }
}
