//! `--profile-pid PID`: CPU profiles of a server perflab did not start, with Linux `perf`.
//!
//! The reference service profiles itself on request (`/admin/profile/*`); any other local
//! process can be profiled from outside, if `perf` is installed and the kernel allows it
//! (`perf_event_paranoid`, or root). Each measured round runs `perf record -p PID` with DWARF
//! call graphs (Rust binaries rarely keep frame pointers) on the `cpu-clock` software event
//! (this VM has no hardware counters), then `perf script`, folded by inferno's perf collapser
//! into the same `thread;frame;… count` stacks the service returns, so the report, the flame
//! graphs and the differential are the same.
//!
//! The process's CPU time and context switches come from `/proc/PID` around each round, under
//! the names the reference service uses, so CPU per request works for it too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use inferno::collapse::Collapse;

#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    #[error(
        "--profile-pid {pid}: no such process (is the server running? `pgrep -f NAME` finds its PID)"
    )]
    NoProcess { pid: u32 },
    #[error("--profile-pid needs Linux `perf` (Debian: apt-get install linux-perf): {0}")]
    NoPerf(String),
    #[error(
        "--profile-pid {pid}: perf may not profile it: {detail}. Run as root, or allow it with `sysctl kernel.perf_event_paranoid=1` (now {paranoid})"
    )]
    NotPermitted {
        pid: u32,
        paranoid: String,
        detail: String,
    },
    #[error("--profile-pid: perf failed: {0}")]
    Failed(String),
}

fn paranoid() -> String {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn record_command(pid: u32, hz: u32, file: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("perf");
    cmd.args(["record", "-q", "-e", "cpu-clock", "-F"])
        .arg(hz.to_string())
        .args(["--call-graph", "dwarf,16384", "-p"])
        .arg(pid.to_string())
        .arg("-o")
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Checks, before any load, that `pid` exists and that perf may record it (a 0.2 s trial).
pub async fn check(pid: u32, dir: &Path) -> Result<(), PerfError> {
    if !Path::new(&format!("/proc/{pid}")).exists() {
        return Err(PerfError::NoProcess { pid });
    }
    let version = tokio::process::Command::new("perf")
        .arg("--version")
        .output()
        .await
        .map_err(|e| PerfError::NoPerf(e.to_string()))?;
    if !version.status.success() {
        return Err(PerfError::NoPerf(
            String::from_utf8_lossy(&version.stderr).trim().to_string(),
        ));
    }
    let file = dir.join("perf-check.data");
    let trial = record_command(pid, 99, &file)
        .arg("--")
        .args(["sleep", "0.2"])
        .output()
        .await
        .map_err(|e| PerfError::NoPerf(e.to_string()))?;
    let _ = std::fs::remove_file(&file);
    if !trial.status.success() {
        let detail = String::from_utf8_lossy(&trial.stderr)
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("perf record failed")
            .trim()
            .to_string();
        return Err(PerfError::NotPermitted {
            pid,
            paranoid: paranoid(),
            detail,
        });
    }
    Ok(())
}

/// One round's `perf record`, running.
pub struct Recording {
    child: tokio::process::Child,
    file: PathBuf,
    fifos: [PathBuf; 2],
    began: Instant,
}

/// How long perf may take to attach (reading the process's maps and symbols) on a busy machine.
const ATTACH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

fn mkfifo(path: &Path) -> Result<(), PerfError> {
    let _ = std::fs::remove_file(path);
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|e| PerfError::Failed(e.to_string()))?;
    // SAFETY: a NUL-terminated path we own.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(PerfError::Failed(format!(
            "mkfifo {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Starts `perf record` with its events disabled (`-D -1`), and enables them through its
/// control FIFO once it is attached: sampling starts when perf says "ack", not after a guess
/// at how long attaching takes (on a loaded machine it can take longer than a round).
pub async fn start(pid: u32, hz: u32, dir: &Path, round: usize) -> Result<Recording, PerfError> {
    let stem = format!("perflab-perf-{}-{round}", std::process::id());
    let file = dir.join(format!("{stem}.data"));
    let fifos = [
        dir.join(format!("{stem}.ctl")),
        dir.join(format!("{stem}.ack")),
    ];
    for f in &fifos {
        mkfifo(f)?;
    }
    let mut cmd = record_command(pid, hz, &file);
    cmd.args(["-D", "-1", "--control"]).arg(format!(
        "fifo:{},{}",
        fifos[0].display(),
        fifos[1].display()
    ));
    let child = cmd
        .spawn()
        .map_err(|e| PerfError::Failed(format!("starting perf record: {e}")))?;
    let mut recording = Recording {
        child,
        file,
        fifos,
        began: Instant::now(),
    };
    let (ctl, ack) = (recording.fifos[0].clone(), recording.fifos[1].clone());
    // Blocking FIFO opens and reads, off the async workers, under a deadline.
    let enable = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::{Read, Write};
        use std::os::unix::fs::OpenOptionsExt;
        let deadline = Instant::now() + ATTACH_DEADLINE;
        // O_NONBLOCK: opening for writing fails (ENXIO) until perf has opened its end.
        let mut ctl = loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&ctl)
            {
                Ok(f) => break f,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(e) => return Err(e),
            }
        };
        let mut ack = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&ack)?;
        ctl.write_all(b"enable\n")?;
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        while !got.windows(3).any(|w| w == b"ack") {
            match ack.read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other("perf did not acknowledge `enable`"));
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Ok(())
    })
    .await
    .map_err(|e| PerfError::Failed(e.to_string()))?;
    if let Err(e) = enable {
        let _ = recording.child.start_kill();
        recording.remove_files();
        return Err(PerfError::Failed(format!("enabling perf record: {e}")));
    }
    recording.began = Instant::now();
    Ok(recording)
}

impl Recording {
    fn remove_files(&self) {
        let _ = std::fs::remove_file(&self.file);
        for f in &self.fifos {
            let _ = std::fs::remove_file(f);
        }
    }

    /// Stops recording (SIGINT, as a person would) and folds the samples.
    pub async fn stop(mut self) -> Result<(f64, String), PerfError> {
        let seconds = self.began.elapsed().as_secs_f64();
        if let Some(id) = self.child.id() {
            // SAFETY: signalling our own child by its PID.
            unsafe { libc::kill(id as i32, libc::SIGINT) };
        }
        let _ = self.child.wait().await;
        let script = tokio::process::Command::new("perf")
            .args(["script", "-i"])
            .arg(&self.file)
            // No `period` field: each sample then counts once (with it, inferno weighs a
            // cpu-clock sample by its period in ns, and a flame graph's "samples" would be ns).
            .args(["-F", "comm,tid,time,event,ip,sym,dso"])
            .stderr(Stdio::null())
            .output()
            .await
            .map_err(|e| PerfError::Failed(format!("perf script: {e}")))?;
        self.remove_files();
        let mut folded = Vec::new();
        inferno::collapse::perf::Folder::default()
            .collapse(&script.stdout[..], &mut folded)
            .map_err(|e| PerfError::Failed(format!("folding perf script's output: {e}")))?;
        Ok((seconds, String::from_utf8_lossy(&folded).into_owned()))
    }
}

/// The process's CPU time and context switches from `/proc`, named as the reference service
/// names its own (`process_cpu_user_nanoseconds_total` …), so the report treats them alike.
pub fn proc_counters(pid: u32) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Fields after the command name, which is in parentheses and may hold spaces.
        if let Some((_, rest)) = stat.rsplit_once(')') {
            let f: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after ")" and state.
            let at = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
            if let (Some(u), Some(s)) = (at(11), at(12)) {
                out.insert("process_cpu_user_nanoseconds_total".into(), u / ticks * 1e9);
                out.insert(
                    "process_cpu_system_nanoseconds_total".into(),
                    s / ticks * 1e9,
                );
            }
        }
    }
    // Context switches are counted per thread: sum the threads alive now (a thread that has
    // exited takes its count with it; a server's worker threads live as long as it does).
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    let (mut voluntary, mut involuntary, mut seen) = (0.0, 0.0, false);
    for task in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            let slot = match line.split_once(':') {
                Some(("voluntary_ctxt_switches", v)) => Some((&mut voluntary, v)),
                Some(("nonvoluntary_ctxt_switches", v)) => Some((&mut involuntary, v)),
                _ => None,
            };
            if let Some((sum, v)) = slot
                && let Ok(n) = v.trim().parse::<f64>()
            {
                *sum += n;
                seen = true;
            }
        }
    }
    if seen {
        out.insert("process_voluntary_context_switches_total".into(), voluntary);
        out.insert(
            "process_involuntary_context_switches_total".into(),
            involuntary,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_cpu_time_and_switches_in_proc() {
        let c = super::proc_counters(std::process::id());
        assert!(c["process_cpu_user_nanoseconds_total"] >= 0.0);
        assert!(c.contains_key("process_voluntary_context_switches_total"));
    }
}
