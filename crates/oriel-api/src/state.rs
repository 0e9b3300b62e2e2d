use crate::metrics::Metrics;
use std::sync::Arc;

use oriel_net::MediaWorkers;
use oriel_store::Store;
use tokio::sync::watch;

use crate::auth::{Authenticator, RateLimit};
use crate::broadcast_runner::{BroadcastRunner, RunnerSettings};
use crate::cluster::Cluster;
use crate::dashboard::DashboardState;
use crate::recordings::Recordings;
use crate::signaling::Presence;
use crate::webhook_dispatcher::Webhooks;

/// What every handler can reach. Cheap to clone: everything is behind an `Arc`.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub authenticator: Arc<Authenticator>,
    pub presence: Arc<Presence>,
    pub media: MediaWorkers,
    pub dashboard: Arc<DashboardState>,
    /// Flips to true when the node starts shutting down; long-lived connections watch it.
    pub shutting_down: watch::Receiver<bool>,
    /// Live streams' HLS recordings under the data directory.
    pub recordings: Recordings,
    /// The compositors of active broadcasts.
    pub broadcasts: Arc<BroadcastRunner>,
    /// Webhook settings; the deliveries themselves run in `deliver_webhooks`.
    pub webhooks: Arc<Webhooks>,
    /// What `/metrics` tells.
    pub metrics: Arc<Metrics>,
    /// TURN servers handed to joining clients with credentials of their own; none: no TURN.
    pub turn: Option<Arc<oriel_turn::TurnOffer>>,
    /// This node's membership of a cluster (`--redis-url`); none: the node is alone.
    pub cluster: Option<Arc<Cluster>>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        rate_limit: RateLimit,
        media: MediaWorkers,
        shutting_down: watch::Receiver<bool>,
        recordings: Recordings,
        compositors: RunnerSettings,
    ) -> Self {
        Self {
            authenticator: Arc::new(Authenticator::new(store.clone(), rate_limit)),
            presence: Arc::new(Presence::new(store.clone())),
            store,
            media,
            dashboard: Arc::new(DashboardState::default()),
            shutting_down,
            recordings,
            broadcasts: Arc::new(BroadcastRunner::new(compositors)),
            webhooks: Arc::new(Webhooks::new(false)),
            metrics: Arc::new(Metrics::default()),
            turn: None,
            cluster: None,
        }
    }

    /// Makes the node one of a cluster: joins are placed and relayed through it.
    pub fn with_cluster(mut self, cluster: Cluster) -> Self {
        self.cluster = Some(Arc::new(cluster));
        self
    }

    /// Replaces the default metrics (no scrape token).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Arc::new(metrics);
        self
    }

    /// Replaces the default webhook settings (private addresses allowed).
    pub fn with_webhooks(mut self, webhooks: Webhooks) -> Self {
        self.webhooks = Arc::new(webhooks);
        self
    }

    /// Hands every joining client these TURN servers, with credentials minted per join.
    pub fn with_turn(mut self, offer: oriel_turn::TurnOffer) -> Self {
        self.turn = Some(Arc::new(offer));
        self
    }
}
