//! The "external service" the `http-client` dimension calls: a separate HTTPS server inside this
//! process, on its own loopback port, with a certificate made at start-up. Because it speaks
//! real TLS, a client built per request pays a real handshake, and this server counts every TCP
//! connection and TLS handshake it accepts — the counters that prove the pooling lesson.
//!
//! Its latency and failure rate come from the `upstream.*` settings, so a lab can make the
//! external service slow or flaky while the main service runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::clients::http::{UPSTREAM_FAILURE_PERMILLE, UPSTREAM_LATENCY_US};
use crate::dimensions::Settings;
use crate::metric_names as names;
use crate::model::Quote;

pub struct Upstream {
    pub addr: SocketAddr,
    /// PEM of the self-signed certificate, for clients to trust.
    pub cert_pem: String,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Starts the server on `listen` (`127.0.0.1:0`: an ephemeral loopback port).
    pub async fn start(settings: Arc<Settings>, listen: SocketAddr) -> anyhow::Result<Upstream> {
        let certified = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])?;
        let cert_pem = certified.cert.pem();
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(certified.cert.der().to_vec())],
            key,
        )?;
        let acceptor = TlsAcceptor::from(Arc::new(tls));

        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("the upstream cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let router = Router::new()
            .route("/quote/{id}", get(quote))
            .route("/flaky/{id}", get(flaky))
            .route("/quotes", get(quotes))
            .with_state(settings);
        let task = tokio::spawn(accept_loop(listener, acceptor, router));
        Ok(Upstream {
            addr,
            cert_pem,
            task,
        })
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, router: Router) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!("upstream accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        metrics::counter!(names::UPSTREAM_TCP_CONNECTIONS).increment(1);
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(e) => return tracing::debug!("upstream TLS handshake failed: {e}"),
            };
            metrics::counter!(names::UPSTREAM_TLS_HANDSHAKES).increment(1);
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
            if let Err(e) = served {
                tracing::debug!("upstream connection ended: {e}");
            }
        });
    }
}

async fn quote(State(settings): State<Arc<Settings>>, Path(id): Path<u64>) -> Response {
    metrics::counter!(names::UPSTREAM_REQUESTS).increment(1);
    if let Some(failed) = wait_or_fail(&settings).await {
        return failed;
    }
    metrics::counter!(names::UPSTREAM_QUOTES_SERVED).increment(1);
    axum::Json(Quote::of(id)).into_response()
}

/// The 503 every injected failure answers, `/quote`'s and `/flaky`'s alike.
fn injected_failure() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "upstream: injected failure",
    )
        .into_response()
}

/// The `upstream.*` knobs, for one call of `/quote` or `/quotes`: wait `upstream.latency_us`,
/// then fail `upstream.failure_permille` of the calls with 503.
async fn wait_or_fail(settings: &Settings) -> Option<Response> {
    let latency = settings.http_client.knob(&UPSTREAM_LATENCY_US);
    if latency > 0 {
        tokio::time::sleep(Duration::from_micros(latency)).await;
    }
    let failure_permille = settings.http_client.knob(&UPSTREAM_FAILURE_PERMILLE);
    (failure_permille > 0 && rand::random_range(0..1000) < failure_permille).then(injected_failure)
}

/// The `resilience` dimension's upstream: slow, failing or down as the `flaky.*` knobs say.
async fn flaky(State(settings): State<Arc<Settings>>, Path(id): Path<u64>) -> Response {
    use crate::resilience::{
        FLAKY_DOWN, FLAKY_FAILURE_PERMILLE, FLAKY_LATENCY_US, FLAKY_SPIKE_MS, FLAKY_SPIKE_PERMILLE,
    };
    metrics::counter!(names::FLAKY_REQUESTS).increment(1);
    let knobs = &settings.resilience;
    let spike = Duration::from_millis(knobs.knob(&FLAKY_SPIKE_MS));
    if knobs.knob(&FLAKY_DOWN) == 1 {
        // Down the way overloaded services are: the call hangs, then fails.
        tokio::time::sleep(spike).await;
        return injected_failure();
    }
    tokio::time::sleep(Duration::from_micros(knobs.knob(&FLAKY_LATENCY_US))).await;
    if rand::random_range(0..1000) < knobs.knob(&FLAKY_SPIKE_PERMILLE) {
        tokio::time::sleep(spike).await;
    }
    if rand::random_range(0..1000) < knobs.knob(&FLAKY_FAILURE_PERMILLE) {
        return injected_failure();
    }
    axum::Json(Quote::of(id)).into_response()
}

#[derive(serde::Deserialize)]
struct Ids {
    /// Comma-separated product ids.
    ids: String,
}

/// The batch endpoint the `batch-calls` dimension's `batch` option calls: many prices in one
/// round trip, for the same `upstream.*` latency and failures as one.
async fn quotes(State(settings): State<Arc<Settings>>, Query(ids): Query<Ids>) -> Response {
    metrics::counter!(names::UPSTREAM_REQUESTS).increment(1);
    let parsed: Result<Vec<u64>, _> = ids.ids.split(',').map(str::parse).collect();
    let ids = match parsed {
        Ok(ids) if ids.len() <= crate::limits::MAX_BATCH_IDS => ids,
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "upstream: ids must be at most 1000 comma-separated numbers",
            )
                .into_response();
        }
    };
    if let Some(failed) = wait_or_fail(&settings).await {
        return failed;
    }
    metrics::counter!(names::UPSTREAM_QUOTES_SERVED).increment(ids.len() as u64);
    axum::Json(ids.into_iter().map(Quote::of).collect::<Vec<_>>()).into_response()
}
