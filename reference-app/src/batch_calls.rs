//! Dimension `batch-calls`: one request that needs many things from another service — here the
//! prices of the `batch.items` products in a basket — and four ways to ask for them.
//!
//! | option | upstream round trips | time, for N items and a call of latency L |
//! |---|---|---|
//! | `sequential` | N, one after another (naive: an `.await` in a loop) | ≈ N · L |
//! | `join-all` | N, all at once (`futures::future::join_all`) | ≈ L, but N connections and N requests' CPU |
//! | `bounded` | N, at most `batch.concurrency` at once (`buffered`) | ≈ ⌈N / c⌉ · L, at most c connections per basket |
//! | `batch` | 1: the upstream's batch endpoint, `GET /quotes?ids=…` | ≈ L, one request's overhead |
//!
//! The lesson is the first column: concurrency hides round trips' *latency*, a batch removes
//! the round trips. When the upstream is close (loopback, `upstream.latency_us` = 0) the calls
//! cost CPU rather than waiting, and concurrency has little to hide; the batch still saves the
//! N − 1 requests' work on both sides. Counters: `batch_upstream_calls_total` per basket (the
//! round trips), `upstream_quotes_served_total` (the same prices in every option),
//! `upstream_tcp_connections_total` (what unbounded concurrency opens).

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::clients::http::{HttpClientKind, HttpClients};
use crate::dimension;
use crate::error::ApiError;
use crate::limits::MAX_BATCH_IDS;
use crate::metric_names as names;
use crate::model::Quote;
use crate::settings::Knob;

dimension! {
    pub enum BatchCallsKind as "batch-calls", default Sequential, knobs [ITEMS, CONCURRENCY] {
        /// Naive.
        Sequential = "one upstream call per item, each awaited before the next: N round trips in a row",
        JoinAll = "one call per item, all at once (join_all): N round trips side by side",
        Bounded = "one call per item, at most batch.concurrency at once",
        /// Optimized.
        Batch = "one call to the upstream's batch endpoint for every item: 1 round trip",
    }
}

pub const ITEMS: Knob = Knob {
    index: 0,
    name: "batch.items",
    about: "products in a basket: prices one request needs from the upstream",
    default: 20,
    max: MAX_BATCH_IDS as u64,
};
pub const CONCURRENCY: Knob = Knob {
    index: 1,
    name: "batch.concurrency",
    about: "bounded: upstream calls one basket may have in flight at once",
    default: 4,
    max: 1_000,
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Basket {
    pub basket: u64,
    pub items: u64,
    /// The sum of the items' prices: the same whichever way they were asked for.
    pub total_cents: u64,
    /// Calls made to the upstream for this basket.
    pub upstream_calls: u64,
}

/// The basket's products: `basket · 1000 + k` for `k` in `0..items` (the lab computes the
/// expected total from the same rule).
fn product_ids(basket: u64, items: u64) -> impl Iterator<Item = u64> {
    (0..items).map(move |k| basket * 1_000 + k)
}

pub async fn price(
    http: &HttpClients,
    kind: BatchCallsKind,
    basket: u64,
    items: u64,
    concurrency: u64,
) -> Result<Basket, ApiError> {
    if basket > u64::MAX / 1_000 - 1 {
        return Err(ApiError::bad_request(format!(
            "basket {basket} is too large: at most {}",
            u64::MAX / 1_000 - 1
        )));
    }
    metrics::counter!(names::BATCH_BASKETS).increment(1);
    let ids = product_ids(basket, items);
    let (quotes, calls): (Vec<Quote>, u64) = match kind {
        BatchCallsKind::Sequential => {
            let mut quotes = Vec::with_capacity(items as usize);
            for id in ids {
                quotes.push(one(http, id).await?);
            }
            (quotes, items)
        }
        BatchCallsKind::JoinAll => {
            let all = futures::future::try_join_all(ids.map(|id| one(http, id))).await?;
            (all, items)
        }
        BatchCallsKind::Bounded => {
            let some = futures::stream::iter(ids.map(|id| one(http, id)))
                .buffered(concurrency.max(1) as usize)
                .try_collect()
                .await?;
            (some, items)
        }
        BatchCallsKind::Batch => (many(http, ids).await?, u64::from(items > 0)),
    };
    Ok(Basket {
        basket,
        items,
        total_cents: quotes.iter().map(|q| q.price_cents).sum(),
        upstream_calls: calls,
    })
}

/// One price: `GET /quote/{id}` on the pooled client (the `http-client` dimension's `shared`).
async fn one(http: &HttpClients, id: u64) -> Result<Quote, ApiError> {
    metrics::counter!(names::BATCH_UPSTREAM_CALLS).increment(1);
    http.quote(HttpClientKind::Shared, id).await
}

/// Every price in one call: `GET /quotes?ids=1,2,3`.
async fn many(http: &HttpClients, ids: impl Iterator<Item = u64>) -> Result<Vec<Quote>, ApiError> {
    let list: Vec<String> = ids.map(|id| id.to_string()).collect();
    if list.is_empty() {
        return Ok(Vec::new());
    }
    metrics::counter!(names::BATCH_UPSTREAM_CALLS).increment(1);
    let what = "the upstream's batch price call";
    let response = http
        .shared()
        .get(format!("{}/quotes?ids={}", http.base_url(), list.join(",")))
        .send()
        .await
        .map_err(|e| ApiError::dependency(what, e))?;
    if !response.status().is_success() {
        let status = response.status();
        return Err(ApiError::dependency(
            what,
            format!("upstream answered {status}"),
        ));
    }
    response
        .json()
        .await
        .map_err(|e| ApiError::dependency(what, e))
}
