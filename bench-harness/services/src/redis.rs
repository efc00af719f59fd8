//! A throwaway `redis-server` with persistence off: on a free loopback port, or inside a
//! [`SlowLink`]'s namespace, reached across the link.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::process::Command;
use std::time::Duration;

use crate::link::{Reach, SlowLink};
use crate::process::{ChildGuard, ServiceError, find_program, free_port};

pub struct ThrowawayRedis {
    server: ChildGuard,
    _dir: tempfile::TempDir,
    host: IpAddr,
    port: u16,
    /// Behind a slow link: where clients connect (the far end, or the relay in front of it).
    reach: Option<Reach>,
    password: Option<String>,
}

fn answers_ping(host: IpAddr, port: u16, password: Option<&str>) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&(host, port).into(), Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if let Some(pw) = password {
        let mut ok = [0u8; 5];
        if s.write_all(format!("AUTH {pw}\r\n").as_bytes()).is_err()
            || s.read_exact(&mut ok).is_err()
            || &ok != b"+OK\r\n"
        {
            return false;
        }
    }
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// 128 random bits as hex, for a server reachable beyond loopback.
fn random_password() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn program() -> Result<std::path::PathBuf, ServiceError> {
    find_program(
        "redis-server",
        &[],
        "install Redis (Debian: apt-get install redis-server)",
    )
}

impl ThrowawayRedis {
    pub fn start() -> Result<ThrowawayRedis, ServiceError> {
        let program = program()?;
        let host = IpAddr::V4(Ipv4Addr::LOCALHOST);
        Self::spawn(Command::new(program), host, free_port()?, None)
    }

    /// Inside `link`'s namespace, where every port is free: the standard one. Reachable from
    /// the host's side of the veth pair, not only from loopback, so it gets a random password
    /// (in [`url`](Self::url)) and, where `setpriv` exists, runs as `nobody` rather than as the
    /// root that made the namespace.
    pub fn start_behind(link: &SlowLink) -> Result<ThrowawayRedis, ServiceError> {
        let program = program()?;
        let password = random_password()?;
        let cmd = match find_program("setpriv", &[], "util-linux") {
            Ok(setpriv) => {
                let mut cmd = link.command(&setpriv);
                cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
                    .arg(&program);
                cmd
            }
            Err(_) => link.command(&program),
        };
        let mut redis = Self::spawn(cmd, IpAddr::V4(link.remote_addr()), 6379, Some(password))?;
        redis.reach = Some(link.reach(6379)?);
        Ok(redis)
    }

    fn spawn(
        mut cmd: Command,
        host: IpAddr,
        port: u16,
        password: Option<String>,
    ) -> Result<ThrowawayRedis, ServiceError> {
        let dir = tempfile::Builder::new()
            .prefix("perflab-redis-")
            .tempdir()?;
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            &host.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
        ])
        .arg(dir.path());
        if let Some(pw) = &password {
            cmd.args(["--requirepass", pw]);
            // Running as `nobody`, it must still be able to enter its folder.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        }
        let mut server = ChildGuard::spawn(
            "redis-server",
            &mut cmd,
            &dir.path().join("redis.log"),
            false,
        )?;
        server.wait_until(Duration::from_secs(20), |_| {
            answers_ping(host, port, password.as_deref())
        })?;
        Ok(ThrowawayRedis {
            server,
            _dir: dir,
            host,
            port,
            reach: None,
            password,
        })
    }

    pub fn url(&self) -> String {
        let auth = self
            .password
            .as_deref()
            .map(|pw| format!(":{pw}@"))
            .unwrap_or_default();
        format!("redis://{auth}{}", self.address())
    }

    /// Where clients connect: the server, or the relay in front of it.
    pub fn address(&self) -> std::net::SocketAddr {
        match &self.reach {
            Some(r) => r.addr,
            None => (self.host, self.port).into(),
        }
    }

    /// Set when the server is reachable beyond loopback (behind a link).
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    pub fn pid(&self) -> u32 {
        self.server.pid()
    }
}
