//! What a plugin costs per request, next to the request itself: one `next-request` call into
//! each Rust lab's guest (every `labs/<name>/plugin/`, a new lab's too) and into a Python guest
//! (componentize-py), and one HTTP round trip on loopback to the reference service
//! (`/health/live`). Run with `just bench-plugins`.
//!
//! Why not criterion here (the service's benches use it): on a shared VM the speed of the same
//! code drifts by up to 2× over minutes, as neighbours come and go. Criterion measures one
//! subject after another, so two subjects can land in different weather. This bench runs
//! rounds instead, and every round measures every subject once (median of 5 batches); the table
//! gives each subject's median over the rounds, its range, and its cost relative to the HTTP
//! round trip of the same round, which drifts with it.
//!
//! The floor is the cheapest `next-request` there can be: the test fixture's `get("/health/live")`,
//! with no name, headers or body. What it costs is wasmtime's fixed price for any call into a
//! `virtual-user` that returns a request (enter the instance, borrow the resource, lift the
//! record, call the guest's post-return), the same for every plugin; "own work" is what a lab
//! adds to it, per round.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use perflab_load::client::{Connection, Target};
use perflab_load::workload::{BodyNeed, RequestSpec, Workload};
use perflab_plugin_host::params::describe_with_params;
use perflab_plugin_host::{PluginHost, PluginLimits, PluginWorkload, build};
use perflab_services::service::{ServiceProcess, locate_binary};

mod common;
use common::{median, root};

const ROUNDS: usize = 7;
const BATCHES: usize = 5;
const BATCH_TIME: Duration = Duration::from_millis(60);
/// The goal from issue 4, for a Rust guest's `next-request`.
const GOAL: Duration = Duration::from_micros(1);

/// What a subject is, for the columns that compare subjects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The cheapest `next-request`, which the guests' own work is measured against.
    Floor,
    RustGuest,
    PythonGuest,
    Http,
}

/// Something measured per call: runs `n` calls.
struct Subject {
    label: String,
    kind: Kind,
    calls: Box<dyn FnMut(u64)>,
    /// Calls per batch, found on the first round.
    batch: u64,
    /// Per round: the median batch's time per call.
    rounds: Vec<Duration>,
}

impl Subject {
    fn new(label: impl Into<String>, kind: Kind, calls: impl FnMut(u64) + 'static) -> Subject {
        Subject {
            label: label.into(),
            kind,
            calls: Box::new(calls),
            batch: 0,
            rounds: Vec::new(),
        }
    }

    /// Per round, µs per call.
    fn micros(&self) -> Vec<f64> {
        self.rounds.iter().map(|d| d.as_secs_f64() * 1e6).collect()
    }

    fn measure_round(&mut self) {
        if self.batch == 0 {
            // Warm up and size a batch to about BATCH_TIME.
            let mut n = 1;
            loop {
                let start = Instant::now();
                (self.calls)(n);
                if start.elapsed() >= BATCH_TIME / 4 {
                    let per_call = start.elapsed() / n as u32;
                    self.batch = (BATCH_TIME.as_nanos() / per_call.as_nanos().max(1)) as u64;
                    break;
                }
                n *= 2;
            }
        }
        let mut batches: Vec<Duration> = (0..BATCHES)
            .map(|_| {
                let start = Instant::now();
                (self.calls)(self.batch);
                start.elapsed() / self.batch as u32
            })
            .collect();
        batches.sort();
        self.rounds.push(batches[BATCHES / 2]);
    }
}

fn guest(host: &Arc<PluginHost>, label: &str, kind: Kind, wasm: &Path) -> Result<Subject, String> {
    let plugin = host.load(wasm).map_err(|e| e.to_string())?;
    println!("{label}: {} KB component", plugin.wasm_bytes / 1024);
    let (_, params) = describe_with_params(&plugin, &[], &[]).map_err(|e| e.to_string())?;
    let workload = Arc::new(PluginWorkload::new(plugin, params, BodyNeed::None, 1));
    let mut vu = workload.virtual_user(0, 1).map_err(|e| e.to_string())?;
    let mut i = 1_000u64; // past the labs' initial writes
    Ok(Subject::new(
        format!("plugin/{label}/next-request"),
        kind,
        move |n| {
            for _ in 0..n {
                i += 1;
                std::hint::black_box(vu.next_request(i).unwrap());
            }
        },
    ))
}

/// Builds and loads a guest; a guest that does not is reported and left out.
fn add_guest(
    subjects: &mut Vec<Subject>,
    host: &Arc<PluginHost>,
    label: &str,
    kind: Kind,
    wasm: Result<PathBuf, String>,
) {
    match wasm.and_then(|wasm| guest(host, label, kind, &wasm)) {
        Ok(subject) => subjects.push(subject),
        Err(e) => eprintln!("skipping {label}: {e}"),
    }
}

/// Every lab with a Rust guest (`labs/<name>/plugin/`), yours included, by name.
fn rust_labs() -> Vec<String> {
    let mut labs: Vec<String> = std::fs::read_dir(root().join("labs"))
        .map(|dir| {
            dir.flatten()
                .filter(|e| e.path().join("plugin/Cargo.toml").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    labs.sort();
    labs
}

fn http_round_trip(svc: &ServiceProcess) -> Subject {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (target, path) = rt
        .block_on(Target::resolve(
            &format!("{}/health/live", svc.base_url()),
            false,
        ))
        .unwrap();
    let spec = RequestSpec {
        method: hyper::Method::GET,
        path,
        headers: vec![],
        body: Default::default(),
        name: "live".into(),
    };
    let mut conn = Connection::new(target);
    Subject::new("http/loopback-round-trip", Kind::Http, move |n| {
        for _ in 0..n {
            rt.block_on(conn.send(&spec, BodyNeed::None, false, Duration::from_secs(5)))
                .unwrap();
        }
    })
}

/// `PERFLAB_BENCH_ONLY=floor,my-lab` keeps the subjects whose label contains one of the
/// comma-separated words: your lab and the floor, say, or one subject for a profiler
/// (`cargo bench` itself passes only `--bench`).
fn wanted(label: &str) -> bool {
    std::env::var("PERFLAB_BENCH_ONLY").map_or(true, |only| {
        only.split(',').any(|word| label.contains(word.trim()))
    })
}

fn main() {
    // One host for every guest, as in a run: one engine, one epoch ticker.
    let host = PluginHost::new(PluginLimits::default()).expect("the plugin host starts");
    let mut subjects = Vec::new();
    if wanted("floor/") {
        let fixture = root().join("tests/fixtures/bad-plugin");
        let wasm = build::build_rust(&fixture, &root(), true).map_err(|e| e.to_string());
        add_guest(
            &mut subjects,
            &host,
            "floor/minimal-request",
            Kind::Floor,
            wasm,
        );
    }
    for lab in rust_labs() {
        let label = format!("rust/{lab}");
        if wanted(&label) {
            let crate_dir = root().join("labs").join(&lab).join("plugin");
            let wasm = build::build_rust(&crate_dir, &root(), true).map_err(|e| e.to_string());
            add_guest(&mut subjects, &host, &label, Kind::RustGuest, wasm);
        }
    }
    if wanted("python/python-example") {
        let wasm = build::build_python(
            &root().join("labs/python-example/plugin-py"),
            &root().join("plugins/wit"),
            &build::guest_target_dir(&root()).join("python"),
        )
        .map_err(|e| e.to_string());
        add_guest(
            &mut subjects,
            &host,
            "python/python-example",
            Kind::PythonGuest,
            wasm,
        );
    }

    // The HTTP request the plugin's answer turns into, for scale.
    // cargo runs benches from the package folder: resolve a relative PERFLAB_SERVICE_BIN
    // against the checkout.
    let release = root().join("target/release/reference-app");
    let binary = if release.is_file() {
        Some(release)
    } else {
        locate_binary().map(|p| root().join(p))
    };
    let data = tempfile::tempdir().unwrap();
    let svc = match binary.filter(|p| p.is_file()) {
        _ if !wanted("http/") => None,
        Some(binary) => Some(
            ServiceProcess::start(
                &binary,
                &["--data-dir".into(), data.path().display().to_string()],
                None,
            )
            .unwrap(),
        ),
        None => {
            eprintln!("skipping the HTTP round trip: build reference-app first");
            None
        }
    };
    if let Some(svc) = &svc {
        subjects.push(http_round_trip(svc));
    }

    for round in 1..=ROUNDS {
        eprint!("\rround {round}/{ROUNDS}");
        // Each round starts one subject later, so none always follows the same neighbour.
        let n = subjects.len();
        for i in 0..n {
            subjects[(round + i) % n].measure_round();
        }
    }
    eprintln!();

    let rounds_of = |kind: Kind| subjects.iter().find(|s| s.kind == kind).map(|s| s.micros());
    let (http, floor) = (rounds_of(Kind::Http), rounds_of(Kind::Floor));
    // Per round, so both sides of a difference or ratio saw the same machine speed.
    let per_round = |us: &[f64], other: &Option<Vec<f64>>, f: fn(f64, f64) -> f64| {
        other
            .as_ref()
            .map(|o| median(us.iter().zip(o).map(|(a, b)| f(*a, *b)).collect()))
    };
    println!(
        "\n{:<46} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "per call (median over rounds)", "median", "fastest", "slowest", "own work", "of HTTP RTT"
    );
    for s in &subjects {
        let us = s.micros();
        let is_guest = matches!(s.kind, Kind::RustGuest | Kind::PythonGuest);
        let own = per_round(&us, &floor, |p, f| p - f)
            .filter(|_| is_guest)
            .map_or(String::new(), |d| format!("{d:.2} µs"));
        let of_http = per_round(&us, &http, |p, h| 100.0 * p / h)
            .filter(|_| s.kind != Kind::Http)
            .map_or(String::new(), |r| format!("{r:.1} %"));
        println!(
            "{:<46} {:>7.2} µs {:>7.2} µs {:>7.2} µs {:>10} {:>12}",
            s.label,
            median(us.clone()),
            us.iter().copied().fold(f64::INFINITY, f64::min),
            us.iter().copied().fold(0.0, f64::max),
            own,
            of_http
        );
    }
    println!(
        "\n{ROUNDS} rounds; each round measures every subject once (median of {BATCHES} batches of ~{} ms).",
        BATCH_TIME.as_millis()
    );
    let goal_us = GOAL.as_secs_f64() * 1e6;
    if let Some(f) = &floor {
        println!(
            "own work: the call minus the floor (tests/fixtures/bad-plugin's minimal request) in the same round."
        );
        println!(
            "floor: median {:.2} µs, wasmtime's fixed cost of any next-request call on this machine now",
            median(f.clone())
        );
    }
    for s in subjects.iter().filter(|s| s.kind == Kind::RustGuest) {
        let m = median(s.micros());
        let verdict = if m < goal_us { "under" } else { "over" };
        println!(
            "{}: median {m:.2} µs, {verdict} the {goal_us:.0} µs goal",
            s.label
        );
    }
    drop(svc);
}
