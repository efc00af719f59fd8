//! A semaphore whose size follows a knob: the `blocking` dimension's bounded pool and the
//! `resilience` dimension's bulkhead both cap concurrent work at a number a lab can change
//! between rounds.

use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

pub struct Permits {
    current: Mutex<(usize, Arc<Semaphore>)>,
}

impl Permits {
    pub fn new(permits: usize) -> Permits {
        Permits {
            current: Mutex::new((permits, Arc::new(Semaphore::new(permits)))),
        }
    }

    /// The semaphore for `permits` (clamped to `1..=max`), rebuilt when the knob has changed.
    /// Requests holding permits of the old semaphore finish on it; new ones queue on the new.
    pub fn sized(&self, permits: u64, max: usize) -> Arc<Semaphore> {
        let want = (permits as usize).clamp(1, max);
        let mut current = self.current.lock().expect("permits lock");
        if current.0 != want {
            *current = (want, Arc::new(Semaphore::new(want)));
        }
        current.1.clone()
    }
}
