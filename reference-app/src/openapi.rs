//! The service's OpenAPI description, generated from the handlers' own annotations
//! (`utoipa`), served at `/openapi.json` and kept in `reference-app/openapi.json` (a test
//! checks the two agree; `just openapi` rewrites the file). Lab authors read it to learn what
//! each endpoint takes and answers; `just fuzz` (schemathesis) sends what it allows and what it
//! does not, and requires that no client mistake gets a 5xx.

use axum::Json;
use utoipa::OpenApi;

use crate::{admin, error, insert, introspect, model, observability, routes, settings};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "perflab reference service",
        description = "The backend perflab measures: every switchable dimension (see /admin/settings) behind plain endpoints.",
        version = env!("CARGO_PKG_VERSION"),
    ),
    paths(
        routes::store_get,
        routes::store_put,
        routes::upstream_quote,
        routes::redis_get,
        routes::redis_put,
        routes::db_user,
        routes::codec_users,
        routes::codec_accept_users,
        routes::insert_events,
        routes::count_events,
        routes::clear_events,
        routes::latest_orders,
        routes::like,
        routes::like_count,
        routes::like_audit,
        routes::feed_page,
        routes::catalog_newest,
        routes::catalog_create,
        routes::durability_write,
        routes::durability_audit,
        routes::cache_product,
        routes::cache_category_summary,
        routes::cache_change_price,
        routes::blocking_work,
        routes::blocking_fast,
        routes::parallel_digest,
        routes::pool_read,
        routes::pool_write,
        routes::resilience_quote,
        routes::batch_basket,
        admin::notes,
        admin::list,
        admin::validate,
        admin::update,
        admin::profile_start,
        admin::profile_stop,
        introspect::probe::cpu,
        introspect::probe::allocations,
        observability::metrics_text,
        observability::live,
        observability::ready,
    ),
    components(schemas(
        routes::StoreValue,
        routes::Received,
        routes::EventCount,
        routes::LikeCount,
        crate::orders::OrderList,
        crate::orders::Order,
        crate::orders::Customer,
        crate::orders::Item,
        crate::likes::Liked,
        crate::likes::LikeAudit,
        crate::feed::FeedPage,
        crate::feed::Post,
        crate::feed::Cursor,
        crate::catalog::Product,
        crate::catalog::Newest,
        crate::catalog::NewProduct,
        crate::catalog::Created,
        crate::durability::NewWrite,
        crate::durability::Written,
        crate::durability::AuditRequest,
        crate::durability::Audit,
        crate::durability::Promise,
        crate::durability::Failure,
        crate::cache::Product,
        crate::cache::CategorySummary,
        crate::cache::PriceChange,
        crate::blocking::WorkDone,
        crate::parallel::Digest,
        crate::pool_sizing::PoolAnswer,
        crate::batch_calls::Basket,
        routes::Fast,
        admin::Notes,
        admin::Note,
        model::Profile,
        model::Address,
        model::User,
        model::Quote,
        insert::Event,
        insert::BulkInsert,
        insert::BulkInsertResult,
        admin::SettingsListing,
        settings::DimensionInfo,
        settings::OptionInfo,
        settings::KnobInfo,
        error::ErrorBody,
        introspect::profiler::StartProfile,
        introspect::profiler::ProfileDump,
        introspect::probe::CpuBurned,
        introspect::probe::AllocationsCounted,
        introspect::alloc::Counts,
        crate::db::Backend,
    ))
)]
pub struct ApiDoc;

/// The description as JSON text (what `/openapi.json` serves and the committed file holds).
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
