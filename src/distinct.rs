//! Counting distinct crash images in memory that does not grow with the run.
//!
//! Up to [`EXACT_UP_TO`] fingerprints are kept in a set and counted exactly (about 36 MB at the
//! bound). Past it, the set is folded into a HyperLogLog sketch of [`REGISTERS`] one-byte
//! registers (16 KB) and the count becomes an estimate with a relative standard error of
//! 1.04 / sqrt(REGISTERS) = 0.81%; [`DistinctCount::is_exact`] says which. The fingerprints are
//! already hashes, so they are only remixed, never hashed with a per-process key: the same run
//! gives the same count.

use std::collections::HashSet;

/// Fingerprints counted exactly before the count becomes an estimate.
pub const EXACT_UP_TO: usize = 1 << 20;

/// log2 of the sketch's register count.
const PRECISION: u32 = 14;

/// Registers of the sketch.
pub const REGISTERS: usize = 1 << PRECISION;

/// The number of distinct fingerprints inserted: exact, then estimated.
pub enum DistinctCount {
    Exact(HashSet<u128>),
    Estimated(Box<[u8]>),
}

impl Default for DistinctCount {
    fn default() -> Self {
        Self::Exact(HashSet::new())
    }
}

impl DistinctCount {
    pub fn insert(&mut self, fingerprint: u128) {
        match self {
            Self::Exact(set) => {
                set.insert(fingerprint);
                if set.len() > EXACT_UP_TO {
                    let mut registers = vec![0u8; REGISTERS].into_boxed_slice();
                    for &seen in set.iter() {
                        observe(&mut registers, seen);
                    }
                    *self = Self::Estimated(registers);
                }
            }
            Self::Estimated(registers) => observe(registers, fingerprint),
        }
    }

    pub fn extend(&mut self, fingerprints: impl IntoIterator<Item = u128>) {
        for fingerprint in fingerprints {
            self.insert(fingerprint);
        }
    }

    /// Whether [`DistinctCount::len`] is exact (at most [`EXACT_UP_TO`] were inserted).
    pub fn is_exact(&self) -> bool {
        matches!(self, Self::Exact(_))
    }

    /// The count: exact, or the HyperLogLog estimate.
    pub fn len(&self) -> usize {
        match self {
            Self::Exact(set) => set.len(),
            Self::Estimated(registers) => estimate(registers),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A count for people: an estimate is marked with `~`.
pub fn shown(count: usize, exact: bool) -> String {
    if exact {
        count.to_string()
    } else {
        format!("~{count}")
    }
}

/// splitmix64's finalizer over both halves: the low and high bits of a fingerprint need not be
/// independent, the register index and rank must be.
fn mix(fingerprint: u128) -> u64 {
    let mut z = (fingerprint as u64) ^ ((fingerprint >> 64) as u64).rotate_left(31);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn observe(registers: &mut [u8], fingerprint: u128) {
    let hash = mix(fingerprint);
    let index = (hash >> (64 - PRECISION)) as usize;
    // The rank: the position of the first 1 bit in the remaining 50 bits (51 when all are 0).
    let rest = hash << PRECISION;
    let rank = (rest.leading_zeros().min(64 - PRECISION) + 1) as u8;
    registers[index] = registers[index].max(rank);
}

/// The HyperLogLog estimate. Only used far above 5/2 of the register count, where the raw
/// estimate needs no small-range correction; 64-bit hashes need no large-range one.
fn estimate(registers: &[u8]) -> usize {
    let m = registers.len() as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let sum: f64 = registers.iter().map(|&r| 2f64.powi(-i32::from(r))).sum();
    (alpha * m * m / sum).round() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distinct, structured fingerprints (counters in both halves), like state fingerprints of
    /// neighbouring states are not.
    fn fingerprints(range: std::ops::Range<u64>) -> impl Iterator<Item = u128> {
        range.map(|i| (u128::from(i) << 64) | u128::from(i * 3))
    }

    #[test]
    fn exact_up_to_the_bound_and_repeats_never_count_twice() {
        let mut count = DistinctCount::default();
        count.extend(fingerprints(0..1000));
        count.extend(fingerprints(0..1000));
        assert!(count.is_exact());
        assert_eq!(count.len(), 1000);
        count.extend(fingerprints(0..EXACT_UP_TO as u64));
        assert!(count.is_exact());
        assert_eq!(count.len(), EXACT_UP_TO);
    }

    #[test]
    fn past_the_bound_an_estimate_within_four_standard_errors() {
        let mut count = DistinctCount::default();
        let n = 3 * EXACT_UP_TO as u64;
        count.extend(fingerprints(0..n));
        assert!(!count.is_exact());
        let after_once = count.len();
        // Repeats move no register.
        count.extend(fingerprints(0..n));
        assert_eq!(count.len(), after_once);
        let error = (after_once as f64 - n as f64).abs() / n as f64;
        assert!(error < 4.0 * 1.04 / (REGISTERS as f64).sqrt(), "estimate {after_once} of {n}: error {error}");
        // Past the bound, the sketch is all that is kept.
        if let DistinctCount::Estimated(registers) = &count {
            assert_eq!(registers.len(), REGISTERS);
        }
    }
}
