//! From the plugin's WIT types to the harness's own.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

use super::bindings::perflab::experiment::types as wit;
use crate::load::{LoadModel, Stage};
use crate::workload::{BodyNeed, RequestSpec};

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn stages(s: &[wit::Stage]) -> Vec<Stage> {
    s.iter()
        .map(|s| Stage {
            duration: ms(s.duration_ms),
            target: s.target,
        })
        .collect()
}

pub fn load_model(m: &wit::LoadModel) -> LoadModel {
    match m {
        wit::LoadModel::ConstantVus(c) => LoadModel::ConstantVus {
            vus: c.vus,
            duration: ms(c.duration_ms),
            think_time: ms(c.think_time_ms),
        },
        wit::LoadModel::RampingVus(r) => LoadModel::RampingVus {
            start_vus: r.start_vus,
            stages: stages(&r.stages),
            think_time: ms(r.think_time_ms),
        },
        wit::LoadModel::ConstantArrivalRate(c) => LoadModel::ConstantArrivalRate {
            rate: c.rate,
            duration: ms(c.duration_ms),
            max_vus: c.max_vus,
        },
        wit::LoadModel::RampingArrivalRate(r) => LoadModel::RampingArrivalRate {
            start_rate: r.start_rate,
            stages: stages(&r.stages),
            max_vus: r.max_vus,
        },
    }
}

pub fn value_json(v: &wit::Value) -> serde_json::Value {
    match v {
        wit::Value::Integer(i) => (*i).into(),
        wit::Value::Number(f) => (*f).into(),
        wit::Value::Text(t) => t.clone().into(),
        wit::Value::Flag(b) => (*b).into(),
    }
}

pub fn settings(s: &[wit::Setting]) -> BTreeMap<String, serde_json::Value> {
    s.iter()
        .map(|s| (s.name.clone(), value_json(&s.value)))
        .collect()
}

/// A structured threshold as the expression the harness's threshold parser reads.
pub fn threshold(t: &wit::Threshold) -> String {
    let metric = match t.metric {
        wit::Metric::P50 => "p50",
        wit::Metric::P90 => "p90",
        wit::Metric::P99 => "p99",
        wit::Metric::P999 => "p999",
        wit::Metric::Max => "max",
        wit::Metric::Mean => "mean",
        wit::Metric::Throughput => "throughput",
        wit::Metric::ErrorRate => "error_rate",
        wit::Metric::CheckRate => "check_rate",
    };
    let op = match t.op {
        wit::Comparison::Lt => "<",
        wit::Comparison::Le => "<=",
        wit::Comparison::Gt => ">",
        wit::Comparison::Ge => ">=",
    };
    let lhs = match &t.variant {
        Some(v) => format!("{v}.{metric}"),
        None => metric.to_string(),
    };
    match &t.relative_to {
        Some(other) => format!("{lhs} {op} {} * {other}.{metric}", t.value),
        None => format!("{lhs} {op} {}", t.value),
    }
}

pub fn body_need(b: &wit::BodyNeed) -> BodyNeed {
    match b {
        wit::BodyNeed::None => BodyNeed::None,
        wit::BodyNeed::Prefix(n) => BodyNeed::Prefix(*n as usize),
        wit::BodyNeed::All => BodyNeed::All,
    }
}

pub fn request(r: wit::Request) -> Result<RequestSpec, String> {
    if !r.path.starts_with('/') {
        return Err(format!("request path {:?} must start with /", r.path));
    }
    let method = match r.method {
        wit::Method::Get => hyper::Method::GET,
        wit::Method::Head => hyper::Method::HEAD,
        wit::Method::Post => hyper::Method::POST,
        wit::Method::Put => hyper::Method::PUT,
        wit::Method::Delete => hyper::Method::DELETE,
        wit::Method::Patch => hyper::Method::PATCH,
    };
    Ok(RequestSpec {
        method,
        path: r.path,
        headers: r.headers.into_iter().map(|h| (h.name, h.value)).collect(),
        body: Bytes::from(r.body),
        name: r.name,
    })
}

/// Parses `--param name=value` against the declared parameter's type.
pub fn param_value(declared: &wit::Param, raw: &str) -> Result<wit::Value, String> {
    let bad = |what: &str| format!("--param {}={raw}: expected {what}", declared.name);
    Ok(match declared.default {
        wit::Value::Integer(_) => wit::Value::Integer(raw.parse().map_err(|_| bad("an integer"))?),
        wit::Value::Number(_) => wit::Value::Number(raw.parse().map_err(|_| bad("a number"))?),
        wit::Value::Flag(_) => wit::Value::Flag(raw.parse().map_err(|_| bad("true or false"))?),
        wit::Value::Text(_) => wit::Value::Text(raw.to_string()),
    })
}

pub fn show_value(v: &wit::Value) -> String {
    value_json(v).to_string().trim_matches('"').to_string()
}
