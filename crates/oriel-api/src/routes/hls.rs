//! HLS playback of live streams: `GET /hls/{PLAYBACK_ID}.m3u8` and its segments under
//! `/hls/{PLAYBACK_ID}/`. While a broadcast runs the playlist is live and grows; once the
//! recording ended (the compositor wrote `#EXT-X-ENDLIST`) or the live stream was completed, the
//! same URL plays the whole recording as VOD. Any origin may play it (hls.js from another site,
//! Safari); playlists are never cached for long while live, segments never change.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use oriel_store::LiveStream;

use crate::error::{ApiError, ApiResult};
use crate::recordings::is_segment_name;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hls/{playlist}", get(playlist))
        .route("/hls/{playback_id}/{segment}", get(segment))
}

/// The live stream a public playback id plays, and its current recording's directory.
async fn recording_of(
    state: &AppState,
    playback_id: &str,
) -> ApiResult<(LiveStream, std::path::PathBuf)> {
    let (stream, playback) = state
        .store
        .live_stream_by_playback_id(playback_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Playback ID"))?;
    if playback.policy != "public" {
        return Err(ApiError::forbidden(
            "this playback id is signed; only public playback ids play here",
        ));
    }
    let dir = state
        .recordings
        .current(&stream.id)
        .ok_or_else(|| ApiError::not_found("Recording"))?;
    Ok((stream, dir))
}

async fn playlist(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    let playback_id = name
        .strip_suffix(".m3u8")
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or_else(|| ApiError::not_found("Playlist"))?;
    let (stream, dir) = recording_of(&state, playback_id).await?;
    let text = tokio::fs::read_to_string(dir.join("index.m3u8"))
        .await
        .map_err(|_| ApiError::not_found("Playlist"))?;
    let finished = stream.completed_at.is_some() || text.contains("#EXT-X-ENDLIST");
    let body = rewrite(&text, playback_id, finished);
    let cache = if finished {
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

/// Points segment URIs at `/hls/{PLAYBACK_ID}/...`, and marks a finished recording as VOD.
fn rewrite(playlist: &str, playback_id: &str, finished: bool) -> String {
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
) -> ApiResult<Response> {
    if !is_segment_name(&segment) {
        return Err(ApiError::not_found("Segment"));
    }
    let (_, dir) = recording_of(&state, &playback_id).await?;
    let bytes = tokio::fs::read(dir.join(&segment))
        .await
        .map_err(|_| ApiError::not_found("Segment"))?;
    Ok(hls_response(
        Body::from(bytes),
        "video/mp2t",
        "public, max-age=31536000, immutable",
    ))
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
        let live = rewrite(LIVE, "PID", false);
        assert!(
            live.contains("\nPID/segment00000.ts\n") && live.contains("\nPID/segment00001.ts\n")
        );
        assert!(!live.contains("ENDLIST") && !live.contains("VOD"));
        let vod = rewrite(&format!("{LIVE}#EXT-X-ENDLIST\n"), "PID", true);
        assert!(vod.starts_with("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n"));
        assert!(vod.ends_with("PID/segment00001.ts\n#EXT-X-ENDLIST\n"));
        assert_eq!(vod.matches("ENDLIST").count(), 1);
    }
}
