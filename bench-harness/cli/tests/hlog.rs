//! Interval logs (`--hlog`): HdrHistogram's own Python reader (`hdrh`, from PyPI, installed by
//! scripts/setup) reads them, and `perflab report LOG` rebuilds the same report from them.

#[path = "../../load/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::TestServer;

fn perflab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_perflab"))
}

fn report(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

/// Per tag: intervals, total count and the largest value, as HdrHistogram's Python reader sees
/// the log.
fn read_with_hdrh(log: &Path) -> Value {
    let script = r#"
import json, sys
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
reader = HistogramLogReader(sys.argv[1], HdrHistogram(1, 3600 * 10**9, 3))
tags = {}
while True:
    h = reader.get_next_interval_histogram()
    if h is None:
        break
    t = tags.setdefault(h.get_tag(), {"intervals": 0, "count": 0, "max": 0})
    t["intervals"] += 1
    t["count"] += h.get_total_count()
    t["max"] = max(t["max"], h.get_max_value())
print(json.dumps(tags))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hdrh could not read the log (scripts/setup installs it: pip install hdrhistogram): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The tests in this file each drive load on a 2-core machine; run side by side, one test's
/// closed-model load starves the other's open-model schedule and the validity guard (rightly)
/// marks that run invalid. They take turns.
static ONE_LOAD_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(args: &[&str], log: &Path, out: &Path) {
    let status = perflab()
        .args(args)
        .args(["--warmup", "0s", "-q", "--threshold", "p99<10s"])
        .arg("--hlog")
        .arg(log)
        .arg("--out")
        .arg(out)
        .status()
        .unwrap();
    let why = std::fs::read(out.join("report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .map(|r| r["status"].to_string())
        .unwrap_or_default();
    assert_eq!(status.code(), Some(0), "the run's status: {why}");
}

#[test]
fn hdrhistogram_reads_the_log_and_perflab_rebuilds_the_same_report_from_it() {
    let _turn = ONE_LOAD_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start(Duration::from_micros(300));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.hlog");
    let (first, again) = (dir.path().join("first"), dir.path().join("again"));
    run(
        &[
            "run",
            &server.url("/a"),
            &server.url("/b"),
            "-c",
            "2",
            "-d",
            "1500ms",
            "--rounds",
            "2",
        ],
        &log,
        &first,
    );
    let original = report(&first);

    // HdrHistogram's reader: one tag per variant, two rounds of 1.5 s each → 4 intervals (1 s
    // and 0.5 s), and every response the report counts.
    let tags = read_with_hdrh(&log);
    for v in original["variants"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let t = &tags[name];
        assert_eq!(t["intervals"], 4, "{name}: {tags}");
        assert_eq!(t["count"], v["summary"]["requests"], "{name}: {tags}");
        let max_ms = t["max"].as_f64().unwrap() / 1e6;
        let reported = v["summary"]["latency"]["max"].as_f64().unwrap();
        assert!(
            (max_ms - reported).abs() <= reported * 0.002,
            "{name}: max {max_ms} vs {reported}"
        );
    }

    // The rebuilt report says what the original said.
    let status = perflab()
        .arg("report")
        .arg(&log)
        .arg("--out")
        .arg(&again)
        .status();
    assert_eq!(status.unwrap().code(), Some(0));
    let rebuilt = report(&again);
    for key in [
        "name",
        "status",
        "load",
        "rounds",
        "policy",
        "correction",
        "environment",
    ] {
        assert_eq!(rebuilt[key], original[key], "{key}");
    }
    for key in [
        "variants",
        "comparisons",
        "thresholds",
        "round_results",
        "warnings",
    ] {
        assert_eq!(
            rebuilt[key], original[key],
            "{key} differ after the rebuild"
        );
    }
}

#[test]
fn an_open_model_logs_service_time_and_send_lag_beside_latency() {
    let _turn = ONE_LOAD_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let server = TestServer::start(Duration::from_micros(300));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("open.hlog");
    let (first, again) = (dir.path().join("first"), dir.path().join("again"));
    run(
        &[
            "run",
            &server.url("/"),
            "--rate",
            "200",
            "-d",
            "1s",
            "--rounds",
            "1",
        ],
        &log,
        &first,
    );
    let original = report(&first);
    let name = original["variants"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let tags = read_with_hdrh(&log);
    for tag in [
        name.clone(),
        format!("{name}.service"),
        format!("{name}.lag"),
    ] {
        assert!(tags[&tag]["count"].as_u64().unwrap() > 100, "{tag}: {tags}");
    }
    let status = perflab()
        .arg("report")
        .arg(&log)
        .arg("--out")
        .arg(&again)
        .status();
    assert_eq!(status.unwrap().code(), Some(0));
    let rebuilt = report(&again);
    assert_eq!(rebuilt["variants"], original["variants"]);
}

#[test]
fn a_file_that_is_not_a_perflab_log_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("other.hlog");
    std::fs::write(&log, "#[StartTime: 1.000 (seconds since epoch)]\n").unwrap();
    let out = perflab().arg("report").arg(&log).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not an interval log written by"),
        "{stderr}"
    );
}
