//! A throwaway PostgreSQL cluster: `initdb` into a temporary folder, `postgres` on a free
//! loopback port, trust authentication, removed on drop. PostgreSQL refuses to run as root, so
//! when we are root the server runs as the `postgres` user.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::process::{ChildGuard, ServiceError, find_program, free_port};

pub struct ThrowawayPostgres {
    // Field order matters: the server stops before its folder is removed.
    server: ChildGuard,
    launch: Launch,
    dir: tempfile::TempDir,
    port: u16,
}

/// How the server is started, kept to start it again after a crash.
struct Launch {
    postgres: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    log: PathBuf,
    port: u16,
    user: Option<(u32, u32)>,
}

impl Launch {
    /// Starts the server and waits until its log says it is ready (again, after a crash: the
    /// log is appended to, so the ready lines are counted).
    fn spawn(&self) -> Result<ChildGuard, ServiceError> {
        const READY: &str = "ready to accept connections";
        let ready_before = std::fs::read_to_string(&self.log)
            .map(|t| t.matches(READY).count())
            .unwrap_or(0);
        let mut cmd = Command::new(&self.postgres);
        cmd.arg("-D")
            .arg(&self.data)
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-k",
            ])
            .arg(&self.socket_dir)
            .args(["-c", "max_connections=300"]);
        if let Some((uid, gid)) = self.user {
            cmd.uid(uid).gid(gid);
        }
        let mut server = ChildGuard::spawn("PostgreSQL", &mut cmd, &self.log, false)?;
        server.wait_until(Duration::from_secs(60), |s| {
            std::fs::read_to_string(s.log_path())
                .map(|t| t.matches(READY).count() > ready_before)
                .unwrap_or(false)
        })?;
        Ok(server)
    }
}

/// Debian keeps server binaries out of PATH.
fn server_bin_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.reverse(); // newest major version first
    dirs
}

/// The uid/gid to run the server as: ourselves, or `postgres` when we are root.
fn server_user() -> Result<Option<(u32, u32)>, ServiceError> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Ok(None);
    }
    let name = std::ffi::CString::new("postgres").expect("no NUL");
    // SAFETY: getpwnam returns a pointer into static storage or null; we copy what we need.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(ServiceError::Setup(
            "running as root, and PostgreSQL refuses root: create a `postgres` user (the postgresql package does) or run as another user".into(),
        ));
    }
    // SAFETY: pw is non-null and points to a valid passwd record.
    Ok(Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) }))
}

impl ThrowawayPostgres {
    pub fn start() -> Result<ThrowawayPostgres, ServiceError> {
        let hint = "install PostgreSQL server binaries (Debian: apt-get install postgresql)";
        let dirs = server_bin_dirs();
        let initdb = find_program("initdb", &dirs, hint)?;
        let postgres = find_program("postgres", &dirs, hint).or_else(|_| {
            find_program(
                "postgres",
                &[initdb.parent().unwrap_or(&initdb).to_path_buf()],
                hint,
            )
        })?;
        let user = server_user()?;

        let dir = tempfile::Builder::new().prefix("perflab-pg-").tempdir()?;
        let data = dir.path().join("data");
        let log = dir.path().join("postgres.log");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let as_user = |cmd: &mut Command| {
            if let Some((uid, gid)) = user {
                cmd.uid(uid).gid(gid);
            }
        };

        let mut init = Command::new(&initdb);
        init.args(["-D"]).arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ]);
        as_user(&mut init);
        let out = init.output().map_err(|source| ServiceError::Spawn {
            what: "initdb".into(),
            cause: source,
        })?;
        if !out.status.success() {
            return Err(ServiceError::Setup(format!(
                "initdb failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )));
        }

        let port = free_port()?;
        let launch = Launch {
            postgres,
            data,
            socket_dir: dir.path().to_path_buf(),
            log,
            port,
            user,
        };
        let server = launch.spawn()?;
        Ok(ThrowawayPostgres {
            server,
            launch,
            dir,
            port,
        })
    }

    /// Kills every process of the server at once with SIGKILL — postmaster, backends, WAL
    /// writer, checkpointer, as a power cut would stop them, though the kernel keeps its page
    /// cache — then starts it again on the same data, which runs crash recovery. What an
    /// acknowledged commit survives this is what `synchronous_commit` promises.
    pub fn crash_and_restart(&mut self) -> Result<(), ServiceError> {
        self.kill();
        self.restart()
    }

    /// The first half of [`crash_and_restart`](Self::crash_and_restart): every process killed
    /// at one instant, nothing started yet.
    pub fn kill(&mut self) {
        self.server.kill_tree();
    }

    /// The second half: start again on the same data (crash recovery).
    pub fn restart(&mut self) -> Result<(), ServiceError> {
        self.server = self.launch.spawn()?;
        Ok(())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's "fast shutdown": abort sessions, checkpoint, exit.
        self.server.stop_with(libc::SIGINT);
    }
}
