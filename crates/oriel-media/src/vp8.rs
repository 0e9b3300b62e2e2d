//! VP8 over RTP: the payload descriptor (RFC 7741 section 4.2), keyframe detection, and rewriting
//! of picture id and TL0PICIDX so that a Consumer sees one continuous VP8 stream across simulcast
//! layer switches.
//!
//! ```text
//!       0 1 2 3 4 5 6 7
//!      +-+-+-+-+-+-+-+-+
//!      |X|R|N|S|R| PID | (REQUIRED)
//!      +-+-+-+-+-+-+-+-+
//! X:   |I|L|T|K| RSV   | (OPTIONAL)
//!      +-+-+-+-+-+-+-+-+
//! I:   |M| PictureID   | (OPTIONAL, 7 bits, or 15 bits when M is set)
//!      +-+-+-+-+-+-+-+-+
//!      |   PictureID   | (only when M is set)
//!      +-+-+-+-+-+-+-+-+
//! L:   |   TL0PICIDX   | (OPTIONAL)
//!      +-+-+-+-+-+-+-+-+
//! T/K: |TID|Y| KEYIDX  | (OPTIONAL)
//!      +-+-+-+-+-+-+-+-+
//! ```
//!
//! The VP8 payload follows the descriptor. On the first packet of a frame (S=1, PID=0) its first
//! byte is the start of the frame tag, whose lowest bit (P, "inverse key frame") is 0 for a
//! keyframe (RFC 7741 section 4.3, RFC 6386 section 9.1).
//!
//! Rewriting never changes the descriptor's length: a 7-bit picture id stays 7 bits, so a payload
//! can be copied into a buffer of the same size and patched there.

use crate::rewriter::HISTORY;

/// A VP8 picture id as carried on the wire: 7 bits (M=0) or 15 bits (M=1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PictureId {
    /// A 7-bit picture id, `0..=0x7F`.
    Short(u8),
    /// A 15-bit picture id, `0..=0x7FFF`.
    Long(u16),
}

impl PictureId {
    /// The numeric value (at most 7 or 15 bits).
    pub fn value(self) -> u16 {
        match self {
            Self::Short(v) => u16::from(v),
            Self::Long(v) => v,
        }
    }

    /// The mask of this width: `0x7F` for 7 bits, `0x7FFF` for 15 bits.
    pub fn mask(self) -> u16 {
        match self {
            Self::Short(_) => 0x7F,
            Self::Long(_) => 0x7FFF,
        }
    }

    /// How many bytes it takes in the descriptor: 1 or 2.
    pub fn wire_len(self) -> usize {
        match self {
            Self::Short(_) => 1,
            Self::Long(_) => 2,
        }
    }
}

/// The parsed VP8 RTP payload descriptor of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Descriptor {
    /// N: this frame is not used as a reference by any other frame, so it can be dropped.
    pub non_reference: bool,
    /// S: the first byte of the payload starts a VP8 partition.
    pub start_of_partition: bool,
    /// PID: the partition index, 0..=7.
    pub partition_id: u8,
    /// I: the picture id, if present.
    pub picture_id: Option<PictureId>,
    /// L: the temporal-layer-zero picture index, if present.
    pub tl0picidx: Option<u8>,
    /// T: the temporal layer index (0..=3), if present.
    pub temporal_id: Option<u8>,
    /// Y: layer sync; the frame depends only on temporal layer 0 (meaningful only with T).
    pub layer_sync: bool,
    /// K: the temporal key frame index (0..=31), if present.
    pub key_idx: Option<u8>,
    /// The descriptor's length in bytes; the VP8 payload starts at this offset.
    pub len: usize,
    /// This packet starts a VP8 keyframe: S=1, PID=0 and the P bit of the frame tag is 0.
    pub is_keyframe: bool,
}

impl Vp8Descriptor {
    /// Parses the descriptor at the start of an RTP payload.
    ///
    /// Returns `None` when the payload is too short for the descriptor its flags announce, or
    /// when no VP8 payload byte follows the descriptor. Never panics.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let b0 = *payload.first()?;
        let extended = b0 & 0x80 != 0;
        let non_reference = b0 & 0x20 != 0;
        let start_of_partition = b0 & 0x10 != 0;
        let partition_id = b0 & 0x07;

        let mut picture_id = None;
        let mut tl0picidx = None;
        let mut temporal_id = None;
        let mut layer_sync = false;
        let mut key_idx = None;
        let mut i = 1;

        if extended {
            let x = *payload.get(i)?;
            i += 1;
            let has_i = x & 0x80 != 0;
            let has_l = x & 0x40 != 0;
            let has_t = x & 0x20 != 0;
            let has_k = x & 0x10 != 0;
            if has_i {
                let p0 = *payload.get(i)?;
                if p0 & 0x80 != 0 {
                    let p1 = *payload.get(i + 1)?;
                    picture_id = Some(PictureId::Long((u16::from(p0 & 0x7F) << 8) | u16::from(p1)));
                    i += 2;
                } else {
                    picture_id = Some(PictureId::Short(p0));
                    i += 1;
                }
            }
            if has_l {
                tl0picidx = Some(*payload.get(i)?);
                i += 1;
            }
            if has_t || has_k {
                let tk = *payload.get(i)?;
                i += 1;
                if has_t {
                    temporal_id = Some(tk >> 6);
                    layer_sync = tk & 0x20 != 0;
                }
                if has_k {
                    key_idx = Some(tk & 0x1F);
                }
            }
        }

        // RFC 7741: a packet carries at least one byte of VP8 payload.
        let first = *payload.get(i)?;
        let is_keyframe = start_of_partition && partition_id == 0 && first & 0x01 == 0;

        Some(Self {
            non_reference,
            start_of_partition,
            partition_id,
            picture_id,
            tl0picidx,
            temporal_id,
            layer_sync,
            key_idx,
            len: i,
            is_keyframe,
        })
    }

    /// This packet carries the first byte of a frame (S=1 and PID=0).
    pub fn is_frame_start(&self) -> bool {
        self.start_of_partition && self.partition_id == 0
    }

    /// Offset of the picture id field in the payload, when present (always 2).
    fn picture_id_offset(&self) -> Option<usize> {
        self.picture_id.map(|_| 2)
    }

    /// Offset of the TL0PICIDX field in the payload, when present.
    fn tl0picidx_offset(&self) -> Option<usize> {
        self.tl0picidx
            .map(|_| 2 + self.picture_id.map_or(0, PictureId::wire_len))
    }
}

/// True when this RTP payload starts a VP8 keyframe. Garbage is not a keyframe.
pub fn is_keyframe(payload: &[u8]) -> bool {
    Vp8Descriptor::parse(payload).is_some_and(|d| d.is_keyframe)
}

/// The width and height (in pixels, scaling bits removed) announced by the keyframe header that
/// starts in this RTP payload, or `None` if the payload does not start a well-formed keyframe.
///
/// Useful to learn which resolution a simulcast layer currently sends.
pub fn keyframe_dimensions(payload: &[u8]) -> Option<(u16, u16)> {
    let d = Vp8Descriptor::parse(payload)?;
    if !d.is_keyframe {
        return None;
    }
    // Frame tag (3 bytes), start code 9d 01 2a, then 16-bit little-endian width and height whose
    // top two bits are the scaling mode (RFC 6386 section 9.1).
    let h = payload.get(d.len..d.len + 10)?;
    if h[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([h[6], h[7]]) & 0x3FFF;
    let height = u16::from_le_bytes([h[8], h[9]]) & 0x3FFF;
    Some((width, height))
}

/// Rewrites the picture id and TL0PICIDX of a VP8 payload in place.
///
/// Only the fields the descriptor already carries are written; the descriptor keeps its length
/// and its picture id keeps its width (`picture_id` is masked to 7 or 15 bits). Returns the
/// descriptor as it now reads, or `None` (buffer untouched) if it does not parse.
pub fn rewrite_in_place(buf: &mut [u8], picture_id: u16, tl0picidx: u8) -> Option<Vp8Descriptor> {
    let mut d = Vp8Descriptor::parse(buf)?;
    if let (Some(pid), Some(at)) = (d.picture_id, d.picture_id_offset()) {
        match pid {
            PictureId::Short(_) => {
                let v = (picture_id & 0x7F) as u8;
                buf[at] = v;
                d.picture_id = Some(PictureId::Short(v));
            }
            PictureId::Long(_) => {
                let v = picture_id & 0x7FFF;
                let [hi, lo] = v.to_be_bytes();
                buf[at] = 0x80 | hi;
                buf[at + 1] = lo;
                d.picture_id = Some(PictureId::Long(v));
            }
        }
    }
    if let Some(at) = d.tl0picidx_offset() {
        buf[at] = tl0picidx;
        d.tl0picidx = Some(tl0picidx);
    }
    Some(d)
}

/// Copies `payload` into the start of `out` and rewrites the copy's picture id and TL0PICIDX
/// (see [`rewrite_in_place`]). Returns the number of bytes written, always `payload.len()`.
///
/// Returns `None`, writing nothing, if `out` is shorter than `payload` or the descriptor does
/// not parse.
pub fn rewrite_into(
    payload: &[u8],
    picture_id: u16,
    tl0picidx: u8,
    out: &mut [u8],
) -> Option<usize> {
    Vp8Descriptor::parse(payload)?;
    let out = out.get_mut(..payload.len())?;
    out.copy_from_slice(payload);
    rewrite_in_place(out, picture_id, tl0picidx)?;
    Some(payload.len())
}

/// What [`Vp8PictureRewriter::map`] decided for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Mapped {
    /// The outgoing picture id (in the incoming field's width), if the packet has one.
    pub picture_id: Option<u16>,
    /// The outgoing TL0PICIDX, if the packet has one.
    pub tl0picidx: Option<u8>,
}

/// The picture id and TL0PICIDX offsets of one epoch of a [`crate::StreamRewriter`].
#[derive(Debug, Clone, Copy)]
struct PictureEpoch {
    epoch: u32,
    /// Added to incoming picture ids, modulo 2^15; `None` until the epoch's first picture id.
    picture_id_offset: Option<u16>,
    /// Added to incoming TL0PICIDX, modulo 2^8; `None` until the epoch's first TL0PICIDX.
    tl0_offset: Option<u8>,
}

/// Keeps VP8 picture ids and TL0PICIDX continuous for one Consumer across the layer switches of
/// a [`crate::StreamRewriter`].
///
/// Each simulcast layer numbers its pictures independently. Within one epoch (one stretch of one
/// layer, see [`crate::Rewritten::epoch`]) the incoming values are shifted by a constant, so gaps
/// and reordering are preserved; when a new epoch starts, its first picture gets the newest
/// outgoing picture id + 1 and its first TL0PICIDX the newest outgoing TL0PICIDX + 1 (as
/// mediasoup's VP8 encoding context does). Late retransmissions from one of the last
/// [`HISTORY`] older epochs get that epoch's offsets, so they read exactly as the original
/// would have.
///
/// Call it for every packet the [`crate::StreamRewriter`] forwards, in arrival order, with the
/// `epoch` it returned. Fixed size, no allocation.
///
/// All temporal layers are forwarded as they come: dropping temporal layers would need picture
/// ids to skip the dropped pictures, which this type does not do.
#[derive(Debug, Clone)]
pub struct Vp8PictureRewriter {
    /// Ring of the most recent epochs; `epochs[newest]` is the current one.
    epochs: [Option<PictureEpoch>; HISTORY + 1],
    newest: usize,
    /// Newest outgoing picture id (in the width it was last sent with) and TL0PICIDX.
    newest_picture_id: Option<PictureId>,
    newest_tl0: Option<u8>,
}

impl Default for Vp8PictureRewriter {
    fn default() -> Self {
        Self::new()
    }
}

impl Vp8PictureRewriter {
    /// A rewriter that has seen nothing yet. The first epoch passes values through unchanged.
    pub fn new() -> Self {
        Self {
            epochs: [None; HISTORY + 1],
            newest: 0,
            newest_picture_id: None,
            newest_tl0: None,
        }
    }

    /// Maps one forwarded packet's picture id and TL0PICIDX to their outgoing values.
    ///
    /// `epoch` is [`crate::Rewritten::epoch`]. An epoch not seen before starts a new one (a layer
    /// switch); an epoch no longer remembered is treated the same way, which only happens if
    /// the caller skipped packets.
    pub fn map(&mut self, desc: &Vp8Descriptor, epoch: u32) -> Vp8Mapped {
        let (slot, mut e) = self.slot_for(epoch);
        let is_newest = slot == self.newest;

        let picture_id = desc.picture_id.map(|pid| {
            let mask = pid.mask();
            let offset = *e.picture_id_offset.get_or_insert_with(|| {
                match self.newest_picture_id.filter(|_| is_newest) {
                    // Continue from the newest outgoing picture id, in this packet's width.
                    Some(newest) => {
                        (newest.value().wrapping_add(1).wrapping_sub(pid.value())) & 0x7FFF
                    }
                    None => 0,
                }
            });
            let out = pid.value().wrapping_add(offset) & mask;
            if is_newest {
                let newer = match self.newest_picture_id {
                    None => true,
                    Some(n) => is_newer(out, n.value() & mask, mask),
                };
                if newer {
                    self.newest_picture_id = Some(match pid {
                        PictureId::Short(_) => PictureId::Short(out as u8),
                        PictureId::Long(_) => PictureId::Long(out),
                    });
                }
            }
            out
        });

        let tl0picidx = desc.tl0picidx.map(|tl0| {
            let offset =
                *e.tl0_offset
                    .get_or_insert_with(|| match self.newest_tl0.filter(|_| is_newest) {
                        Some(newest) => newest.wrapping_add(1).wrapping_sub(tl0),
                        None => 0,
                    });
            let out = tl0.wrapping_add(offset);
            if is_newest {
                let newer = match self.newest_tl0 {
                    None => true,
                    Some(n) => is_newer(u16::from(out), u16::from(n), 0xFF),
                };
                if newer {
                    self.newest_tl0 = Some(out);
                }
            }
            out
        });

        self.epochs[slot] = Some(e);
        Vp8Mapped {
            picture_id,
            tl0picidx,
        }
    }

    /// Parses `payload`, maps its picture id and TL0PICIDX (see [`Self::map`]) and writes the
    /// rewritten copy into `out`. Returns the number of bytes written (`payload.len()`).
    ///
    /// `None` means the descriptor did not parse or `out` is too short; nothing was written and
    /// no state changed. Forward such a payload unchanged rather than dropping it, so the
    /// outgoing sequence numbers stay gap-free.
    pub fn rewrite_into(&mut self, payload: &[u8], epoch: u32, out: &mut [u8]) -> Option<usize> {
        let desc = Vp8Descriptor::parse(payload)?;
        if out.len() < payload.len() {
            return None;
        }
        let mapped = self.map(&desc, epoch);
        rewrite_into(
            payload,
            mapped.picture_id.unwrap_or(0),
            mapped.tl0picidx.unwrap_or(0),
            out,
        )
    }

    /// Finds the slot of `epoch`, or opens a new newest slot for it.
    fn slot_for(&mut self, epoch: u32) -> (usize, PictureEpoch) {
        let found = self
            .epochs
            .iter()
            .enumerate()
            .find_map(|(i, e)| e.filter(|e| e.epoch == epoch).map(|e| (i, e)));
        if let Some(found) = found {
            return found;
        }
        let slot = if self.epochs[self.newest].is_none() {
            self.newest
        } else {
            (self.newest + 1) % self.epochs.len()
        };
        let fresh = PictureEpoch {
            epoch,
            picture_id_offset: None,
            tl0_offset: None,
        };
        self.epochs[slot] = Some(fresh);
        self.newest = slot;
        (slot, fresh)
    }
}

/// `a` is newer than `b` in a sequence space of `mask + 1` values (a power of two).
fn is_newer(a: u16, b: u16, mask: u16) -> bool {
    let diff = a.wrapping_sub(b) & mask;
    diff != 0 && diff <= mask / 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::Rng;

    /// Builds a descriptor + payload. `pid`: None, Some((value, long)).
    fn build(
        start: bool,
        partition: u8,
        pid: Option<(u16, bool)>,
        tl0: Option<u8>,
        tid_y: Option<(u8, bool)>,
        keyidx: Option<u8>,
        vp8: &[u8],
    ) -> Vec<u8> {
        let mut v = Vec::new();
        let extended = pid.is_some() || tl0.is_some() || tid_y.is_some() || keyidx.is_some();
        let mut b0 = partition & 0x07;
        if extended {
            b0 |= 0x80;
        }
        if start {
            b0 |= 0x10;
        }
        v.push(b0);
        if extended {
            let mut x = 0u8;
            if pid.is_some() {
                x |= 0x80;
            }
            if tl0.is_some() {
                x |= 0x40;
            }
            if tid_y.is_some() {
                x |= 0x20;
            }
            if keyidx.is_some() {
                x |= 0x10;
            }
            v.push(x);
            if let Some((p, long)) = pid {
                if long {
                    v.push(0x80 | ((p >> 8) as u8 & 0x7F));
                    v.push(p as u8);
                } else {
                    v.push(p as u8 & 0x7F);
                }
            }
            if let Some(t) = tl0 {
                v.push(t);
            }
            if tid_y.is_some() || keyidx.is_some() {
                let (tid, y) = tid_y.unwrap_or((0, false));
                let mut b = (tid & 0x03) << 6;
                if y {
                    b |= 0x20;
                }
                b |= keyidx.unwrap_or(0) & 0x1F;
                v.push(b);
            }
        }
        v.extend_from_slice(vp8);
        v
    }

    const KEY: &[u8] = &[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01];
    const DELTA: &[u8] = &[0x31, 0x02, 0x00, 0xAA];

    #[test]
    fn minimal_descriptor() {
        let d = Vp8Descriptor::parse(&[0x10, 0x00]).unwrap();
        assert_eq!(d.len, 1);
        assert!(d.start_of_partition);
        assert_eq!(d.partition_id, 0);
        assert!(d.is_keyframe);
        assert!(d.is_frame_start());
        assert_eq!(d.picture_id, None);
        assert_eq!(d.tl0picidx, None);
        assert_eq!(d.temporal_id, None);
        assert_eq!(d.key_idx, None);
        assert!(!d.non_reference);
    }

    #[test]
    fn all_fields_long_picture_id() {
        let p = build(
            true,
            0,
            Some((0x1234, true)),
            Some(0xAB),
            Some((2, true)),
            Some(0x15),
            KEY,
        );
        let d = Vp8Descriptor::parse(&p).unwrap();
        assert_eq!(d.picture_id, Some(PictureId::Long(0x1234)));
        assert_eq!(d.tl0picidx, Some(0xAB));
        assert_eq!(d.temporal_id, Some(2));
        assert!(d.layer_sync);
        assert_eq!(d.key_idx, Some(0x15));
        assert_eq!(d.len, 6);
        assert!(d.is_keyframe);
    }

    #[test]
    fn short_picture_id() {
        let p = build(false, 3, Some((0x55, false)), None, None, None, DELTA);
        let d = Vp8Descriptor::parse(&p).unwrap();
        assert_eq!(d.picture_id, Some(PictureId::Short(0x55)));
        assert_eq!(d.partition_id, 3);
        assert!(!d.start_of_partition);
        assert_eq!(d.len, 3);
        assert!(!d.is_keyframe);
        assert!(!d.is_frame_start());
    }

    #[test]
    fn picture_id_extremes() {
        for (v, long) in [
            (0, false),
            (0x7F, false),
            (0, true),
            (0x7FFF, true),
            (0x80, true),
        ] {
            let p = build(true, 0, Some((v, long)), None, None, None, DELTA);
            let d = Vp8Descriptor::parse(&p).unwrap();
            assert_eq!(d.picture_id.unwrap().value(), v);
            assert_eq!(d.picture_id.unwrap().wire_len(), if long { 2 } else { 1 });
        }
    }

    #[test]
    fn temporal_only_and_keyidx_only() {
        let p = build(true, 0, None, None, Some((1, false)), None, DELTA);
        let d = Vp8Descriptor::parse(&p).unwrap();
        assert_eq!(d.temporal_id, Some(1));
        assert!(!d.layer_sync);
        assert_eq!(d.key_idx, None);
        assert_eq!(d.len, 3);

        let p = build(true, 0, None, None, None, Some(7), DELTA);
        let d = Vp8Descriptor::parse(&p).unwrap();
        assert_eq!(d.temporal_id, None);
        assert_eq!(d.key_idx, Some(7));
        assert_eq!(d.len, 3);
    }

    #[test]
    fn y_bit_ignored_without_t() {
        // K set, T clear, Y bit set in the byte: Y must read false.
        let d = Vp8Descriptor::parse(&[0x90, 0x10, 0xE5, 0x00]).unwrap();
        assert_eq!(d.temporal_id, None);
        assert!(!d.layer_sync);
        assert_eq!(d.key_idx, Some(5));
    }

    #[test]
    fn non_reference_bit() {
        let d = Vp8Descriptor::parse(&[0x30, 0x01]).unwrap();
        assert!(d.non_reference);
        assert!(!d.is_keyframe);
    }

    #[test]
    fn keyframe_needs_start_partition_zero_and_p_bit_clear() {
        // Start of partition 0 with P=0: keyframe.
        assert!(is_keyframe(&build(
            true,
            0,
            Some((1, true)),
            None,
            None,
            None,
            KEY
        )));
        // P=1: interframe.
        assert!(!is_keyframe(&build(
            true,
            0,
            Some((1, true)),
            None,
            None,
            None,
            DELTA
        )));
        // Not the start of a partition: the byte is mid-frame data.
        assert!(!is_keyframe(&build(
            false,
            0,
            Some((1, true)),
            None,
            None,
            None,
            KEY
        )));
        // Start of partition 1: not the frame tag.
        assert!(!is_keyframe(&build(
            true,
            1,
            Some((1, true)),
            None,
            None,
            None,
            KEY
        )));
        // Empty and one-byte payloads.
        assert!(!is_keyframe(&[]));
        assert!(!is_keyframe(&[0x10]));
    }

    #[test]
    fn missing_payload_after_descriptor_is_invalid() {
        let p = build(
            true,
            0,
            Some((9, true)),
            Some(1),
            Some((0, false)),
            None,
            &[],
        );
        assert_eq!(Vp8Descriptor::parse(&p), None);
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let p = build(
            true,
            0,
            Some((0x1234, true)),
            Some(0xAB),
            Some((2, true)),
            Some(0x15),
            &[0x00],
        );
        for n in 0..p.len() {
            assert_eq!(Vp8Descriptor::parse(&p[..n]), None, "truncated to {n}");
        }
        assert!(Vp8Descriptor::parse(&p).is_some());
    }

    #[test]
    fn keyframe_dimensions_from_header() {
        // 640x360 with scaling bits set, which must be masked off.
        let mut vp8 = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        vp8.extend_from_slice(&(640u16 | 0x4000).to_le_bytes());
        vp8.extend_from_slice(&(360u16 | 0x8000).to_le_bytes());
        let p = build(true, 0, Some((3, true)), Some(1), None, None, &vp8);
        assert_eq!(keyframe_dimensions(&p), Some((640, 360)));
        // Truncated header, wrong start code, interframe.
        assert_eq!(keyframe_dimensions(&p[..p.len() - 1]), None);
        let mut bad = p.clone();
        let at = bad.len() - 6;
        bad[at] = 0x9c;
        assert_eq!(keyframe_dimensions(&bad), None);
        assert_eq!(
            keyframe_dimensions(&build(true, 0, None, None, None, None, DELTA)),
            None
        );
    }

    #[test]
    fn rewrite_long_picture_id_and_tl0() {
        let p = build(
            true,
            0,
            Some((0x1234, true)),
            Some(0xAB),
            Some((1, true)),
            None,
            KEY,
        );
        let mut out = [0u8; 64];
        let n = rewrite_into(&p, 0x7ABC, 0x01, &mut out).unwrap();
        assert_eq!(n, p.len());
        let d = Vp8Descriptor::parse(&out[..n]).unwrap();
        assert_eq!(d.picture_id, Some(PictureId::Long(0x7ABC)));
        assert_eq!(d.tl0picidx, Some(0x01));
        assert_eq!(d.temporal_id, Some(1));
        assert!(d.layer_sync);
        assert!(d.is_keyframe);
        assert_eq!(&out[d.len..n], KEY);
        // Everything but the rewritten bytes is identical.
        let diff: Vec<usize> = (0..n).filter(|&i| out[i] != p[i]).collect();
        assert!(diff.iter().all(|&i| (2..=4).contains(&i)), "{diff:?}");
    }

    #[test]
    fn rewrite_masks_to_the_incoming_width() {
        let p = build(true, 0, Some((5, false)), Some(9), None, None, DELTA);
        let mut out = [0u8; 16];
        let n = rewrite_into(&p, 0x1FF, 3, &mut out).unwrap();
        let d = Vp8Descriptor::parse(&out[..n]).unwrap();
        assert_eq!(d.len, 4, "7-bit picture id stays 7 bits");
        assert_eq!(d.picture_id, Some(PictureId::Short(0x7F)));
        assert_eq!(d.tl0picidx, Some(3));

        let p = build(true, 0, Some((5, true)), None, None, None, DELTA);
        let n = rewrite_into(&p, 0xFFFF, 3, &mut out).unwrap();
        let d = Vp8Descriptor::parse(&out[..n]).unwrap();
        assert_eq!(d.picture_id, Some(PictureId::Long(0x7FFF)));
        assert_eq!(d.tl0picidx, None);
        assert_eq!(&out[..n], &[0x90, 0x80, 0xFF, 0xFF, 0x31, 0x02, 0x00, 0xAA]);
    }

    #[test]
    fn rewrite_without_fields_is_a_copy() {
        let p = build(true, 0, None, None, Some((2, false)), None, DELTA);
        let mut out = [0u8; 16];
        let n = rewrite_into(&p, 77, 88, &mut out).unwrap();
        assert_eq!(&out[..n], &p[..]);
    }

    #[test]
    fn rewrite_rejects_short_output_and_garbage() {
        let p = build(true, 0, Some((1, true)), Some(2), None, None, DELTA);
        let mut out = vec![0xEE; p.len() - 1];
        assert_eq!(rewrite_into(&p, 1, 1, &mut out), None);
        assert!(out.iter().all(|&b| b == 0xEE), "nothing written");
        let mut out = [0xEEu8; 8];
        assert_eq!(rewrite_into(&[0x80, 0x80], 1, 1, &mut out), None);
        assert_eq!(out, [0xEE; 8]);
        let mut garbage = [0x80u8, 0xC0, 0x80];
        assert_eq!(rewrite_in_place(&mut garbage, 1, 1), None);
        assert_eq!(garbage, [0x80, 0xC0, 0x80]);
    }

    #[test]
    fn rewrite_in_place_round_trip() {
        let mut p = build(
            false,
            2,
            Some((100, false)),
            Some(200),
            None,
            Some(3),
            DELTA,
        );
        let d = rewrite_in_place(&mut p, 27, 201).unwrap();
        assert_eq!(d.picture_id, Some(PictureId::Short(27)));
        assert_eq!(d.tl0picidx, Some(201));
        assert_eq!(Vp8Descriptor::parse(&p), Some(d));
    }

    #[test]
    fn random_bytes_never_panic_and_rewrite_preserves_structure() {
        let mut rng = Rng::new(7741);
        let mut buf = [0u8; 24];
        let mut out = [0u8; 24];
        let mut parsed = 0;
        for _ in 0..200_000 {
            let len = rng.below(buf.len() as u64 + 1) as usize;
            rng.fill(&mut buf[..len]);
            // Bias towards the extended form so the optional fields get exercised.
            if len > 1 && rng.chance(50) {
                buf[0] |= 0x80;
            }
            let p = &buf[..len];
            let d = Vp8Descriptor::parse(p);
            let _ = is_keyframe(p);
            let _ = keyframe_dimensions(p);
            let pid = rng.next_u64() as u16;
            let tl0 = rng.next_u64() as u8;
            let written = rewrite_into(p, pid, tl0, &mut out);
            match d {
                None => assert_eq!(written, None),
                Some(d) => {
                    parsed += 1;
                    assert!(d.len < len);
                    assert_eq!(written, Some(len));
                    let r = Vp8Descriptor::parse(&out[..len]).unwrap();
                    assert_eq!(r.len, d.len);
                    assert_eq!(r.is_keyframe, d.is_keyframe);
                    assert_eq!(r.temporal_id, d.temporal_id);
                    assert_eq!(r.key_idx, d.key_idx);
                    assert_eq!(
                        r.picture_id.map(PictureId::wire_len),
                        d.picture_id.map(PictureId::wire_len)
                    );
                    if let Some(rp) = r.picture_id {
                        assert_eq!(rp.value(), pid & rp.mask());
                    }
                    if d.tl0picidx.is_some() {
                        assert_eq!(r.tl0picidx, Some(tl0));
                    }
                    assert_eq!(&out[d.len..len], &p[d.len..]);
                }
            }
        }
        assert!(
            parsed > 50_000,
            "the fuzz loop reached the parser's success path: {parsed}"
        );
    }

    // ---- Vp8PictureRewriter ----

    fn desc(pid: Option<PictureId>, tl0: Option<u8>) -> Vp8Descriptor {
        Vp8Descriptor {
            non_reference: false,
            start_of_partition: true,
            partition_id: 0,
            picture_id: pid,
            tl0picidx: tl0,
            temporal_id: None,
            layer_sync: false,
            key_idx: None,
            len: 1,
            is_keyframe: false,
        }
    }

    fn long(v: u16) -> Option<PictureId> {
        Some(PictureId::Long(v))
    }

    fn map(rw: &mut Vp8PictureRewriter, pid: u16, tl0: u8, epoch: u32) -> (u16, u8) {
        let m = rw.map(&desc(long(pid), Some(tl0)), epoch);
        (m.picture_id.unwrap(), m.tl0picidx.unwrap())
    }

    #[test]
    fn first_epoch_passes_through() {
        let mut rw = Vp8PictureRewriter::new();
        assert_eq!(map(&mut rw, 1000, 50, 0), (1000, 50));
        assert_eq!(map(&mut rw, 1001, 50, 0), (1001, 50));
        assert_eq!(map(&mut rw, 1005, 51, 0), (1005, 51), "gaps preserved");
        assert_eq!(
            map(&mut rw, 1003, 50, 0),
            (1003, 50),
            "reordering preserved"
        );
    }

    #[test]
    fn switch_continues_from_newest_plus_one() {
        let mut rw = Vp8PictureRewriter::new();
        map(&mut rw, 1000, 50, 0);
        map(&mut rw, 1002, 51, 0);
        map(&mut rw, 1001, 50, 0); // late: does not lower the newest
        assert_eq!(map(&mut rw, 20_000, 200, 1), (1003, 52));
        assert_eq!(
            map(&mut rw, 20_000, 200, 1),
            (1003, 52),
            "same frame, same id"
        );
        assert_eq!(map(&mut rw, 20_001, 200, 1), (1004, 52));
        assert_eq!(map(&mut rw, 20_003, 201, 1), (1006, 53));
        // Switch down again.
        assert_eq!(map(&mut rw, 7, 9, 2), (1007, 54));
    }

    #[test]
    fn late_retransmission_of_old_epoch_uses_old_offsets() {
        let mut rw = Vp8PictureRewriter::new();
        map(&mut rw, 500, 10, 0);
        map(&mut rw, 502, 11, 0);
        assert_eq!(map(&mut rw, 9000, 90, 1), (503, 12));
        assert_eq!(map(&mut rw, 9001, 90, 1), (504, 12));
        // Retransmission of picture 501 of epoch 0.
        assert_eq!(map(&mut rw, 501, 10, 0), (501, 10));
        // It did not disturb epoch 1's continuity.
        assert_eq!(map(&mut rw, 9002, 91, 1), (505, 13));
        assert_eq!(map(&mut rw, 40, 4, 2), (506, 14));
    }

    #[test]
    fn wraparound_of_picture_id_and_tl0() {
        let mut rw = Vp8PictureRewriter::new();
        assert_eq!(map(&mut rw, 0x7FFE, 0xFE, 0), (0x7FFE, 0xFE));
        assert_eq!(map(&mut rw, 0x7FFF, 0xFF, 0), (0x7FFF, 0xFF));
        assert_eq!(map(&mut rw, 0, 0, 0), (0, 0));
        // The newest is 0 (after the wrap), so the switch continues at 1.
        assert_eq!(map(&mut rw, 0x4000, 0x80, 1), (1, 1));
        assert_eq!(
            map(&mut rw, 0x3FFF, 0x7F, 1),
            (0, 0),
            "reordered before the switch point"
        );
        // Incoming wrap inside an epoch.
        let mut rw = Vp8PictureRewriter::new();
        map(&mut rw, 10, 10, 0);
        assert_eq!(map(&mut rw, 0x7FFF, 0xFF, 1), (11, 11));
        assert_eq!(map(&mut rw, 0, 0, 1), (12, 12));
        assert_eq!(map(&mut rw, 1, 1, 1), (13, 13));
    }

    #[test]
    fn short_picture_ids_stay_continuous_modulo_128() {
        let mut rw = Vp8PictureRewriter::new();
        let short = |v: u8| Some(PictureId::Short(v));
        let m = |rw: &mut Vp8PictureRewriter, v, e| {
            rw.map(&desc(short(v), None), e).picture_id.unwrap()
        };
        assert_eq!(m(&mut rw, 126, 0), 126);
        assert_eq!(m(&mut rw, 127, 0), 127);
        assert_eq!(m(&mut rw, 0, 0), 0);
        assert_eq!(m(&mut rw, 90, 1), 1);
        assert_eq!(m(&mut rw, 127, 1), 38);
        assert_eq!(m(&mut rw, 0, 1), 39);
        assert_eq!(m(&mut rw, 5, 2), 40);
    }

    #[test]
    fn epoch_whose_first_packet_lacks_fields_syncs_on_the_first_that_has_them() {
        let mut rw = Vp8PictureRewriter::new();
        map(&mut rw, 300, 30, 0);
        let m = rw.map(&desc(None, None), 1);
        assert_eq!(
            m,
            Vp8Mapped {
                picture_id: None,
                tl0picidx: None
            }
        );
        assert_eq!(map(&mut rw, 5, 5, 1), (301, 31));
        assert_eq!(map(&mut rw, 6, 5, 1), (302, 31));
    }

    #[test]
    fn rewrite_into_uses_the_mapping() {
        let mut rw = Vp8PictureRewriter::new();
        let a = build(true, 0, Some((0x0100, true)), Some(7), None, None, KEY);
        let b = build(true, 0, Some((0x2000, true)), Some(99), None, None, KEY);
        let mut out = [0u8; 64];
        let n = rw.rewrite_into(&a, 0, &mut out).unwrap();
        assert_eq!(&out[..n], &a[..]);
        let n = rw.rewrite_into(&b, 1, &mut out).unwrap();
        let d = Vp8Descriptor::parse(&out[..n]).unwrap();
        assert_eq!(d.picture_id, Some(PictureId::Long(0x0101)));
        assert_eq!(d.tl0picidx, Some(8));
        // Garbage and short buffers change nothing.
        assert_eq!(rw.rewrite_into(&[0x80], 2, &mut out), None);
        assert_eq!(rw.rewrite_into(&b, 2, &mut out[..2]), None);
        let n = rw.rewrite_into(&b, 1, &mut out).unwrap();
        assert_eq!(
            Vp8Descriptor::parse(&out[..n]).unwrap().picture_id,
            Some(PictureId::Long(0x0101))
        );
    }

    /// Many switches in a row between three layers with independent numbering, with reordering
    /// inside each epoch and occasional late retransmissions from older epochs: outgoing ids
    /// are newest+1 at every switch and each (epoch, incoming id) always maps to one value.
    #[test]
    fn property_many_switches() {
        use std::collections::HashMap;
        let mut rng = Rng::new(42);
        let mut rw = Vp8PictureRewriter::new();
        let mut layer_pid = [
            rng.below(0x8000) as u16,
            rng.below(0x8000) as u16,
            rng.below(0x8000) as u16,
        ];
        let mut layer_tl0 = [
            rng.next_u64() as u8,
            rng.next_u64() as u8,
            rng.next_u64() as u8,
        ];
        let mut seen: HashMap<(u32, u16, u8), (u16, u8)> = HashMap::new();
        let mut sent: Vec<(u32, u16, u8)> = Vec::new();
        let mut newest: Option<(u16, u8)> = None;
        for epoch in 0..300u32 {
            let layer = rng.below(3) as usize;
            let frames = 1 + rng.below(40);
            for f in 0..frames {
                // All layers advance in time; only `layer` is forwarded.
                for l in 0..3 {
                    layer_pid[l] = (layer_pid[l] + 1) & 0x7FFF;
                    if rng.chance(30) {
                        layer_tl0[l] = layer_tl0[l].wrapping_add(1);
                    }
                }
                let (pid, tl0) = (layer_pid[layer], layer_tl0[layer]);
                let (op, ot) = map(&mut rw, pid, tl0, epoch);
                if f == 0 {
                    if let Some((np, nt)) = newest {
                        assert_eq!(op, (np + 1) & 0x7FFF, "epoch {epoch}");
                        assert_eq!(ot, nt.wrapping_add(1), "epoch {epoch}");
                    }
                } else {
                    let (np, nt) = newest.unwrap();
                    assert_eq!(op, (np + 1) & 0x7FFF, "contiguous within the epoch");
                    assert!(ot == nt || ot == nt.wrapping_add(1));
                }
                newest = Some((op, ot));
                assert_eq!(*seen.entry((epoch, pid, tl0)).or_insert((op, ot)), (op, ot));
                sent.push((epoch, pid, tl0));
                // A reordered duplicate of a recent packet of this epoch.
                if f > 2 && rng.chance(20) {
                    let back = 1 + rng.below(2);
                    let (p, t) = ((pid + 0x8000 - back as u16) & 0x7FFF, tl0);
                    let got = map(&mut rw, p, t, epoch);
                    let want = ((op + 0x8000 - back as u16) & 0x7FFF, ot);
                    assert_eq!(got, want);
                }
                // A late retransmission from one of the last HISTORY epochs.
                if rng.chance(5) {
                    let idx = rng.below(sent.len() as u64) as usize;
                    let (e, p, t) = sent[idx];
                    if e + HISTORY as u32 >= epoch {
                        assert_eq!(
                            map(&mut rw, p, t, e),
                            seen[&(e, p, t)],
                            "retransmission from epoch {e}"
                        );
                    }
                }
            }
        }
    }
}
