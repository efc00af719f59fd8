//! The guest's stdout and stderr: never inherited, always captured into a bounded log that the
//! harness writes next to the report (and quotes when the guest traps).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// The log keeps the last lines that fit both limits: a chatty or hostile guest costs at most
/// this much memory (and `plugin.log` at most this much disk), whatever it writes.
const KEEP_LINES: usize = 2000;
const KEEP_BYTES: usize = 1 << 20;
/// Longer lines (from stdout, stderr or `host.log`) are cut, and the cut is said.
const MAX_LINE: usize = 4096;

#[derive(Default)]
struct Lines {
    lines: VecDeque<String>,
    bytes: usize,
    partial: Vec<u8>,
    dropped: u64,
    cut_lines: u64,
}

/// `line` cut to `MAX_LINE` bytes (at a character boundary), saying how much was cut.
fn capped(line: String) -> (String, bool) {
    if line.len() <= MAX_LINE {
        return (line, false);
    }
    let mut end = MAX_LINE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    (
        format!("{} … ({} more bytes cut)", &line[..end], line.len() - end),
        true,
    )
}

/// The plugin's log: captured output and `host.log` messages, last lines kept.
#[derive(Clone, Default)]
pub struct PluginLog(Arc<Mutex<Lines>>);

impl PluginLog {
    pub fn push(&self, line: String) {
        let (line, cut) = capped(line);
        let mut l = self.0.lock().unwrap_or_else(|p| p.into_inner());
        tracing::debug!(target: "plugin", "{line}");
        l.cut_lines += u64::from(cut);
        while !l.lines.is_empty()
            && (l.lines.len() >= KEEP_LINES || l.bytes + line.len() > KEEP_BYTES)
        {
            let old = l.lines.pop_front().expect("not empty");
            l.bytes -= old.len();
            l.dropped += 1;
        }
        l.bytes += line.len();
        l.lines.push_back(line);
    }

    fn write(&self, stream: &str, bytes: &[u8]) {
        let mut complete = Vec::new();
        {
            let mut l = self.0.lock().unwrap_or_else(|p| p.into_inner());
            for &b in bytes {
                if b == b'\n' || l.partial.len() >= MAX_LINE {
                    complete.push(String::from_utf8_lossy(&l.partial).into_owned());
                    l.partial.clear();
                    if b == b'\n' {
                        continue;
                    }
                }
                l.partial.push(b);
            }
        }
        for line in complete {
            self.push(format!("[{stream}] {line}"));
        }
    }

    /// The last `n` lines (plus any unfinished one): for error messages.
    pub fn tail(&self, n: usize) -> String {
        let l = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<String> = l.lines.iter().rev().take(n).rev().cloned().collect();
        if !l.partial.is_empty() {
            out.push(String::from_utf8_lossy(&l.partial).into_owned());
        }
        out.join("\n")
    }

    pub fn all(&self) -> String {
        let l = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut s = String::new();
        if l.dropped > 0 {
            s.push_str(&format!(
                "({} earlier lines dropped: the log keeps the last {KEEP_LINES} lines or {} KiB)\n",
                l.dropped,
                KEEP_BYTES >> 10
            ));
        }
        if l.cut_lines > 0 {
            s.push_str(&format!(
                "({} lines were longer than {MAX_LINE} bytes and were cut)\n",
                l.cut_lines
            ));
        }
        for line in &l.lines {
            s.push_str(line);
            s.push('\n');
        }
        s
    }
}

/// One of the guest's output streams.
#[derive(Clone)]
pub struct GuestOutput {
    log: PluginLog,
    stream: &'static str,
}

impl GuestOutput {
    pub fn new(log: PluginLog, stream: &'static str) -> Self {
        GuestOutput { log, stream }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.log.write(self.stream, &bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        // Always writable: a chatty guest loses old lines, it never blocks or fails.
        Ok(64 * 1024)
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.log.write(self.stream, buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_huge_lines_stays_bounded_and_says_so() {
        let log = PluginLog::default();
        let huge = "x".repeat(4 << 20);
        for _ in 0..50 {
            log.push(huge.clone());
            log.write("stdout", huge.as_bytes());
        }
        let all = log.all();
        assert!(all.len() <= KEEP_BYTES + 4096, "{} bytes kept", all.len());
        assert!(all.contains("earlier lines dropped") && all.contains("were cut"));
        // A multi-byte character at the cut is not split.
        let (line, cut) = capped("é".repeat(3000));
        assert!(cut && line.is_char_boundary(line.len()));
    }
}
