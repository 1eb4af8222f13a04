//! Seeded randomness: independent ChaCha8 streams and an alias table.
//!
//! Every random decision draws from a ChaCha8 stream (`rand::rngs::ChaCha8Rng`)
//! keyed by the configuration's seed. Streams are addressed, not shared: the moves of
//! person `p` on day `d` come from stream `d` at block `p × 64`, so one person's day
//! never shifts another's, and the output does not depend on the order in which
//! persons are generated.

use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};

/// Blocks of 64 bytes reserved per person and day (1,024 words, far more than used).
const BLOCKS_PER_PERSON: u64 = 64;

/// Stream numbers: days use `0..days`; the rest sit far above.
const STREAM_CITY: u64 = 1 << 62;
const STREAM_OUTBREAK: u64 = (1 << 62) + (1 << 32);

/// The key all streams are derived from.
#[derive(Clone)]
pub(crate) struct Streams {
    key: [u8; 32],
}

impl Streams {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            key: ChaCha8Rng::seed_from_u64(seed).get_seed(),
        }
    }

    fn stream(&self, stream: u64, block: u64) -> Rand {
        let mut rng = ChaCha8Rng::from_seed(self.key);
        rng.set_stream(stream);
        if block != 0 {
            rng.set_block_pos(block);
        }
        Rand(rng)
    }

    /// The stream that builds the city, one per purpose.
    pub(crate) fn city(&self, purpose: u64) -> Rand {
        self.stream(STREAM_CITY + purpose, 0)
    }

    /// The moves and routine test of one person on one day.
    pub(crate) fn person_day(&self, day: u32, person: u32) -> Rand {
        self.stream(u64::from(day), u64::from(person) * BLOCKS_PER_PERSON)
    }

    /// The outbreak's and the authorities' decisions on one day.
    pub(crate) fn outbreak(&self, day: u32) -> Rand {
        self.stream(STREAM_OUTBREAK + u64::from(day), 0)
    }
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Streams(..)")
    }
}

/// A random source with the few draws the generator needs.
pub(crate) struct Rand(ChaCha8Rng);

impl Rand {
    #[inline]
    pub(crate) fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (`n > 0`), by a 64×64-bit multiply (bias below 2^-32).
    #[inline]
    pub(crate) fn below(&mut self, n: u32) -> u32 {
        ((u128::from(self.u64()) * u128::from(n)) >> 64) as u32
    }

    /// Uniform in `lo..=hi`.
    #[inline]
    pub(crate) fn between(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub(crate) fn unit(&mut self) -> f64 {
        (self.u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    #[inline]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Approximately standard normal (sum of four uniforms, scaled): cheap, bounded
    /// at ±3.46, which suits durations.
    #[inline]
    pub(crate) fn normal(&mut self) -> f64 {
        let r = self.u64();
        let sum: u32 = (0..4).map(|i| ((r >> (16 * i)) & 0xffff) as u32).sum();
        (f64::from(sum) / 65_536.0 - 2.0) * 3f64.sqrt()
    }

    /// Poisson-distributed count with mean `lambda` (Knuth's method, for small means;
    /// large means use a normal approximation).
    pub(crate) fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u32;
        }
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut product = self.unit();
        while product > limit {
            k += 1;
            product *= self.unit();
        }
        k
    }

    /// One index of `weights` (cumulative search; for small, one-off choices).
    pub(crate) fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// Walker's alias method: O(1) weighted choice among `items`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Alias {
    items: Vec<u32>,
    /// Acceptance threshold of each slot, scaled to 2^32.
    threshold: Vec<u32>,
    /// The slot taken when the threshold rejects.
    alias: Vec<u32>,
}

impl Alias {
    /// A table over `items` with the given positive weights (same length, non-empty).
    pub(crate) fn new(items: Vec<u32>, weights: &[f64]) -> Self {
        let n = items.len();
        assert!(n > 0 && n == weights.len(), "alias table needs items");
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut threshold = vec![u32::MAX; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            threshold[s] = (scaled[s] * 4_294_967_296.0).min(4_294_967_295.0) as u32;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        Self {
            items,
            threshold,
            alias,
        }
    }

    #[inline]
    pub(crate) fn sample(&self, rng: &mut Rand) -> u32 {
        let r = rng.u64();
        let slot = ((u64::from(r as u32) * self.items.len() as u64) >> 32) as usize;
        let slot = if ((r >> 32) as u32) < self.threshold[slot] {
            slot
        } else {
            self.alias[slot] as usize
        };
        self.items[slot]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let s = Streams::new(7);
        let a: Vec<u64> = (0..4).map(|_| s.person_day(3, 10).u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(s.person_day(3, 10).u64(), s.person_day(3, 11).u64());
        assert_ne!(s.person_day(3, 10).u64(), s.person_day(4, 10).u64());
        assert_ne!(Streams::new(8).person_day(3, 10).u64(), a[0]);
    }

    #[test]
    fn the_alias_table_follows_its_weights() {
        let table = Alias::new(vec![10, 20, 30], &[1.0, 2.0, 7.0]);
        let mut rng = Streams::new(1).city(0);
        let mut counts = [0u32; 3];
        for _ in 0..100_000 {
            counts[(table.sample(&mut rng) / 10 - 1) as usize] += 1;
        }
        assert!((9_000..11_000).contains(&counts[0]), "{counts:?}");
        assert!((18_500..21_500).contains(&counts[1]), "{counts:?}");
        assert!((68_500..71_500).contains(&counts[2]), "{counts:?}");
    }

    #[test]
    fn draws_stay_in_range() {
        let mut rng = Streams::new(2).city(1);
        for _ in 0..10_000 {
            assert!(rng.below(7) < 7);
            let b = rng.between(3, 5);
            assert!((3..=5).contains(&b));
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(rng.normal().abs() < 3.5);
        }
        let mean = (0..10_000).map(|_| rng.poisson(2.5)).sum::<u32>() as f64 / 10_000.0;
        assert!((2.3..2.7).contains(&mean), "{mean}");
    }
}
