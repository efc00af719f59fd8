//! perflab's reference backend. Each switchable dimension lives in one module, with its naive
//! and optimized implementations side by side, and is listed once in [`dimensions`]:
//!
//! | dimension | module |
//! |---|---|
//! | `store` | [`store`] |
//! | `http-client` | [`clients::http`] (calls [`upstream`]) |
//! | `redis-client` | [`clients::redis`] |
//! | `db-client` | [`clients::db`] |
//! | `codec` | [`codec`] |
//! | `insert` | [`insert`] |
//! | `orders` | [`orders`] (the n-plus-one lab) |
//! | `likes` | [`likes`] (the like-counter lab) |
//! | `pagination` | [`feed`] (the pagination lab) |
//! | `index` | [`catalog`] (the index lab) |
//! | `durability` | [`durability`] (the durability lab) |
//! | `cache` | [`cache`] (the cache-aside lab) |
//! | `blocking` | [`blocking`] (the blocking-runtime lab) |
//! | `batch-calls` | [`batch_calls`] (the batch-calls lab; calls [`upstream`]'s `/quote` and `/quotes`) |
//! | `compression` | [`compression`] (the compression lab; a policy for tower-http's `CompressionLayer` on `GET /codec/users`) |
//! | `resilience` | [`resilience`] (the resilience lab; calls [`upstream`]'s `/flaky`) |
//! | `parallelism` | [`parallel`] (the parallelism lab; rayon inside a request) |
//! | `pool-sizing` | [`pool_sizing`] (the pool-sizing lab; connections in use at once) |
//!
//! [`settings`] is the switchboard's machinery; [`admin`] switches dimensions at run time;
//! [`observability`] exports the counters ([`metric_names`]) that explain them; [`introspect`]
//! is the service measuring itself (allocations, CPU, context switches, CPU profiles).

pub mod admin;
pub mod app;
pub mod batch_calls;
pub mod blocking;
pub mod cache;
pub mod catalog;
pub mod clients;
pub mod codec;
pub mod compression;
pub mod config;
pub mod db;
pub mod dimensions;
pub mod durability;
pub mod error;
pub mod feed;
pub mod generated;
pub mod insert;
pub mod introspect;
pub mod likes;
pub mod limits;
pub mod metric_names;
pub mod model;
pub mod observability;
pub mod openapi;
pub mod orders;
pub mod parallel;
pub mod permits;
pub mod pool_sizing;
pub mod resilience;
pub mod routes;
pub mod settings;
pub mod state;
pub mod store;
pub mod upstream;
