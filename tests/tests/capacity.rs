//! `--slo`: a capacity search through the real CLI, against a server whose capacity is known
//! (one worker, 10 ms per request: it serves at most 1 / 10 ms ≈ 100 requests/s, and the test
//! measures the true service time on the server's side).

mod common;
#[path = "../../bench-harness/load/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use common::perflab;
use support::TestServer;

/// Under a steady open model, one worker with service time s keeps up with any rate below
/// μ = 1/s with no queue (latency ≈ s = 10 ms), and past μ the queue grows through the round:
/// p99 ≈ s + (λ/μ − 1) · (the round, with its settle). With 1 s rounds and 200 ms of settle,
/// p99 < 50 ms holds up to about 1.03 μ. So the true capacity lies in [μ, 1.1 μ], and the
/// reported interval must meet that band — and be narrow enough to say something.
#[test]
fn a_capacity_search_brackets_a_server_of_known_capacity() {
    let server = TestServer::with_workers(Duration::from_millis(10), 1);
    let out = tempfile::tempdir().unwrap();
    let run = perflab()
        .args(["run", &server.url("/"), "--slo", "p99<50ms", "--rate", "40"])
        .args(["-d", "1s", "--settle", "200ms", "--rounds", "6"])
        .args(["--probes", "8", "--warmup", "0s", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{said}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (served, service_time) = server.served();
    let mu = 1.0 / service_time.as_secs_f64();
    println!("{said}\nserved {served}, service time {service_time:?}: μ = {mu:.1} req/s");

    let doc = common::validate_sweep(&out.path().join("sweep.json"));
    assert_eq!(doc["analysis"]["kind"], "arrival-rate");
    let capacity = &doc["capacity"];
    let c = &capacity["capacities"][0];
    assert_eq!(c["outcome"], "found", "{capacity:#}");
    let (low, high) = (c["low"].as_f64().unwrap(), c["high"].as_f64().unwrap());
    let estimate = c["estimate"].as_f64().unwrap();
    assert!(
        low <= 1.1 * mu && high >= mu,
        "the interval {low}–{high} misses the true capacity [{mu:.1}, {:.1}]",
        1.1 * mu
    );
    assert!(
        low <= estimate && estimate <= high,
        "{estimate} outside {low}–{high}"
    );
    assert!(high / low <= 1.6, "too wide to say anything: {low}–{high}");
    // The first probes double from --rate; the search spent no more than its budget, and every
    // probe has its own report.
    let probes = capacity["probes"].as_array().unwrap();
    let rates: Vec<f64> = probes.iter().map(|p| p["rate"].as_f64().unwrap()).collect();
    assert_eq!(&rates[..2], &[40.0, 80.0], "{rates:?}");
    assert!(rates.len() <= 8, "{rates:?}");
    for p in doc["points"].as_array().unwrap() {
        let dir = out.path().join(p["dir"].as_str().unwrap());
        common::validate_report(&dir.join("report.json"));
    }
    // Every form says it.
    let md = std::fs::read_to_string(out.path().join("sweep.md")).unwrap();
    assert!(
        md.contains("## Capacity") && md.contains("capacity ≈"),
        "{md}"
    );
    let html = std::fs::read_to_string(out.path().join("sweep.html")).unwrap();
    assert!(
        html.contains("objective: p99 &lt; 50ms"),
        "the SLO line on the p99 chart"
    );
    assert!(said.contains("capacity ≈"), "{said}");
}

/// Refusals before any load: each names the conflict.
#[test]
fn a_capacity_search_that_cannot_run_is_refused_with_the_reason() {
    common::assert_refused(
        &["run", "http://127.0.0.1:9/"],
        &[
            (vec!["--slo", "throughput>100"], "upper limit on a latency"),
            (
                vec!["--slo", "p99<50ms", "--vus", "3"],
                "--vus makes the model closed",
            ),
            (
                vec!["--slo", "p99<50ms", "--stages", "1s:10"],
                "--stages is a ramp",
            ),
            (
                vec!["--slo", "p99<50ms", "--hlog", "/tmp/x.hlog"],
                "--hlog records one run",
            ),
            (
                vec!["--slo", "p99<50ms", "--sweep", "vus=1,2"],
                "cannot be used with",
            ),
            (vec!["--probes", "4"], "--slo"),
            (
                vec!["--slo", "p99<50ms", "--rate", "500", "--max-rate", "100"],
                "above --max-rate",
            ),
        ],
    );
}
