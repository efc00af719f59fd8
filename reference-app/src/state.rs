//! What every handler shares: the switchboard, the dimensions' state, the clients.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::clients::http::HttpClients;
use crate::clients::redis::Redis;
use crate::db::Db;
use crate::dimensions::Settings;
use crate::model::Profile;
use crate::store::Stores;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub stores: Arc<Stores>,
    /// Behind an `Arc`: axum clones the state for every request, and `Db` holds the connect
    /// options (an `IndexMap` of pragmas) that a profile showed being copied for each one.
    pub db: Arc<Db>,
    pub redis: Option<Arc<Redis>>,
    pub http: Arc<HttpClients>,
    /// Built once: the codec endpoint measures encoding, not data generation.
    pub profiles: &'static [Profile],
    pub metrics: PrometheusHandle,
    pub orders: Arc<crate::orders::OrdersState>,
    pub likes: Arc<crate::likes::LikesState>,
    pub feed: Arc<crate::feed::FeedState>,
    pub catalog: Arc<crate::catalog::CatalogState>,
    pub durability: Arc<crate::durability::DurabilityState>,
    pub cache: Arc<crate::cache::CacheState>,
    pub blocking: Arc<crate::blocking::BlockingState>,
    pub parallel: Arc<crate::parallel::ParallelState>,
    pub pool_sizing: Arc<crate::pool_sizing::PoolSizingState>,
    pub resilience: Arc<crate::resilience::ResilienceState>,
    /// `Arc<str>`: the state is cloned per request, and a `String` would be copied with it.
    pub admin_token: Option<Arc<str>>,
}
