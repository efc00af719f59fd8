//! Dimension `http-client`: calling the upstream HTTPS service.
//!
//! Naive: build a `reqwest::Client` for every request. Building one loads a TLS root store
//! (~4 ms measured), and a fresh client has no open connection, so every call also pays a TCP
//! connect and a full TLS handshake. Optimized: one client for the whole process, whose pool
//! keeps the TLS connection alive between calls. Watch `upstream_tls_handshakes_total`.

use std::time::Duration;

use crate::dimension;
use crate::error::ApiError;
use crate::metric_names as names;
use crate::model::Quote;
use crate::settings::Knob;

dimension! {
    pub enum HttpClientKind as "http-client", default PerRequest, knobs [UPSTREAM_LATENCY_US, UPSTREAM_FAILURE_PERMILLE] {
        /// Naive.
        PerRequest = "a new reqwest::Client per request: root store, TCP connect and TLS handshake every time",
        /// Optimized.
        Shared = "one reqwest::Client for the process: its pool reuses kept-alive TLS connections",
    }
}

/// The upstream's behaviour is part of this dimension's experiment: how slow and how flaky the
/// external service is that the clients call.
pub const UPSTREAM_LATENCY_US: Knob = Knob {
    index: 0,
    name: "upstream.latency_us",
    about: "µs the upstream HTTPS service waits before answering",
    default: 0,
    max: 10_000_000,
};
pub const UPSTREAM_FAILURE_PERMILLE: Knob = Knob {
    index: 1,
    name: "upstream.failure_permille",
    about: "how many upstream calls in 1000 fail with 503",
    default: 0,
    max: 1000,
};

pub struct HttpClients {
    base_url: String,
    trust: reqwest::Certificate,
    shared: reqwest::Client,
}

impl HttpClients {
    pub fn new(base_url: String, cert_pem: &str) -> anyhow::Result<Self> {
        let trust = reqwest::Certificate::from_pem(cert_pem.as_bytes())?;
        let shared = build_client(&trust)?;
        Ok(HttpClients {
            base_url,
            trust,
            shared,
        })
    }

    /// The process's pooled client (what the `resilience` dimension calls through).
    pub fn shared(&self) -> &reqwest::Client {
        &self.shared
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub async fn quote(&self, kind: HttpClientKind, id: u64) -> Result<Quote, ApiError> {
        let per_request;
        let client = match kind {
            HttpClientKind::PerRequest => {
                per_request = build_client(&self.trust)
                    .map_err(|e| ApiError::dependency("building the HTTP client", e))?;
                &per_request
            }
            HttpClientKind::Shared => &self.shared,
        };
        let response = client
            .get(format!("{}/quote/{id}", self.base_url))
            .send()
            .await
            .map_err(|e| ApiError::dependency("upstream request", e))?;
        if !response.status().is_success() {
            return Err(ApiError::dependency(
                "upstream request",
                format!("upstream answered {}", response.status()),
            ));
        }
        response
            .json()
            .await
            .map_err(|e| ApiError::dependency("reading the upstream response", e))
    }
}

fn build_client(trust: &reqwest::Certificate) -> reqwest::Result<reqwest::Client> {
    metrics::counter!(names::HTTP_CLIENTS_BUILT).increment(1);
    reqwest::Client::builder()
        .add_root_certificate(trust.clone())
        .timeout(Duration::from_secs(30))
        .build()
}
