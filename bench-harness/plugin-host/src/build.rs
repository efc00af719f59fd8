//! Building a lab's plugin from source: `cargo build --release --target wasm32-wasip2` in the
//! lab's `plugin/` folder (a Rust guest), or `componentize-py` for `plugin-py/` (a Python
//! guest). All Rust guests share one target folder, so the SDK compiles once.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::PluginError;

/// Where guest builds go: `<repo>/target/plugins`.
pub fn guest_target_dir(repo: &Path) -> PathBuf {
    repo.join("target").join("plugins")
}

fn err(path: &Path, message: impl Into<String>) -> PluginError {
    PluginError::Build {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Adds the wasm32-wasip2 target through rustup when it is missing.
fn ensure_wasm_target(dir: &Path) -> Result<(), PluginError> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(out)
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == "wasm32-wasip2") =>
        {
            Ok(())
        }
        Ok(_) => {
            eprintln!("perflab: adding the wasm32-wasip2 target (rustup target add wasm32-wasip2)");
            let status = Command::new("rustup")
                .args(["target", "add", "wasm32-wasip2"])
                .status()
                .map_err(|e| err(dir, format!("rustup: {e}")))?;
            if status.success() {
                Ok(())
            } else {
                Err(err(dir, "`rustup target add wasm32-wasip2` failed"))
            }
        }
        // No rustup: let cargo say whether the target is there.
        Err(_) => Ok(()),
    }
}

fn package_name(manifest: &Path) -> Result<String, PluginError> {
    let text = std::fs::read_to_string(manifest).map_err(|e| err(manifest, e.to_string()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| err(manifest, format!("not valid TOML: {e}")))?;
    doc.get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .ok_or_else(|| err(manifest, "no [package] name"))
}

/// Builds the Rust guest in `crate_dir` and returns the component's path.
pub fn build_rust(crate_dir: &Path, repo: &Path, quiet: bool) -> Result<PathBuf, PluginError> {
    let manifest = crate_dir.join("Cargo.toml");
    let name = package_name(&manifest)?;
    ensure_wasm_target(crate_dir)?;
    let target_dir = guest_target_dir(repo);
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--manifest-path",
    ])
    .arg(&manifest)
    .arg("--target-dir")
    .arg(&target_dir)
    // The host's own RUSTFLAGS (e.g. from a coverage run) must not leak into the guest.
    .env_remove("RUSTFLAGS")
    .env_remove("CARGO_ENCODED_RUSTFLAGS");
    if quiet {
        cmd.arg("--quiet");
    }
    let status = cmd
        .status()
        .map_err(|e| err(crate_dir, format!("cannot run cargo: {e}")))?;
    if !status.success() {
        return Err(err(
            crate_dir,
            format!("cargo build failed ({status}); see the compiler output above"),
        ));
    }
    let wasm = target_dir
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    if !wasm.is_file() {
        return Err(err(
            crate_dir,
            format!(
                "cargo succeeded but {} is missing: is the crate-type [\"cdylib\"]?",
                wasm.display()
            ),
        ));
    }
    Ok(wasm)
}

/// Builds the Python guest `app.py` in `dir` with componentize-py; returns the component.
pub fn build_python(dir: &Path, wit_dir: &Path, out_dir: &Path) -> Result<PathBuf, PluginError> {
    std::fs::create_dir_all(out_dir).map_err(|e| err(dir, e.to_string()))?;
    let out = out_dir.join(format!(
        "{}.wasm",
        dir.parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin".into())
    ));
    let newest_source = std::fs::read_dir(dir)
        .map_err(|e| err(dir, e.to_string()))?
        .filter_map(|e| e.ok()?.metadata().ok()?.modified().ok())
        .chain(
            std::fs::metadata(wit_dir.join("experiment.wit"))
                .and_then(|m| m.modified())
                .ok(),
        )
        .max();
    let built = std::fs::metadata(&out).and_then(|m| m.modified()).ok();
    if let (Some(src), Some(built)) = (newest_source, built)
        && built >= src
    {
        return Ok(out); // up to date: componentize-py takes seconds
    }
    let status = Command::new("componentize-py")
        .arg("-d")
        .arg(wit_dir)
        .args(["-w", "experiment", "componentize", "app", "-o"])
        .arg(&out)
        .current_dir(dir)
        // "Component built successfully" is noise in a report's output; errors go to stderr.
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| err(dir, format!("cannot run componentize-py ({e}): install it with `pip install componentize-py`")))?;
    if !status.success() {
        return Err(err(dir, format!("componentize-py failed ({status})")));
    }
    Ok(out)
}
