//! From the plugin's WIT types to the harness's own.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

use crate::wit;
use perflab_load::workload::{BodyNeed, RequestSpec};
use perflab_load::{LoadModel, Stage};

use crate::PluginError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConvertError {
    #[error("request path {0:?} must start with /")]
    Path(String),
    #[error("--param {name}={given}: expected {expected}")]
    ParamType {
        name: String,
        given: String,
        expected: &'static str,
    },
}

impl From<ConvertError> for PluginError {
    fn from(e: ConvertError) -> Self {
        PluginError::Convert(e)
    }
}

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

pub fn body_need(b: &wit::BodyNeed) -> BodyNeed {
    match b {
        wit::BodyNeed::None => BodyNeed::None,
        wit::BodyNeed::Prefix(n) => BodyNeed::Prefix(*n as usize),
        wit::BodyNeed::All => BodyNeed::All,
    }
}

pub fn request(r: wit::Request) -> Result<RequestSpec, ConvertError> {
    if !r.path.starts_with('/') {
        return Err(ConvertError::Path(r.path));
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
pub fn param_value(declared: &wit::Param, raw: &str) -> Result<wit::Value, ConvertError> {
    let bad = |expected: &'static str| ConvertError::ParamType {
        name: declared.name.clone(),
        given: raw.to_string(),
        expected,
    };
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
