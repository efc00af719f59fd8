//! The reference service as a child process on a free port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::mpsc;
use std::time::Duration;

use crate::process::{ChildGuard, ServiceError};

pub struct ServiceProcess {
    child: ChildGuard,
    base_url: String,
    _logdir: Option<tempfile::TempDir>,
}

/// Where the `reference-app` binary is: `$PERFLAB_SERVICE_BIN`, or beside the running
/// executable (cargo puts every binary of the workspace in one folder; test binaries sit one
/// level down, in `deps/`).
pub fn locate_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PERFLAB_SERVICE_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [
        dir.join("reference-app"),
        dir.parent()?.join("reference-app"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

impl ServiceProcess {
    /// Starts `binary --listen 127.0.0.1:0 ARGS…` and waits for its "listening on" line.
    /// The log goes to `log` (or a temporary file).
    pub fn start(
        binary: &Path,
        args: &[String],
        log: Option<&Path>,
    ) -> Result<ServiceProcess, ServiceError> {
        let (logdir, log_path) = match log {
            Some(p) => (None, p.to_path_buf()),
            None => {
                let d = tempfile::Builder::new()
                    .prefix("perflab-service-")
                    .tempdir()?;
                let p = d.path().join("service.log");
                (Some(d), p)
            }
        };
        let mut cmd = Command::new(binary);
        cmd.args(["--listen", "127.0.0.1:0"]).args(args);
        let mut child = ChildGuard::spawn("reference-app", &mut cmd, &log_path, true)?;
        let stdout = child.child_mut().stdout.take().expect("stdout was piped");
        // Read the first line on a helper thread so a silent child cannot hang us.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = tx.send(first);
            for _ in lines {} // keep draining so the child never blocks on a full pipe
        });
        let mut base_url = None;
        child.wait_until(Duration::from_secs(60), |_| match rx.try_recv() {
            Ok(Some(Ok(line))) => {
                base_url = line.strip_prefix("listening on ").map(str::to_string);
                true
            }
            Ok(_) => true, // stdout closed: the next poll sees the exit
            Err(_) => false,
        })?;
        let base_url = base_url.ok_or_else(|| ServiceError::DiedEarly {
            what: "reference-app".into(),
            status: "no 'listening on' line".into(),
            log_tail: child.log_tail(20),
        })?;
        Ok(ServiceProcess {
            child,
            base_url,
            _logdir: logdir,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address the service listens on (its base URL's host and port), if the line it
    /// printed names one.
    pub fn addr(&self) -> Option<std::net::SocketAddr> {
        self.base_url.trim_start_matches("http://").parse().ok()
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        self.child.log_tail(lines)
    }

    /// SIGKILL, no chance to clean up: what a crashed service leaves behind is what a restart
    /// on the same data finds.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        self.child.kill_tree()
    }

    /// SIGTERM and wait: the graceful path. Returns the exit status.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        self.child.stop_with(libc::SIGTERM)
    }
}
