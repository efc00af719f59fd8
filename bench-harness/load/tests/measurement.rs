//! The measurement measured: against servers whose behaviour we control, the engine must
//! report what the server did. Tolerances are generous: the machine is shared and noisy.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use perflab_analysis::Percentiles;
use perflab_load::LoadModel;
use perflab_load::client::Target;
use perflab_load::engine::{RoundConfig, RoundData, run_round};
use perflab_load::intervals::{Series, decode};
use perflab_load::workload::{FixedRequest, RequestSpec};
use support::TestServer;
use tokio_util::sync::CancellationToken;

async fn round(server: &TestServer, model: LoadModel) -> RoundData {
    round_settling(server, model, Duration::ZERO).await
}

async fn round_settling(server: &TestServer, model: LoadModel, settle: Duration) -> RoundData {
    let (target, path) = Target::resolve(&server.url("/x"), false).await.unwrap();
    let spec = RequestSpec {
        method: hyper::Method::GET,
        path,
        headers: vec![],
        body: Default::default(),
        name: "x".into(),
    };
    run_round(RoundConfig {
        model,
        target,
        workload: Arc::new(FixedRequest { spec }),
        seed: 1,
        timeout: Duration::from_secs(10),
        threads: 2,
        settle,
        cancel: CancellationToken::new(),
        progress: None,
        intervals: true,
        stripe: None,
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_2ms_server_is_measured_at_2ms() {
    let server = TestServer::start(Duration::from_millis(2));
    let data = round(
        &server,
        LoadModel::ConstantVus {
            vus: 4,
            duration: Duration::from_secs(2),
            think_time: Duration::ZERO,
        },
    )
    .await;
    let p = Percentiles::of(&data.recorder.latency.merged());
    let n = data.recorder.completed();
    assert!(n > 200, "only {n} requests in 2 s at 4 VUs");
    assert_eq!(data.recorder.errors.load(Ordering::Relaxed), 0);
    assert!(
        p.p50 >= 2.0 && p.p50 < 4.0,
        "p50 {} ms for a 2 ms server",
        p.p50
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_model_shows_a_stall_in_corrected_latency_not_in_service_time() {
    let server = TestServer::start(Duration::ZERO);
    // The server stalls for 1 s, 1 s into a 4 s run at 100 requests/s over one connection.
    server.stall_after(Duration::from_secs(1), Duration::from_secs(1));
    let data = round(
        &server,
        LoadModel::ConstantArrivalRate {
            rate: 100.0,
            duration: Duration::from_secs(4),
            max_vus: 1,
        },
    )
    .await;
    let corrected = Percentiles::of(&data.recorder.latency.merged());
    let service = Percentiles::of(&data.recorder.service_time());
    let late = data.recorder.late_sends.load(Ordering::Relaxed);
    // ~100 of ~400 sends were due during the stall: they waited up to 1 s for their turn.
    assert!(
        corrected.p99 > 500.0,
        "corrected p99 {} ms should show the 1 s stall",
        corrected.p99
    );
    assert!(corrected.max > 900.0, "corrected max {} ms", corrected.max);
    // Only the one request in flight when the stall began took long to serve.
    assert!(
        service.p99 < 100.0,
        "service-time p99 {} ms should not show the stall",
        service.p99
    );
    assert!(
        service.max > 900.0,
        "the one stalled request shows in service max: {} ms",
        service.max
    );
    assert!(late >= 50, "only {late} late sends reported");
    // The interval log sees the stall when it happened, and its intervals add up to the round.
    let latency_of = |i: &perflab_load::intervals::Interval, series| {
        let (_, bytes) = i.series.iter().find(|(s, _)| *s == series).unwrap();
        decode(bytes).unwrap()
    };
    assert!(
        (4..=6).contains(&data.intervals.len()),
        "{} intervals",
        data.intervals.len()
    );
    let first = latency_of(&data.intervals[0], Series::Latency);
    assert!(
        first.max() < 100_000_000,
        "the first second is calm: max {} ns",
        first.max()
    );
    let stalled = data.intervals[1..3]
        .iter()
        .map(|i| latency_of(i, Series::Latency).max())
        .max()
        .unwrap();
    assert!(
        stalled > 900_000_000,
        "the stall shows in seconds 1–3: max {stalled} ns"
    );
    for (series, whole) in [
        (Series::Latency, data.recorder.latency.merged()),
        (Series::Service, data.recorder.service.merged()),
        (Series::Lag, data.recorder.lag.merged()),
    ] {
        let mut sum = perflab_load::record::new_hist();
        for i in &data.intervals {
            sum.add(latency_of(i, series)).unwrap();
        }
        assert_eq!(
            sum.len(),
            whole.len(),
            "{series:?}: intervals add up to the round"
        );
        assert_eq!(sum.max(), whole.max(), "{series:?}");
    }
    assert!(
        data.recorder.completed() + data.unsent >= 390,
        "sends must not vanish: {} done, {} unsent",
        data.recorder.completed(),
        data.unsent
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_model_sends_at_the_scheduled_rate() {
    let server = TestServer::start(Duration::from_micros(200));
    let data = round(
        &server,
        LoadModel::ConstantArrivalRate {
            rate: 500.0,
            duration: Duration::from_secs(2),
            max_vus: 16,
        },
    )
    .await;
    let n = data.recorder.completed();
    assert_eq!(data.scheduled, 1000, "the schedule is exact");
    assert!((950..=1000).contains(&n), "{n} requests at 500/s for 2 s");
    // A send released in the last millisecond can miss the end when the machine is busy (it is
    // then counted as unsent, which is the point); more than a few would be a scheduler fault.
    assert!(data.unsent <= 5, "{} sends never started", data.unsent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settle_period_is_counted_apart_and_not_measured() {
    let server = TestServer::start(Duration::from_millis(2));
    let data = round_settling(
        &server,
        LoadModel::ConstantVus {
            vus: 1,
            duration: Duration::from_secs(1),
            think_time: Duration::ZERO,
        },
        Duration::from_millis(500),
    )
    .await;
    let measured = data.recorder.completed();
    let settling = data.recorder.settling.load(Ordering::Relaxed);
    // One VU against a 2 ms server: ~2 requests per 5 ms; 1 s measured after 0.5 s settling.
    assert!(
        data.elapsed >= Duration::from_millis(950) && data.elapsed < Duration::from_millis(1300),
        "measured {:?}",
        data.elapsed
    );
    assert!(
        settling > 50 && measured > settling,
        "{settling} settling, {measured} measured"
    );
    let per_second: u64 = data.recorder.per_second(1).iter().map(|(c, _)| c).sum();
    assert!(
        per_second <= measured && per_second * 10 >= measured * 8,
        "{per_second} of {measured} in the first second"
    );
}
