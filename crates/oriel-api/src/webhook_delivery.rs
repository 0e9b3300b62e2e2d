//! One attempt at delivering one event to one endpoint: Mux's envelope, signed afresh (its
//! verifiers refuse signatures older than 300 s), posted with a time limit, and what follows
//! from the answer.

use std::time::Duration;

use oriel_store::{new_uuid, DeliveryOutcome, DueDelivery, WebhookAttempt, WebhookEndpoint};
use serde::Serialize;
use serde_json::Value;

use crate::webhook_address::check_endpoint_url;
use crate::webhook_signature;

/// Mux's limit on one attempt.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries go on this long after the event (Mux: 24 hours)...
const RETRY_FOR_MS: i64 = 24 * 3600 * 1000;
/// ...or for this many attempts, whichever ends first (two-second steps doubling up to an
/// hour fill the 24 hours in about this many).
pub const MAX_ATTEMPTS: u32 = 36;
const FIRST_RETRY_MS: i64 = 2_000;
const LONGEST_RETRY_MS: i64 = 3600 * 1000;
/// How much of an answer's body is kept for the dashboard and later envelopes.
const KEPT_BODY_BYTES: usize = 1024;

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    object: ObjectRef<'a>,
    id: &'a str,
    environment: EnvironmentRef<'a>,
    data: Value,
    created_at: String,
    attempts: Vec<AttemptView<'a>>,
    accessor_source: Option<()>,
    accessor: Option<()>,
    request_id: Option<()>,
}

#[derive(Serialize)]
struct ObjectRef<'a> {
    #[serde(rename = "type")]
    object_type: &'a str,
    id: &'a str,
}

#[derive(Serialize)]
struct EnvironmentRef<'a> {
    name: &'a str,
    id: &'a str,
}

#[derive(Serialize)]
struct AttemptView<'a> {
    id: &'a str,
    address: &'a str,
    created_at: String,
    max_attempts: u32,
    response_body: Option<&'a str>,
    response_headers: serde_json::Map<String, Value>,
    response_status_code: Option<u16>,
    webhook_id: &'a str,
}

/// The body as it is sent: compact JSON, so an app that verifies `JSON.stringify(req.body)`
/// after its framework parsed it verifies these very bytes.
pub fn envelope(endpoint: &WebhookEndpoint, due: &DueDelivery) -> Vec<u8> {
    let event = &due.event;
    let envelope = Envelope {
        event_type: &event.event_type,
        object: ObjectRef {
            object_type: &event.object_type,
            id: &event.object_id,
        },
        id: &event.id,
        environment: EnvironmentRef {
            name: &event.environment_name,
            id: &event.environment_id,
        },
        data: as_javascript_writes_it(serde_json::from_str(&event.data).unwrap_or(Value::Null)),
        created_at: iso8601(event.created_at_ms),
        attempts: due
            .attempts
            .iter()
            .map(|attempt| AttemptView {
                id: &attempt.id,
                address: &attempt.address,
                created_at: iso8601(attempt.created_at_ms),
                max_attempts: MAX_ATTEMPTS,
                response_body: attempt.response_body.as_deref(),
                response_headers: serde_json::Map::new(),
                response_status_code: attempt.status,
                webhook_id: &endpoint.id,
            })
            .collect(),
        accessor_source: None,
        accessor: None,
        request_id: None,
    };
    serde_json::to_vec(&envelope).unwrap_or_default()
}

/// Whole floats as integers (`60`, not `60.0`), as `JSON.stringify` writes them: apps such as
/// Mux Meet verify the signature over `JSON.stringify(req.body)`, so the body must be the
/// bytes JavaScript would write for the same value.
fn as_javascript_writes_it(value: Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                Value::from(f as i64)
            }
            _ => Value::Number(n),
        },
        Value::Array(items) => {
            Value::Array(items.into_iter().map(as_javascript_writes_it).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, as_javascript_writes_it(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Unix milliseconds as Mux wrote times in webhooks: `2023-05-04T12:00:00.123Z`.
fn iso8601(unix_ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Posts the event once and says what comes next.
pub async fn attempt(
    client: &reqwest::Client,
    endpoint: &WebhookEndpoint,
    due: &DueDelivery,
    refuse_private: bool,
    now_ms: impl Fn() -> i64,
) -> (WebhookAttempt, DeliveryOutcome) {
    let started = now_ms();
    let body = envelope(endpoint, due);
    let mut attempt = WebhookAttempt {
        id: new_uuid(),
        address: endpoint.url.clone(),
        status: None,
        response_body: None,
        error: None,
        created_at_ms: started,
    };
    match post(client, endpoint, body, started / 1000, refuse_private).await {
        Ok((status, response_body)) => {
            attempt.status = Some(status);
            attempt.response_body = Some(response_body);
            if (200..300).contains(&status) {
                return (attempt, DeliveryOutcome::Delivered);
            }
            attempt.error = Some(format!("answered {status}"));
        }
        Err(error) => attempt.error = Some(error),
    }
    let outcome = retry_after_failure(due, started);
    (attempt, outcome)
}

async fn post(
    client: &reqwest::Client,
    endpoint: &WebhookEndpoint,
    body: Vec<u8>,
    unix_seconds: i64,
    refuse_private: bool,
) -> Result<(u16, String), String> {
    // Checked again at each attempt: the node's setting may have changed since creation.
    let url = check_endpoint_url(&endpoint.url, refuse_private)
        .map_err(|problem| format!("the URL is refused: {problem:?}"))?;
    let signature = webhook_signature::sign(&endpoint.signing_secret, unix_seconds, &body);
    let mut response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(webhook_signature::HEADER, signature)
        .body(body)
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    let mut kept = Vec::new();
    while kept.len() < KEPT_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            // A body that fails or ends early does not change the status the endpoint gave.
            Ok(None) | Err(_) => break,
        }
    }
    kept.truncate(KEPT_BODY_BYTES);
    Ok((status, String::from_utf8_lossy(&kept).into_owned()))
}

/// reqwest's error with its causes, which is where "connection refused" is said.
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "no answer within 5 s".to_owned()
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The next try after a failed one: two seconds, doubling to an hour, for 24 hours.
fn retry_after_failure(due: &DueDelivery, now_ms: i64) -> DeliveryOutcome {
    let failures = due.attempts.len() as u32 + 1;
    if failures >= MAX_ATTEMPTS || now_ms - due.event.created_at_ms >= RETRY_FOR_MS {
        return DeliveryOutcome::GaveUp;
    }
    let delay = FIRST_RETRY_MS
        .saturating_mul(1_i64 << (failures - 1).min(20))
        .min(LONGEST_RETRY_MS);
    // Up to a tenth more, so endpoints that come back are not hit by every retry at once.
    let jitter = rand::random::<u32>() as i64 % (delay / 10 + 1);
    DeliveryOutcome::RetryAt(now_ms + delay + jitter)
}

#[cfg(test)]
mod tests {
    use oriel_store::WebhookEvent;

    use super::*;

    fn due(attempts: usize, age_ms: i64, now_ms: i64) -> DueDelivery {
        let attempt = WebhookAttempt {
            id: "a".into(),
            address: "http://x/".into(),
            status: Some(500),
            response_body: Some("no".into()),
            error: None,
            created_at_ms: now_ms,
        };
        DueDelivery {
            delivery_seq: 1,
            event: WebhookEvent {
                id: "e".into(),
                environment_id: "env".into(),
                environment_name: "Production".into(),
                event_type: "video.space.idle".into(),
                object_type: "space".into(),
                object_id: "s1".into(),
                data: r#"{"id":"s1","status":"idle"}"#.into(),
                created_at_ms: now_ms - age_ms,
            },
            attempts: vec![attempt; attempts],
        }
    }

    #[test]
    fn retries_grow_from_two_seconds_to_an_hour_then_stop_after_a_day() {
        let now = 1_700_000_000_000;
        let delay = |attempts| match retry_after_failure(&due(attempts, 0, now), now) {
            DeliveryOutcome::RetryAt(at) => at - now,
            other => panic!("{other:?}"),
        };
        assert!((2_000..=2_200).contains(&delay(0)));
        assert!((4_000..=4_400).contains(&delay(1)));
        assert!((3_600_000..=3_960_000).contains(&delay(20)));
        assert_eq!(
            retry_after_failure(&due(1, RETRY_FOR_MS, now), now),
            DeliveryOutcome::GaveUp
        );
        assert_eq!(
            retry_after_failure(&due(MAX_ATTEMPTS as usize - 1, 0, now), now),
            DeliveryOutcome::GaveUp
        );
    }

    #[test]
    fn the_envelope_has_muxs_fields_and_earlier_attempts() {
        let endpoint = WebhookEndpoint {
            id: "w1".into(),
            environment_id: "env".into(),
            url: "http://127.0.0.1:1/".into(),
            signing_secret: "s".into(),
            created_at: 0,
        };
        let body = envelope(&endpoint, &due(1, 0, 1_700_000_000_123));
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["type"], "video.space.idle");
        assert_eq!(
            json["object"],
            serde_json::json!({"type": "space", "id": "s1"})
        );
        assert_eq!(
            json["environment"],
            serde_json::json!({"name": "Production", "id": "env"})
        );
        assert_eq!(json["data"]["status"], "idle");
        assert_eq!(json["created_at"], "2023-11-14T22:13:20.123Z");
        assert_eq!(json["attempts"][0]["response_status_code"], 500);
        assert_eq!(json["attempts"][0]["webhook_id"], "w1");
        assert!(json["request_id"].is_null());
        assert!(
            !String::from_utf8(body).unwrap().contains(' '),
            "compact JSON"
        );
    }

    #[test]
    fn whole_floats_are_written_as_javascript_writes_them() {
        let value: Value = serde_json::from_str(r#"{"a":60.0,"b":[0.5,2.0],"c":7}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&as_javascript_writes_it(value)).unwrap(),
            r#"{"a":60,"b":[0.5,2],"c":7}"#
        );
    }
}
