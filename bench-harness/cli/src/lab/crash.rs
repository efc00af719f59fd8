//! The crash check (a lab's optional `crash-check` export): for every variant and failure,
//! writers run flat out, the service (or its database) is killed with SIGKILL while they
//! write, it is started again on the same data, and the service is asked which of the writes
//! it had acknowledged are still there — and whether the variant promised they would be.
//!
//! It runs before the measured rounds: a service that cannot come back from a crash fails the
//! lab before any time is spent measuring it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use perflab_load::client::{Connection, Target};
use perflab_load::workload::{BodyNeed, RequestSpec};
use perflab_plugin_host::crash::{CrashPlan, Failure};
use perflab_plugin_host::wit;
use perflab_report::{CrashCheck, CrashFailure};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::convert;
use super::services::LabServices;
use crate::experiment::admin_request;

/// A write that has not been answered within this is not acknowledged.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// After the kill, before the restart: long enough for answers already on their way from the
/// dead server to be read (they take microseconds on loopback).
const DRAIN: Duration = Duration::from_millis(200);
/// After a database crash the service's pools reconnect on demand: the audit is retried this
/// long.
const AUDIT_PATIENCE: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct Audit {
    missing: u64,
    #[serde(default)]
    missing_ids: Vec<i64>,
    promise: Promise,
}

#[derive(Deserialize)]
struct Promise {
    survives: bool,
    why: String,
}

/// Runs the plan for every variant; a failure that cannot be staged here is skipped with the
/// reason printed. Stops early (with what it has) when the run is cancelled.
pub async fn run(
    plan: &CrashPlan,
    variants: &[wit::VariantDef],
    services: &mut LabServices,
    cancel: &CancellationToken,
) -> anyhow::Result<Vec<CrashCheck>> {
    let mut checks = Vec::new();
    for &failure in &plan.failures {
        if let Some(why) = services.cannot_crash(failure) {
            eprintln!("perflab: crash check: {} skipped: {why}", words(failure));
        }
    }
    for v in variants {
        for &failure in &plan.failures {
            if cancel.is_cancelled() || services.cannot_crash(failure).is_some() {
                continue;
            }
            let check = one(plan, v, failure, services).await?;
            eprintln!(
                "perflab: crash check: {}, {} after {} ms of writes: {} acknowledged, {} lost ({})",
                v.name,
                check.failure,
                plan.write_ms,
                check.acknowledged,
                check.lost,
                check.outcome()
            );
            checks.push(check);
        }
    }
    Ok(checks)
}

fn words(f: Failure) -> CrashFailure {
    match f {
        Failure::ServiceKilled => CrashFailure::ServiceKilled,
        Failure::DatabaseKilled => CrashFailure::DatabaseKilled,
    }
}

async fn one(
    plan: &CrashPlan,
    variant: &wit::VariantDef,
    failure: Failure,
    services: &mut LabServices,
) -> anyhow::Result<CrashCheck> {
    let target = resolve(services).await?;
    select(&target, variant).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..plan.writers)
        .map(|w| {
            tokio::spawn(write_until_stopped(
                target.clone(),
                plan.write_path.clone(),
                format!("crash check {} writer {w}", variant.name),
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(plan.write_ms)).await;
    // No writer starts a new write from here on; those in flight are mid-request when the kill
    // comes, which is the point.
    stop.store(true, Ordering::Relaxed);
    let killed = services.kill(failure);
    // Nothing runs in the old server's place yet: let the writers read what it sent before it
    // died — the very acknowledgements an asynchronous commit can lose — then draw the line.
    // An answer read after the restart began may come from the restarted server (even with a
    // lost row's id, reused), so it does not count.
    tokio::time::sleep(DRAIN).await;
    let dead_at = Instant::now();
    // This blocks the thread for the restart, on purpose: the restarted process must be
    // spawned from this long-lived thread (its parent-death signal is tied to the spawning
    // thread).
    let crashed = killed.and_then(|()| services.restart(failure));
    let mut acknowledged = Vec::new();
    let mut refused = Refused::default();
    for w in writers {
        let (acked, mine) = w.await.context("a crash-check writer panicked")?;
        acknowledged.extend(
            acked
                .into_iter()
                .filter(|(at, _)| *at < dead_at)
                .map(|(_, id)| id),
        );
        refused.add(mine);
    }
    crashed?;
    if acknowledged.is_empty() {
        anyhow::bail!(
            "crash check: {} acknowledged no write in {} ms before the kill ({} refused{}), so \
             there is nothing to look for after it: check the lab's write-path and that the \
             variant can write here",
            variant.name,
            plan.write_ms,
            refused.count,
            refused
                .last
                .as_deref()
                .map(|l| format!("; the last: {l}"))
                .unwrap_or_default()
        );
    }
    let target = resolve(services).await?;
    // A restarted service starts with its defaults: the variant is selected again.
    select(&target, variant).await?;
    let audit = audit(&target, &plan.audit_path, &acknowledged, failure).await?;
    Ok(CrashCheck {
        variant: variant.name.clone(),
        failure: words(failure),
        acknowledged: acknowledged.len() as u64,
        lost: audit.missing,
        lost_ids: audit.missing_ids,
        promised: audit.promise.survives,
        why: audit.promise.why,
    })
}

async fn resolve(services: &LabServices) -> anyhow::Result<Target> {
    Ok(Target::resolve(&services.base_url, false).await?.0)
}

async fn select(target: &Target, variant: &wit::VariantDef) -> anyhow::Result<()> {
    let settings = convert::settings(&variant.settings);
    if settings.is_empty() {
        return Ok(());
    }
    let body = serde_json::to_vec(&settings).expect("settings serialize");
    let (status, body) = admin_request(target, hyper::Method::PUT, "/admin/settings", body.into())
        .await
        .with_context(|| format!("crash check: selecting {}", variant.name))?;
    anyhow::ensure!(
        status == 200,
        "crash check: the service refused {}'s settings ({status}): {}",
        variant.name,
        String::from_utf8_lossy(&body)
    );
    Ok(())
}

/// Writes that were not acknowledged: how many, and what the last one got.
#[derive(Default)]
struct Refused {
    count: u64,
    last: Option<String>,
}

impl Refused {
    fn note(&mut self, what: String) {
        self.count += 1;
        self.last = Some(what);
    }

    fn add(&mut self, other: Refused) {
        self.count += other.count;
        if other.last.is_some() {
            self.last = other.last;
        }
    }
}

/// One writer: its own keep-alive connection, a fresh one after an error. Returns each write
/// answered 2xx with an `id` — an acknowledged one — with the moment its answer arrived, and
/// what happened to the others.
async fn write_until_stopped(
    target: Target,
    path: String,
    label: String,
    stop: Arc<AtomicBool>,
) -> (Vec<(Instant, i64)>, Refused) {
    #[derive(Deserialize)]
    struct Written {
        id: i64,
    }
    let mut acked = Vec::new();
    let mut refused = Refused::default();
    let mut conn = Connection::new(target.clone());
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let body = serde_json::json!({ "payload": format!("{label} write {n}") });
        let spec = RequestSpec {
            method: hyper::Method::POST,
            path: path.clone(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(body.to_string()),
            name: "crash-check".into(),
        };
        match conn.send(&spec, BodyNeed::All, false, WRITE_TIMEOUT).await {
            Ok(a) if (200..300).contains(&a.status) => {
                match serde_json::from_slice::<Written>(&a.body) {
                    Ok(w) => acked.push((Instant::now(), w.id)),
                    Err(_) => refused.note(format!(
                        "{} without an integer id: {}",
                        a.status,
                        String::from_utf8_lossy(&a.body[..a.body.len().min(200)])
                    )),
                }
            }
            Ok(a) => {
                refused.note(format!(
                    "{}: {}",
                    a.status,
                    String::from_utf8_lossy(&a.body[..a.body.len().min(200)])
                ));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(e) => {
                refused.note(e.to_string());
                conn = Connection::new(target.clone());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    (acked, refused)
}

async fn audit(
    target: &Target,
    path: &str,
    ids: &[i64],
    failure: Failure,
) -> anyhow::Result<Audit> {
    // The report's own name for the failure (kebab-case) is the audit's word for it.
    let failure = words(failure);
    let body = Bytes::from(serde_json::json!({ "ids": ids, "failure": failure }).to_string());
    let deadline = tokio::time::Instant::now() + AUDIT_PATIENCE;
    loop {
        let last = match admin_request(target, hyper::Method::POST, path, body.clone()).await {
            Ok((200, answer)) => {
                return serde_json::from_slice(&answer).with_context(|| {
                    format!(
                        "crash check: {path} answered what is not an audit: {}",
                        String::from_utf8_lossy(&answer)
                    )
                });
            }
            Ok((status, answer)) if status < 500 => anyhow::bail!(
                "crash check: {path} refused the audit ({status}): {}",
                String::from_utf8_lossy(&answer)
            ),
            // The service, or its database, may still be coming back.
            Ok((status, answer)) => format!("{status}: {}", String::from_utf8_lossy(&answer)),
            Err(e) => e.to_string(),
        };
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!(
                "crash check: {path} did not answer 200 within {AUDIT_PATIENCE:?}: {last}"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
