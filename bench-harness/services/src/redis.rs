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
}

fn answers_ping(host: IpAddr, port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&(host, port).into(), Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
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
        Self::spawn(Command::new(program), host, free_port()?)
    }

    /// Inside `link`'s namespace, where every port is free: the standard one.
    pub fn start_behind(link: &SlowLink) -> Result<ThrowawayRedis, ServiceError> {
        let program = program()?;
        let mut redis = Self::spawn(link.command(&program), IpAddr::V4(link.remote_addr()), 6379)?;
        redis.reach = Some(link.reach(6379)?);
        Ok(redis)
    }

    fn spawn(mut cmd: Command, host: IpAddr, port: u16) -> Result<ThrowawayRedis, ServiceError> {
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
            // Protected mode refuses clients from anywhere but loopback when there is no
            // password; behind a link the only other end is our own namespace's veth.
            "--protected-mode",
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
        server.wait_until(Duration::from_secs(20), |_| answers_ping(host, port))?;
        Ok(ThrowawayRedis {
            server,
            _dir: dir,
            host,
            port,
            reach: None,
        })
    }

    pub fn url(&self) -> String {
        match &self.reach {
            Some(r) => format!("redis://{}", r.addr),
            None => format!("redis://{}:{}", self.host, self.port),
        }
    }

    pub fn pid(&self) -> u32 {
        self.server.pid()
    }
}
