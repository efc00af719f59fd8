//! From recorded rounds to numbers: sample → statistics → comparison, as criterion's
//! `analysis/`. Everything here is a pure function of its input: no clock, no files, no
//! network, no randomness, so the same
//! rounds always give the same report.
//!
//! - [`input`]: what was measured, round by round;
//! - [`summary`]: a round (or a variant's rounds merged) as numbers;
//! - [`stats`]: intervals on the ratio between variants;
//! - [`compare`]: every variant against the first, metric by metric, to a [`Verdict`];
//! - [`warnings`]: what a reader should know before trusting the numbers;
//! - [`correctness`]: wrong answers the target counted in itself (`*_violations_total`);
//! - [`thresholds`], [`baseline`]: pass/fail rules, and comparison with a saved run;
//! - [`profile`]: CPU profiles as shares per frame, and what changed between variants;
//! - [`sweep`]: the same comparison at several settings of one axis, as curves, with the
//!   models of [`scaling`] fitted to them;
//! - [`capacity`]: the highest arrival rate that meets a latency objective, searched probe by
//!   probe, with the interval of the crossing.
//!
//! Every metric is named through one enum, [`Metric`].

pub mod baseline;
pub mod capacity;
pub mod compare;
pub mod correctness;
pub mod input;
pub mod metric;
pub mod profile;
pub mod scaling;
pub mod stats;
pub mod summary;
pub mod sweep;
pub mod thresholds;
pub mod validity;
pub mod warnings;

use std::collections::BTreeMap;

pub use compare::{Comparison, Correction, MetricComparison, Policy, Verdict};
pub use correctness::WrongAnswers;
pub use input::{NameMeasurement, RoundMeasurement, RunInput, StopReason};
pub use metric::{Better, Metric, Unit};
pub use stats::Interval;
pub use summary::{Hist, Percentiles, Summary, SummaryParts, new_hist};
pub use validity::{InvalidReason, ValidityLimits};
pub use warnings::Warning;

/// One measured round, summarised.
#[derive(Debug, Clone)]
pub struct RoundResult {
    pub variant: String,
    /// 1-based, per variant.
    pub index: u32,
    pub summary: Summary,
    pub per_second: Vec<[u64; 2]>,
    pub counters: BTreeMap<String, f64>,
    pub steal_percent: Option<f64>,
    /// The focused requests alone ([`RunInput::focus`]): what the comparison reads.
    pub focus: Option<Summary>,
}

impl RoundResult {
    /// What the comparison reads: the focused requests when there is a focus, else all.
    pub fn compared(&self) -> &Summary {
        self.focus.as_ref().unwrap_or(&self.summary)
    }
}

/// One variant, all its rounds merged.
#[derive(Debug, Clone)]
pub struct VariantResult {
    pub name: String,
    pub summary: Summary,
    /// `[percentile, ms]` points of the merged latency distribution.
    pub spectrum: Vec<[f64; 2]>,
    /// Server counter deltas divided by completed requests.
    pub counters_per_request: BTreeMap<String, f64>,
    /// Per request name, when the workload names its requests.
    pub by_name: Vec<NameSummary>,
    /// Every check by name: passed and failed.
    pub checks: Vec<CheckSummary>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct NameSummary {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    /// Milliseconds.
    pub latency: Percentiles,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckSummary {
    pub name: String,
    pub passed: u64,
    pub failed: u64,
}

/// Everything analysis has to say about a run.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub rounds: Vec<RoundResult>,
    pub variants: Vec<VariantResult>,
    pub comparisons: Vec<Comparison>,
    pub warnings: Vec<Warning>,
    /// Variants the target caught giving wrong answers: their speed is not a result.
    pub wrong: Vec<WrongAnswers>,
    /// Why the run cannot be trusted at all (empty: it can).
    pub invalid: Vec<InvalidReason>,
    pub open_model: bool,
    pub policy: Policy,
    pub correction: Correction,
    /// The request name the comparisons are about (none: every request).
    pub focus: Option<String>,
}

impl Analysis {
    /// The wrong answers of `variant`, if it gave any.
    pub fn wrong_answers(&self, variant: &str) -> Option<&WrongAnswers> {
        self.wrong.iter().find(|w| w.variant == variant)
    }

    pub fn variant(&self, name: &str) -> Option<&VariantResult> {
        self.variants.iter().find(|v| v.name == name)
    }

    /// Per-round values of `metric` for `variant`, in the order the rounds ran.
    pub fn per_round(&self, variant: &str, metric: Metric) -> Vec<f64> {
        compare::per_round(&self.rounds, variant, metric)
    }
}

pub fn analyze(input: &RunInput<'_>) -> Analysis {
    let n = input.variants.len();
    let mut merged: Vec<Merged> = (0..n).map(|_| Merged::default()).collect();
    let mut index_of_variant = vec![0u32; n];
    let mut rounds = Vec::with_capacity(input.rounds.len());
    for r in input.rounds {
        let parts = parts_of(r);
        merged[r.variant].add(r);
        index_of_variant[r.variant] += 1;
        rounds.push(RoundResult {
            variant: input.variants[r.variant].clone(),
            index: index_of_variant[r.variant],
            summary: Summary::from_parts(parts),
            per_second: r.per_second.clone(),
            counters: r.counters.clone(),
            steal_percent: r.steal_percent,
            focus: input.focus.map(|name| focus_summary(r, name)),
        });
    }
    let variants: Vec<VariantResult> = input
        .variants
        .iter()
        .zip(&merged)
        .map(|(name, m)| m.result(name, input.open_model))
        .collect();
    let comparisons = compare::compare_all(&rounds, &variants, input.open_model, &input.policy);
    let mut warnings = Vec::new();
    generator_warnings(&variants, input.open_model, &mut warnings);
    drift_warnings(&comparisons, &mut warnings);
    if let Some(pairs) = comparisons.iter().map(|c| c.pairs).min() {
        let level = compare::correction(n, input.open_model, &input.policy).per_interval;
        if pairs < stats::min_pairs(level) {
            warnings.push(Warning::FewPairs { pairs });
        } else if input.stop == Some(StopReason::BudgetExhausted)
            && let Some(widest) = compare::widest_headline(&comparisons)
        {
            warnings.push(Warning::BudgetBeforePrecision { widest });
        }
    }
    for variant in input.unsettled {
        warnings.push(Warning::NeverSettled {
            variant: variant.clone(),
        });
    }
    let wrong = correctness::find(input.variants, &rounds);
    for w in &wrong {
        warnings.push(Warning::WrongAnswers(w.clone()));
    }
    let mut invalid = validity::check(&variants, input.open_model, &input.limits, input.not_ready);
    if let Some(name) = input.focus {
        invalid.extend(validity::focus_missing(&rounds, name));
    }
    Analysis {
        correction: compare::correction(n, input.open_model, &input.policy),
        rounds,
        variants,
        comparisons,
        warnings,
        wrong,
        invalid,
        open_model: input.open_model,
        policy: input.policy,
        focus: input.focus.map(str::to_string),
    }
}

/// One round's requests named `name`, as a summary of their own. Only their latency and
/// counts are known per name (not the send-to-last-byte time, the lag or the bytes), so the
/// latency stands in for the service time; throughput is their count over the round's length.
fn focus_summary(r: &RoundMeasurement, name: &str) -> Summary {
    let empty = new_hist();
    let (latency, requests, errors) = match r.by_name.get(name) {
        Some(m) => (&m.latency, m.requests, m.errors),
        None => (&empty, 0, 0),
    };
    Summary::from_parts(SummaryParts {
        latency,
        service: latency,
        lag: None,
        ok: requests.saturating_sub(errors),
        errors,
        settling: 0,
        seconds: r.seconds,
        late_sends: 0,
        unsent: 0,
        bytes_received: 0,
        checks: (0, 0),
        harness_cpu_seconds: 0.0,
        error_kinds: BTreeMap::new(),
        error_examples: BTreeMap::new(),
        failed_checks: BTreeMap::new(),
    })
}

fn parts_of(r: &RoundMeasurement) -> SummaryParts<'_> {
    SummaryParts {
        latency: &r.latency,
        service: &r.service,
        lag: r.lag.as_ref(),
        ok: r.ok,
        errors: r.errors,
        settling: r.settling,
        seconds: r.seconds,
        late_sends: r.late_sends,
        unsent: r.unsent,
        bytes_received: r.bytes_received,
        checks: (r.checks_passed, r.checks_failed),
        harness_cpu_seconds: r.harness_cpu_seconds,
        error_kinds: r.error_kinds.clone(),
        error_examples: r.error_examples.clone(),
        failed_checks: r.failed_checks.clone(),
    }
}

/// A variant's rounds added up.
struct Merged {
    latency: Hist,
    service: Hist,
    lag: Hist,
    ok: u64,
    errors: u64,
    settling: u64,
    seconds: f64,
    late: u64,
    unsent: u64,
    bytes: u64,
    checks: (u64, u64),
    cpu: f64,
    error_kinds: BTreeMap<String, u64>,
    error_examples: BTreeMap<String, String>,
    failed_checks: BTreeMap<String, u64>,
    counters: BTreeMap<String, f64>,
    by_name: BTreeMap<String, (Hist, u64, u64)>,
    check_names: BTreeMap<String, [u64; 2]>,
}

impl Default for Merged {
    fn default() -> Self {
        Merged {
            latency: new_hist(),
            service: new_hist(),
            lag: new_hist(),
            ok: 0,
            errors: 0,
            settling: 0,
            seconds: 0.0,
            late: 0,
            unsent: 0,
            bytes: 0,
            checks: (0, 0),
            cpu: 0.0,
            error_kinds: BTreeMap::new(),
            error_examples: BTreeMap::new(),
            failed_checks: BTreeMap::new(),
            counters: BTreeMap::new(),
            by_name: BTreeMap::new(),
            check_names: BTreeMap::new(),
        }
    }
}

fn add_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

impl Merged {
    fn add(&mut self, r: &RoundMeasurement) {
        // Adding histograms of the same precision cannot fail short of u64 overflow.
        let _ = self.latency.add(&r.latency);
        let _ = self.service.add(&r.service);
        if let Some(lag) = &r.lag {
            let _ = self.lag.add(lag);
        }
        self.ok += r.ok;
        self.errors += r.errors;
        self.settling += r.settling;
        self.seconds += r.seconds;
        self.late += r.late_sends;
        self.unsent += r.unsent;
        self.bytes += r.bytes_received;
        self.checks.0 += r.checks_passed;
        self.checks.1 += r.checks_failed;
        self.cpu += r.harness_cpu_seconds;
        add_counts(&mut self.error_kinds, &r.error_kinds);
        add_counts(&mut self.failed_checks, &r.failed_checks);
        for (k, v) in &r.error_examples {
            self.error_examples
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        for (k, v) in &r.counters {
            *self.counters.entry(k.clone()).or_default() += v;
        }
        for (name, m) in &r.by_name {
            let e = self
                .by_name
                .entry(name.clone())
                .or_insert_with(|| (new_hist(), 0, 0));
            let _ = e.0.add(&m.latency);
            e.1 += m.requests;
            e.2 += m.errors;
        }
        for (name, [p, f]) in &r.checks {
            let e = self.check_names.entry(name.clone()).or_default();
            e[0] += p;
            e[1] += f;
        }
    }

    fn result(&self, name: &str, open_model: bool) -> VariantResult {
        let summary = Summary::from_parts(SummaryParts {
            latency: &self.latency,
            service: &self.service,
            lag: open_model.then_some(&self.lag),
            ok: self.ok,
            errors: self.errors,
            settling: self.settling,
            seconds: self.seconds,
            late_sends: self.late,
            unsent: self.unsent,
            bytes_received: self.bytes,
            checks: self.checks,
            harness_cpu_seconds: self.cpu,
            error_kinds: self.error_kinds.clone(),
            error_examples: self.error_examples.clone(),
            failed_checks: self.failed_checks.clone(),
        });
        // The server served the settle periods' requests too.
        let requests = summary.requests + summary.settling;
        VariantResult {
            name: name.to_string(),
            spectrum: summary::spectrum(&self.latency)
                .into_iter()
                .map(|(p, ms)| [p, ms])
                .collect(),
            counters_per_request: self
                .counters
                .iter()
                .map(|(k, total)| {
                    let per = if requests > 0 {
                        total / requests as f64
                    } else {
                        0.0
                    };
                    (k.clone(), per)
                })
                .collect(),
            by_name: self
                .by_name
                .iter()
                .map(|(name, (h, requests, errors))| NameSummary {
                    name: name.clone(),
                    requests: *requests,
                    errors: *errors,
                    latency: Percentiles::of(h),
                })
                .collect(),
            checks: self
                .check_names
                .iter()
                .map(|(name, [passed, failed])| CheckSummary {
                    name: name.clone(),
                    passed: *passed,
                    failed: *failed,
                })
                .collect(),
            summary,
        }
    }
}

fn generator_warnings(variants: &[VariantResult], open: bool, warnings: &mut Vec<Warning>) {
    for v in variants {
        let s = &v.summary;
        if s.requests == 0 {
            continue; // an invalid run: see validity
        }
        if open && (s.late_sends as f64 > 0.01 * s.requests as f64 || s.unsent > 0) {
            warnings.push(Warning::LateSends {
                variant: v.name.clone(),
                late: s.late_sends,
                requests: s.requests,
                unsent: s.unsent,
            });
        }
        if s.harness_cpu_cores > 0.8 {
            warnings.push(Warning::BusyGenerator {
                variant: v.name.clone(),
                cores: s.harness_cpu_cores,
                cpu_us_per_request: s.harness_cpu_us_per_request,
            });
        }
        if s.error_rate > 0.0 {
            warnings.push(Warning::Errors {
                variant: v.name.clone(),
                rate: s.error_rate,
                kinds: s.error_kinds.iter().map(|(k, n)| (k.clone(), *n)).collect(),
            });
        }
    }
}

/// A per-pair ratio that moves with time means the pairing did not cancel the machine's drift
/// (or one variant warms up or degrades as the run goes on).
fn drift_warnings(comparisons: &[Comparison], warnings: &mut Vec<Warning>) {
    for c in comparisons {
        for mc in c.metrics.iter().filter(|m| m.headline) {
            if mc.per_pair.len() < 8 {
                continue;
            }
            let logs: Vec<f64> = mc.per_pair.iter().map(|r| r.ln()).collect();
            if let Some((rho, p)) = stats::trend(&logs)
                && p < 0.01
            {
                warnings.push(Warning::Drift {
                    metric: mc.metric,
                    rho,
                    baseline: c.baseline.clone(),
                    candidate: c.candidate.clone(),
                });
            }
        }
    }
}
