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
mod census;
mod cpu;
mod metrics;
mod progress;
mod run;
mod sender_counts;
mod storm;
mod summary;
mod tally;
mod token;

pub use census::{Attendee, Census};
pub use cpu::CpuClock;
pub use metrics::{Histogram, HistogramSnapshot, Metrics, Probe, Received, Snapshot};
pub use progress::{progress_lines, PeerCounts};
pub use run::{
    run, LoadTestArgs, Percentiles, Report, Window, MAX_DURATION_SECS, MAX_PUBLISHERS,
    MAX_SUBSCRIBERS,
};
pub use sender_counts::SenderCounts;
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
    report.print_summary("load-test");
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    if report.interrupted {
        anyhow::bail!("interrupted");
    }
    Ok(())
}
