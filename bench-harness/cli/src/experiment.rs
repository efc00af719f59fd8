//! An experiment: variants × rounds. Warm-up first (discarded), then rounds interleaved
//! A B B A A B B A …, each preceded by selecting the variant on the service (admin API) and
//! bracketed by scrapes of its counters.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use perflab_analysis::Percentiles;
use perflab_load::LoadModel;
use perflab_load::client::{ClientError, Connection, Target};
use perflab_load::counters;
use perflab_load::engine::{EngineError, Live, RoundConfig, RoundData, run_round};
use perflab_load::workload::{BodyNeed, RequestSpec, Workload};

use crate::progress::Progress;

#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("selecting variant {variant:?} on the service failed: {cause}")]
    Unreachable { variant: String, cause: ClientError },
    #[error("selecting variant {variant:?} on the service failed: HTTP {status}: {body}")]
    Refused {
        variant: String,
        status: u16,
        body: String,
    },
}

pub struct Variant {
    pub name: String,
    /// Sent to `PUT /admin/settings` before each of its rounds (empty: nothing to switch).
    pub settings: BTreeMap<String, serde_json::Value>,
    pub target: Target,
    pub workload: Arc<dyn Workload>,
}

pub struct Plan {
    pub variants: Vec<Variant>,
    pub rounds: u32,
    pub warmup: Duration,
    pub model: LoadModel,
    pub seed: u64,
    pub timeout: Duration,
    pub threads: usize,
    /// Scrape `<base>/metrics` around each round.
    pub scrape_metrics: bool,
}

pub struct RoundRecord {
    pub variant: usize,
    pub data: RoundData,
    pub counters: BTreeMap<String, f64>,
}

pub struct Outcome {
    pub rounds: Vec<RoundRecord>,
    pub interrupted: bool,
}

/// The order of rounds: forward, then backward, so each variant runs as often early as late.
pub fn round_order(variants: usize, rounds: u32) -> Vec<usize> {
    (0..rounds)
        .flat_map(|r| {
            let v: Vec<usize> = (0..variants).collect();
            if r % 2 == 0 {
                v
            } else {
                v.into_iter().rev().collect()
            }
        })
        .collect()
}

async fn admin_request(
    target: &Target,
    method: hyper::Method,
    path: &str,
    body: Bytes,
) -> Result<(u16, Bytes), ClientError> {
    let spec = RequestSpec {
        method,
        path: path.into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body,
        name: "admin".into(),
    };
    let answer = Connection::new(target.clone())
        .send(&spec, BodyNeed::All, false, Duration::from_secs(30))
        .await?;
    Ok((answer.status, answer.body))
}

pub async fn select_variant(v: &Variant) -> Result<(), ExperimentError> {
    if v.settings.is_empty() {
        return Ok(());
    }
    let body = serde_json::to_vec(&v.settings).expect("settings serialize");
    let (status, body) = admin_request(
        &v.target,
        hyper::Method::PUT,
        "/admin/settings",
        body.into(),
    )
    .await
    .map_err(|source| ExperimentError::Unreachable {
        variant: v.name.clone(),
        cause: source,
    })?;
    if status != 200 {
        return Err(ExperimentError::Refused {
            variant: v.name.clone(),
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    Ok(())
}

async fn scrape(target: &Target) -> BTreeMap<String, f64> {
    match admin_request(target, hyper::Method::GET, "/metrics", Bytes::new()).await {
        Ok((200, body)) => counters::parse_totals(&String::from_utf8_lossy(&body)),
        _ => BTreeMap::new(),
    }
}

async fn one_round(
    plan: &Plan,
    v: &Variant,
    model: LoadModel,
    seed: u64,
    cancel: &CancellationToken,
    progress: &Arc<Progress>,
    label: &str,
) -> Result<(RoundData, BTreeMap<String, f64>), ExperimentError> {
    select_variant(v).await?;
    let before = if plan.scrape_metrics {
        scrape(&v.target).await
    } else {
        BTreeMap::new()
    };
    progress.round_started(label, model.duration());
    let total = model.duration();
    let data = run_round(RoundConfig {
        model,
        target: v.target.clone(),
        workload: v.workload.clone(),
        seed,
        timeout: plan.timeout,
        threads: plan.threads,
        cancel: cancel.clone(),
        progress: Some(Box::new({
            let progress = progress.clone();
            move |live: Live| progress.tick(&Live { total, ..live })
        })),
    })
    .await?;
    let after = if plan.scrape_metrics {
        scrape(&v.target).await
    } else {
        BTreeMap::new()
    };
    Ok((data, counters::delta(&before, &after)))
}

pub async fn run(
    plan: &Plan,
    cancel: &CancellationToken,
    progress: &Arc<Progress>,
) -> Result<Outcome, ExperimentError> {
    let mut outcome = Outcome {
        rounds: Vec::new(),
        interrupted: false,
    };
    if !plan.warmup.is_zero() {
        for v in &plan.variants {
            let label = format!("warm-up {}", v.name);
            one_round(
                plan,
                v,
                plan.model.with_duration(plan.warmup),
                plan.seed,
                cancel,
                progress,
                &label,
            )
            .await?;
            if cancel.is_cancelled() {
                outcome.interrupted = true;
                return Ok(outcome);
            }
        }
    }
    let order = round_order(plan.variants.len(), plan.rounds);
    for (i, &vi) in order.iter().enumerate() {
        let v = &plan.variants[vi];
        let round_of_variant = order[..i].iter().filter(|&&x| x == vi).count() + 1;
        let label = format!("{} {}/{}", v.name, round_of_variant, plan.rounds);
        let seed = plan.seed.wrapping_add(1000 * (round_of_variant as u64));
        let (data, counters) =
            one_round(plan, v, plan.model.clone(), seed, cancel, progress, &label).await?;
        let cancelled = data.cancelled;
        let p = Percentiles::of(&data.recorder.latency.merged());
        progress.round_finished(&format!(
            "{label}: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, {} errors",
            data.recorder.completed() as f64 / data.elapsed.as_secs_f64().max(1e-9),
            p.p50,
            p.p99,
            data.recorder
                .errors
                .load(std::sync::atomic::Ordering::Relaxed)
        ));
        outcome.rounds.push(RoundRecord {
            variant: vi,
            data,
            counters,
        });
        if cancelled {
            outcome.interrupted = true;
            break;
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rounds_alternate_abba() {
        assert_eq!(super::round_order(2, 4), vec![0, 1, 1, 0, 0, 1, 1, 0]);
        assert_eq!(super::round_order(3, 2), vec![0, 1, 2, 2, 1, 0]);
    }
}
