//! Every lab, end to end, as a user runs it: `perflab lab NAME --quick`. The direction of the
//! result is not asserted (that is what the lab measures); the report must be complete and
//! valid and carry the counters that explain the result.

mod common;

use std::time::{Duration, Instant};

use common::{folded_share, perflab, validate_report};

fn run_lab(name: &str, extra: &[&str]) -> serde_json::Value {
    let out = tempfile::tempdir().unwrap();
    run_lab_in(name, extra, out.path())
}

fn run_lab_in(name: &str, extra: &[&str], out: &std::path::Path) -> serde_json::Value {
    let status = perflab()
        .args(["lab", name, "--quick", "--no-prompt", "-q"])
        .args(extra)
        .arg("--out")
        .arg(out)
        .status()
        .unwrap();
    // 0: all thresholds passed; 3: a threshold failed (noise on a shared machine). Not 1.
    assert!(
        matches!(status.code(), Some(0) | Some(3)),
        "lab {name} {extra:?}: {status}"
    );
    let doc = validate_report(&out.join("report.json"));
    assert_eq!(doc["status"], "complete");
    assert_eq!(doc["name"], name);
    assert!(doc["lab"]["hypothesis"].as_str().unwrap().len() > 20);
    let variants = doc["variants"].as_array().unwrap();
    assert!(variants.len() >= 2);
    for v in variants {
        assert!(
            v["summary"]["requests"].as_u64().unwrap() > 0,
            "{name}: {} sent nothing",
            v["name"]
        );
        assert!(
            v["counters_per_request"]["http_requests_total"]
                .as_f64()
                .unwrap()
                > 0.5,
            "{name}: server counters were scraped"
        );
        // What every lab report explains a result with: the service's allocations, CPU and
        // context switches per request, for every variant.
        let c = &v["counters_per_request"];
        for key in [
            "allocations_total",
            "allocated_bytes_total",
            "process_cpu_user_nanoseconds_total",
        ] {
            assert!(
                c[key].as_f64().is_some_and(|x| x > 0.0),
                "{name}: {} has no {key}",
                v["name"]
            );
        }
        for key in [
            "process_cpu_system_nanoseconds_total",
            "process_voluntary_context_switches_total",
            "process_involuntary_context_switches_total",
        ] {
            assert!(c[key].is_number(), "{name}: {} has no {key}", v["name"]);
        }
    }
    assert_eq!(
        doc["comparisons"].as_array().unwrap().len(),
        variants.len() - 1
    );
    assert!(out.join("report.html").is_file() && out.join("service.log").is_file());
    doc
}

/// The report's variants, in the order the lab declared them.
fn variant_names(doc: &serde_json::Value) -> Vec<&str> {
    doc["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect()
}

fn counter(doc: &serde_json::Value, variant: usize, name: &str) -> f64 {
    doc["variants"][variant]["counters_per_request"][name]
        .as_f64()
        .unwrap_or(0.0)
}

#[test]
fn lock_contention() {
    let doc = run_lab("lock-contention", &[]);
    assert_eq!(counter(&doc, 0, "store_lock_acquisitions_total"), 1.0);
    // The lab names its requests and its check: both are reported by name.
    let names: Vec<&str> = doc["variants"][0]["by_name"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"read") && names.contains(&"write"),
        "{names:?}"
    );
    let check = &doc["variants"][0]["checks"][0];
    assert_eq!(check["name"], "status is 2xx");
    assert!(check["passed"].as_u64().unwrap() > 0);
}

#[test]
fn client_pooling() {
    let doc = run_lab("client-pooling", &[]);
    // Per-request: one TLS handshake per request; shared: almost none.
    assert!(counter(&doc, 0, "upstream_tls_handshakes_total") > 0.9);
    assert!(counter(&doc, 1, "upstream_tls_handshakes_total") < 0.1);
}

#[test]
fn cache_aside() {
    // A quick lab is long enough for the caches to be warm after the warm-up: the counters, not
    // the speed, tell the tiers apart.
    let doc = run_lab("cache-aside", &["--param", "query=lookup"]);
    let names = variant_names(&doc);
    assert_eq!(names, ["no-cache", "redis", "in-process", "two-tier"]);
    // no-cache: every read is a query; the caches answer almost every read themselves.
    assert!(counter(&doc, 0, "cache_misses_total") > 0.99);
    assert_eq!(counter(&doc, 0, "cache_redis_round_trips_total"), 0.0);
    assert!(counter(&doc, 1, "cache_redis_hits_total") > 0.9);
    assert!(counter(&doc, 1, "cache_redis_round_trips_total") >= 1.0);
    assert!(counter(&doc, 2, "cache_local_hits_total") > 0.9);
    assert_eq!(counter(&doc, 2, "cache_redis_round_trips_total"), 0.0);
    // Two tiers: the local tier answers, Redis only behind a local miss.
    assert!(counter(&doc, 3, "cache_local_hits_total") > 0.9);
    assert!(counter(&doc, 3, "cache_redis_round_trips_total") < 0.1);
    for v in 1..4 {
        assert!(counter(&doc, v, "cache_misses_total") < 0.1, "variant {v}");
    }
}

#[test]
fn cache_aside_stampede_and_stale_reads() {
    // One hot key expiring every 200 ms under 16 VUs: without single flight, every concurrent
    // miss queries; with it, the others wait (coalesced) and only one does.
    let doc = run_lab("cache-aside", &["--param", "compare=stampede"]);
    let misses = |v| counter(&doc, v, "cache_misses_total");
    assert!(counter(&doc, 0, "cache_coalesced_total") == 0.0);
    assert!(counter(&doc, 1, "cache_coalesced_total") > 0.0);
    assert!(
        misses(1) < misses(0),
        "single flight {} vs stampede {}",
        misses(1),
        misses(0)
    );
    // TTL-only caching with writes: the caches serve answers a write has changed.
    let doc = run_lab(
        "cache-aside",
        &[
            "--param",
            "query=lookup",
            "--param",
            "write_permille=50",
            "--param",
            "invalidate_on_write=false",
        ],
    );
    assert_eq!(counter(&doc, 0, "cache_stale_reads_total"), 0.0);
    for v in 1..4 {
        assert!(
            counter(&doc, v, "cache_stale_reads_total") > 0.0,
            "variant {v}"
        );
    }
}

#[test]
fn blocking_runtime() {
    let doc = run_lab("blocking-runtime", &[]);
    // The verdict is about the fast endpoint, and the report says so.
    assert_eq!(doc["lab"]["focus"], "fast");
    for v in doc["variants"].as_array().unwrap() {
        let names: Vec<&str> = v["by_name"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"fast") && names.contains(&"slow"),
            "{names:?}"
        );
    }
    // On the worker, the blocking call holds a worker thread for its whole length; moved to
    // the blocking pool (or made async), it holds none.
    assert!(counter(&doc, 0, "blocking_on_worker_nanoseconds_total") > 1e6);
    for v in 1..4 {
        assert_eq!(
            counter(&doc, v, "blocking_on_worker_nanoseconds_total"),
            0.0,
            "variant {v}"
        );
    }
    assert!(counter(&doc, 2, "blocking_permit_wait_nanoseconds_total") > 0.0);
}

/// The parallelism lab without its sweep: one comparison at its load; both variants did the
/// same chunks of work per request.
#[test]
fn parallelism_without_its_sweep() {
    let doc = run_lab("parallelism", &["--no-sweep", "--param", "vus=2"]);
    assert_eq!(variant_names(&doc), ["sequential", "rayon"]);
    for v in 0..2 {
        assert_eq!(counter(&doc, v, "parallel_chunks_total"), 8.0);
        assert!(counter(&doc, v, "parallel_split_nanoseconds_total") > 0.0);
    }
}

/// The parallelism lab's sweep (here over three VU counts, instead of its default four): a
/// report per point, each a whole lab run, and the sweep's summary with a USL fit per variant.
#[test]
fn parallelism_sweeps_the_clients() {
    let out = tempfile::tempdir().unwrap();
    let status = perflab()
        .args(["lab", "parallelism", "--quick", "--no-prompt", "-q"])
        .args(["--sweep", "vus=1,2,4", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(matches!(status.code(), Some(0) | Some(3)), "{status}");
    let doc = common::validate_sweep(&out.path().join("sweep.json"));
    assert_eq!(doc["status"], "complete");
    assert_eq!(doc["name"], "parallelism");
    assert_eq!(doc["analysis"]["kind"], "concurrency");
    let labels: Vec<&str> = doc["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["1", "2", "4"]);
    for (p, vus) in doc["points"].as_array().unwrap().iter().zip([1, 2, 4]) {
        let dir = out.path().join(p["dir"].as_str().unwrap());
        let report = validate_report(&dir.join("report.json"));
        assert_eq!(report["status"], "complete");
        // The point ran at its own load.
        assert_eq!(report["load"]["vus"], vus, "{}", report["load"]);
        assert!(dir.join("report.html").is_file());
    }
    for point in doc["analysis"]["points"].as_array().unwrap() {
        assert_eq!(point["verdicts"].as_array().unwrap().len(), 2, "{point}");
        for v in point["variants"].as_array().unwrap() {
            assert!(v["throughput"]["interval"]["low"].is_number(), "{v}");
        }
    }
    let curves = doc["analysis"]["curves"].as_array().unwrap();
    assert_eq!(curves.len(), 2);
    for c in curves {
        assert!(
            c["usl"]["meaning"]
                .as_str()
                .unwrap()
                .contains("contention σ"),
            "{c}"
        );
    }
    for file in ["sweep.md", "sweep.html"] {
        let text = std::fs::read_to_string(out.path().join(file)).unwrap();
        assert!(
            text.contains("contention σ") && text.contains("vus-4/report"),
            "{file}"
        );
    }
}

/// A capacity search on a lab (`--slo`, which replaces the lab's own sweep): each probe is a
/// whole lab run at an open-model rate, every variant gets its own capacity, and the probes
/// stay within the budget. The capacities themselves depend on this machine (and a debug
/// build): what is checked is that the search ran as it says.
#[test]
fn parallelism_searches_its_capacity() {
    let out = tempfile::tempdir().unwrap();
    let status = perflab()
        .args(["lab", "parallelism", "--quick", "--no-prompt", "-q"])
        .args(["--param", "work_kiters=200", "--slo", "p99<50ms"])
        .args(["--rate", "20", "--probes", "3", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(matches!(status.code(), Some(0) | Some(3)), "{status}");
    let doc = common::validate_sweep(&out.path().join("sweep.json"));
    assert_eq!(doc["status"], "complete");
    assert_eq!(doc["name"], "parallelism");
    assert_eq!(doc["analysis"]["kind"], "arrival-rate");
    let capacity = &doc["capacity"];
    let names: Vec<&str> = capacity["capacities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["variant"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sequential", "rayon"]);
    let probes = capacity["probes"].as_array().unwrap();
    assert_eq!(probes[0]["rate"], 20.0);
    let points = doc["points"].as_array().unwrap();
    assert!((1..=3).contains(&points.len()), "{points:?}");
    // One reading per probe and variant still searching (a variant that has missed the
    // objective is left out of the probes above that rate).
    assert!(probes.len() <= 2 * points.len() && probes.len() >= points.len());
    for p in points {
        let report = validate_report(
            &out.path()
                .join(p["dir"].as_str().unwrap())
                .join("report.json"),
        );
        assert_eq!(report["name"], "parallelism");
        assert_eq!(
            report["load"]["model"], "constant-arrival-rate",
            "{}",
            report["load"]
        );
    }
    for c in capacity["capacities"].as_array().unwrap() {
        assert!(c["meaning"].as_str().unwrap().contains("p99 < 50ms"), "{c}");
    }
}

/// The pool-sizing lab on PostgreSQL, swept over three pool sizes (its default is seven): the
/// bounded variant's requests waited for a connection in the service, the per-client ones did
/// not, and each variant has its curve.
#[test]
fn pool_sizing_on_postgres_sweeps_the_pool() {
    let out = tempfile::tempdir().unwrap();
    let status = perflab()
        .args([
            "lab",
            "pool-sizing",
            "--quick",
            "--no-prompt",
            "-q",
            "--db",
            "postgres",
        ])
        .args(["--sweep", "pool.size=1,4,16", "--param", "vus=16", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(matches!(status.code(), Some(0) | Some(3)), "{status}");
    let doc = common::validate_sweep(&out.path().join("sweep.json"));
    assert_eq!(doc["status"], "complete");
    assert_eq!(doc["analysis"]["kind"], "setting");
    let first = validate_report(&out.path().join("pool.size-1").join("report.json"));
    assert_eq!(variant_names(&first), ["per-client", "bounded"]);
    assert_eq!(counter(&first, 0, "pool_sizing_queries_total"), 1.0);
    assert_eq!(counter(&first, 1, "pool_sizing_queries_total"), 1.0);
    // One connection for 16 clients: the bounded requests queued in the service.
    assert!(
        counter(&first, 1, "pool_sizing_wait_nanoseconds_total")
            > counter(&first, 0, "pool_sizing_wait_nanoseconds_total"),
        "{}",
        first["variants"]
    );
    for c in doc["analysis"]["curves"].as_array().unwrap() {
        assert!(c["usl"]["sigma"].as_f64().unwrap() <= 1.0, "{c}");
    }
}

#[test]
fn batch_calls() {
    let doc = run_lab("batch-calls", &["--param", "items=10"]);
    assert_eq!(
        variant_names(&doc),
        ["sequential", "join-all", "bounded", "batch"]
    );
    // One round trip per item, or one per basket; the same prices either way, all checked.
    for v in 0..3 {
        assert_eq!(counter(&doc, v, "batch_upstream_calls_total"), 10.0);
    }
    assert_eq!(counter(&doc, 3, "batch_upstream_calls_total"), 1.0);
    for v in 0..4 {
        assert_eq!(counter(&doc, v, "upstream_quotes_served_total"), 10.0);
        let checks = doc["variants"][v]["checks"].as_array().unwrap();
        let total = checks
            .iter()
            .find(|c| c["name"] == "the basket's total is right")
            .unwrap();
        assert_eq!(total["failed"], 0, "variant {v}: {total}");
        assert!(total["passed"].as_u64().unwrap() > 0);
    }
}

/// Compression over a link in front of the service itself (`--link-to service`): the report
/// names the link, every answer carries the encoding its variant asked for, and the bytes on
/// the wire shrink.
#[test]
fn compression_over_a_link_to_the_service() {
    let doc = run_lab(
        "compression",
        &["--link", "delay=1ms,rate=100mbit", "--link-to", "service"],
    );
    let link = doc["environment"]["link"].as_str().unwrap_or_default();
    assert!(
        link.contains("the service") && link.contains("100 Mbit/s"),
        "{link:?}"
    );
    assert_eq!(
        variant_names(&doc),
        ["identity", "gzip", "br", "zstd", "gzip-above-min-size"]
    );
    let bytes = |v: usize| {
        doc["variants"][v]["summary"]["bytes_per_response"]
            .as_f64()
            .unwrap()
    };
    for v in 0..5 {
        let checks = doc["variants"][v]["checks"].as_array().unwrap();
        let encoded = checks
            .iter()
            .find(|c| c["name"] == "encoded as the variant asks")
            .unwrap();
        assert_eq!(encoded["failed"], 0, "variant {v}: {encoded}");
    }
    for v in 1..5 {
        assert!(
            bytes(v) * 4.0 < bytes(0),
            "variant {v}: {} vs {}",
            bytes(v),
            bytes(0)
        );
    }
    // Half the answers are small: the minimum size lets about half of them through.
    assert_eq!(counter(&doc, 0, "compression_compressed_total"), 0.0);
    assert_eq!(counter(&doc, 1, "compression_compressed_total"), 1.0);
    let share = counter(&doc, 4, "compression_compressed_total");
    assert!((0.2..0.8).contains(&share), "{share}");
}

#[test]
fn resilience_against_a_dead_upstream() {
    // Quick rounds last 250 ms, so: a shorter hang, half the requests unrelated, and no pool to
    // jam, so that every round of every variant completes requests of both kinds (a round
    // without the focus's requests makes the run invalid); and 16 VUs instead of the lab's
    // arrival rate, whose schedule a loaded CI machine may not keep (late sends make a run
    // invalid too). The pool's lesson is the full run's; the reference-app tests count the
    // held connection.
    let params = [
        "upstream=down",
        "hang_ms=100",
        "timeout_ms=20",
        "unrelated_permille=500",
        "hold_db=false",
    ];
    let mut args: Vec<&str> = params.iter().flat_map(|p| ["--param", p]).collect();
    args.extend(["--vus", "16"]);
    let doc = run_lab("resilience", &args);
    // The verdict is about the unrelated endpoint; the price requests all fail, by design.
    assert_eq!(doc["lab"]["focus"], "unrelated");
    let calls_per_price = |v: usize| {
        counter(&doc, v, "resilience_upstream_calls_total")
            / counter(&doc, v, "resilience_requests_total")
    };
    let names = variant_names(&doc);
    assert_eq!(
        names,
        [
            "no-timeout",
            "timeout",
            "retry",
            "circuit-breaker",
            "bulkhead"
        ]
    );
    // One call per request without retries; with 3 retries against a dead upstream, about
    // four (a request cut by a round's end counts its calls in the round it made them).
    for v in [0, 1] {
        let calls = calls_per_price(v);
        assert!((0.9..=1.1).contains(&calls), "{}: {calls}", names[v]);
    }
    assert!(calls_per_price(2) > 3.0, "retry: {}", calls_per_price(2));
    // The open breaker answers without calling: fewer calls than requests, and rejections.
    for v in [3, 4] {
        assert!(
            calls_per_price(v) < 1.0,
            "{}: {}",
            names[v],
            calls_per_price(v)
        );
        assert!(counter(&doc, v, "resilience_breaker_rejections_total") > 0.0);
    }
    // The timeout fired; with hold_db=false no connection was held across a call.
    assert!(counter(&doc, 1, "resilience_timeouts_total") > 0.0);
    for (v, name) in names.iter().enumerate() {
        assert_eq!(
            counter(&doc, v, "resilience_db_held_nanoseconds_total"),
            0.0,
            "{name}"
        );
    }
}

#[test]
fn a_focus_on_a_name_never_sent_leaves_no_verdict() {
    let out = tempfile::tempdir().unwrap();
    let status = perflab()
        .args(["lab", "blocking-runtime", "--quick", "--no-prompt", "-q"])
        .args(["--focus", "no-such-request", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(!status.success(), "an invalid run is not a pass");
    let doc = validate_report(&out.path().join("report.json"));
    let reasons = doc["invalid_reasons"].to_string();
    assert!(reasons.contains("no-such-request"), "{reasons}");
}

#[test]
fn an_a_a_run_compares_a_variant_with_a_copy_that_behaves_the_same() {
    let doc = run_lab("cache-aside", &["--aa", "no-cache"]);
    let variants = doc["variants"].as_array().unwrap();
    let names: Vec<&str> = variants
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["no-cache", "no-cache-again"]);
    // The copy's VUs are told they run `no-cache`: the lab's no-cache-only check runs for both.
    for v in variants {
        let check = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "no-cache answers from the database")
            .unwrap_or_else(|| panic!("{}: no no-cache check", v["name"]));
        assert!(check["passed"].as_u64().unwrap() > 0);
        assert_eq!(check["failed"], 0);
    }
    assert_eq!(
        counter(&doc, 1, "cache_misses_total"),
        counter(&doc, 1, "db_statements_total")
    );
    // The lab's threshold about in-process vs no-cache does not apply to an A/A run.
    let thresholds = doc["thresholds"].to_string();
    assert!(!thresholds.contains("in-process"), "{thresholds}");
}

#[test]
fn serialization() {
    let out = tempfile::tempdir().unwrap();
    // No --profile: the lab profiles by default (its optional `defaults` export).
    let doc = run_lab_in("serialization", &[], out.path());
    assert!(
        counter(&doc, 2, "codec_bytes_encoded_total")
            < counter(&doc, 0, "codec_bytes_encoded_total")
    );
    // The profiles show the mechanism: JSON's encoder on the naive side of the differential,
    // and not on the compact side.
    let files = doc["profiles"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 3 * 2 + 2, "{files:?}");
    let share = |variant: &str, needle: &str| {
        let (hit, all) = folded_share(
            &out.path().join(format!("profile-{variant}.folded")),
            needle,
        );
        hit as f64 / all.max(1) as f64
    };
    let (json, compact) = (
        share("json", "serde_json::ser"),
        share("msgpack-compact", "serde_json::ser"),
    );
    assert!(
        json > 0.1 && compact < json / 4.0,
        "serde_json::ser: json {json:.2}, compact {compact:.2}"
    );
    let diff =
        std::fs::read_to_string(out.path().join("flame-diff-msgpack-compact-vs-json.svg")).unwrap();
    assert!(diff.contains("serde_json::ser") && diff.contains("what msgpack-compact removed"));
    let changes = &doc["profiles"]["comparisons"][1];
    assert_eq!(changes["candidate"], "msgpack-compact");
    assert!(!changes["changes"].as_array().unwrap().is_empty());
}

#[test]
fn bulk_insert_on_sqlite() {
    let doc = run_lab("bulk-insert", &[]);
    assert_eq!(
        counter(&doc, 0, "db_commits_total"),
        100.0,
        "autocommit: one commit per row"
    );
    assert_eq!(counter(&doc, 1, "db_commits_total"), 1.0);
    assert!(
        doc["environment"]["fsync_ms"]["median"].as_f64().unwrap() > 0.0,
        "write labs probe fsync"
    );
}

#[test]
fn bulk_insert_on_postgres() {
    let doc = run_lab("bulk-insert", &["--db", "postgres"]);
    assert_eq!(
        doc["variants"].as_array().unwrap().len(),
        5,
        "UNNEST and COPY join on PostgreSQL"
    );
    assert_eq!(
        counter(&doc, 4, "db_statements_total"),
        1.0,
        "COPY: one statement per request"
    );
}

fn n_plus_one(extra: &[&str]) {
    let doc = run_lab("n-plus-one", extra);
    // orders=20: 1 + 2N statements for N+1, 1 for the JOIN, 2 for the prefetch; the
    // DataLoader's batches are shared between concurrent requests, so at most 1 + 2.
    assert_eq!(counter(&doc, 0, "db_statements_total"), 41.0);
    assert_eq!(counter(&doc, 1, "db_statements_total"), 1.0);
    assert_eq!(counter(&doc, 2, "db_statements_total"), 2.0);
    let loader = counter(&doc, 3, "db_statements_total");
    assert!(loader > 1.0 && loader <= 3.0, "dataloader: {loader}");
    assert_eq!(counter(&doc, 3, "dataloader_keys_total"), 40.0);
    // The lab's check: every variant returned all 20 orders with their customer.
    for v in doc["variants"].as_array().unwrap() {
        let checks = v["checks"].as_array().unwrap();
        assert!(
            checks.iter().all(|c| c["failed"].as_u64() == Some(0)),
            "{}: {checks:?}",
            v["name"]
        );
    }
}

#[test]
fn n_plus_one_on_sqlite() {
    n_plus_one(&[]);
}

#[test]
fn n_plus_one_on_postgres() {
    n_plus_one(&["--db", "postgres"]);
}

/// The lost-update variant is caught by the service's own audit and failed by perflab, and
/// only that one: the correct variants lose nothing under the same concurrency.
fn like_counter(extra: &[&str]) {
    let doc = run_lab("like-counter", extra);
    let lost = |v: usize| counter(&doc, v, "likes_lost_update_violations_total");
    assert!(lost(0) > 0.0, "read-modify-write lost nothing under 16 VUs");
    for v in 1..5 {
        assert_eq!(lost(v), 0.0, "{} lost updates", doc["variants"][v]["name"]);
    }
    let failed: Vec<&str> = doc["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["outcome"] == "failed")
        .map(|t| t["expression"].as_str().unwrap())
        .collect();
    assert!(
        failed
            .iter()
            .any(|t| t.starts_with("read-modify-write: no lost update")),
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .all(|t| !t.contains("lost update") || t.starts_with("read-modify-write")),
        "{failed:?}"
    );
    assert!(
        doc["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with("read-modify-write: WRONG")),
        "{}",
        doc["warnings"]
    );
    assert!(
        counter(&doc, 2, "likes_retries_total") > 0.0,
        "optimistic retries"
    );
}

#[test]
fn like_counter_on_sqlite() {
    like_counter(&[]);
}

#[test]
fn like_counter_on_postgres() {
    like_counter(&["--db", "postgres"]);
}

/// Small data in the suite (the lab's default is 500 000 / 1 000 000 posts): 20 000 posts, pages
/// 90 % deep. OFFSET walks every row above the page; keyset reads the page.
fn pagination(extra: &[&str]) {
    let mut args = vec!["--param", "rows=20000", "--param", "depth=90"];
    args.extend_from_slice(extra);
    let doc = run_lab("pagination", &args);
    let offset = counter(&doc, 0, "feed_rows_walked_total");
    // Pages start between 18 000 and 18 999 posts deep (the plugin's jitter), plus the page.
    assert!(
        (18_020.0..19_020.0).contains(&offset),
        "offset walked {offset}"
    );
    assert_eq!(counter(&doc, 1, "feed_rows_walked_total"), 20.0);
    // The report says where the feed came from and how long generating it took.
    let note = doc["variants"][0]["notes"].to_string();
    assert!(
        note.contains("20000 rows, generated by this start in"),
        "{note}"
    );
}

#[test]
fn pagination_on_sqlite() {
    pagination(&[]);
}

#[test]
fn pagination_on_postgres() {
    pagination(&["--db", "postgres"]);
}

/// The durability lab kills the service (and PostgreSQL) mid-write before measuring: every
/// acknowledged write survives where the variant promises it, the report says so in every
/// form, and the commit time per request tells the settings apart.
fn durability(extra: &[&str]) -> serde_json::Value {
    let out = tempfile::tempdir().unwrap();
    let doc = run_lab_in("durability", extra, out.path());
    let checks = doc["lab"]["crash_checks"].as_array().unwrap();
    let postgres = extra.contains(&"postgres");
    assert_eq!(checks.len(), if postgres { 6 } else { 3 }, "{checks:?}");
    for c in checks {
        assert!(c["acknowledged"].as_u64().unwrap() > 0, "{c}");
        if c["promised"].as_bool().unwrap() {
            assert_eq!(c["lost"], 0, "a promise broken: {c}");
        }
        // Only async commit on a killed server may lose acknowledged writes; it says so.
        let unpromised = c["variant"] == "async-commit" && c["failure"] == "database-killed";
        assert_eq!(c["promised"].as_bool().unwrap(), !unpromised, "{c}");
    }
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    for form in [&md, &html] {
        assert!(form.contains("Crash check: acknowledged writes after kill -9"));
    }
    assert!(
        doc["variants"][0]["notes"][0]["text"]
            .as_str()
            .unwrap()
            .contains(if postgres {
                "synchronous_commit=on"
            } else {
                "journal_mode=delete, synchronous=FULL"
            })
    );
    doc
}

#[test]
fn durability_on_sqlite() {
    let doc = durability(&[]);
    // Each variant writes its own file, in the journal mode it names.
    let settings = doc["variants"][1]["notes"][0]["text"].as_str().unwrap();
    assert!(
        settings.contains("journal_mode=wal, synchronous=NORMAL"),
        "{settings}"
    );
}

#[test]
fn durability_on_postgres() {
    durability(&["--db", "postgres"]);
}

/// The index lab's reports carry each variant's query plan, from the service, in every form.
fn index(extra: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["--param", "rows=20000"];
    args.extend_from_slice(extra);
    let doc = run_lab_in("index", &args, out.path());
    let plan = |v: usize| {
        doc["variants"][v]["notes"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let (none, composite) = (plan(0), plan(2));
    assert!(none.contains("catalog_plain"), "{none}");
    assert!(
        composite.contains("catalog_composite_newest"),
        "{composite}"
    );
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    for form in [&md, &html] {
        assert!(form.contains("What the service said about each variant"));
        assert!(form.contains("catalog_composite_newest"));
    }
}

#[test]
fn index_on_sqlite() {
    index(&[]);
}

#[test]
fn index_on_postgres() {
    index(&["--db", "postgres"]);
}

#[test]
fn index_writes() {
    let doc = run_lab(
        "index",
        &["--param", "rows=20000", "--param", "workload=write"],
    );
    let names = variant_names(&doc);
    assert_eq!(names, ["no-index", "composite", "three-indexes"]);
    assert_eq!(
        counter(&doc, 2, "db_commits_total"),
        1.0,
        "one commit per insert"
    );
}

#[test]
fn python_example() {
    run_lab("python-example", &[]);
}

#[test]
fn ctrl_c_in_a_lab_leaves_no_process_behind() {
    interrupted_lab_leaves_nothing_behind(libc::SIGINT);
}

#[test]
fn sigterm_in_a_lab_writes_the_report_and_leaves_nothing_behind() {
    interrupted_lab_leaves_nothing_behind(libc::SIGTERM);
}

fn interrupted_lab_leaves_nothing_behind(signal: i32) {
    // Everything the run starts lives under its own TMPDIR, so its processes can be found.
    let tmp = tempfile::tempdir().unwrap();
    // The PostgreSQL server runs as the `postgres` user: it must be able to enter this folder.
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut child = perflab()
        .args([
            "lab",
            "bulk-insert",
            "--db",
            "postgres",
            "--no-prompt",
            "-q",
            "--duration",
            "60s",
        ])
        .arg("--out")
        .arg(out.path())
        .env("TMPDIR", tmp.path())
        .spawn()
        .unwrap();
    // Wait until the service is up (its log appears), then interrupt.
    let started = Instant::now();
    while !out.path().join("service.log").is_file() && started.elapsed() < Duration::from_secs(120)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted runs exit 130");
    let doc = validate_report(&out.path().join("report.json"));
    assert_eq!(doc["status"], "incomplete");
    let marker = tmp.path().to_string_lossy().into_owned();
    let leftovers: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&marker))
        .collect();
    assert!(
        leftovers.is_empty(),
        "processes left behind: {leftovers:#?}"
    );
    // The service's data folder and the throwaway cluster are gone too.
    let files: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert!(files.is_empty(), "left in the temp dir: {files:?}");
}

/// `--link` for a lab without Redis: the service's upstream calls go through a delay line. The
/// report says so, and every sequential upstream call pays the round trip (the lower bound
/// below is the injected delay itself, not a speed).
#[test]
fn the_upstream_behind_a_delay_line() {
    let doc = run_lab(
        "batch-calls",
        &[
            "--param",
            "items=5",
            "--param",
            "latency_us=0",
            "--link",
            "delay=2ms",
        ],
    );
    let link = doc["environment"]["link"].as_str().unwrap_or_default();
    assert!(
        link.contains("upstream") && link.contains("2.000 ms each way"),
        "{link:?}"
    );
    // Five calls in a row, each at least one 4 ms round trip through the relay.
    let sequential_p50 = doc["variants"][0]["summary"]["service_time"]["p50"]
        .as_f64()
        .unwrap();
    assert!(sequential_p50 >= 5.0 * 4.0, "{sequential_p50} ms");
    // A relay can delay and pace, not jitter or lose: that is refused, with the reason.
    let refused = perflab()
        .args(["lab", "batch-calls", "--quick", "--no-prompt", "-q"])
        .args(["--link", "delay=2ms,jitter=1ms"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(text.contains("only a delay and a rate apply"), "{text}");
}

/// `--link`: Redis behind a network namespace and a shaped veth pair. The report says which
/// link the run had, and an interrupted run leaves no namespace (nor its interfaces) behind.
#[test]
fn a_run_over_a_slow_link_states_it_and_leaves_no_namespace() {
    let out = tempfile::tempdir().unwrap();
    let mut child = perflab()
        .args([
            "lab",
            "client-pooling",
            "--param",
            "client=redis",
            "--link",
            "delay=1ms",
            "--no-prompt",
            "-q",
            "--duration",
            "60s",
        ])
        .arg("--out")
        .arg(out.path())
        .spawn()
        .unwrap();
    let namespace = format!("perflab-{}-", child.id());
    let namespaces = || {
        let list = std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&list.stdout).into_owned()
    };
    let started = Instant::now();
    while !out.path().join("service.log").is_file() && started.elapsed() < Duration::from_secs(120)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        namespaces().contains(&namespace),
        "no namespace: {}",
        namespaces()
    );
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let doc = validate_report(&out.path().join("report.json"));
    let link = doc["environment"]["link"].as_str().unwrap_or_default();
    assert!(link.contains("1.000 ms each way"), "{link:?}");
    assert!(
        !namespaces().contains(&namespace),
        "left behind: {}",
        namespaces()
    );
    let interfaces = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    let interfaces = String::from_utf8_lossy(&interfaces.stdout).into_owned();
    let veth = format!("pl{}h", child.id() % 10_000_000);
    assert!(!interfaces.contains(&veth), "left behind: {interfaces}");
}

#[test]
fn a_new_lab_builds_and_runs_at_once() {
    // A scratch checkout: empty labs/, the real plugins/ and target/ (so the SDK is built once).
    let scratch = tempfile::tempdir().unwrap();
    std::fs::create_dir(scratch.path().join("labs")).unwrap();
    for shared in ["plugins", "target"] {
        // target/ may not exist yet (e.g. CARGO_TARGET_DIR elsewhere): a dangling link breaks cargo.
        std::fs::create_dir_all(common::root().join(shared)).unwrap();
        std::os::unix::fs::symlink(common::root().join(shared), scratch.path().join(shared))
            .unwrap();
    }
    let created = perflab()
        .args(["new-lab", "demo"])
        .env("PERFLAB_ROOT", scratch.path())
        .status()
        .unwrap();
    assert_eq!(created.code(), Some(0));
    assert!(scratch.path().join("labs/demo/README.md").is_file());
    let again = perflab()
        .args(["new-lab", "demo"])
        .env("PERFLAB_ROOT", scratch.path())
        .status()
        .unwrap();
    assert_eq!(again.code(), Some(1), "an existing lab is not overwritten");

    let out = tempfile::tempdir().unwrap();
    let status = perflab()
        .args(["lab", "demo", "--quick", "--no-prompt", "-q"])
        .env("PERFLAB_ROOT", scratch.path())
        .arg("--out")
        .arg(out.path())
        .status()
        .unwrap();
    assert!(matches!(status.code(), Some(0) | Some(3)), "{status}");
    let doc = validate_report(&out.path().join("report.json"));
    assert_eq!(doc["name"], "demo");
    assert_eq!(doc["variants"].as_array().unwrap().len(), 2);
}

#[test]
fn load_flags_override_the_lab_or_are_refused() {
    // `--vus 4` replaces the lab's 16 VUs (and keeps its duration unless given).
    let out = tempfile::tempdir().unwrap();
    let status = perflab()
        .args(["lab", "lock-contention", "--quick", "--no-prompt", "-q"])
        .args([
            "--vus",
            "4",
            "--duration",
            "1s",
            "--rounds",
            "1",
            "--warmup",
            "0s",
        ])
        .arg("--out")
        .arg(out.path())
        .status()
        .unwrap();
    assert!(matches!(status.code(), Some(0) | Some(3)), "{status}");
    let doc = validate_report(&out.path().join("report.json"));
    assert_eq!(doc["load"]["model"], "constant-vus");
    assert_eq!(doc["load"]["vus"], 4);
    assert_eq!(doc["load"]["duration"], 1.0);

    // A flag that does not fit the lab's model is an error that names the conflict.
    let refused = perflab()
        .args(["lab", "lock-contention", "--quick", "--no-prompt", "-q"])
        .args(["--max-vus", "8"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--max-vus applies to open models"), "{err}");
}
