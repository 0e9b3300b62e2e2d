//! The few lines a load generator prints on stderr when it ends, the same for `oriel
//! load-test` and the Janus generator of `bench/` (each names itself).

use crate::run::Report;

impl Report {
    /// Prints the summary, each line prefixed with `tool`.
    pub fn print_summary(&self, tool: &str) {
        let f = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        eprintln!(
            "{tool}: {}/{} publishers and {}/{} subscribers connected ({} receiving, {} join failures)",
            self.publishers_connected,
            self.publishers,
            self.subscribers_connected,
            self.subscribers,
            self.subscribers_receiving,
            self.join_failures
        );
        eprintln!(
            "{tool}: {} packets in {:.1}s ({:.0}/s, {:.2} Mbit/s), loss {:.3}%, delay p50 {} p95 {} p99 {} ms",
            self.packets_received,
            self.duration_s,
            self.packets_per_second,
            self.payload_mbit_per_second,
            self.loss_ratio * 100.0,
            f(self.delay_ms.p50),
            f(self.delay_ms.p95),
            f(self.delay_ms.p99)
        );
        eprintln!(
            "{tool}: join p50 {} p99 {} ms, first media p50 {} p99 {} ms",
            f(self.join_ms.p50),
            f(self.join_ms.p99),
            f(self.first_media_ms.p50),
            f(self.first_media_ms.p99)
        );
        if let (Some(cpu), Some(rate)) =
            (self.server_cpu_percent, self.packets_per_server_cpu_second)
        {
            eprintln!("{tool}: server CPU {cpu:.1}% of a core, {rate:.0} packets per CPU-second");
        }
        if let Some(warning) = self.generator_lag_warning() {
            eprintln!("{tool}: warning: {warning}");
        }
        for error in &self.errors {
            eprintln!("{tool}: error: {error}");
        }
    }
}
