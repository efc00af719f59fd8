//! A counting global allocator: a thin wrapper over the system allocator that counts every
//! allocation (and reallocation) and the bytes asked for.
//!
//! Two sets of counts: process-wide atomics (what `/metrics` shows, divided per request by the
//! harness), and per-thread cells, so code that runs without an `.await` in between can count
//! exactly what *it* allocated while other requests allocate on other threads
//! ([`probe::allocations`](super::probe) uses that; the test checks it to the allocation).
//!
//! Cost: two relaxed atomic adds and two thread-local adds per allocation. The binary installs
//! it (`#[global_allocator]` in `main.rs`); a library user that does not sees zeros.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // `const` and `Cell<u64>` (no destructor): reading it never allocates, so it is safe to
    // touch from inside the allocator.
    static THREAD_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static THREAD_BYTES: Cell<u64> = const { Cell::new(0) };
}

#[inline]
fn count(bytes: usize) {
    ALLOCATIONS.fetch_add(1, Relaxed);
    BYTES.fetch_add(bytes as u64, Relaxed);
    // `try_with`: during thread teardown the cells may be gone; the totals still count.
    let _ = THREAD_ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
    let _ = THREAD_BYTES.try_with(|c| c.set(c.get() + bytes as u64));
}

// SAFETY: every call is forwarded unchanged to `System`; counting touches only atomics and
// destructor-free thread-locals, neither of which allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A realloc may move the block: it is one more trip to the allocator, counted as one.
        count(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations and bytes requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub allocations: u64,
    pub bytes: u64,
}

impl Counts {
    pub fn since(self, earlier: Counts) -> Counts {
        Counts {
            allocations: self.allocations - earlier.allocations,
            bytes: self.bytes - earlier.bytes,
        }
    }
}

/// Process-wide totals since start (zero unless the binary installed the allocator).
pub fn totals() -> Counts {
    Counts {
        allocations: ALLOCATIONS.load(Relaxed),
        bytes: BYTES.load(Relaxed),
    }
}

/// This thread's totals: subtract two readings taken without an `.await` between them.
pub fn this_thread() -> Counts {
    Counts {
        allocations: THREAD_ALLOCATIONS.with(Cell::get),
        bytes: THREAD_BYTES.with(Cell::get),
    }
}
