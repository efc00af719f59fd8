//! Compiled components on disk. Compiling a Python component takes seconds (a Rust one tens of
//! milliseconds), so the native code is kept under `~/.cache/perflab/components/`, keyed by a
//! hash of the component's bytes *and* the engine's configuration: a new wasmtime or another
//! setting never loads stale code.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PERFLAB_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("perflab").join("components")
}

/// Feeds std's `Hash` into SHA-256 (the engine exposes its compatibility only as `Hash`).
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0 // unused: we read the full digest
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

pub fn key(engine: &Engine, wasm: &[u8]) -> String {
    let mut h = ShaHasher(Sha256::new());
    h.0.update(wasm);
    engine.precompile_compatibility_hash().hash(&mut h);
    h.0.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Loads the compiled form if cached, else compiles and stores it. Returns whether it was a hit.
pub fn load_or_compile(engine: &Engine, wasm: &[u8]) -> wasmtime::Result<(Component, bool)> {
    let dir = cache_dir();
    let path = dir.join(format!("{}.cwasm", key(engine, wasm)));
    if path.is_file() {
        // SAFETY: the file was written by `precompile_component` of an engine with the same
        // compatibility hash (it is in the key), into our own cache folder.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => return Ok((c, true)),
            Err(e) => tracing::warn!("ignoring unreadable cache entry {}: {e}", path.display()),
        }
    }
    let compiled = engine.precompile_component(wasm)?;
    // A failed cache write only costs time next run.
    if std::fs::create_dir_all(&dir).is_ok() {
        let tmp = dir.join(format!(".{}.tmp", std::process::id()));
        if std::fs::write(&tmp, &compiled).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    // SAFETY: bytes just produced by this engine's `precompile_component`.
    let component = unsafe { Component::deserialize(engine, &compiled)? };
    Ok((component, false))
}
