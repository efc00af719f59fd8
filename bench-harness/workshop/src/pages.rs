//! The pages and exports, rendered on the server from the stored rows: no script or style is
//! fetched at view time. A class page's one script listens for new submissions and swaps in
//! the page's new content; the projector page draws a run in progress from what it is streamed
//! (`projector.js`, compiled into the binary). Every text a student typed is escaped (the
//! projector's script sets it as text, never as markup).

use std::fmt::Write;

use crate::store::Row;
use crate::submission::{Headline, Summary, candidates};

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A class page follows new submissions: it fetches itself again and swaps in the new content
/// (no reload, so the place on the page is kept).
const CLASS_PAGE_JS: &str = "new EventSource(location.pathname.split('/').slice(0,3).join('/')+'/events').onmessage=async()=>{\
const t=await (await fetch(location.href)).text();\
document.querySelector('main').innerHTML=new DOMParser().parseFromString(t,'text/html').querySelector('main').innerHTML;};";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;font-size:18px}}\
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ddd;padding:4px 10px;text-align:right}}\
td:first-child,th:first-child{{text-align:left}}tr.invalid td{{color:#999}}.flag{{color:#c0392b}}\
.legend{{background:#f8f9fa;padding:.5em}}</style></head><body><main>{body}</main>\
<script>{CLASS_PAGE_JS}</script></body></html>\n",
        esc(title),
    )
}

fn median(xs: &mut [f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

fn ratio(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.2}×")).unwrap_or_else(|| "—".into())
}

/// The overview: every lab with its count of submissions.
pub fn overview(code: &str, rows: &[Row]) -> String {
    let mut labs: Vec<(&str, usize)> = Vec::new();
    for r in rows {
        match labs.iter_mut().find(|(l, _)| *l == r.summary.lab) {
            Some((_, n)) => *n += 1,
            None => labs.push((&r.summary.lab, 1)),
        }
    }
    let mut body = format!(
        "<h1>Workshop {}</h1><p>Students join with <code>just lab NAME --join URL-of-this-page</code>.</p>",
        esc(code)
    );
    if labs.is_empty() {
        body.push_str("<p>No submissions yet.</p>");
    } else {
        body.push_str("<ul>");
        for (lab, n) in labs {
            let _ = write!(
                body,
                "<li><a href=\"/w/{c}/lab/{l}\">{l}</a>: {n} submission(s)</li>",
                c = esc(code),
                l = esc(lab)
            );
        }
        body.push_str("</ul>");
    }
    let _ = write!(
        body,
        "<p><a href=\"/w/{c}/projector\">projector view</a> (a run in progress, live) · <a href=\"/w/{c}/export.csv\">CSV</a> · <a href=\"/w/{c}/summary.md\">Markdown summary</a></p>",
        c = esc(code)
    );
    page(&format!("Workshop {code}"), &body)
}

/// One lab's class page: predictions against results, the class's median and spread, each
/// submission with its interval, invalid runs flagged with their reason, machines grouped.
pub fn lab_page(code: &str, lab: &str, open: bool, rows: &[Row], variant: Option<&str>) -> String {
    // The comparison shown: `?variant=NAME` against the first variant, else the last one's.
    let reports: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::from_str(&r.report).unwrap_or_default())
        .collect();
    let choices = reports.first().map(candidates).unwrap_or_default();
    let variant = variant.filter(|v| choices.iter().any(|c| c == v));
    let rows: Vec<Row> = rows
        .iter()
        .zip(&reports)
        .map(|(r, report)| {
            let h = Headline::of(report, variant);
            Row {
                summary: Summary {
                    metric: h.metric,
                    ratio: h.ratio,
                    ratio_low: h.low,
                    ratio_high: h.high,
                    verdict: h.verdict,
                    ..r.summary.clone()
                },
                ..r.clone()
            }
        })
        .collect();
    let rows = &rows[..];
    let first = reports
        .first()
        .and_then(|r| r["variants"][0]["name"].as_str())
        .unwrap_or("the first variant")
        .to_string();
    let shown = variant
        .map(str::to_string)
        .or_else(|| choices.last().cloned())
        .unwrap_or_default();
    let valid: Vec<&Row> = rows
        .iter()
        .filter(|r| r.summary.status == "complete")
        .collect();
    let ratios: Vec<f64> = valid.iter().filter_map(|r| r.summary.ratio).collect();
    let mut predictions: Vec<f64> = rows.iter().filter_map(|r| r.summary.prediction).collect();
    let metric = valid
        .iter()
        .find_map(|r| r.summary.metric.clone())
        .unwrap_or_else(|| "the headline metric".into());
    let (lo, hi) = (
        ratios.iter().copied().fold(f64::INFINITY, f64::min),
        ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let mut body = format!(
        "<h1>{} — class results</h1><p>Workshop {} · this lab is {} · {} submission(s), {} valid. \
         Each result is <b>{}</b> against <b>{}</b>, measured on the student's own machine ({}), \
         with its interval.</p>",
        esc(lab),
        esc(code),
        if open { "open" } else { "closed" },
        rows.len(),
        valid.len(),
        esc(&shown),
        esc(&first),
        esc(&metric)
    );
    if choices.len() > 1 {
        body.push_str("<p id=\"variants\">compare instead: ");
        let links: Vec<String> = choices
            .iter()
            .filter(|c| **c != shown)
            .map(|c| {
                format!(
                    "<a href=\"/w/{}/lab/{}?variant={}\">{}</a>",
                    esc(code),
                    esc(lab),
                    esc(c),
                    esc(c)
                )
            })
            .collect();
        body.push_str(&links.join(" · "));
        body.push_str("</p>");
    }
    let _ = write!(
        body,
        "<p class=\"legend\" id=\"summary\">class median result {} (spread {} – {}) · median prediction {}</p>",
        ratio(median(&mut ratios.clone())),
        if ratios.is_empty() {
            "—".into()
        } else {
            format!("{lo:.2}×")
        },
        if ratios.is_empty() {
            "—".into()
        } else {
            format!("{hi:.2}×")
        },
        ratio(median(&mut predictions))
    );
    body.push_str(&chart(rows));
    body.push_str(
        "<table id=\"submissions\"><tr><th>student</th><th>prediction</th><th>result</th><th>interval</th><th>verdict</th><th>machine</th><th>status</th></tr>",
    );
    let mut by_machine: Vec<&Row> = rows.iter().collect();
    by_machine.sort_by(|a, b| {
        a.summary
            .machine
            .cmp(&b.summary.machine)
            .then(a.id.cmp(&b.id))
    });
    for r in by_machine {
        let interval = match (r.summary.ratio_low, r.summary.ratio_high) {
            (Some(l), Some(h)) => format!("[{l:.2}, {h:.2}]"),
            _ => "—".into(),
        };
        let status = match (&r.summary.status[..], &r.summary.invalid_reason) {
            ("complete", _) => "valid".to_string(),
            (s, Some(why)) => format!("<span class=\"flag\">{}: {}</span>", esc(s), esc(why)),
            (s, None) => format!("<span class=\"flag\">{}</span>", esc(s)),
        };
        let _ = write!(
            body,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if r.summary.status == "complete" {
                "valid"
            } else {
                "invalid"
            },
            esc(&r.summary.student),
            esc(&r.summary.prediction_text),
            ratio(r.summary.ratio),
            interval,
            esc(r.summary.verdict.as_deref().unwrap_or("—")),
            esc(&r.summary.machine),
            status
        );
    }
    body.push_str("</table>");
    let _ = write!(
        body,
        "<p><a href=\"/w/{c}\">all labs</a> · <a href=\"/w/{c}/projector\">projector view</a></p>",
        c = esc(code)
    );
    page(&format!("{lab} — workshop {code}"), &body)
}

/// Predictions (x) against measured ratios (y), each with its interval; the diagonal is "as
/// predicted". Log scales: ratios.
fn chart(rows: &[Row]) -> String {
    let points: Vec<(&Row, f64, f64)> = rows
        .iter()
        .filter(|r| r.summary.status == "complete")
        .filter_map(|r| Some((r, r.summary.prediction?, r.summary.ratio?)))
        .collect();
    let (w, h, m) = (720.0, 420.0, 60.0);
    if points.is_empty() {
        return "<p>The chart appears once a valid submission has a numeric prediction (e.g. 2x).</p>"
            .into();
    }
    let mut values: Vec<f64> = Vec::new();
    for (r, p, x) in &points {
        values.extend([*p, *x]);
        values.extend(r.summary.ratio_low);
        values.extend(r.summary.ratio_high);
    }
    let lo = values
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .min(0.5)
        * 0.8;
    let hi = values
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
        .max(2.0)
        * 1.25;
    let (llo, lhi) = (lo.ln(), hi.ln());
    let sx = |v: f64| m + (v.ln() - llo) / (lhi - llo) * (w - 2.0 * m);
    let sy = |v: f64| h - m - (v.ln() - llo) / (lhi - llo) * (h - 2.0 * m);
    let mut svg = format!(
        "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-size=\"14\">\
<rect x=\"{m}\" y=\"{m}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#ccc\"/>\
<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\" stroke-dasharray=\"6 4\"/>\
<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">prediction (×, log)</text>\
<text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" text-anchor=\"middle\">measured (×, log)</text>",
        w - 2.0 * m,
        h - 2.0 * m,
        sx(lo),
        sy(lo),
        sx(hi),
        sy(hi),
        w / 2.0,
        h - 15.0,
        h / 2.0,
        h / 2.0
    );
    for tick in [
        0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
    ] {
        if tick < lo || tick > hi {
            continue;
        }
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{tick}×</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{tick}×</text>",
            sx(tick),
            h - m + 20.0,
            m - 8.0,
            sy(tick) + 5.0
        );
    }
    for (r, p, x) in &points {
        if let (Some(l), Some(u)) = (r.summary.ratio_low, r.summary.ratio_high) {
            let _ = write!(
                svg,
                "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#1f77b4\" stroke-width=\"3\" opacity=\"0.5\"/>",
                sx(*p),
                sy(l),
                sy(u)
            );
        }
        let _ = write!(
            svg,
            "<circle cx=\"{}\" cy=\"{}\" r=\"6\" fill=\"#1f77b4\"><title>{}: predicted {p}×, measured {x:.2}×</title></circle>",
            sx(*p),
            sy(*x),
            esc(&r.summary.student)
        );
    }
    svg.push_str("</svg><p class=\"legend\">Each dot is a student: their prediction across, their measured ratio up, the bar its interval. On the dashed line, the result was as predicted; above it, the optimisation did better than they thought.</p>");
    svg
}

/// Every submission as CSV (RFC 4180 quoting).
pub fn csv(rows: &[Row]) -> String {
    fn cell(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
    let num = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let mut out = String::from(
        "id,lab,student,prediction_text,prediction,metric,ratio,ratio_low,ratio_high,verdict,status,invalid_reason,machine,received_at\r\n",
    );
    for r in rows {
        let fields = [
            r.id.to_string(),
            cell(&r.summary.lab),
            cell(&r.summary.student),
            cell(&r.summary.prediction_text),
            num(r.summary.prediction),
            cell(r.summary.metric.as_deref().unwrap_or("")),
            num(r.summary.ratio),
            num(r.summary.ratio_low),
            num(r.summary.ratio_high),
            cell(r.summary.verdict.as_deref().unwrap_or("")),
            cell(&r.summary.status),
            cell(r.summary.invalid_reason.as_deref().unwrap_or("")),
            cell(&r.summary.machine),
            cell(&r.received_at),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One Markdown summary the teacher can keep: per lab, the class's median and spread and a
/// row per student.
pub fn summary_md(code: &str, rows: &[Row]) -> String {
    let mut md = format!("# Workshop {code}\n");
    let mut labs: Vec<&str> = rows.iter().map(|r| r.summary.lab.as_str()).collect();
    labs.dedup();
    for lab in labs {
        let these: Vec<&Row> = rows.iter().filter(|r| r.summary.lab == lab).collect();
        let mut ratios: Vec<f64> = these
            .iter()
            .filter(|r| r.summary.status == "complete")
            .filter_map(|r| r.summary.ratio)
            .collect();
        let _ = write!(
            md,
            "\n## {lab}\n\n{} submission(s); class median result {}\n\n| student | prediction | result | interval | status |\n|---|---|---:|---|---|\n",
            these.len(),
            ratio(median(&mut ratios))
        );
        for r in these {
            let interval = match (r.summary.ratio_low, r.summary.ratio_high) {
                (Some(l), Some(h)) => format!("[{l:.2}, {h:.2}]"),
                _ => "—".into(),
            };
            let md_cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                md_cell(&r.summary.student),
                md_cell(&r.summary.prediction_text),
                ratio(r.summary.ratio),
                interval,
                md_cell(&match &r.summary.invalid_reason {
                    Some(why) => format!("{}: {why}", r.summary.status),
                    None => r.summary.status.clone(),
                })
            );
        }
    }
    md
}

/// The projector view: the newest run in progress (or `?run=ID`), drawn by `projector.js` from
/// the live stream; every run on the board is listed to switch to.
pub fn projector(code: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Projector — workshop {c}</title><style>\
body{{font-family:system-ui,sans-serif;margin:1em 2em;color:#222;font-size:20px}}\
h1{{margin:.2em 0}}#now{{font-size:28px;font-weight:bold;color:#1f4e79}}\
svg{{width:100%;max-width:1200px;height:auto;display:block;font-size:16px}}\
#runs a{{margin-right:1em}}#runs a.current{{font-weight:bold}}#legend{{background:#f8f9fa;padding:.4em}}\
#log{{font-family:monospace;font-size:16px;color:#555}}#verdict{{border:3px solid #2ca02c;padding:.5em 1em;margin:1em 0}}\
.comparison{{font-size:28px}}.flag{{color:#c0392b}}</style></head><body>\
<p id=\"runs\"></p><p id=\"waiting\">Waiting for a run: start one with <code>just lab NAME --join URL-of-the-class-page</code>.</p>\
<section id=\"run\" hidden><h1 id=\"who\"></h1><p id=\"now\"></p><section id=\"verdict\" hidden></section>\
<h2>Throughput</h2><svg id=\"throughput\" viewBox=\"0 0 1000 280\" xmlns=\"http://www.w3.org/2000/svg\"></svg>\
<h2>Latency</h2><svg id=\"latency\" viewBox=\"0 0 1000 280\" xmlns=\"http://www.w3.org/2000/svg\"></svg>\
<p id=\"legend\"></p><ul id=\"log\"></ul></section>\
<p><a href=\"/w/{c}\">class results</a></p><script>{js}</script></body></html>\n",
        c = esc(code),
        js = include_str!("projector.js"),
    )
}
