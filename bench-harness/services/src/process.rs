use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot find `{program}`: {hint}")]
    NotInstalled { program: String, hint: String },
    #[error("cannot start {what}: {cause}")]
    Spawn { what: String, cause: std::io::Error },
    #[error("{what} exited before it was ready ({status}); last log lines:\n{log_tail}")]
    DiedEarly {
        what: String,
        status: String,
        log_tail: String,
    },
    #[error("{what} was not ready after {waited:?}; last log lines:\n{log_tail}")]
    NotReady {
        what: String,
        waited: Duration,
        log_tail: String,
    },
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Asks the kernel for a free loopback port. Another process could take it before we bind it
/// again; for a throwaway server on a test machine that window is acceptable.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process that is stopped (SIGTERM, then SIGKILL after a grace period) when dropped.
pub struct ChildGuard {
    what: String,
    child: Child,
    log: PathBuf,
    grace: Duration,
}

impl ChildGuard {
    /// Spawns `cmd` with stdout/stderr appended to `log` (unless the caller piped them).
    ///
    /// Must be called from a long-lived thread (the main thread or a runtime worker): the
    /// parent-death signal fires when the *spawning thread* exits.
    pub fn spawn(
        what: &str,
        cmd: &mut Command,
        log: &Path,
        capture_stdout: bool,
    ) -> Result<ChildGuard, ServiceError> {
        let log_file = File::options().create(true).append(true).open(log)?;
        // Own process group: a terminal's Ctrl-C reaches only the harness, which then stops its
        // children in order (after writing the partial report) instead of all dying at once.
        cmd.process_group(0);
        cmd.stdin(Stdio::null())
            .stderr(log_file.try_clone()?)
            .stdout(if capture_stdout {
                Stdio::piped()
            } else {
                log_file.into()
            });
        // SAFETY: prctl is async-signal-safe; this runs in the forked child before exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|source| ServiceError::Spawn {
            what: what.to_string(),
            cause: source,
        })?;
        Ok(ChildGuard {
            what: what.to_string(),
            child,
            log: log.to_path_buf(),
            grace: Duration::from_secs(10),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Polls `ready` until it returns true, failing early if the child exits.
    pub fn wait_until(
        &mut self,
        timeout: Duration,
        mut ready: impl FnMut(&Self) -> bool,
    ) -> Result<(), ServiceError> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(ServiceError::DiedEarly {
                    what: self.what.clone(),
                    status: status.to_string(),
                    log_tail: self.log_tail(20),
                });
            }
            if ready(self) {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(ServiceError::NotReady {
                    what: self.what.clone(),
                    waited: timeout,
                    log_tail: self.log_tail(20),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the child and all its descendants at one instant, as a power cut would stop them
    /// (the kernel keeps its page cache): each is frozen with SIGSTOP first, so none does any
    /// more work while the others are being found, then all get SIGKILL. Descendants, not the
    /// process group: PostgreSQL puts each backend in a session of its own.
    pub fn kill_tree(&mut self) -> Option<std::process::ExitStatus> {
        // Already gone and reaped: its pid may belong to someone else now.
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let root = self.child.id() as i32;
        let signal = |pid: i32, sig: i32| {
            // SAFETY: kill(2) on our child or one of its descendants.
            unsafe { libc::kill(pid, sig) };
        };
        // Freeze the root first: it can then start no new child while we look.
        signal(root, libc::SIGSTOP);
        let mut frozen = vec![root];
        let mut next = 0;
        while next < frozen.len() {
            for child in children_of(frozen[next]) {
                if !frozen.contains(&child) {
                    signal(child, libc::SIGSTOP);
                    frozen.push(child);
                }
            }
            next += 1;
        }
        for &pid in &frozen {
            signal(pid, libc::SIGKILL);
        }
        let status = self.child.wait().ok();
        // The descendants went to init; wait until none still runs (a zombie has released
        // everything, and in a container init may never reap it).
        let deadline = Instant::now() + self.grace;
        while frozen[1..].iter().any(|&p| running(p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let left: Vec<i32> = frozen[1..]
            .iter()
            .copied()
            .filter(|&p| running(p))
            .collect();
        if !left.is_empty() {
            tracing::warn!(
                "{}: processes {left:?} still run {:?} after SIGKILL",
                self.what,
                self.grace
            );
        }
        status
    }

    /// Sends `signal` and waits up to the grace period; returns the exit status if it exited.
    pub fn stop_with(&mut self, signal: i32) -> Option<std::process::ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!(
            "{} did not stop within {:?}; killing it",
            self.what,
            self.grace
        );
        let _ = self.child.kill();
        self.child.wait().ok();
        None
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop_with(libc::SIGTERM);
    }
}

/// `/proc/PID/stat` after the command name (which may hold spaces): `state ppid pgrp ...`.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// Whether `pid` exists and is not a zombie.
fn running(pid: i32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|state| state != "Z"))
}

/// The pids whose parent is `parent`.
fn children_of(parent: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            stat_fields(pid).is_some_and(|f| f.get(1).and_then(|p| p.parse().ok()) == Some(parent))
        })
        .collect()
}

/// Finds a program on PATH or in the given extra folders.
pub fn find_program(
    name: &str,
    extra_dirs: &[PathBuf],
    hint: &str,
) -> Result<PathBuf, ServiceError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra_dirs.iter().cloned())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| ServiceError::NotInstalled {
            program: name.to_string(),
            hint: hint.to_string(),
        })
}
