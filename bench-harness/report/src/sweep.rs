//! The report of a sweep (`--sweep AXIS=V1,V2,…`): each point's own report in a folder of its
//! own, and one summary of the curves — the levels with their pointwise intervals, each point's
//! verdicts, the USL fit and the knee per variant — as JSON, Markdown, HTML (with the curves)
//! and a terminal summary. Like the run report, it renders what analysis computed.

use perflab_analysis::capacity::{CapacityAnalysis, Standing};
use perflab_analysis::sweep::{AxisKind, Level, PointResult, SweepAnalysis};
use perflab_analysis::{Correction, Policy};
use serde::Serialize;

use crate::table::{Table, fmt_ms};
use crate::{Environment, LabInfo, Status, words};

pub const SWEEP_SCHEMA: &str = "perflab.sweep/v1";

/// One point: where its full report is, and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct PointFiles {
    pub label: String,
    /// The point's report folder, relative to the sweep's.
    pub dir: String,
    pub status: Status,
}

#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub schema: &'static str,
    pub name: String,
    pub status: Status,
    pub incomplete_reason: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    /// The load model of the points, with the swept value shown as `{axis}`.
    pub load_description: String,
    pub lab: Option<LabInfo>,
    pub environment: Environment,
    /// The sweep's policy, and the correction over every point's comparisons together (each
    /// point ran its family at `correction.per_interval`).
    pub policy: Policy,
    pub correction: Correction,
    pub points: Vec<PointFiles>,
    pub analysis: SweepAnalysis,
    /// A capacity search (`--slo`): its probes and each variant's capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityAnalysis>,
}

impl SweepReport {
    /// Incomplete when a point was, invalid when a point was (a curve with a hole in it is
    /// shown, but the sweep as a whole is not a measurement).
    pub fn status_of(points: &[PointFiles], interrupted: bool) -> Status {
        if interrupted || points.iter().any(|p| p.status == Status::Incomplete) {
            Status::Incomplete
        } else if points.iter().any(|p| p.status == Status::Invalid) {
            Status::Invalid
        } else {
            Status::Complete
        }
    }
}

/// `vus`, `rate (req/s)`, or the knob's own name: the x axis's label.
pub fn axis_label(a: &SweepAnalysis) -> String {
    match a.kind {
        AxisKind::Concurrency => "virtual users".into(),
        AxisKind::ArrivalRate => "arrival rate (req/s)".into(),
        AxisKind::Setting => a.axis.clone(),
    }
}

fn level_cell(l: Option<&Level>, show: impl Fn(f64) -> String) -> String {
    match l {
        None => "—".into(),
        Some(Level {
            estimate,
            interval: None,
        }) => show(*estimate),
        Some(Level {
            estimate,
            interval: Some(iv),
        }) => format!("{} [{}, {}]", show(*estimate), show(iv.low), show(iv.high)),
    }
}

fn per_second(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// One row per point and variant: the levels with their pointwise intervals.
pub fn levels(a: &SweepAnalysis) -> Table {
    let header = [
        a.axis.as_str(),
        "variant",
        "req/s",
        "p50",
        "p99",
        "errors",
        "rounds",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    for p in &a.points {
        for v in &p.variants {
            rows.push(vec![
                if p.is_valid() {
                    p.label.clone()
                } else {
                    format!("{} (invalid)", p.label)
                },
                v.variant.clone(),
                level_cell(v.throughput.as_ref(), per_second),
                level_cell(v.p50.as_ref(), fmt_ms),
                level_cell(v.p99.as_ref(), fmt_ms),
                format!("{:.2} %", v.error_rate * 100.0),
                v.rounds.to_string(),
            ]);
        }
    }
    Table { header, rows }
}

/// Each point's verdicts against the first variant, worded as a run's are.
pub fn verdict_lines(a: &SweepAnalysis, margin: f64) -> Vec<String> {
    a.points
        .iter()
        .filter(|p| !p.verdicts.is_empty() || !p.is_valid() || p.variants.len() > 1)
        .map(|p| point_line(a, p, margin))
        .collect()
}

fn point_line(a: &SweepAnalysis, p: &PointResult, margin: f64) -> String {
    if !p.is_valid() {
        return format!(
            "{} = {}: invalid, no verdict ({})",
            a.axis,
            p.label,
            p.invalid.join("; ")
        );
    }
    if p.verdicts.is_empty() {
        return format!(
            "{} = {}: no verdict — too few round pairs for an interval at this confidence (its report says how many it had)",
            a.axis, p.label
        );
    }
    let mut by_pair: Vec<(String, Vec<String>)> = Vec::new();
    for v in &p.verdicts {
        let key = format!("{} vs {}", v.candidate, v.baseline);
        let phrase = words::metric_phrase(v.metric, &v.interval, v.verdict, margin);
        match by_pair.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(phrase),
            None => by_pair.push((key, vec![phrase])),
        }
    }
    let pairs: Vec<String> = by_pair
        .into_iter()
        .map(|(k, list)| format!("{k}: {}", list.join(", ")))
        .collect();
    format!("{} = {}: {}", a.axis, p.label, pairs.join("; "))
}

/// Per variant: the USL's meaning (or why there is none), the knee, the best point.
pub fn model_lines(a: &SweepAnalysis) -> Vec<String> {
    let mut lines = Vec::new();
    for c in &a.curves {
        match (&c.usl, &c.usl_missing) {
            (Some(u), _) => lines.push(format!(
                "{}: USL λ = {} req/s at {} = 1; {}",
                c.variant,
                per_second(u.lambda),
                a.axis,
                u.meaning
            )),
            (None, Some(why)) => lines.push(format!("{}: no USL fit — {why}", c.variant)),
            (None, None) => {}
        }
        if let Some(k) = &c.knee {
            lines.push(format!(
                "{}: p99 bends upwards at {} = {} (p99 {}): beyond it, more {} buys latency, not throughput",
                c.variant,
                a.axis,
                k.label,
                fmt_ms(k.p99_ms),
                a.axis
            ));
        } else {
            lines.push(format!(
                "{}: no knee in p99 (fewer than three valid points, or p99 does not rise beyond its intervals from the first point to the last)",
                c.variant
            ));
        }
        if let Some((label, x)) = &c.best_throughput {
            lines.push(format!(
                "{}: highest throughput {} req/s at {} = {label}",
                c.variant,
                per_second(*x),
                a.axis
            ));
        }
    }
    lines
}

/// A capacity search's conclusion, one line per variant, and how it was reached.
pub fn capacity_lines(c: &CapacityAnalysis) -> Vec<String> {
    let mut lines: Vec<String> = c.capacities.iter().map(|v| v.meaning.clone()).collect();
    lines.push(format!(
        "{} probes (budget {}), each level at {:.2} % so that all of them hold together at {:.0} %; a probe meets {} when its whole interval lies below the limit, misses it when wholly above (or when the target could not keep the rate); the interval runs from the highest rate that met it to the lowest that missed it",
        c.probes
            .iter()
            .map(|p| p.rate.to_bits())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        c.settings.max_probes,
        c.level_confidence * 100.0,
        c.confidence * 100.0,
        c.slo
    ));
    lines
}

/// Every probe in the order measured: the rate, each variant's level and standing.
pub fn probes(c: &CapacityAnalysis) -> Table {
    let header = ["probe", "rate (req/s)", "variant", "level", "standing"]
        .map(String::from)
        .to_vec();
    let mut rows = Vec::new();
    let mut index = 0;
    let mut last = f64::NAN;
    for p in &c.probes {
        if p.rate != last {
            index += 1;
            last = p.rate;
        }
        // The validity guard's full reason is in the point's verdict line and its report.
        let standing = match (p.standing, &p.why) {
            (Standing::Misses, Some(_)) => "misses (its run was invalid)".to_string(),
            (Standing::Unmeasured, Some(why)) => format!("not measured ({why})"),
            (s, _) => standing_word(s).to_string(),
        };
        rows.push(vec![
            index.to_string(),
            perflab_analysis::capacity::show_rate(p.rate),
            p.variant.clone(),
            format!("{} {}", c.slo.metric, level_cell(p.level.as_ref(), fmt_ms)),
            standing,
        ]);
    }
    Table { header, rows }
}

fn standing_word(s: Standing) -> &'static str {
    match s {
        Standing::Meets => "meets",
        Standing::Misses => "misses",
        Standing::Unsure => "unsure",
        Standing::Unmeasured => "not measured",
    }
}
