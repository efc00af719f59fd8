//! A TCP relay that delays every byte by a fixed time in each direction: the delay half of a
//! slow link on a kernel without `sch_netem` (this VM's kernel has HTB and TBF, but no netem).
//!
//! Each direction is a delay line, not stop-and-wait: a reader stamps each chunk with the time
//! it may leave (now + delay) and a writer sends it then, so a stream keeps its throughput and
//! every byte arrives `delay` late, as on a long link. Ordering is kept (TCP's), so there is no
//! jitter. Toxiproxy's `latency` toxic works the same way. Plain threads, not the harness's
//! runtime: a relay's sleeps must not wait behind the load generator's tasks, and it carries
//! few connections (a pooled Redis client holds one or two).
//!
//! With a rate ([`DelayRelay::shaped`]) each direction is also a link of that bandwidth: a chunk
//! starts "on the wire" when the previous one has left, takes `bytes · 8 / rate` to send, and
//! arrives `delay` after that — serialisation then propagation, as toxiproxy's `bandwidth`
//! toxic. Used where no veth pair carries the traffic (the service's own link, its upstream's),
//! so `tc tbf` cannot shape it.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Listens on a free loopback port; each connection is relayed to `upstream`.
pub struct DelayRelay {
    listen: SocketAddr,
    stop: Arc<AtomicBool>,
    accepting: Option<JoinHandle<()>>,
}

impl DelayRelay {
    pub fn start(upstream: SocketAddr, delay: Duration) -> std::io::Result<DelayRelay> {
        DelayRelay::shaped(upstream, delay, None)
    }

    /// A delay line that is also `rate_mbit` wide in each direction (`None`: no limit).
    pub fn shaped(
        upstream: SocketAddr,
        delay: Duration,
        rate_mbit: Option<f64>,
    ) -> std::io::Result<DelayRelay> {
        let line = || Line {
            delay,
            bytes_per_second: rate_mbit.map(|r| r * 1e6 / 8.0),
            free_at: Arc::new(Mutex::new(Instant::now())),
        };
        // One line per direction, shared by every connection: a link's bandwidth is the sum
        // over its connections, not a budget each.
        let link = Link {
            to_server: line(),
            to_client: line(),
        };
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let listen = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let accepting = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("delay-relay".into())
                .spawn(move || accept_loop(listener, upstream, link, &stop))?
        };
        Ok(DelayRelay {
            listen,
            stop,
            accepting: Some(accepting),
        })
    }

    /// Where clients connect instead of the upstream.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }
}

impl Drop for DelayRelay {
    fn drop(&mut self) {
        // Stops accepting; open connections end when either side closes (their threads are
        // detached and hold only their sockets).
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accepting.take() {
            let _ = t.join();
        }
    }
}

/// Both directions of the link.
#[derive(Debug, Clone)]
struct Link {
    to_server: Line,
    to_client: Line,
}

/// One direction of the link: how late a byte arrives, and how fast bytes leave.
#[derive(Debug, Clone)]
struct Line {
    delay: Duration,
    bytes_per_second: Option<f64>,
    /// When the line is free to send the next chunk (shared by the link's connections).
    free_at: Arc<Mutex<Instant>>,
}

impl Line {
    /// When a chunk of `n` bytes read now arrives: it waits for the line, takes its
    /// serialisation time, then the delay.
    fn arrival(&self, n: usize) -> Instant {
        let now = Instant::now();
        let Some(rate) = self.bytes_per_second else {
            return now + self.delay;
        };
        let mut free_at = self.free_at.lock().expect("line lock");
        let start = now.max(*free_at);
        *free_at = start + Duration::from_secs_f64(n as f64 / rate);
        *free_at + self.delay
    }
}

fn accept_loop(listener: TcpListener, upstream: SocketAddr, link: Link, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((client, _)) => {
                let _ = client.set_nonblocking(false);
                let link = link.clone();
                std::thread::spawn(move || relay(client, upstream, link));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => {
                tracing::warn!("delay relay: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// One connection: connect to the upstream *after* the delay (the SYN crosses the link too),
/// then a delay line each way.
fn relay(client: TcpStream, upstream: SocketAddr, link: Link) {
    let delay = link.to_server.delay;
    std::thread::sleep(delay);
    let server = match TcpStream::connect_timeout(&upstream, Duration::from_secs(10)) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("delay relay: cannot reach {upstream}: {e}");
            return;
        }
    };
    // The SYN-ACK's way back.
    std::thread::sleep(delay);
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let Link {
        to_server,
        to_client,
    } = link;
    let up = std::thread::spawn(move || delay_line(client, server, to_server));
    delay_line(server2, client2, to_client);
    let _ = up.join();
}

/// Copies `from` to `to`, each chunk leaving `delay` after it arrived; a close travels the same
/// way (as a FIN would).
fn delay_line(mut from: TcpStream, to: TcpStream, link: Line) {
    // Bounded: when the far side is slower than the near one (a rate-limited link), the reader
    // stops reading and TCP's own backpressure reaches the sender, instead of the relay
    // queueing without end (64 chunks of at most 64 KiB).
    let (tx, rx) = mpsc::sync_channel::<(Instant, Option<Vec<u8>>)>(64);
    let writer = {
        let mut to2 = match to.try_clone() {
            Ok(t) => t,
            Err(_) => return,
        };
        std::thread::spawn(move || {
            for (due, chunk) in rx {
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                match chunk {
                    Some(bytes) => {
                        if to2.write_all(&bytes).is_err() {
                            break;
                        }
                    }
                    None => break,
                }
            }
            let _ = to2.shutdown(Shutdown::Write);
        })
    };
    // Smaller chunks on a rate-limited line, so that a big read does not leave as one burst.
    let chunk = if link.bytes_per_second.is_some() {
        16
    } else {
        64
    };
    let mut buf = vec![0u8; chunk * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = tx.send((link.arrival(0), None));
                break;
            }
            Ok(n) => {
                if tx.send((link.arrival(n), Some(buf[..n].to_vec()))).is_err() {
                    break;
                }
            }
        }
    }
    let _ = writer.join();
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(rate_bytes: Option<f64>) -> Line {
        Line {
            delay: Duration::from_millis(5),
            bytes_per_second: rate_bytes,
            free_at: Arc::new(Mutex::new(Instant::now())),
        }
    }

    #[test]
    fn a_rate_limited_line_serialises_chunks_then_delays_them() {
        // 8 Mbit/s: a megabyte a second, so 1000 bytes take 1 ms on the wire.
        let line = line(Some(1e6));
        let t0 = Instant::now();
        let first = line.arrival(1_000);
        // Another connection's chunk on the same line waits for the first to leave.
        let shared = line.clone();
        let second = shared.arrival(1_000);
        let gap = second.duration_since(first);
        assert!(
            gap >= Duration::from_micros(999) && gap <= Duration::from_micros(1_100),
            "{gap:?}"
        );
        assert!(first.duration_since(t0) >= Duration::from_millis(6));
    }

    #[test]
    fn without_a_rate_only_the_delay() {
        let unlimited = line(None);
        let before = Instant::now();
        let a = unlimited.arrival(1_000_000);
        // A megabyte arrives one delay after it was read, as one byte would.
        assert!(a.duration_since(before) >= Duration::from_millis(5));
        assert!(
            *unlimited.free_at.lock().unwrap() <= before,
            "no rate: the line is never busy"
        );
    }
}
