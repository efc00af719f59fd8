//! The `perflab` binary as a user runs it: reports that validate against their schema,
//! threshold exit codes, and Ctrl-C.

#[path = "../../load/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::TestServer;

fn perflab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_perflab"))
}

fn validate(report: &Path) -> serde_json::Value {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../report/schema/report.v2.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "report does not validate: {errors:#?}");
    doc
}

#[test]
fn an_ab_run_writes_reports_that_validate() {
    let server = TestServer::start(Duration::from_micros(300));
    let out = tempfile::tempdir().unwrap();
    let status = perflab()
        .args([
            "run",
            &server.url("/a"),
            &server.url("/b"),
            "-c",
            "2",
            "-d",
            "1s",
            "--rounds",
            "2",
            "--warmup",
            "0s",
            "-q",
        ])
        .arg("--out")
        .arg(out.path())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let doc = validate(&out.path().join("report.json"));
    assert_eq!(doc["status"], "complete");
    assert_eq!(doc["variants"].as_array().unwrap().len(), 2);
    assert_eq!(doc["round_results"].as_array().unwrap().len(), 4);
    assert_eq!(doc["rounds"]["blocks"], 2);
    assert_eq!(doc["rounds"]["stop_reason"], "fixed-rounds");
    assert!(
        doc["comparisons"][0]["verdict"]
            .as_str()
            .unwrap()
            .starts_with("B")
    );
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(
        html.contains("<svg") && !html.contains("<script"),
        "self-contained HTML with charts"
    );
    assert!(
        std::fs::read_to_string(out.path().join("report.md"))
            .unwrap()
            .contains("| variant |")
    );
}

#[test]
fn a_failed_threshold_has_its_own_exit_code() {
    let server = TestServer::start(Duration::from_millis(2));
    let out = tempfile::tempdir().unwrap();
    let run = |threshold: &str| {
        perflab()
            .args([
                "run",
                &server.url("/"),
                "-c",
                "1",
                "-d",
                "1s",
                "-q",
                "--threshold",
                threshold,
            ])
            .arg("--out")
            .arg(out.path())
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(run("p50<100us"), Some(3), "a 2 ms server breaks p50<100us");
    assert_eq!(run("p50<1s"), Some(0));
    let doc = validate(&out.path().join("report.json"));
    assert_eq!(doc["thresholds"][0]["passed"], true);
    // A malformed threshold is a usage error, not a failed threshold.
    assert_eq!(run("p98<1s"), Some(1));
}

#[test]
fn ctrl_c_writes_a_partial_report() {
    let server = TestServer::start(Duration::from_millis(1));
    let out = tempfile::tempdir().unwrap();
    let mut child = perflab()
        .args(["run", &server.url("/"), "-c", "2", "-d", "60s", "-q"])
        .arg("--out")
        .arg(out.path())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "perflab did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    let doc = validate(&out.path().join("report.json"));
    assert_eq!(doc["status"], "incomplete");
    assert!(doc["variants"][0]["summary"]["requests"].as_u64().unwrap() > 0);
}

#[test]
fn a_saved_baseline_is_compared_with_the_same_statistics() {
    let server = TestServer::start(Duration::from_millis(1));
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let out = dir.path().join(format!("r{}", extra.len()));
        let code = perflab()
            .args([
                "run",
                &server.url("/"),
                "-c",
                "2",
                "-d",
                "1s",
                "--rounds",
                "3",
                "-q",
            ])
            .arg("--baseline-dir")
            .arg(dir.path().join("baselines"))
            .args(extra)
            .arg("--out")
            .arg(&out)
            .status()
            .unwrap()
            .code();
        (code, out.join("report.json"))
    };
    let (code, _) = run(&["--save-baseline", "main"]);
    assert_eq!(code, Some(0));
    assert!(dir.path().join("baselines/main.json").is_file());
    // The same server again: within 10× of the baseline's p50, surely not 1000× faster.
    let (code, report) = run(&[
        "--baseline",
        "main",
        "--threshold",
        "p50 <= 10 * baseline.p50",
    ]);
    assert_eq!(code, Some(0));
    let doc = validate(&report);
    assert!(
        doc["baseline"]["lines"][0]
            .as_str()
            .unwrap()
            .contains("against the baseline")
    );
    let (code, _) = run(&[
        "--baseline",
        "main",
        "--threshold",
        "p50 <= 0.001 * baseline.p50",
        "-H",
        "x: y",
    ]);
    assert_eq!(code, Some(3));
    // A baseline that does not exist is an error that says how to make one.
    let (code, _) = run(&["--baseline", "nope"]);
    assert_eq!(code, Some(1));
}

#[test]
fn a_run_whose_target_fails_is_invalid_with_its_own_exit_code() {
    let server = TestServer::start(Duration::from_micros(200));
    server.answer_with(500);
    let out = tempfile::tempdir().unwrap();
    let status = perflab()
        .args([
            "run",
            &server.url("/a"),
            &server.url("/b"),
            "-c",
            "2",
            "-d",
            "300ms",
            "--rounds",
            "8",
            "--warmup",
            "0s",
            "-q",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(4), "invalid runs exit 4");
    let doc = validate(&out.path().join("report.json"));
    assert_eq!(doc["status"], "invalid");
    let reasons: Vec<&str> = doc["invalid_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("of requests failed")),
        "{reasons:?}"
    );
    // Every rendering says there is no verdict, and why.
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("no verdict: this run is invalid"), "{text}");
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(md.contains("Invalid run") && md.contains("of requests failed"));
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("Invalid run") && html.contains("of requests failed"));
}

#[test]
fn an_adaptive_run_stops_on_precision_or_budget_and_says_which() {
    let server = TestServer::start(Duration::from_micros(500));
    let out = tempfile::tempdir().unwrap();
    let status = perflab()
        .args([
            "run",
            &server.url("/a"),
            &server.url("/b"),
            "-c",
            "2",
            "-d",
            "200ms",
            "--settle",
            "50ms",
            "--max-time",
            "6s",
            "--precision",
            "20%",
            "--warmup",
            "0s",
            "-q",
        ])
        .arg("--out")
        .arg(out.path())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let doc = validate(&out.path().join("report.json"));
    let rounds = &doc["rounds"];
    let reason = rounds["stop_reason"].as_str().unwrap();
    assert!(
        reason == "precision-reached" || reason == "budget-exhausted",
        "{reason}"
    );
    // At least the pairs an interval needs; never past the budget.
    let blocks = rounds["blocks"].as_u64().unwrap();
    assert!(blocks >= 8, "{blocks} blocks");
    assert!(rounds["measured_seconds"].as_f64().unwrap() <= 6.5);
    let c = &doc["comparisons"][0];
    assert_eq!(c["pairs"].as_u64().unwrap(), blocks);
    for m in c["metrics"].as_array().unwrap() {
        assert_eq!(m["per_pair"].as_array().unwrap().len() as u64, blocks);
    }
    // The same server twice: never a claimed difference.
    for m in c["metrics"].as_array().unwrap() {
        let v = m["verdict"].as_str().unwrap();
        assert!(v == "equivalent" || v == "inconclusive", "{m}");
    }
}
