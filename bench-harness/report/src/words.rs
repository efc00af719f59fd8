//! Verdicts in words. Analysis decides (a [`Verdict`] per metric); this is the one place that
//! says it, so every rendering words it the same way.

use perflab_analysis::baseline::VariantAgainstBaseline;
use perflab_analysis::{
    Analysis, Better, Comparison, Correction, Interval, Metric, Policy, StopReason, Verdict,
};

use crate::{CalibrationNote, Report, RoundsInfo};

fn ratio(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// `1.80× [1.70, 1.90]` or, for an interval wholly below one, `2.00× lower [1.67, 2.50]`. An
/// interval that straddles one stays a plain ratio (`0.95× [0.80, 1.12]`): "lower" with bounds
/// on both sides of one would read backwards.
fn magnitude(iv: &Interval) -> String {
    if iv.estimate >= 1.0 || iv.high >= 1.0 {
        format!(
            "{}× [{}, {}]",
            ratio(iv.estimate),
            ratio(iv.low),
            ratio(iv.high)
        )
    } else {
        format!(
            "{}× lower [{}, {}]",
            ratio(1.0 / iv.estimate),
            ratio(1.0 / iv.high),
            ratio(1.0 / iv.low)
        )
    }
}

/// `3 %`, `2.5 %`, `97.5 %`, `99.17 %`: as many decimals as the value needs, up to two.
fn pct(x: f64) -> String {
    let p = x * 100.0;
    for decimals in 0..2 {
        let scale = 10f64.powi(decimals);
        if ((p * scale).round() - p * scale).abs() < 1e-6 {
            return format!("{:.*} %", decimals as usize, p);
        }
    }
    format!("{p:.2} %")
}

/// One metric's verdict: `throughput 1.80× [1.70, 1.90]`, `p99 2.00× lower [1.67, 2.50]`,
/// `p99 equivalent within ±2 % (1.01× [0.99, 1.02])`, or
/// `throughput inconclusive at ±2 % (1.05× [0.97, 1.14])`. The interval is of candidate ÷
/// baseline.
pub fn metric_phrase(metric: Metric, iv: &Interval, verdict: Verdict, margin: f64) -> String {
    match verdict {
        Verdict::Faster | Verdict::Slower => {
            // Higher throughput reads `1.8×`; higher latency reads `1.2× higher`.
            if metric.better() == Better::Lower && iv.estimate >= 1.0 {
                format!(
                    "{metric} {}× higher [{}, {}]",
                    ratio(iv.estimate),
                    ratio(iv.low),
                    ratio(iv.high)
                )
            } else {
                format!("{metric} {}", magnitude(iv))
            }
        }
        Verdict::Equivalent => format!(
            "{metric} equivalent within ±{} ({})",
            pct(margin),
            magnitude(iv)
        ),
        Verdict::Inconclusive => format!(
            "{metric} inconclusive at ±{} ({})",
            pct(margin),
            magnitude(iv)
        ),
    }
}

/// `sharded: throughput 1.8× [1.7, 1.9], p99 2.4× lower [2.1, 2.8] than global-mutex (12
/// pairs)` when every headline metric differs; `X vs Y: …` otherwise.
pub fn verdict_line(c: &Comparison, a: &Analysis) -> String {
    let parts: Vec<(String, Verdict)> = c
        .metrics
        .iter()
        .filter(|m| m.headline)
        .map(|m| {
            (
                metric_phrase(m.metric, &m.interval, m.verdict, a.policy.margin),
                m.verdict,
            )
        })
        .collect();
    let pairs = c.pairs;
    if parts.is_empty() {
        return format!(
            "{} vs {}: inconclusive — {pairs} pair(s) are too few for {} intervals",
            c.candidate,
            c.baseline,
            pct(a.correction.per_interval)
        );
    }
    let text: Vec<&str> = parts.iter().map(|(t, _)| t.as_str()).collect();
    // A variant that gives wrong answers is never "faster": say that first.
    if let Some(w) = a.wrong_answers(&c.candidate) {
        return format!(
            "{} gives WRONG answers ({} {} violation(s)): not an optimisation of {}, whatever its speed (measured: {})",
            c.candidate,
            w.count,
            w.what(),
            c.baseline,
            text.join(", ")
        );
    }
    let caveat = match a.wrong_answers(&c.baseline) {
        Some(w) => format!(
            "; the baseline {} gives WRONG answers ({} {} violation(s)), so this compares a correct variant with a broken one",
            c.baseline,
            w.count,
            w.what()
        ),
        None => String::new(),
    };
    if parts
        .iter()
        .all(|(_, v)| matches!(v, Verdict::Faster | Verdict::Slower))
    {
        format!(
            "{}: {} than {} ({pairs} pairs){caveat}",
            c.candidate,
            text.join(", "),
            c.baseline
        )
    } else {
        format!(
            "{} vs {}: {} ({pairs} pairs){caveat}",
            c.candidate,
            c.baseline,
            text.join(", ")
        )
    }
}

/// What the intervals mean, for under the verdicts: `95 % simultaneous intervals (each at
/// 97.5 %, Bonferroni over 2); ±2 % counts as equivalent`.
pub fn policy_line(policy: &Policy, c: &Correction) -> String {
    let family = if c.family > 1 {
        format!(
            "simultaneous {} intervals (each at {}, Bonferroni over {})",
            pct(policy.confidence),
            pct(c.per_interval),
            c.family
        )
    } else {
        format!("{} intervals", pct(policy.confidence))
    };
    format!(
        "{family}; ratios within ±{} count as equivalent",
        pct(policy.margin)
    )
}

/// What the verdict section of every rendering says: the verdict lines (or why there are
/// none), then how to read them.
pub fn verdict_section(r: &Report) -> Vec<String> {
    if r.comparisons.is_empty() {
        return Vec::new();
    }
    let mut lines = Vec::new();
    if r.has_verdicts() {
        lines.extend(r.comparisons.iter().map(|c| c.verdict.clone()));
    } else {
        lines.push("no verdict: this run is invalid —".to_string());
        lines.extend(r.invalid_reasons.iter().map(|w| format!("  {w}")));
    }
    if let Some(name) = r.lab.as_ref().and_then(|l| l.focus.as_deref()) {
        lines.push(format!(
            "(throughput and latency of the {name:?} requests only; the others ran as load: see \
             the by-name table)"
        ));
    }
    lines.push(format!(
        "({}; {})",
        policy_line(&r.policy, &r.correction),
        rounds_line(&r.rounds)
    ));
    if let Some(c) = &r.calibration {
        lines.push(calibration_line(c));
    }
    lines
}

/// `on this machine (perflab calibrate, 2026-12-01): effects below ±4 % (throughput) and ±15 %
/// (p99) were not detectable in about 60 s; 0 of 40 A/A comparisons claimed a difference`.
pub fn calibration_line(c: &CalibrationNote) -> String {
    let floors: Vec<String> = c
        .noise_floor
        .iter()
        .map(|(m, w)| format!("±{:.1} % ({m})", w * 100.0))
        .collect();
    format!(
        "on this machine (perflab calibrate, {}): effects below {} were not detectable in about {}; {} of {} A/A comparisons claimed a difference",
        c.measured_at.get(..10).unwrap_or(&c.measured_at),
        floors.join(" and "),
        seconds(c.seconds),
        c.false_claims,
        c.comparisons
    )
}

/// `12 blocks of 1 s rounds (after a 250 ms settle) in 31 s: stopped when every interval was
/// within ±3 %`.
pub fn rounds_line(r: &RoundsInfo) -> String {
    let why = match r.stop_reason {
        StopReason::FixedRounds => "a fixed number of blocks".to_string(),
        StopReason::PrecisionReached => format!(
            "stopped when every headline interval was within ±{}",
            pct(r.precision_target)
        ),
        StopReason::BudgetExhausted => format!(
            "stopped at the {:.0} s budget before every interval was within ±{}",
            r.max_time_seconds,
            pct(r.precision_target)
        ),
        StopReason::Interrupted => "interrupted".to_string(),
        StopReason::ServiceNotReady => "stopped: the service was not ready".to_string(),
    };
    let settle = if r.settle_seconds > 0.0 {
        format!(" (after a {} settle)", seconds(r.settle_seconds))
    } else {
        String::new()
    };
    format!(
        "{} block(s) of {} rounds{settle} in {}: {why}",
        r.blocks,
        seconds(r.round_seconds),
        seconds(r.measured_seconds)
    )
}

/// `250 ms`, `1 s`, `1.5 s`, `31 s`.
pub fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 10.0 && s.fract() > 0.05 {
        format!("{s:.1} s")
    } else {
        format!("{s:.0} s")
    }
}

/// `sharded: throughput 1.02× [0.98, 1.05], … than the baseline`.
pub fn baseline_line(v: &VariantAgainstBaseline, margin: f64) -> String {
    if !v.in_baseline {
        return format!("{}: not in the baseline", v.variant);
    }
    let parts: Vec<String> = v
        .metrics
        .iter()
        .map(|(m, iv, verdict)| metric_phrase(*m, iv, *verdict, margin))
        .collect();
    format!("{} against the baseline: {}", v.variant, parts.join(", "))
}

/// `sharded, throughput faster: <the lab's text>` for each lesson the lab gave.
pub fn lesson_lines(r: &Report) -> Vec<String> {
    let Some(lab) = &r.lab else {
        return Vec::new();
    };
    lab.lessons
        .iter()
        .map(|l| {
            let verdict = match l.verdict {
                Verdict::Faster => "faster",
                Verdict::Slower => "slower",
                Verdict::Equivalent => "equivalent",
                Verdict::Inconclusive => "inconclusive",
            };
            format!("{}, {} {verdict}: {}", l.candidate, l.metric, l.text)
        })
        .collect()
}

/// Which side of the connection held the CPU, per variant: on a machine where the load
/// generator and the service share the cores, throughput alone can hide the difference that
/// CPU per request shows.
pub fn cpu_lines(r: &Report) -> Vec<String> {
    let cores = r.environment.cores.max(1) as f64;
    r.variants
        .iter()
        .filter_map(|v| Some((v, crate::table::cpu_per_request(v)?)))
        .map(|(v, c)| {
            let busy = c.service_cores + c.generator_cores;
            let larger = if c.service_cores >= c.generator_cores {
                "the service"
            } else {
                "the load generator"
            };
            let split = format!(
                "{busy:.1} of {cores:.0} cores busy ({:.1} service, {:.1} load generator",
                c.service_cores, c.generator_cores
            );
            if busy >= 0.75 * cores {
                format!(
                    "{}: CPU-bound, {split}; {larger} used more). Throughput here is a share of a full CPU: compare the CPU per request.",
                    v.name
                )
            } else if busy >= 0.4 * cores {
                format!(
                    "{}: partly CPU-bound, {split}): part of each request's time was spent waiting (a lock, I/O, the scheduler).",
                    v.name
                )
            } else {
                format!(
                    "{}: not CPU-bound, {split}): requests spent their time waiting (a lock, I/O, the network) or the load was light.",
                    v.name
                )
            }
        })
        .collect()
}

/// Under every profile table: what a CPU profile of the service cannot see.
pub const PROFILE_NOTE: &str = "A profile samples the service's threads while they run its code: a thread asleep on a lock, a socket or fsync is not sampled (see context switches), and samples inside libc or the kernel (system calls, malloc, memcpy) are dropped by the sampler for safety, hence \"% of its CPU\".";

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(estimate: f64, low: f64, high: f64) -> Interval {
        Interval {
            estimate,
            low,
            high,
        }
    }

    #[test]
    fn verdict_wording() {
        assert_eq!(
            metric_phrase(Metric::P99, &iv(0.5, 0.4, 0.6), Verdict::Faster, 0.02),
            "p99 2.00× lower [1.67, 2.50]"
        );
        assert_eq!(
            metric_phrase(
                Metric::Throughput,
                &iv(1.8, 1.7, 1.9),
                Verdict::Faster,
                0.02
            ),
            "throughput 1.80× [1.70, 1.90]"
        );
        assert_eq!(
            metric_phrase(Metric::P99, &iv(1.2, 1.1, 1.3), Verdict::Slower, 0.02),
            "p99 1.20× higher [1.10, 1.30]"
        );
        assert_eq!(
            metric_phrase(
                Metric::P99,
                &iv(1.01, 0.99, 1.015),
                Verdict::Equivalent,
                0.02
            ),
            "p99 equivalent within ±2 % (1.01× [0.99, 1.01])"
        );
        assert_eq!(
            metric_phrase(
                Metric::Throughput,
                &iv(1.05, 0.97, 1.14),
                Verdict::Inconclusive,
                0.02
            ),
            "throughput inconclusive at ±2 % (1.05× [0.97, 1.14])"
        );
    }
}
