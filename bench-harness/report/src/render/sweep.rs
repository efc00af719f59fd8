//! A sweep's summary in the terminal, in Markdown and as one self-contained HTML page with its
//! curves: throughput against the axis (with the USL fitted over it), p99 against the axis,
//! and p99 against throughput (the hockey stick). Bands are the pointwise intervals.

use perflab_analysis::sweep::{AxisKind, Level, SweepAnalysis, VariantAtPoint};

use super::html::{Axes, Series, chart, colour, esc};
use crate::sweep::{
    SweepReport, axis_label, capacity_lines, levels, model_lines, probes, verdict_lines,
};
use crate::{Status, words};

fn status_line(r: &SweepReport) -> String {
    let points = r.points.len();
    let invalid: Vec<&str> = r
        .points
        .iter()
        .filter(|p| p.status == Status::Invalid)
        .map(|p| p.label.as_str())
        .collect();
    match r.status {
        Status::Complete if r.capacity.is_some() && !invalid.is_empty() => format!(
            "{points} probes; at {} the validity guard rejected the run (the target could not keep the rate, or the generator could not drive it: see the probes)",
            invalid.join(", ")
        ),
        Status::Complete => format!("{points} points, every one complete and valid"),
        Status::Invalid => format!(
            "{points} points; INVALID points have no verdict and are left out of the fits: {}",
            r.points
                .iter()
                .filter(|p| p.status == Status::Invalid)
                .map(|p| p.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Status::Incomplete => format!(
            "INCOMPLETE after {points} points: {}",
            r.incomplete_reason
                .as_deref()
                .unwrap_or("a point did not finish")
        ),
    }
}

fn intro(r: &SweepReport) -> Vec<String> {
    let what = match &r.capacity {
        Some(c) => format!("capacity search for {}", c.slo),
        None => "sweep".to_string(),
    };
    let mut lines = vec![
        format!(
            "{what} of {} over {}: {}",
            r.analysis.axis,
            r.points
                .iter()
                .map(|p| p.label.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            status_line(r)
        ),
        format!("load at each point: {}", r.load_description),
        format!(
            "verdicts: {}, over every point of the sweep together; levels ±{:.0} % pointwise (a t-interval over the point's rounds)",
            words::policy_line(&r.policy, &r.correction),
            r.analysis.confidence * 100.0
        ),
    ];
    lines.push(format!(
        "machine: {} ({} cores); load generator and service share it",
        r.environment.cpu_model, r.environment.cores
    ));
    lines
}

pub fn terminal(r: &SweepReport) -> String {
    let mut out = String::new();
    for l in intro(r) {
        out.push_str(&l);
        out.push('\n');
    }
    out.push('\n');
    // A titled list of lines, indented; nothing when there are none.
    let list = |out: &mut String, title: &str, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        out.push_str(&format!("{title}:\n"));
        for l in lines {
            out.push_str(&format!("  {l}\n"));
        }
    };
    if let Some(c) = &r.capacity {
        list(&mut out, "capacity", capacity_lines(c));
        out.push('\n');
        super::terminal::layout(&probes(c), &mut out);
        out.push('\n');
    }
    super::terminal::layout(&levels(&r.analysis), &mut out);
    out.push('\n');
    list(
        &mut out,
        "verdicts at each point",
        verdict_lines(&r.analysis, r.policy.margin),
    );
    out.push('\n');
    list(&mut out, "curves", model_lines(&r.analysis));
    out
}

pub fn markdown(r: &SweepReport) -> String {
    let mut md = format!("# perflab sweep: {}\n\n", r.name);
    if let Some(lab) = &r.lab {
        md.push_str(&format!("{}\n\n", lab.summary));
    }
    for l in intro(r) {
        md.push_str(&format!("- {l}\n"));
    }
    if let Some(c) = &r.capacity {
        md.push_str("\n## Capacity\n\n");
        for l in capacity_lines(c) {
            md.push_str(&format!("- {l}\n"));
        }
        md.push_str("\n### Probes, in the order measured\n\n");
        super::markdown::layout(&probes(c), &mut md);
    }
    md.push_str("\n## Levels\n\n");
    super::markdown::layout(&levels(&r.analysis), &mut md);
    let verdicts = verdict_lines(&r.analysis, r.policy.margin);
    if !verdicts.is_empty() {
        md.push_str("\n## Verdicts at each point\n\n");
        for l in verdicts {
            md.push_str(&format!("- {l}\n"));
        }
    }
    md.push_str("\n## Curves\n\n");
    for l in model_lines(&r.analysis) {
        md.push_str(&format!("- {l}\n"));
    }
    md.push_str("\n## Each point's report\n\n");
    for p in &r.points {
        md.push_str(&format!(
            "- {} = {}: [{}/report.md]({}/report.md) ({:?})\n",
            r.analysis.axis, p.label, p.dir, p.dir, p.status
        ));
    }
    md
}

/// `(x, low, high)`: one point's interval.
type Band = (f64, f64, f64);

/// `(value, level)` per valid point of one variant, and its band.
fn curve_of(
    a: &SweepAnalysis,
    variant: &str,
    pick: impl Fn(&VariantAtPoint) -> Option<Level>,
) -> (Vec<(f64, f64)>, Vec<Band>) {
    let mut points = Vec::new();
    let mut band = Vec::new();
    for p in a.points.iter().filter(|p| p.is_valid()) {
        let Some(level) = p.variant(variant).and_then(&pick) else {
            continue;
        };
        points.push((p.value, level.estimate));
        if let Some(iv) = level.interval {
            band.push((p.value, iv.low, iv.high));
        }
    }
    (points, band)
}

pub fn html(r: &SweepReport) -> String {
    let a = &r.analysis;
    let names = a.variant_names();
    let x_label = axis_label(a);
    // Geometric sweeps (1, 2, 4 … 256) read best on a log axis; ticks at the swept values.
    let values: Vec<f64> = a.points.iter().map(|p| p.value).collect();
    let log_x = values.iter().all(|v| *v > 0.0)
        && values.len() >= 3
        && values.last().unwrap_or(&1.0) / values.first().unwrap_or(&1.0) >= 8.0;
    let ticks: Vec<(f64, String)> = a
        .points
        .iter()
        .map(|p| (p.value, p.label.clone()))
        .collect();
    let axes = |y_label: &'static str, log_y: bool| Axes {
        x_label: &x_label,
        y_label,
        x_ticks: ticks.clone(),
        log_x,
        log_y,
        lines: true,
    };

    let mut throughput: Vec<Series<'_>> = Vec::new();
    let mut p99: Vec<Series<'_>> = Vec::new();
    let mut hockey: Vec<Series<'_>> = Vec::new();
    let fitted_names: Vec<String> = names.iter().map(|n| format!("{n} (USL fit)")).collect();
    for (i, name) in names.iter().enumerate() {
        let (points, band) = curve_of(a, name, |v| v.throughput);
        throughput.push(Series {
            band,
            ..Series::new(name, colour(i), points)
        });
        if let Some(u) = a
            .curves
            .iter()
            .find(|c| &c.variant == name)
            .and_then(|c| c.usl.as_ref())
        {
            throughput.push(Series {
                dashed: true,
                ..Series::new(&fitted_names[i], colour(i), u.fitted.clone())
            });
        }
        let (points, band) = curve_of(a, name, |v| v.p99);
        p99.push(Series {
            band,
            ..Series::new(name, colour(i), points)
        });
        // In the axis's order: past a throughput peak the line folds back, as a hockey stick
        // of a retrograde system does.
        let stick: Vec<(f64, f64)> = a
            .points
            .iter()
            .filter(|p| p.is_valid())
            .filter_map(|p| {
                let v = p.variant(name)?;
                Some((v.throughput?.estimate, v.p99?.estimate))
            })
            .collect();
        hockey.push(Series::new(name, colour(i), stick));
    }

    // A capacity search draws its objective across the p99 chart.
    let objective = r.capacity.as_ref().map(|c| format!("objective: {}", c.slo));
    if let (Some(c), Some(label), Some(first), Some(last)) =
        (&r.capacity, &objective, values.first(), values.last())
    {
        p99.push(Series {
            dashed: true,
            ..Series::new(
                label,
                "#c0392b",
                vec![(*first, c.slo.limit_ms), (*last, c.slo.limit_ms)],
            )
        });
    }
    let mut body = format!("<h1>perflab sweep: {}</h1>", esc(&r.name));
    if let Some(lab) = &r.lab {
        body.push_str(&format!("<p>{}</p>", esc(&lab.summary)));
    }
    body.push_str("<ul>");
    for l in intro(r) {
        body.push_str(&format!("<li>{}</li>", esc(&l)));
    }
    body.push_str("</ul>");
    if let Some(c) = &r.capacity {
        body.push_str("<h2>Capacity</h2><ul class=\"legend\">");
        for l in capacity_lines(c) {
            body.push_str(&format!("<li>{}</li>", esc(&l)));
        }
        body.push_str("</ul>");
    }
    body.push_str("<h2>Curves</h2><ul class=\"legend\">");
    for l in model_lines(a) {
        body.push_str(&format!("<li>{}</li>", esc(&l)));
    }
    body.push_str(
        "</ul><p class=\"legend\">Lines join each point's estimate (the geometric mean of its rounds); the shaded band is its pointwise interval; a dashed line is the Universal Scalability Law fitted to every round.</p>",
    );
    let throughput_title = match a.kind {
        AxisKind::ArrivalRate => "Throughput against the arrival rate",
        _ => "Throughput",
    };
    body.push_str(&format!("<h3>{throughput_title}</h3>"));
    body.push_str(&chart(&throughput, &axes("requests / s", false)));
    body.push_str("<h3>p99 latency</h3>");
    body.push_str(&chart(&p99, &axes("p99 (ms, log)", true)));
    body.push_str("<h3>p99 against throughput (the hockey stick)</h3>");
    body.push_str(&chart(
        &hockey,
        &Axes {
            x_label: "requests / s",
            y_label: "p99 (ms, log)",
            x_ticks: Vec::new(),
            log_x: false,
            log_y: true,
            lines: true,
        },
    ));
    if let Some(c) = &r.capacity {
        body.push_str("<h2>Probes, in the order measured</h2>");
        super::html::layout(&probes(c), &mut body);
    }
    body.push_str("<h2>Levels</h2>");
    super::html::layout(&levels(a), &mut body);
    let verdicts = verdict_lines(a, r.policy.margin);
    if !verdicts.is_empty() {
        body.push_str("<h2>Verdicts at each point</h2><ul>");
        for l in verdicts {
            body.push_str(&format!("<li>{}</li>", esc(&l)));
        }
        body.push_str("</ul>");
    }
    body.push_str("<h2>Each point's report</h2><ul>");
    for p in &r.points {
        body.push_str(&format!(
            "<li>{} = {}: <a href=\"{}/report.html\">{}/report.html</a> ({:?})</li>",
            esc(&a.axis),
            esc(&p.label),
            esc(&p.dir),
            esc(&p.dir),
            p.status
        ));
    }
    body.push_str("</ul>");
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>perflab sweep: {}</title><style>\
body{{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}}\
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ddd;padding:4px 8px;text-align:right}}\
td:first-child,th:first-child{{text-align:left}}.legend{{background:#f8f9fa;padding:.5em}}</style></head><body>{}</body></html>\n",
        esc(&r.name),
        body
    )
}
