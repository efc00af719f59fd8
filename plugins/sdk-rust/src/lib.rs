//! Write a perflab experiment in Rust.
//!
//! ```ignore
//! use perflab_plugin::*;
//!
//! struct MyLab;
//! impl Lab for MyLab {
//!     type VirtualUser = User;
//!     fn describe(params: Vec<ParamValue>) -> Description { /* ... */ }
//! }
//! struct User { rng: Rng }
//! impl GuestVirtualUser for User {
//!     fn new(config: VuConfig) -> Self { User { rng: Rng::new(config.seed) } }
//!     fn next_request(&self, iteration: u64) -> Result<Request, String> { Ok(get("/store/k")) }
//!     fn check_response(&self, r: Response) -> Vec<Check> { vec![check("status is 200", r.status == 200)] }
//! }
//! export!(MyLab);
//! ```
//!
//! Resource methods take `&self` (the component model's rule): keep per-VU state that changes
//! in a `Cell` or `RefCell`.

// With the `lessons` feature the component also exports `lessons` (see `Lessons`); with
// `defaults`, also `defaults` (see `Defaults`); with `crash-check`, also `crash-check`.
#[cfg(not(feature = "lessons"))]
wit_bindgen::generate!({
    world: "experiment",
    path: "../wit",
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "perflab_plugin",
});
#[cfg(all(feature = "lessons", not(feature = "defaults")))]
wit_bindgen::generate!({
    world: "experiment-with-lessons",
    path: "../wit",
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "perflab_plugin",
});

#[cfg(all(feature = "defaults", not(feature = "crash-check")))]
wit_bindgen::generate!({
    world: "experiment-with-defaults",
    path: "../wit",
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "perflab_plugin",
});

#[cfg(feature = "crash-check")]
wit_bindgen::generate!({
    world: "experiment-with-crash-check",
    path: "../wit",
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "perflab_plugin",
});

/// The crash check (feature `crash-check`): `plan` returning `Some(CrashPlan { .. })` makes
/// the harness kill the service (or its database) mid-write for every variant and count the
/// acknowledged writes that survived.
#[cfg(feature = "crash-check")]
pub use exports::perflab::experiment::crash_check::{CrashPlan, Failure, Guest as CrashCheck};

/// What the lab turns on by default (feature `defaults`): `profile_hz` returning `Some(99)`
/// profiles the service in every run of the lab unless the user says `--no-profile`.
#[cfg(feature = "defaults")]
pub use exports::perflab::experiment::defaults::Guest as Defaults;

/// The lesson a run shows, per comparison and headline metric (feature `lessons`): implement
/// `explain` and return `Some(text)` for the outcomes your guide covers; `None` falls back to
/// `teaching.explanation`.
#[cfg(feature = "lessons")]
pub use exports::perflab::experiment::lessons::{Guest as Lessons, Outcome};

use std::cell::Cell;

pub use exports::perflab::experiment::lab::{Guest as Lab, GuestVirtualUser};
pub use perflab::experiment::host::{Level, log as host_log};
pub use perflab::experiment::types::{
    BodyNeed, Check, Comparison, ConstantArrivalRate, ConstantVus, Description, Header, LoadModel,
    Method, Metric, Need, Param, ParamValue, RampingArrivalRate, RampingVus, Request, Response,
    Setting, Stage, Teaching, Threshold, Value, VariantDef, VuConfig,
};

pub fn log(message: &str) {
    host_log(Level::Info, message);
}

// Paths and names take `impl Into<String>`: a `String` the lab just built moves in as it is,
// and a `&str` is copied once. Every allocation here is paid on each `next-request`.
fn request(method: Method, path: impl Into<String>) -> Request {
    Request {
        method,
        path: path.into(),
        headers: Vec::new(),
        body: Vec::new(),
        name: String::new(),
    }
}

pub fn get(path: impl Into<String>) -> Request {
    request(Method::Get, path)
}
pub fn put(path: impl Into<String>, body: impl Into<Vec<u8>>) -> Request {
    Request {
        body: body.into(),
        ..request(Method::Put, path)
    }
}
pub fn post(path: impl Into<String>, body: impl Into<Vec<u8>>) -> Request {
    Request {
        body: body.into(),
        ..request(Method::Post, path)
    }
}

/// `prefix` followed by `n` in decimal: `numbered("/store/key-", 7)` is `"/store/key-7"`.
///
/// The same string as `format!("{prefix}{n}")`, in one allocation and without `core::fmt`,
/// whose dynamic dispatch costs about 0.2 µs per call in WebAssembly: worth it on the
/// per-request path, not in `describe`.
pub fn numbered(prefix: &str, n: u64) -> String {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n);
    let mut s = String::with_capacity(prefix.len() + digits.len());
    s.push_str(prefix);
    s.push_str(digits);
    s
}

/// Appends `n` in decimal to `s`: `write!(s, "{n}")` without `core::fmt`, for bodies built on
/// every request.
pub fn push_number(s: &mut String, n: u64) {
    s.push_str(itoa::Buffer::new().format(n));
}

impl Request {
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(Header {
            name: name.into(),
            value: value.into(),
        });
        self
    }
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

pub fn check(name: &str, passed: bool) -> Check {
    Check {
        name: name.to_string(),
        passed,
    }
}

/// A service setting that selects a dimension's option, e.g. `option("store", "sharded")`.
pub fn option(dimension: &str, value: &str) -> Setting {
    Setting {
        name: dimension.to_string(),
        value: Value::Text(value.to_string()),
    }
}
/// A numeric knob, e.g. `knob("store.work_us", 20)`.
pub fn knob(name: &str, value: i64) -> Setting {
    Setting {
        name: name.to_string(),
        value: Value::Integer(value),
    }
}

pub fn variant(name: &str, description: &str, settings: Vec<Setting>) -> VariantDef {
    VariantDef {
        name: name.to_string(),
        description: description.to_string(),
        settings,
    }
}

pub fn param(name: &str, description: &str, default: Value) -> Param {
    Param {
        name: name.to_string(),
        description: description.to_string(),
        default,
    }
}

/// The `db` parameter of a lab that runs on several databases: perflab sets it from `--db`
/// (read it with `text_param(&params, "db", "sqlite")`).
pub fn db_param() -> Param {
    param(
        "db",
        "set by perflab from --db",
        Value::Text("sqlite".into()),
    )
}

/// The threshold every lab starts from: fewer than `rate` (e.g. 0.01 = 1 %) of requests fail,
/// in every variant. It is also the run's validity limit: above it the run is invalid.
pub fn error_rate_below(rate: f64) -> Threshold {
    limit(Metric::ErrorRate, Comparison::Lt, rate)
}

/// `metric op value` in every variant, e.g. `limit(Metric::P99, Comparison::Lt, 50.0)` for
/// p99 < 50 ms. Latencies are milliseconds, throughput requests per second, rates 0–1.
pub fn limit(metric: Metric, op: Comparison, value: f64) -> Threshold {
    Threshold {
        variant: None,
        metric,
        op,
        value,
        relative_to: None,
    }
}

/// `variant.metric op value`, for one variant.
pub fn limit_for(variant: &str, metric: Metric, op: Comparison, value: f64) -> Threshold {
    Threshold {
        variant: Some(variant.to_string()),
        ..limit(metric, op, value)
    }
}

/// `p99 < ms` in every variant.
pub fn p99_below_ms(ms: f64) -> Threshold {
    limit(Metric::P99, Comparison::Lt, ms)
}

/// `variant.metric op factor × baseline.metric`: against the same variant in the saved baseline
/// (`--baseline NAME`), judged on the confidence interval.
pub fn against_baseline(variant: &str, metric: Metric, op: Comparison, factor: f64) -> Threshold {
    relative(variant, metric, op, factor, "baseline")
}

pub fn constant_vus(vus: u32, seconds: f64) -> LoadModel {
    LoadModel::ConstantVus(ConstantVus {
        vus,
        duration_ms: (seconds * 1000.0) as u64,
        think_time_ms: 0,
    })
}
pub fn constant_rate(rate: f64, seconds: f64, max_vus: u32) -> LoadModel {
    LoadModel::ConstantArrivalRate(ConstantArrivalRate {
        rate,
        duration_ms: (seconds * 1000.0) as u64,
        max_vus,
    })
}

/// `variant.metric op factor × relative_to.metric`, judged on the confidence interval.
pub fn relative(
    variant: &str,
    metric: Metric,
    op: Comparison,
    factor: f64,
    relative_to: &str,
) -> Threshold {
    Threshold {
        variant: Some(variant.to_string()),
        metric,
        op,
        value: factor,
        relative_to: Some(relative_to.to_string()),
    }
}

/// Looks a parameter up: the value given on the command line, or `default`.
pub fn int_param(params: &[ParamValue], name: &str, default: i64) -> i64 {
    params
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| match p.value {
            Value::Integer(i) => Some(i),
            Value::Number(f) => Some(f as i64),
            _ => None,
        })
        .unwrap_or(default)
}

pub fn text_param(params: &[ParamValue], name: &str, default: &str) -> String {
    params
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| match &p.value {
            Value::Text(t) => Some(t.clone()),
            _ => None,
        })
        .unwrap_or_else(|| default.to_string())
}

/// A flag parameter (`--param name=true`); integers count as true when not 0.
pub fn flag_param(params: &[ParamValue], name: &str, default: bool) -> bool {
    params
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| match &p.value {
            Value::Flag(b) => Some(*b),
            Value::Integer(i) => Some(*i != 0),
            _ => None,
        })
        .unwrap_or(default)
}

/// A small, seeded generator (SplitMix64): the same seed gives the same requests.
pub struct Rng(Cell<u64>);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(Cell::new(seed ^ 0x9E37_79B9_7F4A_7C15))
    }
    pub fn next_u64(&self) -> u64 {
        let mut z = self.0.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.0.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
