//! A join storm during the measurement (`--storm-subscribers N --storm-seconds S`): N more
//! subscribers join the space, evenly spread over the first S seconds of the window, while the
//! subscribers already there are measured. What the storm does to them (loss, delay) is the
//! window's figures; the storm's own joiners are counted apart (their media goes to metrics of
//! their own), with their join and first-media times.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::metrics::Metrics;
use crate::run::{collect_joins, join_one, Joined};
use crate::tally::Tally;
use crate::token::TokenSigner;

/// Who joins in the storm, and how.
pub(crate) struct Storm {
    pub(crate) subscribers: usize,
    pub(crate) over: Duration,
    /// Index of the first joiner (after the measured subscribers), for unique names.
    pub(crate) first_index: usize,
    pub(crate) managed_subscriptions: u8,
    pub(crate) audio_only: bool,
}

/// Starts the storm now: joiner `i` starts at `i * over / subscribers`. Resolves to those that
/// joined, once all have tried (each bounded by the join timeout) or `cancel` is set.
pub(crate) async fn run(
    storm: Storm,
    pluto: String,
    signer: Arc<TokenSigner>,
    shared: Arc<Tally>,
    mut cancel: watch::Receiver<bool>,
) -> Vec<Joined> {
    // Their media is not the measured subscribers'.
    let metrics = Arc::new(Metrics::default());
    let start = Instant::now();
    let step = storm.over / storm.subscribers.max(1) as u32;
    let mut joins = JoinSet::new();
    for i in 0..storm.subscribers {
        let (pluto, signer, shared, metrics) = (
            pluto.clone(),
            Arc::clone(&signer),
            Arc::clone(&shared),
            Arc::clone(&metrics),
        );
        let index = storm.first_index + i;
        let at = start + step * i as u32;
        let (managed, audio_only) = (storm.managed_subscriptions, storm.audio_only);
        joins.spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            match join_one(
                index, false, &pluto, &signer, metrics, &shared, managed, audio_only,
            )
            .await
            {
                Ok(joined) => Some(joined),
                Err(error) => {
                    shared.join_failures.fetch_add(1, Ordering::Relaxed);
                    shared.error(format!("storm subscriber {index}: {error:#}"));
                    None
                }
            }
        });
    }
    collect_joins(joins, &mut cancel).await
}
