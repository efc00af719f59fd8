//! One run over several load generators, end to end against the reference service on
//! loopback: `perflab distribute --local 3` sends exactly the schedule (rate × duration, ±1
//! per shard), reports each shard's start skew and share, judges thresholds on the merged
//! data; an A/B run split in two gives a verdict; a shard killed mid-run makes the merged
//! report invalid with that shard named; a shard that reaches its start too late runs nothing
//! and exits 5; and what a shard needs is refused, with the reason, when it is missing.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use common::{assert_refused, perflab, reference_service, validate_report};

fn said(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Requests the report counted, all variants and rounds.
fn requests(report: &serde_json::Value) -> u64 {
    report["round_results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["summary"]["requests"].as_u64().unwrap())
        .sum()
}

fn unix_in(d: Duration) -> String {
    let t = SystemTime::now() + d;
    format!(
        "{:.3}",
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    )
}

#[test]
fn three_local_shards_send_the_schedule_once_and_merge_into_one_report() {
    let (svc, _data) = reference_service();
    let url = format!("{}/db/users/1", svc.base_url());
    let out = tempfile::tempdir().unwrap();
    let run = perflab()
        .args(["distribute", "--local", "3", "--out"])
        .arg(out.path())
        .args([
            "--", "run", &url, "--rate", "90", "-d", "1s", "--rounds", "2",
        ])
        .args(["--settle", "0s", "--warmup", "0s", "--threshold", "p99<2s"])
        .output()
        .unwrap();
    let text = said(&run);
    assert_eq!(run.status.code(), Some(0), "{text}");
    assert!(text.contains("merged 3 of 3 shard(s)"), "{text}");
    assert!(text.contains("first start"), "start skew reported: {text}");
    let merged = validate_report(&out.path().join("merged/report.json"));
    assert_eq!(merged["status"], "complete", "{merged}");
    // 90/s for 1 s, twice: 180 sends, each in exactly one shard.
    let total = requests(&merged);
    assert!((177..=183).contains(&total), "{total} requests: {text}");
    let mut per_shard = Vec::new();
    for i in 0..3 {
        let shard = validate_report(&out.path().join(format!("shard-{i}/report.json")));
        per_shard.push(requests(&shard));
    }
    assert_eq!(per_shard.iter().sum::<u64>(), total, "{per_shard:?}");
    for n in &per_shard {
        assert!((59..=61).contains(n), "each shard a third: {per_shard:?}");
    }
    // The threshold was judged on the merged data.
    let thresholds = merged["thresholds"].as_array().unwrap();
    assert_eq!(thresholds.len(), 1, "{merged}");
    assert_eq!(thresholds[0]["passed"], true, "{merged}");
}

#[test]
fn an_ab_run_split_in_two_gives_one_verdict() {
    let (svc, _data) = reference_service();
    let a = format!("{}/health/live", svc.base_url());
    let b = format!("{}/db/users/1", svc.base_url());
    let out = tempfile::tempdir().unwrap();
    let run = perflab()
        .args([
            "distribute",
            "--local",
            "2",
            "--shard-weights",
            "2,1",
            "--out",
        ])
        .arg(out.path())
        .args([
            "--", "run", &a, &b, "-c", "2", "-d", "250ms", "--rounds", "8",
        ])
        .args(["--settle", "0s", "--warmup", "0s"])
        .output()
        .unwrap();
    let text = said(&run);
    assert!(matches!(run.status.code(), Some(0) | Some(4)), "{text}");
    let merged = validate_report(&out.path().join("merged/report.json"));
    let comparisons = merged["comparisons"].as_array().unwrap();
    assert_eq!(comparisons.len(), 1, "{merged}");
    assert!(
        comparisons[0]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["headline"] == true && m["verdict"].is_string()),
        "{merged}"
    );
    // 2 VUs, weights 2:1 — shard 0 runs VU 0, shard 1 runs VU 1.
    assert!(text.contains("merged 2 of 2 shard(s)"), "{text}");
}

#[test]
fn a_shard_killed_mid_run_makes_the_merged_run_invalid_and_names_it() {
    let (svc, _data) = reference_service();
    let url = format!("{}/db/users/1", svc.base_url());
    let out = tempfile::tempdir().unwrap();
    let start = unix_in(Duration::from_secs(2));
    let shard = |i: usize| {
        perflab()
            .args(["run", &url, "--rate", "40", "-d", "1s", "--rounds", "3"])
            .args(["--settle", "0s", "--warmup", "0s", "-q"])
            .args(["--shard", &format!("{i}/2"), "--start-at", &start])
            .arg("--hlog")
            .arg(out.path().join(format!("shard-{i}.hlog")))
            .arg("--out")
            .arg(out.path().join(format!("shard-{i}")))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut zero = shard(0);
    let mut one = shard(1);
    std::thread::sleep(Duration::from_secs(3));
    one.kill().unwrap();
    one.wait().unwrap();
    assert!(zero.wait().unwrap().success());
    let merge = perflab()
        .arg("merge")
        .arg(out.path())
        .arg("--out")
        .arg(out.path().join("merged"))
        .output()
        .unwrap();
    let text = said(&merge);
    assert_eq!(merge.status.code(), Some(4), "invalid: {text}");
    let merged = validate_report(&out.path().join("merged/report.json"));
    assert_eq!(merged["status"], "invalid");
    let reasons = merged["invalid_reasons"].to_string();
    assert!(reasons.contains("shard 1/2"), "{reasons}");
}

#[test]
fn a_shard_that_starts_too_late_runs_nothing_and_says_so() {
    let (svc, _data) = reference_service();
    let url = format!("{}/health/live", svc.base_url());
    let out = tempfile::tempdir().unwrap();
    let past = format!(
        "{:.3}",
        (SystemTime::now() - Duration::from_secs(10))
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    );
    let run = perflab()
        .args(["run", &url, "-c", "1", "-d", "1s", "--rounds", "1"])
        .args(["--shard", "1/3", "--start-at", &past, "--hlog"])
        .arg(out.path().join("late.hlog"))
        .output()
        .unwrap();
    let text = said(&run);
    assert_eq!(run.status.code(), Some(5), "{text}");
    assert!(text.contains("runs nothing"), "{text}");
    assert!(!Path::new(&out.path().join("late.hlog")).exists());
}

#[test]
fn what_a_shard_needs_is_refused_with_the_reason_when_missing() {
    let base = ["run", "http://127.0.0.1:9/", "-d", "1s"];
    let soon = unix_in(Duration::from_secs(60));
    assert_refused(
        &base,
        &[
            (
                vec!["--shard", "1/2", "--rounds", "2", "--hlog", "x.hlog"],
                "--start-at",
            ),
            (
                vec!["--shard", "1/2", "--start-at", &soon, "--hlog", "x.hlog"],
                "--rounds",
            ),
            (
                vec!["--shard", "1/2", "--start-at", &soon, "--rounds", "2"],
                "--hlog",
            ),
            (
                vec![
                    "--shard",
                    "2/2",
                    "--start-at",
                    &soon,
                    "--rounds",
                    "2",
                    "--hlog",
                    "x.hlog",
                ],
                "must be below 2",
            ),
            (
                vec![
                    "--shard",
                    "0/2",
                    "--shard-weights",
                    "1,2,3",
                    "--start-at",
                    &soon,
                    "--rounds",
                    "2",
                    "--hlog",
                    "x.hlog",
                ],
                "3 weights for 2 shards",
            ),
            (vec!["--start-at", "yesterday"], "RFC 3339"),
        ],
    );
    // Distribute sets a shard's own flags itself.
    let out = perflab()
        .args([
            "distribute",
            "--local",
            "2",
            "--",
            "run",
            "http://127.0.0.1:9/",
        ])
        .args(["--hlog", "x.hlog"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(said(&out).contains("leave it out"), "{}", said(&out));
}

#[test]
fn the_kubernetes_manifests_are_the_golden_ones_and_pass_an_offline_schema_check() {
    let out = tempfile::tempdir().unwrap();
    let run = perflab()
        .args(["distribute", "--k8s", "render", "--shards", "3"])
        .args(["--image", "registry.example/perflab:1"])
        .args(["--start-at", "2026-12-02T10:00:00Z", "--out"])
        .arg(out.path())
        .args(["--", "run", "http://reference-service/db/users/1"])
        .args(["--rate", "300", "-d", "2s", "--rounds", "4"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", said(&run));
    let golden = common::root().join("tests/golden/k8s");
    let files = [
        "perflab-shards.yaml",
        "perflab-merge.yaml",
        "reference-service.yaml",
    ];
    for name in files {
        let written = std::fs::read_to_string(out.path().join(name)).unwrap();
        let path = golden.join(name);
        if std::env::var_os("PERFLAB_UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(&path, &written).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            written,
            expected,
            "{name} differs from {} (PERFLAB_UPDATE_GOLDEN=1 rewrites it)",
            path.display()
        );
    }
    // Kubernetes' own schemas, offline (kubernetes-validate from PyPI; scripts/setup installs it).
    let check = std::process::Command::new("kubernetes-validate")
        .arg("--strict")
        .args(files.iter().map(|f| out.path().join(f)))
        .output()
        .expect("kubernetes-validate is installed (scripts/setup)");
    assert!(check.status.success(), "{}", said(&check));
    let readme = std::fs::read_to_string(out.path().join("README.md")).unwrap();
    assert!(readme.contains("kubectl apply -f"), "{readme}");
}
