//! One self-contained HTML file: inline CSS and SVG, no script, no network. Charts: overlaid
//! latency percentile spectra, per-round points, throughput over time.

use perflab_analysis::thresholds::Outcome;

use super::markdown::environment_rows;
use crate::table::{self, Table, trim_number};
use crate::{Report, Status, Summary, words};

const COLOURS: [&str; 6] = [
    "#d9480f", "#1c7ed6", "#2b8a3e", "#862e9c", "#e67700", "#495057",
];

pub(crate) fn escape(s: &str) -> String {
    esc(s)
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    pub points: Vec<(f64, f64)>,
    /// `(x, low, high)`: an interval band drawn under the line (sweeps' pointwise intervals).
    pub band: Vec<(f64, f64, f64)>,
    /// Drawn dashed and without points: a fitted model, not a measurement.
    pub dashed: bool,
}

impl<'a> Series<'a> {
    pub fn new(name: &'a str, colour: &'a str, points: Vec<(f64, f64)>) -> Series<'a> {
        Series {
            name,
            colour,
            points,
            band: Vec::new(),
            dashed: false,
        }
    }
}

pub(crate) struct Axes<'a> {
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x_ticks: Vec<(f64, String)>,
    pub log_x: bool,
    pub log_y: bool,
    pub lines: bool,
}

const W: f64 = 720.0;
const PLOT_H: f64 = 240.0;
const L: f64 = 70.0;
const R: f64 = 20.0;
const B: f64 = 45.0;
/// Room kept inside the plot so that points at its edges are drawn whole.
const PAD: f64 = 6.0;

/// A tick value as short as it can be: `5`, `0.5`, `2.5`, `0.001`.
fn tick_label(v: f64) -> String {
    if v == v.round() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    for decimals in 1..6 {
        let scaled = v * 10f64.powi(decimals);
        if (scaled - scaled.round()).abs() < 1e-6 * scaled.abs().max(1.0) {
            return format!("{v:.*}", decimals as usize);
        }
    }
    trim_number(v)
}

/// A round step near `raw`: 1, 2 or 5 × 10ⁿ.
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(raw)
}

/// Round tick values covering `[lo, hi]`, and the axis range they span.
fn linear_ticks(lo: f64, hi: f64) -> (Vec<f64>, f64, f64) {
    let step = nice_step(((hi - lo) / 5.0).max(1e-12));
    let (first, last) = ((lo / step).floor() * step, (hi / step).ceil() * step);
    let ticks = (0..=((last - first) / step).round() as usize)
        .map(|i| first + i as f64 * step)
        .collect();
    (ticks, first, last)
}

/// Decades (and 2, 5 × 10ⁿ when there are few) covering `[lo, hi]` on a log axis, and the
/// range (in log10) they span.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, f64, f64) {
    let (first, last) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let decades = (last - first) as i32;
    let mut ticks = Vec::new();
    for d in 0..=decades {
        let base = 10f64.powi(first as i32 + d);
        ticks.push(base);
        if decades <= 2 && d < decades {
            ticks.extend([2.0 * base, 5.0 * base]);
        }
    }
    (ticks, first, last)
}

/// Legend entries laid out in rows above the plot: (x, row) per series, and the rows used.
fn legend_layout(series: &[Series<'_>]) -> (Vec<(f64, usize)>, usize) {
    let mut x = L;
    let mut row = 0;
    let mut at = Vec::new();
    for s in series {
        let width = 24.0 + 7.0 * s.name.chars().count() as f64;
        if x + width > W - R && x > L {
            x = L;
            row += 1;
        }
        at.push((x, row));
        x += width + 12.0;
    }
    (at, if series.is_empty() { 0 } else { row + 1 })
}

pub(crate) fn chart(series: &[Series<'_>], axes: &Axes<'_>) -> String {
    let drawable = |x: f64, y: f64| {
        x.is_finite() && y.is_finite() && (!axes.log_y || y > 0.0) && (!axes.log_x || x > 0.0)
    };
    // The axes' ranges cover the points and the bands around them.
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .copied()
                .chain(s.band.iter().flat_map(|(x, lo, hi)| [(*x, *lo), (*x, *hi)]))
        })
        .filter(|(x, y)| drawable(*x, *y))
        .collect();
    if all.is_empty() {
        return "<p><em>no data</em></p>".into();
    }
    let tx = |x: f64| if axes.log_x { x.log10() } else { x };
    let (xmin, xmax) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), (x, _)| {
        (a.min(tx(*x)), b.max(tx(*x)))
    });
    let (ylo, yhi) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), (_, y)| {
        (a.min(*y), b.max(*y))
    });
    let (y_ticks, ymin, ymax) = if axes.log_y {
        log_ticks(ylo, yhi)
    } else {
        linear_ticks(
            ylo.min(0.0),
            if yhi > ylo.min(0.0) { yhi } else { ylo + 1.0 },
        )
    };
    let x_ticks: Vec<(f64, String)> = if axes.x_ticks.is_empty() {
        linear_ticks(xmin, xmax.max(xmin + 1.0))
            .0
            .into_iter()
            .filter(|x| *x >= xmin - 1e-9 && *x <= xmax + 1e-9)
            .map(|x| (x, tick_label(x)))
            .collect()
    } else {
        axes.x_ticks
            .iter()
            .map(|(x, label)| (tx(*x), label.clone()))
            .collect()
    };
    let (legend, rows) = legend_layout(series);
    let t = 12.0 + 18.0 * rows as f64;
    let h = t + PLOT_H + B;
    let xspan = (xmax - xmin).max(1e-12);
    let ty = |y: f64| if axes.log_y { y.log10() } else { y };
    // `px` takes an axis-space x (after `tx`); `at` a data point.
    let px = |x: f64| L + PAD + (x - xmin) / xspan * (W - L - R - 2.0 * PAD);
    let py = |y: f64| t + PAD + (1.0 - (ty(y) - ymin) / (ymax - ymin)) * (PLOT_H - 2.0 * PAD);
    let at = |x: f64, y: f64| format!("{:.1},{:.1}", px(tx(x)), py(y));
    let mut svg = format!(
        "<svg viewBox=\"0 0 {W} {h}\" width=\"100%\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    svg.push_str(&format!(
        "<rect x=\"{L}\" y=\"{t}\" width=\"{}\" height=\"{PLOT_H}\" fill=\"#fafafa\" stroke=\"#ccc\"/>",
        W - L - R
    ));
    for v in &y_ticks {
        let y = py(*v);
        svg.push_str(&format!(
            "<line x1=\"{L}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e6e6e6\"/>",
            W - R
        ));
        svg.push_str(&format!(
            "<text class=\"tick\" x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            L - 6.0,
            y + 4.0,
            tick_label(*v)
        ));
    }
    for (x, label) in &x_ticks {
        if *x < xmin - 1e-9 || *x > xmax + 1e-9 {
            continue;
        }
        svg.push_str(&format!(
            "<text class=\"tick\" x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            px(*x),
            t + PLOT_H + 16.0,
            esc(label)
        ));
    }
    svg.push_str(&format!(
        "<text class=\"axis\" x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
        (L + W - R) / 2.0,
        h - 8.0,
        esc(axes.x_label)
    ));
    let mid = t + PLOT_H / 2.0;
    svg.push_str(&format!("<text class=\"axis\" x=\"14\" y=\"{mid}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 {mid})\">{}</text>", esc(axes.y_label)));
    // Bands first, so every line and point is drawn over them.
    for s in series {
        let band: Vec<&(f64, f64, f64)> = s
            .band
            .iter()
            .filter(|(x, lo, hi)| drawable(*x, *lo) && drawable(*x, *hi))
            .collect();
        if band.len() >= 2 {
            let outline: Vec<String> = band
                .iter()
                .map(|(x, _, hi)| at(*x, *hi))
                .chain(band.iter().rev().map(|(x, lo, _)| at(*x, *lo)))
                .collect();
            svg.push_str(&format!(
                "<polygon fill=\"{}\" fill-opacity=\"0.15\" stroke=\"none\" points=\"{}\"/>",
                s.colour,
                outline.join(" ")
            ));
        }
    }
    for (i, s) in series.iter().enumerate() {
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(x, y)| drawable(*x, *y))
            .collect();
        if axes.lines || s.dashed {
            let d: Vec<String> = points.iter().map(|(x, y)| at(*x, *y)).collect();
            svg.push_str(&format!(
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>",
                s.colour,
                if s.dashed {
                    " stroke-dasharray=\"6 4\""
                } else {
                    ""
                },
                d.join(" ")
            ));
        }
        if !axes.lines && !s.dashed || !s.band.is_empty() {
            for (x, y) in points {
                svg.push_str(&format!("<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{}\"><title>{}: {}</title></circle>", px(tx(x)), py(y), s.colour, esc(s.name), trim_number(y)));
            }
        }
        // The legend sits above the plot, never over the data.
        let (lx, row) = legend[i];
        let ly = 4.0 + 18.0 * row as f64;
        if s.dashed {
            svg.push_str(&format!(
                "<line x1=\"{lx}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"4 2\"/>",
                lx + 10.0,
                ly + 5.0,
                ly + 5.0,
                s.colour
            ));
        } else {
            svg.push_str(&format!(
                "<rect x=\"{lx}\" y=\"{ly}\" width=\"10\" height=\"10\" fill=\"{}\"/>",
                s.colour
            ));
        }
        svg.push_str(&format!(
            "<text class=\"legend\" x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            lx + 15.0,
            ly + 9.0,
            esc(s.name)
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// About ten evenly spaced integer ticks (1, 2, 5 × 10ⁿ apart) from 1 to `n`.
fn integer_ticks(n: usize) -> Vec<(f64, String)> {
    let raw = (n as f64 / 10.0).max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(raw)
        .max(1.0) as usize;
    std::iter::once(1)
        .chain((step.max(2)..=n).step_by(step))
        .filter(|k| *k <= n)
        .map(|k| (k as f64, k.to_string()))
        .collect()
}

/// A table with a header row; numbers right-aligned by the stylesheet.
pub(crate) fn layout(t: &Table, body: &mut String) {
    body.push_str("<table><tr>");
    for h in &t.header {
        body.push_str(&format!("<th>{}</th>", esc(h)));
    }
    body.push_str("</tr>");
    for row in &t.rows {
        body.push_str("<tr>");
        for c in row {
            body.push_str(&format!("<td>{}</td>", esc(c)));
        }
        body.push_str("</tr>");
    }
    body.push_str("</table>");
}

pub(crate) fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

/// The page; `drawn` holds the flame graphs already drawn for the files beside the report
/// (`flame::files`: file name → SVG), which the page embeds rather than drawing them again.
pub fn render(r: &Report, drawn: &[(String, String)]) -> String {
    let index_of = |name: &str| r.variants.iter().position(|v| v.name == name).unwrap_or(0);
    // 1. Percentile spectra: x in "nines" (90 % → 1, 99 % → 2, ...).
    let nines = |p: f64| {
        if p >= 100.0 {
            5.5
        } else {
            -(1.0 - p / 100.0).log10()
        }
    };
    let spectra: Vec<Series> = r
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            Series::new(
                &v.name,
                colour(i),
                v.spectrum.iter().map(|[p, ms]| (nines(*p), *ms)).collect(),
            )
        })
        .collect();
    let spectrum_axes = Axes {
        x_label: "percentile",
        y_label: "latency (ms, log)",
        log_x: false,
        x_ticks: vec![
            (0.0, "0".into()),
            (1.0, "90".into()),
            (2.0, "99".into()),
            (3.0, "99.9".into()),
            (4.0, "99.99".into()),
            (5.0, "99.999".into()),
            (5.5, "max".into()),
        ],
        log_y: true,
        lines: true,
    };
    // 2. Per-round points, in the order rounds ran.
    let per_round = |f: fn(&Summary) -> f64| -> Vec<Series> {
        r.variants
            .iter()
            .enumerate()
            .map(|(i, v)| Series {
                name: &v.name,
                colour: colour(i),
                points: r
                    .round_results
                    .iter()
                    .enumerate()
                    .filter(|(_, rr)| rr.variant == v.name)
                    .map(|(k, rr)| ((k + 1) as f64, f(&rr.summary)))
                    .collect(),
                band: Vec::new(),
                dashed: false,
            })
            .collect()
    };
    let round_ticks = integer_ticks(r.round_results.len());
    let round_axes = |y: &'static str| Axes {
        x_label: "round (in the order run)",
        y_label: y,
        x_ticks: round_ticks.clone(),
        log_x: false,
        log_y: false,
        lines: false,
    };
    // 3. Throughput over time, rounds laid end to end.
    let mut offset = 0.0;
    let mut over_time: Vec<Series> = r
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| Series::new(&v.name, colour(i), Vec::new()))
        .collect();
    for rr in &r.round_results {
        let s = &mut over_time[index_of(&rr.variant)];
        s.points.push((offset, f64::NAN));
        for (sec, [completed, _]) in rr.per_second.iter().enumerate() {
            s.points
                .push((offset + sec as f64 + 0.5, *completed as f64));
        }
        offset += rr.per_second.len() as f64;
    }
    for s in &mut over_time {
        s.points.retain(|(_, y)| y.is_finite());
    }
    let time_axes = Axes {
        x_label: "seconds (measured rounds, end to end)",
        y_label: "requests / s",
        x_ticks: Vec::new(),
        log_x: false,
        log_y: false,
        lines: false,
    };

    let mut body = String::new();
    body.push_str(&format!("<h1>perflab: {}</h1>", esc(&r.name)));
    match r.status {
        Status::Incomplete => body.push_str(&format!(
            "<p class=\"warn\"><strong>Incomplete report:</strong> {}</p>",
            esc(r.incomplete_reason.as_deref().unwrap_or("interrupted"))
        )),
        Status::Invalid => body
            .push_str("<p class=\"warn\"><strong>Invalid run:</strong> no verdict (see below)</p>"),
        Status::Complete => {}
    }
    body.push_str(&format!(
        "<p>{} per round · {} · {} · started {}</p>",
        esc(&r.load_description),
        esc(&words::rounds_line(&r.rounds)),
        esc(&r.environment.cpu_model),
        esc(&r.started_at)
    ));
    if let Some(lab) = &r.lab {
        body.push_str(&format!("<h2>The lesson</h2><p>{}</p><p><strong>Hypothesis.</strong> {}</p><p><strong>Your prediction?</strong> {}</p>", esc(&lab.summary), esc(&lab.hypothesis), esc(&lab.prediction_prompt)));
    }
    let verdict = words::verdict_section(r);
    if let Some((how, lines)) = verdict.split_last() {
        body.push_str("<h2>Verdict</h2><ul>");
        for line in lines {
            body.push_str(&format!(
                "<li class=\"verdict\">{}</li>",
                esc(line.trim_start())
            ));
        }
        body.push_str(&format!("</ul><p>{}</p>", esc(how)));
    }
    if let Some(lab) = &r.lab {
        let lessons = words::lesson_lines(r);
        if !lessons.is_empty() || !lab.explanation.is_empty() {
            body.push_str("<h2>Why</h2>");
        }
        if !lessons.is_empty() {
            body.push_str("<ul>");
            for l in lessons {
                body.push_str(&format!("<li>{}</li>", esc(&l)));
            }
            body.push_str("</ul>");
        }
        if !lab.explanation.is_empty() {
            body.push_str(&format!("<p>{}</p>", esc(&lab.explanation)));
        }
    }
    body.push_str("<h2>Results</h2>");
    layout(&table::results(r), &mut body);
    body.push_str("<h2>Latency percentile spectrum</h2>");
    body.push_str(&chart(&spectra, &spectrum_axes));
    body.push_str("<h2>Throughput per round</h2>");
    body.push_str(&chart(
        &per_round(|s| s.throughput),
        &round_axes("requests / s"),
    ));
    body.push_str("<h2>p99 per round</h2>");
    body.push_str(&chart(
        &per_round(|s| s.latency.p99),
        &round_axes("p99 (ms)"),
    ));
    for c in &r.comparisons {
        // One point per pair and headline metric: how noisy the ratio is, and whether it drifts.
        let series: Vec<Series> = c
            .metrics
            .iter()
            .filter(|m| m.headline)
            .enumerate()
            .map(|(i, m)| Series {
                name: m.metric.name(),
                colour: colour(i + 2),
                points: m
                    .per_pair
                    .iter()
                    .enumerate()
                    .map(|(k, ratio)| ((k + 1) as f64, *ratio))
                    .collect(),
                band: Vec::new(),
                dashed: false,
            })
            .collect();
        body.push_str(&format!(
            "<h2>{} ÷ {}, pair by pair</h2>",
            esc(&c.candidate),
            esc(&c.baseline)
        ));
        body.push_str(&chart(
            &series,
            &Axes {
                x_label: "pair (in the order run)",
                y_label: "ratio (log)",
                x_ticks: integer_ticks(c.pairs),
                log_x: false,
                log_y: true,
                lines: false,
            },
        ));
    }
    body.push_str("<h2>Throughput over time</h2>");
    body.push_str(&chart(&over_time, &time_axes));
    for (title, t) in table::details(r) {
        body.push_str(&format!("<h2>{title}</h2>"));
        layout(&t, &mut body);
    }
    let cpu = words::cpu_lines(r);
    if !cpu.is_empty() {
        body.push_str("<ul>");
        for line in cpu {
            body.push_str(&format!("<li>{}</li>", esc(&line)));
        }
        body.push_str("</ul>");
    }
    if let Some(t) = table::crash_checks(r) {
        body.push_str(&format!("<h2>{}</h2>", esc(table::CRASH_TITLE)));
        layout(&t, &mut body);
        body.push_str("<ul>");
        for line in table::crash_promises(r) {
            body.push_str(&format!("<li>{}</li>", esc(&line)));
        }
        body.push_str("</ul>");
    }
    if r.variants.iter().any(|v| !v.notes.is_empty()) {
        body.push_str("<h2>What the service said about each variant</h2>");
        for v in &r.variants {
            for n in &v.notes {
                body.push_str(&format!(
                    "<h3>{} — {}</h3><pre>{}</pre>",
                    esc(&v.name),
                    esc(&n.title),
                    esc(&n.text)
                ));
            }
        }
    }
    if let Some(p) = &r.profiles {
        flame_graphs(p, drawn, &mut body);
    }
    if !r.thresholds.is_empty() {
        // Pass and fail as words and colour: emoji depend on the viewer's fonts.
        body.push_str("<h2>Thresholds</h2><ul>");
        for t in &r.thresholds {
            let (class, word) = match t.outcome {
                Outcome::Passed => ("pass", "pass"),
                Outcome::Failed => ("fail", "FAIL"),
                Outcome::NotEvaluated => ("skip", "not evaluated"),
            };
            body.push_str(&format!(
                "<li><span class=\"{class}\">{word}</span> <code>{}</code> — {}</li>",
                esc(&t.expression),
                esc(&t.detail)
            ));
        }
        body.push_str("</ul>");
    }
    if !r.warnings.is_empty() {
        body.push_str("<h2>Warnings</h2><ul>");
        for w in &r.warnings {
            body.push_str(&format!("<li class=\"warn\">{}</li>", esc(&w.to_string())));
        }
        body.push_str("</ul>");
    }
    body.push_str("<h2>Environment</h2><table>");
    for (label, value) in environment_rows(r) {
        body.push_str(&format!(
            "<tr><th>{}</th><td class=\"l\">{}</td></tr>",
            esc(label),
            esc(&value)
        ));
    }
    body.push_str("</table>");
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>perflab: {}</title><style>\
body{{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}}\
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ddd;padding:4px 8px;text-align:right}}\
td:first-child,th:first-child{{text-align:left}}.warn{{color:#a61e4d}}.verdict{{font-size:1.15em;font-weight:600}}\
td.l{{text-align:left}}.pass{{color:#2b8a3e;font-weight:700}}.fail{{color:#c92a2a;font-weight:700}}.skip{{color:#868e96}}img.flame{{width:100%;border:1px solid #ddd}}figure{{margin:1em 0}}.legend{{background:#f8f9fa;padding:.5em}}</style></head><body>{}</body></html>\n",
        esc(&r.name),
        body
    )
}

/// The CPU profiles: the tables, then each flame graph as an image (a data URI: the page
/// fetches nothing; the interactive SVG files sit beside the report).
fn flame_graphs(p: &crate::ProfilesReport, drawn: &[(String, String)], body: &mut String) {
    use base64::Engine as _;
    body.push_str("<h2>Where the service spent its CPU</h2>");
    if let Some(t) = table::profile_top(p) {
        layout(&t, body);
    }
    for t in table::profile_changes(p) {
        layout(&t, body);
    }
    body.push_str(&format!("<p>{}</p>", esc(words::PROFILE_NOTE)));
    let image = |title: &str, file: &str, body: &mut String| {
        let Some((_, svg)) = drawn.iter().find(|(name, _)| name == file) else {
            return;
        };
        let data = base64::engine::general_purpose::STANDARD.encode(svg);
        body.push_str(&format!(
            "<figure><figcaption>{} (<a href=\"{}\">interactive SVG</a>)</figcaption><img class=\"flame\" alt=\"{}\" src=\"data:image/svg+xml;base64,{data}\"></figure>",
            esc(title),
            esc(file),
            esc(title)
        ));
    };
    for (v, _) in &p.stacks {
        image(
            &format!("Flame graph: {v}"),
            &super::flame::svg_name(v),
            body,
        );
    }
    if let Some(((base, _), rest)) = p.stacks.split_first() {
        for (cand, _) in rest {
            body.push_str(&format!(
                "<p class=\"legend\"><strong>Differential, {b} against {c}.</strong> Drawn in {b}'s shape (width = share of {b}'s CPU). <span style=\"color:#c00\">Red</span>: a larger share in {b} than in {c}, which is what {c} removed. <span style=\"color:#00c\">Blue</span>: a smaller share in {b}, which is what {c} spends relatively more on. The deeper the colour, the larger the difference; white-ish frames did not change.</p>",
                b = esc(base),
                c = esc(cand)
            ));
            image(
                &format!("Differential flame graph: {base} vs {cand}"),
                &super::flame::diff_name(base, cand),
                body,
            );
        }
    }
}
