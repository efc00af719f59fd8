//! The labs of a checkout: finding the checkout, listing its labs, creating a new one from the
//! template.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::exit::Exit;

/// The repository root: the nearest folder above the working directory with `labs/` in it.
pub fn repo_root() -> anyhow::Result<PathBuf> {
    if let Some(root) = std::env::var_os("PERFLAB_ROOT") {
        return Ok(PathBuf::from(root));
    }
    let cwd = std::env::current_dir()?;
    cwd.ancestors()
        .find(|d| d.join("labs").is_dir() && d.join("plugins").is_dir())
        .map(Path::to_path_buf)
        .context("cannot find the perflab checkout (a folder with labs/ and plugins/): run from inside it or set PERFLAB_ROOT")
}

pub fn lab_dir(root: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let direct = PathBuf::from(name);
    if direct.join("plugin").is_dir() || direct.join("plugin-py").is_dir() {
        return Ok(direct);
    }
    let dir = root.join("labs").join(name);
    if dir.is_dir() {
        return Ok(dir);
    }
    let known = list_labs(root)
        .into_iter()
        .map(|(n, _)| n)
        .collect::<Vec<_>>()
        .join(", ");
    bail!("no lab named {name:?}; labs: {known} (or create one with `just new-lab {name}`)")
}

pub fn list_labs(root: &Path) -> Vec<(String, PathBuf)> {
    let mut labs: Vec<(String, PathBuf)> = std::fs::read_dir(root.join("labs"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.join("plugin").is_dir() || p.join("plugin-py").is_dir())
                .map(|p| {
                    (
                        p.file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned(),
                        p,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    labs.sort();
    labs
}

/// The first prose line of a lab's guide (what `perflab labs` shows when the plugin does not
/// build).
pub fn guide_line(dir: &Path) -> String {
    let guide = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
    guide
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap_or("")
        .to_string()
}

/// `perflab new-lab NAME`: a lab folder from `plugins/template/` that builds and runs as is.
pub fn new_lab(name: &str) -> anyhow::Result<Exit> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || name.starts_with('-')
    {
        bail!("lab name {name:?}: use lower-case letters, digits and dashes, e.g. my-lab");
    }
    let root = repo_root()?;
    let dest = root.join("labs").join(name);
    if dest.exists() {
        bail!("{} already exists", dest.display());
    }
    let template = root.join("plugins").join("template");
    let files = [
        ("plugin/Cargo.toml.tmpl", "plugin/Cargo.toml"),
        // Pinned like every lab's, so a new lab builds offline once the SDK's crates are cached.
        ("plugin/Cargo.lock.tmpl", "plugin/Cargo.lock"),
        ("plugin/src/lib.rs.tmpl", "plugin/src/lib.rs"),
        ("README.md.tmpl", "README.md"),
    ];
    for (from, to) in files {
        let text = std::fs::read_to_string(template.join(from))
            .with_context(|| format!("reading the template {from}"))?;
        let path = dest.join(to);
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        std::fs::write(&path, text.replace("{{name}}", name))?;
    }
    println!(
        "created {}\n  plugin: {}\n  guide:  {}\nrun it:  just lab {name} --quick",
        dest.display(),
        dest.join("plugin/src/lib.rs").display(),
        dest.join("README.md").display()
    );
    Ok(Exit::Ok)
}
