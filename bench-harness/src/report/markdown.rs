//! Markdown, to paste into a pull request or a workshop handout.

use super::terminal::trim_number;
use super::{Report, counter_rows, fmt_ms};

pub fn render(r: &Report) -> String {
    let mut md = String::new();
    md.push_str(&format!("# perflab: {}\n\n", r.name));
    if r.status != "complete" {
        md.push_str(&format!(
            "> **Incomplete report**: {}\n\n",
            r.incomplete_reason.as_deref().unwrap_or("interrupted")
        ));
    }
    md.push_str(&format!(
        "{} · {} round(s) per variant after {:.0} s warm-up · {} · {} cores · started {}\n\n",
        r.load_description,
        r.rounds_per_variant,
        r.warmup_seconds,
        r.environment.cpu_model,
        r.environment.cores,
        r.started_at
    ));
    if let Some(lab) = &r.lab {
        md.push_str(&format!("**Hypothesis.** {}\n\n", lab.hypothesis));
    }
    if !r.comparisons.is_empty() {
        md.push_str("## Verdict\n\n");
        for c in &r.comparisons {
            md.push_str(&format!("- {}\n", c.verdict));
        }
        md.push('\n');
    }
    md.push_str("## Results\n\n| variant | req/s | p50 | p90 | p99 | p99.9 | max | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for v in &r.variants {
        let s = &v.summary;
        md.push_str(&format!(
            "| {} | {:.0} | {} | {} | {} | {} | {} | {:.2} % |\n",
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
    let rows = counter_rows(r);
    if !rows.is_empty() {
        md.push_str("\n## Server counters per request\n\n| counter |");
        for v in &r.variants {
            md.push_str(&format!(" {} |", v.name));
        }
        md.push_str("\n|---|");
        md.push_str(&"---:|".repeat(r.variants.len()));
        md.push('\n');
        for (name, values) in rows {
            md.push_str(&format!("| `{name}` |"));
            for v in values {
                md.push_str(&format!(" {} |", trim_number(v)));
            }
            md.push('\n');
        }
    }
    if !r.thresholds.is_empty() {
        md.push_str("\n## Thresholds\n\n");
        for t in &r.thresholds {
            md.push_str(&format!(
                "- {} `{}` — {}\n",
                if t.passed { "✅" } else { "❌" },
                t.expression,
                t.detail
            ));
        }
    }
    if let Some(b) = &r.baseline {
        md.push_str(&format!(
            "\n## Against baseline `{}` ({})\n\n",
            b.name, b.saved_at
        ));
        for l in &b.lines {
            md.push_str(&format!("- {l}\n"));
        }
    }
    if !r.warnings.is_empty() {
        md.push_str("\n## Warnings\n\n");
        for w in &r.warnings {
            md.push_str(&format!("- {w}\n"));
        }
    }
    let e = &r.environment;
    md.push_str(&format!(
        "\n<details><summary>Environment</summary>\n\n- kernel {} · load {:.2} → {:.2} · steal {} · harness {} · service {} · commit {}\n- fsync: {}\n- command: `{}`\n- seed {}\n\n</details>\n",
        e.kernel,
        e.loadavg_start,
        e.loadavg_end,
        e.steal_percent.map(|s| format!("{s:.1} %")).unwrap_or_else(|| "n/a".into()),
        e.harness_version,
        e.service_version.as_deref().unwrap_or("n/a"),
        e.git_commit.as_deref().unwrap_or("n/a"),
        e.fsync_ms.as_ref().map(|f| format!("median {:.2} ms, p90 {:.2} ms ({} samples in {})", f.median, f.p90, f.samples, f.path)).unwrap_or_else(|| "not probed".into()),
        e.command_line.join(" "),
        e.seed
    ));
    md
}
