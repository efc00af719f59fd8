//! One schedule split across several load generators (`--shard I/N`): k6's execution segments,
//! with integer weights.
//!
//! Every arrival of an open model and every VU of a closed one has a *global* number; shard I
//! runs the numbers its [`Stripe`] picks, and keeps their global meaning: an arrival keeps its
//! global intended send time (so coordinated-omission correction holds on each shard, and the
//! shards' rates sum exactly to the rate asked for), a VU keeps its global number (so a ramp
//! starts the same VUs in the same order as one process would).
//!
//! The stripe is Balinski and Young's *quota method* of apportionment, applied one number at
//! a time: the next number goes to the shard furthest below its share (Jefferson's priority)
//! among those still below their upper quota. Its property — proved by Balinski and Young and
//! checked here by a property test — is that for *every* prefix of n numbers each shard has
//! between ⌊n·share⌋ and ⌈n·share⌉ of them: whatever the duration or the ramp, no shard is
//! more than one request from its share. The order repeats every Σweights numbers.
//!
//! Written here rather than taken from a crate: no maintained crate implements execution
//! segments or quota-method striping, and it is forty lines.

use std::str::FromStr;

/// The most shards one schedule may be split into.
pub const MAX_SHARDS: usize = 256;
/// The largest weight (the stripe's period is the sum of the weights).
pub const MAX_WEIGHT: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("--shard {0:?}: expected I/N, shard I of N counted from 0 (e.g. 0/3, 1/3, 2/3)")]
    Syntax(String),
    #[error("--shard {index}/{count}: the index counts from 0, so it must be below {count}")]
    Index { index: usize, count: usize },
    #[error("--shard …/{0}: between 1 and {MAX_SHARDS} shards")]
    Count(usize),
    #[error("--shard-weights gives {given} weights for {count} shards: one per shard (e.g. 2,1,1)")]
    Weights { given: usize, count: usize },
    #[error("--shard-weights: each weight is a whole number from 1 to {MAX_WEIGHT}")]
    Weight,
}

/// Which part of one global schedule this load generator runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    weights: Vec<u32>,
}

impl Shard {
    /// Shard `index` of `weights.len()`, with the given relative weights.
    pub fn new(index: usize, weights: Vec<u32>) -> Result<Shard, ShardError> {
        let count = weights.len();
        if count == 0 || count > MAX_SHARDS {
            return Err(ShardError::Count(count));
        }
        if index >= count {
            return Err(ShardError::Index { index, count });
        }
        if weights.iter().any(|w| *w == 0 || *w > MAX_WEIGHT) {
            return Err(ShardError::Weight);
        }
        Ok(Shard { index, weights })
    }

    /// `--shard I/N` with optional `--shard-weights` (equal weights without).
    pub fn parse(spec: &str, weights: Option<&str>) -> Result<Shard, ShardError> {
        let (i, n) = spec
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)))
            .ok_or_else(|| ShardError::Syntax(spec.to_string()))?;
        let weights = match weights {
            None => vec![1; n],
            Some(text) => {
                let ws = text
                    .split(',')
                    .map(|w| w.trim().parse::<u32>().map_err(|_| ShardError::Weight))
                    .collect::<Result<Vec<_>, _>>()?;
                if ws.len() != n {
                    return Err(ShardError::Weights {
                        given: ws.len(),
                        count: n,
                    });
                }
                ws
            }
        };
        Shard::new(i, weights)
    }

    pub fn index(&self) -> usize {
        self.index
    }

    pub fn count(&self) -> usize {
        self.weights.len()
    }

    pub fn weights(&self) -> &[u32] {
        &self.weights
    }

    /// This shard's share of the schedule, as a fraction.
    pub fn share(&self) -> f64 {
        self.weights[self.index] as f64 / self.weights.iter().sum::<u32>() as f64
    }

    /// The numbers this shard runs.
    pub fn stripe(&self) -> Stripe {
        let owners = owners(&self.weights);
        Stripe {
            period: owners.len() as u64,
            positions: owners
                .iter()
                .enumerate()
                .filter(|(_, o)| **o == self.index)
                .map(|(p, _)| p as u64)
                .collect(),
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count())
    }
}

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        Shard::parse(s, None)
    }
}

/// Who owns each of the first Σweights numbers (the order then repeats), by the quota method.
pub fn owners(weights: &[u32]) -> Vec<usize> {
    let total: u64 = weights.iter().map(|w| *w as u64).sum();
    let mut counts = vec![0u64; weights.len()];
    let mut owners = Vec::with_capacity(total as usize);
    for n in 0..total {
        // Below the upper quota after this number: count < (n + 1)·w / W.
        let eligible = |s: usize| counts[s] * total < (n + 1) * weights[s] as u64;
        // Jefferson's priority w / (count + 1), compared by cross-multiplying; ties go to the
        // lower index, so every shard computes the same order.
        let mut best: Option<usize> = None;
        for s in (0..weights.len()).filter(|s| eligible(*s)) {
            best = match best {
                Some(b)
                    if weights[b] as u64 * (counts[s] + 1)
                        >= weights[s] as u64 * (counts[b] + 1) =>
                {
                    Some(b)
                }
                _ => Some(s),
            };
        }
        let s = best.expect("some shard is below its upper quota");
        counts[s] += 1;
        owners.push(s);
    }
    owners
}

/// A shard's numbers: of every `period` consecutive global numbers, those at `positions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripe {
    period: u64,
    positions: Vec<u64>,
}

impl Stripe {
    /// The whole schedule (one process, no sharding).
    pub fn whole() -> Stripe {
        Stripe {
            period: 1,
            positions: vec![0],
        }
    }

    /// The global number of this shard's `n`-th number.
    pub fn global(&self, n: u64) -> u64 {
        let k = self.positions.len() as u64;
        (n / k) * self.period + self.positions[(n % k) as usize]
    }

    /// How many of the global numbers below `g` are this shard's.
    pub fn local(&self, g: u64) -> u64 {
        let k = self.positions.len() as u64;
        let rest = g % self.period;
        (g / self.period) * k + self.positions.partition_point(|p| *p < rest) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_shards_take_turns() {
        assert_eq!(owners(&[1, 1, 1]), vec![0, 1, 2]);
        let s = Shard::parse("1/3", None).unwrap().stripe();
        assert_eq!(
            (0..4).map(|n| s.global(n)).collect::<Vec<_>>(),
            [1, 4, 7, 10]
        );
        assert_eq!(s.local(0), 0);
        assert_eq!(s.local(2), 1);
        assert_eq!(s.local(5), 2);
    }

    #[test]
    fn weights_interleave_rather_than_bunch() {
        // 2,1,1: shard 0 every other number, not two in a row then the others.
        assert_eq!(owners(&[2, 1, 1]), vec![0, 1, 0, 2]);
    }

    #[test]
    fn bad_specs_say_what_is_expected() {
        assert_eq!(
            Shard::parse("3/3", None),
            Err(ShardError::Index { index: 3, count: 3 })
        );
        assert!(matches!(
            Shard::parse("1-3", None),
            Err(ShardError::Syntax(_))
        ));
        assert_eq!(
            Shard::parse("0/3", Some("2,1")),
            Err(ShardError::Weights { given: 2, count: 3 })
        );
        assert_eq!(Shard::parse("0/2", Some("0,1")), Err(ShardError::Weight));
        assert_eq!(Shard::parse("0/0", None), Err(ShardError::Count(0)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Every prefix of the global order gives each shard ⌊n·share⌋ to ⌈n·share⌉ numbers,
        /// and the shards' numbers are a partition of all of them.
        #[test]
        fn every_prefix_is_within_one_of_each_share(
            weights in prop::collection::vec(1u32..=12, 1..=7),
            n in 0u64..400,
        ) {
            let total: u64 = weights.iter().map(|w| *w as u64).sum();
            let stripes: Vec<Stripe> = (0..weights.len())
                .map(|i| Shard::new(i, weights.clone()).unwrap().stripe())
                .collect();
            let mut seen = vec![false; n as usize];
            for (i, s) in stripes.iter().enumerate() {
                let count = s.local(n);
                let exact = n as f64 * weights[i] as f64 / total as f64;
                prop_assert!(count as f64 >= exact.floor() - 1e-9 && count as f64 <= exact.ceil() + 1e-9,
                    "shard {i} of {weights:?}: {count} of the first {n}, share {exact}");
                for k in 0..count {
                    let g = s.global(k);
                    prop_assert!(g < n);
                    prop_assert!(!seen[g as usize], "number {g} is in two shards");
                    seen[g as usize] = true;
                    prop_assert_eq!(s.local(g), k);
                }
            }
            prop_assert!(seen.iter().all(|s| *s), "every number is in a shard");
        }
    }
}
