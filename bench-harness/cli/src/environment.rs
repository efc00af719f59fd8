//! Capturing what the run happened on (the report's `Environment`): a result without its
//! machine is half a result. Includes the load
//! and CPU steal *during* the run (a noisy neighbour shows up here) and, for write-heavy labs,
//! an fsync probe: fsync latency dominates them and varies 100× between machines.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use perflab_report::{Environment, FsyncProbe};

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

pub fn cpu_model() -> String {
    read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

pub fn loadavg() -> f64 {
    read("/proc/loadavg")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// (steal ticks, total ticks) from the first line of /proc/stat.
pub fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = read("/proc/stat");
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let steal = *fields.get(7)?;
    Some((steal, fields.iter().take(8).sum()))
}

pub fn steal_percent(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> Option<f64> {
    let ((s0, t0), (s1, t1)) = (before?, after?);
    (t1 > t0).then(|| (s1 - s0) as f64 * 100.0 / (t1 - t0) as f64)
}

pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    if dirty {
        commit.push_str("-dirty");
    }
    Some(commit)
}

/// Writes 4 KiB and fdatasyncs it, `samples` times, in `dir` (the data directory of the
/// database under test, so it measures that disk).
pub fn fsync_probe(dir: &Path, samples: usize) -> std::io::Result<FsyncProbe> {
    let file = tempfile::NamedTempFile::new_in(dir)?;
    let mut f = file.as_file();
    let block = [0x5au8; 4096];
    let mut times: Vec<f64> = Vec::with_capacity(samples);
    for _ in 0..samples {
        f.write_all(&block)?;
        let t = Instant::now();
        f.sync_data()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(FsyncProbe {
        median: times[times.len() / 2],
        p90: times[(times.len() * 9 / 10).min(times.len() - 1)],
        samples,
        path: dir.display().to_string(),
    })
}

/// The machine as it is now; `loadavg_end`, `steal_percent` and `fsync_ms` are filled in later.
pub fn capture(seed: u64, load_threads: usize) -> Environment {
    Environment {
        cpu_model: cpu_model(),
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        service_version: None,
        git_commit: git_commit(),
        command_line: std::env::args().collect(),
        seed,
        load_threads,
        loadavg_start: loadavg(),
        loadavg_end: 0.0,
        steal_percent: None,
        fsync_ms: None,
        link: None,
    }
}

/// Enough samples for a stable median, few enough to take well under a second on most disks.
pub const FSYNC_SAMPLES: usize = 30;

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_machine() {
        let e = super::capture(1, 1);
        assert!(e.cores >= 1);
        assert!(!e.kernel.is_empty());
        let probe = super::fsync_probe(&std::env::temp_dir(), 3).unwrap();
        assert!(probe.median > 0.0);
    }
}
