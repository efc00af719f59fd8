//! Models of a scaling curve (issue #16's groundwork): the Universal Scalability Law fitted to
//! throughput against concurrency, and the knee of a latency curve. Sweeps will feed these;
//! the fits are tested on synthetic curves with known parameters, including the coverage of
//! their intervals (`tests` below).
//!
//! **USL** (Gunther): `X(N) = λN / (1 + σ(N − 1) + κN(N − 1))` — σ is contention (the serial
//! share: throughput is bounded by 1/σ times one client's), κ is coherency (crosstalk: past
//! `N* = √((1 − σ)/κ)` adding clients *lowers* throughput). With λ taken from the N = 1 point,
//! the model is linear in σ and κ: `N/C(N) − 1 = σ(N − 1) + κN(N − 1)` with `C(N) = X(N)/X(1)`
//! (Gunther's own fitting method), so a two-coefficient least-squares fit does it; no nonlinear
//! solver (and no numerical crate) is needed. Intervals: a bootstrap of the whole fit with
//! relative residuals.
//!
//! **Knee** (Kneedle, Satopää et al. 2011): normalise both axes to [0, 1]; for an increasing
//! convex curve (latency against load) the knee is where the curve is farthest below the
//! diagonal, i.e. where `x − y` peaks.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScalingError {
    #[error("a USL fit needs a point at concurrency 1 (it fixes λ); the sweep has {0:?}")]
    NoSinglePoint(Vec<f64>),
    #[error("a fit needs at least {needed} points at different concurrencies; got {got}")]
    TooFewPoints { needed: usize, got: usize },
    #[error("throughput must be positive and finite at every point; {0} is not")]
    BadThroughput(f64),
    #[error("concurrency must be a finite number ≥ 1 at every point; {0} is not")]
    BadConcurrency(f64),
    #[error(
        "a fit needs 0 < confidence < 1 and at least one resample (got {confidence}, {resamples})"
    )]
    BadSettings { confidence: f64, resamples: usize },
}

/// A USL fit with bootstrap intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct UslFit {
    /// Throughput of one client (the N = 1 point).
    pub lambda: f64,
    pub sigma: f64,
    pub kappa: f64,
    /// Percentile bootstrap intervals at the requested confidence.
    pub sigma_interval: (f64, f64),
    pub kappa_interval: (f64, f64),
    /// Where throughput peaks, `√((1 − σ)/κ)`; none when κ is 0 (it never falls).
    pub peak_concurrency: Option<f64>,
    /// The most parallelism can ever give over one client: `1/σ` (none when σ is 0).
    pub ceiling: Option<f64>,
}

impl UslFit {
    /// The model's throughput at concurrency `n`.
    pub fn throughput(&self, n: f64) -> f64 {
        usl(self.lambda, self.sigma, self.kappa, n)
    }

    /// One line saying what the fit means.
    pub fn meaning(&self) -> String {
        let ceiling = match self.ceiling {
            Some(c) if self.sigma >= 1.0 => {
                format!("at most {c:.1}×: throughput does not grow along this axis")
            }
            Some(c) => format!("at most {c:.1}× from parallelism"),
            None => "no contention measured".to_string(),
        };
        let peak = match self.peak_concurrency {
            Some(n) => format!("throughput falls past N* ≈ {n:.0}"),
            None if self.kappa > 0.0 => "no peak above N = 1".to_string(),
            None => "no coherency cost measured (κ = 0): no peak".to_string(),
        };
        format!(
            "contention σ = {:.3} [{:.3}, {:.3}]: {ceiling}; coherency κ = {:.5} [{:.5}, {:.5}]: {peak}",
            self.sigma,
            self.sigma_interval.0,
            self.sigma_interval.1,
            self.kappa,
            self.kappa_interval.0,
            self.kappa_interval.1
        )
    }
}

pub fn usl(lambda: f64, sigma: f64, kappa: f64, n: f64) -> f64 {
    lambda * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))
}

/// Least squares of `y ≈ σa + κb` with 0 ≤ σ ≤ 1, κ ≥ 0 (a negative coefficient is noise: it is set to
/// 0 and the other refitted alone).
fn nonnegative_fit(a: &[f64], b: &[f64], y: &[f64]) -> (f64, f64) {
    let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(p, q)| p * q).sum::<f64>();
    let (aa, bb, ab, ay, by) = (dot(a, a), dot(b, b), dot(a, b), dot(a, y), dot(b, y));
    let det = aa * bb - ab * ab;
    let (mut s, mut k) = if det.abs() > 1e-12 * aa.max(1.0) * bb.max(1.0) {
        ((ay * bb - by * ab) / det, (by * aa - ay * ab) / det)
    } else {
        (0.0, if bb > 0.0 { by / bb } else { 0.0 })
    };
    if s < 0.0 {
        s = 0.0;
        k = if bb > 0.0 { (by / bb).max(0.0) } else { 0.0 };
    }
    if k < 0.0 {
        k = 0.0;
        s = if aa > 0.0 { (ay / aa).max(0.0) } else { 0.0 };
    }
    // σ is a share: at most 1 (a curve that does not rise at all). Beyond it is noise on a
    // flat curve; κ is refitted with σ = 1.
    if s > 1.0 {
        s = 1.0;
        let rest: Vec<f64> = y.iter().zip(a).map(|(y, a)| y - a).collect();
        k = if bb > 0.0 {
            (dot(b, &rest) / bb).max(0.0)
        } else {
            0.0
        };
    }
    (s, k)
}

/// λ from the N = 1 points, then σ and κ by the linearised least squares (the points are
/// checked by the caller).
fn point_fit(points: &[(f64, f64)]) -> (f64, f64, f64) {
    let singles: Vec<f64> = points
        .iter()
        .filter(|(n, _)| *n == 1.0)
        .map(|(_, x)| *x)
        .collect();
    let lambda = singles.iter().sum::<f64>() / singles.len() as f64;
    let others: Vec<(f64, f64)> = points.iter().copied().filter(|(n, _)| *n != 1.0).collect();
    let a: Vec<f64> = others.iter().map(|(n, _)| n - 1.0).collect();
    let b: Vec<f64> = others.iter().map(|(n, _)| n * (n - 1.0)).collect();
    let y: Vec<f64> = others.iter().map(|(n, x)| n * lambda / x - 1.0).collect();
    let (sigma, kappa) = nonnegative_fit(&a, &b, &y);
    (lambda, sigma, kappa)
}

/// Fits the USL to `(concurrency, throughput)` points (one or more per concurrency; the mean
/// of the N = 1 points is λ). `confidence` is e.g. 0.95; `resamples` bootstrap rounds from
/// `seed`.
pub fn fit_usl(
    points: &[(f64, f64)],
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Result<UslFit, ScalingError> {
    if !(confidence > 0.0 && confidence < 1.0) || resamples == 0 {
        return Err(ScalingError::BadSettings {
            confidence,
            resamples,
        });
    }
    if let Some(&(bad, _)) = points.iter().find(|(n, _)| !(n.is_finite() && *n >= 1.0)) {
        return Err(ScalingError::BadConcurrency(bad));
    }
    if let Some(&(_, bad)) = points.iter().find(|(_, x)| !(x.is_finite() && *x > 0.0)) {
        return Err(ScalingError::BadThroughput(bad));
    }
    let singles: Vec<f64> = points
        .iter()
        .filter(|(n, _)| *n == 1.0)
        .map(|(_, x)| *x)
        .collect();
    if singles.is_empty() {
        return Err(ScalingError::NoSinglePoint(
            points.iter().map(|(n, _)| *n).collect(),
        ));
    }
    let mut levels: Vec<f64> = points.iter().map(|(n, _)| *n).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    if levels.len() < 3 {
        return Err(ScalingError::TooFewPoints {
            needed: 3,
            got: levels.len(),
        });
    }
    let (lambda, sigma, kappa) = point_fit(points);

    // Bootstrap of the whole fit, λ included: the fitted curve times relative residuals drawn
    // with replacement (the noise of a throughput is relative), inflated by √(n/(n − 3)) because
    // fitted residuals are smaller than the errors they estimate. Holding λ fixed and
    // resampling the linear regression's residuals instead covered the truth in only 72 % of
    // seeded trials at 95 % (the coverage test below caught it).
    let fitted: Vec<f64> = points
        .iter()
        .map(|(n, _)| usl(lambda, sigma, kappa, *n))
        .collect();
    let inflate = (points.len() as f64 / (points.len() as f64 - 3.0).max(1.0)).sqrt();
    let relative: Vec<f64> = points
        .iter()
        .zip(&fitted)
        .map(|((_, x), f)| (x / f - 1.0) * inflate)
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut sigmas = Vec::with_capacity(resamples);
    let mut kappas = Vec::with_capacity(resamples);
    let mut resampled = points.to_vec();
    for _ in 0..resamples {
        for (i, p) in resampled.iter_mut().enumerate() {
            let r = relative[rng.random_range(0..relative.len())];
            p.1 = (fitted[i] * (1.0 + r)).max(f64::MIN_POSITIVE);
        }
        let (_, s, k) = point_fit(&resampled);
        sigmas.push(s);
        kappas.push(k);
    }
    let interval = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let tail = (1.0 - confidence) / 2.0;
        let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
        (at(tail), at(1.0 - tail))
    };
    Ok(UslFit {
        lambda,
        sigma,
        kappa,
        sigma_interval: interval(sigmas),
        kappa_interval: interval(kappas),
        // No peak on a curve that never rises (σ = 1) or that would peak below one client.
        peak_concurrency: Some(((1.0 - sigma).max(0.0) / kappa.max(f64::MIN_POSITIVE)).sqrt())
            .filter(|n| kappa > 0.0 && *n >= 1.0),
        ceiling: (sigma > 0.0).then(|| 1.0 / sigma),
    })
}

/// The knee of an increasing, convex curve (latency against load): the index of the point
/// farthest below the chord from the first point to the last, after normalising both axes.
/// `None` with fewer than three points, points not in increasing x order, or a curve that
/// never bends upwards.
pub fn knee(points: &[(f64, f64)]) -> Option<usize> {
    if points.len() < 3
        || points
            .windows(2)
            .any(|w| w[1].0.partial_cmp(&w[0].0) != Some(std::cmp::Ordering::Greater))
    {
        return None;
    }
    let (x0, x1) = (points[0].0, points[points.len() - 1].0);
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    // Also false for NaN: a curve with NaN in it has no knee.
    let spans = |a: f64, b: f64| b.partial_cmp(&a) == Some(std::cmp::Ordering::Greater);
    if !spans(x0, x1) || !spans(lo, hi) {
        return None;
    }
    let (best, gap) = points
        .iter()
        .enumerate()
        .map(|(i, (x, y))| (i, (x - x0) / (x1 - x0) - (y - lo) / (hi - lo)))
        .max_by(|p, q| p.1.total_cmp(&q.1))?;
    (gap > 0.0).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEVELS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 48.0, 64.0];

    /// Points of a known USL with multiplicative noise (a normal of `noise` relative sd), two
    /// measurements per level.
    fn synthetic(sigma: f64, kappa: f64, noise: f64, seed: u64) -> Vec<(f64, f64)> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut normal = || {
            let (u, v): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        LEVELS
            .iter()
            .flat_map(|&n| [n, n])
            .map(|n| (n, usl(1000.0, sigma, kappa, n) * (1.0 + noise * normal())))
            .collect()
    }

    #[test]
    fn recovers_known_parameters_from_exact_points() {
        let fit = fit_usl(&synthetic(0.05, 0.002, 0.0, 1), 0.95, 200, 7).unwrap();
        assert!((fit.sigma - 0.05).abs() < 1e-9, "{fit:?}");
        assert!((fit.kappa - 0.002).abs() < 1e-9, "{fit:?}");
        let peak = fit.peak_concurrency.unwrap();
        assert!((peak - (0.95f64 / 0.002).sqrt()).abs() < 1e-6, "{peak}");
        assert!(fit.meaning().contains("at most 20.0×"), "{}", fit.meaning());
    }

    #[test]
    fn recovers_known_parameters_through_noise() {
        let fit = fit_usl(&synthetic(0.08, 0.001, 0.02, 11), 0.95, 2000, 3).unwrap();
        assert!((fit.sigma - 0.08).abs() < 0.03, "{fit:?}");
        assert!((fit.kappa - 0.001).abs() < 0.0006, "{fit:?}");
    }

    /// The intervals' coverage on seeded synthetic sweeps: a 95 % interval must contain the true
    /// value in about 95 % of trials. Measured: σ 0.977, κ 0.930 over these 300 sweeps; a
    /// bootstrap on 16 points is a little optimistic for κ, so the bar is 90 % (the rate is
    /// printed with `cargo test -- --nocapture`).
    #[test]
    fn the_bootstrap_intervals_cover_the_truth() {
        let trials = 300;
        let (mut sigma_in, mut kappa_in) = (0, 0);
        for t in 0..trials {
            let fit = fit_usl(&synthetic(0.08, 0.001, 0.02, 1000 + t), 0.95, 1000, t).unwrap();
            sigma_in += (fit.sigma_interval.0 <= 0.08 && 0.08 <= fit.sigma_interval.1) as u32;
            kappa_in += (fit.kappa_interval.0 <= 0.001 && 0.001 <= fit.kappa_interval.1) as u32;
        }
        let (s, k) = (
            sigma_in as f64 / trials as f64,
            kappa_in as f64 / trials as f64,
        );
        eprintln!("USL bootstrap coverage over {trials} sweeps: σ {s:.3}, κ {k:.3} (nominal 0.95)");
        assert!(s >= 0.90 && k >= 0.90, "coverage σ {s}, κ {k}");
    }

    #[test]
    fn a_linear_curve_has_no_contention_and_no_peak() {
        let points: Vec<(f64, f64)> = LEVELS.iter().map(|&n| (n, 100.0 * n)).collect();
        let fit = fit_usl(&points, 0.95, 200, 1).unwrap();
        assert_eq!((fit.sigma, fit.kappa), (0.0, 0.0));
        assert_eq!((fit.ceiling, fit.peak_concurrency), (None, None));
    }

    /// A variant the axis does not touch (pool-sizing's per-client under a pool sweep): its
    /// throughput is flat, σ is 1 at most (not the 1.05 noise gives an unbounded fit), and
    /// there is no peak.
    #[test]
    fn a_flat_curve_has_sigma_one_and_no_peak() {
        let flat: Vec<(f64, f64)> = [(1.0, 1100.0), (4.0, 1020.0), (16.0, 1050.0), (64.0, 990.0)]
            .into_iter()
            .collect();
        let fit = fit_usl(&flat, 0.95, 500, 1).unwrap();
        assert_eq!(fit.sigma, 1.0, "{fit:?}");
        assert!(fit.sigma_interval.1 <= 1.0, "{fit:?}");
        assert_eq!(fit.peak_concurrency, None, "{fit:?}");
        assert!(fit.meaning().contains("does not grow"), "{}", fit.meaning());
    }

    #[test]
    fn bad_sweeps_are_refused_with_the_reason() {
        assert!(matches!(
            fit_usl(&[(2.0, 1.0), (4.0, 2.0), (8.0, 3.0)], 0.95, 10, 1),
            Err(ScalingError::NoSinglePoint(_))
        ));
        assert!(matches!(
            fit_usl(&[(1.0, 1.0), (4.0, 2.0)], 0.95, 10, 1),
            Err(ScalingError::TooFewPoints { .. })
        ));
        assert!(matches!(
            fit_usl(&[(1.0, 1.0), (2.0, 0.0), (4.0, 2.0)], 0.95, 10, 1),
            Err(ScalingError::BadThroughput(_))
        ));
        let fine = [(1.0, 1.0), (2.0, 1.8), (4.0, 3.0)];
        assert!(matches!(
            fit_usl(&[(1.0, 1.0), (f64::NAN, 1.8), (4.0, 3.0)], 0.95, 10, 1),
            Err(ScalingError::BadConcurrency(_))
        ));
        assert!(matches!(
            fit_usl(&fine, 0.95, 0, 1),
            Err(ScalingError::BadSettings { .. })
        ));
        assert!(matches!(
            fit_usl(&fine, 1.0, 10, 1),
            Err(ScalingError::BadSettings { .. })
        ));
        assert_eq!(
            knee(&[(3.0, 1.0), (1.0, 2.0), (2.0, 9.0)]),
            None,
            "unsorted"
        );
    }

    #[test]
    fn the_knee_of_a_hockey_stick() {
        // Latency of an M/M/1 queue against utilisation: flat, then the wall near 1.
        let points: Vec<(f64, f64)> = (1..=19)
            .map(|i| {
                let rho = i as f64 / 20.0;
                (rho, 1.0 / (1.0 - rho))
            })
            .collect();
        let k = knee(&points).unwrap();
        let rho = points[k].0;
        assert!((0.7..=0.9).contains(&rho), "knee at ρ = {rho}");
        // A straight line bends nowhere.
        let line: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 2.0 * i as f64)).collect();
        assert_eq!(knee(&line), None);
    }
}
