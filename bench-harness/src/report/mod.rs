//! The report: one data structure (serialised as versioned JSON, schema in
//! `bench-harness/schema/report.v1.json`) rendered as a terminal summary, Markdown and a
//! self-contained HTML page.

pub mod html;
pub mod markdown;
pub mod terminal;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use crate::environment::Environment;
use crate::experiment::{Outcome, Plan};
use crate::load::LoadModel;
use crate::record::{Hist, new_hist};
use crate::stats::{self, Better, Interval, Percentiles};
use crate::thresholds::ThresholdResult;

pub const SCHEMA: &str = "perflab.report/v1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub name: String,
    /// `complete`, or `incomplete` (interrupted or failed part-way; see `incomplete_reason`).
    pub status: String,
    pub incomplete_reason: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub load: LoadModel,
    pub load_description: String,
    pub rounds_per_variant: u32,
    pub warmup_seconds: f64,
    pub lab: Option<LabInfo>,
    pub variants: Vec<VariantReport>,
    /// Every measured round, in the order it ran.
    pub rounds: Vec<RoundReport>,
    pub comparisons: Vec<Comparison>,
    pub thresholds: Vec<ThresholdResult>,
    pub baseline: Option<BaselineComparison>,
    pub warnings: Vec<String>,
    pub environment: Environment,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabInfo {
    pub summary: String,
    pub hypothesis: String,
    pub prediction_prompt: String,
    pub explanation: String,
    pub database: String,
    /// What the person running the lab predicted, when asked.
    pub prediction: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub error_rate: f64,
    /// Completed requests per second of round time.
    pub throughput: f64,
    pub seconds: f64,
    /// Milliseconds. Open models: from the intended send time (coordinated-omission correct).
    pub latency: Percentiles,
    /// Milliseconds, from the actual send.
    pub service_time: Percentiles,
    /// Open models: how late sends started after their intended time (ms).
    pub send_lag: Option<Percentiles>,
    pub late_sends: u64,
    pub unsent: u64,
    pub bytes_received: u64,
    pub bytes_per_response: f64,
    pub checks_passed: u64,
    pub checks_failed: u64,
    /// The harness's own CPU time per request, microseconds.
    pub harness_cpu_us_per_request: f64,
    /// The harness's CPU time as a share of one core during the round.
    pub harness_cpu_cores: f64,
    pub error_kinds: BTreeMap<String, u64>,
    pub failed_checks: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoundReport {
    pub variant: String,
    pub index: u32,
    pub summary: Summary,
    /// `[completed, errors]` per second of the round.
    pub per_second: Vec<[u64; 2]>,
    /// Server counter deltas over the round.
    pub counters: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VariantReport {
    pub name: String,
    pub settings: BTreeMap<String, serde_json::Value>,
    pub target: String,
    /// All rounds merged.
    pub summary: Summary,
    /// `[percentile, ms]` points of the merged latency distribution.
    pub spectrum: Vec<[f64; 2]>,
    /// Server counter deltas divided by completed requests.
    pub counters_per_request: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    pub baseline: String,
    pub candidate: String,
    pub rounds: usize,
    /// Intervals are of candidate ÷ baseline, over paired rounds.
    pub throughput: Option<Interval>,
    pub p50: Option<Interval>,
    pub p99: Option<Interval>,
    pub verdict: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselineComparison {
    pub name: String,
    pub saved_at: String,
    pub lines: Vec<String>,
}

/// Builds a summary from merged histograms and counters.
pub struct SummaryParts<'a> {
    pub latency: &'a Hist,
    pub service: &'a Hist,
    pub lag: Option<&'a Hist>,
    pub ok: u64,
    pub errors: u64,
    pub seconds: f64,
    pub late_sends: u64,
    pub unsent: u64,
    pub bytes_received: u64,
    pub checks: (u64, u64),
    pub harness_cpu_seconds: f64,
    pub error_kinds: BTreeMap<String, u64>,
    pub failed_checks: BTreeMap<String, u64>,
}

impl Summary {
    pub fn from_parts(p: SummaryParts<'_>) -> Summary {
        let requests = p.ok + p.errors;
        let per = |x: f64| {
            if requests > 0 {
                x / requests as f64
            } else {
                0.0
            }
        };
        Summary {
            requests,
            ok: p.ok,
            errors: p.errors,
            error_rate: per(p.errors as f64),
            throughput: if p.seconds > 0.0 {
                requests as f64 / p.seconds
            } else {
                0.0
            },
            seconds: p.seconds,
            latency: Percentiles::of(p.latency),
            service_time: Percentiles::of(p.service),
            send_lag: p.lag.map(Percentiles::of),
            late_sends: p.late_sends,
            unsent: p.unsent,
            bytes_received: p.bytes_received,
            bytes_per_response: per(p.bytes_received as f64),
            checks_passed: p.checks.0,
            checks_failed: p.checks.1,
            harness_cpu_us_per_request: per(p.harness_cpu_seconds * 1e6),
            harness_cpu_cores: if p.seconds > 0.0 {
                p.harness_cpu_seconds / p.seconds
            } else {
                0.0
            },
            error_kinds: p.error_kinds,
            failed_checks: p.failed_checks,
        }
    }
}

fn add_maps(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

pub struct Meta {
    pub name: String,
    pub started_at: String,
    pub lab: Option<LabInfo>,
    pub environment: Environment,
    pub incomplete_reason: Option<String>,
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Turns measured rounds into the report: summaries, comparisons and warnings.
pub fn build(plan: &Plan, outcome: &Outcome, meta: Meta) -> Report {
    let open = plan.model.is_open();
    let mut rounds = Vec::new();
    let mut merged: Vec<(Hist, Hist, Hist)> = plan
        .variants
        .iter()
        .map(|_| (new_hist(), new_hist(), new_hist()))
        .collect();
    let mut totals: Vec<SummaryAcc> = plan
        .variants
        .iter()
        .map(|_| SummaryAcc::default())
        .collect();
    let mut index_of_variant = vec![0u32; plan.variants.len()];

    for r in &outcome.rounds {
        let rec = &r.data.recorder;
        let (lat, svc, lag) = (rec.latency.merged(), rec.service_time(), rec.lag.merged());
        let seconds = r.data.elapsed.as_secs_f64();
        let acc = &mut totals[r.variant];
        let parts = SummaryParts {
            latency: &lat,
            service: &svc,
            lag: open.then_some(&lag),
            ok: rec.ok.load(Ordering::Relaxed),
            errors: rec.errors.load(Ordering::Relaxed),
            seconds,
            late_sends: rec.late_sends.load(Ordering::Relaxed),
            unsent: r.data.unsent,
            bytes_received: rec.bytes_received.load(Ordering::Relaxed),
            checks: (
                rec.checks_passed.load(Ordering::Relaxed),
                rec.checks_failed.load(Ordering::Relaxed),
            ),
            harness_cpu_seconds: r.data.harness_cpu.as_secs_f64(),
            error_kinds: rec.error_kinds(),
            failed_checks: rec.failed_checks(),
        };
        acc.add(&parts, &r.counters);
        let m = &mut merged[r.variant];
        let _ = m.0.add(&lat);
        let _ = m.1.add(&svc);
        let _ = m.2.add(&lag);
        index_of_variant[r.variant] += 1;
        rounds.push(RoundReport {
            variant: plan.variants[r.variant].name.clone(),
            index: index_of_variant[r.variant],
            summary: Summary::from_parts(parts),
            per_second: rec
                .per_second(
                    // Whole seconds only: a trailing partial second would read as a dip.
                    (r.data.elapsed.as_secs_f64().floor() as usize).max(1),
                )
                .into_iter()
                .map(|(c, e)| [c, e])
                .collect(),
            counters: r.counters.clone(),
        });
    }

    let variants: Vec<VariantReport> = plan
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let acc = &totals[i];
            let (lat, svc, lag) = &merged[i];
            let summary = acc.summary(lat, svc, open.then_some(lag));
            let counters_per_request = acc
                .counters
                .iter()
                .map(|(k, total)| {
                    (
                        k.clone(),
                        if summary.requests > 0 {
                            total / summary.requests as f64
                        } else {
                            0.0
                        },
                    )
                })
                .collect();
            VariantReport {
                name: v.name.clone(),
                settings: v.settings.clone(),
                target: v.target.base_url.clone(),
                spectrum: stats::spectrum(lat)
                    .into_iter()
                    .map(|(p, ms)| [p, ms])
                    .collect(),
                summary,
                counters_per_request,
            }
        })
        .collect();

    let comparisons = compare(&rounds, &variants, open, plan.seed);
    let mut warnings = Vec::new();
    harness_warnings(&variants, open, &mut warnings);
    noise_warnings(&rounds, &comparisons, &mut warnings);
    if plan.rounds < 3 && variants.len() > 1 {
        warnings.push(format!("only {} round(s) per variant: confidence intervals from so few rounds are rough; use --rounds 5 or more", plan.rounds));
    }

    let interrupted = outcome.interrupted || meta.incomplete_reason.is_some();
    Report {
        schema: SCHEMA.into(),
        name: meta.name,
        status: if interrupted {
            "incomplete".into()
        } else {
            "complete".into()
        },
        incomplete_reason: meta.incomplete_reason.or(outcome
            .interrupted
            .then(|| "interrupted (Ctrl-C)".to_string())),
        started_at: meta.started_at,
        finished_at: now_rfc3339(),
        load_description: plan.model.describe(),
        load: plan.model.clone(),
        rounds_per_variant: plan.rounds,
        warmup_seconds: plan.warmup.as_secs_f64(),
        lab: meta.lab,
        variants,
        rounds,
        comparisons,
        thresholds: Vec::new(),
        baseline: None,
        warnings,
        environment: meta.environment,
    }
}

#[derive(Default)]
struct SummaryAcc {
    ok: u64,
    errors: u64,
    seconds: f64,
    late: u64,
    unsent: u64,
    bytes: u64,
    checks: (u64, u64),
    cpu: f64,
    error_kinds: BTreeMap<String, u64>,
    failed_checks: BTreeMap<String, u64>,
    counters: BTreeMap<String, f64>,
}

impl SummaryAcc {
    fn add(&mut self, p: &SummaryParts<'_>, counters: &BTreeMap<String, f64>) {
        self.ok += p.ok;
        self.errors += p.errors;
        self.seconds += p.seconds;
        self.late += p.late_sends;
        self.unsent += p.unsent;
        self.bytes += p.bytes_received;
        self.checks.0 += p.checks.0;
        self.checks.1 += p.checks.1;
        self.cpu += p.harness_cpu_seconds;
        add_maps(&mut self.error_kinds, &p.error_kinds);
        add_maps(&mut self.failed_checks, &p.failed_checks);
        for (k, v) in counters {
            *self.counters.entry(k.clone()).or_default() += v;
        }
    }

    fn summary(&self, lat: &Hist, svc: &Hist, lag: Option<&Hist>) -> Summary {
        Summary::from_parts(SummaryParts {
            latency: lat,
            service: svc,
            lag,
            ok: self.ok,
            errors: self.errors,
            seconds: self.seconds,
            late_sends: self.late,
            unsent: self.unsent,
            bytes_received: self.bytes,
            checks: self.checks,
            harness_cpu_seconds: self.cpu,
            error_kinds: self.error_kinds.clone(),
            failed_checks: self.failed_checks.clone(),
        })
    }
}

fn per_round(rounds: &[RoundReport], variant: &str, f: impl Fn(&Summary) -> f64) -> Vec<f64> {
    rounds
        .iter()
        .filter(|r| r.variant == variant)
        .map(|r| f(&r.summary))
        .collect()
}

/// Every other variant against the first (the naive one, by convention).
fn compare(
    rounds: &[RoundReport],
    variants: &[VariantReport],
    open: bool,
    seed: u64,
) -> Vec<Comparison> {
    let Some(base) = variants.first() else {
        return Vec::new();
    };
    variants[1..]
        .iter()
        .map(|cand| {
            let series = |f: fn(&Summary) -> f64| {
                (
                    per_round(rounds, &base.name, f),
                    per_round(rounds, &cand.name, f),
                )
            };
            let (bt, ct) = series(|s| s.throughput);
            let (b50, c50) = series(|s| s.latency.p50);
            let (b99, c99) = series(|s| s.latency.p99);
            // Under an open model the rate is fixed by the schedule: throughput says nothing.
            let throughput = if open {
                None
            } else {
                stats::paired_ratio(&bt, &ct, seed)
            };
            let p50 = stats::paired_ratio(&b50, &c50, seed ^ 1);
            let p99 = stats::paired_ratio(&b99, &c99, seed ^ 2);
            let n = bt.len().min(ct.len());
            let mut parts = Vec::new();
            if let Some(iv) = &throughput {
                parts.push(stats::describe_ratio("throughput", iv, Better::Higher));
            }
            if open && let Some(iv) = &p50 {
                parts.push(stats::describe_ratio("p50", iv, Better::Lower));
            }
            if let Some(iv) = &p99 {
                parts.push(stats::describe_ratio("p99", iv, Better::Lower));
            }
            // "X: throughput 1.8× [..], p99 2.4× lower [..] than Y" reads well only when every
            // part is a comparison; otherwise say "X vs Y: ...".
            let verdict = if parts.is_empty() {
                format!(
                    "{}: not enough data to compare with {}",
                    cand.name, base.name
                )
            } else if parts.iter().any(|p| p.contains("no detectable difference")) {
                format!(
                    "{} vs {}: {} ({n} rounds)",
                    cand.name,
                    base.name,
                    parts.join(", ")
                )
            } else {
                format!(
                    "{}: {} than {} ({n} rounds)",
                    cand.name,
                    parts.join(", "),
                    base.name
                )
            };
            Comparison {
                baseline: base.name.clone(),
                candidate: cand.name.clone(),
                rounds: n,
                throughput,
                p50,
                p99,
                verdict,
            }
        })
        .collect()
}

fn harness_warnings(variants: &[VariantReport], open: bool, warnings: &mut Vec<String>) {
    for v in variants {
        let s = &v.summary;
        if s.requests == 0 {
            warnings.push(format!("{}: no request completed", v.name));
            continue;
        }
        if open && (s.late_sends as f64 > 0.01 * s.requests as f64 || s.unsent > 0) {
            warnings.push(format!(
                "{}: {} of {} sends started more than 1 ms late and {} scheduled sends never started: the target (or the load generator) could not keep up with the rate; latencies include that wait",
                v.name, s.late_sends, s.requests, s.unsent
            ));
        }
        if s.harness_cpu_cores > 0.8 {
            warnings.push(format!(
                "{}: the load generator used {:.0} % of a core ({:.1} µs CPU per request): it may have been the bottleneck, not the target",
                v.name,
                s.harness_cpu_cores * 100.0,
                s.harness_cpu_us_per_request
            ));
        }
        if s.error_rate > 0.0 {
            let kinds: Vec<String> = s
                .error_kinds
                .iter()
                .map(|(k, n)| format!("{k} ×{n}"))
                .collect();
            warnings.push(format!(
                "{}: {:.2} % of requests failed ({})",
                v.name,
                s.error_rate * 100.0,
                kinds.join(", ")
            ));
        }
    }
}

fn noise_warnings(rounds: &[RoundReport], comparisons: &[Comparison], warnings: &mut Vec<String>) {
    for c in comparisons {
        for (metric, iv, f) in [
            (
                "throughput",
                c.throughput,
                (|s: &Summary| s.throughput) as fn(&Summary) -> f64,
            ),
            ("p99", c.p99, |s: &Summary| s.latency.p99),
        ] {
            let Some(iv) = iv else { continue };
            let effect = (iv.estimate.ln()).abs();
            let noise = [&c.baseline, &c.candidate]
                .iter()
                .map(|v| stats::spread(&per_round(rounds, v, f)))
                .fold(0.0, f64::max);
            if noise > 0.05 && noise > effect {
                warnings.push(format!(
                    "noisy: {metric} varies ±{:.0} % between rounds of one variant, more than the {:.0} % effect between {} and {}; add rounds or quiet the machine",
                    noise * 100.0,
                    effect * 100.0,
                    c.baseline,
                    c.candidate
                ));
            }
        }
    }
}

/// Writes report.json, report.md and report.html into `dir`; returns their paths.
pub fn write_all(report: &Report, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let files = [
        (
            "report.json",
            serde_json::to_string_pretty(report).expect("report serializes"),
        ),
        ("report.md", markdown::render(report)),
        ("report.html", html::render(report)),
    ];
    files
        .into_iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            Ok(path)
        })
        .collect()
}

/// `reports/<name>-<UTC timestamp>/`.
pub fn default_dir(root: &Path, name: &str) -> PathBuf {
    let stamp = now_rfc3339()
        .replace([':', '-'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string();
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    root.join(format!("{safe}-{stamp}"))
}

/// Ratio formatting shared by renderers.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{:.0} µs", ms * 1000.0)
    }
}

/// Counters worth showing: those that are non-zero for some variant, per request.
pub fn counter_rows(report: &Report) -> Vec<(String, Vec<f64>)> {
    let mut names: Vec<&String> = report
        .variants
        .iter()
        .flat_map(|v| v.counters_per_request.keys())
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| n.as_str() != "http_requests_total")
        .filter_map(|n| {
            let (label, scale) = crate::counters::display_name_and_scale(n);
            let values: Vec<f64> = report
                .variants
                .iter()
                .map(|v| v.counters_per_request.get(n).copied().unwrap_or(0.0) * scale)
                .collect();
            values.iter().any(|v| *v != 0.0).then_some((label, values))
        })
        .collect()
}
