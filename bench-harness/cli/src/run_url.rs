//! `perflab run URL [URL]`: the plain URL mode, like wrk or oha; with two URLs, an A/B
//! comparison with a verdict.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use perflab_load::LoadModel;
use perflab_load::client::Target;
use perflab_load::workload::{FixedRequest, RequestSpec, Workload};
use tokio_util::sync::CancellationToken;

use crate::args::RunArgs;
use crate::environment;
use crate::execute::{RunInfo, execute};
use crate::exit::Exit;
use crate::experiment::{Plan, Variant};
use crate::rounds::Defaults;

/// Without load flags: 10 VUs.
fn default_model() -> LoadModel {
    LoadModel::ConstantVus {
        vus: 10,
        duration: Duration::from_secs(10),
        think_time: Duration::ZERO,
    }
}

fn parse_headers(headers: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    headers
        .iter()
        .map(|h| {
            let (k, v) = h
                .split_once(':')
                .with_context(|| format!("header {h:?}: expected `Name: value`"))?;
            Ok((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

fn read_body(body: Option<&str>) -> anyhow::Result<Bytes> {
    Ok(match body {
        Some(b) if b.starts_with('@') => Bytes::from(
            std::fs::read(&b[1..]).with_context(|| format!("reading body file {}", &b[1..]))?,
        ),
        Some(b) => Bytes::from(b.to_string()),
        None => Bytes::new(),
    })
}

pub async fn run_urls(args: RunArgs, cancel: CancellationToken) -> anyhow::Result<Exit> {
    let two = args.urls.len() == 2;
    let defaults = if two {
        Defaults::url_pair()
    } else {
        Defaults::single_url()
    };
    let rounds = args.load.round_plan(default_model(), defaults)?;
    let method: hyper::Method = args
        .method
        .parse()
        .with_context(|| format!("bad method {:?}", args.method))?;
    let headers = parse_headers(&args.headers)?;
    let body = read_body(args.body.as_deref())?;
    let names = args.names.clone().unwrap_or_else(|| {
        if two {
            vec!["A".into(), "B".into()]
        } else {
            vec!["target".into()]
        }
    });
    let mut variants = Vec::new();
    for (url, name) in args.urls.iter().zip(names) {
        let (target, path) = Target::resolve(url, args.insecure).await?;
        let workload: Arc<dyn Workload> = Arc::new(FixedRequest {
            spec: RequestSpec {
                method: method.clone(),
                path,
                headers: headers.clone(),
                body: body.clone(),
                name: name.clone(),
            },
        });
        variants.push(Variant {
            name,
            settings: BTreeMap::new(),
            target,
            workload,
        });
    }
    let variant_names: Vec<String> = variants.iter().map(|v| v.name.clone()).collect();
    let profile = args.output.profile.plan(&variant_names)?;
    let plan = Plan {
        variants,
        model: rounds.model,
        settle: rounds.settle,
        warmup: rounds.warmup,
        stop: rounds.stop,
        policy: rounds.policy,
        seed: args.load.seed,
        timeout: args.load.timeout,
        threads: args.load.threads,
        // A profile's figures per request need the service's counters.
        scrape_metrics: args.metrics || profile.as_ref().is_some_and(|p| p.pid.is_none()),
        readiness_path: None,
        intervals: args.output.hlog.is_some(),
        profile,
        // A URL run names its requests by target, not by role: nothing to focus on.
        focus: None,
    };
    let info = RunInfo {
        name: if two { "url-ab".into() } else { "url".into() },
        lab: None,
        environment: environment::capture(args.load.seed, args.load.threads),
        thresholds: Vec::new(),
        reports_root: PathBuf::from("reports"),
        calibration: crate::calibrate::note(std::path::Path::new(".perflab/calibration.json")),
        lessons: None,
    };
    execute(plan, &args.output, info, cancel).await
}
