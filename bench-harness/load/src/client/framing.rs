//! Reading a response: the head parsed in place with `httparse` (hyper's own parser), then the
//! body framed by hand — the framings of RFC 9112 §6.3: none, `Content-Length`, chunked (with
//! `httparse`'s chunk-size parser), or until close. Only as much of a body as the workload asked
//! for is kept; the rest is counted.

use std::io;

use bytes::{Buf, Bytes, BytesMut};
use hyper::HeaderMap;
use hyper::header::{HeaderName, HeaderValue};
use tokio::io::AsyncReadExt;

use super::error::{ClientError, ClosedWhere};
use super::target::Stream;
use crate::workload::BodyNeed;

#[derive(Clone, Copy)]
pub(super) struct ResponseWanted {
    pub need: BodyNeed,
    pub want_headers: bool,
    pub head_request: bool,
}

pub(super) enum Failure {
    /// Nothing came back at all: on a reused connection, the server had closed it.
    Stale(ClientError),
    Other(ClientError),
}

/// What a response needs read, besides its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// A response head, copied out of the read buffer.
pub(super) struct Head {
    pub status: u16,
    pub framing: Framing,
    pub keep_alive: bool,
    pub headers: HeaderMap,
}

/// Response heads larger than this are refused (hyper's default limit is about the same).
pub(super) const MAX_HEAD: usize = 64 * 1024;
pub(super) const MAX_HEADERS: usize = 100;

/// Room for a response head, and for what of a small body arrives with it.
pub(super) const HEAD_READ: usize = 16 * 1024;
/// The most a body read asks for: one read per 64 KiB of a large body (loopback delivers about
/// that much at once) instead of four, and a per-connection buffer that stays small.
const BODY_READ: usize = 64 * 1024;

/// Reads more bytes into `buf`, with room for at least `room`; `Ok(0)` at end of stream.
async fn fill(s: &mut Stream, buf: &mut BytesMut, room: usize) -> io::Result<usize> {
    buf.reserve(room);
    s.read_buf(buf).await
}

pub(super) async fn read_head(
    s: &mut Stream,
    buf: &mut BytesMut,
    wanted: ResponseWanted,
) -> Result<Head, Failure> {
    let mut received_any = !buf.is_empty();
    loop {
        if !buf.is_empty()
            && let Some((head, len)) = parse_head(buf, wanted).map_err(Failure::Other)?
        {
            buf.advance(len);
            return Ok(head);
        }
        if buf.len() > MAX_HEAD {
            return Err(Failure::Other(ClientError::Malformed(format!(
                "response head larger than {MAX_HEAD} bytes"
            ))));
        }
        match fill(s, buf, HEAD_READ).await {
            Ok(0) if !received_any => {
                return Err(Failure::Stale(ClientError::Closed(
                    ClosedWhere::BeforeAnswering,
                )));
            }
            Ok(0) => {
                return Err(Failure::Other(ClientError::Closed(
                    ClosedWhere::MidResponse,
                )));
            }
            Ok(_) => received_any = true,
            Err(source) => {
                let e = ClientError::Io {
                    during: "reading the response",
                    cause: source,
                };
                return Err(if received_any {
                    Failure::Other(e)
                } else {
                    Failure::Stale(e)
                });
            }
        }
    }
}

/// Parses a complete response head at the start of `buf`; `None` if more bytes are needed.
fn parse_head(buf: &[u8], wanted: ResponseWanted) -> Result<Option<(Head, usize)>, ClientError> {
    let malformed = ClientError::Malformed;
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(malformed(e.to_string())),
    };
    let status = response.code.unwrap_or(0);
    let mut content_length = None;
    let mut chunked = false;
    let mut keep_alive = response.version == Some(1);
    let mut headers = HeaderMap::new();
    for h in response.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(h.value).unwrap_or("").trim();
            let n: u64 = text
                .parse()
                .map_err(|_| malformed(format!("Content-Length {text:?}")))?;
            if content_length.is_some_and(|m| m != n) {
                return Err(malformed("conflicting Content-Length headers".into()));
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Only the last coding frames the message (RFC 9112 §6.3).
            chunked = last_token(h.value).eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
        if wanted.want_headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| malformed(format!("header name {name:?}")))?;
            let value = HeaderValue::from_bytes(h.value)
                .map_err(|_| malformed(format!("value of header {name}")))?;
            headers.append(name, value);
        }
    }
    let framing = if wanted.head_request || matches!(status, 100..=199 | 204 | 304) {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = content_length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    Ok(Some((
        Head {
            status,
            framing,
            keep_alive,
            headers,
        },
        len,
    )))
}

fn last_token(value: &[u8]) -> &[u8] {
    value
        .rsplit(|&b| b == b',')
        .next()
        .unwrap_or(b"")
        .trim_ascii()
}

/// Keeps the part of a body the workload asked for, and counts the rest.
struct BodySink {
    keep: usize,
    kept: BytesMut,
    len: u64,
}

impl BodySink {
    fn new(need: BodyNeed) -> Self {
        let keep = match need {
            BodyNeed::None => 0,
            BodyNeed::Prefix(n) => n,
            BodyNeed::All => usize::MAX,
        };
        BodySink {
            keep,
            kept: BytesMut::new(),
            len: 0,
        }
    }
    fn take(&mut self, data: &[u8]) {
        self.len += data.len() as u64;
        if self.kept.len() < self.keep {
            let n = (self.keep - self.kept.len()).min(data.len());
            self.kept.extend_from_slice(&data[..n]);
        }
    }
    /// Consumes up to `n` bytes from the front of `buf`; returns how many.
    fn take_from(&mut self, buf: &mut BytesMut, n: u64) -> u64 {
        let n = n.min(buf.len() as u64) as usize;
        self.take(&buf[..n]);
        buf.advance(n);
        n as u64
    }
    fn finish(self) -> (Bytes, u64) {
        (self.kept.freeze(), self.len)
    }
}

/// Reads more of a body into `buf`, expecting about `expected` more bytes; `Ok(false)` at end
/// of stream.
async fn more_body(s: &mut Stream, buf: &mut BytesMut, expected: u64) -> Result<bool, ClientError> {
    let room = expected.clamp(HEAD_READ as u64, BODY_READ as u64) as usize;
    match fill(s, buf, room).await {
        Ok(n) => Ok(n > 0),
        Err(source) => Err(ClientError::Io {
            during: "reading the response body",
            cause: source,
        }),
    }
}

pub(super) async fn read_sized(
    s: &mut Stream,
    buf: &mut BytesMut,
    mut remaining: u64,
    need: BodyNeed,
) -> Result<(Bytes, u64), ClientError> {
    let mut sink = BodySink::new(need);
    loop {
        remaining -= sink.take_from(buf, remaining);
        if remaining == 0 {
            return Ok(sink.finish());
        }
        if !more_body(s, buf, remaining).await? {
            return Err(ClientError::Closed(ClosedWhere::MidBody));
        }
    }
}

pub(super) async fn read_to_close(
    s: &mut Stream,
    buf: &mut BytesMut,
    need: BodyNeed,
) -> Result<(Bytes, u64), ClientError> {
    let mut sink = BodySink::new(need);
    loop {
        sink.take_from(buf, u64::MAX);
        if !more_body(s, buf, u64::MAX).await? {
            return Ok(sink.finish());
        }
    }
}

pub(super) async fn read_chunked(
    s: &mut Stream,
    buf: &mut BytesMut,
    need: BodyNeed,
) -> Result<(Bytes, u64), ClientError> {
    let mut sink = BodySink::new(need);
    // Bytes of the current chunk still to read, then its CRLF.
    let mut in_chunk: u64 = 0;
    let mut crlf_due = false;
    let mut last_chunk = false;
    loop {
        if in_chunk > 0 {
            in_chunk -= sink.take_from(buf, in_chunk);
        }
        if in_chunk == 0 && crlf_due && buf.len() >= 2 {
            if &buf[..2] != b"\r\n" {
                return Err(ClientError::Malformed(
                    "chunked body: no CRLF after a chunk".into(),
                ));
            }
            buf.advance(2);
            crlf_due = false;
        }
        if in_chunk == 0 && !crlf_due && !last_chunk {
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((used, size))) => {
                    buf.advance(used);
                    if size == 0 {
                        last_chunk = true;
                    } else {
                        in_chunk = size;
                        crlf_due = true;
                        continue;
                    }
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => {
                    return Err(ClientError::Malformed(
                        "chunked body: bad chunk size".into(),
                    ));
                }
            }
        }
        if last_chunk {
            // Trailer fields, if any, then an empty line.
            if buf.starts_with(b"\r\n") {
                buf.advance(2);
                return Ok(sink.finish());
            }
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                buf.advance(end + 4);
                return Ok(sink.finish());
            }
        }
        if buf.len() > MAX_HEAD && (last_chunk || in_chunk == 0) {
            return Err(ClientError::Malformed(
                "chunked body: chunk header or trailers too long".into(),
            ));
        }
        if !more_body(s, buf, in_chunk).await? {
            return Err(ClientError::Closed(ClosedWhere::MidBody));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(need: BodyNeed) -> ResponseWanted {
        ResponseWanted {
            need,
            want_headers: true,
            head_request: false,
        }
    }

    #[test]
    fn head_framing_follows_rfc_9112() {
        let cases: [(&[u8], Framing, bool); 6] = [
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
                Framing::Length(5),
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                Framing::Chunked,
                true,
            ),
            (
                b"HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n",
                Framing::Empty,
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
                Framing::UntilClose,
                false,
            ),
            (
                b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n",
                Framing::Length(0),
                false,
            ),
            (
                b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n",
                Framing::Length(0),
                true,
            ),
        ];
        for (raw, framing, keep_alive) in cases {
            let (head, len) = parse_head(raw, wanted(BodyNeed::None)).unwrap().unwrap();
            assert_eq!(len, raw.len());
            assert_eq!(head.framing, framing, "{}", String::from_utf8_lossy(raw));
            assert_eq!(
                head.keep_alive,
                keep_alive,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        let partial = b"HTTP/1.1 200 OK\r\ncontent-len";
        assert!(
            parse_head(partial, wanted(BodyNeed::None))
                .unwrap()
                .is_none()
        );
        assert!(
            parse_head(
                b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
                wanted(BodyNeed::None)
            )
            .is_err()
        );
        assert!(parse_head(b"garbage\r\n\r\n", wanted(BodyNeed::None)).is_err());
    }
}
