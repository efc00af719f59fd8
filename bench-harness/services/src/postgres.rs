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
    dir: tempfile::TempDir,
    port: u16,
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
        let mut cmd = Command::new(&postgres);
        cmd.arg("-D")
            .arg(&data)
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-k",
            ])
            .arg(dir.path())
            .args(["-c", "max_connections=300"]);
        as_user(&mut cmd);
        let mut server = ChildGuard::spawn("PostgreSQL", &mut cmd, &log, false)?;
        server.wait_until(Duration::from_secs(60), |s| {
            std::fs::read_to_string(s.log_path())
                .map(|t| t.contains("ready to accept connections"))
                .unwrap_or(false)
        })?;
        Ok(ThrowawayPostgres { server, dir, port })
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
