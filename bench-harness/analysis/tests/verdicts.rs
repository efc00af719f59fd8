//! The statistics measured against themselves: seeded synthetic runs with the noise this VM
//! shows (heavy-tailed bursts of stolen CPU, slow drift, a step change mid-run), where the true
//! ratio is known. Deterministic (fixed seeds) and not timed.
//!
//! - coverage: a 95 % interval contains the true ratio in ≥ 93 % of trials;
//! - A/A with the adaptive stopping rule: verdicts claim a difference in ≤ 5 % of trials (and
//!   intervals exclude 1 in ≤ 5 %);
//! - power: a true 10 % effect is found, in the right direction, in ≥ 90 % of trials within the
//!   default budget, and never in the wrong direction.

use perflab_analysis::compare::{correction, verdict_of};
use perflab_analysis::stats::{log_ratios, min_pairs, signed_rank_interval};
use perflab_analysis::{Better, Policy, Verdict};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How the machine misbehaves.
#[derive(Clone, Copy, Debug)]
struct Noise {
    /// Per-round log-scale noise of throughput (request sampling, scheduling).
    fast: f64,
    /// Chance that a round is hit by a burst of stolen CPU, and how hard (log scale).
    burst_chance: f64,
    burst: (f64, f64),
    /// Slow drift of the machine's speed, as an AR(1) on the log scale per round.
    slow_sd: f64,
    slow_keep: f64,
    /// A linear trend over the run (log scale, from start to end).
    trend: f64,
    /// The machine's speed halves at the midpoint.
    step: bool,
    /// p99 is noisier than throughput by this factor.
    tail_factor: f64,
}

const CALM: Noise = Noise {
    fast: 0.03,
    burst_chance: 0.0,
    burst: (0.0, 0.0),
    slow_sd: 0.0,
    slow_keep: 0.0,
    trend: 0.0,
    step: false,
    tail_factor: 2.0,
};

/// This VM on an ordinary day, as an A/A run of `perflab run URL URL -c 8` measured it
/// (2026-12-01, 23 pairs of 1 s rounds): rounds vary ±6.4 % (CV), per-pair log-ratios by
/// 7.1 % (throughput) and 10.7 % (p99) — so most of the noise is faster than a pair. Added:
/// slow drift that pairing cancels, and now and then a round hit by stolen CPU. Together they
/// give per-pair log-ratios of about the measured 7 % (throughput).
const THIS_VM: Noise = Noise {
    fast: 0.045,
    burst_chance: 0.01,
    burst: (0.1, 0.5),
    slow_sd: 0.25,
    slow_keep: 0.995,
    trend: 0.0,
    step: false,
    tail_factor: 1.5,
};

/// A bad day, as the issue that asked for this suite saw it: one variant's per-round
/// throughput from 6 k to 37 k req/s in one run, the machine's speed moving within a pair, and
/// frequent bursts. No budget finds a 10 % effect here; what must hold is that nothing is
/// claimed that is not there.
const BAD_DAY: Noise = Noise {
    fast: 0.06,
    burst_chance: 0.08,
    burst: (0.2, 1.2),
    slow_sd: 0.25,
    slow_keep: 0.9,
    trend: 0.0,
    step: false,
    tail_factor: 2.5,
};

fn scenarios() -> Vec<(&'static str, Noise)> {
    vec![
        ("calm", CALM),
        ("this VM: bursts of stolen CPU, slow drift", THIS_VM),
        (
            "a trend: the machine 2x slower by the end",
            Noise {
                trend: -std::f64::consts::LN_2,
                ..THIS_VM
            },
        ),
        (
            "a step change mid-run",
            Noise {
                step: true,
                ..THIS_VM
            },
        ),
    ]
}

/// Every scenario, and the bad day (for the checks that must hold whatever the noise).
fn all_scenarios() -> Vec<(&'static str, Noise)> {
    let mut all = scenarios();
    all.push(("a bad day: fast drift, frequent bursts", BAD_DAY));
    all
}

/// One block's two rounds: (baseline, candidate) values of throughput and p99. The candidate
/// is `effect` × as fast. The two rounds run one after the other, in a random order.
struct Machine {
    rng: StdRng,
    slow: f64,
    round: usize,
    rounds: usize,
    noise: Noise,
}

impl Machine {
    fn new(seed: u64, noise: Noise, pairs: usize) -> Machine {
        Machine {
            rng: StdRng::seed_from_u64(seed),
            slow: 0.0,
            round: 0,
            rounds: 2 * pairs,
            noise,
        }
    }

    fn normal(&mut self) -> f64 {
        // Box–Muller: enough for a test's noise.
        let (u, v): (f64, f64) = (self.rng.random_range(1e-12..1.0), self.rng.random());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// The log speed of the machine during the next round, and the round's own noise.
    fn round_speed(&mut self) -> (f64, f64) {
        let n = self.noise;
        self.slow = n.slow_keep * self.slow
            + n.slow_sd * (1.0 - n.slow_keep.powi(2)).sqrt() * self.normal();
        let t = self.round as f64 / self.rounds.max(1) as f64;
        let mut speed = self.slow + n.trend * t;
        // The step falls inside a block (between its two rounds), the worst place for a pair.
        if n.step && self.round > self.rounds / 2 {
            speed -= std::f64::consts::LN_2;
        }
        if self.rng.random::<f64>() < n.burst_chance {
            speed -= self
                .rng
                .random_range(n.burst.0..n.burst.1.max(n.burst.0 + 1e-9));
        }
        self.round += 1;
        let own = n.fast * self.normal();
        (speed, own)
    }

    /// (throughput, p99) of one round at relative speed `effect`.
    fn measure(&mut self, effect: f64) -> (f64, f64) {
        let (speed, own) = self.round_speed();
        let tail = self.noise.tail_factor * own + 0.5 * self.noise.fast * self.normal();
        let throughput = 20_000.0 * effect * (speed + own).exp();
        let p99 = 2.0 / effect * (-speed - tail).exp();
        (throughput, p99)
    }

    /// One block: both variants once, in a seeded random order.
    fn block(&mut self, effect: f64) -> [(f64, f64); 2] {
        if self.rng.random::<bool>() {
            let a = self.measure(1.0);
            let b = self.measure(effect);
            [a, b]
        } else {
            let b = self.measure(effect);
            let a = self.measure(1.0);
            [a, b]
        }
    }
}

struct Run {
    throughput: (Vec<f64>, Vec<f64>),
    p99: (Vec<f64>, Vec<f64>),
}

impl Run {
    fn new() -> Run {
        Run {
            throughput: (Vec::new(), Vec::new()),
            p99: (Vec::new(), Vec::new()),
        }
    }
    fn add(&mut self, block: [(f64, f64); 2]) {
        self.throughput.0.push(block[0].0);
        self.throughput.1.push(block[1].0);
        self.p99.0.push(block[0].1);
        self.p99.1.push(block[1].1);
    }
}

/// The harness's defaults, for a two-variant comparison (two headline metrics): at least 8
/// pairs, ±3 % precision, and a budget of about 20 pairs (a lab's declared 24 s per variant in
/// rounds of 1.25 s; the URL mode's 60 s gives 23).
const MIN_PAIRS: usize = 8;
const BUDGET_PAIRS: usize = 20;
const PRECISION: f64 = 0.03;

/// Runs blocks until every headline interval is within ±PRECISION or the budget is spent —
/// the rule `--precision` uses — and returns the verdicts on throughput and p99.
fn adaptive(seed: u64, noise: Noise, effect: f64) -> ((Verdict, bool), (Verdict, bool)) {
    let policy = Policy::default();
    let level = correction(2, false, &policy).per_interval;
    let mut machine = Machine::new(seed, noise, BUDGET_PAIRS);
    let mut run = Run::new();
    loop {
        run.add(machine.block(effect));
        let n = run.throughput.0.len();
        if n < MIN_PAIRS {
            continue;
        }
        let tp = signed_rank_interval(
            &log_ratios(&run.throughput.0, &run.throughput.1).unwrap(),
            level,
        )
        .unwrap();
        let p99 =
            signed_rank_interval(&log_ratios(&run.p99.0, &run.p99.1).unwrap(), level).unwrap();
        if tp.half_width().max(p99.half_width()) <= PRECISION || n >= BUDGET_PAIRS {
            return (
                (
                    verdict_of(&tp, Better::Higher, policy.margin),
                    !tp.spans_one(),
                ),
                (
                    verdict_of(&p99, Better::Lower, policy.margin),
                    !p99.spans_one(),
                ),
            );
        }
    }
}

const TRIALS: u64 = 1000;

/// The model's per-pair spread, to hold against the measured 7.1 % (throughput).
#[test]
fn the_model_is_as_noisy_as_the_measured_vm() {
    let mut logs = Vec::new();
    for trial in 0..200 {
        let mut m = Machine::new(trial, THIS_VM, 20);
        let mut run = Run::new();
        for _ in 0..20 {
            run.add(m.block(1.0));
        }
        logs.extend(log_ratios(&run.throughput.0, &run.throughput.1).unwrap());
    }
    let mean = logs.iter().sum::<f64>() / logs.len() as f64;
    let sd =
        (logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (logs.len() - 1) as f64).sqrt();
    println!("model: per-pair throughput log-ratio SD {:.3}", sd);
    assert!((0.06..0.10).contains(&sd), "{sd}");
}

#[test]
fn a_95_percent_interval_covers_the_true_ratio() {
    let mut report = Vec::new();
    for (name, noise) in all_scenarios() {
        for pairs in [min_pairs(0.95), MIN_PAIRS, 20] {
            for effect in [1.0, 0.9] {
                let mut covered = [0u64; 2];
                for trial in 0..TRIALS {
                    let mut m = Machine::new(trial * 7919 + pairs as u64, noise, pairs);
                    let mut run = Run::new();
                    for _ in 0..pairs {
                        run.add(m.block(effect));
                    }
                    let tp = signed_rank_interval(
                        &log_ratios(&run.throughput.0, &run.throughput.1).unwrap(),
                        0.95,
                    )
                    .unwrap();
                    let p99 =
                        signed_rank_interval(&log_ratios(&run.p99.0, &run.p99.1).unwrap(), 0.95)
                            .unwrap();
                    covered[0] += u64::from(tp.low <= effect && effect <= tp.high);
                    covered[1] += u64::from(p99.low <= 1.0 / effect && 1.0 / effect <= p99.high);
                }
                let share = covered.map(|c| c as f64 / TRIALS as f64);
                report.push(format!(
                    "{name}, {pairs} pairs, effect {effect}: throughput {:.1} %, p99 {:.1} %",
                    share[0] * 100.0,
                    share[1] * 100.0
                ));
                assert!(
                    share.iter().all(|s| *s >= 0.93),
                    "coverage below 93 %:\n{}",
                    report.join("\n")
                );
            }
        }
    }
    println!("{}", report.join("\n"));
}

#[test]
fn a_a_comparisons_rarely_claim_a_difference_even_with_adaptive_stopping() {
    for (name, noise) in all_scenarios() {
        let (mut claims, mut excluded) = ([0u64; 2], [0u64; 2]);
        for trial in 0..TRIALS {
            let ((tv, tx), (pv, px)) = adaptive(trial, noise, 1.0);
            claims[0] += u64::from(matches!(tv, Verdict::Faster | Verdict::Slower));
            claims[1] += u64::from(matches!(pv, Verdict::Faster | Verdict::Slower));
            excluded[0] += u64::from(tx);
            excluded[1] += u64::from(px);
        }
        let pct = |c: u64| c as f64 * 100.0 / TRIALS as f64;
        println!(
            "{name}: claims throughput {:.1} %, p99 {:.1} %; interval excludes 1: {:.1} %, {:.1} %",
            pct(claims[0]),
            pct(claims[1]),
            pct(excluded[0]),
            pct(excluded[1])
        );
        for c in claims.iter().chain(&excluded) {
            assert!(
                pct(*c) <= 5.0,
                "{name}: false claims {claims:?}, excluded {excluded:?} of {TRIALS}"
            );
        }
    }
}

#[test]
fn a_true_10_percent_effect_is_found_in_the_right_direction() {
    for (name, noise) in scenarios() {
        let (mut found, mut wrong) = (0u64, 0u64);
        for trial in 0..TRIALS {
            let ((tv, _), (pv, _)) = adaptive(trial + 1_000_000, noise, 0.9);
            found += u64::from(tv == Verdict::Slower);
            wrong += u64::from(tv == Verdict::Faster || pv == Verdict::Faster);
        }
        let share = found as f64 / TRIALS as f64;
        println!(
            "{name}: 10 % effect found in {:.1} % of trials, wrong direction {wrong}",
            share * 100.0
        );
        assert!(
            share >= 0.90,
            "{name}: found in only {:.1} %",
            share * 100.0
        );
        assert_eq!(wrong, 0, "{name}: {wrong} verdicts in the wrong direction");
    }
    // On a bad day the effect is found less often, but never the wrong way round.
    let mut wrong = 0;
    let mut found = 0;
    for trial in 0..TRIALS {
        let ((tv, _), (pv, _)) = adaptive(trial + 2_000_000, BAD_DAY, 0.9);
        found += u64::from(tv == Verdict::Slower);
        wrong += u64::from(tv == Verdict::Faster || pv == Verdict::Faster);
    }
    println!(
        "a bad day: 10 % effect found in {:.1} % of trials, wrong direction {wrong}",
        found as f64 * 100.0 / TRIALS as f64
    );
    assert_eq!(wrong, 0);
}
