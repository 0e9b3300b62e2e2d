//! CPU time of a process (user + system, all threads), read from `/proc/PID/stat`.

use std::sync::OnceLock;

/// Reads one process's CPU time.
#[derive(Clone, Debug)]
pub struct CpuClock {
    path: String,
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux unless configured otherwise).
fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

impl CpuClock {
    pub fn process(pid: u32) -> Self {
        Self {
            path: format!("/proc/{pid}/stat"),
        }
    }

    pub fn own() -> Self {
        Self {
            path: "/proc/self/stat".to_owned(),
        }
    }

    /// CPU seconds used so far; `None` when the process is gone or /proc is unreadable.
    pub fn seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(&self.path).ok()?;
        parse_stat(&stat).map(|ticks| ticks as f64 / ticks_per_second())
    }
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line; the command name (field 2)
/// may contain spaces and parentheses, so fields are counted after its last `)`.
fn parse_stat(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat() {
        let line =
            "1234 (oriel (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_stat(line), Some(325));
        assert!(CpuClock::own().seconds().is_some());
        assert_eq!(CpuClock::process(u32::MAX).seconds(), None);
    }
}
