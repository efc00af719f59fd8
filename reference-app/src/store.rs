//! Dimension `store`: a key/value store behind four locking strategies.
//!
//! The lesson (seed guide: "lock sharding"): one global lock serialises every request; a
//! read/write lock lets readers share; a sharded map (`DashMap`) only collides on the same
//! shard. On 2 cores with a tiny critical section the difference drowns in noise (measured), so
//! the `store.work_us` knob puts honest CPU work *inside* the critical section, and
//! `mutex-across-io` shows the classic backend mistake: holding a lock while awaiting slow I/O.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::dimension;
use crate::settings::Knob;

dimension! {
    pub enum StoreKind as "store", default GlobalMutex, knobs [WORK_US, IO_US] {
        /// Naive.
        GlobalMutex = "one std Mutex<HashMap> for every key: all requests queue on one lock",
        RwLock = "one RwLock<HashMap>: readers share, a writer excludes everyone",
        /// Optimized.
        Sharded = "DashMap: the map is split into shards with a lock each; only same-shard keys collide",
        /// The classic mistake.
        MutexAcrossIo = "one async Mutex held while awaiting the simulated write-behind I/O (store.io_us)",
    }
}

pub const WORK_US: Knob = Knob {
    index: 0,
    name: "store.work_us",
    about: "µs of CPU work inside the store's critical section",
    default: 0,
    max: 100_000,
};
pub const IO_US: Knob = Knob {
    index: 1,
    name: "store.io_us",
    about: "µs of simulated write-behind I/O per store write",
    default: 0,
    max: 1_000_000,
};

/// Keys are short printable names; anything else is a client bug worth a 400.
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() || key.len() > 128 {
        return Err(KeyError::Length(key.len()));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Err(KeyError::Character(c));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyError {
    #[error("key must be 1..=128 bytes, got {0}")]
    Length(usize),
    #[error("key contains {0:?}: use letters, digits and - _ . : only")]
    Character(char),
}

/// All four maps live side by side so a switch needs no migration; each variant only ever
/// touches its own map (a fresh variant starts empty, like a cold cache).
#[derive(Default)]
pub struct Stores {
    global_mutex: Mutex<HashMap<String, String>>,
    rw_lock: RwLock<HashMap<String, String>>,
    sharded: DashMap<String, String>,
    across_io: tokio::sync::Mutex<HashMap<String, String>>,
    capacity: Capacity,
}

/// What each map may hold, so cheap unauthenticated PUTs cannot take the service's memory:
/// bytes of keys and values plus a per-entry overhead, counted per variant. Checked before the
/// lock (so it adds nothing to the critical section the lab measures), settled after it.
pub struct Capacity {
    pub max_bytes: usize,
    used: [AtomicUsize; 4],
}

impl Capacity {
    pub fn new(max_bytes: usize) -> Capacity {
        Capacity {
            max_bytes,
            used: Default::default(),
        }
    }

    /// Room for one more entry of `charge` bytes in `kind`'s map?
    fn admit(&self, kind: StoreKind, charge: usize) -> Result<(), StoreFull> {
        if self.used[kind as usize].load(Ordering::Relaxed) + charge > self.max_bytes {
            return Err(StoreFull {
                limit: self.max_bytes,
            });
        }
        Ok(())
    }

    /// After an insert: `charge` was added, `replaced` (the old entry's charge) removed.
    fn settle(&self, kind: StoreKind, charge: usize, replaced: Option<usize>) {
        let used = &self.used[kind as usize];
        used.fetch_add(charge, Ordering::Relaxed);
        if let Some(old) = replaced {
            used.fetch_sub(old, Ordering::Relaxed);
        }
    }
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity::new(64 << 20)
    }
}

/// A store whose map is full: the PUT is refused (507) and counted.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "the store holds its limit of {limit} bytes for this variant: start the service with a larger --store-max-bytes, or restart it"
)]
pub struct StoreFull {
    pub limit: usize,
}

/// A map entry's bookkeeping (hash table slot, two `String` headers) on top of its bytes.
const ENTRY_OVERHEAD: usize = 64;

fn charge(key: &str, value: usize) -> usize {
    key.len() + value + ENTRY_OVERHEAD
}

/// What one operation observed: used for the `store_lock_wait_*` counters.
pub struct LockTiming {
    pub wait: Duration,
}

/// Honest CPU work: hash the value repeatedly for `micros` µs. This is what a real critical
/// section does (validation, serialisation, bookkeeping), and what makes contention visible.
pub fn work_inside_critical_section(value: &str, micros: u64) -> u64 {
    if micros == 0 {
        return 0;
    }
    let deadline = Instant::now() + Duration::from_micros(micros);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut rounds = 0u64;
    while Instant::now() < deadline {
        for _ in 0..64 {
            value.hash(&mut h);
            rounds = rounds.wrapping_add(h.finish());
        }
    }
    rounds
}

/// Stand-in for write-behind I/O (audit log, replication, cache invalidation): a real await.
async fn slow_io(micros: u64) {
    if micros > 0 {
        tokio::time::sleep(Duration::from_micros(micros)).await;
    }
}

impl Stores {
    pub async fn get(
        &self,
        kind: StoreKind,
        key: &str,
        work_us: u64,
    ) -> (Option<String>, LockTiming) {
        let asked = Instant::now();
        match kind {
            StoreKind::GlobalMutex => {
                let map = self.global_mutex.lock().unwrap_or_else(|p| p.into_inner());
                let wait = asked.elapsed();
                let v = map.get(key).cloned();
                work_inside_critical_section(key, work_us);
                (v, LockTiming { wait })
            }
            StoreKind::RwLock => {
                let map = self.rw_lock.read().unwrap_or_else(|p| p.into_inner());
                let wait = asked.elapsed();
                let v = map.get(key).cloned();
                work_inside_critical_section(key, work_us);
                (v, LockTiming { wait })
            }
            StoreKind::Sharded => {
                let entry = self.sharded.get(key);
                let wait = asked.elapsed();
                let v = entry.map(|e| e.value().clone());
                work_inside_critical_section(key, work_us);
                (v, LockTiming { wait })
            }
            StoreKind::MutexAcrossIo => {
                let map = self.across_io.lock().await;
                let wait = asked.elapsed();
                let v = map.get(key).cloned();
                work_inside_critical_section(key, work_us);
                (v, LockTiming { wait })
            }
        }
    }

    pub fn with_capacity(capacity: Capacity) -> Stores {
        Stores {
            capacity,
            ..Stores::default()
        }
    }

    /// Writes also perform `io_us` of slow I/O. Every variant but `mutex-across-io` does it
    /// *after* releasing the lock; that one awaits it while holding the lock.
    pub async fn put(
        &self,
        kind: StoreKind,
        key: &str,
        value: String,
        work_us: u64,
        io_us: u64,
    ) -> Result<LockTiming, StoreFull> {
        let charged = charge(key, value.len());
        self.capacity.admit(kind, charged)?;
        let asked = Instant::now();
        let wait;
        let replaced;
        match kind {
            StoreKind::GlobalMutex => {
                let mut map = self.global_mutex.lock().unwrap_or_else(|p| p.into_inner());
                wait = asked.elapsed();
                work_inside_critical_section(&value, work_us);
                replaced = map.insert(key.to_string(), value).map(|old| old.len());
            }
            StoreKind::RwLock => {
                let mut map = self.rw_lock.write().unwrap_or_else(|p| p.into_inner());
                wait = asked.elapsed();
                work_inside_critical_section(&value, work_us);
                replaced = map.insert(key.to_string(), value).map(|old| old.len());
            }
            StoreKind::Sharded => {
                let mut entry = self.sharded.entry(key.to_string()).or_default();
                wait = asked.elapsed();
                work_inside_critical_section(&value, work_us);
                // An entry made just now by `or_default` is empty: nothing it replaces is charged.
                let old = std::mem::replace(&mut *entry, value);
                replaced = (!old.is_empty()).then_some(old.len());
            }
            StoreKind::MutexAcrossIo => {
                let mut map = self.across_io.lock().await;
                wait = asked.elapsed();
                work_inside_critical_section(&value, work_us);
                replaced = map.insert(key.to_string(), value).map(|old| old.len());
                // The mistake: every other request now waits for this I/O too.
                slow_io(io_us).await;
                drop(map);
                self.capacity
                    .settle(kind, charged, replaced.map(|v| charge(key, v)));
                return Ok(LockTiming { wait });
            }
        }
        self.capacity
            .settle(kind, charged, replaced.map(|v| charge(key, v)));
        slow_io(io_us).await;
        Ok(LockTiming { wait })
    }

    pub fn len(&self, kind: StoreKind) -> usize {
        match kind {
            StoreKind::GlobalMutex => self.global_mutex.lock().map(|m| m.len()).unwrap_or(0),
            StoreKind::RwLock => self.rw_lock.read().map(|m| m.len()).unwrap_or(0),
            StoreKind::Sharded => self.sharded.len(),
            StoreKind::MutexAcrossIo => self.across_io.try_lock().map(|m| m.len()).unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[tokio::test]
    async fn every_variant_stores_and_reads_back() {
        let stores = Stores::default();
        for kind in StoreKind::iter() {
            stores.put(kind, "k", "v".into(), 0, 0).await.unwrap();
            assert_eq!(stores.get(kind, "k", 0).await.0.as_deref(), Some("v"));
            assert_eq!(stores.get(kind, "missing", 0).await.0, None);
            assert_eq!(stores.len(kind), 1);
        }
    }

    #[tokio::test]
    async fn a_full_store_refuses_and_replacing_costs_nothing_more() {
        let stores = Stores::with_capacity(Capacity::new(3 * charge("k0", 100)));
        let value = || "x".repeat(100);
        for kind in StoreKind::iter() {
            stores.put(kind, "k0", value(), 0, 0).await.unwrap();
            stores.put(kind, "k1", value(), 0, 0).await.unwrap();
            // Replacing an entry over and over costs nothing more.
            for _ in 0..10 {
                stores.put(kind, "k0", value(), 0, 0).await.unwrap();
            }
            stores.put(kind, "k2", value(), 0, 0).await.unwrap();
            assert!(
                stores.put(kind, "k3", value(), 0, 0).await.is_err(),
                "{kind:?} took more than its limit"
            );
        }
    }

    #[test]
    fn keys_are_validated() {
        assert!(validate_key("user:42").is_ok());
        assert!(validate_key("").is_err());
        assert!(validate_key("a/b").is_err());
        assert!(validate_key(&"x".repeat(129)).is_err());
    }
}
