//! The admin API: list every dimension with its options and the active one, and switch them
//! while the service runs. This is how the harness alternates variants on one warm process.
//!
//! `GET /admin/settings` lists; `PUT /admin/settings` with `{"store": "sharded",
//! "store.work_us": 50}` validates every entry first and then applies them all, so a bad entry
//! changes nothing. Reachable from loopback, or from elsewhere with `Authorization: Bearer TOKEN`
//! when the service was started with `--admin-token`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use crate::app::AppState;
use crate::clients::db::DbClientKind;
use crate::clients::http::HttpClientKind;
use crate::clients::redis::RedisClientKind;
use crate::codec::Codec;
use crate::db::Backend;
use crate::error::{ApiError, ApiResult};
use crate::insert::InsertKind;
use crate::settings::{Dimension, DimensionInfo, Param, ParamInfo, Switch};
use crate::store::StoreKind;

/// Every switch and knob of the service.
pub struct Settings {
    pub store: Switch<StoreKind>,
    pub http_client: Switch<HttpClientKind>,
    pub redis_client: Switch<RedisClientKind>,
    pub db_client: Switch<DbClientKind>,
    pub codec: Switch<Codec>,
    pub insert: Switch<InsertKind>,

    pub store_work_us: Param,
    pub store_io_us: Param,
    pub upstream_latency_us: Param,
    pub upstream_failure_permille: Param,
    pub insert_batch_rows: Param,
}

/// The start-up choice of every dimension (from CLI flags).
#[derive(Debug, Clone)]
pub struct InitialVariants {
    pub store: StoreKind,
    pub http_client: HttpClientKind,
    pub redis_client: RedisClientKind,
    pub db_client: DbClientKind,
    pub codec: Codec,
    pub insert: InsertKind,
}

impl Settings {
    pub fn new(initial: &InitialVariants) -> Self {
        Settings {
            store: Switch::new(initial.store),
            http_client: Switch::new(initial.http_client),
            redis_client: Switch::new(initial.redis_client),
            db_client: Switch::new(initial.db_client),
            codec: Switch::new(initial.codec),
            insert: Switch::new(initial.insert),
            store_work_us: Param::new(
                "store.work_us",
                "µs of CPU work inside the store's critical section",
                0,
                100_000,
            ),
            store_io_us: Param::new(
                "store.io_us",
                "µs of simulated write-behind I/O per store write",
                0,
                1_000_000,
            ),
            upstream_latency_us: Param::new(
                "upstream.latency_us",
                "µs the upstream HTTPS service waits before answering",
                0,
                10_000_000,
            ),
            upstream_failure_permille: Param::new(
                "upstream.failure_permille",
                "how many upstream calls in 1000 fail with 503",
                0,
                1000,
            ),
            insert_batch_rows: Param::new(
                "insert.batch_rows",
                "rows per multi-row VALUES statement (clamped to the bind limit)",
                1000,
                16_383,
            ),
        }
    }

    fn params(&self) -> [&Param; 5] {
        [
            &self.store_work_us,
            &self.store_io_us,
            &self.upstream_latency_us,
            &self.upstream_failure_permille,
            &self.insert_batch_rows,
        ]
    }

    pub fn describe(&self) -> (Vec<DimensionInfo>, Vec<ParamInfo>) {
        let dimensions = vec![
            self.store.describe(),
            self.http_client.describe(),
            self.redis_client.describe(),
            self.db_client.describe(),
            self.codec.describe(),
            self.insert.describe(),
        ];
        let params = self
            .params()
            .iter()
            .map(|p| ParamInfo {
                name: p.name.into(),
                about: p.about.into(),
                value: p.get(),
                max: p.max,
            })
            .collect();
        (dimensions, params)
    }

    /// Checks one `name = value` entry and returns the action that applies it.
    fn plan(
        &self,
        name: &str,
        value: &serde_json::Value,
        backend: Backend,
    ) -> Result<Change<'_>, String> {
        fn option<D: Dimension>(
            switch: &Switch<D>,
            value: &serde_json::Value,
        ) -> Result<D, String> {
            let text = value.as_str().ok_or_else(|| {
                format!("{} takes an option name (a string), got {value}", D::NAME)
            })?;
            text.parse::<D>().map_err(|_| {
                let options: Vec<String> = switch
                    .describe()
                    .options
                    .into_iter()
                    .map(|o| o.name)
                    .collect();
                format!(
                    "unknown {} option {text:?}; options: {}",
                    D::NAME,
                    options.join(", ")
                )
            })
        }
        Ok(match name {
            "store" => Change::Store(option(&self.store, value)?),
            "http-client" => Change::HttpClient(option(&self.http_client, value)?),
            "redis-client" => Change::RedisClient(option(&self.redis_client, value)?),
            "db-client" => Change::DbClient(option(&self.db_client, value)?),
            "codec" => Change::Codec(option(&self.codec, value)?),
            "insert" => {
                let kind: InsertKind = option(&self.insert, value)?;
                kind.supported_on(backend)?;
                Change::Insert(kind)
            }
            _ => {
                let param = self.params().into_iter().find(|p| p.name == name).ok_or_else(|| {
                    let params: Vec<&str> = self.params().iter().map(|p| p.name).collect();
                    format!(
                        "unknown setting {name:?}; dimensions: store, http-client, redis-client, db-client, codec, insert; params: {}",
                        params.join(", ")
                    )
                })?;
                let v = value
                    .as_u64()
                    .ok_or_else(|| format!("{name} takes a non-negative integer, got {value}"))?;
                if v > param.max {
                    return Err(format!(
                        "{name} = {v} is out of range: allowed 0..={}",
                        param.max
                    ));
                }
                Change::Param(param, v)
            }
        })
    }

    /// Validates every entry, then applies all of them: a bad entry changes nothing.
    pub fn apply(
        &self,
        changes: &BTreeMap<String, serde_json::Value>,
        backend: Backend,
    ) -> Result<(), String> {
        let planned: Vec<Change> = changes
            .iter()
            .map(|(k, v)| self.plan(k, v, backend))
            .collect::<Result<_, _>>()?;
        for change in planned {
            match change {
                Change::Store(v) => self.store.set(v),
                Change::HttpClient(v) => self.http_client.set(v),
                Change::RedisClient(v) => self.redis_client.set(v),
                Change::DbClient(v) => self.db_client.set(v),
                Change::Codec(v) => self.codec.set(v),
                Change::Insert(v) => self.insert.set(v),
                Change::Param(p, v) => p.set(v)?,
            }
        }
        Ok(())
    }
}

enum Change<'a> {
    Store(StoreKind),
    HttpClient(HttpClientKind),
    RedisClient(RedisClientKind),
    DbClient(DbClientKind),
    Codec(Codec),
    Insert(InsertKind),
    Param(&'a Param, u64),
}

#[derive(Serialize)]
pub struct SettingsListing {
    pub backend: Backend,
    pub redis: bool,
    pub dimensions: Vec<DimensionInfo>,
    pub params: Vec<ParamInfo>,
}

pub async fn list(State(state): State<AppState>) -> Json<SettingsListing> {
    let (dimensions, params) = state.settings.describe();
    Json(SettingsListing {
        backend: state.db.backend(),
        redis: state.redis.is_some(),
        dimensions,
        params,
    })
}

pub async fn update(
    State(state): State<AppState>,
    body: Result<
        Json<BTreeMap<String, serde_json::Value>>,
        axum::extract::rejection::JsonRejection,
    >,
) -> ApiResult<Json<SettingsListing>> {
    let Json(changes) = body.map_err(|e| {
        ApiError::BadRequest(format!(
            "expected a JSON object such as {{\"store\": \"sharded\"}}: {}",
            e.body_text()
        ))
    })?;
    state
        .settings
        .apply(&changes, state.db.backend())
        .map_err(ApiError::BadRequest)?;
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
    if peer.ip().is_loopback() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> Settings {
        Settings::new(&InitialVariants {
            store: StoreKind::GlobalMutex,
            http_client: HttpClientKind::PerRequest,
            redis_client: RedisClientKind::PerRequest,
            db_client: DbClientKind::PerRequest,
            codec: Codec::Json,
            insert: InsertKind::PerRowAutocommit,
        })
    }

    #[test]
    fn a_bad_entry_changes_nothing() {
        let s = settings();
        let changes: BTreeMap<String, serde_json::Value> =
            serde_json::from_value(json!({"store": "sharded", "codec": "yaml"})).unwrap();
        let err = s.apply(&changes, Backend::Sqlite).unwrap_err();
        assert!(err.contains("unknown codec option \"yaml\""), "{err}");
        assert_eq!(s.store.get(), StoreKind::GlobalMutex);
    }

    #[test]
    fn options_and_params_apply() {
        let s = settings();
        let changes =
            serde_json::from_value(json!({"store": "sharded", "store.work_us": 25})).unwrap();
        s.apply(&changes, Backend::Sqlite).unwrap();
        assert_eq!(s.store.get(), StoreKind::Sharded);
        assert_eq!(s.store_work_us.get(), 25);
    }

    #[test]
    fn postgres_only_inserts_are_refused_on_sqlite() {
        let s = settings();
        let changes = serde_json::from_value(json!({"insert": "copy"})).unwrap();
        assert!(
            s.apply(&changes, Backend::Sqlite)
                .unwrap_err()
                .contains("needs PostgreSQL")
        );
        s.apply(&changes, Backend::Postgres).unwrap();
        assert_eq!(s.insert.get(), InsertKind::Copy);
    }

    #[test]
    fn params_are_range_checked() {
        let s = settings();
        let changes = serde_json::from_value(json!({"upstream.failure_permille": 1001})).unwrap();
        assert!(s.apply(&changes, Backend::Sqlite).is_err());
    }
}
