//! `--sweep` through the real CLI: a service knob swept in URL mode reaches the service at
//! every point, and a sweep that cannot run is refused before anything runs, with the reason.

mod common;
#[path = "../../bench-harness/load/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use common::{perflab, reference_service};

/// `--sweep parallel.chunks=1,2,4` against the reference service: each point's rounds ran with
/// that many chunks (the service counted them), and a knob is a setting, not a concurrency
/// the USL could read unless its values are counts from 1.
#[test]
fn a_knob_sweep_sets_the_knob_at_every_point() {
    let (svc, _data) = reference_service();
    let out = tempfile::tempdir().unwrap();
    let url = format!("{}/parallel/digest/3", svc.base_url());
    let run = perflab()
        .args(["run", &url, "--sweep", "parallel.chunks=1,2,4", "-c", "2"])
        .args(["-d", "200ms", "--settle", "50ms", "--rounds", "3"])
        .args(["--warmup", "0s", "-q", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{said}");
    let doc = common::validate_sweep(&out.path().join("sweep.json"));
    assert_eq!(doc["analysis"]["kind"], "setting");
    for (p, chunks) in doc["points"]
        .as_array()
        .unwrap()
        .iter()
        .zip([1.0, 2.0, 4.0])
    {
        let report = common::validate_report(
            &out.path()
                .join(p["dir"].as_str().unwrap())
                .join("report.json"),
        );
        let per_request = report["variants"][0]["counters_per_request"]["parallel_chunks_total"]
            .as_f64()
            .unwrap();
        assert_eq!(per_request, chunks, "point {}", p["label"]);
    }
}

/// Refusals before any load: each names the conflict.
#[test]
fn a_sweep_that_cannot_run_is_refused_with_the_reason() {
    common::assert_refused(
        &["run", "http://127.0.0.1:9/"],
        &[
            (
                vec!["--sweep", "vus=1,2", "--vus", "3"],
                "--vus conflicts with it",
            ),
            (
                vec!["--sweep", "vus=1,2", "--rate", "30"],
                "sweep rate instead",
            ),
            (vec!["--sweep", "items=1,2"], "has no parameters"),
            (
                vec!["--sweep", "vus=1,2", "--hlog", "/tmp/x.hlog"],
                "and --hlog",
            ),
            (vec!["--sweep", "vus=3"], "at least two values"),
        ],
    );
}

/// A sweep whose points cannot reach the round pairs their corrected intervals need is told so
/// before the first point runs, and its points then have levels but no verdict.
#[test]
fn a_sweep_too_short_for_its_verdicts_says_so_first() {
    let server = support::TestServer::start(Duration::from_micros(200));
    let out = tempfile::tempdir().unwrap();
    let run = perflab()
        .args(["run", &server.url("/a"), &server.url("/b")])
        .args(["--sweep", "vus=1,2", "-d", "100ms", "--settle", "0s"])
        .args(["--rounds", "4", "--warmup", "0s", "-q", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{err}");
    // Two points × two headline metrics: each interval at 98.75 %, which needs 8 pairs.
    assert!(
        err.contains("at vus = 1, 2 each comparison's interval runs at 98.75 %")
            && err.contains("at least 8 round pairs; these rounds allow at most 4"),
        "{err}"
    );
    let doc = common::validate_sweep(&out.path().join("sweep.json"));
    for p in doc["analysis"]["points"].as_array().unwrap() {
        assert!(p["verdicts"].as_array().unwrap().is_empty(), "{p}");
    }
}
