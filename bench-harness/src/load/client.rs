//! The HTTP client: one keep-alive HTTP/1.1 connection per virtual user, driven inside the
//! virtual user's own task.
//!
//! Why not hyper's client here (the harness used it before): hyper runs each connection as a
//! separate task and hands every request and response across channels, so each request costs
//! two task wake-ups, a `Request` with its `HeaderMap`, and a timer. On a 2-core machine every
//! microsecond the load generator spends is taken from the service under test. This client does
//! what wrk does instead: it writes the request from a reused buffer, parses the response head
//! in place with `httparse` (hyper's own parser), and frames the body by hand — the three
//! framings of RFC 9112 §6.3 (no body, `Content-Length`, chunked via `httparse`'s chunk-size
//! parser, or until close). Response headers become a `HeaderMap` only when the workload reads
//! them. `https://` targets go through rustls, with the public web roots or, with `--insecure`,
//! any certificate (a test server's self-signed one).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

use crate::workload::{BodyNeed, RequestSpec};

#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: HeaderValue,
    /// e.g. `http://127.0.0.1:8080`, for messages and reports.
    pub base_url: String,
    /// For `https://` targets.
    pub tls: Option<Tls>,
}

#[derive(Clone)]
pub struct Tls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
    insecure: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tls({:?})", self.server_name)
    }
}

impl Target {
    /// Parses `http[s]://host:port[/path]` and resolves it; returns the target and the path.
    /// `insecure`: accept any certificate from an `https://` target.
    pub async fn resolve(url: &str, insecure: bool) -> Result<(Target, String), String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL {url:?}: {e}"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(format!(
                    "{url}: scheme {other} is not supported; use http:// or https://"
                ));
            }
            None => return Err(format!("{url}: add a scheme, e.g. http://{url}")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{url}: no host"))?
            .clone();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .map_err(|e| format!("cannot resolve {}: {e}", authority.host()))?
            .next()
            .ok_or_else(|| format!("{} resolves to no address", authority.host()))?;
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let tls = if https {
            // `[::1]` is written with brackets in URLs, not in a server name.
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            let server_name = ServerName::try_from(host.to_string())
                .map_err(|e| format!("{url}: {host} is not a valid TLS server name: {e}"))?;
            Some(Tls {
                connector: TlsConnector::from(tls_config(insecure)?),
                server_name,
                insecure,
            })
        } else {
            None
        };
        Ok((
            Target {
                addr,
                host: HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?,
                base_url: format!("{}://{authority}", if https { "https" } else { "http" }),
                tls,
            },
            path,
        ))
    }
}

fn tls_config(insecure: bool) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `--insecure`: any certificate, as `curl -k` or k6's `insecureSkipTLSVerify`. Signatures are
/// still checked, so the handshake is a real one and costs what it costs.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A plain or a TLS connection; `Either` forwards reads and writes to whichever it is.
type Stream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

async fn connect(target: &Target) -> Result<Stream, String> {
    let tcp = TcpStream::connect(target.addr)
        .await
        .map_err(|e| format!("connect {}: {e}", target.addr))?;
    let _ = tcp.set_nodelay(true);
    Ok(match &target.tls {
        None => Either::Left(tcp),
        Some(tls) => Either::Right(Box::new(
            tls.connector
                .connect(tls.server_name.clone(), tcp)
                .await
                .map_err(|e| {
                    let hint = if !tls.insecure && e.to_string().contains("certificate") {
                        " (a test server's self-signed certificate? -k accepts any)"
                    } else {
                        ""
                    };
                    format!("TLS handshake with {}: {e}{hint}", target.base_url)
                })?,
        )),
    })
}

pub struct Answer {
    pub status: u16,
    /// Empty unless the caller asked for headers.
    pub headers: HeaderMap,
    /// As much of the body as the workload asked for.
    pub body: Bytes,
    pub body_len: u64,
}

/// What a response needs read, besides its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// A response head, copied out of the read buffer.
struct Head {
    status: u16,
    framing: Framing,
    keep_alive: bool,
    headers: HeaderMap,
}

/// Response heads larger than this are refused (hyper's default limit is about the same).
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;
/// Request bodies up to this size are copied behind the head and sent in one write.
const COALESCE_BODY: usize = 64 * 1024;

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
    ) -> Result<Answer, String> {
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
                            break Err(format!("timeout after {timeout:?}"));
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

#[derive(Clone, Copy)]
struct ResponseWanted {
    need: BodyNeed,
    want_headers: bool,
    head_request: bool,
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
) -> Result<Answer, String> {
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

enum Failure {
    /// Nothing came back at all: on a reused connection, the server had closed it.
    Stale(String),
    Other(String),
}

async fn exchange(
    s: &mut Stream,
    head: &[u8],
    body: &Bytes,
    buf: &mut BytesMut,
    wanted: ResponseWanted,
) -> Result<(Answer, bool), Failure> {
    let stale = |e: io::Error| Failure::Stale(format!("sending the request: {e}"));
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
            return Err(Failure::Other("the server switched protocols (101)".into()));
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

/// Room for a response head, and for what of a small body arrives with it.
const HEAD_READ: usize = 16 * 1024;
/// The most a body read asks for: one read per 64 KiB of a large body (loopback delivers about
/// that much at once) instead of four, and a per-connection buffer that stays small.
const BODY_READ: usize = 64 * 1024;

/// Reads more bytes into `buf`, with room for at least `room`; `Ok(0)` at end of stream.
async fn fill(s: &mut Stream, buf: &mut BytesMut, room: usize) -> io::Result<usize> {
    buf.reserve(room);
    s.read_buf(buf).await
}

async fn read_head(
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
            return Err(Failure::Other(format!(
                "response head larger than {MAX_HEAD} bytes"
            )));
        }
        match fill(s, buf, HEAD_READ).await {
            Ok(0) if !received_any => {
                return Err(Failure::Stale(
                    "the server closed the connection without answering".into(),
                ));
            }
            Ok(0) => {
                return Err(Failure::Other(
                    "the server closed the connection mid-response".into(),
                ));
            }
            Ok(_) => received_any = true,
            Err(e) if !received_any => {
                return Err(Failure::Stale(format!("reading the response: {e}")));
            }
            Err(e) => return Err(Failure::Other(format!("reading the response: {e}"))),
        }
    }
}

/// Parses a complete response head at the start of `buf`; `None` if more bytes are needed.
fn parse_head(buf: &[u8], wanted: ResponseWanted) -> Result<Option<(Head, usize)>, String> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("malformed response from the server: {e}")),
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
                .map_err(|_| format!("malformed Content-Length {text:?} from the server"))?;
            if content_length.is_some_and(|m| m != n) {
                return Err("conflicting Content-Length headers from the server".into());
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
                .map_err(|_| format!("malformed response header name {name:?}"))?;
            let value = HeaderValue::from_bytes(h.value)
                .map_err(|_| format!("malformed value of response header {name}"))?;
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

const CLOSED_MID_BODY: &str = "the server closed the connection mid-body";

/// Reads more of a body into `buf`, expecting about `expected` more bytes; `Ok(false)` at end
/// of stream.
async fn more_body(s: &mut Stream, buf: &mut BytesMut, expected: u64) -> Result<bool, String> {
    let room = expected.clamp(HEAD_READ as u64, BODY_READ as u64) as usize;
    match fill(s, buf, room).await {
        Ok(n) => Ok(n > 0),
        Err(e) => Err(format!("reading the response body: {e}")),
    }
}

async fn read_sized(
    s: &mut Stream,
    buf: &mut BytesMut,
    mut remaining: u64,
    need: BodyNeed,
) -> Result<(Bytes, u64), String> {
    let mut sink = BodySink::new(need);
    loop {
        remaining -= sink.take_from(buf, remaining);
        if remaining == 0 {
            return Ok(sink.finish());
        }
        if !more_body(s, buf, remaining).await? {
            return Err(CLOSED_MID_BODY.into());
        }
    }
}

async fn read_to_close(
    s: &mut Stream,
    buf: &mut BytesMut,
    need: BodyNeed,
) -> Result<(Bytes, u64), String> {
    let mut sink = BodySink::new(need);
    loop {
        sink.take_from(buf, u64::MAX);
        if !more_body(s, buf, u64::MAX).await? {
            return Ok(sink.finish());
        }
    }
}

async fn read_chunked(
    s: &mut Stream,
    buf: &mut BytesMut,
    need: BodyNeed,
) -> Result<(Bytes, u64), String> {
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
                return Err("malformed chunked body: no CRLF after a chunk".into());
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
                Err(_) => return Err("malformed chunked body: bad chunk size".into()),
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
            return Err("malformed chunked body: chunk header or trailers too long".into());
        }
        if !more_body(s, buf, in_chunk).await? {
            return Err(CLOSED_MID_BODY.into());
        }
    }
}

/// Serialises the request head (and a small body) into `out`, checking what the workload gave:
/// a plugin's path or header could otherwise smuggle a second request onto the connection.
fn encode(spec: &RequestSpec, host: &HeaderValue, out: &mut Vec<u8>) -> Result<(), String> {
    let invalid = |what: String| format!("invalid request from the workload: {what}");
    if !spec.path.starts_with('/') || spec.path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(invalid(format!(
            "path {:?} must start with / and contain no spaces or control characters",
            spec.path
        )));
    }
    out.clear();
    out.extend_from_slice(spec.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(spec.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &spec.headers {
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(invalid(format!("header name {name:?}")));
        }
        if value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(invalid(format!("value of header {name}")));
        }
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("host")
        {
            return Err(invalid(format!(
                "header {name} is set by the harness, not the workload"
            )));
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let body_expected = matches!(spec.method, Method::POST | Method::PUT | Method::PATCH);
    if !spec.body.is_empty() || body_expected {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(spec.body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if spec.body.len() <= COALESCE_BODY {
        out.extend_from_slice(&spec.body);
    }
    Ok(())
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
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

    #[test]
    fn workload_cannot_smuggle_a_request() {
        let host = HeaderValue::from_static("127.0.0.1:1");
        let spec = |path: &str, headers: Vec<(String, String)>| RequestSpec {
            method: Method::GET,
            path: path.into(),
            headers,
            body: Bytes::new(),
            name: "x".into(),
        };
        let mut out = Vec::new();
        encode(
            &spec("/a?b=c", vec![("x-a".into(), "1".into())]),
            &host,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            b"GET /a?b=c HTTP/1.1\r\nhost: 127.0.0.1:1\r\nx-a: 1\r\n\r\n"
        );
        for bad in [
            spec("/a HTTP/1.1\r\n\r\nGET /b", vec![]),
            spec("a", vec![]),
            spec("/", vec![("x\r\nevil".into(), "1".into())]),
            spec("/", vec![("x".into(), "1\r\n\r\nGET / HTTP/1.1".into())]),
            spec("/", vec![("content-length".into(), "9".into())]),
        ] {
            assert!(encode(&bad, &host, &mut out).is_err(), "{:?}", bad.path);
        }
    }
}
