//! The stores under multi-threaded contention, in process (no HTTP): each of T threads does a
//! 90/10 read/write mix on 64 hot keys. `work_us` = CPU work inside the critical section.
//! Expect little difference with `work_us = 0` on 2 cores (the lesson's refutation), and a
//! clear one once the critical section does real work.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use reference_app::store::{StoreKind, Stores};

const OPS_PER_THREAD: u64 = 2_000;

fn run(stores: &Arc<Stores>, kind: StoreKind, threads: u64, work_us: u64) -> Duration {
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let stores = stores.clone();
            std::thread::spawn(move || {
                for i in 0..OPS_PER_THREAD {
                    let key = format!("k{}", (i * 7 + t) % 64);
                    if i % 10 == 0 {
                        // 64 keys of a few bytes: far below the store's capacity.
                        block_on(stores.put(kind, &key, "value".into(), work_us, 0))
                            .expect("below capacity");
                    } else {
                        block_on(stores.get(kind, &key, work_us));
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("bench thread");
    }
    started.elapsed()
}

fn contention(c: &mut Criterion) {
    for (label, work_us) in [("short-critical-section", 0), ("work-5us-inside-lock", 5)] {
        let mut group = c.benchmark_group(format!("store/{label}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        for threads in [1u64, 2, 4] {
            group.throughput(Throughput::Elements(OPS_PER_THREAD * threads));
            for kind in [
                StoreKind::GlobalMutex,
                StoreKind::RwLock,
                StoreKind::Sharded,
            ] {
                let stores = Arc::new(Stores::default());
                group.bench_with_input(
                    BenchmarkId::new(kind.as_ref(), format!("{threads}-threads")),
                    &threads,
                    |b, &t| {
                        b.iter_custom(|iters| {
                            (0..iters).map(|_| run(&stores, kind, t, work_us)).sum()
                        })
                    },
                );
            }
        }
        group.finish();
    }
}

criterion_group!(benches, contention);
criterion_main!(benches);
