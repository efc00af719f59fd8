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

use crate::args::{LoadArgs, RunArgs};
use crate::capacity::{capacity_dir, execute_capacity, rate_axis};
use crate::environment;
use crate::execute::{RunInfo, execute};
use crate::exit::Exit;
use crate::experiment::{Plan, Variant};
use crate::rounds::Defaults;
use crate::sweep::{SweepAxis, SweepInfo, SweepPoint, execute_sweep, sweep_dir};

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
    let shard = crate::distribute::shard_plan(&args.shard, &args.load, &args.output)?;
    if shard.is_some() && (args.capacity.slo.is_some() || args.sweep.is_some()) {
        anyhow::bail!(
            "--shard runs one run's share: a sweep or a capacity search is many runs (shard each point's run instead)"
        );
    }
    if let Some(slo) = args.capacity.slo {
        return search_capacity(&args, slo, cancel).await;
    }
    let Some(spec) = &args.sweep else {
        let mut plan = plan_for(&args, &args.load).await?;
        match shard {
            Some(Err(late)) => return Ok(late),
            Some(Ok(shard)) => plan.shard = Some(shard),
            None => {}
        }
        let sharded = plan.shard.is_some();
        let exit = execute(plan, &args.output, run_info(&args), cancel).await?;
        if sharded && exit == Exit::ThresholdFailed {
            // A shard's share is not the run: `perflab merge` judges the thresholds on the
            // merged data (k6's per-runner thresholds are the mistake this avoids).
            println!("shard: thresholds are judged by `perflab merge` on the merged data");
            return Ok(Exit::Ok);
        }
        return Ok(exit);
    };
    spec.check_flags(&args.load, &args.output)?;
    if let SweepAxis::Param(name) = &spec.axis {
        anyhow::bail!(
            "--sweep {name}=…: `perflab run` has no parameters; sweep vus, rate, or a service knob (a name with a dot, e.g. db.pool_size)"
        );
    }
    let mut points = Vec::new();
    for value in &spec.values {
        let mut plan = plan_for(&args, &spec.load_at(&args.load, value)).await?;
        spec.set_knob(&mut plan, value)?;
        points.push(SweepPoint {
            value: value.clone(),
            plan,
            info: run_info(&args),
        });
    }
    let info = run_info(&args);
    let dir = sweep_dir(&args.output, &info.reports_root, &info.name, spec);
    let load_description = format!(
        "{} {}, {} set at each point",
        args.method,
        args.urls.join(" vs "),
        spec.name()
    );
    let sweep_info = SweepInfo {
        name: info.name,
        lab: None,
        environment: info.environment,
        seed: args.load.seed,
        load_description,
    };
    execute_sweep(spec, points, &args.output, sweep_info, &dir, cancel).await
}

/// `--slo`: the rate searched, probe by probe, on the URLs.
async fn search_capacity(
    args: &RunArgs,
    slo: perflab_analysis::capacity::Slo,
    cancel: CancellationToken,
) -> anyhow::Result<Exit> {
    args.capacity.check_flags(&args.load, &args.output)?;
    let info = run_info(args);
    let dir = capacity_dir(&args.output, &info.reports_root, &info.name);
    let sweep_info = SweepInfo {
        name: info.name,
        lab: None,
        environment: info.environment,
        seed: args.load.seed,
        load_description: format!(
            "{} {}, rate chosen by the capacity search for {slo}",
            args.method,
            args.urls.join(" vs ")
        ),
    };
    let axis = rate_axis();
    let point_at = async |value: crate::sweep::SweepValue| {
        let plan = plan_for(args, &axis.load_at(&args.load, &value)).await?;
        Ok(SweepPoint {
            value,
            plan,
            info: run_info(args),
        })
    };
    let settings = args.capacity.settings(&args.load);
    execute_capacity(
        slo,
        settings,
        point_at,
        &args.output,
        sweep_info,
        &dir,
        cancel,
    )
    .await
}

fn run_info(args: &RunArgs) -> RunInfo {
    let two = args.urls.len() == 2;
    RunInfo {
        name: if two { "url-ab".into() } else { "url".into() },
        lab: None,
        environment: environment::capture(args.load.seed, args.load.threads),
        thresholds: Vec::new(),
        reports_root: PathBuf::from("reports"),
        calibration: crate::calibrate::note(std::path::Path::new(".perflab/calibration.json")),
        lessons: None,
    }
}

/// The plan of a URL run under the load flags `load` (a sweep's point has its own).
async fn plan_for(args: &RunArgs, load: &LoadArgs) -> anyhow::Result<Plan> {
    let two = args.urls.len() == 2;
    let defaults = if two {
        Defaults::url_pair()
    } else {
        Defaults::single_url()
    };
    let rounds = load.round_plan(default_model(), defaults)?;
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
    let knob_sweep = matches!(
        args.sweep.as_ref().map(|s| &s.axis),
        Some(SweepAxis::Knob(_))
    );
    Ok(Plan {
        variants,
        model: rounds.model,
        settle: rounds.settle,
        warmup: rounds.warmup,
        stop: rounds.stop,
        policy: rounds.policy,
        seed: load.seed,
        timeout: load.timeout,
        threads: load.threads,
        // A profile's figures per request need the service's counters; so does a knob sweep
        // (the target is then the reference service).
        scrape_metrics: args.metrics
            || knob_sweep
            || profile.as_ref().is_some_and(|p| p.pid.is_none()),
        readiness_path: None,
        intervals: args.output.hlog.is_some(),
        profile,
        // A URL run names its requests by target, not by role: nothing to focus on.
        focus: None,
        live: None,
        shard: None,
    })
}
