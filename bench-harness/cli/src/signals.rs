//! The signals that end a run early: SIGINT (Ctrl-C), SIGTERM (`timeout`, CI, `kill`) and
//! SIGHUP (the terminal went away). All three are handled alike: the current round stops, the
//! partial report is written, and everything the run started is stopped and removed.

use tokio::signal::unix::{SignalKind, signal};

/// Waits for the first of the three; its name, or `None` if no handler could be installed.
pub async fn first() -> Option<&'static str> {
    let mut int = signal(SignalKind::interrupt()).ok()?;
    let mut term = signal(SignalKind::terminate()).ok()?;
    let mut hup = signal(SignalKind::hangup()).ok()?;
    tokio::select! {
        _ = int.recv() => Some("interrupted (SIGINT)"),
        _ = term.recv() => Some("terminated (SIGTERM)"),
        _ = hup.recv() => Some("hung up (SIGHUP)"),
    }
}
