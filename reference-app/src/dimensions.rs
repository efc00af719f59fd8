//! Every switchable dimension of the service, listed once. This list drives the `Settings`
//! struct the handlers read, the start-up flags (`--store sharded`), the admin API's listing,
//! validation and errors. Adding a dimension is its own module (its enum declared with
//! [`dimension!`](crate::dimension), its naive and optimized code side by side) plus one line
//! here.

use std::collections::BTreeMap;

use crate::db::Backend;
use crate::settings::{self, DimensionInfo, KnobInfo, SettingsError};

crate::registry! {
    store: crate::store::StoreKind,
    http_client: crate::clients::http::HttpClientKind,
    redis_client: crate::clients::redis::RedisClientKind,
    db_client: crate::clients::db::DbClientKind,
    codec: crate::codec::Codec,
    insert: crate::insert::InsertKind,
    orders: crate::orders::OrdersQuery,
    likes: crate::likes::LikeCounter,
    pagination: crate::feed::Pagination,
    index: crate::catalog::IndexKind,
    durability: crate::durability::Durability,
    cache: crate::cache::CacheKind,
    blocking: crate::blocking::BlockingKind,
    resilience: crate::resilience::ResilienceKind,
    batch_calls: crate::batch_calls::BatchCallsKind,
    compression: crate::compression::CompressionKind,
    parallelism: crate::parallel::ParallelKind,
    pool_sizing: crate::pool_sizing::PoolSizing,
}

impl Settings {
    pub fn describe(&self) -> (Vec<DimensionInfo>, Vec<KnobInfo>) {
        settings::describe(&self.switches())
    }

    /// Checks every entry without changing anything.
    pub fn validate(
        &self,
        changes: &BTreeMap<String, serde_json::Value>,
        backend: Backend,
    ) -> Result<(), SettingsError> {
        settings::validate(&self.switches(), changes, backend)
    }

    /// Validates every entry, then applies them all: a bad entry changes nothing.
    pub fn apply(
        &self,
        changes: &BTreeMap<String, serde_json::Value>,
        backend: Backend,
    ) -> Result<(), SettingsError> {
        settings::apply(&self.switches(), changes, backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insert::InsertKind;
    use crate::store::{self, StoreKind};
    use serde_json::json;

    fn changes(v: serde_json::Value) -> BTreeMap<String, serde_json::Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_bad_entry_changes_nothing() {
        let s = Settings::default();
        let err = s
            .apply(
                &changes(json!({"store": "sharded", "codec": "yaml"})),
                Backend::Sqlite,
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                SettingsError::UnknownOption {
                    dimension: "codec",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(s.store.get(), StoreKind::GlobalMutex);
    }

    #[test]
    fn options_and_knobs_apply() {
        let s = Settings::default();
        s.apply(
            &changes(json!({"store": "sharded", "store.work_us": 25})),
            Backend::Sqlite,
        )
        .unwrap();
        assert_eq!(s.store.get(), StoreKind::Sharded);
        assert_eq!(s.store.knob(&store::WORK_US), 25);
    }

    #[test]
    fn postgres_only_inserts_are_refused_on_sqlite() {
        let s = Settings::default();
        let copy = changes(json!({"insert": "copy"}));
        assert!(matches!(
            s.apply(&copy, Backend::Sqlite),
            Err(SettingsError::Unsupported { .. })
        ));
        s.apply(&copy, Backend::Postgres).unwrap();
        assert_eq!(s.insert.get(), InsertKind::Copy);
    }

    #[test]
    fn knobs_are_range_checked_and_unknown_names_listed() {
        let s = Settings::default();
        assert!(matches!(
            s.apply(
                &changes(json!({"upstream.failure_permille": 1001})),
                Backend::Sqlite
            ),
            Err(SettingsError::OutOfRange { .. })
        ));
        let err = s
            .apply(&changes(json!({"stor": "sharded"})), Backend::Sqlite)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("store, http-client") && text.contains("store.work_us"),
            "{text}"
        );
    }

    #[test]
    fn every_knob_knows_its_place() {
        for s in Settings::default().switches() {
            for (i, k) in s.knobs().iter().enumerate() {
                assert_eq!(k.index, i, "{} in {}", k.name, s.name());
                assert!(k.default <= k.max, "{}", k.name);
            }
        }
    }
}
