//! Handover: a new `oriel serve` on the same `--listen` and `--data-dir` takes over from a
//! running one without a refused connection (the Mux SDK waits forever after one).
//!
//! Two lock files in the data directory say who is who, and the kernel drops both locks when a
//! process dies, however it dies:
//!
//! - `oriel.lock`, held exclusively by the primary: the node whose view of the spaces is the
//!   truth. A node that finds it free at start is alone, so every space still marked active is
//!   stale and goes idle.
//! - `oriel.successor.lock`, held shared by a node that started while a primary ran. The
//!   primary probes it at shutdown: if a successor holds it, the participants the primary
//!   closes are about to reconnect to the successor, so the primary must not mark their spaces
//!   idle. A successor waits for `oriel.lock` on a thread of its own; once it holds it (the old
//!   node is gone), it marks idle the spaces it holds nobody of.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::Path;

use tokio::sync::oneshot;

const PRIMARY_LOCK: &str = "oriel.lock";
const SUCCESSOR_LOCK: &str = "oriel.successor.lock";

pub enum Role {
    /// Alone on the data directory.
    Primary(Primary),
    /// Started beside a running node; `promoted` resolves when that node is gone.
    Successor {
        promoted: oneshot::Receiver<io::Result<Primary>>,
    },
}

/// Holds the primary lock for as long as it lives.
pub struct Primary {
    _lock: File,
    successor_lock: std::path::PathBuf,
}

pub fn start(data_dir: &Path) -> io::Result<Role> {
    let primary = open(&data_dir.join(PRIMARY_LOCK))?;
    let successor_lock = data_dir.join(SUCCESSOR_LOCK);
    match primary.try_lock() {
        Ok(()) => {
            return Ok(Role::Primary(Primary {
                _lock: primary,
                successor_lock,
            }))
        }
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(error)) => return Err(error),
    }
    // Shared: the primary's exclusive probe fails while we hold it. Held (by this file
    // handle) until we are primary ourselves, so that our own probe later does not see us.
    let mark = open(&successor_lock)?;
    mark.lock_shared()?;
    let (tx, promoted) = oneshot::channel();
    // A plain thread, not the blocking pool: the runtime waits for blocking tasks at exit, and
    // a successor stopped before its primary must still exit.
    std::thread::Builder::new()
        .name("oriel-handover".into())
        .spawn(move || {
            let result = primary.lock().map(|()| Primary {
                _lock: primary,
                successor_lock,
            });
            drop(mark);
            let _ = tx.send(result);
        })?;
    Ok(Role::Successor { promoted })
}

impl Primary {
    /// True when another node is waiting to take over from this one.
    pub fn successor_waiting(&self) -> bool {
        let Ok(file) = open(&self.successor_lock) else {
            return false;
        };
        match file.try_lock() {
            Ok(()) => false,
            Err(TryLockError::WouldBlock) => true,
            Err(TryLockError::Error(error)) => {
                tracing::warn!(%error, "cannot probe for a successor; assuming none");
                false
            }
        }
    }
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_node_is_a_successor_until_the_first_is_gone() {
        let dir = std::env::temp_dir().join(format!("oriel-handover-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let Role::Primary(first) = start(&dir).unwrap() else {
            panic!("alone, the first node is primary");
        };
        assert!(!first.successor_waiting());
        let Role::Successor { promoted } = start(&dir).unwrap() else {
            panic!("beside a primary, a node is a successor");
        };
        assert!(first.successor_waiting());
        drop(first);
        let second = tokio::time::timeout(std::time::Duration::from_secs(5), promoted)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(!second.successor_waiting(), "its own mark is gone");
        drop(second);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
