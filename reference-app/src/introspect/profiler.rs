//! CPU profiles on demand: while the harness measures one variant it asks the service to sample
//! its own stacks (`POST /admin/profile/start`), and collects them at the end of the round
//! (`POST /admin/profile/stop`) as folded stacks (`frame;frame;frame count` per line), the
//! format inferno, speedscope and flamegraph.pl read.
//!
//! Sampling is `pprof` (tikv): a `SIGPROF` timer on the process's CPU time, so a thread is
//! sampled in proportion to the CPU it burns (a thread waiting on a lock or a socket is not
//! sampled; its wait shows as context switches, see [`super::rusage`]). It needs no perf events,
//! which this VM has none of. The cost at the default rate is measured in BENCHMARKS.md.

use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Samples per second of CPU time. 99, not 100, so the timer does not beat in step with
/// periodic work; high enough for a few hundred samples in a short lab run.
pub const DEFAULT_FREQUENCY_HZ: u32 = 99;
pub const MAX_FREQUENCY_HZ: u32 = 1000;

/// `POST /admin/profile/start`'s optional body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartProfile {
    /// Samples per CPU-second, 1–1000 (default 99).
    #[serde(default)]
    pub frequency_hz: Option<u32>,
}

/// What `POST /admin/profile/stop` returns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProfileDump {
    pub frequency_hz: u32,
    /// Wall-clock seconds between start and stop.
    pub seconds: f64,
    /// Stack samples taken (the sum of the counts in `folded`).
    pub samples: u64,
    /// One line per distinct stack, outermost frame first: `thread;main;…;leaf COUNT`.
    pub folded: String,
}

struct Running {
    guard: pprof::ProfilerGuard<'static>,
    frequency_hz: u32,
    began: Instant,
}

/// One profile at a time per process: pprof's sampler is process-wide.
static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

/// Libraries whose frames are unsafe to unwind from a signal handler (pprof's advice: the
/// unwinder can deadlock inside them); a sample whose leaf is there is dropped.
const BLOCKLIST: &[&str] = &["libc", "libgcc", "pthread", "vdso"];

pub fn start(frequency_hz: Option<u32>) -> Result<(), ApiError> {
    let frequency_hz = frequency_hz.unwrap_or(DEFAULT_FREQUENCY_HZ);
    if !(1..=MAX_FREQUENCY_HZ).contains(&frequency_hz) {
        return Err(ApiError::BadRequest(format!(
            "frequency_hz must be 1–{MAX_FREQUENCY_HZ}, got {frequency_hz}"
        )));
    }
    let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    if running.is_some() {
        return Err(ApiError::Conflict(
            "a profile is already running: POST /admin/profile/stop first".into(),
        ));
    }
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(frequency_hz as i32)
        .blocklist(BLOCKLIST)
        .build()
        .map_err(|e| ApiError::Unavailable(format!("cannot start the CPU profiler: {e}")))?;
    *running = Some(Running {
        guard,
        frequency_hz,
        began: Instant::now(),
    });
    Ok(())
}

/// Stops sampling and returns the stacks. Symbolising takes a while the first time (the
/// binary's symbol table is read), so the caller runs this off the async workers.
pub fn stop() -> Result<ProfileDump, ApiError> {
    let Running {
        guard,
        frequency_hz,
        began,
    } = RUNNING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .ok_or_else(|| {
            ApiError::Conflict("no profile is running: POST /admin/profile/start first".into())
        })?;
    let seconds = began.elapsed().as_secs_f64();
    let report = guard
        .report()
        .build()
        .map_err(|e| ApiError::Unavailable(format!("cannot read the CPU profile: {e}")))?;
    drop(guard);
    let mut lines: Vec<(String, u64)> = report
        .data
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(frames, count)| {
            let mut stack = vec![frames.thread_name_or_id()];
            // Outermost first; within one frame, inlined functions are listed innermost first.
            stack.extend(
                frames
                    .frames
                    .iter()
                    .rev()
                    .flat_map(|inlined| inlined.iter().rev())
                    .map(|symbol| clean_name(&symbol.name())),
            );
            trim_sampler_frames(&mut stack);
            (stack.join(";"), *count as u64)
        })
        .collect();
    // Two raw stacks can fold to one line once the sampler's frames are trimmed.
    lines.sort();
    lines.dedup_by(|later, kept| {
        if later.0 == kept.0 {
            kept.1 += later.1;
            true
        } else {
            false
        }
    });
    let samples = lines.iter().map(|(_, n)| n).sum();
    let folded = lines
        .iter()
        .map(|(stack, n)| format!("{stack} {n}\n"))
        .collect();
    Ok(ProfileDump {
        frequency_hz,
        seconds,
        samples,
        folded,
    })
}

/// `reference_app::store::Stores::get::h0123456789abcdef` → `reference_app::store::Stores::get`;
/// a `;` or space inside a name (closures, generics) would break the folded format.
fn clean_name(name: &str) -> String {
    let name = match name.rsplit_once("::h") {
        Some((stem, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            stem
        }
        _ => name,
    };
    name.replace([';', ' '], "_")
}

/// The leaf end of every sample is the signal handler that took it (pprof's, the unwinder's,
/// the kernel's trampoline): not the service's work, so it is cut off.
fn trim_sampler_frames(stack: &mut Vec<String>) {
    if let Some(at) = stack
        .iter()
        .position(|f| f.starts_with("pprof::") || f.starts_with("backtrace::"))
    {
        stack.truncate(at);
    }
    while stack
        .last()
        .is_some_and(|f| f == "__restore_rt" || f == "Unknown")
        && stack.len() > 1
    {
        stack.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_hash_and_the_sampler_frames_are_cut() {
        assert_eq!(
            clean_name("reference_app::store::get::h0123456789abcdef"),
            "reference_app::store::get"
        );
        assert_eq!(clean_name("<T as core::Foo>::bar"), "<T_as_core::Foo>::bar");
        let mut s: Vec<String> = [
            "tokio-runtime-worker",
            "main",
            "work",
            "__restore_rt",
            "pprof::profiler::perf_signal_handler",
            "backtrace::trace",
        ]
        .map(String::from)
        .to_vec();
        trim_sampler_frames(&mut s);
        assert_eq!(s, ["tokio-runtime-worker", "main", "work"]);
    }
}
