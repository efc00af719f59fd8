//! The tables every rendering shows, built once: the results per variant and the server counters
//! per request. Terminal, Markdown and HTML only lay them out.

use crate::Report;

pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// One row per variant: throughput, latency percentiles, service time, errors, bytes.
pub fn results(r: &Report) -> Table {
    let mut header: Vec<String> = [
        "variant", "req/s", "p50", "p90", "p99", "p99.9", "max", "errors",
    ]
    .map(String::from)
    .to_vec();
    let open = r.load.is_open();
    if open {
        // Open models time latency from the intended send; service time is what the target took.
        header.insert(7, "service p99".into());
    }
    header.push("bytes/resp".into());
    let rows = r
        .variants
        .iter()
        .map(|v| {
            let s = &v.summary;
            let mut row = vec![
                v.name.clone(),
                format!("{:.0}", s.throughput),
                fmt_ms(s.latency.p50),
                fmt_ms(s.latency.p90),
                fmt_ms(s.latency.p99),
                fmt_ms(s.latency.p999),
                fmt_ms(s.latency.max),
                format!("{:.2} %", s.error_rate * 100.0),
            ];
            if open {
                row.insert(7, fmt_ms(s.service_time.p99));
            }
            row.push(format!("{:.0}", s.bytes_per_response));
            row
        })
        .collect();
    Table { header, rows }
}

/// Per request name, when some variant's workload uses more than one name (a table of one name
/// per variant would repeat the results table).
pub fn by_name(r: &Report) -> Option<Table> {
    if !r.variants.iter().any(|v| v.by_name.len() > 1) {
        return None;
    }
    let header = ["variant", "request", "count", "errors", "p50", "p99"]
        .map(String::from)
        .to_vec();
    let rows = r
        .variants
        .iter()
        .flat_map(|v| {
            v.by_name.iter().map(move |n| {
                vec![
                    v.name.clone(),
                    if n.name.is_empty() {
                        "(unnamed)".into()
                    } else {
                        n.name.clone()
                    },
                    n.requests.to_string(),
                    n.errors.to_string(),
                    fmt_ms(n.latency.p50),
                    fmt_ms(n.latency.p99),
                ]
            })
        })
        .collect();
    Some(Table { header, rows })
}

/// Every check by name, passed and failed, per variant.
pub fn checks(r: &Report) -> Option<Table> {
    if r.variants.iter().all(|v| v.checks.is_empty()) {
        return None;
    }
    let header = ["variant", "check", "passed", "failed"]
        .map(String::from)
        .to_vec();
    let rows = r
        .variants
        .iter()
        .flat_map(|v| {
            v.checks.iter().map(move |c| {
                vec![
                    v.name.clone(),
                    c.name.clone(),
                    c.passed.to_string(),
                    c.failed.to_string(),
                ]
            })
        })
        .collect();
    Some(Table { header, rows })
}

/// Counters worth showing: those that are non-zero for some variant, per request.
pub fn counters(r: &Report) -> Option<Table> {
    let mut names: Vec<&String> = r
        .variants
        .iter()
        .flat_map(|v| v.counters_per_request.keys())
        .collect();
    names.sort();
    names.dedup();
    let rows: Vec<Vec<String>> = names
        .into_iter()
        .filter(|n| n.as_str() != "http_requests_total")
        .filter_map(|n| {
            let (label, scale) = display_name_and_scale(n);
            let values: Vec<f64> = r
                .variants
                .iter()
                .map(|v| v.counters_per_request.get(n).copied().unwrap_or(0.0) * scale)
                .collect();
            values.iter().any(|v| *v != 0.0).then(|| {
                std::iter::once(label)
                    .chain(values.into_iter().map(trim_number))
                    .collect()
            })
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let header = std::iter::once("server counters per request".to_string())
        .chain(r.variants.iter().map(|v| v.name.clone()))
        .collect();
    Some(Table { header, rows })
}

/// Nanosecond totals read better as per-request microseconds in a report.
pub fn display_name_and_scale(name: &str) -> (String, f64) {
    match name.strip_suffix("_nanoseconds_total") {
        Some(stem) => (format!("{stem}_µs"), 1e-3),
        None => (name.trim_end_matches("_total").to_string(), 1.0),
    }
}

/// Milliseconds with a unit that keeps three significant figures readable.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{:.0} µs", ms * 1000.0)
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
