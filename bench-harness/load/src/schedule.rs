//! When the n-th request of an open model should be sent, and how many VUs a ramping closed
//! model wants at time t. Pure functions of time, so they are easy to test.

use std::time::Duration;

use crate::model::{LoadModel, Stage};
use crate::shard::Stripe;

/// A piecewise-linear rate r(t). Send n happens at the t where ∫₀ᵗ r = n.
///
/// A striped schedule is one shard's part of it: its n-th send is the stripe's n-th global
/// send, at that send's global time.
#[derive(Debug, Clone)]
pub struct ArrivalSchedule {
    start_rate: f64,
    stages: Vec<Stage>,
    stripe: Option<Stripe>,
}

impl ArrivalSchedule {
    pub fn for_model(model: &LoadModel) -> Option<ArrivalSchedule> {
        match model {
            LoadModel::ConstantArrivalRate { rate, duration, .. } => Some(ArrivalSchedule {
                start_rate: *rate,
                stages: vec![Stage {
                    duration: *duration,
                    target: *rate,
                }],
                stripe: None,
            }),
            LoadModel::RampingArrivalRate {
                start_rate, stages, ..
            } => Some(ArrivalSchedule {
                start_rate: *start_rate,
                stages: stages.clone(),
                stripe: None,
            }),
            _ => None,
        }
    }

    /// Only the sends of one shard, at their global times.
    pub fn striped(self, stripe: Stripe) -> ArrivalSchedule {
        ArrivalSchedule {
            stripe: Some(stripe),
            ..self
        }
    }

    /// Intended offset of send `n` (0-based) from the start, or `None` if it falls after the end.
    pub fn offset(&self, n: u64) -> Option<Duration> {
        match &self.stripe {
            Some(s) => self.global_offset(s.global(n)),
            None => self.global_offset(n),
        }
    }

    /// How many sends are due by `elapsed`: those whose intended offset is at most `elapsed`.
    pub fn due_by(&self, elapsed: Duration) -> u64 {
        let g = self.global_due_by(elapsed);
        self.stripe.as_ref().map_or(g, |s| s.local(g))
    }

    /// Total sends the schedule contains.
    pub fn total(&self) -> u64 {
        let g = self.global_total();
        self.stripe.as_ref().map_or(g, |s| s.local(g))
    }

    fn global_offset(&self, n: u64) -> Option<Duration> {
        // The schedule holds ⌊∫r⌋ sends: a last half-slot that fits is not one more send
        // (the property test on shards found offset and total disagreeing there).
        if n >= self.global_total() {
            return None;
        }
        // Send n happens when the cumulative count reaches n + 0.5: sends are centred in their
        // slot, so a constant rate r sends at 0.5/r, 1.5/r, ... and exactly r·T sends fit in T.
        let mut remaining = n as f64 + 0.5;
        let mut elapsed = 0.0;
        let mut r0 = self.start_rate;
        for stage in &self.stages {
            let t = stage.duration.as_secs_f64();
            let r1 = stage.target;
            let area = (r0 + r1) / 2.0 * t;
            if remaining <= area {
                // Solve r0·x + (r1 − r0)·x²/(2t) = remaining for x in [0, t].
                let a = (r1 - r0) / (2.0 * t);
                let x = if a.abs() < 1e-12 {
                    remaining / r0
                } else {
                    (-r0 + (r0 * r0 + 4.0 * a * remaining).max(0.0).sqrt()) / (2.0 * a)
                };
                return Some(Duration::from_secs_f64(elapsed + x.clamp(0.0, t)));
            }
            remaining -= area;
            elapsed += t;
            r0 = r1;
        }
        None
    }

    /// The inverse of [`global_offset`](Self::global_offset), in O(stages).
    fn global_due_by(&self, elapsed: Duration) -> u64 {
        let mut t = elapsed.as_secs_f64();
        let mut area = 0.0;
        let mut r0 = self.start_rate;
        for stage in &self.stages {
            let d = stage.duration.as_secs_f64();
            let r1 = stage.target;
            let x = t.min(d);
            // ∫₀ˣ r0 + (r1 − r0)·u/d du
            area += r0 * x
                + if d > 0.0 {
                    (r1 - r0) * x * x / (2.0 * d)
                } else {
                    0.0
                };
            if t <= d {
                break;
            }
            t -= d;
            r0 = r1;
        }
        // Send n is due when the area reaches n + 0.5.
        ((area + 0.5 + 1e-9).floor() as u64).min(self.global_total())
    }

    fn global_total(&self) -> u64 {
        let mut r0 = self.start_rate;
        let mut total = 0.0;
        for s in &self.stages {
            total += (r0 + s.target) / 2.0 * s.duration.as_secs_f64();
            r0 = s.target;
        }
        (total + 1e-9).floor() as u64
    }
}

/// How many VUs a closed model wants at `elapsed` (linear between stage targets, as k6).
pub fn target_vus(model: &LoadModel, elapsed: Duration) -> u32 {
    match model {
        LoadModel::ConstantVus { vus, .. } => *vus,
        LoadModel::RampingVus {
            start_vus, stages, ..
        } => {
            let mut from = *start_vus as f64;
            let mut t = elapsed.as_secs_f64();
            for s in stages {
                let d = s.duration.as_secs_f64();
                if t <= d {
                    let frac = if d > 0.0 { t / d } else { 1.0 };
                    return (from + (s.target - from) * frac).round() as u32;
                }
                t -= d;
                from = s.target;
            }
            from.round() as u32
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_is_evenly_spaced_and_complete() {
        let s = ArrivalSchedule::for_model(&LoadModel::ConstantArrivalRate {
            rate: 100.0,
            duration: Duration::from_secs(2),
            max_vus: 1,
        })
        .unwrap();
        assert_eq!(s.total(), 200);
        assert_eq!(s.offset(0).unwrap(), Duration::from_secs_f64(0.005));
        let gap = s.offset(11).unwrap() - s.offset(10).unwrap();
        assert!((gap.as_secs_f64() - 0.01).abs() < 1e-9);
        assert!(s.offset(199).is_some());
        assert!(s.offset(200).is_none());
        // due_by inverts offset: send n is due exactly at its offset, not before.
        for n in [0u64, 1, 57, 199] {
            let at = s.offset(n).unwrap();
            assert_eq!(s.due_by(at), n + 1, "at send {n}");
            assert_eq!(
                s.due_by(at - Duration::from_micros(10)),
                n,
                "before send {n}"
            );
        }
        assert_eq!(s.due_by(Duration::from_secs(60)), 200);
    }

    #[test]
    fn ramp_sends_the_area_under_the_rate() {
        let s = ArrivalSchedule::for_model(&LoadModel::RampingArrivalRate {
            start_rate: 0.0,
            stages: vec![
                Stage {
                    duration: Duration::from_secs(10),
                    target: 100.0,
                },
                Stage {
                    duration: Duration::from_secs(10),
                    target: 100.0,
                },
            ],
            max_vus: 1,
        })
        .unwrap();
        assert_eq!(s.total(), 1500); // 500 during the ramp, 1000 after
        // Half of the ramp's sends happen in its last 29 % (quadratic growth).
        let mid = s.offset(250).unwrap().as_secs_f64();
        assert!((mid - 7.07).abs() < 0.05, "{mid}");
        assert!(s.offset(1499).is_some() && s.offset(1500).is_none());
        for n in [0u64, 250, 499, 500, 1234] {
            let at = s.offset(n).unwrap();
            assert_eq!(
                s.due_by(at + Duration::from_nanos(100)),
                n + 1,
                "at send {n}"
            );
        }
    }

    #[test]
    fn a_huge_rate_is_counted_in_one_step() {
        // 1e6/s for 10 s: ten million sends, computed without iterating over them.
        let s = ArrivalSchedule::for_model(&LoadModel::ConstantArrivalRate {
            rate: 1e6,
            duration: Duration::from_secs(10),
            max_vus: 1,
        })
        .unwrap();
        assert_eq!(s.due_by(Duration::from_secs(5)), 5_000_000);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// For random weights, rates and stages, the shards' schedules together are the
        /// single-process schedule, send for send and instant for instant.
        #[test]
        fn the_shards_together_are_the_whole_schedule(
            weights in proptest::collection::vec(1u32..=5, 1..=5),
            start in 0.0f64..200.0,
            stages in proptest::collection::vec((1u64..=3000, 0.0f64..300.0), 1..=4),
            probe in 0u64..12_000,
        ) {
            let model = LoadModel::RampingArrivalRate {
                start_rate: start,
                stages: stages
                    .iter()
                    .map(|(ms, target)| Stage { duration: Duration::from_millis(*ms), target: *target })
                    .collect(),
                max_vus: 1,
            };
            let whole = ArrivalSchedule::for_model(&model).unwrap();
            let mut union: Vec<Duration> = Vec::new();
            let probe = Duration::from_millis(probe);
            let mut due = 0;
            for i in 0..weights.len() {
                let shard = crate::shard::Shard::new(i, weights.clone()).unwrap();
                let part = whole.clone().striped(shard.stripe());
                union.extend((0..part.total()).map(|n| part.offset(n).unwrap()));
                proptest::prop_assert!(part.offset(part.total()).is_none());
                due += part.due_by(probe);
            }
            union.sort();
            let all: Vec<Duration> = (0..whole.total()).map(|n| whole.offset(n).unwrap()).collect();
            proptest::prop_assert_eq!(union, all);
            proptest::prop_assert_eq!(due, whole.due_by(probe));
        }
    }

    #[test]
    fn ramping_vus_interpolates() {
        let m = LoadModel::RampingVus {
            start_vus: 0,
            stages: vec![Stage {
                duration: Duration::from_secs(10),
                target: 10.0,
            }],
            think_time: Duration::ZERO,
        };
        assert_eq!(target_vus(&m, Duration::from_secs(5)), 5);
        assert_eq!(target_vus(&m, Duration::from_secs(60)), 10);
    }
}
