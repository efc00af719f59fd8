//! The HTML report as a reader sees it: rendered in headless Chromium (Debian's, driven by
//! playwright-core; `scripts/setup` installs both), with a screenshot kept beside the report.
//! `tests/browser/check-report.mjs` checks axis labels and ticks on every chart, nothing cut
//! off, legends off the data, pass and fail told apart, the environment as a table, and (the
//! run profiles the service) flame graphs that load, are wide enough to read, and a
//! differential one whose colours are explained.

mod common;

use std::process::Command;

use common::{perflab, reference_service, root};

#[test]
fn the_html_report_reads_well_in_a_browser() {
    let (svc, _data) = reference_service();
    let out = tempfile::tempdir().unwrap();
    // A request that costs the service some CPU, so the profiles have something to show.
    let url = format!("{}/probe/cpu?us=200", svc.base_url());
    let run = perflab()
        .args([
            "run", &url, &url, "-c", "2", "-d", "200ms", "--settle", "50ms",
        ])
        .args(["--rounds", "8", "--warmup", "0s", "-q", "--profile"])
        .args(["--threshold", "p99<10s", "--threshold", "p99<1us"])
        .arg("--out")
        .arg(out.path())
        .status()
        .unwrap();
    assert_eq!(run.code(), Some(3), "one threshold fails on purpose");
    let report = out.path().join("report.html");
    let shot = out.path().join("report.png");
    let checker = root().join("tests/browser/check-report.mjs");
    let result = Command::new("node")
        .arg(&checker)
        .arg(&report)
        .arg(&shot)
        .arg(out.path().join("flame-diff-B-vs-A.svg"))
        .current_dir(root().join("tests/browser"))
        .output()
        .expect("node is installed (scripts/setup installs what this test needs)");
    let said = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{said}{}\n(screenshot: {})",
        String::from_utf8_lossy(&result.stderr),
        shot.display()
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real screenshot"
    );
    // Keep the latest screenshot where a person can look at it.
    let keep = root().join("target/report-screenshot.png");
    let _ = std::fs::copy(&shot, keep);
    let _ = std::fs::copy(
        out.path().join("report-flame-diff.png"),
        root().join("target/report-flame-diff.png"),
    );
}

/// A sweep's page as a reader (or a projector) sees it: `perflab run` over three VU counts of
/// a CPU-bound endpoint, the same URL twice (an A/A pair, so every point has verdicts).
/// `tests/browser/check-sweep.mjs` checks three curves with axis labels and ticks, nothing cut
/// off, legends off the data, interval bands, and the dashed USL fit named in the legend.
#[test]
fn a_sweep_reads_well_in_a_browser() {
    let (svc, _data) = reference_service();
    let out = tempfile::tempdir().unwrap();
    let url = format!("{}/parallel/digest/1", svc.base_url());
    let run = perflab()
        .args(["run", &url, &url, "--sweep", "vus=1,2,4"])
        .args(["-d", "200ms", "--settle", "50ms", "--rounds", "4"])
        .args(["--warmup", "0s", "-q", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{said}");
    assert!(said.contains("curves:") && said.contains("USL"), "{said}");
    let doc = common::validate_sweep(&out.path().join("sweep.json"));
    assert_eq!(doc["status"], "complete");
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    for p in points {
        // Every point is a whole run with its own report.
        let report = out
            .path()
            .join(p["dir"].as_str().unwrap())
            .join("report.json");
        assert_eq!(common::validate_report(&report)["status"], "complete");
    }
    for c in doc["analysis"]["curves"].as_array().unwrap() {
        let usl = &c["usl"];
        assert!(usl["sigma"].is_number(), "a USL fit per variant: {c}");
        assert!(usl["sigma_interval"][0].as_f64() <= usl["sigma"].as_f64());
    }
    let shot = out.path().join("sweep.png");
    let result = Command::new("node")
        .arg(root().join("tests/browser/check-sweep.mjs"))
        .arg(out.path().join("sweep.html"))
        .arg(&shot)
        .current_dir(root().join("tests/browser"))
        .output()
        .expect("node is installed (scripts/setup installs what this test needs)");
    assert!(
        result.status.success(),
        "{}{}\n(screenshot: {})",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr),
        shot.display()
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    let _ = std::fs::copy(&shot, root().join("target/sweep-screenshot.png"));
}
