//! The load test itself: set up, join everyone, measure, tear down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use oriel_client::{
    connect, stamp, Client, ClientEvent, ClientOptions, EventStream, MediaDelivery, PublishOptions,
};
use serde::Serialize;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::api::{Api, SigningKey};
use crate::census::{Attendee, Census};
use crate::cpu::CpuClock;
use crate::metrics::{percentile, Metrics, Probe, Snapshot};
use crate::progress::progress_lines;
use crate::sender_counts::SenderCounts;
use crate::tally::Tally;
use crate::token::TokenSigner;

/// Bounds that keep a load test a test.
pub const MAX_PUBLISHERS: usize = 100;
pub const MAX_SUBSCRIBERS: usize = 2_000;
pub const MAX_DURATION_SECS: u64 = 3_600;
/// Connecting plus waiting for `joined`, per client.
const JOIN_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a publisher's peer connection may take to come up before subscribers join anyway.
const PUBLISHER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long everyone's peer connections may take to come up after the joins.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long leaving may take for everyone together.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may take to see everyone gone before the space is deleted.
const DELETE_PATIENCE: Duration = Duration::from_secs(15);

#[derive(clap::Args, Debug, Clone)]
pub struct LoadTestArgs {
    /// Base URL of the node's REST API; loopback addresses only (e.g. http://127.0.0.1:8080).
    #[arg(long)]
    pub api: String,
    /// Access token id (HTTP Basic user name).
    #[arg(long, env = "ORIEL_TOKEN_ID")]
    pub token_id: String,
    /// Access token secret (HTTP Basic password).
    #[arg(long, env = "ORIEL_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: String,
    /// Publishers: each sends Opus and three-layer VP8 simulcast.
    #[arg(long, default_value_t = 1)]
    pub publishers: usize,
    /// Subscribers: each receives every publisher (up to --managed-subscriptions) and measures.
    #[arg(long, default_value_t = 10)]
    pub subscribers: usize,
    /// Seconds of measurement once everyone has joined.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Seconds of media before the measurement starts, once everyone is connected: lets
    /// bandwidth estimates and simulcast layers settle, so the window measures steady state.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Print one JSON object with the results as the last line of stdout.
    #[arg(long)]
    pub json: bool,
    /// `managed_subscriptions` of the subscribers (1 to 20 publishers each).
    #[arg(long, default_value_t = 20)]
    pub managed_subscriptions: u8,
    /// Publishers send audio only (an audio room).
    #[arg(long)]
    pub audio_only: bool,
    /// PID of the server, to report its CPU time over the measurement (read from /proc).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Joins in flight at once.
    #[arg(long, default_value_t = 16)]
    pub join_concurrency: usize,
    /// A join storm: this many more subscribers join during the measurement, evenly spread
    /// over --storm-seconds, while the others are measured (their figures are the window's;
    /// the storm's joiners are reported apart).
    #[arg(long, default_value_t = 0)]
    pub storm_subscribers: usize,
    /// Seconds the storm's joins are spread over, from the start of the measurement (at most
    /// --duration).
    #[arg(long, default_value_t = 10)]
    pub storm_seconds: u64,
}

impl LoadTestArgs {
    fn validate(&self) -> anyhow::Result<()> {
        if self.publishers > MAX_PUBLISHERS {
            bail!("--publishers must be at most {MAX_PUBLISHERS}");
        }
        if self.subscribers > MAX_SUBSCRIBERS {
            bail!("--subscribers must be at most {MAX_SUBSCRIBERS}");
        }
        if self.publishers + self.subscribers == 0 {
            bail!("nobody to join: give --publishers and/or --subscribers");
        }
        if !(1..=MAX_DURATION_SECS).contains(&self.duration) {
            bail!("--duration must be 1 to {MAX_DURATION_SECS} seconds");
        }
        if self.warmup > MAX_DURATION_SECS {
            bail!("--warmup must be at most {MAX_DURATION_SECS} seconds");
        }
        if !(1..=20).contains(&self.managed_subscriptions) {
            bail!("--managed-subscriptions must be 1 to 20");
        }
        if !(1..=256).contains(&self.join_concurrency) {
            bail!("--join-concurrency must be 1 to 256");
        }
        if self.subscribers + self.storm_subscribers > MAX_SUBSCRIBERS {
            bail!(
                "--subscribers and --storm-subscribers must together be at most {MAX_SUBSCRIBERS}"
            );
        }
        if self.storm_subscribers > 0 && !(1..=self.duration).contains(&self.storm_seconds) {
            bail!("--storm-seconds must be 1 to --duration");
        }
        Ok(())
    }
}

#[derive(Serialize, Debug, Clone, Copy, Default)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl Percentiles {
    /// p50, p95, p99 and max of a list of values.
    pub fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        Self {
            p50: percentile(&values, 0.50),
            p95: percentile(&values, 0.95),
            p99: percentile(&values, 0.99),
            max: values.last().copied(),
        }
    }
}

/// The results. Counts and rates are over the measurement window (from when everyone has
/// joined and connected, for `--duration` seconds) unless named `total_*` (the whole run).
#[derive(Serialize, Debug, Clone, Default)]
pub struct Report {
    pub publishers: usize,
    pub subscribers: usize,
    pub publishers_connected: usize,
    pub subscribers_connected: usize,
    /// Subscribers that received at least one media packet.
    pub subscribers_receiving: usize,
    pub join_failures: usize,
    pub duration_s: f64,
    pub packets_received: u64,
    pub audio_packets_received: u64,
    pub video_packets_received: u64,
    pub packets_per_second: f64,
    pub payload_mbit_per_second: f64,
    pub packets_expected: u64,
    pub packets_lost: u64,
    pub loss_ratio: f64,
    /// Publisher send (the stamp written as a packet leaves its pacer) to the kernel's receive
    /// time at the subscriber's socket, ms.
    pub delay_ms: Percentiles,
    /// The same for audio and for video packets alone.
    pub audio_delay_ms: Percentiles,
    pub video_delay_ms: Percentiles,
    /// Packets without a readable send stamp.
    pub unstamped_packets: u64,
    /// WebSocket open to `joined`, every client, ms.
    pub join_ms: Percentiles,
    /// WebSocket open to the first media packet, subscribers, ms.
    pub first_media_ms: Percentiles,
    /// RTP packets the publishers wrote during the window.
    pub packets_sent: u64,
    /// Keyframe requests (PLI/FIR) the publishers received, whole run.
    pub keyframe_requests_received: u64,
    /// PLIs the subscribers sent while waiting for a keyframe, whole run.
    pub plis_sent: u64,
    /// Frames the publishers skipped during the window because the generator ran more than
    /// 200 ms behind their schedule (it lacked CPU): the load was lighter than asked.
    pub publisher_frames_skipped: u64,
    pub total_packets_received: u64,
    pub total_loss_ratio: f64,
    pub server_cpu_seconds: Option<f64>,
    /// Server CPU over the window, in percent of one core.
    pub server_cpu_percent: Option<f64>,
    /// Packets received by subscribers per second of server CPU.
    pub packets_per_server_cpu_second: Option<f64>,
    pub loadtest_cpu_percent: Option<f64>,
    /// The join storm (`--storm-subscribers`): how many joined and connected, WebSocket open
    /// to `joined` and to first media, ms.
    pub storm_subscribers: usize,
    pub storm_subscribers_connected: usize,
    pub storm_join_ms: Percentiles,
    pub storm_first_media_ms: Percentiles,
    pub interrupted: bool,
    pub errors: Vec<String>,
}

pub(crate) struct Joined {
    pub(crate) client: Client,
    pub(crate) publisher: bool,
    pub(crate) connected: Arc<AtomicBool>,
    pub(crate) first_media: Arc<AtomicU64>,
}

impl Joined {
    /// How it stands as the run ends.
    fn attendee(&self) -> Attendee {
        let info = self.client.info();
        Attendee {
            publisher: self.publisher,
            connected: self.connected.load(Ordering::Relaxed) && self.client.is_running(),
            opened_at: info.opened_at,
            joined_at: info.joined_at,
            first_media_nanos: self.first_media.load(Ordering::Relaxed),
        }
    }
}

/// Runs the load test; the report is returned even when interrupted.
pub async fn run(args: &LoadTestArgs, cancel: watch::Receiver<bool>) -> anyhow::Result<Report> {
    args.validate()?;
    let api = Api::new(&args.api, &args.token_id, &args.token_secret).await?;
    eprintln!(
        "load-test: creating a signing key and a space at {}",
        args.api
    );
    let key = api.create_signing_key().await?;
    let outcome = match api.create_space().await {
        Ok(space_id) => {
            let outcome = run_in_space(args, &api, &key, &space_id, cancel).await;
            if let Err(error) = api.delete_space(&space_id, DELETE_PATIENCE).await {
                eprintln!("load-test: {error:#}");
            }
            outcome
        }
        Err(error) => Err(error),
    };
    if let Err(error) = api.delete_signing_key(&key.id).await {
        eprintln!("load-test: {error:#}");
    }
    outcome
}

fn cancelled(cancel: &watch::Receiver<bool>) -> bool {
    *cancel.borrow()
}

async fn run_in_space(
    args: &LoadTestArgs,
    api: &Api,
    key: &SigningKey,
    space_id: &str,
    mut cancel: watch::Receiver<bool>,
) -> anyhow::Result<Report> {
    let _ = stamp::epoch();
    let lifetime = args.duration + args.warmup + 600 + (args.publishers + args.subscribers) as u64;
    let signer = Arc::new(
        TokenSigner::new(&key.id, &key.private_key_pem, space_id, lifetime)
            .context("cannot sign join tokens")?,
    );
    let pluto = api.pluto_url();
    let metrics = Arc::new(Metrics::default());
    let shared = Arc::new(Tally::default());
    let started = Instant::now();
    let server_cpu = args.server_pid.map(CpuClock::process);
    let own_cpu = CpuClock::own();

    // Progress, once a second, until the end.
    let (stop_progress, progress_stopped) = watch::channel(false);
    let counts = {
        let (shared, publishers, subscribers) =
            (Arc::clone(&shared), args.publishers, args.subscribers);
        move || shared.counts(publishers, subscribers)
    };
    let progress = tokio::spawn(progress_lines(
        counts,
        Arc::clone(&metrics),
        server_cpu.clone(),
        started,
        progress_stopped,
    ));

    let mut everyone: Vec<Joined> = Vec::new();
    // Publishers first, so that subscribers find their tracks in `joined`.
    let publishers = join_all(
        args,
        &pluto,
        &signer,
        &metrics,
        &shared,
        true,
        args.publishers,
        &mut cancel,
    )
    .await;
    let deadline = Instant::now() + PUBLISHER_CONNECT_TIMEOUT;
    while Instant::now() < deadline
        && !cancelled(&cancel)
        && publishers
            .iter()
            .any(|p| !p.connected.load(Ordering::Relaxed))
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    everyone.extend(publishers);
    if !cancelled(&cancel) {
        let subscribers = join_all(
            args,
            &pluto,
            &signer,
            &metrics,
            &shared,
            false,
            args.subscribers,
            &mut cancel,
        )
        .await;
        everyone.extend(subscribers);
    }

    // Measure the steady state: wait (bounded) until every joined client's peer connection is
    // up, so that the join storm's DTLS handshakes are behind us.
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    while Instant::now() < deadline
        && !cancelled(&cancel)
        && everyone
            .iter()
            .any(|j| !j.connected.load(Ordering::Relaxed) && j.client.is_running())
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    if args.warmup > 0 && !cancelled(&cancel) {
        let _ =
            tokio::time::timeout(Duration::from_secs(args.warmup), cancel.wait_for(|c| *c)).await;
    }

    // The measurement window.
    let sent =
        |everyone: &[Joined]| SenderCounts::sum(everyone.iter().map(|j| &**j.client.counters()));
    let window_start = Instant::now();
    let before: Snapshot = metrics.snapshot();
    let sent_before = sent(&everyone);
    let server_before = server_cpu.as_ref().and_then(CpuClock::seconds);
    let own_before = own_cpu.seconds();
    let storm = (args.storm_subscribers > 0 && !cancelled(&cancel)).then(|| {
        eprintln!(
            "load-test: join storm: {} subscribers over {}s",
            args.storm_subscribers, args.storm_seconds
        );
        tokio::spawn(crate::storm::run(
            crate::storm::Storm {
                subscribers: args.storm_subscribers,
                over: Duration::from_secs(args.storm_seconds),
                first_index: args.subscribers,
                managed_subscriptions: args.managed_subscriptions,
                audio_only: args.audio_only,
            },
            pluto.clone(),
            Arc::clone(&signer),
            Arc::clone(&shared),
            cancel.clone(),
        ))
    });
    if !cancelled(&cancel) {
        eprintln!(
            "load-test: everyone joined and connected in {:.1}s; measuring for {}s",
            started.elapsed().as_secs_f64(),
            args.duration
        );
        let _ =
            tokio::time::timeout(Duration::from_secs(args.duration), cancel.wait_for(|c| *c)).await;
    }
    let window = window_start.elapsed().as_secs_f64().max(1e-3);
    let after = metrics.snapshot();
    let sent_after = sent(&everyone);
    let server_after = server_cpu.as_ref().and_then(CpuClock::seconds);
    let own_after = own_cpu.seconds();
    let interrupted = cancelled(&cancel);
    let stormed = match storm {
        Some(task) => task.await.unwrap_or_default(),
        None => Vec::new(),
    };
    // Who is connected at the end, and the joins' timing: the storm's subscribers apart.
    let mut census = Census::default();
    for joined in &everyone {
        census.count(&joined.attendee());
    }
    let mut storm = Census::default();
    for joined in &stormed {
        storm.count(&joined.attendee());
    }
    everyone.extend(stormed);

    // Leave, all together, bounded.
    eprintln!("load-test: leaving");
    let mut leaving = JoinSet::new();
    for joined in everyone {
        leaving.spawn(joined.client.leave());
    }
    let _ = tokio::time::timeout(LEAVE_TIMEOUT, async {
        while leaving.join_next().await.is_some() {}
    })
    .await;
    leaving.abort_all();
    let _ = stop_progress.send(true);
    let _ = progress.await;

    let delta = after.since(&before);
    let server_cpu_seconds = server_before.zip(server_after).map(|(b, a)| a - b);
    let errors = shared.errors();
    Ok(Report {
        publishers: args.publishers,
        subscribers: args.subscribers,
        publishers_connected: census.publishers_connected,
        subscribers_connected: census.subscribers_connected,
        subscribers_receiving: census.subscribers_receiving,
        join_failures: shared.join_failures.load(Ordering::Relaxed),
        join_ms: census.join_ms(),
        first_media_ms: census.first_media_ms(),
        storm_subscribers: args.storm_subscribers,
        storm_subscribers_connected: storm.subscribers_connected,
        storm_join_ms: storm.join_ms(),
        storm_first_media_ms: storm.first_media_ms(),
        interrupted,
        errors,
        ..Report::default()
    }
    .with_sending(sent_before, sent_after)
    .with_window(&Window {
        seconds: window,
        delta: &delta,
        total: &after,
        server_cpu_seconds,
        own_cpu_seconds: own_before.zip(own_after).map(|(b, a)| a - b),
    }))
}

impl Report {
    /// A warning when the generator itself fell behind, so that its figures understate the
    /// load; `None` when the publishers kept their schedule.
    pub fn generator_lag_warning(&self) -> Option<String> {
        (self.publisher_frames_skipped > 0).then(|| {
            format!(
                "the publishers skipped {} frames in the window, more than 200 ms behind their \
                 schedule: this process lacked CPU and sent less than asked",
                self.publisher_frames_skipped
            )
        })
    }
}

/// What one measurement window saw: metrics snapshots and CPU time taken at its two ends.
pub struct Window<'a> {
    pub seconds: f64,
    /// Metrics over the window (end minus start).
    pub delta: &'a Snapshot,
    /// Metrics over the whole run, up to the window's end.
    pub total: &'a Snapshot,
    pub server_cpu_seconds: Option<f64>,
    /// The load generator's own CPU time over the window.
    pub own_cpu_seconds: Option<f64>,
}

impl Report {
    /// Fills the packet, loss, delay and CPU figures from a measurement window, the same way
    /// for every load generator.
    pub fn with_window(self, window: &Window<'_>) -> Self {
        let (delta, seconds) = (window.delta, window.seconds);
        let server_cpu_seconds = window.server_cpu_seconds;
        Self {
            duration_s: round(seconds, 3),
            packets_received: delta.packets,
            audio_packets_received: delta.audio_packets,
            video_packets_received: delta.video_packets,
            packets_per_second: round(delta.packets as f64 / seconds, 1),
            payload_mbit_per_second: round(delta.bytes as f64 * 8.0 / seconds / 1e6, 3),
            packets_expected: delta.expected,
            packets_lost: delta.lost(),
            loss_ratio: round(delta.loss_ratio(), 6),
            delay_ms: delta.delay.percentiles(),
            audio_delay_ms: delta.audio_delay.percentiles(),
            video_delay_ms: delta.video_delay.percentiles(),
            unstamped_packets: delta.unstamped,
            total_packets_received: window.total.packets,
            total_loss_ratio: round(window.total.loss_ratio(), 6),
            server_cpu_seconds: server_cpu_seconds.map(|s| round(s, 3)),
            server_cpu_percent: server_cpu_seconds.map(|s| round(s / seconds * 100.0, 1)),
            packets_per_server_cpu_second: server_cpu_seconds
                .filter(|s| *s > 0.0)
                .map(|s| round(delta.packets as f64 / s, 0)),
            loadtest_cpu_percent: window
                .own_cpu_seconds
                .map(|s| round(s / seconds * 100.0, 1)),
            ..self
        }
    }
}

pub(crate) fn ms(duration: Duration) -> f64 {
    round(duration.as_secs_f64() * 1000.0, 3)
}

fn round(value: f64, digits: i32) -> f64 {
    let factor = 10f64.powi(digits);
    (value * factor).round() / factor
}

/// Joins `count` publishers or subscribers, `join_concurrency` at a time.
#[allow(clippy::too_many_arguments)]
async fn join_all(
    args: &LoadTestArgs,
    pluto: &str,
    signer: &Arc<TokenSigner>,
    metrics: &Arc<Metrics>,
    shared: &Arc<Tally>,
    publisher: bool,
    count: usize,
    cancel: &mut watch::Receiver<bool>,
) -> Vec<Joined> {
    let permits = Arc::new(Semaphore::new(args.join_concurrency));
    let mut joins = JoinSet::new();
    for index in 0..count {
        let permits = Arc::clone(&permits);
        let pluto = pluto.to_owned();
        let signer = Arc::clone(signer);
        let metrics = Arc::clone(metrics);
        let shared = Arc::clone(shared);
        let managed = args.managed_subscriptions;
        let audio_only = args.audio_only;
        joins.spawn(async move {
            let _permit = permits.acquire_owned().await.ok()?;
            let result = join_one(
                index, publisher, &pluto, &signer, metrics, &shared, managed, audio_only,
            )
            .await;
            match result {
                Ok(joined) => Some(joined),
                Err(error) => {
                    shared.join_failures.fetch_add(1, Ordering::Relaxed);
                    let role = if publisher { "publisher" } else { "subscriber" };
                    shared.error(format!("{role} {index}: {error:#}"));
                    None
                }
            }
        });
    }
    collect_joins(joins, cancel).await
}

/// The clients that joined, once every join has ended or `cancel` is set (then the joins
/// still running are aborted and those already done kept).
pub(crate) async fn collect_joins(
    mut joins: JoinSet<Option<Joined>>,
    cancel: &mut watch::Receiver<bool>,
) -> Vec<Joined> {
    let mut joined = Vec::with_capacity(joins.len());
    loop {
        // Decided inside, acted on outside: the borrow of `cancel` must not live across the
        // awaits below (the storm runs this on a spawned task).
        let cancelled = tokio::select! {
            next = joins.join_next() => match next {
                Some(Ok(Some(j))) => {
                    joined.push(j);
                    false
                }
                Some(_) => false,
                None => break,
            },
            _ = cancel.wait_for(|c| *c) => true,
        };
        if cancelled {
            joins.abort_all();
            while let Some(next) = joins.join_next().await {
                if let Ok(Some(j)) = next {
                    joined.push(j);
                }
            }
            break;
        }
    }
    joined
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn join_one(
    index: usize,
    publisher: bool,
    pluto: &str,
    signer: &TokenSigner,
    metrics: Arc<Metrics>,
    shared: &Arc<Tally>,
    managed_subscriptions: u8,
    audio_only: bool,
) -> anyhow::Result<Joined> {
    let name = if publisher {
        format!("load-pub-{index}")
    } else {
        format!("load-sub-{index}")
    };
    let token = signer.sign(&name, !publisher)?;
    let first_media = Arc::new(AtomicU64::new(0));
    let mut options = ClientOptions::new(pluto, token);
    options.display_name = Some(name);
    options.join_timeout = JOIN_TIMEOUT;
    if publisher {
        // Publishers only send: manual mode with no subscription receives nothing.
        options.managed_subscriptions = 0;
        options.media = MediaDelivery::Discard;
    } else {
        options.managed_subscriptions = managed_subscriptions;
        options.media =
            MediaDelivery::Sink(Box::new(Probe::new(metrics, Arc::clone(&first_media))));
    }
    let (client, events) = connect(options).await?;
    if publisher {
        shared.joined_publishers.fetch_add(1, Ordering::Relaxed);
    } else {
        shared.joined_subscribers.fetch_add(1, Ordering::Relaxed);
    }
    let connected = Arc::new(AtomicBool::new(false));
    tokio::spawn(watch_events(
        events,
        publisher,
        Arc::clone(&connected),
        Arc::clone(shared),
    ));
    if publisher {
        client
            .publish(PublishOptions {
                video: !audio_only,
                ..PublishOptions::default()
            })
            .await?;
    }
    Ok(Joined {
        client,
        publisher,
        connected,
        first_media,
    })
}

/// Follows a client's events: whether its media peer connection is up, and what went wrong.
async fn watch_events(
    mut events: EventStream,
    publisher: bool,
    connected: Arc<AtomicBool>,
    shared: Arc<Tally>,
) {
    let counter = if publisher {
        &shared.connected_publishers
    } else {
        &shared.connected_subscribers
    };
    let set = |up: bool| {
        if connected.swap(up, Ordering::Relaxed) != up {
            if up {
                counter.fetch_add(1, Ordering::Relaxed);
            } else {
                counter.fetch_sub(1, Ordering::Relaxed);
            }
        }
    };
    while let Some(event) = events.recv().await {
        match event {
            ClientEvent::PeerConnected { publisher: p, .. } if p == publisher => set(true),
            ClientEvent::PeerDisconnected { publisher: p } if p == publisher => set(false),
            ClientEvent::Closed { code, reason } => {
                set(false);
                shared.error(format!("closed by the server ({code:?}): {reason}"));
            }
            ClientEvent::ServerError(error) => shared.error(format!("server error: {error:?}")),
            ClientEvent::ProtocolError(error) => shared.error(format!("protocol error: {error}")),
            _ => {}
        }
    }
    set(false);
}
