//! Prometheus metrics at `GET /metrics`, in the text exposition format (prometheus-client).
//!
//! Two kinds: what the API counts as it goes (requests by route template and status, their
//! durations, joins and how long they took, webhook attempts, compositor restarts), kept in
//! [`Metrics`]; and what is read from live state at each scrape (the media workers' published
//! totals, spaces and participants, running compositors). The media threads never touch
//! anything here: each worker publishes its own totals once per wake-up (`oriel-net`).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route template (`/video/v1/spaces/{SPACE_ID}`), never the path: bounded cardinality.
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    version: String,
}

fn seconds_histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// What the API counts as it serves.
#[derive(Debug)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    joins: Family<OutcomeLabels, Counter>,
    join_seconds: Histogram,
    webhook_attempts: Family<OutcomeLabels, Counter>,
    compositor_restarts: Counter,
    /// `--metrics-token`: when set, a scrape needs `Authorization: Bearer TOKEN`.
    token: Option<String>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Metrics {
    pub fn new(token: Option<String>) -> Self {
        Self {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(seconds_histogram),
            joins: Family::default(),
            join_seconds: seconds_histogram(),
            webhook_attempts: Family::default(),
            compositor_restarts: Counter::default(),
            token: token.filter(|t| !t.is_empty()),
        }
    }

    /// A join answered: `joined` after `took` (from the WebSocket's open), or refused.
    pub fn join_answered(&self, joined: bool, took: Duration) {
        let outcome = if joined { "joined" } else { "refused" };
        self.joins
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
        if joined {
            self.join_seconds.observe(took.as_secs_f64());
        }
    }

    /// One webhook delivery attempt ended.
    pub fn webhook_attempt(&self, delivered: bool) {
        let outcome = if delivered { "delivered" } else { "failed" };
        self.webhook_attempts
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// A broadcast's compositor died and is to be started again.
    pub fn compositor_restarted(&self) {
        self.compositor_restarts.inc();
    }

    fn request(&self, route: &str, method: &str, status: StatusCode, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.into(),
                method: method.into(),
                status: status.as_u16(),
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteLabels {
                route: route.into(),
            })
            .observe(took.as_secs_f64());
    }
}

/// Counts every routed request by its route template (a `route_layer`: unmatched paths are
/// not routes and are not counted, so no client can make up label values).
pub async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    if let Some(route) = route {
        state
            .metrics
            .request(&route, &method, response.status(), started.elapsed());
    }
    response
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given.map(str::as_bytes) != Some(token.as_bytes()) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "/metrics needs the bearer token given with --metrics-token",
            )
            .into_response();
        }
    }
    let (spaces, participants) = state.presence.counts().await;
    let live = Live {
        media: state.media.totals(),
        media_workers: state.media.count() as u64,
        spaces: spaces as u64,
        participants: participants as u64,
        compositors: state.broadcasts.running().await as u64,
    };
    match encode(&state.metrics, live) {
        Ok(text) => {
            let mut response = (StatusCode::OK, Body::from(text)).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                // prometheus-client writes OpenMetrics, which Prometheus scrapes natively.
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            response
        }
        Err(_) => ApiError::internal("the metrics could not be written").into_response(),
    }
}

fn encode(metrics: &Metrics, live: Live) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("oriel");
    let info = Family::<InfoLabels, prometheus_client::metrics::gauge::Gauge>::default();
    info.get_or_create(&InfoLabels {
        version: env!("CARGO_PKG_VERSION").into(),
    })
    .set(1);
    registry.register("build_info", "The running version", info);
    registry.register(
        "http_requests",
        "REST, dashboard and signaling requests by route template, method and status",
        metrics.requests.clone(),
    );
    registry.register(
        "http_request_duration_seconds",
        "Time to answer a request, by route template",
        metrics.request_seconds.clone(),
    );
    registry.register(
        "joins",
        "Signaling joins by outcome (joined, refused)",
        metrics.joins.clone(),
    );
    registry.register(
        "join_duration_seconds",
        "From the signaling WebSocket's open to `joined` sent",
        metrics.join_seconds.clone(),
    );
    registry.register(
        "webhook_attempts",
        "Webhook delivery attempts by outcome (delivered, failed)",
        metrics.webhook_attempts.clone(),
    );
    registry.register(
        "compositor_restarts",
        "Broadcast compositors that died and were started again",
        metrics.compositor_restarts.clone(),
    );
    registry.register_collector(Box::new(live));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text)
}

/// Values read from live state at a scrape.
#[derive(Debug)]
struct Live {
    media: oriel_net::MediaTotals,
    media_workers: u64,
    spaces: u64,
    participants: u64,
    compositors: u64,
}

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = &self.media;
        let counters = [
            (
                "media_datagrams_received",
                "Datagrams (UDP, or ICE-TCP frames) the media workers received",
                m.datagrams_in,
            ),
            (
                "media_bytes_received",
                "Bytes of datagrams the media workers received",
                m.bytes_in,
            ),
            (
                "media_relayed_packets_dropped",
                "Packets of a space spread over several media workers not relayed to a worker that had fallen too far behind",
                m.relayed_packets_dropped,
            ),
            (
                "media_tcp_frames_dropped",
                "ICE-TCP frames dropped because the connection fell behind or was gone",
                m.tcp_frames_dropped,
            ),
            (
                "media_datagrams_sent",
                "Datagrams (UDP, or ICE-TCP frames) the media workers sent",
                m.datagrams_out,
            ),
            (
                "media_bytes_sent",
                "Bytes of datagrams the media workers sent",
                m.bytes_out,
            ),
            (
                "media_datagrams_unrouted",
                "Received datagrams no space took (stray or late)",
                m.datagrams_unrouted,
            ),
            (
                "keyframe_requests",
                "PLIs sent to publishers for their subscribers",
                m.keyframe_requests,
            ),
            (
                "media_nacks_received",
                "NACKs subscribers sent (each asks for lost packets again)",
                m.nacks_received,
            ),
            (
                "media_packets_lost_reported",
                "Packets subscribers reported lost before repair (RTCP receiver reports)",
                m.packets_lost_reported,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        let gauges = [
            (
                "media_workers",
                "Media worker threads (one UDP port each)",
                self.media_workers,
            ),
            ("media_spaces", "Spaces on the media workers", m.spaces),
            (
                "media_connections",
                "Signaling connections on the media workers, hidden ones included",
                m.connections,
            ),
            (
                "media_tcp_connections",
                "ICE-TCP connections open on the media workers",
                m.tcp_connections,
            ),
            (
                "media_egress_estimate_bps",
                "Sum of the bandwidth estimates towards every subscriber, bits per second",
                m.egress_estimate_bps,
            ),
            (
                "spaces_active",
                "Spaces with a participant in them",
                self.spaces,
            ),
            (
                "participants",
                "Participants connected (compositors not counted)",
                self.participants,
            ),
            (
                "compositors_running",
                "Broadcast compositors running on this node",
                self.compositors,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value as i64);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_series_with_its_labels() {
        let metrics = Metrics::new(None);
        metrics.request(
            "/video/v1/spaces/{SPACE_ID}",
            "GET",
            StatusCode::OK,
            Duration::from_millis(3),
        );
        metrics.join_answered(true, Duration::from_millis(40));
        metrics.webhook_attempt(false);
        let live = Live {
            media: oriel_net::MediaTotals {
                datagrams_in: 10,
                bytes_out: 4000,
                ..Default::default()
            },
            media_workers: 2,
            spaces: 1,
            participants: 3,
            compositors: 0,
        };
        let text = encode(&metrics, live).unwrap();
        for line in [
            "oriel_http_requests_total{route=\"/video/v1/spaces/{SPACE_ID}\",method=\"GET\",status=\"200\"} 1",
            "oriel_joins_total{outcome=\"joined\"} 1",
            "oriel_join_duration_seconds_count 1",
            "oriel_webhook_attempts_total{outcome=\"failed\"} 1",
            "oriel_media_datagrams_received_total 10",
            "oriel_media_bytes_sent_total 4000",
            "oriel_participants 3",
            "oriel_media_workers 2",
            "oriel_build_info{version=",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
