//! `/metrics` (Prometheus text), RED metrics per route, and the health endpoints.
//!
//! Counters are plain totals: the harness scrapes before and after a round and divides the
//! difference by the requests it sent, which yields "statements per request" and the like.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::metric_names as names;
use crate::state::AppState;

/// Installs the process-wide recorder. Latency buckets span 50 µs to 10 s.
pub fn install_recorder() -> anyhow::Result<PrometheusHandle> {
    let buckets = [
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
        1.0, 2.5, 5.0, 10.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(names::HTTP_DURATION.to_string()), &buckets)?
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    for name in names::UNLABELLED_COUNTERS {
        metrics::counter!(*name).absolute(0);
    }
    // Histograms are drained into the exporter by upkeep; without it memory would grow.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// The `method` label from a closed set: a client inventing methods (`X0000001 /health/live`
/// …) must not grow the metrics without bound.
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// RED: rate and errors (`http_requests_total` by status) and duration, per route template.
pub async fn record_red(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = method_label(req.method());
    let started = Instant::now();
    metrics::gauge!(names::HTTP_IN_FLIGHT).increment(1.0);
    let response = next.run(req).await;
    metrics::gauge!(names::HTTP_IN_FLIGHT).decrement(1.0);
    metrics::histogram!(names::HTTP_DURATION, "method" => method, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(names::HTTP_REQUESTS, "method" => method, "route" => route,
        "status" => response.status().as_u16().to_string())
    .increment(1);
    response
}

#[utoipa::path(get, path = "/metrics", tag = "observability",
    responses((status = 200, content_type = "text/plain", body = String, description = "Prometheus text")))]
pub async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    crate::introspect::publish();
    // The like counter's self-check: lost updates become a counter before the scrape.
    state.likes.audit(&state.db, state.redis.as_ref()).await;
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health/live", tag = "observability",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn live() -> &'static str {
    "ok"
}

/// How long readiness waits for the database or Redis: a refused connection should be said
/// at once, not after the pool's 10 s acquire timeout.
const READY_WITHIN: Duration = Duration::from_secs(2);

/// Readiness: the database answers, and Redis too when one is configured.
#[utoipa::path(get, path = "/health/ready", tag = "observability",
    responses((status = 200, content_type = "text/plain", body = String), (status = 503, content_type = "text/plain", body = String)))]
pub async fn ready(State(state): State<AppState>) -> Response {
    let db = match tokio::time::timeout(READY_WITHIN, state.db.ping()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("database not ready: {e}")),
        Err(_) => Some(format!(
            "database not ready: no answer within {READY_WITHIN:?} (is it running, and does it accept connections?)"
        )),
    };
    if let Some(message) = db {
        return (StatusCode::SERVICE_UNAVAILABLE, message).into_response();
    }
    if let Some(redis) = &state.redis
        && let Err(e) = redis.ping().await
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("redis not ready: {e}"),
        )
            .into_response();
    }
    "ready".into_response()
}
