//! Saved baselines on disk: `.perflab/baselines/NAME.json` (the data is
//! `perflab_analysis::baseline::Baseline`).

use std::path::{Path, PathBuf};

use perflab_analysis::baseline::{Baseline, SCHEMA};

#[derive(Debug, thiserror::Error)]
pub enum BaselineStoreError {
    #[error("baseline name {0:?}: use letters, digits, - _ .")]
    BadName(String),
    #[error("baseline {name:?} not found at {} ({cause}); save one with --save-baseline {name}", path.display())]
    NotFound {
        name: String,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("baseline {} is not valid: {cause}", path.display())]
    Invalid {
        path: PathBuf,
        cause: serde_json::Error,
    },
    #[error("baseline {} has schema {found:?}, expected {SCHEMA:?}", path.display())]
    WrongSchema { path: PathBuf, found: String },
    #[error("cannot write {}: {cause}", path.display())]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
}

pub fn path(dir: &Path, name: &str) -> Result<PathBuf, BaselineStoreError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || name.starts_with('.')
    {
        return Err(BaselineStoreError::BadName(name.to_string()));
    }
    Ok(dir.join(format!("{name}.json")))
}

pub fn save(baseline: &Baseline, dir: &Path) -> Result<PathBuf, BaselineStoreError> {
    let p = path(dir, &baseline.name)?;
    let write = |source| BaselineStoreError::Write {
        path: p.clone(),
        cause: source,
    };
    std::fs::create_dir_all(dir).map_err(write)?;
    std::fs::write(&p, serde_json::to_vec_pretty(baseline).expect("serializes")).map_err(write)?;
    Ok(p)
}

pub fn load(dir: &Path, name: &str) -> Result<Baseline, BaselineStoreError> {
    let p = path(dir, name)?;
    let text = std::fs::read(&p).map_err(|source| BaselineStoreError::NotFound {
        name: name.to_string(),
        path: p.clone(),
        cause: source,
    })?;
    let b: Baseline =
        serde_json::from_slice(&text).map_err(|source| BaselineStoreError::Invalid {
            path: p.clone(),
            cause: source,
        })?;
    if b.schema != SCHEMA {
        return Err(BaselineStoreError::WrongSchema {
            path: p,
            found: b.schema,
        });
    }
    Ok(b)
}
