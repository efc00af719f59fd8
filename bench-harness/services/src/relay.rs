//! A TCP relay that delays every byte by a fixed time in each direction: the delay half of a
//! slow link on a kernel without `sch_netem` (this VM's kernel has HTB and TBF, but no netem).
//!
//! Each direction is a delay line, not stop-and-wait: a reader stamps each chunk with the time
//! it may leave (now + delay) and a writer sends it then, so a stream keeps its throughput and
//! every byte arrives `delay` late, as on a long link. Ordering is kept (TCP's), so there is no
//! jitter. Toxiproxy's `latency` toxic works the same way. Plain threads, not the harness's
//! runtime: a relay's sleeps must not wait behind the load generator's tasks, and it carries
//! few connections (a pooled Redis client holds one or two).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
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
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let listen = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let accepting = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("delay-relay".into())
                .spawn(move || accept_loop(listener, upstream, delay, &stop))?
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

fn accept_loop(listener: TcpListener, upstream: SocketAddr, delay: Duration, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((client, _)) => {
                let _ = client.set_nonblocking(false);
                std::thread::spawn(move || relay(client, upstream, delay));
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
fn relay(client: TcpStream, upstream: SocketAddr, delay: Duration) {
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
    let up = std::thread::spawn(move || delay_line(client, server, delay));
    delay_line(server2, client2, delay);
    let _ = up.join();
}

/// Copies `from` to `to`, each chunk leaving `delay` after it arrived; a close travels the same
/// way (as a FIN would).
fn delay_line(mut from: TcpStream, to: TcpStream, delay: Duration) {
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
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = tx.send((Instant::now() + delay, None));
                break;
            }
            Ok(n) => {
                if tx
                    .send((Instant::now() + delay, Some(buf[..n].to_vec())))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    let _ = writer.join();
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
