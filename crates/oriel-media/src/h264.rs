//! H.264 over RTP (RFC 6184): keyframe detection.
//!
//! An RTP payload carries one NAL unit (types 1-23), several aggregated ones (STAP-A 24,
//! STAP-B 25), or a fragment of one (FU-A 28, FU-B 29). A packet starts a keyframe when it
//! carries, or starts the fragments of, an IDR slice (type 5) or a sequence parameter set
//! (type 7). Encoders send SPS and PPS right before every IDR, so the SPS is usually the first
//! packet of a keyframe, and a Consumer that switches there gets everything the decoder needs.
//! MTAP16/MTAP24 (26/27) are not used by WebRTC and are never keyframes here.

/// NAL unit type of a coded slice of an IDR picture.
pub const NAL_IDR: u8 = 5;
/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// NAL unit type of a picture parameter set.
pub const NAL_PPS: u8 = 8;
/// Single-time aggregation packet, type A.
pub const STAP_A: u8 = 24;
/// Single-time aggregation packet, type B (with a decoding order number).
pub const STAP_B: u8 = 25;
/// Fragmentation unit, type A.
pub const FU_A: u8 = 28;
/// Fragmentation unit, type B (with a decoding order number).
pub const FU_B: u8 = 29;

/// The NAL unit type (the low five bits of a NAL header byte).
pub fn nal_type(header: u8) -> u8 {
    header & 0x1F
}

/// True when this RTP payload starts a keyframe: it is, contains, or starts the fragments of an
/// IDR slice or an SPS. Garbage (including truncated aggregates) is not a keyframe.
pub fn is_keyframe(payload: &[u8]) -> bool {
    let Some(&header) = payload.first() else {
        return false;
    };
    match nal_type(header) {
        t @ 1..=23 => is_key_nal(t),
        STAP_A => stap_has_key(payload.get(1..)),
        STAP_B => stap_has_key(payload.get(3..)),
        FU_A | FU_B => match payload.get(1) {
            // S bit set and the fragmented NAL's type.
            Some(&fu) => fu & 0x80 != 0 && is_key_nal(nal_type(fu)),
            None => false,
        },
        _ => false,
    }
}

fn is_key_nal(t: u8) -> bool {
    t == NAL_IDR || t == NAL_SPS
}

/// Walks the `[size: u16][NAL]...` units of an aggregation packet (after its header and DON).
/// A unit that overruns the payload makes the whole packet garbage.
fn stap_has_key(units: Option<&[u8]>) -> bool {
    let Some(mut rest) = units else {
        return false;
    };
    if rest.is_empty() {
        return false;
    }
    let mut key = false;
    while !rest.is_empty() {
        let Some(size) = rest.get(..2) else {
            return false;
        };
        let size = usize::from(u16::from_be_bytes([size[0], size[1]]));
        let Some(nal) = rest.get(2..2 + size) else {
            return false;
        };
        match nal.first() {
            Some(&h) => key |= is_key_nal(nal_type(h)),
            None => return false,
        }
        rest = &rest[2 + size..];
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::Rng;

    // NAL header bytes with NRI bits set, as encoders send them.
    const IDR: u8 = 0x65;
    const SPS: u8 = 0x67;
    const PPS: u8 = 0x68;
    const NON_IDR: u8 = 0x41;
    const SEI: u8 = 0x06;

    fn stap(header: u8, don: bool, nals: &[&[u8]]) -> Vec<u8> {
        let mut v = vec![header];
        if don {
            v.extend_from_slice(&[0x12, 0x34]);
        }
        for n in nals {
            v.extend_from_slice(&(n.len() as u16).to_be_bytes());
            v.extend_from_slice(n);
        }
        v
    }

    #[test]
    fn single_nal_units() {
        assert!(is_keyframe(&[IDR, 0x88, 0x84]));
        assert!(is_keyframe(&[SPS, 0x42, 0xC0, 0x1F]));
        assert!(!is_keyframe(&[PPS, 0xCE, 0x3C, 0x80]));
        assert!(!is_keyframe(&[NON_IDR, 0x9A]));
        assert!(!is_keyframe(&[SEI, 0x05]));
        // A single header byte is enough to know.
        assert!(is_keyframe(&[IDR]));
        assert!(!is_keyframe(&[]));
        // Forbidden/reserved types.
        assert!(!is_keyframe(&[0x00]));
        assert!(!is_keyframe(&[0x1E, 0x85]));
        assert!(!is_keyframe(&[0x1F, 0x85]));
    }

    #[test]
    fn nal_type_masks_the_header() {
        assert_eq!(nal_type(IDR), NAL_IDR);
        assert_eq!(nal_type(SPS), NAL_SPS);
        assert_eq!(nal_type(PPS), NAL_PPS);
        assert_eq!(nal_type(0x78), STAP_A);
        assert_eq!(nal_type(0x7C), FU_A);
    }

    #[test]
    fn stap_a_with_sps_pps_idr() {
        let p = stap(
            0x78,
            false,
            &[&[SPS, 0x42, 0xC0], &[PPS, 0xCE], &[IDR, 0x88]],
        );
        assert!(is_keyframe(&p));
        let p = stap(0x78, false, &[&[SPS, 0x42]]);
        assert!(is_keyframe(&p));
        let p = stap(0x78, false, &[&[PPS, 0xCE], &[IDR, 0x88]]);
        assert!(is_keyframe(&p), "IDR in the last unit");
        let p = stap(0x78, false, &[&[SEI, 1, 2], &[NON_IDR, 0x9A]]);
        assert!(!is_keyframe(&p));
    }

    #[test]
    fn stap_b_skips_the_don() {
        let p = stap(0x79, true, &[&[SPS, 0x42], &[IDR, 0x88]]);
        assert!(is_keyframe(&p));
        let p = stap(0x79, true, &[&[NON_IDR, 0x9A]]);
        assert!(!is_keyframe(&p));
        // The DON bytes are not read as a unit size.
        assert!(!is_keyframe(&[0x79, 0x00, 0x01, 0x00, 0x01, NON_IDR]));
        assert!(is_keyframe(&[0x79, 0x00, 0x01, 0x00, 0x01, IDR]));
    }

    #[test]
    fn malformed_stap_is_not_a_keyframe() {
        // Empty aggregate.
        assert!(!is_keyframe(&[0x78]));
        assert!(!is_keyframe(&[0x79, 0x00, 0x01]));
        // Size overruns the payload even though an SPS is visible.
        assert!(!is_keyframe(&[0x78, 0x00, 0x05, SPS, 0x42]));
        // Zero-size unit.
        assert!(!is_keyframe(&[0x78, 0x00, 0x00]));
        // Dangling half size after a valid unit.
        assert!(!is_keyframe(&[0x78, 0x00, 0x01, SPS, 0x00]));
        // Every truncation of a valid keyframe STAP-A either parses or is rejected, no panic;
        // and the full one is a keyframe.
        let p = stap(0x78, false, &[&[PPS, 0xCE], &[IDR, 0x88, 0x84]]);
        for n in 0..p.len() {
            assert!(!is_keyframe(&p[..n]), "truncated to {n}");
        }
        assert!(is_keyframe(&p));
    }

    #[test]
    fn fu_a_start_of_idr_or_sps() {
        // FU indicator (NRI 3, type 28), FU header S=1 type 5.
        assert!(is_keyframe(&[0x7C, 0x85, 0xB8]));
        assert!(is_keyframe(&[0x7C, 0x87, 0x00]));
        // Middle and end fragments of an IDR are not a keyframe start.
        assert!(!is_keyframe(&[0x7C, 0x05, 0xB8]));
        assert!(!is_keyframe(&[0x7C, 0x45, 0xB8]));
        // Start of a non-IDR slice.
        assert!(!is_keyframe(&[0x7C, 0x81, 0x9A]));
        // Truncated: no FU header.
        assert!(!is_keyframe(&[0x7C]));
        // The FU header alone is enough.
        assert!(is_keyframe(&[0x7C, 0x85]));
    }

    #[test]
    fn fu_b_start_of_idr() {
        assert!(is_keyframe(&[0x7D, 0x85, 0x00, 0x01, 0xB8]));
        assert!(!is_keyframe(&[0x7D, 0x05, 0x00, 0x01, 0xB8]));
    }

    #[test]
    fn mtap_is_never_a_keyframe() {
        assert!(!is_keyframe(&[
            0x7A, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, IDR
        ]));
        assert!(!is_keyframe(&[
            0x7B, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, IDR
        ]));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng::new(6184);
        let mut buf = [0u8; 32];
        let mut keys = 0;
        for _ in 0..200_000 {
            let len = rng.below(buf.len() as u64 + 1) as usize;
            rng.fill(&mut buf[..len]);
            if len > 0 && rng.chance(30) {
                buf[0] = (buf[0] & 0xE0) | STAP_A;
            }
            if is_keyframe(&buf[..len]) {
                keys += 1;
            }
        }
        assert!(keys > 0);
    }

    #[test]
    fn random_valid_staps_agree_with_a_model() {
        let mut rng = Rng::new(24);
        for _ in 0..20_000 {
            let count = 1 + rng.below(5) as usize;
            let mut nals: Vec<Vec<u8>> = Vec::new();
            let mut want = false;
            for _ in 0..count {
                let t = 1 + rng.below(23) as u8;
                want |= t == NAL_IDR || t == NAL_SPS;
                let mut n = vec![0x60 | t];
                n.extend((0..rng.below(8)).map(|_| rng.next_u64() as u8));
                nals.push(n);
            }
            let refs: Vec<&[u8]> = nals.iter().map(Vec::as_slice).collect();
            assert_eq!(is_keyframe(&stap(0x78, false, &refs)), want);
            assert_eq!(is_keyframe(&stap(0x79, true, &refs)), want);
        }
    }
}
