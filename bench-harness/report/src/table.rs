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

/// The detail tables after the results, titled, in the order every rendering shows them
/// (only those with something to show).
pub fn details(r: &Report) -> Vec<(&'static str, Table)> {
    [
        ("By request name", by_name(r)),
        ("Checks", checks(r)),
        ("Server counters per request", counters(r)),
        ("CPU per request", cpu(r)),
    ]
    .into_iter()
    .filter_map(|(title, t)| Some((title, t?)))
    .collect()
}

/// The crash check (labs that export `crash-check`): per variant and failure, the writes
/// acknowledged before the kill and those missing after the restart.
pub const CRASH_TITLE: &str = "Crash check: acknowledged writes after kill -9";

pub fn crash_checks(r: &Report) -> Option<Table> {
    let checks = &r.lab.as_ref()?.crash_checks;
    if checks.is_empty() {
        return None;
    }
    Some(Table {
        header: [
            "variant",
            "killed",
            "acknowledged",
            "lost",
            "promised",
            "outcome",
        ]
        .map(String::from)
        .to_vec(),
        rows: checks
            .iter()
            .map(|c| {
                vec![
                    c.variant.clone(),
                    match c.failure {
                        crate::CrashFailure::ServiceKilled => "service".into(),
                        crate::CrashFailure::DatabaseKilled => "database".into(),
                    },
                    c.acknowledged.to_string(),
                    c.lost.to_string(),
                    if c.promised { "survives" } else { "no" }.into(),
                    c.outcome().into(),
                ]
            })
            .collect(),
    })
}

/// Under the crash table: what was promised and why, once per distinct statement, with the
/// variants it is about.
pub fn crash_promises(r: &Report) -> Vec<String> {
    let mut lines: Vec<(String, Vec<&str>)> = Vec::new();
    for c in r.lab.iter().flat_map(|l| &l.crash_checks) {
        let text = format!(
            "{}: {} — {}",
            c.failure,
            if c.promised {
                "promised to survive"
            } else {
                "not promised"
            },
            c.why
        );
        match lines.iter_mut().find(|(t, _)| *t == text) {
            Some((_, variants)) => variants.push(&c.variant),
            None => lines.push((text, vec![&c.variant])),
        }
    }
    lines
        .into_iter()
        .map(|(text, variants)| format!("{}, {text}", variants.join(", ")))
        .collect()
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
        // The process's CPU and switches have their own table (`cpu`).
        .filter(|n| !n.starts_with("process_"))
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

/// A frame name short enough for a table cell: long generic paths keep their informative end.
pub fn short_frame(name: &str) -> String {
    const MAX: usize = 70;
    let n = name.chars().count();
    if n <= MAX {
        name.to_string()
    } else {
        let tail: String = name.chars().skip(n - (MAX - 1)).collect();
        format!("…{tail}")
    }
}

fn pct(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// The frames each variant's service spent most of its own CPU in (self share), with their
/// total share (the frame and what it called).
pub fn profile_top(p: &crate::ProfilesReport) -> Option<Table> {
    let rows: Vec<Vec<String>> = p
        .variants
        .iter()
        .flat_map(|v| {
            let few = if v.samples < perflab_analysis::profile::FEW_SAMPLES {
                " (few samples)"
            } else {
                ""
            };
            // How much of the service's CPU the samples cover (the rest: libc and the kernel).
            let covered = v
                .expected_samples
                .filter(|e| *e >= 1.0)
                .map(|e| {
                    format!(
                        ", {:.0} % of its CPU",
                        (v.samples as f64 / e * 100.0).min(100.0)
                    )
                })
                .unwrap_or_default();
            v.top_self.iter().take(5).enumerate().map(move |(i, f)| {
                vec![
                    if i == 0 {
                        format!("{} · {} samples{covered}{few}", v.variant, v.samples)
                    } else {
                        String::new()
                    },
                    short_frame(&f.name),
                    pct(f.self_share),
                    pct(f.total_share),
                ]
            })
        })
        .collect();
    (!rows.is_empty()).then(|| Table {
        header: [
            "variant · samples",
            "frame (self: its own code; total: with what it called)",
            "self",
            "total",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    })
}

/// Per comparison: the frames whose total share moved most.
pub fn profile_changes(p: &crate::ProfilesReport) -> Vec<Table> {
    p.comparisons
        .iter()
        .filter(|c| !c.changes.is_empty())
        .map(|c| Table {
            header: vec![
                format!("moved most, {} → {}", c.baseline, c.candidate),
                c.baseline.clone(),
                c.candidate.clone(),
                "change".into(),
            ],
            rows: c
                .changes
                .iter()
                .map(|f| {
                    vec![
                        short_frame(&f.name),
                        pct(f.baseline_share),
                        pct(f.candidate_share),
                        format!("{:+.1} pp", (f.candidate_share - f.baseline_share) * 100.0),
                    ]
                })
                .collect(),
        })
        .collect()
}

/// The service's counters for its own CPU and context switches, per request.
pub struct CpuPerRequest {
    pub service_us: f64,
    pub generator_us: f64,
    pub service_cores: f64,
    pub generator_cores: f64,
    pub switches: f64,
}

/// `None` when the target publishes no process counters (a service perflab did not start).
pub fn cpu_per_request(v: &crate::VariantReport) -> Option<CpuPerRequest> {
    let c = &v.counters_per_request;
    let user = c.get("process_cpu_user_nanoseconds_total")?;
    let system = c
        .get("process_cpu_system_nanoseconds_total")
        .copied()
        .unwrap_or(0.0);
    let switches = [
        "process_voluntary_context_switches_total",
        "process_involuntary_context_switches_total",
    ]
    .iter()
    .filter_map(|k| c.get(*k))
    .sum();
    let service_us = (user + system) / 1e3;
    Some(CpuPerRequest {
        service_us,
        generator_us: v.summary.harness_cpu_us_per_request,
        service_cores: service_us * v.summary.throughput / 1e6,
        generator_cores: v.summary.harness_cpu_cores,
        switches,
    })
}

/// CPU per request on both sides of the connection, and the cores each side kept busy.
pub fn cpu(r: &Report) -> Option<Table> {
    let per: Vec<CpuPerRequest> = r
        .variants
        .iter()
        .map(cpu_per_request)
        .collect::<Option<_>>()?;
    let row = |label: &str, f: &dyn Fn(&CpuPerRequest) -> String| {
        std::iter::once(label.to_string())
            .chain(per.iter().map(f))
            .collect::<Vec<_>>()
    };
    let header = std::iter::once("CPU per request".to_string())
        .chain(r.variants.iter().map(|v| v.name.clone()))
        .collect();
    Some(Table {
        header,
        rows: vec![
            row("service CPU µs (user+sys)", &|c| trim_number(c.service_us)),
            row("load generator CPU µs", &|c| trim_number(c.generator_us)),
            row("context switches (service)", &|c| trim_number(c.switches)),
            row("cores busy: service", &|c| {
                format!("{:.2}", c.service_cores)
            }),
            row("cores busy: load generator", &|c| {
                format!("{:.2}", c.generator_cores)
            }),
        ],
    })
}
