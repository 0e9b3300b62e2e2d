//! A tiny seeded PRNG (SplitMix64), so every scenario replays bit for bit from its seed.
//!
//! Not `rand`: a scenario's behaviour must not change when a dependency bumps its algorithm.

#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// An independent stream for a sub-component (a link, a media source), derived from this
    /// seed, so adding one component does not shift the numbers another one draws.
    pub fn fork(&self, salt: u64) -> Self {
        let mut forked = Self(self.0 ^ salt.wrapping_mul(0xA24B_AED4_963E_E407));
        forked.next_u64();
        forked
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `p` (0.0 to 1.0).
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next_u64() as u8;
        }
    }
}
