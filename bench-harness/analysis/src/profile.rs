//! CPU profiles as numbers: where each variant's service spent its CPU, and what changed
//! between variants. A profile is folded stacks (`thread;outer;…;leaf` → samples), as the
//! service's `POST /admin/profile/stop` returns them; rendering them as flame graphs is the
//! report's job.
//!
//! Two shares per frame, as every profiler shows them: **self** (the frame was the leaf: the
//! CPU was in that function's own code) and **total** (the frame was anywhere on the stack:
//! the CPU was in it or in what it called). A frame that recurses counts once per sample.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A variant's samples, merged over its rounds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// Samples per CPU-second the service was asked for.
    pub frequency_hz: u32,
    /// Wall-clock seconds profiled (the rounds' lengths, summed).
    pub seconds: f64,
    /// Folded stack (outermost frame first, `;`-separated) → samples.
    pub stacks: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line} of a folded profile is not `frame;frame;… COUNT`: {text:?}")]
pub struct FoldedError {
    pub line: usize,
    pub text: String,
}

impl Profile {
    /// Reads folded text; blank lines are skipped, repeated stacks add up.
    pub fn parse_folded(text: &str) -> Result<BTreeMap<String, u64>, FoldedError> {
        let mut stacks = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = || FoldedError {
                line: i + 1,
                text: line.chars().take(120).collect(),
            };
            let (stack, count) = line.rsplit_once(' ').ok_or_else(bad)?;
            let count: u64 = count.trim().parse().map_err(|_| bad())?;
            if stack.is_empty() {
                return Err(bad());
            }
            *stacks.entry(stack.to_string()).or_insert(0) += count;
        }
        Ok(stacks)
    }

    /// Adds another round's samples.
    pub fn absorb(&mut self, frequency_hz: u32, seconds: f64, stacks: BTreeMap<String, u64>) {
        self.frequency_hz = frequency_hz;
        self.seconds += seconds;
        for (stack, n) in stacks {
            *self.stacks.entry(stack).or_insert(0) += n;
        }
    }

    pub fn samples(&self) -> u64 {
        self.stacks.values().sum()
    }

    /// The folded text again, one line per stack (what inferno and speedscope read).
    pub fn folded(&self) -> String {
        self.stacks
            .iter()
            .map(|(s, n)| format!("{s} {n}\n"))
            .collect()
    }

    /// Self and total share (0–1) of every frame, the thread names at the root left out (they
    /// say which thread, not which code).
    pub fn shares(&self) -> BTreeMap<String, FrameShare> {
        let total = self.samples().max(1) as f64;
        let mut self_n: BTreeMap<&str, u64> = BTreeMap::new();
        let mut total_n: BTreeMap<&str, u64> = BTreeMap::new();
        for (stack, &n) in &self.stacks {
            let frames: Vec<&str> = stack.split(';').skip(1).collect();
            if let Some(leaf) = frames.last() {
                *self_n.entry(leaf).or_insert(0) += n;
            }
            let distinct: BTreeSet<&str> = frames.iter().copied().collect();
            for f in distinct {
                *total_n.entry(f).or_insert(0) += n;
            }
        }
        total_n
            .into_iter()
            .map(|(name, t)| {
                let s = self_n.get(name).copied().unwrap_or(0);
                (
                    name.to_string(),
                    FrameShare {
                        name: name.to_string(),
                        self_share: s as f64 / total,
                        total_share: t as f64 / total,
                    },
                )
            })
            .collect()
    }

    /// Share of samples with a frame whose name contains `needle` anywhere on the stack.
    pub fn share_containing(&self, needle: &str) -> f64 {
        let hit: u64 = self
            .stacks
            .iter()
            .filter(|(s, _)| s.split(';').skip(1).any(|f| f.contains(needle)))
            .map(|(_, n)| n)
            .sum();
        hit as f64 / self.samples().max(1) as f64
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameShare {
    pub name: String,
    pub self_share: f64,
    pub total_share: f64,
}

/// One variant's profile in a few numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileSummary {
    pub variant: String,
    pub samples: u64,
    pub frequency_hz: u32,
    pub seconds: f64,
    /// The frames with the largest self share, largest first.
    pub top_self: Vec<FrameShare>,
    /// Samples the service's CPU time over the profiled rounds should have given at this
    /// frequency (its `process_cpu_*` counters), when it publishes them. Fewer were kept:
    /// pprof drops a sample whose innermost frame is in libc, libgcc, pthread or the vDSO,
    /// where unwinding from a signal handler can deadlock — so system calls, `malloc` and
    /// `memcpy` are under-represented, and the report says by how much.
    pub expected_samples: Option<f64>,
}

/// A frame whose self share differs between two variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameChange {
    pub name: String,
    pub baseline_share: f64,
    pub candidate_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileComparison {
    pub baseline: String,
    pub candidate: String,
    /// The frames whose self share changed most, largest change first. Self, not total: a
    /// total share also moves in every caller of what changed, which fills the table with the
    /// runtime's frames.
    pub changes: Vec<FrameChange>,
}

/// How many frames the tables show.
pub const TOP: usize = 8;

/// Fewer samples than this and a share is mostly noise: the report says so.
pub const FEW_SAMPLES: u64 = 100;

pub fn summarize(variant: &str, p: &Profile, cpu_seconds: Option<f64>) -> ProfileSummary {
    let mut top: Vec<FrameShare> = p.shares().into_values().collect();
    top.sort_by(|a, b| {
        b.self_share
            .total_cmp(&a.self_share)
            .then(a.name.cmp(&b.name))
    });
    top.retain(|f| f.self_share > 0.0);
    top.truncate(TOP);
    ProfileSummary {
        variant: variant.to_string(),
        samples: p.samples(),
        frequency_hz: p.frequency_hz,
        seconds: p.seconds,
        top_self: top,
        expected_samples: cpu_seconds.map(|s| s * p.frequency_hz as f64),
    }
}

/// The frames whose self share moved most from `base` to `cand`.
pub fn compare(
    base_name: &str,
    base: &Profile,
    cand_name: &str,
    cand: &Profile,
) -> ProfileComparison {
    let (b, c) = (base.shares(), cand.shares());
    let names: BTreeSet<&String> = b.keys().chain(c.keys()).collect();
    let share = |m: &BTreeMap<String, FrameShare>, n: &str| m.get(n).map_or(0.0, |f| f.self_share);
    let mut changes: Vec<FrameChange> = names
        .into_iter()
        .map(|n| FrameChange {
            name: n.clone(),
            baseline_share: share(&b, n),
            candidate_share: share(&c, n),
        })
        .filter(|f| f.baseline_share != f.candidate_share)
        .collect();
    let moved = |f: &FrameChange| (f.candidate_share - f.baseline_share).abs();
    changes.sort_by(|x, y| moved(y).total_cmp(&moved(x)).then(x.name.cmp(&y.name)));
    changes.truncate(TOP);
    ProfileComparison {
        baseline: base_name.to_string(),
        candidate: cand_name.to_string(),
        changes,
    }
}

/// The service's CPU seconds (user + system) over one variant's rounds, from the counters
/// scraped around them; `None` when the service does not publish them.
pub fn cpu_seconds(variant: usize, rounds: &[crate::RoundMeasurement]) -> Option<f64> {
    let mut total = None;
    for r in rounds.iter().filter(|r| r.variant == variant) {
        let user = r.counters.get("process_cpu_user_nanoseconds_total")?;
        let system = r
            .counters
            .get("process_cpu_system_nanoseconds_total")
            .unwrap_or(&0.0);
        *total.get_or_insert(0.0) += (user + system) / 1e9;
    }
    total
}

/// Every profiled variant summarised, and each later one compared with the first (the
/// baseline, as in the verdicts). `rounds` give the CPU time each profile should cover.
pub fn analyze(
    variants: &[String],
    profiles: &[Option<Profile>],
    rounds: &[crate::RoundMeasurement],
) -> (Vec<ProfileSummary>, Vec<ProfileComparison>) {
    let profiled: Vec<(usize, &String, &Profile)> = variants
        .iter()
        .zip(profiles)
        .enumerate()
        .filter_map(|(i, (n, p))| Some((i, n, p.as_ref()?)))
        .filter(|(_, _, p)| p.samples() > 0)
        .collect();
    let summaries = profiled
        .iter()
        .map(|(i, n, p)| summarize(n, p, cpu_seconds(*i, rounds)))
        .collect();
    let comparisons = match profiled.split_first() {
        Some(((_, bn, bp), rest)) => rest
            .iter()
            .map(|(_, cn, cp)| compare(bn, bp, cn, cp))
            .collect(),
        None => Vec::new(),
    };
    (summaries, comparisons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> Profile {
        Profile {
            frequency_hz: 99,
            seconds: 1.0,
            stacks: Profile::parse_folded(text).unwrap(),
        }
    }

    #[test]
    fn self_and_total_shares_count_each_sample_once() {
        let p = profile("t;main;work;lock 6\nt;main;work 2\nt;main;idle 2\nt;main;rec;rec 0\n");
        let s = p.shares();
        assert_eq!(s["lock"].self_share, 0.6);
        assert_eq!(s["work"].total_share, 0.8);
        assert_eq!(s["work"].self_share, 0.2);
        assert_eq!(s["main"].total_share, 1.0);
        assert!(!s.contains_key("t"), "thread names are not frames");
        assert_eq!(p.share_containing("lock"), 0.6);
        let sum = summarize("a", &p, Some(0.2));
        assert_eq!(sum.expected_samples, Some(0.2 * 99.0));
        assert_eq!(sum.samples, 10);
        assert_eq!(sum.top_self[0].name, "lock");
    }

    #[test]
    fn a_comparison_puts_the_frame_that_moved_most_first() {
        let naive = profile("t;main;lock 8\nt;main;work 2\n");
        let fast = profile("t;main;lock 1\nt;main;work 9\n");
        let c = compare("naive", &naive, "fast", &fast);
        assert_eq!(c.changes.len(), 2, "main is never a leaf and does not move");
        assert!((c.changes[0].baseline_share - 0.8).abs() < 1e-12);
        assert!((c.changes[0].candidate_share - 0.1).abs() < 1e-12);
    }

    #[test]
    fn folded_text_round_trips_and_bad_lines_are_named() {
        let p = profile("t;a;b 3\nt;a 1\nt;a;b 2\n");
        assert_eq!(p.stacks["t;a;b"], 5);
        assert_eq!(Profile::parse_folded(&p.folded()).unwrap(), p.stacks);
        let e = Profile::parse_folded("t;a 1\nno-count\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
