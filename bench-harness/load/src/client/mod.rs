//! The HTTP client: one keep-alive HTTP/1.1 connection per virtual user, driven inside the
//! virtual user's own task.
//!
//! Why not hyper's client here (the harness used it before): hyper runs each connection as a
//! separate task and hands every request and response across channels, so each request costs
//! two task wake-ups, a `Request` with its `HeaderMap`, and a timer. On a 2-core machine every
//! microsecond the load generator spends is taken from the service under test. This client does
//! what wrk does instead. Its four jobs, one module each: where to connect (`target`: address,
//! rustls for `https://`), what to write (`encode`: the head from a reused buffer, checked
//! against smuggling), how to read the answer (`framing`: the head parsed in place with
//! httparse, the body framed by hand), and the connection with its timeout (here). Response
//! headers become a `HeaderMap` only when the workload reads them.

mod encode;
mod error;
mod framing;
mod target;

use std::io;
use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::{HeaderMap, Method};
use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, Sleep};

pub use error::{ClientError, ClosedWhere, TargetError, TransportKind};
pub use target::{Target, Tls};

use encode::{COALESCE_BODY, encode};
use framing::{
    Failure, Framing, HEAD_READ, ResponseWanted, read_chunked, read_head, read_sized, read_to_close,
};
use target::{Stream, connect};

use crate::workload::{BodyNeed, RequestSpec};

pub struct Answer {
    pub status: u16,
    /// Empty unless the caller asked for headers.
    pub headers: HeaderMap,
    /// As much of the body as the workload asked for.
    pub body: Bytes,
    pub body_len: u64,
}

pub struct Connection {
    target: Target,
    stream: Option<Stream>,
    /// The request being written; reused so a request allocates nothing here.
    out: Vec<u8>,
    /// Bytes read and not yet consumed.
    buf: BytesMut,
    /// A lazily re-armed timer: one per connection instead of one per request.
    ///
    /// A `tokio::time::timeout` per request registers and cancels a timer each time. Here a
    /// request only computes its deadline; the timer fires at most once per timeout period,
    /// and when it fires early it is re-armed for the current deadline.
    watchdog: Option<Pin<Box<Sleep>>>,
}

impl Connection {
    pub fn new(target: Target) -> Self {
        Connection {
            target,
            stream: None,
            out: Vec::with_capacity(256),
            buf: BytesMut::with_capacity(HEAD_READ),
            watchdog: None,
        }
    }

    /// Sends one request and reads the whole response (required to reuse the connection).
    /// `want_headers`: copy the response headers into [`Answer::headers`].
    pub async fn send(
        &mut self,
        spec: &RequestSpec,
        need: BodyNeed,
        want_headers: bool,
        timeout: Duration,
    ) -> Result<Answer, ClientError> {
        encode(spec, &self.target.host, &mut self.out)?;
        let deadline = Instant::now() + timeout;
        let watchdog = self
            .watchdog
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        // Firing early is harmless (it re-arms); firing late is not, e.g. after a call with a
        // longer timeout on this connection.
        if watchdog.deadline() > deadline {
            watchdog.as_mut().reset(deadline);
        }
        let result = {
            let io = round_trip(
                &self.target,
                &mut self.stream,
                &self.out,
                &spec.body,
                &mut self.buf,
                ResponseWanted {
                    need,
                    want_headers,
                    head_request: spec.method == Method::HEAD,
                },
            );
            tokio::pin!(io);
            loop {
                tokio::select! {
                    biased;
                    r = &mut io => break r,
                    _ = watchdog.as_mut() => {
                        if Instant::now() >= deadline {
                            break Err(ClientError::Timeout(timeout));
                        }
                        watchdog.as_mut().reset(deadline);
                    }
                }
            }
        };
        if result.is_err() {
            // The connection is in an unknown state (an error, or a timeout mid-exchange): the
            // next request opens a new one, which also clears the read buffer.
            self.stream = None;
        }
        result
    }
}

/// Writes the request and reads the response, reconnecting once if a kept-alive connection
/// turns out to have been closed by the server before it answered (as browsers and curl do).
async fn round_trip(
    target: &Target,
    stream: &mut Option<Stream>,
    head: &[u8],
    body: &Bytes,
    buf: &mut BytesMut,
    wanted: ResponseWanted,
) -> Result<Answer, ClientError> {
    let mut reused = stream.is_some();
    loop {
        if stream.is_none() {
            *stream = Some(connect(target).await?);
            buf.clear();
        }
        let s = stream.as_mut().expect("just connected");
        match exchange(s, head, body, buf, wanted).await {
            Ok((answer, keep_alive)) => {
                if !keep_alive {
                    *stream = None;
                }
                return Ok(answer);
            }
            Err(Failure::Stale(_)) if reused => {
                *stream = None;
                reused = false;
            }
            Err(Failure::Stale(e) | Failure::Other(e)) => return Err(e),
        }
    }
}

async fn exchange(
    s: &mut Stream,
    head: &[u8],
    body: &Bytes,
    buf: &mut BytesMut,
    wanted: ResponseWanted,
) -> Result<(Answer, bool), Failure> {
    let stale = |source: io::Error| {
        Failure::Stale(ClientError::Io {
            during: "sending the request",
            cause: source,
        })
    };
    s.write_all(head).await.map_err(stale)?;
    if body.len() > COALESCE_BODY {
        s.write_all(body).await.map_err(stale)?;
    }
    // TLS buffers records; a plain socket's flush does nothing.
    s.flush().await.map_err(stale)?;
    let head = loop {
        let head = read_head(s, buf, wanted).await?;
        // Interim responses (100 Continue, 103 Early Hints) precede the real one.
        if !(100..200).contains(&head.status) {
            break head;
        }
        if head.status == 101 {
            return Err(Failure::Other(ClientError::Malformed(
                "the server switched protocols (101)".into(),
            )));
        }
    };
    let other = Failure::Other;
    let (kept, body_len) = match head.framing {
        Framing::Empty => (Bytes::new(), 0),
        Framing::Length(n) => read_sized(s, buf, n, wanted.need).await.map_err(other)?,
        Framing::Chunked => read_chunked(s, buf, wanted.need).await.map_err(other)?,
        Framing::UntilClose => read_to_close(s, buf, wanted.need).await.map_err(other)?,
    };
    let keep_alive = head.keep_alive && head.framing != Framing::UntilClose;
    Ok((
        Answer {
            status: head.status,
            headers: head.headers,
            body: kept,
            body_len,
        },
        keep_alive,
    ))
}
