//! perflab's reference backend. Each switchable dimension lives in one module, with its naive
//! and optimized implementations side by side:
//!
//! | dimension | module |
//! |---|---|
//! | `store` | [`store`] |
//! | `http-client` | [`clients::http`] (calls [`upstream`]) |
//! | `redis-client` | [`clients::redis`] |
//! | `db-client` | [`clients::db`] |
//! | `codec` | [`codec`] |
//! | `insert` | [`insert`] |
//!
//! [`admin`] switches them at run time; [`observability`] exports the counters that explain them.

pub mod admin;
pub mod app;
pub mod clients;
pub mod codec;
pub mod config;
pub mod db;
pub mod error;
pub mod insert;
pub mod observability;
pub mod routes;
pub mod settings;
pub mod store;
pub mod upstream;
