//! The summary printed at the end of a run: aligned tables, the verdicts, thresholds, warnings.

use perflab_analysis::thresholds::Outcome;

use crate::table::{self, Table};
use crate::{Report, Status, words};

/// Columns padded to their widest cell; the first left-aligned, the rest right-aligned.
pub(crate) fn layout(t: &Table, out: &mut String) {
    let widths: Vec<usize> = (0..t.header.len())
        .map(|i| {
            std::iter::once(&t.header[i])
                .chain(t.rows.iter().map(|r| &r[i]))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String], out: &mut String| {
        out.push(' ');
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - c.chars().count();
            out.push_str("  ");
            if i == 0 {
                out.push_str(c);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(c);
            }
        }
        out.push('\n');
    };
    line(&t.header, out);
    for r in &t.rows {
        line(r, out);
    }
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let status = match r.status {
        Status::Complete => "",
        Status::Incomplete => "  [INCOMPLETE]",
        Status::Invalid => "  [INVALID]",
    };
    out.push_str(&format!(
        "\nperflab · {} · {} per round{status}\n\n",
        r.name, r.load_description
    ));
    layout(&table::results(r), &mut out);
    if r.load.is_open() {
        out.push_str(
            "  (open model: latency from the intended send time; service time from the actual send)\n",
        );
    }
    for (_, t) in table::details(r) {
        out.push('\n');
        layout(&t, &mut out);
    }
    for line in words::cpu_lines(r) {
        out.push_str(&format!("  {line}\n"));
    }
    if let Some(p) = &r.profiles {
        out.push_str("\n  where the service spent its CPU (flame graphs beside the report):\n");
        for t in table::profile_top(p)
            .into_iter()
            .chain(table::profile_changes(p))
        {
            layout(&t, &mut out);
        }
        out.push_str(&format!("  {}\n", words::PROFILE_NOTE));
    }
    if let Some(t) = table::crash_checks(r) {
        out.push_str(&format!("\n  {}:\n", table::CRASH_TITLE.to_lowercase()));
        layout(&t, &mut out);
        for line in table::crash_promises(r) {
            out.push_str(&format!("    {line}\n"));
        }
    }
    for v in r.variants.iter().filter(|v| !v.notes.is_empty()) {
        for n in &v.notes {
            out.push_str(&format!(
                "\n  {} — {} (from the service):\n",
                v.name, n.title
            ));
            for line in n.text.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    out.push_str(&format!(
        "\n  load generator: {:.1} µs CPU per request, {:.0} % of a core\n",
        avg(r, |v| v.summary.harness_cpu_us_per_request),
        avg(r, |v| v.summary.harness_cpu_cores) * 100.0
    ));
    let verdict = words::verdict_section(r);
    if !verdict.is_empty() {
        out.push_str("\nverdict\n");
        for line in verdict {
            out.push_str(&format!("  {line}\n"));
        }
    } else {
        out.push_str(&format!("\n  {}\n", words::rounds_line(&r.rounds)));
    }
    let lessons = words::lesson_lines(r);
    if !lessons.is_empty() {
        out.push_str("\nwhy (from the lab, for this outcome)\n");
        for l in lessons {
            out.push_str(&format!("  {l}\n"));
        }
    }
    if let Some(b) = &r.baseline {
        out.push_str(&format!(
            "\nagainst baseline {:?} (saved {})\n",
            b.name, b.saved_at
        ));
        for l in &b.lines {
            out.push_str(&format!("  {l}\n"));
        }
    }
    if !r.thresholds.is_empty() {
        out.push_str("\nthresholds\n");
        for t in &r.thresholds {
            let mark = match t.outcome {
                Outcome::Passed => "✓",
                Outcome::Failed => "✗",
                Outcome::NotEvaluated => "–",
            };
            out.push_str(&format!("  {mark} {}  ({})\n", t.expression, t.detail));
        }
    }
    if !r.warnings.is_empty() {
        out.push_str("\nwarnings\n");
        for w in &r.warnings {
            out.push_str(&format!("  ! {w}\n"));
        }
    }
    out.push_str(&format!("\n{}\n", outcome_line(r)));
    out
}

/// The one line that says how the run ended, with its exit code.
pub fn outcome_line(r: &Report) -> String {
    let failed = r
        .thresholds
        .iter()
        .filter(|t| t.outcome == Outcome::Failed)
        .count();
    match r.status {
        Status::Incomplete => {
            "INCOMPLETE: interrupted; a partial report was written (exit 130)".into()
        }
        Status::Invalid => format!(
            "INVALID: {} (exit 4)",
            r.invalid_reasons
                .first()
                .map(ToString::to_string)
                .unwrap_or_else(|| "the run is not a measurement".into())
        ),
        Status::Complete if failed > 0 => format!(
            "FAIL: {failed} of {} threshold checks failed (exit 3)",
            r.thresholds.len()
        ),
        Status::Complete if r.thresholds.is_empty() => "PASS: complete (exit 0)".into(),
        Status::Complete => format!(
            "PASS: {} threshold checks passed (exit 0)",
            r.thresholds
                .iter()
                .filter(|t| t.outcome == Outcome::Passed)
                .count()
        ),
    }
}

fn avg(r: &Report, f: impl Fn(&crate::VariantReport) -> f64) -> f64 {
    if r.variants.is_empty() {
        0.0
    } else {
        r.variants.iter().map(f).sum::<f64>() / r.variants.len() as f64
    }
}
