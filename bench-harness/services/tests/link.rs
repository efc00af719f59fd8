//! A slow link really delays traffic in both directions, and leaves nothing behind: no
//! namespace, no interface, no process. Creating one needs root (the CI runs as root); as
//! another user the refusal must say what is missing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use perflab_services::link::{self, LinkSpec, SlowLink};
use perflab_services::redis::ThrowawayRedis;

/// The two tests run one at a time: making a link sweeps stale namespaces, which would take
/// the other test's planted one away before it looks.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn interfaces() -> String {
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_slow_link_delays_both_ways_and_leaves_nothing_behind() {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let spec: LinkSpec = "delay=20ms".parse().unwrap();
    let link = match SlowLink::create(&spec) {
        Ok(link) => link,
        Err(e) => {
            // SAFETY: geteuid has no preconditions.
            assert_ne!(
                unsafe { libc::geteuid() },
                0,
                "root could not make a link: {e}"
            );
            assert!(e.to_string().contains("root"), "{e}");
            return;
        }
    };
    let namespace = link.namespace().to_string();
    assert!(link::namespace_exists(&namespace));
    let redis = ThrowawayRedis::start_behind(&link).expect("redis-server inside the namespace");
    let pid = redis.pid();
    if std::path::Path::new("/usr/bin/setpriv").exists() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        assert!(
            uid.contains("65534"),
            "redis-server should run as nobody: {uid}"
        );
    }
    let addr = redis.address();
    let password = redis
        .password()
        .expect("a server beyond loopback has a password");
    eprintln!("link: {link}; Redis at {addr}");
    // Without the password it answers nothing but an error.
    let mut stranger = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stranger.write_all(b"PING\r\n").unwrap();
    let mut refusal = [0u8; 7];
    stranger.read_exact(&mut refusal).unwrap();
    assert_eq!(&refusal, b"-NOAUTH", "an unauthenticated PING");

    // A TCP handshake is one round trip and a PING another: at least four one-way delays.
    let started = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.write_all(format!("AUTH {password}\r\nPING\r\n").as_bytes())
        .unwrap();
    let mut ok = [0u8; 5];
    s.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    let mut pong = [0u8; 7];
    s.read_exact(&mut pong).unwrap();
    let took = started.elapsed();
    assert_eq!(&pong, b"+PONG\r\n");
    // Once connected, each command is one round trip.
    let mut each = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        s.write_all(b"PING\r\n").unwrap();
        s.read_exact(&mut pong).unwrap();
        each.push(t.elapsed());
    }
    eprintln!("handshake + PING {took:?}; PINGs {each:?}");
    assert!(
        each.iter().all(|t| *t >= Duration::from_millis(39)),
        "{each:?}"
    );
    assert!(
        took >= Duration::from_millis(78),
        "handshake + PING took {took:?} over a 2 × 20 ms link"
    );
    drop(s);

    drop(redis);
    drop(link);
    assert!(
        !link::namespace_exists(&namespace),
        "namespace {namespace} left behind"
    );
    assert!(
        !interfaces().contains(&format!("pl{}h", std::process::id() % 10_000_000)),
        "veth left behind:\n{}",
        interfaces()
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z ")),
        "redis-server {pid} still runs"
    );
}

#[test]
fn a_namespace_left_by_a_dead_harness_is_swept() {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Above the kernel's largest pid (2^22): no live process can own it.
    let name = format!("perflab-{}-0", (1u32 << 22) + 7);
    let made = std::process::Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .unwrap();
    if !made.success() {
        // SAFETY: geteuid has no preconditions.
        assert_ne!(
            unsafe { libc::geteuid() },
            0,
            "root could not add a namespace"
        );
        return;
    }
    assert!(link::namespace_exists(&name));
    let swept = link::sweep_stale();
    assert!(swept.contains(&name), "{swept:?}");
    assert!(!link::namespace_exists(&name));
}
