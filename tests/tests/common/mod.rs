#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the checkout")
        .to_path_buf()
}

/// A binary of this workspace (`just test` builds them first; cargo puts them one level above
/// the test executables).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (`just test` does)",
        path.display()
    );
    path
}

/// The reference service on a fresh data folder (kept as long as the folder is).
pub fn reference_service() -> (perflab_services::service::ServiceProcess, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let args = vec!["--data-dir".into(), data.path().display().to_string()];
    let svc = perflab_services::service::ServiceProcess::start(&bin("reference-app"), &args, None)
        .unwrap();
    (svc, data)
}

pub fn perflab() -> Command {
    let mut cmd = Command::new(bin("perflab"));
    cmd.current_dir(root())
        .env("PERFLAB_SERVICE_BIN", bin("reference-app"));
    cmd
}

pub fn validate_report(path: &Path) -> serde_json::Value {
    validate(path, "report.v2.json")
}

/// A sweep's summary (`sweep.json`) against its schema.
pub fn validate_sweep(path: &Path) -> serde_json::Value {
    validate(path, "sweep.v1.json")
}

fn validate(path: &Path, schema: &str) -> serde_json::Value {
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("bench-harness/report/schema").join(schema)).unwrap(),
    )
    .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{} does not validate: {errors:#?}",
        path.display()
    );
    doc
}

/// Samples whose stack contains `needle`, and all samples, in a folded-stacks file.
pub fn folded_share(path: &Path, needle: &str) -> (u64, u64) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (mut all, mut hit) = (0, 0);
    for line in text.lines() {
        let (stack, n) = line.rsplit_once(' ').expect("folded: `stack count`");
        let n: u64 = n.parse().expect("folded: a count");
        all += n;
        if stack.contains(needle) {
            hit += n;
        }
    }
    (hit, all)
}

/// Each `(flags, message)`: `perflab <base> <flags>` is refused before any load (exit 1 or 2)
/// with a message containing `message`.
pub fn assert_refused(base: &[&str], cases: &[(Vec<&str>, &str)]) {
    for (args, says) in cases {
        let run = perflab().args(base).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(
            matches!(run.status.code(), Some(1) | Some(2)),
            "{args:?}: {:?}",
            run.status
        );
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
