//! The HTTP client: one keep-alive HTTP/1.1 connection per virtual user, on hyper's low-level
//! connection API (no pool, no per-request allocation beyond the request itself), so the
//! harness spends as little CPU per request as wrk does.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HOST, HeaderValue};
use hyper::{HeaderMap, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::workload::{BodyNeed, RequestSpec};

#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: HeaderValue,
    /// e.g. `http://127.0.0.1:8080`, for messages and reports.
    pub base_url: String,
}

impl Target {
    /// Parses `http://host:port[/path]` and resolves it; returns the target and the path.
    pub async fn resolve(url: &str) -> Result<(Target, String), String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL {url:?}: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(format!(
                    "{url}: scheme {other} is not supported; use http://"
                ));
            }
            None => return Err(format!("{url}: add a scheme, e.g. http://{url}")),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{url}: no host"))?
            .clone();
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .map_err(|e| format!("cannot resolve {}: {e}", authority.host()))?
            .next()
            .ok_or_else(|| format!("{} resolves to no address", authority.host()))?;
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        Ok((
            Target {
                addr,
                host: HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?,
                base_url: format!("http://{authority}"),
            },
            path,
        ))
    }
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    /// As much of the body as the workload asked for.
    pub body: Bytes,
    pub body_len: u64,
}

pub struct Connection {
    target: Target,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    pub fn new(target: Target) -> Self {
        Connection {
            target,
            sender: None,
        }
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(self.target.addr)
                .await
                .map_err(|e| format!("connect {}: {e}", self.target.addr))?;
            let _ = stream.set_nodelay(true);
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("HTTP handshake: {e}"))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().expect("just connected"))
    }

    /// Sends one request and reads the whole response (required to reuse the connection).
    pub async fn send(
        &mut self,
        spec: &RequestSpec,
        need: BodyNeed,
        timeout: Duration,
    ) -> Result<Answer, String> {
        match tokio::time::timeout(timeout, self.exchange(spec, need)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None; // the connection is in an unknown state
                Err(format!("timeout after {timeout:?}"))
            }
        }
    }

    async fn exchange(&mut self, spec: &RequestSpec, need: BodyNeed) -> Result<Answer, String> {
        let host = self.target.host.clone();
        let mut builder = Request::builder()
            .method(spec.method.clone())
            .uri(spec.path.as_str())
            .header(HOST, host);
        for (k, v) in &spec.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let request = builder
            .body(Full::new(spec.body.clone()))
            .map_err(|e| format!("invalid request from the workload: {e}"))?;
        let sender = self.connect().await?;
        sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let (parts, mut body) = response.into_parts();
        let keep = match need {
            BodyNeed::None => 0,
            BodyNeed::Prefix(n) => n,
            BodyNeed::All => usize::MAX,
        };
        let mut kept = BytesMut::new();
        let mut body_len = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("reading body: {e}"))?;
            if let Ok(data) = frame.into_data() {
                body_len += data.len() as u64;
                if kept.len() < keep {
                    let take = (keep - kept.len()).min(data.len());
                    kept.extend_from_slice(&data[..take]);
                }
            }
        }
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: kept.freeze(),
            body_len,
        })
    }
}
