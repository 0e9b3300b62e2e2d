//! Runs a compositor for every active broadcast, and only for those. The store says which
//! broadcasts are active (start, stop, a space going idle all change it there); a reconcile
//! loop compares that with the compositors running, starts and stops them, and restarts one
//! that died while its broadcast is still active (with a growing delay). The compositors'
//! status lines move the live stream to active once HLS plays and keep each simulcast
//! target's status.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use oriel_store::{Broadcast, LiveStreamStatus};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch, Mutex, Notify};

use crate::clock::unix_now;
use crate::compositor_process::{CompositorEvent, CompositorJob, CompositorProcess};
use crate::internal_join;
use crate::primary_role::until_primary;
use crate::state::AppState;

/// How often the loop looks, when nothing wakes it sooner.
const RECONCILE_INTERVAL: Duration = Duration::from_secs(1);
/// Delays before restarting a compositor that died: doubling up to the last.
const RESTART_DELAYS: [Duration; 5] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
];
/// A compositor's join token outlives any broadcast (Mux capped live streams at 12 hours).
const TOKEN_LIFETIME_SECONDS: i64 = 24 * 3600;

/// Where compositors come from and how they reach this node.
#[derive(Clone, Debug)]
pub struct RunnerSettings {
    /// The `oriel-compositor` executable.
    pub compositor: PathBuf,
    /// This node's signaling base URL, as the SDK's `MUX_SPACES_BACKEND_URL`.
    pub signal_url: String,
}

pub struct BroadcastRunner {
    settings: RunnerSettings,
    running: Mutex<HashMap<String, Running>>,
    wake: Notify,
}

struct Running {
    process: CompositorProcess,
    live_stream_id: String,
    target_ids: Vec<String>,
    hls_dir: PathBuf,
}

/// Restart bookkeeping of broadcasts whose compositor died: how often, when last, and the
/// recording it wrote, which the next one goes on with.
#[derive(Default)]
struct Restarts {
    by_broadcast: HashMap<String, Restart>,
}

struct Restart {
    count: usize,
    at: Instant,
    hls_dir: Option<PathBuf>,
}

impl Restarts {
    fn failed(&mut self, id: &str, hls_dir: Option<PathBuf>) {
        let entry = self.by_broadcast.entry(id.to_owned()).or_insert(Restart {
            count: 0,
            at: Instant::now(),
            hls_dir: None,
        });
        entry.count += 1;
        entry.at = Instant::now();
        if hls_dir.is_some() {
            entry.hls_dir = hls_dir;
        }
    }
}

impl BroadcastRunner {
    pub fn new(settings: RunnerSettings) -> Self {
        Self {
            settings,
            running: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        }
    }

    /// How many compositors run now.
    pub async fn running(&self) -> usize {
        self.running.lock().await.len()
    }

    /// Looks again now (a broadcast was started or stopped).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The reconcile loop while `is_primary` is true (only the node that owns the data
    /// directory, or the cluster's leader, composes). A node that stops being it stops every
    /// compositor, as it does when it shuts down: the new leader starts them again.
    pub async fn run(state: AppState, mut is_primary: watch::Receiver<bool>) {
        let runner = state.broadcasts.clone();
        let mut shutting_down = state.shutting_down.clone();
        loop {
            tokio::select! {
                () = until_primary(&mut is_primary, true) => {}
                _ = shutting_down.wait_for(|down| *down) => return,
            }
            let mut restarts = Restarts::default();
            let shut_down = loop {
                runner.reconcile(&state, &mut restarts).await;
                tokio::select! {
                    _ = tokio::time::sleep(RECONCILE_INTERVAL) => {}
                    () = runner.wake.notified() => {}
                    () = until_primary(&mut is_primary, false) => break false,
                    _ = shutting_down.wait_for(|down| *down) => break true,
                }
            };
            if shut_down {
                runner.stop_all().await;
                return;
            }
            let compositors = runner.running.lock().await.len();
            tracing::warn!(
                compositors,
                "no longer the node that composes: stopping its compositors"
            );
            runner.stop_all().await;
        }
    }

    async fn reconcile(&self, state: &AppState, restarts: &mut Restarts) {
        let active = match state.store.active_broadcasts().await {
            Ok(active) => active,
            Err(error) => {
                tracing::warn!(%error, "active broadcasts could not be read; trying again");
                return;
            }
        };
        let wanted: HashMap<String, (Broadcast, String)> = active
            .into_iter()
            .map(|(b, environment_id)| (b.id.clone(), (b, environment_id)))
            .collect();
        let mut running = self.running.lock().await;
        // Stop what is no longer wanted; forget what died (restarted below).
        let ids: Vec<String> = running.keys().cloned().collect();
        for id in ids {
            let died = running.get_mut(&id).is_some_and(|r| r.process.has_exited());
            if died || !wanted.contains_key(&id) {
                if let Some(stopped) = running.remove(&id) {
                    if !wanted.contains_key(&id) {
                        if !died {
                            stopped.process.stop().await;
                        }
                        restarts.by_broadcast.remove(&id);
                    } else {
                        tracing::warn!(broadcast = %id, "a compositor exited while its broadcast is active");
                        state.metrics.compositor_restarted();
                        restarts.failed(&id, Some(stopped.hls_dir.clone()));
                    }
                    media_stopped(state, &stopped.live_stream_id, &stopped.target_ids).await;
                }
            }
        }
        for (id, (broadcast, environment_id)) in wanted {
            if running.contains_key(&id) {
                continue;
            }
            let mut recording = None;
            if let Some(restart) = restarts.by_broadcast.get(&id) {
                let delay = RESTART_DELAYS[(restart.count - 1).min(RESTART_DELAYS.len() - 1)];
                if restart.at.elapsed() < delay {
                    continue;
                }
                recording = restart.hls_dir.clone();
            }
            match self
                .start(state, &broadcast, &environment_id, recording)
                .await
            {
                Ok(started) => {
                    running.insert(id, started);
                }
                Err(error) => {
                    tracing::error!(broadcast = %id, %error, "a compositor could not be started");
                    restarts.failed(&id, None);
                }
            }
        }
    }

    async fn start(
        &self,
        state: &AppState,
        broadcast: &Broadcast,
        environment_id: &str,
        recording: Option<PathBuf>,
    ) -> Result<Running, String> {
        let stream = state
            .store
            .live_stream(environment_id, &broadcast.live_stream_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("its live stream was deleted")?;
        let mut claims = Map::new();
        claims.insert("role".into(), "subscriber".into());
        claims.insert("oriel_hidden".into(), Value::Bool(true));
        claims.insert(
            "participant_id".into(),
            format!("oriel-compositor-{}", broadcast.id).into(),
        );
        let token = internal_join::mint(
            state,
            environment_id,
            &broadcast.space_id,
            unix_now() + TOKEN_LIFETIME_SECONDS,
            claims,
        )
        .await
        .map_err(|e| e.message())?;
        // A restarted compositor goes on with the recording the one before it wrote.
        let hls_dir = match recording {
            Some(dir) if dir.exists() => dir,
            _ => state
                .recordings
                .begin(&stream.id, unix_now())
                .map_err(|e| format!("cannot make the recording directory: {e}"))?,
        };
        let rtmp = stream
            .simulcast_targets
            .iter()
            .map(|t| match &t.stream_key {
                Some(key) if !key.is_empty() => format!("{}/{}", t.url.trim_end_matches('/'), key),
                _ => t.url.clone(),
            })
            .collect();
        let job = CompositorJob {
            signal_url: self.settings.signal_url.clone(),
            token,
            layout: broadcast.layout.clone(),
            resolution: broadcast.resolution.clone(),
            background: broadcast.background.clone(),
            hls_dir: hls_dir.clone(),
            rtmp,
        };
        let (events_tx, events) = mpsc::unbounded_channel();
        let process = CompositorProcess::spawn(&self.settings.compositor, &job, events_tx)
            .map_err(|e| format!("cannot run {}: {e}", self.settings.compositor.display()))?;
        let target_ids: Vec<String> = stream
            .simulcast_targets
            .iter()
            .map(|t| t.id.clone())
            .collect();
        let following = target_ids.clone();
        tokio::spawn(follow_status(
            state.clone(),
            stream.id.clone(),
            following,
            events,
        ));
        tracing::info!(broadcast = %broadcast.id, live_stream = %stream.id, "compositor started");
        Ok(Running {
            process,
            live_stream_id: stream.id,
            target_ids,
            hls_dir,
        })
    }

    async fn stop_all(&self) {
        let running: Vec<Running> = self.running.lock().await.drain().map(|(_, r)| r).collect();
        for r in running {
            r.process.stop().await;
        }
    }
}

/// Media stopped flowing into a live stream: it goes idle, its targets too.
async fn media_stopped(state: &AppState, live_stream_id: &str, target_ids: &[String]) {
    let idle = state
        .store
        .set_live_stream_media_status(live_stream_id, LiveStreamStatus::Idle)
        .await;
    if let Err(error) = idle {
        tracing::warn!(%error, "a live stream could not be marked idle");
    }
    for id in target_ids {
        if let Err(error) = state.store.set_simulcast_target_status(id, "idle").await {
            tracing::warn!(%error, "a simulcast target could not be marked idle");
        }
    }
}

/// Applies a compositor's status lines to its live stream and simulcast targets.
async fn follow_status(
    state: AppState,
    live_stream_id: String,
    target_ids: Vec<String>,
    mut events: mpsc::UnboundedReceiver<CompositorEvent>,
) {
    while let Some(event) = events.recv().await {
        let outcome = match &event {
            CompositorEvent::Hls { status } if status == "playing" => state
                .store
                .set_live_stream_media_status(&live_stream_id, LiveStreamStatus::Active)
                .await
                .map(|_| ()),
            CompositorEvent::Target { index, status } => match target_ids.get(*index) {
                Some(id) => state.store.set_simulcast_target_status(id, status).await,
                None => Ok(()),
            },
            _ => Ok(()),
        };
        if let Err(error) = outcome {
            tracing::warn!(%error, ?event, "a compositor's status could not be recorded");
        }
    }
}
