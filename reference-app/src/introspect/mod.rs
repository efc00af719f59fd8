//! The service measuring itself, so a report can say *why* one variant is faster:
//!
//! - [`alloc`]: a counting global allocator (allocations and bytes, in total and per thread);
//! - [`rusage`]: the process's own CPU time and context switches;
//! - [`profiler`]: CPU stack samples on demand (`POST /admin/profile/start` … `stop`), returned
//!   as folded stacks that flame-graph tools read;
//! - [`probe`]: two endpoints with a known cost (CPU in a named function, a known number of
//!   allocations), which the tests use to check the three above.
//!
//! The counters are published at `/metrics` like every other counter, so the harness reads them
//! before and after each round and divides by the requests it sent: "allocations/request 1 042
//! vs 3", "CPU µs/request 38 vs 12".

pub mod alloc;
pub mod probe;
pub mod profiler;
pub mod rusage;

/// Copies the process-wide figures into the metrics registry; called just before `/metrics`
/// renders, so a scrape is as fresh as the request that asked for it.
pub fn publish() {
    use crate::metric_names as m;
    let a = alloc::totals();
    metrics::counter!(m::ALLOCATIONS).absolute(a.allocations);
    metrics::counter!(m::ALLOCATED_BYTES).absolute(a.bytes);
    if let Some(u) = rusage::now() {
        metrics::counter!(m::PROCESS_CPU_USER_NS).absolute(u.user_ns);
        metrics::counter!(m::PROCESS_CPU_SYSTEM_NS).absolute(u.system_ns);
        metrics::counter!(m::PROCESS_VOLUNTARY_SWITCHES).absolute(u.voluntary_switches);
        metrics::counter!(m::PROCESS_INVOLUNTARY_SWITCHES).absolute(u.involuntary_switches);
    }
    crate::blocking::publish_runtime_busy();
}
