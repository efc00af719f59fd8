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
    pub db: Db,
    pub redis: Option<Arc<Redis>>,
    pub http: Arc<HttpClients>,
    /// Built once: the codec endpoint measures encoding, not data generation.
    pub profiles: &'static [Profile],
    pub metrics: PrometheusHandle,
    pub admin_token: Option<String>,
}
