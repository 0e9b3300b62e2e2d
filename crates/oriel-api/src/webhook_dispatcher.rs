//! Delivers the outbox: one task per endpoint, each with its own deliveries in flight, so a
//! slow or dead endpoint only ever delays itself, and nothing here runs on a request's path.
//! Only the primary node on a data directory delivers (see the handover); an attempt cut off
//! by a stop stays pending and is made again: delivery is at least once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use oriel_store::{Store, WebhookEndpoint};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::metrics::Metrics;
use crate::primary_role::until_primary;
use crate::state::AppState;
use crate::webhook_address::PublicOnlyResolver;
use crate::webhook_delivery::{self, ATTEMPT_TIMEOUT};
use oriel_store::DeliveryOutcome;

/// Attempts one endpoint has in flight at once (each for a different object).
const IN_FLIGHT_PER_ENDPOINT: usize = 16;
/// The longest an endpoint task sleeps without looking: events written by another process
/// (a node handing over, the CLI) wake nobody here.
const LOOK_AGAIN: Duration = Duration::from_secs(5);
/// Delivered and failed events are forgotten after this long.
const KEEP_EVENTS: Duration = Duration::from_secs(7 * 24 * 3600);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The node's webhook settings and the signal that endpoints were added or removed.
pub struct Webhooks {
    pub refuse_private_addresses: bool,
    endpoints_changed: watch::Sender<u64>,
}

impl Webhooks {
    pub fn new(refuse_private_addresses: bool) -> Self {
        Self {
            refuse_private_addresses,
            endpoints_changed: watch::channel(0).0,
        }
    }

    pub fn endpoints_changed(&self) {
        self.endpoints_changed
            .send_modify(|n| *n = n.wrapping_add(1));
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Runs until the node shuts down, delivering while `is_primary` holds true.
pub async fn run(state: AppState, mut is_primary: watch::Receiver<bool>) {
    let mut shutting_down = state.shutting_down.clone();
    let client = match http_client(state.webhooks.refuse_private_addresses) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhooks are not delivered: no HTTP client");
            return;
        }
    };
    // Deliveries run while this node is the primary (the cluster's leader); a node that stops
    // being it stops its deliveries and waits to be it again.
    loop {
        tokio::select! {
            () = until_primary(&mut is_primary, true) => {}
            _ = shutting_down.wait_for(|down| *down) => return,
        }
        let shut_down = deliver_while_primary(&state, &client, &mut is_primary).await;
        if shut_down {
            return;
        }
        tracing::warn!("no longer the node that delivers webhooks: its deliveries stopped");
    }
}

/// Runs every endpoint's deliveries until the node shuts down (true) or stops being the
/// primary (false), then stops them.
async fn deliver_while_primary(
    state: &AppState,
    client: &reqwest::Client,
    is_primary: &mut watch::Receiver<bool>,
) -> bool {
    let mut shutting_down = state.shutting_down.clone();
    let mut endpoints_changed = state.webhooks.endpoints_changed.subscribe();
    let mut tasks: HashMap<String, EndpointTask> = HashMap::new();
    let mut last_prune: Option<tokio::time::Instant> = None;
    let shut_down = loop {
        match state.store.all_webhook_endpoints().await {
            Ok(endpoints) => reconcile(state, client, endpoints, &mut tasks),
            Err(error) => tracing::warn!(%error, "cannot read webhook endpoints"),
        }
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(tokio::time::Instant::now());
            let before = now_ms() - KEEP_EVENTS.as_millis() as i64;
            match state.store.prune_webhook_events(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "forgot old webhook events"),
                Err(error) => tracing::warn!(%error, "cannot prune webhook events"),
            }
        }
        tokio::select! {
            _ = endpoints_changed.changed() => {}
            _ = shutting_down.wait_for(|down| *down) => break true,
            () = until_primary(is_primary, false) => break false,
            _ = tokio::time::sleep(LOOK_AGAIN * 6) => {}
        }
    };
    // Told to stop, the tasks let their attempts in flight finish (see `EndpointTask`),
    // within one attempt's timeout.
    for task in tasks.values() {
        let _ = task.stop.send(true);
    }
    for mut task in tasks.into_values() {
        if tokio::time::timeout(ATTEMPT_TIMEOUT + Duration::from_secs(1), &mut task.handle)
            .await
            .is_err()
        {
            task.handle.abort();
        }
    }
    shut_down
}

/// An endpoint's delivery task, and how it is told to stop: between database calls, never in
/// the middle of one (a transaction cut off there could go back to the pool still open).
struct EndpointTask {
    handle: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

fn http_client(refuse_private: bool) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(ATTEMPT_TIMEOUT)
        // A redirect could lead anywhere, the inside included; Mux did not follow them either.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Oriel-Webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(30));
    if refuse_private {
        builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
    }
    builder.build()
}

/// One task per endpoint: started for new ones, stopped for deleted ones.
fn reconcile(
    state: &AppState,
    client: &reqwest::Client,
    endpoints: Vec<WebhookEndpoint>,
    tasks: &mut HashMap<String, EndpointTask>,
) {
    let current: HashSet<String> = endpoints.iter().map(|e| e.id.clone()).collect();
    tasks.retain(|id, task| {
        let keep = current.contains(id) && !task.handle.is_finished();
        if !keep {
            let _ = task.stop.send(true);
        }
        keep
    });
    for endpoint in endpoints {
        if tasks.contains_key(&endpoint.id) {
            continue;
        }
        let id = endpoint.id.clone();
        let (stop, stopped) = watch::channel(false);
        let task = deliver_to(
            state.store.clone(),
            client.clone(),
            endpoint,
            state.webhooks.refuse_private_addresses,
            state.metrics.clone(),
            stopped,
        );
        tasks.insert(
            id,
            EndpointTask {
                handle: tokio::spawn(task),
                stop,
            },
        );
    }
}

/// Delivers one endpoint's events for as long as it exists.
async fn deliver_to(
    store: Arc<dyn Store>,
    client: reqwest::Client,
    endpoint: WebhookEndpoint,
    refuse_private: bool,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let endpoint = Arc::new(endpoint);
    let mut written = store.webhook_events_written();
    // Each attempt is a task of its own: one that holds a database connection mid-transaction
    // must go on while this loop waits for another (polled here, it could not).
    let mut in_flight = JoinSet::new();
    let mut busy: HashSet<i64> = HashSet::new();
    let mut attempt_of: HashMap<tokio::task::Id, i64> = HashMap::new();
    loop {
        if *stop.borrow() {
            // The endpoint is gone: the attempts in flight finish (and are recorded, or fail
            // to be) rather than being cut off inside a transaction.
            while in_flight.join_next().await.is_some() {}
            return;
        }
        let room = IN_FLIGHT_PER_ENDPOINT - in_flight.len();
        if room > 0 {
            let limit = (room + busy.len()) as u32;
            match store
                .due_webhook_deliveries(&endpoint.id, now_ms(), limit)
                .await
            {
                Ok(due) => {
                    for due in due {
                        if !busy.insert(due.delivery_seq) {
                            continue; // in flight already
                        }
                        let (store, client, endpoint, metrics) = (
                            store.clone(),
                            client.clone(),
                            endpoint.clone(),
                            metrics.clone(),
                        );
                        let seq = due.delivery_seq;
                        let task = in_flight.spawn(async move {
                            let (attempt, outcome) = webhook_delivery::attempt(
                                &client,
                                &endpoint,
                                &due,
                                refuse_private,
                                now_ms,
                            )
                            .await;
                            metrics.webhook_attempt(matches!(outcome, DeliveryOutcome::Delivered));
                            if let Some(error) = &attempt.error {
                                tracing::debug!(endpoint = %endpoint.id, event = %due.event.id, %error, ?outcome, "webhook attempt failed");
                            }
                            if let Err(error) = store
                                .finish_webhook_attempt(due.delivery_seq, &attempt, outcome)
                                .await
                            {
                                // It stays pending and is sent again: at least once.
                                tracing::warn!(%error, "cannot record a webhook attempt");
                            }
                        });
                        attempt_of.insert(task.id(), seq);
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot read due webhook deliveries"),
            }
        }
        let wait = match store.next_webhook_due_ms(&endpoint.id).await {
            Ok(Some(at)) if at > now_ms() => Duration::from_millis((at - now_ms()) as u64),
            // Due now but in flight (or no room): a finishing attempt wakes this loop.
            Ok(Some(_)) if !in_flight.is_empty() => LOOK_AGAIN,
            Ok(Some(_)) => Duration::from_millis(50),
            Ok(None) | Err(_) => LOOK_AGAIN,
        }
        .min(LOOK_AGAIN);
        tokio::select! {
            Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(error) => error.id(),
                };
                if let Some(seq) = attempt_of.remove(&id) {
                    busy.remove(&seq);
                }
            }
            changed = written.changed() => {
                if changed.is_err() {
                    tokio::time::sleep(wait).await;
                }
            }
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}
