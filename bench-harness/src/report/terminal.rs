//! The summary printed at the end of a run: an aligned table, the counters, the verdicts.

use super::{Report, counter_rows, fmt_ms};

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let status = if r.status == "complete" {
        String::new()
    } else {
        format!("  [{}]", r.status.to_uppercase())
    };
    out.push_str(&format!(
        "\nperflab · {} · {} · {} round(s) per variant{status}\n\n",
        r.name, r.load_description, r.rounds_per_variant
    ));
    let width = widest(r.variants.iter().map(|v| v.name.as_str()), 7);
    out.push_str(&format!(
        "  {:<width$}  {:>10}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>7}\n",
        "variant", "req/s", "p50", "p90", "p99", "p99.9", "max", "errors"
    ));
    for v in &r.variants {
        let s = &v.summary;
        out.push_str(&format!(
            "  {:<width$}  {:>10.0}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>6.2}%\n",
            v.name,
            s.throughput,
            fmt_ms(s.latency.p50),
            fmt_ms(s.latency.p90),
            fmt_ms(s.latency.p99),
            fmt_ms(s.latency.p999),
            fmt_ms(s.latency.max),
            s.error_rate * 100.0
        ));
    }
    if r.load.is_open() {
        out.push_str("  (open model: latency from the intended send time; service time from the actual send)\n");
        for v in &r.variants {
            out.push_str(&format!(
                "  {:<width$}  service time p50 {}  p99 {}\n",
                v.name,
                fmt_ms(v.summary.service_time.p50),
                fmt_ms(v.summary.service_time.p99)
            ));
        }
    }
    let rows = counter_rows(r);
    if !rows.is_empty() {
        let cw = widest(rows.iter().map(|(n, _)| n.as_str()), 27) + 2;
        // Each variant's column is as wide as its name, at least 14.
        let col = widest(r.variants.iter().map(|v| v.name.as_str()), 14) + 2;
        out.push_str(&format!("\n  {:<cw$}", "server counters per request"));
        for v in &r.variants {
            out.push_str(&format!("{:>w$}", v.name, w = col));
        }
        out.push('\n');
        for (name, values) in rows {
            out.push_str(&format!("  {name:<cw$}"));
            for v in values {
                out.push_str(&format!("{:>w$}", trim_number(v), w = col));
            }
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "\n  load generator: {:.1} µs CPU per request, {:.0} % of a core\n",
        avg(r, |v| v.summary.harness_cpu_us_per_request),
        avg(r, |v| v.summary.harness_cpu_cores) * 100.0
    ));
    if !r.comparisons.is_empty() {
        out.push_str("\nverdict\n");
        for c in &r.comparisons {
            out.push_str(&format!("  {}\n", c.verdict));
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
            out.push_str(&format!(
                "  {} {}  ({})\n",
                if t.passed { "✓" } else { "✗" },
                t.expression,
                t.detail
            ));
        }
    }
    if !r.warnings.is_empty() {
        out.push_str("\nwarnings\n");
        for w in &r.warnings {
            out.push_str(&format!("  ! {w}\n"));
        }
    }
    out
}

fn avg(r: &Report, f: impl Fn(&super::VariantReport) -> f64) -> f64 {
    if r.variants.is_empty() {
        0.0
    } else {
        r.variants.iter().map(f).sum::<f64>() / r.variants.len() as f64
    }
}

pub fn trim_number(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The longest of `names`, and at least `at_least`: a column width.
fn widest<'a>(names: impl Iterator<Item = &'a str>, at_least: usize) -> usize {
    names.map(str::len).max().unwrap_or(0).max(at_least)
}
