//! HdrHistogram interval logs: `--hlog FILE` writes one per run, `perflab report FILE`
//! rebuilds the run's report from it.
//!
//! The file is HdrHistogram's interval log (format 1.3, as its Java and Rust libraries write
//! it), so HdrHistogram's own tools read it: `HistogramLogProcessor`, HistogramLogAnalyzer, the
//! Python `hdrh` reader, `hdr-histogram-js`. Values are nanoseconds; the max column is in
//! milliseconds (`MaxValueDivisor` 1e6); timestamps are seconds since the run began
//! (`StartTime` = `BaseTime`).
//!
//! - one interval line per second of each measured round, tagged with the variant's name
//!   (corrected latency), and in open models also `<variant>.service` (service time) and
//!   `<variant>.lag` (how late sends started);
//! - comments that those tools skip carry what a histogram cannot: `#[perflab-run {…}]` (what
//!   ran: variants, load model, policy, thresholds, machine) and, before each round's
//!   intervals, `#[perflab-round {…}]` (its counts, errors, checks, server counters, and
//!   per-request-name histograms).
//!
//! Warm-up and settle periods are not in the log (they are not measured).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use perflab_analysis::{Hist, NameMeasurement, Policy, RoundMeasurement, new_hist};
use perflab_load::intervals::{self, Interval, Series};
use perflab_report::Meta;
use serde::{Deserialize, Serialize};

/// The version of perflab's comments inside the log.
pub const FORMAT: &str = "perflab.hlog/v1";
const RUN: &str = "[perflab-run ";
const ROUND: &str = "[perflab-round ";

#[derive(Debug, thiserror::Error)]
pub enum HlogError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path} has no `#[perflab-run …]` line: it is not an interval log written by `perflab … --hlog`"
    )]
    NoRun { path: String },
    #[error("{path}, line {line}: {what}")]
    Bad {
        path: String,
        line: usize,
        what: String,
    },
}

/// What ran, as the log's first perflab comment says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunHeader {
    pub format: String,
    pub variants: Vec<String>,
    pub open_model: bool,
    pub policy: Policy,
    /// Every threshold the run judged (the lab's and the command line's).
    pub thresholds: Vec<String>,
    pub not_ready: Vec<String>,
    pub meta: Meta,
    /// One shard of a run spread over several load generators (`--shard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardNote>,
}

/// Which shard wrote a log, and how it kept the common timetable: what `perflab merge`
/// checks before it adds shards together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardNote {
    pub index: usize,
    pub count: usize,
    pub weights: Vec<u32>,
    /// `--start-at`, RFC 3339.
    pub start_at: String,
    /// The plan every shard must share ([`crate::experiment::Plan::fingerprint`]).
    pub plan: String,
    pub timing: crate::experiment::ShardTiming,
}

/// One round's numbers that its histograms do not hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RoundHeader {
    variant: String,
    /// 1-based, per variant.
    index: u32,
    /// Interval lines that follow, per series.
    intervals: usize,
    /// The tag of each series' lines.
    tags: BTreeMap<String, String>,
    ok: u64,
    errors: u64,
    settling: u64,
    seconds: f64,
    late_sends: u64,
    unsent: u64,
    bytes_received: u64,
    checks_passed: u64,
    checks_failed: u64,
    harness_cpu_seconds: f64,
    steal_percent: Option<f64>,
    error_kinds: BTreeMap<String, u64>,
    error_examples: BTreeMap<String, String>,
    failed_checks: BTreeMap<String, u64>,
    checks: BTreeMap<String, [u64; 2]>,
    /// Per request name: requests, errors and the latency histogram (V2 deflate, base64).
    by_name: BTreeMap<String, (u64, u64, String)>,
    per_second: Vec<[u64; 2]>,
    counters: BTreeMap<String, f64>,
}

fn series_key(s: Series) -> &'static str {
    match s {
        Series::Latency => "latency",
        Series::Service => "service",
        Series::Lag => "lag",
    }
}

/// A tag HdrHistogram accepts (no comma, space or line break), unique among the variants.
fn tags(variants: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let mut t: String = v
            .chars()
            .map(|c| {
                if matches!(c, ',' | ' ' | '\r' | '\n') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        if t.is_empty() || out.contains(&t) {
            t = format!("{t}-{}", i + 1);
        }
        out.push(t);
    }
    out
}

/// Writes the run's interval log to `path`.
pub fn write(
    path: &Path,
    header: &RunHeader,
    rounds: &[RoundMeasurement],
    per_round: &[Vec<Interval>],
    began: (Instant, SystemTime),
) -> Result<(), HlogError> {
    let io = |source| HlogError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut text = Vec::new();
    render(&mut text, header, rounds, per_round, began).map_err(io)?;
    std::fs::write(path, text).map_err(io)
}

fn render(
    out: &mut Vec<u8>,
    header: &RunHeader,
    rounds: &[RoundMeasurement],
    per_round: &[Vec<Interval>],
    began: (Instant, SystemTime),
) -> std::io::Result<()> {
    let mut serializer = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("[Histogram log format version 1.3]")
        .add_comment(&format!(
            "[Logged with perflab {}: per-second latency in nanoseconds]",
            env!("CARGO_PKG_VERSION")
        ))
        .with_start_time(began.1)
        .with_base_time(began.1)
        .with_max_value_divisor(1e6)
        .begin_log_with(out, &mut serializer)?;
    log.write_comment(&format!("{RUN}{}]", one_line(header)))?;
    let tags = tags(&header.variants);
    let mut index_of_variant = vec![0u32; header.variants.len()];
    for (r, intervals) in rounds.iter().zip(per_round) {
        index_of_variant[r.variant] += 1;
        let series: Vec<Series> = intervals
            .first()
            .map(|i| i.series.iter().map(|(s, _)| *s).collect())
            .unwrap_or_default();
        let tag_of = |s: Series| format!("{}{}", tags[r.variant], s.tag_suffix());
        let round = RoundHeader {
            variant: header.variants[r.variant].clone(),
            index: index_of_variant[r.variant],
            intervals: intervals.len(),
            tags: series
                .iter()
                .map(|&s| (series_key(s).to_string(), tag_of(s)))
                .collect(),
            ok: r.ok,
            errors: r.errors,
            settling: r.settling,
            seconds: r.seconds,
            late_sends: r.late_sends,
            unsent: r.unsent,
            bytes_received: r.bytes_received,
            checks_passed: r.checks_passed,
            checks_failed: r.checks_failed,
            harness_cpu_seconds: r.harness_cpu_seconds,
            steal_percent: r.steal_percent,
            error_kinds: r.error_kinds.clone(),
            error_examples: r.error_examples.clone(),
            failed_checks: r.failed_checks.clone(),
            checks: r.checks.clone(),
            by_name: r
                .by_name
                .iter()
                .map(|(name, m)| {
                    let encoded = BASE64.encode(intervals::encode(&m.latency));
                    (name.clone(), (m.requests, m.errors, encoded))
                })
                .collect(),
            per_second: r.per_second.clone(),
            counters: r.counters.clone(),
        };
        log.write_comment(&format!("{ROUND}{}]", one_line(&round)))?;
        for interval in intervals {
            let start = interval.start.saturating_duration_since(began.0);
            for (s, bytes) in &interval.series {
                let h = intervals::decode(bytes).map_err(std::io::Error::other)?;
                let tag = tag_of(*s);
                log.write_histogram(&h, start, interval.length, Tag::new(&tag))
                    .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
            }
        }
    }
    Ok(())
}

/// JSON on one line (it escapes line breaks inside strings), for a comment.
fn one_line<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

/// A run read back from its interval log.
pub struct Rebuilt {
    pub header: RunHeader,
    pub rounds: Vec<RoundMeasurement>,
    /// Interval lines read, all series.
    pub intervals: usize,
}

/// Reads a log written by [`write`]: the run's header, and each round with its histograms
/// summed from its intervals.
pub fn read(path: &Path) -> Result<Rebuilt, HlogError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| HlogError::Io {
        path: name.clone(),
        source,
    })?;
    parse(&name, &bytes)
}

fn parse(path: &str, bytes: &[u8]) -> Result<Rebuilt, HlogError> {
    let bad = |line: usize, what: String| HlogError::Bad {
        path: path.to_string(),
        line,
        what,
    };
    let text = String::from_utf8_lossy(bytes);
    let mut header: Option<RunHeader> = None;
    let mut rounds: Vec<(usize, RoundHeader)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let comment = |prefix: &str| {
            line.strip_prefix('#')?
                .strip_prefix(prefix)?
                .strip_suffix(']')
                .map(str::to_string)
        };
        if let Some(json) = comment(RUN) {
            let h: RunHeader =
                serde_json::from_str(&json).map_err(|e| bad(n + 1, e.to_string()))?;
            if h.format != FORMAT {
                return Err(bad(
                    n + 1,
                    format!("format {:?}, this perflab reads {FORMAT:?}", h.format),
                ));
            }
            header = Some(h);
        } else if let Some(json) = comment(ROUND) {
            let r = serde_json::from_str(&json).map_err(|e| bad(n + 1, e.to_string()))?;
            rounds.push((n + 1, r));
        }
    }
    let header = header.ok_or_else(|| HlogError::NoRun {
        path: path.to_string(),
    })?;

    // Interval lines come in the order they were written: each round's right after its comment.
    let mut entries = IntervalLogIterator::new(bytes).filter_map(|e| match e {
        Ok(LogEntry::Interval(i)) => Some(Ok(i)),
        Ok(_) => None,
        Err(e) => Some(Err(e)),
    });
    let mut out = Vec::with_capacity(rounds.len());
    let mut read_intervals = 0;
    for (line, r) in rounds {
        let variant = header
            .variants
            .iter()
            .position(|v| *v == r.variant)
            .ok_or_else(|| bad(line, format!("round of unknown variant {:?}", r.variant)))?;
        let mut sums: BTreeMap<&str, Hist> = BTreeMap::new();
        for _ in 0..r.intervals * r.tags.len() {
            let entry = entries
                .next()
                .ok_or_else(|| bad(line, "the log ends before this round's intervals do".into()))?
                .map_err(|e| bad(line, format!("an interval line does not parse: {e:?}")))?;
            let tag = entry.tag().map(|t| t.as_str()).unwrap_or("");
            let (series, _) = r.tags.iter().find(|(_, t)| *t == tag).ok_or_else(|| {
                bad(
                    line,
                    format!(
                        "an interval tagged {tag:?} inside a round of {:?}",
                        r.variant
                    ),
                )
            })?;
            let h = BASE64
                .decode(entry.encoded_histogram())
                .map_err(|e| bad(line, format!("an interval's histogram is not base64: {e}")))
                .and_then(|b| intervals::decode(&b).map_err(|e| bad(line, e.to_string())))?;
            let sum = sums.entry(series.as_str()).or_insert_with(new_hist);
            sum.add(&h)
                .map_err(|e| bad(line, format!("an interval's histogram does not add: {e:?}")))?;
            read_intervals += 1;
        }
        let latency = sums.remove("latency").unwrap_or_else(new_hist);
        let by_name = r
            .by_name
            .into_iter()
            .map(|(name, (requests, errors, encoded))| {
                let latency = BASE64
                    .decode(&encoded)
                    .map_err(|e| e.to_string())
                    .and_then(|b| intervals::decode(&b).map_err(|e| e.to_string()))
                    .map_err(|e| bad(line, format!("request name {name:?}: {e}")))?;
                Ok((
                    name,
                    NameMeasurement {
                        latency,
                        requests,
                        errors,
                    },
                ))
            })
            .collect::<Result<_, HlogError>>()?;
        out.push(RoundMeasurement {
            variant,
            service: sums.remove("service").unwrap_or_else(|| latency.clone()),
            lag: header
                .open_model
                .then(|| sums.remove("lag").unwrap_or_else(new_hist)),
            latency,
            ok: r.ok,
            errors: r.errors,
            settling: r.settling,
            seconds: r.seconds,
            late_sends: r.late_sends,
            unsent: r.unsent,
            bytes_received: r.bytes_received,
            checks_passed: r.checks_passed,
            checks_failed: r.checks_failed,
            harness_cpu_seconds: r.harness_cpu_seconds,
            steal_percent: r.steal_percent,
            error_kinds: r.error_kinds,
            error_examples: r.error_examples,
            failed_checks: r.failed_checks,
            checks: r.checks,
            by_name,
            per_second: r.per_second,
            counters: r.counters,
        });
    }
    Ok(Rebuilt {
        header,
        rounds: out,
        intervals: read_intervals,
    })
}
