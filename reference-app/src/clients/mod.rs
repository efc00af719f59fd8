//! Dimensions `http-client`, `redis-client` and `db-client`: one client per request versus a
//! long-lived pooled client. Same lesson, three protocols (seed guide: "connection pooling").

pub mod db;
pub mod http;
pub mod redis;
