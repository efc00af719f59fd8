//! A throwaway `redis-server` on a free loopback port, with persistence off.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::process::{ChildGuard, ServiceError, find_program, free_port};

pub struct ThrowawayRedis {
    server: ChildGuard,
    _dir: tempfile::TempDir,
    port: u16,
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

impl ThrowawayRedis {
    pub fn start() -> Result<ThrowawayRedis, ServiceError> {
        let program = find_program(
            "redis-server",
            &[],
            "install Redis (Debian: apt-get install redis-server)",
        )?;
        let dir = tempfile::Builder::new()
            .prefix("perflab-redis-")
            .tempdir()?;
        let port = free_port()?;
        let mut cmd = Command::new(program);
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
        ])
        .arg(dir.path());
        let mut server = ChildGuard::spawn(
            "redis-server",
            &mut cmd,
            &dir.path().join("redis.log"),
            false,
        )?;
        server.wait_until(Duration::from_secs(20), |_| answers_ping(port))?;
        Ok(ThrowawayRedis {
            server,
            _dir: dir,
            port,
        })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.server.pid()
    }
}
