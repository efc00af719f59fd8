//! One round, or one variant's rounds merged, as numbers: request counts, throughput, latency
//! percentiles (HdrHistogram), bytes, checks, and the load generator's own CPU.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latency in nanoseconds, 3 significant digits.
pub type Hist = Histogram<u64>;

pub fn new_hist() -> Hist {
    // Auto-resizing from 1 ns: 3 significant digits, i.e. ±0.1 % at any magnitude.
    Histogram::new(3).expect("3 significant digits is valid")
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    pub fn of(h: &Hist) -> Percentiles {
        let ms = |ns: u64| ns as f64 / 1e6;
        if h.is_empty() {
            return Percentiles {
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
                mean: 0.0,
            };
        }
        Percentiles {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1e6,
        }
    }
}

/// The percentile spectrum (HdrHistogram style) for charts: (percentile, ms) points.
pub fn spectrum(h: &Hist) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    // Evenly spaced in "number of nines": 0, 50, 75, 90, 95, 99, 99.5, 99.9 ... 99.999.
    let mut points = Vec::new();
    let mut nines = 0.0f64;
    while nines <= 5.0 {
        let q = 1.0 - 10f64.powf(-nines);
        points.push((q * 100.0, h.value_at_quantile(q) as f64 / 1e6));
        nines += 0.125;
    }
    points.push((100.0, h.max() as f64 / 1e6));
    points
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    /// Requests that completed during settle periods (not measured).
    #[serde(default)]
    pub settling: u64,
    pub error_rate: f64,
    /// Completed requests per second of round time.
    pub throughput: f64,
    pub seconds: f64,
    /// Milliseconds. Open models: from the intended send time (coordinated-omission correct).
    pub latency: Percentiles,
    /// Milliseconds, from the actual send.
    pub service_time: Percentiles,
    /// Open models: how late sends started after their intended time (ms).
    pub send_lag: Option<Percentiles>,
    pub late_sends: u64,
    pub unsent: u64,
    pub bytes_received: u64,
    pub bytes_per_response: f64,
    pub checks_passed: u64,
    pub checks_failed: u64,
    /// The harness's own CPU time per request, microseconds.
    pub harness_cpu_us_per_request: f64,
    /// The harness's CPU time as a share of one core during the round.
    pub harness_cpu_cores: f64,
    /// Errors by kind: `HTTP 503`, `timeout`, `connect` …
    pub error_kinds: BTreeMap<String, u64>,
    /// The first message of each transport error kind.
    #[serde(default)]
    pub error_examples: BTreeMap<String, String>,
    pub failed_checks: BTreeMap<String, u64>,
}

/// Builds a summary from merged histograms and counters.
pub struct SummaryParts<'a> {
    pub latency: &'a Hist,
    pub service: &'a Hist,
    pub lag: Option<&'a Hist>,
    pub ok: u64,
    pub errors: u64,
    pub settling: u64,
    pub seconds: f64,
    pub late_sends: u64,
    pub unsent: u64,
    pub bytes_received: u64,
    pub checks: (u64, u64),
    pub harness_cpu_seconds: f64,
    pub error_kinds: BTreeMap<String, u64>,
    pub error_examples: BTreeMap<String, String>,
    pub failed_checks: BTreeMap<String, u64>,
}

impl Summary {
    pub fn from_parts(p: SummaryParts<'_>) -> Summary {
        let requests = p.ok + p.errors;
        let per = |x: f64| {
            if requests > 0 {
                x / requests as f64
            } else {
                0.0
            }
        };
        Summary {
            requests,
            ok: p.ok,
            errors: p.errors,
            settling: p.settling,
            error_rate: per(p.errors as f64),
            throughput: if p.seconds > 0.0 {
                requests as f64 / p.seconds
            } else {
                0.0
            },
            seconds: p.seconds,
            latency: Percentiles::of(p.latency),
            service_time: Percentiles::of(p.service),
            send_lag: p.lag.map(Percentiles::of),
            late_sends: p.late_sends,
            unsent: p.unsent,
            bytes_received: p.bytes_received,
            bytes_per_response: per(p.bytes_received as f64),
            checks_passed: p.checks.0,
            checks_failed: p.checks.1,
            harness_cpu_us_per_request: per(p.harness_cpu_seconds * 1e6),
            harness_cpu_cores: if p.seconds > 0.0 {
                p.harness_cpu_seconds / p.seconds
            } else {
                0.0
            },
            error_kinds: p.error_kinds,
            error_examples: p.error_examples,
            failed_checks: p.failed_checks,
        }
    }
}
