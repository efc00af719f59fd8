//! A counting global allocator: a thin wrapper over the system allocator that counts every
//! allocation (and reallocation) and the bytes asked for.
//!
//! Two sets of counts: process-wide atomics (what `/metrics` shows, divided per request by the
//! harness), and per-thread cells, so code that runs without an `.await` in between can count
//! exactly what *it* allocated while other requests allocate on other threads
//! ([`probe::allocations`](super::probe) uses that; the test checks it to the allocation).
//!
//! Cost: four plain loads and stores on the thread's own cache line per allocation (see
//! [`OWNED`] for why not a shared atomic). The binary installs
//! it (`#[global_allocator]` in `main.rs`); a library user that does not sees zeros.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

pub struct CountingAllocator;

/// The process-wide counts, one cache-line-sized slot per thread, summed by a reader.
///
/// Why not one shared pair of atomics: a CPU profile of the lock-contention lab found 6 % of
/// the service's CPU in their `fetch_add`s, the cache line bouncing between the two cores on
/// every allocation. With a slot per thread it fell to 3.6 %, still in the locked adds; a slot
/// that only its owner writes needs no locked instruction at all (a plain load and store of an
/// atomic, which readers on other threads may read at any time). Threads past [`SLOTS`] share
/// one overflow slot with `fetch_add`: slower, never wrong.
const SLOTS: usize = 128;

#[repr(align(128))]
struct Slot {
    allocations: AtomicU64,
    bytes: AtomicU64,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            allocations: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }
}

static OWNED: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];
static OVERFLOW: Slot = Slot::new();
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

/// `MY_SLOT` before the thread's first allocation.
const UNASSIGNED: usize = usize::MAX;

thread_local! {
    // `const` and `Cell` (no destructor): reading them never allocates, so they are safe to
    // touch from inside the allocator.
    static MY_SLOT: Cell<usize> = const { Cell::new(UNASSIGNED) };
    static THREAD_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static THREAD_BYTES: Cell<u64> = const { Cell::new(0) };
}

/// This thread's own slot, or `None` (overflow, or thread-locals already torn down).
#[inline]
fn my_slot() -> Option<&'static Slot> {
    let index = MY_SLOT
        .try_with(|s| {
            if s.get() == UNASSIGNED {
                s.set(NEXT_SLOT.fetch_add(1, Relaxed));
            }
            s.get()
        })
        .ok()?;
    OWNED.get(index)
}

#[inline]
fn count(bytes: usize) {
    match my_slot() {
        // Only this thread writes its slot: load + store cannot lose an update.
        Some(slot) => {
            let a = slot.allocations.load(Relaxed);
            slot.allocations.store(a + 1, Relaxed);
            let b = slot.bytes.load(Relaxed);
            slot.bytes.store(b + bytes as u64, Relaxed);
        }
        None => {
            OVERFLOW.allocations.fetch_add(1, Relaxed);
            OVERFLOW.bytes.fetch_add(bytes as u64, Relaxed);
        }
    }
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
    OWNED
        .iter()
        .chain([&OVERFLOW])
        .fold(Counts::default(), |sum, s| Counts {
            allocations: sum.allocations + s.allocations.load(Relaxed),
            bytes: sum.bytes + s.bytes.load(Relaxed),
        })
}

/// This thread's totals: subtract two readings taken without an `.await` between them.
pub fn this_thread() -> Counts {
    Counts {
        allocations: THREAD_ALLOCATIONS.with(Cell::get),
        bytes: THREAD_BYTES.with(Cell::get),
    }
}
