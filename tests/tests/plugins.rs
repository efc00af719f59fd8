//! The plugin sandbox against plugins that misbehave on purpose (`tests/fixtures/`).

mod common;

use std::sync::{Arc, mpsc};
use std::time::Duration;

use common::root;
use perflab_load::workload::{BodyNeed, Workload};
use perflab_plugin_host::params::describe_with_params;
use perflab_plugin_host::{PluginHost, PluginLimits, PluginWorkload, build};

fn fixture(name: &str) -> std::path::PathBuf {
    build::build_rust(&root().join("tests/fixtures").join(name), &root(), true)
        .expect("fixture builds")
}

fn limits() -> PluginLimits {
    PluginLimits {
        call_deadline: Duration::from_millis(200),
        max_traps: 2,
        ..PluginLimits::default()
    }
}

/// Runs the fixture's `next-request` in `mode` and returns the error. A watchdog turns a hang
/// into a failure instead of a stuck test.
fn next_request_error(mode: &str, limits: PluginLimits) -> String {
    let wasm = fixture("bad-plugin");
    let mode = mode.to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let host = PluginHost::new(limits).unwrap();
        let plugin = host.load(&wasm).unwrap();
        let (_, params) = describe_with_params(&plugin, &[format!("mode={mode}")], &[]).unwrap();
        let workload = PluginWorkload::new(plugin, params, BodyNeed::None, 1);
        let mut vu = workload.virtual_user(0, 1).unwrap();
        let _ = tx.send(
            vu.next_request(0)
                .map(|r| r.path)
                .map_err(|e| e.to_string()),
        );
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(path)) => panic!("the misbehaving plugin returned a request ({path})"),
        Ok(Err(e)) => e,
        Err(_) => panic!("the host hung: the plugin was not stopped"),
    }
}

#[test]
fn an_infinite_loop_is_interrupted_at_its_deadline() {
    let e = next_request_error("loop", limits());
    assert!(
        e.contains("bad_plugin") && e.contains("next-request"),
        "{e}"
    );
    assert!(e.contains("deadline") && e.contains("interrupted"), "{e}");
    assert!(e.contains("trapped 2 times"), "{e}");
}

#[test]
fn a_memory_bomb_hits_the_cap_with_a_clear_error() {
    let capped = PluginLimits {
        memory_bytes: 64 << 20,
        call_deadline: Duration::from_secs(10),
        max_traps: 1,
        ..PluginLimits::default()
    };
    let e = next_request_error("bomb", capped);
    assert!(e.contains("exceeded its memory cap of 64 MiB"), "{e}");
}

#[test]
fn a_panicking_guest_s_message_reaches_the_user() {
    let e = next_request_error("panic", limits());
    assert!(e.contains("fixture panic: the answer is 42"), "{e}");
}

#[test]
fn files_sockets_and_environment_are_denied() {
    let host = PluginHost::new(limits()).unwrap();
    let plugin = host.load(&fixture("bad-plugin")).unwrap();
    let summary = |mode: &str| {
        describe_with_params(&plugin, &[format!("mode={mode}")], &[])
            .unwrap()
            .0
            .summary
    };
    let file = summary("file");
    assert!(file.starts_with("file: denied"), "{file}");
    let socket = summary("socket");
    assert!(socket.starts_with("socket: denied"), "{socket}");
    assert_eq!(summary("env"), "env: 0 variables");
}

#[test]
fn files_that_are_not_components_of_our_version_are_refused() {
    let host = PluginHost::new(limits()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "hello").unwrap();
    let e = host.load(&text).err().unwrap().to_string();
    assert!(e.contains("not a WebAssembly file"), "{e}");

    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let e = host.load(&core).err().unwrap().to_string();
    assert!(
        e.contains("core WebAssembly module, not a component"),
        "{e}"
    );

    let e = host
        .load(&fixture("wrong-version"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("perflab:experiment/lab@0.2.0") && e.contains("speaks perflab:experiment@0.1.0"),
        "{e}"
    );
}

#[test]
fn a_trap_re_instantiates_and_the_next_call_works() {
    // Two VUs share the instance: one panics, the other must still be served afterwards.
    let host = PluginHost::new(PluginLimits {
        max_traps: 3,
        ..limits()
    })
    .unwrap();
    let plugin = host.load(&fixture("bad-plugin")).unwrap();
    let (_, bad) = describe_with_params(&plugin, &["mode=panic".into()], &[]).unwrap();
    let (_, good) = describe_with_params(&plugin, &[], &[]).unwrap();
    let panicking = PluginWorkload::new(plugin.clone(), bad, BodyNeed::None, 1);
    assert!(
        panicking
            .virtual_user(0, 1)
            .unwrap()
            .next_request(0)
            .is_err()
    );
    let fine = PluginWorkload::new(plugin.clone(), good, BodyNeed::None, 1);
    let mut vu = fine.virtual_user(1, 2).unwrap();
    for i in 0..3 {
        assert_eq!(vu.next_request(i).unwrap().path, "/health/live");
    }
    assert!(
        plugin.log.all().contains("fixture panic"),
        "the guest's stderr is in the plugin log"
    );
}

/// The optional crash plan is checked like everything else a plugin returns: out of bounds, a
/// hang or a panic is a clear error naming the call, never a crash check that runs away.
#[test]
fn a_hostile_crash_plan_is_refused_with_the_reason() {
    let host = PluginHost::new(PluginLimits {
        setup_deadline: Duration::from_secs(1),
        ..limits()
    })
    .unwrap();
    let plugin = host.load(&fixture("bad-plugin")).unwrap();
    let plan = |mode: &str| {
        let (_, params) = describe_with_params(&plugin, &[format!("mode={mode}")], &[]).unwrap();
        plugin.crash_plan(&params)
    };
    assert!(plan("ok").unwrap().is_none(), "no plan: no crash check");
    for (mode, says) in [
        ("crash-plan-bad", "writers is 100000"),
        ("crash-plan-loop", "crash-check.plan"),
        ("crash-plan-panic", "fixture panic in crash-check.plan"),
    ] {
        let err = plan(mode).expect_err(mode).to_string();
        assert!(err.contains(says), "{mode}: {err}");
    }
}

/// The optional focus (`defaults.focus`): a name, none, or a trap that is the plugin's error.
/// A lab built before `focus` existed (the python example) has none.
#[test]
fn a_focus_is_read_from_the_plugin_and_a_trap_is_its_error() {
    let host = PluginHost::new(limits()).unwrap();
    let plugin = host.load(&fixture("bad-plugin")).unwrap();
    let focus = |mode: &str| {
        let (_, params) = describe_with_params(&plugin, &[format!("mode={mode}")], &[]).unwrap();
        plugin.focus_by_default(&params)
    };
    assert_eq!(focus("ok").unwrap(), None);
    assert_eq!(
        focus("focus-missing").unwrap().as_deref(),
        Some("no-such-request")
    );
    let err = focus("focus-panic").unwrap_err().to_string();
    assert!(err.contains("defaults.focus"), "{err}");
}

/// The optional default sweep (`defaults.sweep`): text for `--sweep`, none, or a trap that is
/// the plugin's error; a component built before it existed (the python example) has none.
#[test]
fn a_default_sweep_is_read_from_the_plugin_and_a_trap_is_its_error() {
    let host = PluginHost::new(limits()).unwrap();
    let plugin = host.load(&fixture("bad-plugin")).unwrap();
    let sweep = |mode: &str| {
        let (_, params) = describe_with_params(&plugin, &[format!("mode={mode}")], &[]).unwrap();
        plugin.sweep_by_default(&params)
    };
    assert_eq!(sweep("ok").unwrap(), None);
    assert_eq!(sweep("sweep-bad").unwrap().as_deref(), Some("vus=0,x"));
    let err = sweep("sweep-panic").unwrap_err().to_string();
    assert!(err.contains("defaults.sweep"), "{err}");
}

#[test]
fn the_python_example_runs_in_the_same_host() {
    let lab = root().join("labs/python-example/plugin-py");
    let wasm = build::build_python(
        &lab,
        &root().join("plugins/wit"),
        &build::guest_target_dir(&root()).join("python"),
    )
    .expect("componentize-py builds the Python example (pip install componentize-py)");
    let host = PluginHost::new(PluginLimits::default()).unwrap();
    let plugin = host.load(&wasm).unwrap();
    let (desc, params) = describe_with_params(&plugin, &["users=50".into()], &[]).unwrap();
    assert_eq!(desc.name, "python-example");
    assert_eq!(desc.variants.len(), 2);
    let workload = Arc::new(PluginWorkload::new(
        plugin.clone(),
        params,
        BodyNeed::Prefix(1),
        7,
    ));
    let mut a = workload.virtual_user(0, 7).unwrap();
    let mut b = workload.virtual_user(0, 7).unwrap();
    let (ra, rb) = (a.next_request(0).unwrap(), b.next_request(0).unwrap());
    assert!(ra.path.starts_with("/codec/users?count="), "{}", ra.path);
    assert_eq!(ra.path, rb.path, "same seed, same request");
    assert!(
        plugin.log.all().contains("python-example: 50 users"),
        "host.log reaches the plugin log"
    );
}

/// Runs the fixture in `mode` through the real CLI, as a user would: `perflab lab … --plugin`.
fn through_the_cli(mode: &str) -> (Option<i32>, String, std::path::PathBuf, tempfile::TempDir) {
    through_the_cli_with(mode, &["-d", "300ms"])
}

fn through_the_cli_with(
    mode: &str,
    load: &[&str],
) -> (Option<i32>, String, std::path::PathBuf, tempfile::TempDir) {
    let wasm = fixture("bad-plugin");
    let out = tempfile::tempdir().unwrap();
    let run = common::perflab()
        .args(["lab", "bad-plugin", "--no-prompt", "-q", "--plugin"])
        .arg(&wasm)
        .args(["--param", &format!("mode={mode}")])
        .args(["--rounds", "1", "--warmup", "0s"])
        .args(load)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    let log = out.path().join("plugin.log");
    (run.status.code(), stderr, log, out)
}

/// A lab's own sweep (`defaults.sweep`) is checked like `--sweep`, before anything runs, and
/// the error names the lab.
#[test]
fn a_lab_that_declares_a_bad_sweep_is_refused_before_anything_runs() {
    let (code, stderr, _log, out) = through_the_cli("sweep-bad");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("declares a sweep it cannot run") && stderr.contains("vus=0,x"),
        "{stderr}"
    );
    assert!(!out.path().join("sweep.json").exists());
}

#[test]
fn a_guest_that_prints_in_every_export_runs_and_its_output_is_logged() {
    let (code, stderr, log, _out) = through_the_cli("print");
    assert_eq!(code, Some(0), "{stderr}");
    let log = std::fs::read_to_string(log).unwrap();
    for line in [
        "[stdout] print: describe on stdout",
        "[stderr] print: describe on stderr",
        "[stdout] print: constructor of VU 0",
        "[stdout] print: next-request 0",
        "[stderr] print: check-response 200",
    ] {
        assert!(
            log.contains(line),
            "{line:?} missing from the plugin log:\n{log}"
        );
    }
}

#[test]
fn a_hundred_megabytes_of_guest_output_leave_a_small_log_that_says_what_it_dropped() {
    // One VU, and time for its 25 flooding calls.
    let (code, stderr, log, _out) = through_the_cli_with("flood", &["-d", "3s", "-c", "1"]);
    assert_eq!(code, Some(0), "{stderr}");
    let size = std::fs::metadata(&log).unwrap().len();
    // The log keeps the last lines within 1 MiB, plus its notes; the guest wrote 100 MiB.
    assert!(size < 1_100_000, "plugin.log is {size} bytes");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains("[stdout] flood: done on stdout"),
        "{log:.2000}"
    );
    assert!(log.contains("flood: done in host.log"), "{log:.2000}");
    assert!(log.contains("were cut"), "the cut lines are said");
    assert!(
        log.contains("earlier lines dropped"),
        "the dropped lines are said"
    );
    // Memory stays bounded too: the largest process this test binary has waited for (perflab,
    // the service it started, or another test's) peaked far below the 100 MiB written.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    let peak_mib = usage.ru_maxrss / 1024;
    eprintln!("peak RSS of a child: {peak_mib} MiB");
    assert!(peak_mib < 400, "a child peaked at {peak_mib} MiB");
}

#[test]
fn a_guest_panic_in_any_export_is_a_clear_error_not_a_crash() {
    for (mode, message) in [
        ("panic", "fixture panic: the answer is 42"),
        ("panic-new", "fixture panic in the constructor"),
        ("panic-check", "fixture panic in check-response"),
    ] {
        let (code, stderr, _, _out) = through_the_cli(mode);
        assert_eq!(code, Some(1), "{mode}: {stderr}");
        assert!(stderr.contains(message), "{mode}: {stderr}");
        // The guest's own panic message is quoted ("[stderr] … panicked at src/lib.rs"); perflab's
        // threads must not panic (exit 101, "Cannot start a runtime from within a runtime").
        let host_panic = stderr
            .lines()
            .any(|l| l.contains("panicked at") && !l.trim_start().starts_with("[stderr]"));
        assert!(!host_panic, "{mode}: perflab itself panicked:\n{stderr}");
    }
}

#[test]
fn a_request_that_cannot_be_sent_stops_the_run_once_with_the_reason() {
    let (code, stderr, _, _out) = through_the_cli("crlf");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot be sent")
            && stderr.contains("must start with / and contain no spaces or control characters"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("cannot be sent").count(),
        1,
        "said once: {stderr}"
    );
}

#[test]
fn a_variant_with_a_bad_setting_is_refused_before_anything_runs() {
    let (code, stderr, log, out) = through_the_cli("bad-setting");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("variant \"typo\"") && stderr.contains("unknown setting \"stor\""),
        "{stderr}"
    );
    // Found by validation (POST /admin/settings/validate, whose refusal reads "asks the service
    // for settings it refuses"), before the first variant was measured — not by a clock.
    assert!(
        stderr.contains("asks the service for settings it refuses"),
        "{stderr}"
    );
    assert!(!out.path().join("report.json").exists());
    drop(log);
}

#[test]
fn two_hundred_variants_are_refused_with_the_limit() {
    let (code, stderr, _, _out) = through_the_cli("many");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("200 variants; the limit is 32"), "{stderr}");
}

#[test]
fn a_virtual_user_knows_which_variant_it_runs() {
    let (code, stderr, log, _out) = through_the_cli("variant");
    assert_eq!(code, Some(0), "{stderr}");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("variant: VU 0 runs only"), "{log}");
}
