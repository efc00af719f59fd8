//! What can go wrong: resolving a target ([`TargetError`], before any load), and one exchange
//! ([`ClientError`], recorded per request and grouped by its [`TransportKind`]).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("bad URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{url}: scheme {scheme} is not supported; use http:// or https://")]
    Scheme { url: String, scheme: String },
    #[error("{url}: add a scheme, e.g. http://{url}")]
    NoScheme { url: String },
    #[error("cannot resolve {host}: {cause}")]
    Resolve { host: String, cause: io::Error },
    #[error("{host} resolves to no address")]
    NoAddress { host: String },
    #[error("TLS set-up: {0}")]
    TlsSetup(#[from] rustls::Error),
}

/// One request that got no usable HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The workload asked for something that is not a valid HTTP/1.1 request (a path with a
    /// space, a header with CRLF in it). Nothing was sent.
    #[error("invalid request from the workload: {0}")]
    InvalidRequest(String),
    #[error("connect {addr}: {cause}")]
    Connect { addr: SocketAddr, cause: io::Error },
    #[error("TLS handshake with {target}: {cause}{hint}")]
    Tls {
        target: String,
        cause: io::Error,
        hint: &'static str,
    },
    #[error("timeout after {0:?}")]
    Timeout(Duration),
    #[error("the server closed the connection {0}")]
    Closed(ClosedWhere),
    #[error("{during}: {cause}")]
    Io {
        during: &'static str,
        cause: io::Error,
    },
    #[error("malformed response from the server: {0}")]
    Malformed(String),
}

/// Where in an exchange the server hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedWhere {
    BeforeAnswering,
    MidResponse,
    MidBody,
}

impl std::fmt::Display for ClosedWhere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClosedWhere::BeforeAnswering => "without answering",
            ClosedWhere::MidResponse => "mid-response",
            ClosedWhere::MidBody => "mid-body",
        })
    }
}

/// The group a failed request is counted in: reports count kinds, not message texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransportKind {
    InvalidRequest,
    Connect,
    Tls,
    Timeout,
    Closed,
    Io,
    Malformed,
}

impl TransportKind {
    pub fn label(self) -> &'static str {
        match self {
            TransportKind::InvalidRequest => "invalid request",
            TransportKind::Connect => "connect",
            TransportKind::Tls => "tls",
            TransportKind::Timeout => "timeout",
            TransportKind::Closed => "closed by server",
            TransportKind::Io => "i/o",
            TransportKind::Malformed => "malformed response",
        }
    }
}

impl ClientError {
    pub fn kind(&self) -> TransportKind {
        match self {
            ClientError::InvalidRequest(_) => TransportKind::InvalidRequest,
            ClientError::Connect { .. } => TransportKind::Connect,
            ClientError::Tls { .. } => TransportKind::Tls,
            ClientError::Timeout(_) => TransportKind::Timeout,
            ClientError::Closed(_) => TransportKind::Closed,
            ClientError::Io { .. } => TransportKind::Io,
            ClientError::Malformed(_) => TransportKind::Malformed,
        }
    }
}
