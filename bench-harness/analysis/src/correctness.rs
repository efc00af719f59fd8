//! Wrong answers the target found in itself. A service can count what a load generator cannot
//! see (acknowledged writes that are not stored, a lost update): by convention any counter
//! named `*_violations_total` counts wrong answers. A variant with one is wrong, and a wrong
//! variant's speed is not a result: the report says so instead of calling it faster, and the
//! run fails as a threshold would (`execute.rs`).

use serde::Serialize;

use crate::RoundResult;
use crate::thresholds::{Outcome, ThresholdResult};

/// The suffix that makes a counter a correctness counter.
pub const VIOLATIONS_SUFFIX: &str = "_violations_total";

/// One variant's wrong answers, by counter, over its measured rounds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WrongAnswers {
    pub variant: String,
    pub counter: String,
    pub count: f64,
    /// Requests the variant's rounds sent (settle periods included: the server saw them).
    pub requests: u64,
}

impl WrongAnswers {
    /// `lost update` from `likes_lost_update_violations_total`: what the counter counts.
    pub fn what(&self) -> String {
        let stem = self
            .counter
            .strip_suffix(VIOLATIONS_SUFFIX)
            .unwrap_or(&self.counter);
        // Drop the subsystem prefix (`likes_`) when there is more than one word left.
        let words: Vec<&str> = stem.split('_').collect();
        let words = if words.len() > 2 {
            &words[1..]
        } else {
            &words[..]
        };
        words.join(" ")
    }
}

/// A wrong variant fails the run as a threshold would: `read-modify-write: no lost update`.
pub fn failed_checks(wrong: &[WrongAnswers]) -> Vec<ThresholdResult> {
    wrong
        .iter()
        .map(|w| ThresholdResult {
            expression: format!("{}: no {} ({} = 0)", w.variant, w.what(), w.counter),
            passed: false,
            outcome: Outcome::Failed,
            detail: format!(
                "{} {} violation(s) in {} requests ({:.2} per 100)",
                w.count,
                w.what(),
                w.requests,
                100.0 * w.count / w.requests.max(1) as f64
            ),
        })
        .collect()
}

/// Every variant's `*_violations_total` counters that moved, in variant order.
pub fn find(variants: &[String], rounds: &[RoundResult]) -> Vec<WrongAnswers> {
    let mut out: Vec<WrongAnswers> = Vec::new();
    for variant in variants {
        let mine: Vec<&RoundResult> = rounds.iter().filter(|r| &r.variant == variant).collect();
        let requests = mine
            .iter()
            .map(|r| r.summary.requests + r.summary.settling)
            .sum();
        let mut counters: Vec<&String> = mine
            .iter()
            .flat_map(|r| r.counters.keys())
            .filter(|k| k.ends_with(VIOLATIONS_SUFFIX))
            .collect();
        counters.sort();
        counters.dedup();
        for counter in counters {
            let count: f64 = mine.iter().filter_map(|r| r.counters.get(counter)).sum();
            if count > 0.0 {
                out.push(WrongAnswers {
                    variant: variant.clone(),
                    counter: counter.clone(),
                    count,
                    requests,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::summary::{Summary, SummaryParts, new_hist};
    use std::collections::BTreeMap;

    fn round(variant: &str, ok: u64, counters: &[(&str, f64)]) -> RoundResult {
        let mut h = new_hist();
        h.record(1_000_000).unwrap();
        RoundResult {
            variant: variant.into(),
            index: 1,
            summary: Summary::from_parts(SummaryParts {
                latency: &h,
                service: &h,
                lag: None,
                ok,
                errors: 0,
                settling: 2,
                seconds: 1.0,
                late_sends: 0,
                unsent: 0,
                bytes_received: 0,
                checks: (0, 0),
                harness_cpu_seconds: 0.0,
                error_kinds: BTreeMap::new(),
                error_examples: BTreeMap::new(),
                failed_checks: BTreeMap::new(),
            }),
            per_second: vec![],
            counters: counters.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            steal_percent: None,
            focus: None,
        }
    }

    #[test]
    fn only_violations_that_moved_make_a_variant_wrong() {
        let lost = "likes_lost_update_violations_total";
        let rounds = [
            round(
                "naive",
                100,
                &[(lost, 30.0), ("db_statements_total", 200.0)],
            ),
            round("fixed", 100, &[(lost, 0.0)]),
            round("naive", 100, &[(lost, 12.0)]),
            // Not a correctness counter, however large.
            round("fixed", 100, &[("retry_total", 50.0)]),
        ];
        let wrong = find(&["naive".into(), "fixed".into()], &rounds);
        assert_eq!(
            wrong,
            vec![WrongAnswers {
                variant: "naive".into(),
                counter: lost.into(),
                count: 42.0,
                requests: 204,
            }]
        );
        let failed = failed_checks(&wrong);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].outcome, Outcome::Failed);
        assert!(failed[0].expression.starts_with("naive: no lost update"));
    }

    #[test]
    fn names_what_was_counted() {
        let w = WrongAnswers {
            variant: "v".into(),
            counter: "likes_lost_update_violations_total".into(),
            count: 3.0,
            requests: 10,
        };
        assert_eq!(w.what(), "lost update");
        let w = WrongAnswers {
            counter: "stale_read_violations_total".into(),
            ..w
        };
        assert_eq!(w.what(), "stale read");
    }
}
