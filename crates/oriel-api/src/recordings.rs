//! Where a live stream's HLS recordings live under the data directory:
//!
//! ```text
//! DATA_DIR/hls/LIVE_STREAM_ID/current          the name of the recording being played
//! DATA_DIR/hls/LIVE_STREAM_ID/REC/index.m3u8   one recording (one broadcast run): the playlist
//! DATA_DIR/hls/LIVE_STREAM_ID/REC/segment00000.ts ...
//! ```
//!
//! Every start of a broadcast begins a new recording; the one before stays until the retention
//! period has passed since it was last written.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Names a recording directory may have: what `begin` makes, nothing a path could escape with.
fn is_recording_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Segment file names the compositor writes.
pub fn is_segment_name(name: &str) -> bool {
    name.strip_prefix("segment")
        .and_then(|rest| rest.strip_suffix(".ts"))
        .is_some_and(|digits| {
            !digits.is_empty() && digits.len() <= 10 && digits.bytes().all(|b| b.is_ascii_digit())
        })
}

#[derive(Clone, Debug)]
pub struct Recordings {
    root: PathBuf,
    retention: Duration,
}

impl Recordings {
    pub fn new(data_dir: &Path, retention: Duration) -> Self {
        Self {
            root: data_dir.join("hls"),
            retention,
        }
    }

    fn stream_dir(&self, live_stream_id: &str) -> Option<PathBuf> {
        is_recording_name(live_stream_id).then(|| self.root.join(live_stream_id))
    }

    /// Makes a new, empty recording and makes it the current one; returns its directory.
    pub fn begin(&self, live_stream_id: &str, now_unix: i64) -> std::io::Result<PathBuf> {
        let stream_dir = self.stream_dir(live_stream_id).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad live stream id")
        })?;
        self.forget_expired(&stream_dir);
        let mut name = now_unix.to_string();
        let mut n = 1;
        while stream_dir.join(&name).exists() {
            n += 1;
            name = format!("{now_unix}-{n}");
        }
        let dir = stream_dir.join(&name);
        std::fs::create_dir_all(&dir)?;
        // Written aside and renamed: a reader never sees half a name.
        let pointer = stream_dir.join("current.tmp");
        std::fs::write(&pointer, &name)?;
        std::fs::rename(pointer, stream_dir.join("current"))?;
        Ok(dir)
    }

    /// The directory of the current recording, if the live stream has one.
    pub fn current(&self, live_stream_id: &str) -> Option<PathBuf> {
        let stream_dir = self.stream_dir(live_stream_id)?;
        let name = std::fs::read_to_string(stream_dir.join("current")).ok()?;
        let name = name.trim();
        is_recording_name(name).then(|| stream_dir.join(name))
    }

    /// Removes a live stream's recordings (it was deleted).
    pub fn remove_all(&self, live_stream_id: &str) {
        if let Some(dir) = self.stream_dir(live_stream_id) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Deletes recordings other than the current one not written to within the retention.
    fn forget_expired(&self, stream_dir: &Path) {
        let current = std::fs::read_to_string(stream_dir.join("current")).unwrap_or_default();
        let Ok(entries) = std::fs::read_dir(stream_dir) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == current.trim() || !is_recording_name(&name) || name == "current" {
                continue;
            }
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|modified| now.duration_since(modified).ok());
            if age.is_some_and(|age| age > self.retention) {
                if let Err(error) = std::fs::remove_dir_all(entry.path()) {
                    tracing::warn!(%error, path = %entry.path().display(), "an expired recording could not be removed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_are_refused() {
        assert!(is_segment_name("segment00042.ts"));
        for bad in [
            "segment.ts",
            "segment1.ts/..",
            "../segment1.ts",
            "segment1.m3u8",
            "segmentA.ts",
        ] {
            assert!(!is_segment_name(bad), "{bad}");
        }
        assert!(is_recording_name("1700000000-2"));
        for bad in ["", "..", "a/b", "a.b"] {
            assert!(!is_recording_name(bad), "{bad}");
        }
    }

    #[test]
    fn each_begin_is_a_new_current_recording_and_old_ones_expire() {
        let data = std::env::temp_dir().join(format!("oriel-recordings-{}", oriel_store::new_id()));
        let keep = Recordings::new(&data, Duration::from_secs(3600));
        let first = keep.begin("stream1", 100).unwrap();
        assert_eq!(keep.current("stream1"), Some(first.clone()));
        let second = keep.begin("stream1", 100).unwrap();
        assert_ne!(first, second);
        assert_eq!(keep.current("stream1"), Some(second.clone()));
        assert!(first.exists(), "kept within the retention");
        let expire = Recordings::new(&data, Duration::ZERO);
        std::thread::sleep(Duration::from_millis(20));
        let third = expire.begin("stream1", 300).unwrap();
        assert!(
            !first.exists(),
            "an older recording past its retention went"
        );
        assert!(
            second.exists(),
            "the one current until now is left for the next cleanup"
        );
        assert!(third.exists());
        assert_eq!(keep.current("other"), None);
        assert!(keep.begin("../x", 1).is_err());
        std::fs::remove_dir_all(data).unwrap();
    }
}
