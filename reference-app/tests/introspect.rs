//! The service measuring itself, checked against work of a known size: the counting allocator
//! counts exactly, the process counters see CPU that was burnt, and the profiler finds the
//! function that burnt it.

mod common;

use common::{Svc, delta};
use serde_json::Value;

#[tokio::test]
async fn the_allocator_counts_every_allocation_exactly() {
    let svc = Svc::start(None, None, &[]);
    for count in [0u64, 1, 1000, 54_321] {
        let body: Value = svc
            .get_ok(&format!("/probe/allocations?count={count}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["counted"]["allocations"], count, "{body}");
        assert_eq!(body["counted"]["bytes"], count * 8, "one 8-byte box each");
    }
    // The process-wide counter sees them too, beside what serving the requests allocates.
    let grew = delta(
        &svc,
        &["allocations_total", "allocated_bytes_total"],
        async {
            for _ in 0..20 {
                svc.get_ok("/probe/allocations?count=1000").await;
            }
        },
    )
    .await;
    assert!(grew[0] >= 20_000.0, "allocations_total grew by {}", grew[0]);
    assert!(
        grew[0] < 20_000.0 + 20.0 * 1_000.0,
        "a request should not need 1000 allocations of its own: {}",
        grew[0]
    );
    assert!(grew[1] >= 160_000.0);
    // Out of bounds: refused with the limit named.
    let r = svc
        .http
        .get(svc.url("/probe/allocations?count=99999999"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn process_counters_see_the_cpu_a_request_burns() {
    let svc = Svc::start(None, None, &[]);
    let names = [
        "process_cpu_user_nanoseconds_total",
        "process_cpu_system_nanoseconds_total",
        "process_voluntary_context_switches_total",
    ];
    let grew = delta(&svc, &names, async {
        for _ in 0..20 {
            svc.get_ok("/probe/cpu?us=10000").await;
        }
    })
    .await;
    let cpu_ms = (grew[0] + grew[1]) / 1e6;
    // 200 ms of spinning: on a busy machine a thread loses some of it to others, so only a
    // generous floor is asserted; the counters must at least have moved by that much.
    assert!(cpu_ms >= 100.0, "the service's CPU grew by {cpu_ms:.1} ms");
    assert!(grew[2] >= 0.0);
}

#[tokio::test]
async fn the_profiler_finds_the_function_that_burns_cpu() {
    let svc = Svc::start(None, None, &[]);
    let post = |path: &str, body: &'static str| {
        svc.http
            .post(svc.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = post("/admin/profile/stop", "").await.unwrap();
    assert_eq!(r.status(), 409, "nothing to stop yet");
    let r = post("/admin/profile/start", r#"{"frequency_hz": 0}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = post("/admin/profile/start", r#"{"frequency": 99}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "unknown fields are refused");
    let r = post("/admin/profile/start", "").await.unwrap();
    assert_eq!(r.status(), 204);
    let r = post("/admin/profile/start", "").await.unwrap();
    assert_eq!(r.status(), 409, "one profile at a time");
    for _ in 0..40 {
        svc.get_ok("/probe/cpu?us=10000").await;
    }
    let dump: Value = post("/admin/profile/stop", "")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dump["frequency_hz"], 99);
    let folded = dump["folded"].as_str().unwrap();
    let (mut all, mut burning) = (0u64, 0u64);
    for line in folded.lines() {
        let (stack, n) = line.rsplit_once(' ').unwrap();
        let n: u64 = n.parse().unwrap();
        all += n;
        if stack.contains("reference_app::introspect::probe::burn_cpu_in_probe") {
            burning += n;
        }
        assert!(
            !stack.contains("pprof::"),
            "the sampler's frames are cut: {stack}"
        );
    }
    assert_eq!(dump["samples"], all);
    assert!(all >= 10, "400 ms of CPU at 99 Hz: {all} samples");
    assert!(
        burning * 2 >= all,
        "burn_cpu_in_probe in {burning} of {all} samples"
    );
}
