//! Verdicts in words. Analysis decides (a [`Verdict`] per metric); this is the one place that
//! says it, so every rendering words it the same way.

use perflab_analysis::baseline::VariantAgainstBaseline;
use perflab_analysis::compare::headline_metrics;
use perflab_analysis::{Better, Comparison, Interval, Metric, Verdict};

fn ratio(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// `throughput 1.80× [1.70, 1.90]`, `p99 2.4× lower [2.1, 2.8]`, or
/// `p99: no detectable difference (±4 %)`. The interval is of candidate ÷ baseline.
pub fn ratio_phrase(metric: Metric, iv: &Interval, verdict: Verdict) -> String {
    if verdict == Verdict::NoDetectableDifference {
        // Rounded, not ceiled: 1.04 must not read as ±5 % because of 1.04 − 1 = 0.040…04.
        let pct = ((1.0 - iv.low).max(iv.high - 1.0) * 100.0).round().max(1.0);
        return format!("{metric}: no detectable difference (±{pct:.0} %)");
    }
    let (f, low, high) = (ratio, iv.low, iv.high);
    match (metric.better(), iv.estimate >= 1.0) {
        (Better::Higher, true) => format!("{metric} {}× [{}, {}]", f(iv.estimate), f(low), f(high)),
        (_, false) => format!(
            "{metric} {}× lower [{}, {}]",
            f(1.0 / iv.estimate),
            f(1.0 / high),
            f(1.0 / low)
        ),
        (Better::Lower, true) => format!(
            "{metric} {}× higher [{}, {}]",
            f(iv.estimate),
            f(low),
            f(high)
        ),
    }
}

/// `sharded: throughput 1.8× [1.7, 1.9], p99 2.4× lower [2.1, 2.8] than global-mutex (3
/// rounds)`, or, when a metric shows no difference, `X vs Y: …`.
pub fn verdict_line(c: &Comparison, open_model: bool) -> String {
    let parts: Vec<(String, Verdict)> = headline_metrics(open_model)
        .iter()
        .filter_map(|&m| c.metric(m))
        .map(|mc| {
            (
                ratio_phrase(mc.metric, &mc.interval, mc.verdict),
                mc.verdict,
            )
        })
        .collect();
    let text: Vec<&str> = parts.iter().map(|(t, _)| t.as_str()).collect();
    let rounds = c.pairs;
    if parts.is_empty() {
        format!(
            "{}: not enough data to compare with {}",
            c.candidate, c.baseline
        )
    } else if parts
        .iter()
        .any(|(_, v)| *v == Verdict::NoDetectableDifference)
    {
        // "X: throughput 1.8× [..] than Y" reads well only when every part is a comparison.
        format!(
            "{} vs {}: {} ({rounds} rounds)",
            c.candidate,
            c.baseline,
            text.join(", ")
        )
    } else {
        format!(
            "{}: {} than {} ({rounds} rounds)",
            c.candidate,
            text.join(", "),
            c.baseline
        )
    }
}

/// `sharded: throughput 1.02× [0.98, 1.05], … than the baseline`.
pub fn baseline_line(v: &VariantAgainstBaseline) -> String {
    if !v.in_baseline {
        return format!("{}: not in the baseline", v.variant);
    }
    let parts: Vec<String> = v
        .metrics
        .iter()
        .map(|(m, iv, verdict)| ratio_phrase(*m, iv, *verdict))
        .collect();
    format!("{}: {} than the baseline", v.variant, parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_wording() {
        let iv = Interval {
            estimate: 0.5,
            low: 0.4,
            high: 0.6,
        };
        assert_eq!(
            ratio_phrase(Metric::P99, &iv, Verdict::Better),
            "p99 2.00× lower [1.67, 2.50]"
        );
        let iv = Interval {
            estimate: 1.8,
            low: 1.7,
            high: 1.9,
        };
        assert_eq!(
            ratio_phrase(Metric::Throughput, &iv, Verdict::Better),
            "throughput 1.80× [1.70, 1.90]"
        );
        let iv = Interval {
            estimate: 1.01,
            low: 0.97,
            high: 1.04,
        };
        assert_eq!(
            ratio_phrase(Metric::P99, &iv, Verdict::NoDetectableDifference),
            "p99: no detectable difference (±4 %)"
        );
    }
}
