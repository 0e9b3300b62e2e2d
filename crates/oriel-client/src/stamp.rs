//! Send timestamps embedded in synthetic media payloads, and the process clock they use.
//!
//! Publishers and subscribers of a load test live in one process, so one monotonic clock
//! serves both ends: a publisher writes "nanoseconds since [`epoch`]" into each payload, a
//! subscriber subtracts it from the arrival time and gets the one-way delay without any
//! clock synchronisation.
//!
//! Where the stamp sits (so that a receiver finds it without help from the sender):
//!
//! * **Opus:** right after the TOC byte (payload offset 1).
//! * **VP8:** right after the RFC 7741 payload descriptor, and on a frame's first packet after
//!   the VP8 frame header (3 bytes for an inter frame, 10 for a keyframe), so that the start
//!   of every frame still looks like VP8 to anything that checks keyframes.
//!
//! A stamp is [`STAMP_LEN`] bytes: a 2-byte magic then a big-endian `u64`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use str0m::media::MediaKind;

/// Bytes a stamp takes in a payload.
pub const STAMP_LEN: usize = 10;
const MAGIC: [u8; 2] = [0x0e, 0xa1];

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// The process's media clock origin: fixed the first time anything asks for it.
pub fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// `at` on the process media clock.
pub fn nanos_since_epoch(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX)
}

/// Appends a stamp for `sent_at` to `out`.
pub fn write(out: &mut Vec<u8>, sent_at: Instant) {
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&nanos_since_epoch(sent_at).to_be_bytes());
}

/// Overwrites the stamp that [`write`] put at `offset` with `sent_at`: for a packet stamped
/// when it was made and sent later.
pub fn rewrite_at(payload: &mut [u8], offset: usize, sent_at: Instant) {
    if let Some(stamp) = payload.get_mut(offset..offset.saturating_add(STAMP_LEN)) {
        stamp[..2].copy_from_slice(&MAGIC);
        stamp[2..].copy_from_slice(&nanos_since_epoch(sent_at).to_be_bytes());
    }
}

/// The stamp at `offset`, if one is there.
pub fn read_at(payload: &[u8], offset: usize) -> Option<Instant> {
    let stamp = payload.get(offset..offset.checked_add(STAMP_LEN)?)?;
    if stamp[..2] != MAGIC {
        return None;
    }
    let mut nanos = [0u8; 8];
    nanos.copy_from_slice(&stamp[2..]);
    Some(epoch() + Duration::from_nanos(u64::from_be_bytes(nanos)))
}

/// The send time embedded in a received payload of `kind`, if it carries one.
pub fn read(kind: MediaKind, payload: &[u8]) -> Option<Instant> {
    let offset = match kind {
        MediaKind::Audio => 1,
        MediaKind::Video => vp8_stamp_offset(payload)?,
    };
    read_at(payload, offset)
}

/// Length of a VP8 payload descriptor (RFC 7741 §4.2).
pub fn vp8_descriptor_len(payload: &[u8]) -> Option<usize> {
    let b0 = *payload.first()?;
    let mut at = 1;
    if b0 & 0x80 != 0 {
        let x = *payload.get(at)?;
        at += 1;
        if x & 0x80 != 0 {
            // I: picture id, 7 or 15 bits (M bit).
            at += if *payload.get(at)? & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // L: TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // T or K: TID/Y/KEYIDX
        }
    }
    (at <= payload.len()).then_some(at)
}

/// Whether a VP8 payload starts a frame, and if so whether that frame is a keyframe.
pub fn vp8_frame_start(payload: &[u8]) -> Option<bool> {
    let b0 = *payload.first()?;
    if b0 & 0x10 == 0 || b0 & 0x07 != 0 {
        return None;
    }
    let tag = *payload.get(vp8_descriptor_len(payload)?)?;
    Some(tag & 0x01 == 0)
}

/// Where the stamp of a VP8 packet starts: after the descriptor, and after the frame header
/// on the first packet of a frame (S bit set, partition 0).
fn vp8_stamp_offset(payload: &[u8]) -> Option<usize> {
    let descriptor = vp8_descriptor_len(payload)?;
    let b0 = payload[0];
    let frame_start = b0 & 0x10 != 0 && b0 & 0x07 == 0;
    if !frame_start {
        return Some(descriptor);
    }
    let tag = *payload.get(descriptor)?;
    Some(descriptor + if tag & 0x01 == 0 { 10 } else { 3 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_read_back() {
        let at = epoch() + Duration::from_micros(1234);
        let mut audio = vec![0x78];
        write(&mut audio, at);
        audio.extend_from_slice(&[0; 40]);
        assert_eq!(read(MediaKind::Audio, &audio), Some(at));
        // Not a stamp: wrong magic.
        assert_eq!(read(MediaKind::Audio, &[0x78; 40]), None);
        assert_eq!(read(MediaKind::Audio, &[0x78]), None);
        let later = at + Duration::from_millis(3);
        rewrite_at(&mut audio, 1, later);
        assert_eq!(read(MediaKind::Audio, &audio), Some(later));
    }

    #[test]
    fn finds_the_stamp_in_vp8_packets() {
        let at = epoch() + Duration::from_millis(7);
        // Keyframe start: descriptor (X,S; I,L,T; 15-bit pid; tl0; tid), 10-byte header.
        let mut key = vec![0x90, 0xE0, 0x81, 0x23, 0x05, 0x20];
        key.extend_from_slice(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]);
        write(&mut key, at);
        assert_eq!(read(MediaKind::Video, &key), Some(at));
        // Inter frame start: 3-byte header.
        let mut delta = vec![0x90, 0xE0, 0x81, 0x23, 0x05, 0x20, 0x11, 0x02, 0x00];
        write(&mut delta, at);
        assert_eq!(read(MediaKind::Video, &delta), Some(at));
        // Continuation packet: right after the descriptor; a 7-bit picture id works too.
        let mut cont = vec![0x80, 0x80, 0x23];
        write(&mut cont, at);
        assert_eq!(read(MediaKind::Video, &cont), Some(at));
        assert_eq!(read(MediaKind::Video, &[]), None);
        assert_eq!(read(MediaKind::Video, &[0x80]), None);
    }
}
