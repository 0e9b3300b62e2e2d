//! The CPU time spent inside the space's own calls (its sans-IO core and str0m), apart from
//! the harness's clients and links around them: what `benches/core_cost.rs` divides by the
//! datagrams the space sent. Off unless a run asks for it, since each reading is a system call.

use std::time::Duration;

use rustix::time::{clock_gettime, ClockId};

#[derive(Clone, Copy, Debug, Default)]
pub struct CoreCpu {
    enabled: bool,
    total: Duration,
}

impl CoreCpu {
    pub fn enable(&mut self) {
        self.enabled = true;
    }

    /// Thread CPU time inside the space's calls since [`Self::enable`].
    pub fn total(&self) -> Duration {
        self.total
    }

    /// Runs `work`, adding this thread's CPU time in it to the total when enabled. Thread CPU
    /// time, not wall time: other processes on the machine do not count.
    pub fn time<T>(&mut self, work: impl FnOnce() -> T) -> T {
        if !self.enabled {
            return work();
        }
        let before = thread_cpu();
        let result = work();
        self.total += thread_cpu().saturating_sub(before);
        result
    }
}

fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}
