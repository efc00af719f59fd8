//! A sweep: the same interleaved comparison at each setting of one axis (VUs, an arrival rate,
//! a lab parameter or a service knob), turned into curves. Each point was analysed on its own
//! by [`crate::analyze`], with its calibrated comparisons; this module reads those analyses and
//! adds what only the whole curve shows:
//!
//! - **levels**: each variant's throughput, p50 and p99 at each point, with a pointwise
//!   interval from its rounds (a t-interval on the logarithms of the per-round values: rounds
//!   are the independent replicates, and their noise is relative; its coverage is tested on
//!   seeded synthetic rounds below);
//! - **the Universal Scalability Law** fitted to every round's throughput against the axis,
//!   when the axis is a concurrency ([`crate::scaling::fit_usl`], bootstrap intervals);
//! - **the knee** of each variant's p99 curve (Kneedle, [`crate::scaling::knee`]).
//!
//! Points the validity guard rejected are shown but never fitted.

use serde::Serialize;

use crate::scaling::{self, UslFit};
use crate::stats::{Interval, t_quantile};
use crate::{Analysis, Metric, Verdict};

/// What the swept value is, which decides the models that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AxisKind {
    /// Closed-model virtual users: the USL's N.
    Concurrency,
    /// An open model's arrival rate: throughput follows the schedule, so no USL; the knee of
    /// latency against the rate is the capacity.
    ArrivalRate,
    /// A lab parameter or a service knob (a pool size, a thread count): the USL is fitted with
    /// the value as N when the values are counts that include 1.
    Setting,
}

/// One point of the sweep, as the caller measured and analysed it.
pub struct PointInput<'a> {
    /// The axis value as written (`8`, `pool.size=8`).
    pub label: String,
    pub value: f64,
    pub analysis: &'a Analysis,
}

pub struct SweepInput<'a> {
    /// What was swept, as the user wrote it (`vus`, `db.pool_size`).
    pub axis: String,
    pub kind: AxisKind,
    pub points: Vec<PointInput<'a>>,
    /// Confidence of the pointwise levels and of the USL's bootstrap intervals.
    pub confidence: f64,
    /// Seeds the bootstrap (the same input gives the same fit).
    pub seed: u64,
}

/// A level with its pointwise interval (`None` with fewer than two usable rounds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Level {
    /// The geometric mean of the rounds' values.
    pub estimate: f64,
    pub interval: Option<Interval>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantAtPoint {
    pub variant: String,
    pub rounds: usize,
    /// Requests per second.
    pub throughput: Option<Level>,
    /// Milliseconds.
    pub p50: Option<Level>,
    pub p99: Option<Level>,
    pub error_rate: f64,
}

/// One comparison's headline metric at one point, as the point's own analysis judged it.
#[derive(Debug, Clone, Serialize)]
pub struct PointVerdict {
    pub candidate: String,
    pub baseline: String,
    pub metric: Metric,
    pub interval: Interval,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Serialize)]
pub struct PointResult {
    pub label: String,
    pub value: f64,
    /// Why the validity guard rejected this point (empty: valid).
    pub invalid: Vec<String>,
    pub variants: Vec<VariantAtPoint>,
    pub verdicts: Vec<PointVerdict>,
}

impl PointResult {
    pub fn is_valid(&self) -> bool {
        self.invalid.is_empty()
    }

    pub fn variant(&self, name: &str) -> Option<&VariantAtPoint> {
        self.variants.iter().find(|v| v.variant == name)
    }
}

/// Where a variant's p99 curve bends upwards.
#[derive(Debug, Clone, Serialize)]
pub struct Knee {
    pub label: String,
    pub value: f64,
    pub p99_ms: f64,
}

/// A variant's curve and the models fitted to it.
#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    pub variant: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usl: Option<UslReport>,
    /// Why there is no USL fit, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usl_missing: Option<String>,
    pub knee: Option<Knee>,
    /// The point with the highest throughput estimate.
    pub best_throughput: Option<(String, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UslReport {
    pub lambda: f64,
    pub sigma: f64,
    pub sigma_interval: (f64, f64),
    pub kappa: f64,
    pub kappa_interval: (f64, f64),
    pub peak_concurrency: Option<f64>,
    pub ceiling: Option<f64>,
    /// One line: what σ and κ mean here.
    pub meaning: String,
    /// The model's throughput at each point's value, for drawing it over the measurements.
    pub fitted: Vec<(f64, f64)>,
}

impl UslReport {
    fn from_fit(fit: &UslFit, values: &[f64]) -> UslReport {
        UslReport {
            lambda: fit.lambda,
            sigma: fit.sigma,
            sigma_interval: fit.sigma_interval,
            kappa: fit.kappa,
            kappa_interval: fit.kappa_interval,
            peak_concurrency: fit.peak_concurrency,
            ceiling: fit.ceiling,
            meaning: fit.meaning(),
            fitted: values.iter().map(|&n| (n, fit.throughput(n))).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SweepAnalysis {
    pub axis: String,
    pub kind: AxisKind,
    pub confidence: f64,
    pub points: Vec<PointResult>,
    pub curves: Vec<Curve>,
}

impl SweepAnalysis {
    /// Every variant's name, in the order of the first point.
    pub fn variant_names(&self) -> Vec<String> {
        self.points
            .first()
            .map(|p| p.variants.iter().map(|v| v.variant.clone()).collect())
            .unwrap_or_default()
    }
}

/// Bootstrap resamples of a USL fit: enough for stable 95 % percentiles, fast enough to run
/// for every variant of every report.
const USL_RESAMPLES: usize = 2000;

pub fn analyze_sweep(input: &SweepInput<'_>) -> SweepAnalysis {
    let mut points: Vec<PointResult> = input
        .points
        .iter()
        .map(|p| point_result(p, input.confidence))
        .collect();
    points.sort_by(|a, b| a.value.total_cmp(&b.value));
    let names: Vec<String> = points
        .first()
        .map(|p| p.variants.iter().map(|v| v.variant.clone()).collect())
        .unwrap_or_default();
    let curves = names
        .iter()
        .enumerate()
        .map(|(i, name)| curve(input, &points, name, input.seed.wrapping_add(i as u64)))
        .collect();
    SweepAnalysis {
        axis: input.axis.clone(),
        kind: input.kind,
        confidence: input.confidence,
        points,
        curves,
    }
}

fn point_result(p: &PointInput<'_>, confidence: f64) -> PointResult {
    let a = p.analysis;
    let variants = a
        .variants
        .iter()
        .map(|v| {
            let level = |m: Metric| level(&a.per_round(&v.name, m), confidence);
            VariantAtPoint {
                variant: v.name.clone(),
                rounds: a.rounds.iter().filter(|r| r.variant == v.name).count(),
                throughput: level(Metric::Throughput),
                p50: level(Metric::P50),
                p99: level(Metric::P99),
                error_rate: v.summary.error_rate,
            }
        })
        .collect();
    let verdicts = a
        .comparisons
        .iter()
        .flat_map(|c| {
            c.metrics
                .iter()
                .filter(|m| m.headline)
                .map(|m| PointVerdict {
                    candidate: c.candidate.clone(),
                    baseline: c.baseline.clone(),
                    metric: m.metric,
                    interval: m.interval,
                    verdict: m.verdict,
                })
        })
        .collect();
    PointResult {
        label: p.label.clone(),
        value: p.value,
        invalid: a.invalid.iter().map(ToString::to_string).collect(),
        variants,
        verdicts,
    }
}

/// The geometric mean of positive per-round values with a t-interval on their logarithms.
/// Values that are zero or not finite (a round without requests) are left out; none left: no
/// level.
pub fn level(values: &[f64], confidence: f64) -> Option<Level> {
    let logs: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite() && **v > 0.0)
        .map(|v| v.ln())
        .collect();
    if logs.is_empty() {
        return None;
    }
    let n = logs.len() as f64;
    let mean = logs.iter().sum::<f64>() / n;
    let interval = (logs.len() >= 2).then(|| {
        let var = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let half = t_quantile(1.0 - (1.0 - confidence) / 2.0, n - 1.0) * (var / n).sqrt();
        Interval {
            estimate: mean.exp(),
            low: (mean - half).exp(),
            high: (mean + half).exp(),
        }
    });
    Some(Level {
        estimate: mean.exp(),
        interval,
    })
}

fn curve(input: &SweepInput<'_>, points: &[PointResult], name: &str, seed: u64) -> Curve {
    let valid: Vec<&PointResult> = points.iter().filter(|p| p.is_valid()).collect();
    fn at<'p>(p: &'p PointResult, name: &str) -> Option<&'p VariantAtPoint> {
        p.variant(name)
    }
    let (usl, usl_missing) = match usl_points(input, &valid, name) {
        Err(why) => (None, Some(why)),
        Ok(xs) => match scaling::fit_usl(&xs, input.confidence, USL_RESAMPLES, seed) {
            Ok(fit) => {
                let values: Vec<f64> = valid.iter().map(|p| p.value).collect();
                (Some(UslReport::from_fit(&fit, &values)), None)
            }
            Err(e) => (None, Some(e.to_string())),
        },
    };
    let knee = latency_knee(&valid, name);
    let best_throughput = valid
        .iter()
        .filter_map(|p| Some((p.label.clone(), at(p, name)?.throughput?.estimate)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    Curve {
        variant: name.to_string(),
        usl,
        usl_missing,
        knee,
        best_throughput,
    }
}

/// The knee of p99, on the hockey stick — p99 against throughput — while throughput rises
/// with the axis (where a closed model's latency bends is where throughput stops following
/// the clients); against the axis value itself when throughput does not rise at every step
/// (past a USL peak), or under an open model (its throughput is the rate). None when p99 does
/// not rise beyond its pointwise intervals from the first point to the last.
fn latency_knee(valid: &[&PointResult], name: &str) -> Option<Knee> {
    let points: Vec<(f64, f64, f64, &str)> = valid
        .iter()
        .filter_map(|p| {
            let v = p.variant(name)?;
            Some((
                p.value,
                v.throughput?.estimate,
                v.p99?.estimate,
                p.label.as_str(),
            ))
        })
        .collect();
    // A curve that does not rise beyond its own noise has no knee: Kneedle would find one in
    // any wobble. It rises when the last point's interval lies wholly above the first's.
    let (first, last) = (
        valid.first()?.variant(name)?.p99?,
        valid.last()?.variant(name)?.p99?,
    );
    match (first.interval, last.interval) {
        (Some(a), Some(b)) if b.low > a.high => {}
        (None, _) | (_, None) if last.estimate > first.estimate => {}
        _ => return None,
    }
    let rising = points.windows(2).all(|w| w[1].1 > w[0].1);
    let curve: Vec<(f64, f64)> = points
        .iter()
        .map(|(value, x, p99, _)| (if rising { *x } else { *value }, *p99))
        .collect();
    scaling::knee(&curve).map(|i| Knee {
        label: points[i].3.to_string(),
        value: points[i].0,
        p99_ms: points[i].2,
    })
}

/// Every valid round's `(N, throughput)` for the USL, or why it does not apply.
fn usl_points(
    input: &SweepInput<'_>,
    valid: &[&PointResult],
    name: &str,
) -> Result<Vec<(f64, f64)>, String> {
    match input.kind {
        AxisKind::ArrivalRate => {
            return Err(
                "an open model's throughput is its arrival rate: the USL needs a \
                        concurrency axis (sweep vus, or a pool or thread count)"
                    .into(),
            );
        }
        AxisKind::Concurrency | AxisKind::Setting => {}
    }
    if let Some(p) = valid
        .iter()
        .find(|p| p.value < 1.0 || p.value.fract() != 0.0)
    {
        return Err(format!(
            "{} = {} is not a count ≥ 1: the USL's N is a number of clients, workers or connections",
            input.axis, p.label
        ));
    }
    let mut xs = Vec::new();
    for p in valid {
        let Some(point) = input.points.iter().find(|q| q.label == p.label) else {
            continue;
        };
        xs.extend(
            point
                .analysis
                .per_round(name, Metric::Throughput)
                .into_iter()
                .filter(|x| x.is_finite() && *x > 0.0)
                .map(|x| (p.value, x)),
        );
    }
    Ok(xs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn normal(rng: &mut StdRng) -> f64 {
        let (u, v): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn point(value: f64, throughput: f64, p99: (f64, f64, f64)) -> PointResult {
        let lvl = |e: f64, lo: f64, hi: f64| Level {
            estimate: e,
            interval: Some(Interval {
                estimate: e,
                low: lo,
                high: hi,
            }),
        };
        PointResult {
            label: value.to_string(),
            value,
            invalid: Vec::new(),
            variants: vec![VariantAtPoint {
                variant: "v".into(),
                rounds: 10,
                throughput: Some(lvl(throughput, throughput * 0.98, throughput * 1.02)),
                p50: None,
                p99: Some(lvl(p99.0, p99.1, p99.2)),
                error_rate: 0.0,
            }],
            verdicts: Vec::new(),
        }
    }

    #[test]
    fn a_knee_needs_a_rise_beyond_the_noise() {
        // A closed model saturating at 2: throughput levels off, p99 climbs.
        let stick = [
            point(1.0, 400.0, (3.0, 2.8, 3.2)),
            point(2.0, 700.0, (4.0, 3.8, 4.2)),
            point(4.0, 780.0, (10.0, 9.5, 10.5)),
            point(8.0, 800.0, (22.0, 21.0, 23.0)),
        ];
        let refs: Vec<&PointResult> = stick.iter().collect();
        assert_eq!(latency_knee(&refs, "v").unwrap().label, "2");
        // Flat within its intervals (pool-sizing's per-client under a pool sweep): no knee.
        let flat = [
            point(1.0, 1000.0, (124.0, 117.0, 132.0)),
            point(4.0, 1010.0, (128.0, 120.0, 136.0)),
            point(16.0, 990.0, (126.0, 118.0, 134.0)),
            point(64.0, 960.0, (138.0, 119.0, 160.0)),
        ];
        let refs: Vec<&PointResult> = flat.iter().collect();
        assert!(latency_knee(&refs, "v").is_none());
    }

    #[test]
    fn a_level_is_the_geometric_mean_and_skips_empty_rounds() {
        let l = level(&[100.0, 0.0, 400.0, f64::NAN], 0.95).unwrap();
        assert!((l.estimate - 200.0).abs() < 1e-9, "{l:?}");
        let iv = l.interval.unwrap();
        assert!(iv.low < 200.0 && iv.high > 200.0, "{iv:?}");
        assert!(level(&[5.0], 0.95).unwrap().interval.is_none());
        assert!(level(&[0.0], 0.95).is_none());
    }

    /// The pointwise level's coverage on seeded synthetic rounds: log-normal round values of
    /// 8 % relative noise around a known level, at the round counts a quick (3) and a full
    /// (10) run gives. Measured over 2 000 trials each: printed with `--nocapture`.
    #[test]
    fn the_level_interval_covers_the_truth() {
        for rounds in [3usize, 10] {
            let mut rng = StdRng::seed_from_u64(rounds as u64);
            let trials = 2000;
            let mut covered = 0;
            for _ in 0..trials {
                let xs: Vec<f64> = (0..rounds)
                    .map(|_| 1000.0 * (0.08 * normal(&mut rng)).exp())
                    .collect();
                let iv = level(&xs, 0.95).unwrap().interval.unwrap();
                if iv.low <= 1000.0 && 1000.0 <= iv.high {
                    covered += 1;
                }
            }
            let rate = covered as f64 / trials as f64;
            println!("level coverage, {rounds} rounds: {rate:.3}");
            assert!((0.93..=0.97).contains(&rate), "{rounds} rounds: {rate}");
        }
    }
}
