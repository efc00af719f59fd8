//! One run over several load generators, with no control plane of its own: each shard runs
//! its stripe of one global schedule (`perflab run … --shard I/N --start-at T --hlog FILE`),
//! on a timetable every shard computes alike from the plan and the start time; `perflab
//! merge` adds the shards' histograms round by round and judges verdicts and thresholds on the
//! merged data; `perflab distribute --local N` runs N shards here and merges them.
//!
//! A missing shard, or one that lost step with the timetable, makes the merged run invalid
//! with that shard named — never silently smaller.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Instant, SystemTime};

use anyhow::{Context, bail};
use perflab_analysis::{InvalidReason, RoundMeasurement};
use perflab_load::shard::Shard;

use crate::args::{DistributeArgs, LoadArgs, MergeArgs, OutputArgs, ShardArgs};
use crate::execute::{exit_for, print_files, report_from_log, write_report};
use crate::exit::Exit;
use crate::experiment::ShardPlan;
use crate::hlog::{self, Rebuilt, ShardNote};

/// `--shard` checked against the rest of the command line; `None` without `--shard`.
pub fn shard_plan(
    args: &ShardArgs,
    load: &LoadArgs,
    output: &OutputArgs,
) -> anyhow::Result<Option<Result<ShardPlan, Exit>>> {
    let Some(spec) = &args.shard else {
        return Ok(None);
    };
    let shard = Shard::parse(spec, args.shard_weights.as_deref())?;
    let Some(start_at) = args.start_at else {
        bail!(
            "--shard {spec} needs --start-at TIME: every shard starts at the same instant (e.g. --start-at $(date -d '+10 seconds' +%s))"
        );
    };
    if load.rounds.is_none() {
        bail!(
            "--shard {spec} needs --rounds N: every shard must run the same rounds (the precision rule would stop each at its own time)"
        );
    }
    if output.hlog.is_none() {
        bail!(
            "--shard {spec} needs --hlog FILE: the shards' interval logs are what `perflab merge` adds together"
        );
    }
    let now = SystemTime::now();
    if now > start_at + args.start_limit {
        let late = now.duration_since(start_at).unwrap_or_default();
        eprintln!(
            "perflab: shard {shard} reached its start {:.1} s after --start-at (limit {}): it runs nothing, and a merge will name it missing",
            late.as_secs_f64(),
            perflab_report::words::seconds(args.start_limit.as_secs_f64())
        );
        return Ok(Some(Err(Exit::LateStart)));
    }
    let wait = start_at.duration_since(now).unwrap_or_default();
    Ok(Some(Ok(ShardPlan {
        shard,
        start: Instant::now() + wait,
        start_at,
    })))
}

/// The logs named on the command line: files as given, folders by their `*.hlog` files.
fn log_files(given: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in given {
        if path.is_dir() {
            let mut here: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading {}", path.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "hlog"))
                .collect();
            here.sort();
            files.extend(here);
        } else {
            files.push(path.clone());
        }
    }
    if files.is_empty() {
        bail!("no interval logs (*.hlog) in {given:?}");
    }
    Ok(files)
}

/// One shard's rounds added into the merged ones. Histograms and counts add; a round's length
/// and the generator's CPU are each shard's own (the longest, the busiest), not a sum; the
/// service's counters are the same service seen by every shard, so only the first shard's
/// are kept.
fn add_round(into: &mut RoundMeasurement, r: &RoundMeasurement) -> anyhow::Result<()> {
    let add = |a: &mut perflab_analysis::Hist, b: &perflab_analysis::Hist| {
        // A histogram read back from a log has the range of its own values; another shard's
        // may go higher (found merging a real run: OtherAddendValueExceedsRange).
        a.auto(true);
        a.add(b)
            .map_err(|e| anyhow::anyhow!("a histogram does not add: {e:?}"))
    };
    add(&mut into.latency, &r.latency)?;
    add(&mut into.service, &r.service)?;
    if let (Some(a), Some(b)) = (&mut into.lag, &r.lag) {
        add(a, b)?;
    }
    into.ok += r.ok;
    into.errors += r.errors;
    into.settling += r.settling;
    into.seconds = into.seconds.max(r.seconds);
    into.late_sends += r.late_sends;
    into.unsent += r.unsent;
    into.bytes_received += r.bytes_received;
    into.checks_passed += r.checks_passed;
    into.checks_failed += r.checks_failed;
    into.harness_cpu_seconds = into.harness_cpu_seconds.max(r.harness_cpu_seconds);
    into.steal_percent = match (into.steal_percent, r.steal_percent) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    for (k, v) in &r.error_kinds {
        *into.error_kinds.entry(k.clone()).or_default() += v;
    }
    for (k, v) in &r.error_examples {
        into.error_examples
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
    for (k, v) in &r.failed_checks {
        *into.failed_checks.entry(k.clone()).or_default() += v;
    }
    for (k, [p, f]) in &r.checks {
        let c = into.checks.entry(k.clone()).or_default();
        c[0] += p;
        c[1] += f;
    }
    for (name, m) in &r.by_name {
        match into.by_name.get_mut(name) {
            Some(n) => {
                add(&mut n.latency, &m.latency)?;
                n.requests += m.requests;
                n.errors += m.errors;
            }
            None => {
                into.by_name.insert(name.clone(), m.clone());
            }
        }
    }
    if into.per_second.len() < r.per_second.len() {
        into.per_second.resize(r.per_second.len(), [0, 0]);
    }
    for (a, b) in into.per_second.iter_mut().zip(&r.per_second) {
        a[0] += b[0];
        a[1] += b[1];
    }
    Ok(())
}

/// A shard as the merge saw it, for the table printed beside the report.
struct ShardRow {
    note: ShardNote,
    path: PathBuf,
    requests: u64,
}

/// `perflab merge LOG…`
pub fn merge(args: &MergeArgs) -> anyhow::Result<Exit> {
    let files = log_files(&args.logs)?;
    let mut logs: Vec<(PathBuf, Rebuilt, ShardNote)> = Vec::new();
    for path in files {
        let rebuilt = hlog::read(&path)?;
        let Some(note) = rebuilt.header.shard.clone() else {
            bail!(
                "{} was not written by a shard (`perflab run … --shard I/N --hlog FILE`): merge adds the shards of one run",
                path.display()
            );
        };
        logs.push((path, rebuilt, note));
    }
    logs.sort_by_key(|(_, _, n)| n.index);
    let (first_path, first, first_note) = &logs[0];
    for (path, r, note) in &logs[1..] {
        if note.plan != first_note.plan
            || note.count != first_note.count
            || note.weights != first_note.weights
            || r.header.variants != first.header.variants
        {
            bail!(
                "{} and {} are shards of different runs (plans {} and {}): merge only the shards of one run (same command line, seed and --start-at)",
                first_path.display(),
                path.display(),
                first_note.plan,
                note.plan
            );
        }
    }
    for pair in logs.windows(2) {
        if pair[0].2.index == pair[1].2.index {
            bail!(
                "{} and {} are both shard {}/{}",
                pair[0].0.display(),
                pair[1].0.display(),
                pair[0].2.index,
                pair[0].2.count
            );
        }
    }
    let count = first_note.count;
    let mut problems: Vec<InvalidReason> = Vec::new();
    for index in 0..count {
        if !logs.iter().any(|(_, _, n)| n.index == index) {
            problems.push(InvalidReason::Shard {
                shard: format!("{index}/{count}"),
                why: "no log: the shard did not finish (killed, failed, or it started too late and ran nothing — exit code 5)".into(),
            });
        }
    }
    for (_, r, note) in &logs {
        if !note.timing.late.is_empty() {
            problems.push(InvalidReason::Shard {
                shard: format!("{}/{count}", note.index),
                why: format!(
                    "out of step with the others' timetable: {}",
                    note.timing.late.join("; ")
                ),
            });
        }
        if r.rounds.len() != first.rounds.len()
            || r.rounds
                .iter()
                .zip(&first.rounds)
                .any(|(a, b)| a.variant != b.variant)
        {
            problems.push(InvalidReason::Shard {
                shard: format!("{}/{count}", note.index),
                why: format!(
                    "ran {} rounds where shard {} ran {} (interrupted?)",
                    r.rounds.len(),
                    first_note.index,
                    first.rounds.len()
                ),
            });
        }
    }

    // Round by round, the shards' measurements added.
    let rounds_n = logs
        .iter()
        .map(|(_, r, _)| r.rounds.len())
        .min()
        .unwrap_or(0);
    let mut merged: Vec<RoundMeasurement> = first.rounds[..rounds_n].to_vec();
    let mut rows = Vec::new();
    for (i, (path, r, note)) in logs.iter().enumerate() {
        if i > 0 {
            for (into, round) in merged.iter_mut().zip(&r.rounds) {
                add_round(into, round).with_context(|| format!("merging {}", path.display()))?;
            }
        }
        rows.push(ShardRow {
            note: note.clone(),
            path: path.clone(),
            requests: r.rounds.iter().map(|x| x.ok + x.errors).sum(),
        });
    }

    let (report, dir) = report_from_log(
        &first.header,
        &merged,
        &args.thresholds,
        problems,
        args.out.as_deref(),
    )?;
    print_shards(&rows, count);
    let files = write_report(&report, &dir)?;
    print_files(&files);
    Ok(exit_for(&report))
}

fn print_shards(rows: &[ShardRow], count: usize) {
    let total: u64 = rows.iter().map(|r| r.requests).sum();
    println!("merged {} of {count} shard(s):", rows.len());
    println!(
        "  {:<6} {:>8} {:>10} {:>8} {:>14} {:>14}  log",
        "shard", "weight", "requests", "share", "first start", "worst start"
    );
    for r in rows {
        let skews = &r.note.timing.skews;
        let worst = skews.iter().copied().fold(0.0, f64::max);
        println!(
            "  {:<6} {:>8} {:>10} {:>7.1}% {:>11.1} ms {:>11.1} ms  {}",
            format!("{}/{count}", r.note.index),
            r.note.weights[r.note.index],
            r.requests,
            100.0 * r.requests as f64 / total.max(1) as f64,
            skews.first().copied().unwrap_or(0.0) * 1e3,
            worst * 1e3,
            r.path.display()
        );
    }
    println!("  (start: how late a shard's rounds began after their common slot)");
}

/// `perflab distribute --local N -- RUN ARGS…`: N shard processes of one `perflab run`, a
/// common start a moment from now, then the merge of their logs. (`--k8s render` writes the
/// manifests that do the same on a cluster: [`crate::k8s`].)
pub async fn distribute_local(
    mut args: DistributeArgs,
    cancel: tokio_util::sync::CancellationToken,
) -> anyhow::Result<Exit> {
    // `-- run URL …` or `-- URL …`: the same run.
    if args.run.first().is_some_and(|a| a == "run") {
        args.run.remove(0);
    }
    for flag in [
        "--shard",
        "--shard-weights",
        "--start-at",
        "--hlog",
        "--out",
    ] {
        if args
            .run
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
        {
            bail!(
                "distribute sets {flag} for each shard itself: leave it out of the run's arguments"
            );
        }
    }
    let Some(n) = args.local else {
        let Some(shards) = args.shards else {
            bail!("--k8s render needs --shards N: how many pods share the run");
        };
        let Some(start_at) = args.start_at else {
            bail!(
                "--k8s render needs --start-at TIME: the pods start when Kubernetes schedules them, and all wait for this instant"
            );
        };
        return crate::k8s::render(&crate::k8s::Render {
            shards,
            weights: args.shard_weights.clone(),
            image: args.image.clone(),
            start_at,
            run: args.run.clone(),
            out: args.out.clone().unwrap_or_else(|| PathBuf::from("k8s")),
        });
    };
    let n = n as usize;
    if let Some(w) = &args.shard_weights {
        // Checked before anything starts.
        Shard::parse(&format!("0/{n}"), Some(w))?;
    }
    let dir = args.out.clone().unwrap_or_else(|| {
        perflab_report::default_dir(Path::new("reports"), "distributed", &crate::now_rfc3339())
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let start_at = SystemTime::now() + args.start_in;
    let start_text = format!(
        "{:.3}",
        start_at
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
    );
    let exe = std::env::current_exe().context("finding the perflab binary")?;
    let mut children = Vec::new();
    for i in 0..n {
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.arg("run")
            .args(&args.run)
            .args(["--shard", &format!("{i}/{n}"), "--start-at", &start_text])
            .arg("--hlog")
            .arg(dir.join(format!("shard-{i}.hlog")))
            .arg("--out")
            .arg(dir.join(format!("shard-{i}")))
            .arg("--quiet")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(w) = &args.shard_weights {
            cmd.args(["--shard-weights", w]);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting shard {i}/{n}"))?;
        children.push(child);
    }
    println!(
        "distribute: {n} shard(s) on this machine, starting together in {}",
        perflab_report::words::seconds(args.start_in.as_secs_f64())
    );
    let mut failed = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let waited = tokio::select! {
            out = child.wait_with_output() => out,
            _ = cancel.cancelled() => {
                // The remaining children are killed as they drop; their logs are not merged.
                bail!("interrupted: the shards were stopped; nothing was merged");
            }
        };
        let out = waited.with_context(|| format!("waiting for shard {i}/{n}"))?;
        let code = out.status.code();
        // 0 complete, 3 a threshold failed on the shard's own share (the merge judges them),
        // 4 the shard's own data looked invalid: the merge reads it all again.
        if !matches!(code, Some(0) | Some(3) | Some(4)) {
            let said = String::from_utf8_lossy(&out.stderr);
            eprintln!(
                "distribute: shard {i}/{n} ended with {}: {}",
                out.status,
                said.trim().lines().last().unwrap_or("")
            );
            failed.push(i);
        }
    }
    let logs: Vec<PathBuf> = (0..n)
        .map(|i| dir.join(format!("shard-{i}.hlog")))
        .filter(|p| p.is_file())
        .collect();
    if logs.is_empty() {
        bail!("no shard wrote its log: nothing to merge (see the shards' messages above)");
    }
    merge(&MergeArgs {
        logs,
        thresholds: Vec::new(),
        out: Some(dir.join("merged")),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use perflab_analysis::{Hist, RoundMeasurement, new_hist};
    use rand::{Rng, SeedableRng};

    use super::add_round;

    fn round(latency: Hist, seconds: f64, cpu: f64) -> RoundMeasurement {
        let n = latency.len();
        RoundMeasurement {
            variant: 0,
            service: latency.clone(),
            latency,
            lag: None,
            ok: n,
            errors: 0,
            settling: 0,
            seconds,
            late_sends: 0,
            unsent: 0,
            bytes_received: 10 * n,
            checks_passed: 0,
            checks_failed: 0,
            harness_cpu_seconds: cpu,
            steal_percent: None,
            error_kinds: BTreeMap::new(),
            error_examples: BTreeMap::new(),
            failed_checks: BTreeMap::new(),
            checks: BTreeMap::new(),
            by_name: BTreeMap::new(),
            per_second: vec![[n, 0]],
            counters: BTreeMap::from([("db_queries_total".to_string(), 7.0)]),
        }
    }

    /// One recorded distribution split across three shards at random, then merged: the same
    /// quantiles as the unsplit histogram, at full resolution; counts add, a round's length
    /// and CPU are each shard's own, the service's counters are counted once.
    #[test]
    fn a_distribution_split_over_shards_merges_back_to_itself() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut whole = new_hist();
        let mut parts = [new_hist(), new_hist(), new_hist()];
        for _ in 0..50_000 {
            // Log-normal-ish latencies from 50 µs to tens of ms, in nanoseconds.
            let v = (50_000.0 * (rng.random::<f64>() * 6.0).exp()) as u64;
            whole.record(v).unwrap();
            parts[rng.random_range(0..3)].record(v).unwrap();
        }
        let [a, b, c] = parts;
        // The first shard's histogram as a log gives it back: sized to its own values only.
        let mut small = Hist::new_with_bounds(1, 1_000_000, 3).unwrap();
        small.add(&a).ok();
        let a = if a.max() <= 1_000_000 { small } else { a };
        let mut merged = round(a, 1.0, 0.2);
        let mut huge = new_hist();
        huge.record(3_000_000_000).unwrap();
        let mut bounded = Hist::new_with_bounds(1, 1_000_000, 3).unwrap();
        bounded.record(5_000).unwrap();
        let mut r = round(bounded, 1.0, 0.0);
        add_round(&mut r, &round(huge, 1.0, 0.0)).unwrap();
        assert_eq!(r.latency.max(), r.latency.highest_equivalent(3_000_000_000));
        add_round(&mut merged, &round(b, 1.01, 0.3)).unwrap();
        add_round(&mut merged, &round(c, 0.99, 0.1)).unwrap();
        assert_eq!(merged.latency.len(), whole.len());
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                merged.latency.value_at_quantile(q),
                whole.value_at_quantile(q),
                "quantile {q}"
            );
        }
        assert_eq!(merged.ok, 50_000);
        assert_eq!(merged.per_second, vec![[50_000, 0]]);
        assert_eq!(merged.seconds, 1.01);
        assert_eq!(merged.harness_cpu_seconds, 0.3);
        assert_eq!(merged.counters["db_queries_total"], 7.0);
    }
}
