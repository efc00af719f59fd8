//! `--profile` through the real CLI: the reference service samples its own stacks during the
//! measured rounds, and the report carries flame graphs, the top frames and CPU per request.

mod common;

use std::process::{Command, Stdio};

use common::{folded_share, perflab, reference_service, validate_report};

#[test]
fn a_profile_finds_the_function_that_burns_the_cpu() {
    let (svc, _data) = reference_service();
    let out = tempfile::tempdir().unwrap();
    let url = format!("{}/probe/cpu?us=300", svc.base_url());
    let status = perflab()
        .args([
            "run", &url, "-c", "2", "-d", "1s", "--rounds", "3", "--warmup", "0s",
        ])
        .args(["--profile", "-q", "--out"])
        .arg(out.path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let doc = validate_report(&out.path().join("report.json"));
    let (hit, all) = folded_share(
        &out.path().join("profile-target.folded"),
        "reference_app::introspect::probe::burn_cpu_in_probe",
    );
    assert!(
        all >= 50,
        "3 s of a busy service at 99 Hz gave {all} samples"
    );
    assert!(
        hit * 2 >= all,
        "burn_cpu_in_probe in {hit} of {all} samples"
    );
    let p = &doc["profiles"];
    assert_eq!(p["frequency_hz"], 99);
    assert_eq!(p["variants"][0]["samples"], all);
    let svg = std::fs::read_to_string(out.path().join("flame-target.svg")).unwrap();
    assert!(svg.contains("burn_cpu_in_probe"));
    // CPU per request: the service's own counters, scraped because a profile was asked for.
    let c = &doc["variants"][0]["counters_per_request"];
    let cpu_us = (c["process_cpu_user_nanoseconds_total"].as_f64().unwrap()
        + c["process_cpu_system_nanoseconds_total"].as_f64().unwrap())
        / 1e3;
    assert!(
        cpu_us >= 150.0,
        "300 µs of spinning per request, counted {cpu_us:.0} µs"
    );
    assert!(c["allocations_total"].as_f64().unwrap() > 0.0);
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("data:image/svg+xml;base64,") && html.contains("CPU per request"));
}

#[test]
fn profiling_one_variant_of_two_and_a_wrong_name_is_refused() {
    let (svc, _data) = reference_service();
    let out = tempfile::tempdir().unwrap();
    let url = format!("{}/probe/cpu?us=100", svc.base_url());
    let run = |extra: &[&str]| {
        perflab()
            .args(["run", &url, &url, "-c", "1", "-d", "500ms", "--rounds", "2"])
            .args(["--warmup", "0s", "--profile", "-q", "--out"])
            .arg(out.path())
            .args(extra)
            .output()
            .unwrap()
    };
    let wrong = run(&["--profile-variants", "C"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("not a variant of this run"));
    let ok = run(&["--profile-variants", "B"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out.path().join("profile-B.folded").is_file());
    assert!(!out.path().join("profile-A.folded").exists());
}

#[test]
fn a_service_without_a_profiler_is_refused_before_any_load() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(up, "python's http.server did not start");
    let out = perflab()
        .args(["run", &url, "-d", "1s", "--profile", "-q"])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("has no CPU profiler") && err.contains("reference service"),
        "{err}"
    );
}

/// A server perflab did not start, profiled from outside with `perf` (CI runs as root; a
/// machine without perf, or where it is not permitted, is told so and the test says why it
/// stops).
#[test]
fn perf_profiles_a_process_perflab_did_not_start() {
    let (svc, _data) = reference_service();
    let out = tempfile::tempdir().unwrap();
    // /health/live has no CPU work: the burn must come from /probe/cpu, found by name.
    let url = format!("{}/probe/cpu?us=300", svc.base_url());
    let pid = svc.pid().to_string();
    let run = perflab()
        .args([
            "run", &url, "-c", "2", "-d", "1s", "--rounds", "2", "--warmup", "0s",
        ])
        .args(["--profile-pid", &pid, "-q", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    if err.contains("needs Linux `perf`") || err.contains("perf may not profile it") {
        panic!(
            "this machine cannot run perf on its own processes (scripts/setup installs linux-perf; CI runs as root): {err}"
        );
    }
    assert_eq!(run.status.code(), Some(0), "{err}");
    let doc = validate_report(&out.path().join("report.json"));
    assert!(
        out.path().join("profile-target.folded").is_file(),
        "no profile: {}{err}",
        String::from_utf8_lossy(&run.stdout)
    );
    let (hit, all) = folded_share(
        &out.path().join("profile-target.folded"),
        "reference_app::introspect::probe::burn_cpu_in_probe",
    );
    assert!(
        all >= 20,
        "2 s of a busy service at 99 Hz gave {all} samples"
    );
    assert!(
        hit * 2 >= all,
        "burn_cpu_in_probe in {hit} of {all} samples"
    );
    // CPU per request from /proc, under the service's own counter names.
    let c = &doc["variants"][0]["counters_per_request"];
    let cpu_ns = c["process_cpu_user_nanoseconds_total"].as_f64().unwrap()
        + c["process_cpu_system_nanoseconds_total"].as_f64().unwrap();
    assert!(cpu_ns / 1e3 >= 150.0, "{cpu_ns} ns of CPU per request");
    assert!(c["process_voluntary_context_switches_total"].is_number());
}
