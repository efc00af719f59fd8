//! A run's focus: the comparison reads only the requests of one name (the blocking-runtime lab's
//! victim endpoint), while the others stay in the run as load.

use std::collections::BTreeMap;

use perflab_analysis::{
    InvalidReason, Metric, NameMeasurement, Policy, RoundMeasurement, RunInput, ValidityLimits,
    Verdict, analyze, new_hist,
};

/// A round: `fast` requests at `fast_ms`, `slow` ones at 20 ms, `n` of each.
fn round(variant: usize, fast_ms: f64, n: u64) -> RoundMeasurement {
    let mut all = new_hist();
    let mut fast = new_hist();
    let mut slow = new_hist();
    for i in 0..n {
        // A little spread, so percentiles are not all one value.
        let jitter = 1.0 + (i % 7) as f64 * 0.01;
        let f = (fast_ms * jitter * 1e6) as u64;
        let s = (20.0 * jitter * 1e6) as u64;
        fast.record(f).unwrap();
        slow.record(s).unwrap();
        all.record(f).unwrap();
        all.record(s).unwrap();
    }
    let mut by_name = BTreeMap::new();
    by_name.insert(
        "fast".to_string(),
        NameMeasurement {
            latency: fast,
            requests: n,
            errors: 0,
        },
    );
    by_name.insert(
        "slow".to_string(),
        NameMeasurement {
            latency: slow,
            requests: n,
            errors: 0,
        },
    );
    RoundMeasurement {
        variant,
        latency: all.clone(),
        service: all,
        lag: None,
        ok: 2 * n,
        errors: 0,
        settling: 0,
        seconds: 1.0,
        late_sends: 0,
        unsent: 0,
        bytes_received: 0,
        checks_passed: 0,
        checks_failed: 0,
        harness_cpu_seconds: 0.01,
        steal_percent: None,
        error_kinds: BTreeMap::new(),
        error_examples: BTreeMap::new(),
        failed_checks: BTreeMap::new(),
        checks: BTreeMap::new(),
        by_name,
        per_second: vec![[2 * n, 0]],
        counters: BTreeMap::new(),
    }
}

/// Twelve pairs: the candidate's fast requests take 1 ms instead of 10; the slow ones, half of
/// every round, are the same in both.
fn rounds() -> Vec<RoundMeasurement> {
    (0..12)
        .flat_map(|i| {
            let wobble = 1.0 + (i % 3) as f64 * 0.02;
            [round(0, 10.0 * wobble, 500), round(1, 1.0 * wobble, 500)]
        })
        .collect()
}

fn input<'a>(
    variants: &'a [String],
    rounds: &'a [RoundMeasurement],
    focus: Option<&'a str>,
) -> RunInput<'a> {
    RunInput {
        variants,
        rounds,
        open_model: false,
        policy: Policy::default(),
        limits: ValidityLimits::default(),
        unsettled: &[],
        not_ready: &[],
        stop: None,
        focus,
    }
}

#[test]
fn the_verdict_reads_the_focused_requests_only() {
    let variants = vec!["blocked".to_string(), "freed".to_string()];
    let rounds = rounds();
    // Every request: p99 is the slow requests' 20 ms in both variants.
    let all = analyze(&input(&variants, &rounds, None));
    let p99 = all.comparisons[0].metric(Metric::P99).unwrap();
    assert_ne!(p99.verdict, Verdict::Faster, "{:?}", p99.interval);
    // The fast requests alone: ten times lower.
    let focused = analyze(&input(&variants, &rounds, Some("fast")));
    assert!(focused.invalid.is_empty(), "{:?}", focused.invalid);
    assert_eq!(focused.focus.as_deref(), Some("fast"));
    let p99 = focused.comparisons[0].metric(Metric::P99).unwrap();
    assert_eq!(p99.verdict, Verdict::Faster);
    assert!(
        (0.09..0.11).contains(&p99.interval.estimate),
        "{:?}",
        p99.interval
    );
    // Throughput of the focused requests: the same count per round in both.
    let tput = focused.comparisons[0].metric(Metric::Throughput).unwrap();
    assert_eq!(tput.verdict, Verdict::Equivalent);
    // The per-variant summaries still describe every request.
    assert_eq!(focused.variants[0].summary.requests, 12 * 1000);
}

#[test]
fn a_focus_on_a_name_the_run_never_sent_makes_it_invalid() {
    let variants = vec!["blocked".to_string(), "freed".to_string()];
    let rounds = rounds();
    let a = analyze(&input(&variants, &rounds, Some("victim")));
    assert_eq!(a.invalid.len(), 2, "{:?}", a.invalid);
    assert!(a.invalid.iter().all(|r| matches!(
        r,
        InvalidReason::FocusMissing { name, .. } if name == "victim"
    )));
    assert!(a.invalid[0].to_string().contains("--focus"));
}
