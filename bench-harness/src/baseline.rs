//! Saved baselines: the per-round figures of a run, kept under `.perflab/baselines/NAME.json`,
//! so a later run (another commit, another machine setting) is compared with the same
//! statistics — unpaired, since the two runs did not interleave.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::{BaselineComparison, Report};
use crate::stats::{self, Better};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    pub schema: String,
    pub name: String,
    pub saved_at: String,
    pub run: String,
    /// variant → metric → per-round values.
    pub rounds: BTreeMap<String, BTreeMap<String, Vec<f64>>>,
}

const SCHEMA: &str = "perflab.baseline/v1";
const METRICS: [&str; 4] = ["throughput", "p50", "p99", "error_rate"];

pub fn path(dir: &Path, name: &str) -> Result<PathBuf, String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || name.starts_with('.')
    {
        return Err(format!(
            "baseline name {name:?}: use letters, digits, - _ ."
        ));
    }
    Ok(dir.join(format!("{name}.json")))
}

pub fn from_report(report: &Report, name: &str) -> Baseline {
    let mut rounds: BTreeMap<String, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    for r in &report.rounds {
        let entry = rounds.entry(r.variant.clone()).or_default();
        for m in METRICS {
            let v = match m {
                "throughput" => r.summary.throughput,
                "p50" => r.summary.latency.p50,
                "p99" => r.summary.latency.p99,
                _ => r.summary.error_rate,
            };
            entry.entry(m.to_string()).or_default().push(v);
        }
    }
    Baseline {
        schema: SCHEMA.into(),
        name: name.into(),
        saved_at: crate::report::now_rfc3339(),
        run: report.name.clone(),
        rounds,
    }
}

pub fn save(baseline: &Baseline, dir: &Path) -> Result<PathBuf, String> {
    let p = path(dir, &baseline.name)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(&p, serde_json::to_vec_pretty(baseline).expect("serializes"))
        .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    Ok(p)
}

pub fn load(dir: &Path, name: &str) -> Result<Baseline, String> {
    let p = path(dir, name)?;
    let text = std::fs::read(&p).map_err(|e| {
        format!(
            "baseline {name:?} not found at {} ({e}); save one with --save-baseline {name}",
            p.display()
        )
    })?;
    let b: Baseline = serde_json::from_slice(&text)
        .map_err(|e| format!("baseline {} is not valid: {e}", p.display()))?;
    if b.schema != SCHEMA {
        return Err(format!(
            "baseline {} has schema {:?}, expected {SCHEMA:?}",
            p.display(),
            b.schema
        ));
    }
    Ok(b)
}

impl Baseline {
    pub fn rounds_of(&self, variant: &str, metric: &str) -> Option<Vec<f64>> {
        self.rounds.get(variant)?.get(metric).cloned()
    }

    /// One line per variant present in both runs.
    pub fn compare(&self, report: &Report) -> BaselineComparison {
        let mut lines = Vec::new();
        for v in &report.variants {
            let Some(saved) = self.rounds.get(&v.name) else {
                lines.push(format!("{}: not in the baseline", v.name));
                continue;
            };
            let now = |m: &str| -> Vec<f64> {
                report
                    .rounds
                    .iter()
                    .filter(|r| r.variant == v.name)
                    .map(|r| match m {
                        "throughput" => r.summary.throughput,
                        "p50" => r.summary.latency.p50,
                        _ => r.summary.latency.p99,
                    })
                    .collect()
            };
            let mut parts = Vec::new();
            for (m, better) in [("throughput", Better::Higher), ("p99", Better::Lower)] {
                if let Some(iv) = saved
                    .get(m)
                    .and_then(|old| stats::unpaired_ratio(old, &now(m), 5))
                {
                    parts.push(stats::describe_ratio(m, &iv, better));
                }
            }
            lines.push(format!(
                "{}: {} than the baseline",
                v.name,
                parts.join(", ")
            ));
        }
        BaselineComparison {
            name: self.name.clone(),
            saved_at: self.saved_at.clone(),
            lines,
        }
    }
}
