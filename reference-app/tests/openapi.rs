//! The service's OpenAPI description: the committed `reference-app/openapi.json` is what the
//! code generates (`just openapi` rewrites it), and a property-based fuzz from it
//! (schemathesis, from PyPI; `scripts/setup` installs it) finds no server error for any
//! request a client can send.

mod common;

use std::process::Command;

use common::Svc;
use perflab_services::redis::ThrowawayRedis;

fn committed() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

#[tokio::test]
async fn the_served_description_is_the_committed_one() {
    let generated = reference_app::openapi::json();
    if std::env::var_os("PERFLAB_UPDATE_OPENAPI").is_some() {
        std::fs::write(committed(), format!("{generated}\n")).unwrap();
    }
    let svc = Svc::start(None, None, &[]);
    let served: serde_json::Value = svc.get_ok("/openapi.json").await.json().await.unwrap();
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(committed()).unwrap()).unwrap();
    assert_eq!(
        served,
        serde_json::from_str::<serde_json::Value>(&generated).unwrap()
    );
    assert_eq!(
        served, file,
        "reference-app/openapi.json is out of date: run `just openapi`"
    );
}

#[test]
fn a_fuzz_from_the_description_finds_no_server_error() {
    let redis = ThrowawayRedis::start().expect("redis-server (scripts/setup installs it)");
    let svc = Svc::start(None, Some(&redis.url()), &[]);
    let report = tempfile::tempdir().unwrap();
    let out = Command::new("schemathesis")
        .arg("run")
        .arg(svc.url("/openapi.json"))
        .args([
            "--checks",
            "not_a_server_error",
            "-n",
            "50",
            "--seed",
            "1",
            "-w",
            "1",
        ])
        // Changing the settings is the operator's act, and some (upstream.failure_permille)
        // make later requests fail upstream on purpose: not a client mistake.
        .args(["--exclude-name", "PUT /admin/settings"])
        .args(["--report", "ndjson", "--report-dir"])
        .arg(report.path())
        .output()
        .expect("schemathesis is installed (scripts/setup installs it: pip install schemathesis)");
    let text = String::from_utf8_lossy(&out.stdout);
    let cases = text
        .lines()
        .find(|l| l.contains("generated,"))
        .unwrap_or("")
        .trim()
        .to_string();
    println!("schemathesis: {cases}");
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cases.contains("passed"), "{text}");
}
