//! Markdown, to paste into a pull request or a workshop handout.

use perflab_analysis::thresholds::Outcome;

use crate::table::{self, Table};
use crate::{Report, Status, words};

pub(crate) fn layout(t: &Table, md: &mut String) {
    md.push_str(&format!("| {} |\n", t.header.join(" | ")));
    md.push('|');
    for i in 0..t.header.len() {
        md.push_str(if i == 0 { "---|" } else { "---:|" });
    }
    md.push('\n');
    for r in &t.rows {
        md.push_str(&format!("| {} |\n", r.join(" | ")));
    }
}

/// The environment as `(label, value)` pairs: Markdown shows them as a list, HTML as a table.
pub fn environment_rows(r: &Report) -> Vec<(&'static str, String)> {
    let e = &r.environment;
    vec![
        ("CPU", format!("{} ({} cores)", e.cpu_model, e.cores)),
        ("kernel", e.kernel.clone()),
        (
            "load average",
            format!("{:.2} → {:.2}", e.loadavg_start, e.loadavg_end),
        ),
        (
            "CPU steal",
            e.steal_percent
                .map(|s| format!("{s:.1} %"))
                .unwrap_or_else(|| "n/a".into()),
        ),
        ("harness", e.harness_version.clone()),
        (
            "service",
            e.service_version.clone().unwrap_or_else(|| "n/a".into()),
        ),
        (
            "commit",
            e.git_commit.clone().unwrap_or_else(|| "n/a".into()),
        ),
        (
            "fsync",
            e.fsync_ms
                .as_ref()
                .map(|f| {
                    format!(
                        "median {:.2} ms, p90 {:.2} ms ({} samples in {})",
                        f.median, f.p90, f.samples, f.path
                    )
                })
                .unwrap_or_else(|| "not probed".into()),
        ),
        (
            "link to Redis",
            e.link.clone().unwrap_or_else(|| "loopback".into()),
        ),
        ("command", e.command_line.join(" ")),
        ("seed", e.seed.to_string()),
    ]
}

pub fn render(r: &Report) -> String {
    let mut md = String::new();
    md.push_str(&format!("# perflab: {}\n\n", r.name));
    match r.status {
        Status::Incomplete => md.push_str(&format!(
            "> **Incomplete report**: {}\n\n",
            r.incomplete_reason.as_deref().unwrap_or("interrupted")
        )),
        Status::Invalid => {
            md.push_str("> **Invalid run**: no verdict (see the verdict section)\n\n")
        }
        Status::Complete => {}
    }
    md.push_str(&format!(
        "{} per round · {} · {} · {} cores · started {}\n\n",
        r.load_description,
        words::rounds_line(&r.rounds),
        r.environment.cpu_model,
        r.environment.cores,
        r.started_at
    ));
    if let Some(lab) = &r.lab {
        md.push_str(&format!("**Hypothesis.** {}\n\n", lab.hypothesis));
    }
    let verdict = words::verdict_section(r);
    if !verdict.is_empty() {
        md.push_str("## Verdict\n\n");
        for line in verdict {
            md.push_str(&format!("- {}\n", line.trim_start()));
        }
        md.push('\n');
    }
    let lessons = words::lesson_lines(r);
    if !lessons.is_empty() {
        md.push_str("## Why\n\n");
        for l in lessons {
            md.push_str(&format!("- {l}\n"));
        }
        md.push('\n');
    }
    md.push_str("## Results\n\n");
    layout(&table::results(r), &mut md);
    for (title, t) in table::details(r) {
        md.push_str(&format!("\n## {title}\n\n"));
        layout(&t, &mut md);
    }
    let cpu = words::cpu_lines(r);
    if !cpu.is_empty() {
        md.push('\n');
        for line in cpu {
            md.push_str(&format!("- {line}\n"));
        }
    }
    if let Some(t) = table::crash_checks(r) {
        md.push_str(&format!("\n## {}\n\n", table::CRASH_TITLE));
        layout(&t, &mut md);
        md.push('\n');
        for line in table::crash_promises(r) {
            md.push_str(&format!("- {line}\n"));
        }
    }
    if r.variants.iter().any(|v| !v.notes.is_empty()) {
        md.push_str("\n## What the service said about each variant\n");
        for v in &r.variants {
            for n in &v.notes {
                // A fence longer than any run of backticks in the text keeps it verbatim.
                let fence = "`".repeat(3.max(longest_backtick_run(&n.text) + 1));
                md.push_str(&format!(
                    "\n**{}** — {}\n\n{fence}\n{}\n{fence}\n",
                    v.name,
                    n.title,
                    n.text.trim_end()
                ));
            }
        }
    }
    if let Some(p) = &r.profiles {
        md.push_str("\n## Where the service spent its CPU\n\n");
        for t in table::profile_top(p)
            .into_iter()
            .chain(table::profile_changes(p))
        {
            layout(&t, &mut md);
            md.push('\n');
        }
        md.push_str(words::PROFILE_NOTE);
        md.push_str("\n\nFlame graphs: ");
        let links: Vec<String> = p
            .files
            .iter()
            .filter(|f| f.ends_with(".svg"))
            .map(|f| format!("[{f}]({f})"))
            .collect();
        md.push_str(&links.join(" · "));
        md.push('\n');
    }
    if !r.thresholds.is_empty() {
        md.push_str("\n## Thresholds\n\n");
        for t in &r.thresholds {
            let mark = match t.outcome {
                Outcome::Passed => "**pass**",
                Outcome::Failed => "**FAIL**",
                Outcome::NotEvaluated => "not evaluated",
            };
            md.push_str(&format!("- {mark} `{}` — {}\n", t.expression, t.detail));
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
    md.push_str("\n<details><summary>Environment</summary>\n\n");
    for (label, value) in environment_rows(r) {
        md.push_str(&format!("- {label}: {value}\n"));
    }
    md.push_str("\n</details>\n");
    md
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}
