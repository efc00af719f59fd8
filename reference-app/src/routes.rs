//! HTTP endpoints, one small handler per dimension. Each reads its switch once and hands over
//! to the dimension's module, where the naive and optimized code sit side by side.

use std::time::Instant;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use crate::cache;
use crate::catalog::{self, Created, NewProduct, Newest};
use crate::clients::db::find_user;
use crate::codec::{Codec, Decoded, Encoded};
use crate::durability::{self, Audit, AuditRequest, NewWrite, Written};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::feed::{self, FeedPage};
use crate::insert::{self, BulkInsert, BulkInsertResult};
use crate::likes::{self, LikeAudit, Liked};
use crate::limits::{MAX_USERS, MAX_VALUE_BYTES};
use crate::metric_names as names;
use crate::model::{Profile, Quote, User, Users};
use crate::orders::{self, OrderList};
use crate::state::AppState;
use crate::store::{self as store_dimension, validate_key};

// ---- store -------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoreValue {
    pub key: String,
    pub value: String,
}

/// A valid key from the path and a UTF-8 value of bounded size from the body.
fn key_and_value(
    key: Result<Path<String>, PathRejection>,
    body: Result<String, axum::extract::rejection::StringRejection>,
) -> ApiResult<(String, String)> {
    let Path(key) = key?;
    validate_key(&key).map_err(ApiError::bad_request)?;
    let value = body.map_err(|e| {
        ApiError::BadRequest(format!("value must be UTF-8 text: {}", e.body_text()))
    })?;
    if value.len() > MAX_VALUE_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok((key, value))
}

fn record_lock_wait(timing: &crate::store::LockTiming) {
    metrics::counter!(names::STORE_LOCK_ACQUISITIONS).increment(1);
    metrics::counter!(names::STORE_LOCK_WAIT_NS).increment(timing.wait.as_nanos() as u64);
}

#[utoipa::path(get, path = "/store/{key}", tag = "store",
    params(("key" = String, Path, description = "1–128 bytes of letters, digits, - _ . :")),
    responses((status = 200, body = StoreValue), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn store_get(
    State(state): State<AppState>,
    key: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<StoreValue>> {
    let Path(key) = key?;
    validate_key(&key).map_err(ApiError::bad_request)?;
    let kind = state.settings.store.get();
    let (value, timing) = state
        .stores
        .get(
            kind,
            &key,
            state.settings.store.knob(&store_dimension::WORK_US),
        )
        .await;
    record_lock_wait(&timing);
    let value =
        value.ok_or_else(|| ApiError::NotFound(format!("no value stored under key {key:?}")))?;
    Ok(Json(StoreValue { key, value }))
}

#[utoipa::path(put, path = "/store/{key}", tag = "store",
    params(("key" = String, Path, description = "1–128 bytes of letters, digits, - _ . :")),
    request_body(content = String, content_type = "text/plain", description = "the value: UTF-8 text, at most 64 KiB"),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 507, body = ErrorBody)))]
pub async fn store_put(
    State(state): State<AppState>,
    key: Result<Path<String>, PathRejection>,
    body: Result<String, axum::extract::rejection::StringRejection>,
) -> ApiResult<StatusCode> {
    let (key, value) = key_and_value(key, body)?;
    let settings = &state.settings;
    let timing = state
        .stores
        .put(
            settings.store.get(),
            &key,
            value,
            settings.store.knob(&store_dimension::WORK_US),
            settings.store.knob(&store_dimension::IO_US),
        )
        .await
        .inspect_err(|_| metrics::counter!(names::STORE_REJECTED).increment(1))
        .map_err(|full| ApiError::InsufficientStorage(full.to_string()))?;
    record_lock_wait(&timing);
    Ok(StatusCode::NO_CONTENT)
}

// ---- upstream clients ----------------------------------------------------------------------

#[utoipa::path(get, path = "/upstream/quote/{id}", tag = "http-client",
    params(("id" = u64, Path)),
    responses((status = 200, body = Quote), (status = 400, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn upstream_quote(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<Json<Quote>> {
    let Path(id) = id?;
    Ok(Json(
        state
            .http
            .quote(state.settings.http_client.get(), id)
            .await?,
    ))
}

fn redis(state: &AppState) -> ApiResult<&crate::clients::redis::Redis> {
    state.redis.as_deref().ok_or_else(|| {
        ApiError::Unavailable(
            "Redis is not configured: start the service with --redis-url redis://HOST:PORT".into(),
        )
    })
}

#[utoipa::path(get, path = "/redis/{key}", tag = "redis-client",
    params(("key" = String, Path)),
    responses((status = 200, body = StoreValue), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn redis_get(
    State(state): State<AppState>,
    key: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<StoreValue>> {
    let Path(key) = key?;
    validate_key(&key).map_err(ApiError::bad_request)?;
    let value = redis(&state)?
        .get(state.settings.redis_client.get(), &key)
        .await?;
    let value =
        value.ok_or_else(|| ApiError::NotFound(format!("no Redis value under key {key:?}")))?;
    Ok(Json(StoreValue { key, value }))
}

#[utoipa::path(put, path = "/redis/{key}", tag = "redis-client",
    params(("key" = String, Path)),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn redis_put(
    State(state): State<AppState>,
    key: Result<Path<String>, PathRejection>,
    body: Result<String, axum::extract::rejection::StringRejection>,
) -> ApiResult<StatusCode> {
    let (key, value) = key_and_value(key, body)?;
    redis(&state)?
        .set(state.settings.redis_client.get(), &key, &value)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/db/users/{id}", tag = "db-client",
    params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn db_user(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<User>> {
    let Path(id) = id?;
    let user = find_user(&state.db, state.settings.db_client.get(), id).await?;
    Ok(Json(user.ok_or_else(|| {
        ApiError::NotFound(format!("no user with id {id}"))
    })?))
}

// ---- codec ---------------------------------------------------------------------------------

#[derive(Deserialize, utoipa::IntoParams)]
pub struct UsersQuery {
    #[serde(default = "default_user_count")]
    count: usize,
}

fn default_user_count() -> usize {
    1000
}

#[utoipa::path(get, path = "/codec/users", tag = "codec",
    params(UsersQuery, ("accept" = Option<String>, Header, description = "application/json, application/msgpack or application/msgpack;format=compact")),
    responses(
        (status = 200, content((Vec<Profile> = "application/json"), (Vec<Profile> = "application/msgpack"))),
        (status = 400, body = ErrorBody), (status = 406, body = ErrorBody)))]
pub async fn codec_users(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<UsersQuery>, QueryRejection>,
) -> ApiResult<Encoded<&'static [Profile]>> {
    let Query(q) = query?;
    if q.count > MAX_USERS {
        return Err(ApiError::BadRequest(format!(
            "count must be at most {MAX_USERS}, got {}",
            q.count
        )));
    }
    let codec = Codec::negotiate(&headers, state.settings.codec.get())?;
    Ok(Encoded(codec, &state.profiles[..q.count]))
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Received {
    pub received: usize,
    pub active: usize,
}

#[utoipa::path(post, path = "/codec/users", tag = "codec",
    request_body(description = "at most 10 000 users, 16 tags each",
        content((Vec<Profile> = "application/json"), (Vec<Profile> = "application/msgpack"))),
    responses((status = 200, body = Received), (status = 400, body = ErrorBody), (status = 406, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn codec_accept_users(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Decoded<Users>, ApiError>,
) -> ApiResult<Encoded<Received>> {
    let Decoded(_, Users(users)) = body?;
    if let Some((i, _)) = users
        .iter()
        .enumerate()
        .find(|(_, u)| !u.email.contains('@'))
    {
        return Err(ApiError::BadRequest(format!(
            "users[{i}].email is not an e-mail address"
        )));
    }
    let codec = Codec::negotiate(&headers, state.settings.codec.get())?;
    let active = users.iter().filter(|u| u.active).count();
    Ok(Encoded(
        codec,
        Received {
            received: users.len(),
            active,
        },
    ))
}

// ---- insert --------------------------------------------------------------------------------

#[utoipa::path(post, path = "/insert/events", tag = "insert",
    request_body(description = "1–100 000 rows",
        content((BulkInsert = "application/json"), (BulkInsert = "application/msgpack"))),
    responses((status = 201, body = BulkInsertResult), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn insert_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Decoded<BulkInsert>, ApiError>,
) -> ApiResult<impl IntoResponse> {
    let Decoded(_, bulk) = body?;
    insert::validate(&bulk.events)?;
    let kind = state.settings.insert.get();
    let started = Instant::now();
    let result = insert::insert(
        &state.db,
        kind,
        state.settings.insert.knob(&insert::BATCH_ROWS) as usize,
        &bulk.events,
    )
    .await?;
    tracing::debug!(variant = kind.as_ref(), rows = result.inserted, elapsed = ?started.elapsed(), "bulk insert");
    let codec = Codec::negotiate(&headers, Codec::Json)?;
    Ok((StatusCode::CREATED, Encoded(codec, result)))
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventCount {
    pub count: i64,
}

#[utoipa::path(get, path = "/insert/events", tag = "insert",
    responses((status = 200, body = EventCount), (status = 502, body = ErrorBody)))]
pub async fn count_events(State(state): State<AppState>) -> ApiResult<Json<EventCount>> {
    Ok(Json(EventCount {
        count: insert::count(&state.db).await?,
    }))
}

#[utoipa::path(delete, path = "/insert/events", tag = "insert", description = "Loopback callers, or the admin token.",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn clear_events(State(state): State<AppState>) -> ApiResult<StatusCode> {
    insert::clear(&state.db).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- orders (n-plus-one) -------------------------------------------------------------------

#[derive(Deserialize, utoipa::IntoParams)]
pub struct LatestQuery {
    /// How many orders, newest first (1–500).
    #[serde(default = "default_order_limit")]
    limit: i64,
    /// Which page of `limit` orders: 0 is the newest.
    #[serde(default)]
    page: i64,
}

fn default_order_limit() -> i64 {
    20
}

#[utoipa::path(get, path = "/orders/latest", tag = "orders",
    params(LatestQuery),
    responses((status = 200, body = OrderList), (status = 400, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn latest_orders(
    State(state): State<AppState>,
    query: Result<Query<LatestQuery>, QueryRejection>,
) -> ApiResult<Json<OrderList>> {
    let Query(q) = query?;
    let kind = state.settings.orders.get();
    Ok(Json(
        orders::latest(&state.db, &state.orders, kind, q.limit, q.page).await?,
    ))
}

// ---- likes (like-counter) ------------------------------------------------------------------

fn likes_ctx(state: &AppState) -> likes::Ctx<'_> {
    likes::Ctx {
        db: &state.db,
        redis: state.redis.as_ref(),
        state: &state.likes,
    }
}

#[utoipa::path(post, path = "/likes/{id}", tag = "likes",
    params(("id" = i64, Path, description = "counter 1–100")),
    responses((status = 200, body = Liked), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn like(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<Liked>> {
    let Path(id) = id?;
    let switch = &state.settings.likes;
    Ok(Json(
        likes::like(
            &likes_ctx(&state),
            switch.get(),
            id,
            likes::Knobs {
                work_us: switch.knob(&likes::WORK_US),
                max_retries: switch.knob(&likes::MAX_RETRIES),
                flush_ms: switch.knob(&likes::FLUSH_MS),
            },
        )
        .await?,
    ))
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct LikeCount {
    pub id: i64,
    pub likes: i64,
}

#[utoipa::path(get, path = "/likes/{id}", tag = "likes",
    params(("id" = i64, Path, description = "counter 1–100")),
    responses((status = 200, body = LikeCount), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn like_count(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<LikeCount>> {
    let Path(id) = id?;
    let likes = likes::current(&likes_ctx(&state), id).await?;
    Ok(Json(LikeCount { id, likes }))
}

#[utoipa::path(get, path = "/likes/audit", tag = "likes",
    description = "Acknowledged increments against what is stored, since this process first used the counters.",
    responses((status = 200, body = LikeAudit), (status = 404, body = ErrorBody)))]
pub async fn like_audit(State(state): State<AppState>) -> ApiResult<Json<LikeAudit>> {
    state
        .likes
        .audit(&state.db, state.redis.as_ref())
        .await
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no counter has been used yet".into()))
}

// ---- feed (pagination) ----------------------------------------------------------------------

#[derive(Deserialize, utoipa::IntoParams)]
pub struct FeedQuery {
    /// Posts per page (1–200).
    #[serde(default = "default_feed_limit")]
    limit: i64,
    /// pagination=offset: rows to skip.
    offset: Option<i64>,
    /// pagination=keyset: the previous page's last post (both or neither).
    after_created_at: Option<i64>,
    after_id: Option<i64>,
}

fn default_feed_limit() -> i64 {
    20
}

#[utoipa::path(get, path = "/feed", tag = "pagination",
    params(FeedQuery),
    responses((status = 200, body = FeedPage), (status = 400, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn feed_page(
    State(state): State<AppState>,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> ApiResult<Json<FeedPage>> {
    let Query(q) = query?;
    let after = match (q.after_created_at, q.after_id) {
        (Some(created_at), Some(id)) => Some(feed::Cursor { created_at, id }),
        (None, None) => None,
        _ => {
            return Err(ApiError::BadRequest(
                "a cursor needs both after_created_at and after_id".into(),
            ));
        }
    };
    let switch = &state.settings.pagination;
    let page = feed::PageRequest {
        limit: q.limit,
        offset: q.offset,
        after,
    };
    Ok(Json(
        feed::page(
            &state.db,
            &state.feed,
            switch.get(),
            switch.knob(&feed::ROWS) as i64,
            page,
        )
        .await?,
    ))
}

// ---- catalog (index) ----------------------------------------------------------------------

#[derive(Deserialize, utoipa::IntoParams)]
pub struct NewestQuery {
    /// 1–100.
    category: i64,
    /// 1–100.
    #[serde(default = "default_feed_limit")]
    limit: i64,
}

#[utoipa::path(get, path = "/catalog/newest", tag = "index",
    params(NewestQuery),
    responses((status = 200, body = Newest), (status = 400, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn catalog_newest(
    State(state): State<AppState>,
    query: Result<Query<NewestQuery>, QueryRejection>,
) -> ApiResult<Json<Newest>> {
    let Query(q) = query?;
    let switch = &state.settings.index;
    Ok(Json(
        catalog::newest(
            &state.db,
            &state.catalog,
            switch.get(),
            switch.knob(&catalog::ROWS) as i64,
            q.category,
            q.limit,
        )
        .await?,
    ))
}

#[utoipa::path(post, path = "/catalog/products", tag = "index",
    request_body(content = NewProduct, content_type = "application/json"),
    responses((status = 201, body = Created), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn catalog_create(
    State(state): State<AppState>,
    body: Result<Decoded<NewProduct>, ApiError>,
) -> ApiResult<impl IntoResponse> {
    let Decoded(_, product) = body?;
    let switch = &state.settings.index;
    let created = catalog::create(
        &state.db,
        &state.catalog,
        switch.get(),
        switch.knob(&catalog::ROWS) as i64,
        &product,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

// ---- durability -----------------------------------------------------------------------------

#[utoipa::path(post, path = "/durability/writes", tag = "durability",
    request_body(content = NewWrite, content_type = "application/json"),
    responses((status = 201, body = Written), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn durability_write(
    State(state): State<AppState>,
    body: Result<Decoded<NewWrite>, ApiError>,
) -> ApiResult<impl IntoResponse> {
    let Decoded(_, write) = body?;
    let switch = &state.settings.durability;
    let written = durability::write(
        &state.db,
        &state.durability,
        switch.get(),
        switch.knob(&durability::COMMIT_DELAY_US),
        &write,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(written)))
}

/// Which acknowledged writes are stored after a crash, and whether the option promised them.
#[utoipa::path(post, path = "/durability/audit", tag = "durability",
    request_body(content = AuditRequest, content_type = "application/json"),
    responses((status = 200, body = Audit), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn durability_audit(
    State(state): State<AppState>,
    body: Result<Decoded<AuditRequest>, ApiError>,
) -> ApiResult<Json<Audit>> {
    let Decoded(_, request) = body?;
    let switch = &state.settings.durability;
    Ok(Json(
        durability::audit(
            &state.db,
            &state.durability,
            switch.get(),
            switch.knob(&durability::COMMIT_DELAY_US),
            &request,
        )
        .await?,
    ))
}

// ---- cache (cache-aside) ---------------------------------------------------------------------

fn cache_ctx(state: &AppState) -> cache::Ctx<'_> {
    let switch = &state.settings.cache;
    cache::Ctx {
        db: &state.db,
        redis: state.redis.as_ref().map(|r| r.shared()),
        state: &state.cache,
        kind: switch.get(),
        ttl_ms: switch.knob(&cache::TTL_MS),
        single_flight: switch.knob(&cache::SINGLE_FLIGHT) == 1,
        invalidate_on_write: switch.knob(&cache::INVALIDATE_ON_WRITE) == 1,
        rows: switch.knob(&cache::ROWS) as i64,
    }
}

/// A cached answer as it was stored: its JSON, and `x-cache` saying which tier answered.
fn cached_json((body, source): (bytes::Bytes, cache::Source)) -> impl IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "application/json"),
            (
                axum::http::HeaderName::from_static("x-cache"),
                <&'static str>::from(source),
            ),
        ],
        body,
    )
}

/// The cheap read: one product by primary key.
#[utoipa::path(get, path = "/cache/products/{id}", tag = "cache",
    params(("id" = i64, Path, description = "1 to `cache.rows`")),
    responses((status = 200, body = cache::Product, headers(("x-cache" = String, description = "database, redis or local: which tier answered"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn cache_product(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<impl IntoResponse> {
    let Path(id) = id?;
    Ok(cached_json(
        cache::read(&cache_ctx(&state), cache::Key::Product(id)).await?,
    ))
}

/// The expensive read: a category's figures, from a scan of every product.
#[utoipa::path(get, path = "/cache/categories/{id}/summary", tag = "cache",
    params(("id" = i64, Path, description = "category 1–100")),
    responses((status = 200, body = cache::CategorySummary, headers(("x-cache" = String, description = "database, redis or local: which tier answered"))),
        (status = 400, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn cache_category_summary(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<impl IntoResponse> {
    let Path(id) = id?;
    Ok(cached_json(
        cache::read(&cache_ctx(&state), cache::Key::Category(id)).await?,
    ))
}

/// The write that makes cached answers stale (deleted with `cache.invalidate_on_write` = 1).
#[utoipa::path(put, path = "/cache/products/{id}", tag = "cache",
    params(("id" = i64, Path, description = "1 to `cache.rows`")),
    request_body(content = cache::PriceChange, content_type = "application/json"),
    responses((status = 200, body = cache::Product), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn cache_change_price(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Decoded<cache::PriceChange>, ApiError>,
) -> ApiResult<Json<cache::Product>> {
    let Path(id) = id?;
    let Decoded(_, change) = body?;
    Ok(Json(
        cache::change_price(&cache_ctx(&state), id, &change).await?,
    ))
}

// ---- blocking (blocking-runtime) ---------------------------------------------------------

/// Blocking work (`blocking.work_ms` of waiting or hashing), done where the option says.
#[utoipa::path(get, path = "/blocking/work", tag = "blocking",
    responses((status = 200, body = crate::blocking::WorkDone), (status = 502, body = ErrorBody)))]
pub async fn blocking_work(
    State(state): State<AppState>,
) -> ApiResult<Json<crate::blocking::WorkDone>> {
    use crate::blocking::{CPU, PERMITS, WORK_MS};
    let switch = &state.settings.blocking;
    Ok(Json(
        crate::blocking::work(
            &state.blocking,
            switch.get(),
            switch.knob(&WORK_MS),
            switch.knob(&CPU) == 1,
            switch.knob(&PERMITS),
        )
        .await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Fast {
    pub ok: bool,
}

/// The victim: an endpoint with no work at all, answered in microseconds — unless every
/// worker thread is blocked.
#[utoipa::path(get, path = "/blocking/fast", tag = "blocking",
    responses((status = 200, body = Fast)))]
pub async fn blocking_fast() -> Json<Fast> {
    Json(Fast { ok: true })
}

// ---- parallelism (the parallelism lab) ------------------------------------------------------

/// CPU-bound work (`parallel.work_kiters` thousand hash iterations, `parallel.serial_permille`
/// of it serial), on one thread or split across a rayon pool.
#[utoipa::path(get, path = "/parallel/digest/{seed}", tag = "parallelism",
    params(("seed" = u64, Path)),
    responses((status = 200, body = crate::parallel::Digest), (status = 400, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn parallel_digest(
    State(state): State<AppState>,
    seed: Result<Path<u64>, PathRejection>,
) -> ApiResult<Json<crate::parallel::Digest>> {
    let Path(seed) = seed?;
    use crate::parallel::{CHUNKS, SERIAL_PERMILLE, THREADS, WORK_KITERS, Work};
    let switch = &state.settings.parallelism;
    let work = Work {
        seed,
        kiters: switch.knob(&WORK_KITERS),
        chunks: switch.knob(&CHUNKS).max(1),
        serial_permille: switch.knob(&SERIAL_PERMILLE),
    };
    Ok(Json(
        crate::parallel::digest(&state.parallel, switch.get(), work, switch.knob(&THREADS)).await?,
    ))
}

// ---- pool-sizing (the pool-sizing lab) ------------------------------------------------------

async fn pool_query(
    state: &AppState,
    query: crate::pool_sizing::Query,
) -> ApiResult<Json<crate::pool_sizing::PoolAnswer>> {
    use crate::pool_sizing::SIZE;
    let switch = &state.settings.pool_sizing;
    Ok(Json(
        crate::pool_sizing::run(
            &state.pool_sizing,
            &state.db,
            switch.get(),
            switch.knob(&SIZE),
            query,
        )
        .await?,
    ))
}

/// A read that is pure database CPU (`pool.query_rows` rows generated and summed), through
/// the connections the `pool-sizing` option allows.
#[utoipa::path(get, path = "/pool/read/{id}", tag = "pool-sizing",
    params(("id" = u64, Path)),
    responses((status = 200, body = crate::pool_sizing::PoolAnswer), (status = 400, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn pool_read(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<Json<crate::pool_sizing::PoolAnswer>> {
    let Path(_) = id?;
    let rows = state
        .settings
        .pool_sizing
        .knob(&crate::pool_sizing::QUERY_ROWS)
        .max(1);
    pool_query(&state, crate::pool_sizing::Query::Read { rows }).await
}

/// A write: one of 16 counters incremented (a row lock and a commit).
#[utoipa::path(post, path = "/pool/write/{id}", tag = "pool-sizing",
    params(("id" = u64, Path)),
    responses((status = 200, body = crate::pool_sizing::PoolAnswer), (status = 400, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn pool_write(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<Json<crate::pool_sizing::PoolAnswer>> {
    let Path(id) = id?;
    pool_query(
        &state,
        crate::pool_sizing::Query::Write {
            id: (id % 1_000_000) as i64,
        },
    )
    .await
}

// ---- resilience (the resilience lab) --------------------------------------------------------

/// A price from the flaky upstream (`flaky.*` knobs), with the defences of the `resilience`
/// option: none, a timeout (504), retries, a circuit breaker and a bulkhead (503 when either
/// turns the call away).
#[utoipa::path(get, path = "/resilience/quote/{id}", tag = "resilience",
    params(("id" = u64, Path)),
    responses((status = 200, body = Quote), (status = 400, body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
pub async fn resilience_quote(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<Json<Quote>> {
    let Path(id) = id?;
    let ctx = crate::resilience::Ctx {
        state: &state.resilience,
        switch: &state.settings.resilience,
        http: &state.http,
        db: &state.db,
    };
    Ok(Json(crate::resilience::quote(&ctx, id).await?))
}

// ---- batch-calls (the batch-calls lab) ----------------------------------------------------

/// The total price of a basket of `batch.items` products, asked of the upstream one call per
/// item (in a row, all at once, or `batch.concurrency` at a time) or in one batch call.
#[utoipa::path(get, path = "/batch/baskets/{id}", tag = "batch-calls",
    params(("id" = u64, Path, description = "basket number; its products are id·1000 + 0 … items − 1")),
    responses((status = 200, body = crate::batch_calls::Basket), (status = 400, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn batch_basket(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<Json<crate::batch_calls::Basket>> {
    use crate::batch_calls::{CONCURRENCY, ITEMS};
    let Path(id) = id?;
    let switch = &state.settings.batch_calls;
    Ok(Json(
        crate::batch_calls::price(
            &state.http,
            switch.get(),
            id,
            switch.knob(&ITEMS),
            switch.knob(&CONCURRENCY),
        )
        .await?,
    ))
}

/// A known path asked with a method it does not take: 405 with the same JSON body as every
/// other error.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{} does not take {method}: see the README for each endpoint's methods",
        uri.path()
    ))
}

pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no route for {}: see GET /admin/settings and the README for endpoints",
        uri.path()
    ))
}
