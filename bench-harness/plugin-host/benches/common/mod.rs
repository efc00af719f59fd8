//! What both plugin benches need (`mod common;`; cargo does not build this folder as a bench).

use std::path::{Path, PathBuf};

/// The checkout: benches run from the package folder, `bench-harness/plugin-host/`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
