//! The process's own CPU time and context switches, from `getrusage(RUSAGE_SELF)`.
//!
//! Per request, these say what throughput alone can hide on a machine where the load generator
//! shares the CPU: a variant that needs half the CPU per request may show the same req/s when
//! the client is the bottleneck. Voluntary switches are a thread blocking (a lock, I/O);
//! involuntary ones are the scheduler taking the CPU away.

#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub user_ns: u64,
    pub system_ns: u64,
    pub voluntary_switches: u64,
    pub involuntary_switches: u64,
}

/// `None` only if the kernel refuses, which `getrusage` on ourselves does not do on Linux.
pub fn now() -> Option<Usage> {
    // SAFETY: `getrusage` writes one `rusage` into memory we own; it is zeroed beforehand.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return None;
    }
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    Some(Usage {
        user_ns: ns(u.ru_utime),
        system_ns: ns(u.ru_stime),
        voluntary_switches: u.ru_nvcsw as u64,
        involuntary_switches: u.ru_nivcsw as u64,
    })
}
