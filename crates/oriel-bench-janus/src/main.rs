//! `oriel-bench-janus`: the load of `oriel load-test`, pointed at a Janus 1.1 VideoRoom.
//!
//! Joins `--publishers` publishers (Opus with audio levels plus VP8 simulcast q/h/f, or audio
//! only), then `--subscribers` subscribers that each subscribe to every publisher's streams,
//! all over Janus's WebSocket API and real ICE/DTLS/SRTP (str0m), waits until every peer
//! connection is up, measures for `--duration` seconds, and leaves. The report has the field
//! names of `oriel load-test --json` (the last line of stdout with `--json`), so that
//! `bench/run.sh` reads both tools alike. The room must exist (bench/run.sh writes it into
//! Janus's config).
//!
//! Traffic goes to loopback only; counts, durations and every wait are bounded.

mod janus;
mod peer;

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use oriel_client::stamp;
use serde::Serialize;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::peer::{Joined, Role};
use oriel_loadtest::{
    progress_lines, Attendee, Census, CpuClock, Metrics, Report, SenderCounts, Snapshot, Tally,
    Window,
};

const MAX_PUBLISHERS: usize = 100;
const MAX_SUBSCRIBERS: usize = 2_000;
const MAX_DURATION_SECS: u64 = 600;
/// Bounds, as in `oriel load-test`.
const PUBLISHER_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const LEAVE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Parser, Debug, Clone)]
#[command(
    version,
    about = "Load test of a Janus VideoRoom, measured like `oriel load-test`"
)]
struct Args {
    /// Janus's WebSocket API (loopback only).
    #[arg(long, default_value = "ws://127.0.0.1:8188")]
    janus: String,
    /// The VideoRoom room (it must exist and allow --publishers publishers).
    #[arg(long, default_value_t = 1234)]
    room: u64,
    #[arg(long, default_value_t = 1)]
    publishers: usize,
    #[arg(long, default_value_t = 10)]
    subscribers: usize,
    /// Seconds of measurement once everyone has joined and connected.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds to let the media run before the measurement window opens (steady state).
    #[arg(long, default_value_t = 0)]
    warmup: u64,
    /// Print one JSON object with the results as the last line of stdout.
    #[arg(long)]
    json: bool,
    /// Publishers send audio only.
    #[arg(long)]
    audio_only: bool,
    /// Janus's PID, to report its CPU time over the measurement (read from /proc).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Joins in flight at once.
    #[arg(long, default_value_t = 16)]
    join_concurrency: usize,
}

/// `oriel load-test`'s report, field for field, marked as Janus's.
#[derive(Serialize, Debug)]
struct JanusReport {
    server: &'static str,
    #[serde(flatten)]
    report: Report,
}

fn validate(args: &Args) -> anyhow::Result<()> {
    if args.publishers == 0 || args.publishers > MAX_PUBLISHERS {
        bail!("--publishers must be 1 to {MAX_PUBLISHERS}");
    }
    if args.subscribers > MAX_SUBSCRIBERS {
        bail!("--subscribers must be at most {MAX_SUBSCRIBERS}");
    }
    if !(1..=MAX_DURATION_SECS).contains(&args.duration) {
        bail!("--duration must be 1 to {MAX_DURATION_SECS} seconds");
    }
    if args.warmup > MAX_DURATION_SECS {
        bail!("--warmup must be at most {MAX_DURATION_SECS} seconds");
    }
    if !(1..=256).contains(&args.join_concurrency) {
        bail!("--join-concurrency must be 1 to 256");
    }
    let host = args
        .janus
        .strip_prefix("ws://")
        .and_then(|rest| rest.split(['/', ':']).next())
        .context("--janus must be a ws:// URL")?;
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("--janus must be a loopback address, not {host}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    validate(&args)?;
    let report = run(&args).await;
    report.report.print_summary("bench-janus");
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

async fn join_all(
    args: &Args,
    publisher: bool,
    count: usize,
    feeds: &[u64],
    metrics: &Arc<Metrics>,
    shared: &Arc<Tally>,
    stop: &watch::Receiver<bool>,
) -> Vec<Joined> {
    let permits = Arc::new(Semaphore::new(args.join_concurrency));
    let mut joins = JoinSet::new();
    for index in 0..count {
        let permits = Arc::clone(&permits);
        let url = args.janus.clone();
        let room = args.room;
        let metrics = Arc::clone(metrics);
        let shared = Arc::clone(shared);
        let stop = stop.clone();
        let role = if publisher {
            Role::Publisher {
                audio_only: args.audio_only,
            }
        } else {
            Role::Subscriber {
                feeds: feeds.to_vec(),
            }
        };
        joins.spawn(async move {
            let _permit = permits.acquire_owned().await.ok()?;
            match peer::join(&url, room, index, role, metrics, Arc::clone(&shared), stop).await {
                Ok(joined) => Some(joined),
                Err(error) => {
                    shared.join_failures.fetch_add(1, Ordering::Relaxed);
                    let who = if publisher { "publisher" } else { "subscriber" };
                    shared.error(format!("{who} {index}: {error:#}"));
                    None
                }
            }
        });
    }
    let mut joined = Vec::with_capacity(count);
    while let Some(next) = joins.join_next().await {
        if let Ok(Some(j)) = next {
            joined.push(j);
        }
    }
    joined
}

async fn wait_connected(everyone: &[Joined], limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline
        && everyone
            .iter()
            .any(|j| !j.connected.load(Ordering::Relaxed) && !j.task.is_finished())
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn run(args: &Args) -> JanusReport {
    let _ = stamp::epoch();
    let metrics = Arc::new(Metrics::default());
    let shared = Arc::new(Tally::default());
    let (stop_tx, stop) = watch::channel(false);
    let started = Instant::now();
    let server_cpu = args.server_pid.map(CpuClock::process);
    let own_cpu = CpuClock::own();
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
        stop.clone(),
    ));
    eprintln!(
        "bench-janus: joining {} publishers and {} subscribers to room {} at {}",
        args.publishers, args.subscribers, args.room, args.janus
    );

    let mut everyone = join_all(args, true, args.publishers, &[], &metrics, &shared, &stop).await;
    wait_connected(&everyone, PUBLISHER_CONNECT_TIMEOUT).await;
    let feeds: Vec<u64> = everyone.iter().filter_map(|j| j.feed).collect();
    if !feeds.is_empty() {
        let subscribers = join_all(
            args,
            false,
            args.subscribers,
            &feeds,
            &metrics,
            &shared,
            &stop,
        )
        .await;
        everyone.extend(subscribers);
    }
    wait_connected(&everyone, CONNECT_TIMEOUT).await;

    let sent = |everyone: &[Joined]| SenderCounts::sum(everyone.iter().map(|j| &*j.counters));
    eprintln!(
        "bench-janus: everyone joined and connected in {:.1}s; measuring for {}s",
        started.elapsed().as_secs_f64(),
        args.duration
    );
    if args.warmup > 0 {
        eprintln!("bench-janus: warming up for {}s first", args.warmup);
        tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    }
    let window_start = Instant::now();
    let before: Snapshot = metrics.snapshot();
    let sent_before = sent(&everyone);
    let server_before = server_cpu.as_ref().and_then(CpuClock::seconds);
    let own_before = own_cpu.seconds();
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    let window = window_start.elapsed().as_secs_f64().max(1e-3);
    let after = metrics.snapshot();
    let sent_after = sent(&everyone);
    let server_after = server_cpu.as_ref().and_then(CpuClock::seconds);
    let own_after = own_cpu.seconds();

    let mut census = Census::default();
    for joined in &everyone {
        census.count(&Attendee {
            publisher: joined.publisher,
            connected: joined.connected.load(Ordering::Relaxed) && !joined.task.is_finished(),
            opened_at: joined.opened_at,
            joined_at: joined.joined_at,
            first_media_nanos: joined.first_media.load(Ordering::Relaxed),
        });
    }

    eprintln!("bench-janus: leaving");
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(LEAVE_TIMEOUT, async {
        for joined in &mut everyone {
            let _ = (&mut joined.task).await;
        }
    })
    .await;
    for joined in &everyone {
        joined.task.abort();
    }
    let _ = progress.await;

    let delta = after.since(&before);
    let server_cpu_seconds = server_before.zip(server_after).map(|(b, a)| a - b);
    let errors = shared.errors();
    let report = Report {
        publishers: args.publishers,
        subscribers: args.subscribers,
        publishers_connected: census.publishers_connected,
        subscribers_connected: census.subscribers_connected,
        subscribers_receiving: census.subscribers_receiving,
        join_failures: shared.join_failures.load(Ordering::Relaxed),
        join_ms: census.join_ms(),
        first_media_ms: census.first_media_ms(),
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
    });
    JanusReport {
        server: "janus",
        report,
    }
}
