//! A controlled HTTP server for testing the measurement itself: a fixed delay per request, a
//! gate that can stall every request at once, and optionally a bounded number of workers (a
//! server of known capacity: workers / delay). Plain threads and `nanosleep`, so its delay is
//! what it says (tokio's millisecond timer would add up to a millisecond).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub struct TestServer {
    pub addr: SocketAddr,
    delay_us: Arc<AtomicU64>,
    /// The status every answer carries (200 unless changed).
    status: Arc<AtomicU64>,
    gate: Arc<Mutex<()>>,
    stop: Arc<AtomicBool>,
    workers: Arc<Workers>,
}

/// At most `limit` requests are served at once; the others queue, as at a thread pool. Also
/// counts what was served and the time spent serving it, so a test knows the true capacity.
#[derive(Default)]
struct Workers {
    /// `None`: unbounded.
    limit: Option<usize>,
    busy: Mutex<usize>,
    freed: Condvar,
    served: AtomicU64,
    busy_nanos: AtomicU64,
}

impl Workers {
    fn serve(&self, work: impl FnOnce()) {
        if let Some(limit) = self.limit {
            let mut busy = self.busy.lock().unwrap();
            while *busy >= limit {
                busy = self.freed.wait(busy).unwrap();
            }
            *busy += 1;
        }
        let started = Instant::now();
        work();
        self.busy_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.served.fetch_add(1, Ordering::Relaxed);
        if self.limit.is_some() {
            *self.busy.lock().unwrap() -= 1;
            self.freed.notify_one();
        }
    }
}

impl TestServer {
    pub fn start(delay: Duration) -> TestServer {
        TestServer::start_with(delay, Workers::default())
    }

    /// A server of known capacity: `workers` requests served at once, each taking `delay`.
    pub fn with_workers(delay: Duration, workers: usize) -> TestServer {
        TestServer::start_with(
            delay,
            Workers {
                limit: Some(workers),
                ..Workers::default()
            },
        )
    }

    /// Requests served so far, and the mean time one took to serve (the queue left out).
    pub fn served(&self) -> (u64, Duration) {
        let n = self.workers.served.load(Ordering::Relaxed);
        let busy = self.workers.busy_nanos.load(Ordering::Relaxed);
        (n, Duration::from_nanos(busy / n.max(1)))
    }

    fn start_with(delay: Duration, workers: Workers) -> TestServer {
        let workers = Arc::new(workers);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let delay_us = Arc::new(AtomicU64::new(delay.as_micros() as u64));
        let gate = Arc::new(Mutex::new(()));
        let stop = Arc::new(AtomicBool::new(false));
        let status = Arc::new(AtomicU64::new(200));
        let (d, g, s, st) = (delay_us.clone(), gate.clone(), stop.clone(), status.clone());
        let w = workers.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (d, g, st, w) = (d.clone(), g.clone(), st.clone(), w.clone());
                std::thread::spawn(move || serve(stream, &d, &g, &st, &w));
            }
        });
        TestServer {
            addr,
            delay_us,
            status,
            gate,
            stop,
            workers,
        }
    }

    /// Every later answer carries this status.
    pub fn answer_with(&self, status: u16) {
        self.status.store(status as u64, Ordering::Relaxed);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Holds the gate for `d`: every request arriving meanwhile waits.
    pub fn stall_after(&self, after: Duration, d: Duration) {
        let gate = self.gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            let _held = gate.lock().unwrap();
            std::thread::sleep(d);
        });
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr); // wake the accept loop
    }
}

fn serve(
    stream: TcpStream,
    delay_us: &AtomicU64,
    gate: &Mutex<()>,
    status: &AtomicU64,
    workers: &Workers,
) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut content_length = 0usize;
        let mut line = String::new();
        // Request line and headers.
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                content_length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        drop(gate.lock().unwrap());
        let delay = delay_us.load(Ordering::Relaxed);
        workers.serve(|| {
            if delay > 0 {
                std::thread::sleep(Duration::from_micros(delay));
            }
        });
        let head = format!(
            "HTTP/1.1 {} X\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok",
            status.load(Ordering::Relaxed)
        );
        if writer.write_all(head.as_bytes()).is_err() {
            return;
        }
    }
}
