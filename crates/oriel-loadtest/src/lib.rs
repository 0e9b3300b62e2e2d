//! `oriel load-test`: a load generator and meter for an Oriel node, built on `oriel-client`.
//!
//! It creates a signing key and a space through the REST API (HTTP Basic), signs join tokens
//! with the key, joins `--publishers` publishers (Opus with audio levels plus three-layer VP8
//! simulcast, synthetic but packetized like a browser's) and then `--subscribers`
//! subscribers through the real signaling and WebRTC, measures for `--duration` seconds what
//! the subscribers receive (packets, loss from RTP sequence numbers, one-way delay from send
//! stamps the publishers embed, join and first-media times), and deletes what it created,
//! also after a failure or Ctrl-C. A progress line goes to stderr every second; with `--json`
//! the last line of stdout is one JSON object ([`Report`]).
//!
//! Traffic goes to loopback addresses only, every loop is bounded, and the counts and the
//! duration are capped ([`MAX_PUBLISHERS`], [`MAX_SUBSCRIBERS`], [`MAX_DURATION_SECS`]).

mod api;
mod cpu;
mod metrics;
mod progress;
mod run;
mod storm;
mod tally;
mod token;

pub use cpu::CpuClock;
pub use metrics::{Histogram, HistogramSnapshot, Metrics, Probe, Received, Snapshot};
pub use progress::{progress_lines, PeerCounts};
pub use run::{
    run, LoadTestArgs, Percentiles, Report, Window, MAX_DURATION_SECS, MAX_PUBLISHERS,
    MAX_SUBSCRIBERS,
};
pub use tally::Tally;

/// The `oriel load-test` command: runs, prints, and cleans up on Ctrl-C (a second Ctrl-C
/// exits at once).
pub async fn main(args: LoadTestArgs) -> anyhow::Result<()> {
    let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "load-test: interrupted; leaving and deleting the space (Ctrl-C again to quit now)"
            );
            let _ = cancel_tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let report = run(&args, cancel).await?;
    print_summary(&report);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    if report.interrupted {
        anyhow::bail!("interrupted");
    }
    Ok(())
}

fn print_summary(r: &Report) {
    let f = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    eprintln!(
        "load-test: {}/{} publishers and {}/{} subscribers connected ({} receiving, {} join failures)",
        r.publishers_connected,
        r.publishers,
        r.subscribers_connected,
        r.subscribers,
        r.subscribers_receiving,
        r.join_failures
    );
    eprintln!(
        "load-test: {} packets in {:.1}s ({:.0}/s, {:.2} Mbit/s), loss {:.3}%, delay p50 {} p95 {} p99 {} ms",
        r.packets_received,
        r.duration_s,
        r.packets_per_second,
        r.payload_mbit_per_second,
        r.loss_ratio * 100.0,
        f(r.delay_ms.p50),
        f(r.delay_ms.p95),
        f(r.delay_ms.p99)
    );
    eprintln!(
        "load-test: join p50 {} p99 {} ms, first media p50 {} p99 {} ms",
        f(r.join_ms.p50),
        f(r.join_ms.p99),
        f(r.first_media_ms.p50),
        f(r.first_media_ms.p99)
    );
    if let (Some(cpu), Some(rate)) = (r.server_cpu_percent, r.packets_per_server_cpu_second) {
        eprintln!("load-test: server CPU {cpu:.1}% of a core, {rate:.0} packets per CPU-second");
    }
    if let Some(warning) = r.generator_lag_warning() {
        eprintln!("load-test: warning: {warning}");
    }
    for error in &r.errors {
        eprintln!("load-test: error: {error}");
    }
}
