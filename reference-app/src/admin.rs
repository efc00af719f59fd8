//! The admin API: list every dimension with its options and the active one, and switch them
//! while the service runs. This is how the harness alternates variants on one warm process.
//!
//! The dimensions and their validation live in [`crate::dimensions`] and [`crate::settings`];
//! this module only has the handlers and the guard.
//!
//! `GET /admin/settings` lists; `PUT /admin/settings` with `{"store": "sharded",
//! "store.work_us": 50}` validates every entry first and then applies them all, so a bad entry
//! changes nothing. Reachable from loopback, or from elsewhere with `Authorization: Bearer TOKEN`
//! when the service was started with `--admin-token`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use crate::db::Backend;
use crate::error::{ApiError, ApiResult};
use crate::settings::{DimensionInfo, KnobInfo};
use crate::state::AppState;

/// A fact about the current variant, for the harness to print beside its results.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Note {
    pub title: String,
    pub text: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Notes {
    pub notes: Vec<Note>,
}

/// What the service can say about the variant that is switched on: the query plan of the
/// `index` dimension's read once its catalog is in use, the `durability` option's settings and
/// promises once it has written. The harness asks after warming each
/// variant up and shows the notes in every report form.
#[utoipa::path(get, path = "/admin/notes", tag = "admin",
    responses((status = 200, body = Notes), (status = 403, body = crate::error::ErrorBody), (status = 502, body = crate::error::ErrorBody)))]
pub async fn notes(State(state): State<AppState>) -> ApiResult<Json<Notes>> {
    let durability = &state.settings.durability;
    let mut notes =
        crate::catalog::notes(&state.db, &state.catalog, state.settings.index.get()).await?;
    notes.extend(
        crate::durability::notes(
            &state.db,
            &state.durability,
            durability.get(),
            durability.knob(&crate::durability::COMMIT_DELAY_US),
        )
        .await?,
    );
    notes.extend(state.orders.note());
    notes.extend(state.feed.note());
    notes.extend(state.cache.note());
    let notes = notes
        .into_iter()
        .map(|(title, text)| Note { title, text })
        .collect();
    Ok(Json(Notes { notes }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SettingsListing {
    pub backend: Backend,
    pub redis: bool,
    pub dimensions: Vec<DimensionInfo>,
    /// Numeric knobs (`store.work_us` …). Named `params` in the API since its first version.
    pub params: Vec<KnobInfo>,
}

#[utoipa::path(get, path = "/admin/settings", tag = "admin",
    responses((status = 200, body = SettingsListing), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list(State(state): State<AppState>) -> Json<SettingsListing> {
    let (dimensions, params) = state.settings.describe();
    Json(SettingsListing {
        backend: state.db.backend(),
        redis: state.redis.is_some(),
        dimensions,
        params,
    })
}

type Changes =
    Result<Json<BTreeMap<String, serde_json::Value>>, axum::extract::rejection::JsonRejection>;

fn changes(body: Changes) -> ApiResult<BTreeMap<String, serde_json::Value>> {
    let Json(changes) = body.map_err(|e| {
        ApiError::BadRequest(format!(
            "expected a JSON object such as {{\"store\": \"sharded\"}}: {}",
            e.body_text()
        ))
    })?;
    Ok(changes)
}

/// `POST /admin/settings/validate`: would `PUT` accept these? Changes nothing; the harness
/// checks every variant of a plan this way before the first round.
#[utoipa::path(post, path = "/admin/settings/validate", tag = "admin",
    request_body(content = Object, description = "dimension or knob name → option name or integer, e.g. {\"store\": \"sharded\", \"store.work_us\": 50}"),
    responses((status = 204), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn validate(State(state): State<AppState>, body: Changes) -> ApiResult<StatusCode> {
    state
        .settings
        .validate(&changes(body)?, state.db.backend())
        .map_err(ApiError::bad_request)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/admin/settings", tag = "admin",
    request_body(content = Object, description = "dimension or knob name → option name or integer, e.g. {\"store\": \"sharded\", \"store.work_us\": 50}"),
    responses((status = 200, body = SettingsListing), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    body: Changes,
) -> ApiResult<Json<SettingsListing>> {
    let changes = changes(body)?;
    state
        .settings
        .apply(&changes, state.db.backend())
        .map_err(ApiError::bad_request)?;
    tracing::info!(?changes, "settings changed");
    Ok(list(State(state)).await)
}

/// Loopback callers pass; others need the bearer token, if one was configured at all.
pub async fn require_loopback_or_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    // `to_canonical`: with `--listen [::]` a loopback caller arrives as ::ffff:127.0.0.1.
    if peer.ip().to_canonical().is_loopback() {
        return Ok(next.run(req).await);
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (&state.admin_token, presented) {
        (Some(expected), Some(given)) if constant_time_eq(expected.as_bytes(), given.as_bytes()) => {
            Ok(next.run(req).await)
        }
        _ => Err(ApiError::Forbidden(
            "the admin API answers loopback callers, or callers with Authorization: Bearer <--admin-token>".into(),
        )),
    }
}

/// Comparing secrets in constant time keeps response timing from leaking the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `POST /admin/profile/start`: sample the service's CPU stacks until `stop`.
#[utoipa::path(post, path = "/admin/profile/start", tag = "admin",
    request_body(content = Option<crate::introspect::profiler::StartProfile>, description = "optional; {\"frequency_hz\": 99} by default"),
    responses((status = 204), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn profile_start(body: axum::body::Bytes) -> ApiResult<StatusCode> {
    let frequency_hz = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<crate::introspect::profiler::StartProfile>(&body)
            .map_err(|e| {
                ApiError::BadRequest(format!(
                    "expected {{\"frequency_hz\": 1–{}}} or no body: {e}",
                    crate::introspect::profiler::MAX_FREQUENCY_HZ
                ))
            })?
            .frequency_hz
    };
    crate::introspect::profiler::start(frequency_hz)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /admin/profile/stop`: the samples since `start`, as folded stacks.
#[utoipa::path(post, path = "/admin/profile/stop", tag = "admin",
    responses((status = 200, body = crate::introspect::profiler::ProfileDump), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn profile_stop() -> ApiResult<Json<crate::introspect::profiler::ProfileDump>> {
    // Symbolising reads the binary's symbol table: blocking work, kept off the async workers.
    tokio::task::spawn_blocking(crate::introspect::profiler::stop)
        .await
        .map_err(|e| ApiError::Unavailable(format!("the profiler task failed: {e}")))?
        .map(Json)
}
