//! What a virtual user sends, and how its responses are checked. A lab plugin (WASM) and the
//! plain URL mode both implement [`Workload`]; the engine does all the I/O.

use std::sync::Arc;

use bytes::Bytes;

/// A workload that cannot go on: the run stops with this error.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// From the workload's own machinery (e.g. the plugin host's `PluginError`, which converts
    /// into this with `?`).
    #[error(transparent)]
    Source(Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub method: hyper::Method,
    /// Path and query, e.g. `/store/k1?x=1`; the engine adds the target's address.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Groups requests in reports (e.g. "read", "write").
    pub name: String,
}

/// How much of a response body `check_response` wants to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyNeed {
    None,
    Prefix(usize),
    All,
}

#[derive(Debug, Clone)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
}

pub struct ResponseView<'a> {
    pub request_name: &'a str,
    pub status: u16,
    pub headers: &'a hyper::HeaderMap,
    pub body: &'a [u8],
}

/// One virtual user's state. Called from the engine's task; never awaits.
pub trait VirtualUser: Send {
    fn next_request(&mut self, iteration: u64) -> Result<RequestSpec, WorkloadError>;
    fn body_need(&self) -> BodyNeed {
        BodyNeed::None
    }
    /// Whether `check_response` looks at the response headers (building the map costs an
    /// allocation per header, so the engine only does it when asked).
    fn reads_headers(&self) -> bool {
        false
    }
    fn check_response(
        &mut self,
        _response: &ResponseView<'_>,
    ) -> Result<Vec<CheckResult>, WorkloadError> {
        Ok(Vec::new())
    }
}

pub trait Workload: Send + Sync {
    fn virtual_user(&self, vu: u32, seed: u64) -> Result<Box<dyn VirtualUser>, WorkloadError>;
}

/// The URL mode: every VU sends the same request; a response below 400 passes.
pub struct FixedRequest {
    pub spec: RequestSpec,
}

struct FixedUser(Arc<RequestSpec>);

impl VirtualUser for FixedUser {
    fn next_request(&mut self, _iteration: u64) -> Result<RequestSpec, WorkloadError> {
        Ok((*self.0).clone())
    }
}

impl Workload for FixedRequest {
    fn virtual_user(&self, _vu: u32, _seed: u64) -> Result<Box<dyn VirtualUser>, WorkloadError> {
        Ok(Box::new(FixedUser(Arc::new(self.spec.clone()))))
    }
}
