//! A real slow link on this machine: a network namespace joined to the host by a veth pair,
//! shaped in both directions. A server started inside the namespace ([`SlowLink::command`]) is
//! reached through [`SlowLink::reach`]; every byte to and from it crosses the veth pair.
//!
//! Two ways to shape it, chosen by what the kernel has ([`Shaping`]):
//! - `tc netem` on both veth ends: delay, jitter, rate and loss applied to every packet, so the
//!   kernel's TCP — handshakes, windows, retransmissions — behaves as on a real link;
//! - without `sch_netem` (this VM's kernel has HTB and TBF but no netem): the rate with `tc tbf`
//!   on both ends, and the delay with a [`DelayRelay`] in front of the server, a delay line per
//!   direction, as toxiproxy does. Jitter and loss need netem and are refused with the reason.
//!
//! Nothing leaves the machine: the namespace has no route but the veth pair. It needs root (or
//! `CAP_NET_ADMIN`); without it [`SlowLink::create`] says so and a lab runs its loopback half.
//! Dropping the link deletes the namespace, which deletes both ends of the veth pair and their
//! qdiscs. A harness killed with SIGKILL cannot clean up: the namespace's name holds the pid
//! that made it, and [`sweep_stale`] (called by every `create`) deletes those whose process is
//! gone.
//!
//! Written with `ip` and `tc` (iproute2) rather than a netlink crate: the commands are the ones a
//! reader would type to build the same link by hand, and they are printed in the errors.

use std::fmt;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::process::ServiceError;
use crate::relay::DelayRelay;

/// Every namespace perflab makes starts with this, then `<pid>-<n>`.
const PREFIX: &str = "perflab-";

/// What the link does to each packet, in each direction.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSpec {
    /// One-way delay: a round trip takes twice this.
    pub delay: Duration,
    /// Random variation of the delay (netem's jitter), at most `delay`.
    pub jitter: Duration,
    /// Bandwidth limit in Mbit/s (none: as fast as the veth pair).
    pub rate_mbit: Option<f64>,
    /// Packets dropped, 0–100 %.
    pub loss_percent: f64,
}

impl Default for LinkSpec {
    fn default() -> Self {
        LinkSpec {
            delay: Duration::from_millis(5),
            jitter: Duration::ZERO,
            rate_mbit: None,
            loss_percent: 0.0,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LinkSpecError {
    #[error(
        "link setting {0:?}: expected NAME=VALUE (delay=5ms, jitter=1ms, rate=100mbit, loss=0.1%)"
    )]
    NotAPair(String),
    #[error("link setting {name}: {value:?} is not {expected}")]
    BadValue {
        name: String,
        value: String,
        expected: &'static str,
    },
    #[error("unknown link setting {0:?}: use delay, jitter, rate or loss")]
    Unknown(String),
    #[error("{0}")]
    OutOfRange(String),
}

impl std::str::FromStr for LinkSpec {
    type Err = LinkSpecError;

    /// `delay=5ms,rate=100mbit,loss=0.1%,jitter=1ms`; anything not named keeps its default
    /// (5 ms one way, no jitter, no rate limit, no loss).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut spec = LinkSpec::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| LinkSpecError::NotAPair(part.to_string()))?;
            let bad = |expected| LinkSpecError::BadValue {
                name: name.to_string(),
                value: value.to_string(),
                expected,
            };
            match name.trim() {
                "delay" => {
                    spec.delay = humantime_ms(value).ok_or_else(|| bad("a duration like 5ms"))?
                }
                "jitter" => {
                    spec.jitter = humantime_ms(value).ok_or_else(|| bad("a duration like 1ms"))?
                }
                "rate" => {
                    let number = value
                        .trim()
                        .to_ascii_lowercase()
                        .strip_suffix("mbit")
                        .and_then(|n| n.trim().parse::<f64>().ok())
                        .filter(|r| r.is_finite() && *r > 0.0)
                        .ok_or_else(|| bad("a rate like 100mbit"))?;
                    spec.rate_mbit = Some(number);
                }
                "loss" => {
                    spec.loss_percent = value
                        .trim()
                        .strip_suffix('%')
                        .and_then(|n| n.trim().parse::<f64>().ok())
                        .filter(|l| (0.0..=100.0).contains(l))
                        .ok_or_else(|| bad("a percentage like 0.1%"))?;
                }
                other => return Err(LinkSpecError::Unknown(other.to_string())),
            }
        }
        if spec.delay > Duration::from_secs(10) {
            return Err(LinkSpecError::OutOfRange(
                "link delay above 10 s: every connection would time out".into(),
            ));
        }
        if spec.jitter > spec.delay {
            return Err(LinkSpecError::OutOfRange(format!(
                "link jitter {:?} is larger than its delay {:?}",
                spec.jitter, spec.delay
            )));
        }
        Ok(spec)
    }
}

/// `5ms`, `1.5ms`, `250us`, `2s`.
fn humantime_ms(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix("us").or_else(|| t.strip_suffix("µs")) {
        (n, 1e-6)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        return None;
    };
    let v: f64 = number.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| Duration::from_secs_f64(v * scale))
}

impl fmt::Display for LinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "{:.3} ms each way ({:.3} ms round trip)",
            ms(self.delay),
            2.0 * ms(self.delay)
        )?;
        if !self.jitter.is_zero() {
            write!(f, " ± {:.3} ms", ms(self.jitter))?;
        }
        if let Some(r) = self.rate_mbit {
            write!(f, ", {r} Mbit/s")?;
        }
        if self.loss_percent > 0.0 {
            write!(f, ", {} % loss", self.loss_percent)?;
        }
        Ok(())
    }
}

impl LinkSpec {
    /// netem's arguments for this spec.
    fn netem_args(&self) -> Vec<String> {
        let us = |d: Duration| format!("{}us", d.as_micros());
        let mut args = vec!["netem".to_string(), "delay".into(), us(self.delay)];
        if !self.jitter.is_zero() {
            args.push(us(self.jitter));
        }
        if let Some(r) = self.rate_mbit {
            args.extend([
                "rate".into(),
                format!("{}kbit", (r * 1000.0).round() as u64),
            ]);
        }
        if self.loss_percent > 0.0 {
            args.extend(["loss".into(), format!("{}%", self.loss_percent)]);
        }
        args
    }
}

/// How the link is shaped: in the kernel, or half in user space when the kernel has no netem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shaping {
    /// `tc netem` on both veth ends.
    Netem,
    /// `tc tbf` for the rate, a delaying TCP relay for the delay.
    TbfAndRelay,
}

/// Where a client connects to reach a server behind the link; keeps the relay (if any) alive.
pub struct Reach {
    pub addr: std::net::SocketAddr,
    _relay: Option<DelayRelay>,
}

/// A namespace, its veth pair and their qdiscs; all removed on drop.
pub struct SlowLink {
    namespace: String,
    host_interface: String,
    /// The veth end inside the namespace.
    peer_interface: String,
    host_addr: Ipv4Addr,
    remote_addr: Ipv4Addr,
    spec: LinkSpec,
    shaping: Shaping,
}

static LINKS: AtomicU32 = AtomicU32::new(0);

/// Runs `ip`/`tc` with `args`; a failure names the command and what it printed.
fn run(program: &str, args: &[&str]) -> Result<String, ServiceError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|cause| match cause.kind() {
            std::io::ErrorKind::NotFound => ServiceError::NotInstalled {
                program: program.to_string(),
                hint: "install iproute2 (Debian: apt-get install iproute2)".into(),
            },
            _ => ServiceError::Spawn {
                what: program.to_string(),
                cause,
            },
        })?;
    if !out.status.success() {
        return Err(ServiceError::Setup(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The namespaces perflab made (`perflab-<pid>-<n>`), with the pid that made them.
fn perflab_namespaces() -> Vec<(String, u32)> {
    let Ok(list) = run("ip", &["netns", "list"]) else {
        return Vec::new();
    };
    list.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter_map(|name| {
            let pid = name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()?;
            Some((name.to_string(), pid))
        })
        .collect()
}

/// Deletes the namespaces whose maker is gone (a harness killed with SIGKILL cannot clean up).
/// Returns their names.
pub fn sweep_stale() -> Vec<String> {
    perflab_namespaces()
        .into_iter()
        .filter(|(_, pid)| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        .filter_map(|(name, _)| run("ip", &["netns", "del", &name]).ok().map(|_| name))
        .collect()
}

/// Whether a namespace of this name exists (for tests and for the checks after a run).
pub fn namespace_exists(name: &str) -> bool {
    perflab_namespaces().iter().any(|(n, _)| n == name)
}

/// A /30 for link `n` of process `pid` in 10.213.0.0/16, not one already on an interface here.
fn free_subnet(pid: u32, n: u32) -> Result<(Ipv4Addr, Ipv4Addr), ServiceError> {
    let in_use = run("ip", &["-o", "-4", "addr", "show"]).unwrap_or_default();
    for attempt in 0..64u32 {
        // 16 384 blocks of four addresses; spread by pid so that two harnesses rarely try the
        // same block first.
        let block = (pid.wrapping_mul(2_654_435_761) ^ n.wrapping_mul(40_503) ^ attempt) % 16_384;
        let (third, fourth) = ((block / 64) as u8, ((block % 64) * 4) as u8);
        let host = Ipv4Addr::new(10, 213, third, fourth + 1);
        let remote = Ipv4Addr::new(10, 213, third, fourth + 2);
        if !in_use.contains(&format!("inet {host}/"))
            && !in_use.contains(&format!("inet {remote}/"))
        {
            return Ok((host, remote));
        }
    }
    Err(ServiceError::Setup(
        "no free /30 left in 10.213.0.0/16 for a slow link".into(),
    ))
}

impl SlowLink {
    /// Makes the namespace, the veth pair (one end inside), the addresses, and netem on both
    /// ends. On any failure whatever was made is removed again.
    pub fn create(spec: &LinkSpec) -> Result<SlowLink, ServiceError> {
        sweep_stale();
        let pid = std::process::id();
        let n = LINKS.fetch_add(1, Ordering::Relaxed);
        let (host_addr, remote_addr) = free_subnet(pid, n)?;
        let mut link = SlowLink {
            namespace: format!("{PREFIX}{pid}-{n}"),
            // Interface names are at most 15 bytes.
            host_interface: format!("pl{}h{n}", pid % 10_000_000),
            peer_interface: format!("pl{}n{n}", pid % 10_000_000),
            host_addr,
            remote_addr,
            spec: spec.clone(),
            shaping: Shaping::Netem,
        };
        run("ip", &["netns", "add", &link.namespace]).map_err(|e| match e {
            ServiceError::Setup(m) if m.contains("Permission denied") || m.contains("Operation not permitted") => {
                ServiceError::Setup(format!(
                    "a slow link needs a network namespace, and this user may not make one (run as root, or with CAP_NET_ADMIN): {m}"
                ))
            }
            other => other,
        })?;
        // From here on, dropping `link` removes what exists.
        link.shaping = link.wire()?;
        Ok(link)
    }

    fn wire(&self) -> Result<Shaping, ServiceError> {
        let ns = self.namespace.as_str();
        let host = self.host_interface.as_str();
        let peer = self.peer_interface.as_str();
        run(
            "ip",
            &["link", "add", host, "type", "veth", "peer", "name", peer],
        )?;
        run("ip", &["link", "set", peer, "netns", ns])?;
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/30", self.host_addr),
                "dev",
                host,
            ],
        )?;
        run("ip", &["link", "set", host, "up"])?;
        let in_ns = |args: &[&str]| {
            let mut all = vec!["netns", "exec", ns];
            all.extend_from_slice(args);
            run("ip", &all)
        };
        in_ns(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", self.remote_addr),
            "dev",
            peer,
        ])?;
        in_ns(&["ip", "link", "set", peer, "up"])?;
        in_ns(&["ip", "link", "set", "lo", "up"])?;
        let shape = |args: &[String]| -> Result<(), ServiceError> {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut host_qdisc = vec!["qdisc", "add", "dev", host, "root"];
            host_qdisc.extend_from_slice(&args);
            run("tc", &host_qdisc)?;
            let mut peer_qdisc = vec!["tc", "qdisc", "add", "dev", peer, "root"];
            peer_qdisc.extend_from_slice(&args);
            in_ns(&peer_qdisc).map(|_| ())
        };
        match shape(&self.spec.netem_args()) {
            Ok(()) => Ok(Shaping::Netem),
            Err(ServiceError::Setup(m)) if m.contains("qdisc kind is unknown") => {
                if !self.spec.jitter.is_zero() || self.spec.loss_percent > 0.0 {
                    return Err(ServiceError::Setup(format!(
                        "this kernel has no tc netem (CONFIG_NET_SCH_NETEM), which jitter and \
                         loss need; a delay and a rate work without it ({m})"
                    )));
                }
                if let Some(rate) = self.spec.rate_mbit {
                    shape(&tbf_args(rate))?;
                }
                Ok(Shaping::TbfAndRelay)
            }
            Err(e) => Err(e),
        }
    }

    /// Where to connect to reach `port` on the far end: the far end itself when netem delays
    /// the packets, or a delay relay in front of it.
    pub fn reach(&self, port: u16) -> Result<Reach, ServiceError> {
        let far = std::net::SocketAddr::from((self.remote_addr, port));
        if self.shaping == Shaping::Netem || self.spec.delay.is_zero() {
            return Ok(Reach {
                addr: far,
                _relay: None,
            });
        }
        let relay = DelayRelay::start(far, self.spec.delay)?;
        Ok(Reach {
            addr: relay.listen_addr(),
            _relay: Some(relay),
        })
    }

    pub fn shaping(&self) -> Shaping {
        self.shaping
    }

    /// `program` to be run inside the namespace (`ip netns exec NAME program`): `ip` execs it,
    /// so the child's pid is the program's.
    pub fn command(&self, program: &std::path::Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.namespace]).arg(program);
        cmd
    }

    /// The address of the far end, inside the namespace.
    pub fn remote_addr(&self) -> Ipv4Addr {
        self.remote_addr
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn spec(&self) -> &LinkSpec {
        &self.spec
    }
}

impl fmt::Display for SlowLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match self.shaping {
            Shaping::Netem => "tc netem",
            Shaping::TbfAndRelay if self.spec.rate_mbit.is_some() => {
                "tc tbf for the rate and a delaying TCP relay for the delay (this kernel has no netem)"
            }
            Shaping::TbfAndRelay => "a delaying TCP relay (this kernel has no tc netem)",
        };
        write!(
            f,
            "{} ({how}, on a veth pair into network namespace {}, {} ↔ {})",
            self.spec, self.namespace, self.host_addr, self.remote_addr
        )
    }
}

/// A token bucket at `rate` Mbit/s: a burst of 1/50 s of traffic (at least 16 kB), and packets
/// that would wait longer than 200 ms dropped, as a router's queue would.
fn tbf_args(rate_mbit: f64) -> Vec<String> {
    let bytes_per_second = rate_mbit * 1e6 / 8.0;
    vec![
        "tbf".into(),
        "rate".into(),
        format!("{}kbit", (rate_mbit * 1000.0).round() as u64),
        "burst".into(),
        format!("{}", (bytes_per_second / 50.0).max(16_000.0) as u64),
        "latency".into(),
        "200ms".into(),
    ]
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        // Deleting the namespace deletes the peer end, which deletes the host end and both
        // qdiscs. A process still inside would keep the namespace alive: owners stop their
        // servers first (field order).
        if let Err(e) = run("ip", &["netns", "del", &self.namespace]) {
            tracing::warn!("removing slow link {}: {e}", self.namespace);
        }
        // The host end goes with its peer, but the kernel frees a namespace asynchronously:
        // wait for it (a run reports nothing left behind only when that is true), and remove
        // the end by hand if it stays (or if the namespace was never wired).
        let host_end = std::path::Path::new("/sys/class/net").join(&self.host_interface);
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while host_end.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if host_end.exists() {
            let _ = run("ip", &["link", "del", &self.host_interface]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_read_back() {
        let spec: LinkSpec = "delay=20ms,rate=10mbit,loss=0.5%,jitter=2ms"
            .parse()
            .unwrap();
        assert_eq!(spec.delay, Duration::from_millis(20));
        assert_eq!(spec.rate_mbit, Some(10.0));
        assert_eq!(
            spec.to_string(),
            "20.000 ms each way (40.000 ms round trip) ± 2.000 ms, 10 Mbit/s, 0.5 % loss"
        );
        assert_eq!(
            spec.netem_args(),
            [
                "netem",
                "delay",
                "20000us",
                "2000us",
                "rate",
                "10000kbit",
                "loss",
                "0.5%"
            ]
        );
        assert_eq!("".parse::<LinkSpec>().unwrap(), LinkSpec::default());
        for bad in [
            "delay",
            "delay=5",
            "rate=fast",
            "loss=120%",
            "speed=1ms",
            "delay=1ms,jitter=2ms",
            "delay=60s",
        ] {
            assert!(bad.parse::<LinkSpec>().is_err(), "{bad}");
        }
    }
}
