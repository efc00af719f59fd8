//! What a plugin costs per request, next to the request itself: one `next-request` call into a
//! Rust guest and into a Python guest (componentize-py), and one HTTP round trip on loopback to
//! the reference service (`/health/live`). Run with `just bench-plugins`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bench_harness::lab::describe_with_params;
use bench_harness::load::client::{Connection, Target};
use bench_harness::plugin::{PluginHost, PluginLimits, PluginWorkload, build};
use bench_harness::target::service::{ServiceProcess, locate_binary};
use bench_harness::workload::{BodyNeed, RequestSpec, Workload};
use criterion::{Criterion, criterion_group, criterion_main};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn bench_guest(c: &mut Criterion, label: &str, wasm: &Path) {
    let host = PluginHost::new(PluginLimits::default()).unwrap();
    let plugin = host.load(wasm).unwrap();
    println!("{label}: {} KB component", plugin.wasm_bytes / 1024);
    let (_, params) = describe_with_params(&plugin, &[], "sqlite").unwrap();
    let workload = Arc::new(PluginWorkload::new(plugin, params, BodyNeed::None, 1));
    let mut vu = workload.virtual_user(0, 1).unwrap();
    let mut i = 1_000u64; // past the lab's initial writes
    c.bench_function(&format!("plugin/{label}/next-request"), |b| {
        b.iter(|| {
            i += 1;
            vu.next_request(i).unwrap()
        })
    });
}

fn plugins(c: &mut Criterion) {
    let rust = build::build_rust(&root().join("labs/lock-contention/plugin"), &root(), true)
        .expect("Rust guest builds");
    bench_guest(c, "rust", &rust);
    let py = root().join("labs/python-example/plugin-py");
    match build::build_python(
        &py,
        &root().join("plugins/wit"),
        &build::guest_target_dir(&root()).join("python"),
    ) {
        Ok(wasm) => bench_guest(c, "python", &wasm),
        Err(e) => eprintln!("skipping the Python guest: {e}"),
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
    let Some(binary) = binary.filter(|p| p.is_file()) else {
        eprintln!("skipping the HTTP round trip: build reference-app first");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let svc = ServiceProcess::start(
        &binary,
        &["--data-dir".into(), data.path().display().to_string()],
        None,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (target, path) = rt
        .block_on(Target::resolve(&format!("{}/health/live", svc.base_url())))
        .unwrap();
    let spec = RequestSpec {
        method: hyper::Method::GET,
        path,
        headers: vec![],
        body: Default::default(),
        name: "live".into(),
    };
    let mut conn = Connection::new(target);
    c.bench_function("http/loopback-round-trip", |b| {
        b.iter(|| {
            rt.block_on(conn.send(&spec, BodyNeed::None, false, Duration::from_secs(5)))
                .unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = plugins
}
criterion_main!(benches);
