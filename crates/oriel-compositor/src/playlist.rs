//! The HLS playlist, written by us rather than hlssink2 so that a compositor restarted by the
//! node on the same directory continues the recording (segment numbers go on after the last
//! one, an `EXT-X-DISCONTINUITY` marks the restart) instead of overwriting it, and so that the
//! file is replaced atomically (written aside, then renamed) while the node serves it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub const PLAYLIST: &str = "index.m3u8";

#[derive(Clone, Debug, PartialEq)]
struct Entry {
    name: String,
    seconds: f64,
    discontinuity: bool,
}

/// The playlist of one broadcast's HLS directory.
#[derive(Debug)]
pub struct Playlist {
    path: PathBuf,
    target: u32,
    entries: Vec<Entry>,
    /// The next entry follows a restart.
    resumed: bool,
    ended: bool,
}

/// `segmentNNNNN.ts` -> NNNNN.
fn segment_number(name: &str) -> Option<u32> {
    name.strip_prefix("segment")?
        .strip_suffix(".ts")?
        .parse()
        .ok()
}

impl Playlist {
    /// The playlist of `dir`, continuing what an earlier run wrote there (if anything).
    pub fn resume(dir: &Path, target: u32) -> Self {
        let path = dir.join(PLAYLIST);
        let mut entries = Vec::new();
        if let Ok(text) = std::fs::read_to_string(&path) {
            let mut seconds = None;
            let mut discontinuity = false;
            for line in text.lines().map(str::trim) {
                if let Some(rest) = line.strip_prefix("#EXTINF:") {
                    seconds = rest.split(',').next().unwrap_or(rest).trim().parse().ok();
                } else if line == "#EXT-X-DISCONTINUITY" {
                    discontinuity = true;
                } else if !line.is_empty() && !line.starts_with('#') {
                    if let Some(s) = seconds.take() {
                        entries.push(Entry {
                            name: line.to_owned(),
                            seconds: s,
                            discontinuity,
                        });
                    }
                    discontinuity = false;
                }
            }
        }
        Self {
            path,
            target,
            resumed: !entries.is_empty(),
            entries,
            ended: false,
        }
    }

    /// The number of the next segment file.
    pub fn next_index(&self) -> u32 {
        self.entries
            .iter()
            .filter_map(|e| segment_number(&e.name))
            .max()
            .map_or(0, |n| n + 1)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a finished segment (by file name) and rewrites the playlist.
    pub fn add(&mut self, name: &str, seconds: f64) -> std::io::Result<()> {
        self.entries.push(Entry {
            name: name.to_owned(),
            seconds,
            discontinuity: std::mem::take(&mut self.resumed),
        });
        self.write()
    }

    /// Marks the end (`EXT-X-ENDLIST`) and rewrites the playlist.
    pub fn end(&mut self) -> std::io::Result<()> {
        self.ended = true;
        self.write()
    }

    pub fn render(&self) -> String {
        let longest = self
            .entries
            .iter()
            .map(|e| e.seconds.round() as u32)
            .max()
            .unwrap_or(0);
        let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
        let _ = writeln!(out, "#EXT-X-TARGETDURATION:{}", self.target.max(longest));
        out.push_str("#EXT-X-MEDIA-SEQUENCE:0\n");
        for entry in &self.entries {
            if entry.discontinuity {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            let _ = writeln!(out, "#EXTINF:{:.3},\n{}", entry.seconds, entry.name);
        }
        if self.ended {
            out.push_str("#EXT-X-ENDLIST\n");
        }
        out
    }

    /// Written aside then renamed: a reader never sees half a playlist.
    fn write(&self) -> std::io::Result<()> {
        let aside = self.path.with_extension("m3u8.tmp");
        std::fs::write(&aside, self.render())?;
        std::fs::rename(&aside, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_segments_and_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Playlist::resume(dir.path(), 2);
        assert!(p.is_empty());
        assert_eq!(p.next_index(), 0);
        p.add("segment00000.ts", 2.0).unwrap();
        p.add("segment00001.ts", 1.967).unwrap();
        let text = std::fs::read_to_string(dir.path().join(PLAYLIST)).unwrap();
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
             #EXTINF:2.000,\nsegment00000.ts\n#EXTINF:1.967,\nsegment00001.ts\n"
        );
        p.end().unwrap();
        let text = std::fs::read_to_string(dir.path().join(PLAYLIST)).unwrap();
        assert!(text.ends_with("segment00001.ts\n#EXT-X-ENDLIST\n"));
        // A long segment raises the target duration (HLS requires it).
        p.add("segment00002.ts", 4.0).unwrap();
        assert!(p.render().contains("#EXT-X-TARGETDURATION:4\n"));
    }

    #[test]
    fn a_restart_continues_the_recording() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Playlist::resume(dir.path(), 2);
        first.add("segment00000.ts", 2.0).unwrap();
        first.add("segment00001.ts", 2.0).unwrap();
        first.end().unwrap();
        let mut second = Playlist::resume(dir.path(), 2);
        assert_eq!(second.len(), 2);
        assert_eq!(second.next_index(), 2);
        second.add("segment00002.ts", 2.0).unwrap();
        let text = second.render();
        assert!(
            text.contains(
                "segment00001.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\nsegment00002.ts\n"
            ),
            "{text}"
        );
        assert!(!text.contains("ENDLIST"), "live again");
        // A third run keeps both runs and the first discontinuity.
        let third = Playlist::resume(dir.path(), 2);
        assert_eq!(third.len(), 3);
        assert_eq!(third.next_index(), 3);
        assert_eq!(third.render().matches("DISCONTINUITY").count(), 1);
    }
}
