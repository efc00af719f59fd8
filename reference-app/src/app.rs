//! Wiring: shared state, the router, and a server that shuts down gracefully.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{get, put};
use axum::{Extension, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::admin;
use crate::clients::http::HttpClients;
use crate::clients::redis::Redis;
use crate::config::Config;
use crate::db::{Db, DbSettings};
use crate::dimensions::Settings;
use crate::limits::{MAX_BODY_BYTES, MAX_USERS};
use crate::model::sample_profiles;
use crate::observability;
use crate::routes;
use crate::state::AppState;
use crate::store::{Capacity, Stores};
use crate::upstream::Upstream;

pub fn router(state: AppState) -> Router {
    // The `compression` dimension: every encoding on, the policy deciding per response.
    let compression = {
        let settings = state.settings.clone();
        tower_http::compression::CompressionLayer::new().compress_when(
            crate::compression::Policy::new(move || {
                let s = &settings.compression;
                (s.get(), s.knob(&crate::compression::MIN_BYTES))
            }),
        )
    };
    let admin = Router::new()
        .route("/admin/settings", get(admin::list).put(admin::update))
        .route("/admin/notes", get(admin::notes))
        .route(
            "/admin/settings/validate",
            axum::routing::post(admin::validate),
        )
        .route(
            "/admin/profile/start",
            axum::routing::post(admin::profile_start),
        )
        .route(
            "/admin/profile/stop",
            axum::routing::post(admin::profile_stop),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::require_loopback_or_token,
        ));
    Router::new()
        .route(
            "/store/{key}",
            get(routes::store_get).put(routes::store_put),
        )
        .route("/upstream/quote/{id}", get(routes::upstream_quote))
        .route(
            "/redis/{key}",
            get(routes::redis_get).put(routes::redis_put),
        )
        .route("/db/users/{id}", get(routes::db_user))
        .route(
            "/codec/users",
            get(routes::codec_users)
                .layer(compression)
                .post(routes::codec_accept_users),
        )
        .route(
            "/insert/events",
            put(routes::insert_events)
                .post(routes::insert_events)
                .get(routes::count_events)
                // Emptying a table is an operator's act: the admin API's guard applies.
                .delete(
                    routes::clear_events.layer(axum::middleware::from_fn_with_state(
                        state.clone(),
                        admin::require_loopback_or_token,
                    )),
                ),
        )
        .route("/orders/latest", get(routes::latest_orders))
        .route("/likes/{id}", get(routes::like_count).post(routes::like))
        .route("/likes/audit", get(routes::like_audit))
        .route("/feed", get(routes::feed_page))
        .route("/catalog/newest", get(routes::catalog_newest))
        .route(
            "/catalog/products",
            axum::routing::post(routes::catalog_create),
        )
        .route(
            "/durability/writes",
            axum::routing::post(routes::durability_write),
        )
        .route(
            "/durability/audit",
            axum::routing::post(routes::durability_audit),
        )
        .route(
            "/cache/products/{id}",
            get(routes::cache_product).put(routes::cache_change_price),
        )
        .route(
            "/cache/categories/{id}/summary",
            get(routes::cache_category_summary),
        )
        .route("/blocking/work", get(routes::blocking_work))
        .route("/blocking/fast", get(routes::blocking_fast))
        .route("/parallel/digest/{seed}", get(routes::parallel_digest))
        .route("/pool/read/{id}", get(routes::pool_read))
        .route("/pool/write/{id}", axum::routing::post(routes::pool_write))
        .route("/resilience/quote/{id}", get(routes::resilience_quote))
        .route("/batch/baskets/{id}", get(routes::batch_basket))
        .route("/probe/cpu", get(crate::introspect::probe::cpu))
        .route(
            "/probe/allocations",
            get(crate::introspect::probe::allocations),
        )
        .merge(admin)
        .route("/metrics", get(observability::metrics_text))
        .route("/health/live", get(observability::live))
        .route("/health/ready", get(observability::ready))
        .route("/openapi.json", get(crate::openapi::serve))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::middleware::from_fn(refuse_declared_oversize))
        .layer(axum::middleware::from_fn(observability::record_red))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Refuses a body whose declared length is over the limit before reading any of it.
///
/// `DefaultBodyLimit` alone notices only once the limit has been read, and the connection is
/// then closed with the rest of the upload unread, which the kernel turns into a reset that the
/// client may see instead of the 413. Answering on the header is also what lets a client that
/// sent `Expect: 100-continue` (curl does, for large bodies) skip the upload altogether.
async fn refuse_declared_oversize(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, crate::error::ApiError> {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(crate::error::ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    Ok(next.run(request).await)
}

/// Everything the service owns: built by [`Service::start`], torn down by [`Service::close`].
pub struct Service {
    pub state: AppState,
    pub upstream: Upstream,
}

impl Service {
    pub async fn start(config: &Config, metrics: PrometheusHandle) -> anyhow::Result<Service> {
        let settings = Arc::new(Settings::default());
        if config.database_url.is_none() {
            std::fs::create_dir_all(&config.data_dir).with_context(|| {
                format!("cannot create data directory {}", config.data_dir.display())
            })?;
        }
        let db = Db::connect(&DbSettings {
            url: config.database_url(),
            pool_size: config.pool_size,
            sqlite_synchronous: config.sqlite_synchronous.clone(),
        })
        .await?;
        // The start-up choices go through the same validation as the admin API (an option that
        // needs PostgreSQL is refused on SQLite), once the database is known.
        apply_start_up_choices(&settings, config, &db)?;
        db.seed_users(config.seed_users).await?;

        let redis = match &config.redis_url {
            Some(url) => Some(Arc::new(Redis::connect(url).await?)),
            None => None,
        };
        let upstream = Upstream::start(settings.clone(), config.upstream_listen).await?;
        let upstream_url = match config.upstream_via {
            Some(via) => format!("https://{via}"),
            None => upstream.base_url(),
        };
        let http = Arc::new(HttpClients::new(upstream_url, &upstream.cert_pem)?);

        let state = AppState {
            settings,
            stores: Arc::new(Stores::with_capacity(Capacity::new(config.store_max_bytes))),
            db: Arc::new(db),
            redis,
            http,
            profiles: Box::leak(sample_profiles(MAX_USERS).into_boxed_slice()),
            metrics,
            orders: Arc::default(),
            likes: Arc::default(),
            feed: Arc::default(),
            catalog: Arc::default(),
            durability: Arc::default(),
            cache: Arc::default(),
            blocking: Arc::default(),
            parallel: Arc::default(),
            pool_sizing: Arc::default(),
            resilience: Arc::default(),
            admin_token: config.admin_token()?.map(Arc::from),
        };
        Ok(Service { state, upstream })
    }

    /// Serves until SIGINT or SIGTERM, lets in-flight requests finish (at most the drain
    /// deadline), then closes the pools.
    ///
    /// A hand-written accept loop instead of `axum::serve`, for what a service facing hostile
    /// clients needs and `axum::serve` does not set: a timer for hyper's header-read timeout
    /// (which also reaps idle keep-alive connections), a limit on open connections, and a
    /// deadline after which connections that are still open at shutdown are dropped.
    pub async fn serve(self, listener: TcpListener, limits: &ServeLimits) -> anyhow::Result<()> {
        let app =
            router(self.state.clone()).layer(RequestBodyTimeoutLayer::new(limits.body_timeout));
        let graceful = GracefulShutdown::new();
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        let mut shutdown = std::pin::pin!(shutdown_signal());
        let mut warned_at: Option<Instant> = None;
        loop {
            if slots.available_permits() == 0
                && warned_at.is_none_or(|t| t.elapsed() > Duration::from_secs(60))
            {
                tracing::warn!(
                    limit = limits.max_connections,
                    "connection limit reached: new connections wait until one closes (--max-connections)"
                );
                warned_at = Some(Instant::now());
            }
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot?,
                _ = &mut shutdown => break,
            };
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Usually out of file descriptors: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let _ = tcp.set_nodelay(true);
            // The admin guard reads the peer's address from the request's extensions.
            let service = TowerToHyperService::new(app.clone().layer(Extension(ConnectInfo(peer))));
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(tcp), service);
            let watched = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(e) = watched.await {
                    tracing::debug!("connection from {peer} ended: {e}");
                }
                drop(slot);
            });
        }
        drop(listener);
        if tokio::time::timeout(limits.drain, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                deadline = ?limits.drain,
                "connections still open after the drain deadline are closed"
            );
        }
        tracing::info!("in-flight requests finished; closing pools");
        self.state.db.close().await;
        drop(self.upstream);
        Ok(())
    }
}

/// What one client may hold: see `--header-timeout`, `--body-timeout`, `--max-connections`
/// and `--drain-timeout`.
#[derive(Debug, Clone)]
pub struct ServeLimits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
    pub drain: Duration,
}

impl ServeLimits {
    pub fn from_config(c: &Config) -> ServeLimits {
        ServeLimits {
            header_timeout: c.header_timeout,
            body_timeout: c.body_timeout,
            max_connections: c.max_connections,
            drain: c.drain_timeout,
        }
    }
}

/// `--store sharded`, `--set store.work_us=50` …: each checked like an admin API change, and
/// a bad one named by its flag.
fn apply_start_up_choices(settings: &Settings, config: &Config, db: &Db) -> anyhow::Result<()> {
    for (name, option) in &config.dimensions.chosen {
        let one = BTreeMap::from([(name.to_string(), serde_json::Value::from(option.as_str()))]);
        settings
            .apply(&one, db.backend())
            .with_context(|| format!("--{name} {option}"))?;
    }
    for entry in &config.set {
        let (name, value) = entry
            .split_once('=')
            .with_context(|| format!("--set {entry:?}: expected NAME=VALUE"))?;
        let value: u64 = value
            .parse()
            .with_context(|| format!("--set {entry:?}: {value:?} is not a non-negative integer"))?;
        let one = BTreeMap::from([(name.to_string(), serde_json::Value::from(value))]);
        settings
            .apply(&one, db.backend())
            .with_context(|| format!("--set {entry:?}"))?;
    }
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot listen for SIGTERM: {e}");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
    }
}
