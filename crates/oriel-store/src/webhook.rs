//! Webhooks as the store keeps them: endpoints, the events of the outbox, and each event's
//! delivery to each endpoint with its attempts.

/// Where an environment's events are sent, and the secret they are signed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub environment_id: String,
    pub url: String,
    pub signing_secret: String,
    pub created_at: i64,
}

/// An event of the outbox, written with the change it tells of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEvent {
    pub id: String,
    pub environment_id: String,
    pub environment_name: String,
    /// Such as "video.space.idle".
    pub event_type: String,
    /// "space", "broadcast" or "live" (Mux's name for live streams).
    pub object_type: String,
    pub object_id: String,
    /// The object as it was when the event happened, as compact JSON.
    pub data: String,
    pub created_at_ms: i64,
}

/// One try at delivering an event to an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookAttempt {
    pub id: String,
    /// The URL it was sent to.
    pub address: String,
    /// The HTTP status answered; none when no answer came (refused, timed out).
    pub status: Option<u16>,
    /// The start of the answer's body, for whoever debugs the endpoint.
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub created_at_ms: i64,
}

/// A delivery the dispatcher may try now: the oldest pending one of its object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueDelivery {
    pub delivery_seq: i64,
    pub event: WebhookEvent,
    /// Earlier attempts, oldest first (Mux listed them in the envelope).
    pub attempts: Vec<WebhookAttempt>,
}

/// What an attempt leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Try again at this unix millisecond.
    RetryAt(i64),
    /// Retries ran out: the next event of the object goes on.
    GaveUp,
}

/// A delivery as the dashboard lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub object_id: String,
    /// "pending", "delivered" or "failed".
    pub state: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub last_attempt_ms: Option<i64>,
    pub next_attempt_ms: i64,
    pub created_at_ms: i64,
}
