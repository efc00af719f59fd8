//! The engine, the linker, and loading a component file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::perflab::experiment::{host, types};
use crate::bindings::{Experiment, ExperimentPre};
use crate::output::{GuestOutput, PluginLog};
use crate::{PluginError, WIT_PACKAGE, WIT_VERSION, cache};

/// How often the epoch ticks: the resolution of every call deadline.
const EPOCH_TICK: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Copy)]
pub struct PluginLimits {
    /// Deadline for `describe` and instantiation.
    pub setup_deadline: Duration,
    /// Deadline for each `next-request` / `check-response` call.
    pub call_deadline: Duration,
    /// Linear memory cap per instance.
    pub memory_bytes: usize,
    /// Traps tolerated (each one re-instantiates) before the run stops.
    pub max_traps: u32,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits {
            setup_deadline: Duration::from_secs(10),
            call_deadline: Duration::from_millis(250),
            memory_bytes: 256 << 20,
            max_traps: 3,
        }
    }
}

/// Per-store state: a deny-all WASI context, resource table, memory limits, the log.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    log: PluginLog,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl crate::stdio::HasTable for HostState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

/// The shared `types` interface has no functions; the linker still wants it implemented.
impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: host::Level, message: String) {
        let level = match level {
            host::Level::Debug => "debug",
            host::Level::Info => "info",
            host::Level::Warn => "warn",
            host::Level::Error => "error",
        };
        self.log.push(format!("[{level}] {message}"));
    }
}

pub struct PluginHost {
    engine: Engine,
    linker: Linker<HostState>,
    stop_ticker: Arc<AtomicBool>,
    pub limits: PluginLimits,
}

impl Drop for PluginHost {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// The engine configuration every plugin runs under (also used by the `call_shapes` bench, so
/// it measures calls as perflab makes them).
pub fn engine_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // Sync component calls are several times slower with concurrency support on.
    config.concurrency_support(false);
    config.epoch_interruption(true);
    config
}

impl PluginHost {
    pub fn new(limits: PluginLimits) -> Result<Arc<PluginHost>, PluginError> {
        let fail = |e: wasmtime::Error| PluginError::Load {
            path: "(engine)".into(),
            message: format!("{e:#}"),
        };
        let engine = Engine::new(&engine_config()).map_err(fail)?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(fail)?;
        // Guest stdio without tokio's block_on (see `stdio`).
        crate::stdio::add_to_linker(&mut linker).map_err(fail)?;
        Experiment::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(fail)?;

        let stop_ticker = Arc::new(AtomicBool::new(false));
        let (ticking, stop) = (engine.weak(), stop_ticker.clone());
        std::thread::Builder::new()
            .name("perflab-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match ticking.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => return,
                    }
                }
            })
            .map_err(|e| PluginError::Load {
                path: "(engine)".into(),
                message: e.to_string(),
            })?;
        Ok(Arc::new(PluginHost {
            engine,
            linker,
            stop_ticker,
            limits,
        }))
    }

    /// Loads a component file: checks it is a component of our WIT version, compiles it (or
    /// takes it from the cache) and links it once.
    pub fn load(self: &Arc<Self>, path: &Path) -> Result<Arc<Plugin>, PluginError> {
        let shown = path.display().to_string();
        let fail = |message: String| PluginError::Load {
            path: shown.clone(),
            message,
        };
        let wasm = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        if !wasm.starts_with(b"\0asm") {
            return Err(fail("not a WebAssembly file (no \\0asm header)".into()));
        }
        // Layer 1 is a component, layer 0 a core module (bytes 6..8 of the header).
        if wasm.get(6..8) != Some(&[0x01, 0x00]) {
            return Err(fail(
                "this is a core WebAssembly module, not a component: build with `cargo build --target wasm32-wasip2` (Rust) or componentize-py (Python)".into(),
            ));
        }
        let started = Instant::now();
        let (component, cached) = cache::load_or_compile(&self.engine, &wasm)
            .map_err(|e| fail(format!("cannot compile: {e:#}")))?;
        if let Some(found) = other_version(&self.engine, &component) {
            return Err(PluginError::WrongVersion {
                path: shown.clone(),
                found,
            });
        }
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| fail(format!("cannot link: {e:#}")))?;
        let pre = ExperimentPre::new(pre)
            .map_err(|e| fail(format!("does not export the lab interface: {e:#}")))?;
        tracing::info!(
            "loaded plugin {shown} in {:?} (cache {})",
            started.elapsed(),
            if cached { "hit" } else { "miss" }
        );
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| shown.clone());
        Ok(Arc::new(Plugin {
            name,
            path: path.to_path_buf(),
            pre,
            host: self.clone(),
            log: PluginLog::default(),
            wasm_bytes: wasm.len(),
        }))
    }
}

/// `None` if the component exports `perflab:experiment/lab@VERSION`; otherwise what it
/// exports instead, for the error message.
fn other_version(engine: &Engine, component: &wasmtime::component::Component) -> Option<String> {
    let ty = component.component_type();
    let ours = format!("{WIT_PACKAGE}/lab@{WIT_VERSION}");
    let mut found = Vec::new();
    for (name, _) in ty.exports(engine) {
        if name == ours {
            return None;
        }
        if name.starts_with(WIT_PACKAGE) {
            found.push(name.to_string());
        }
    }
    Some(if found.is_empty() {
        "a component that does not export perflab:experiment/lab at all".into()
    } else {
        found.join(", ")
    })
}

pub struct Plugin {
    pub name: String,
    pub path: PathBuf,
    pre: ExperimentPre<HostState>,
    host: Arc<PluginHost>,
    pub log: PluginLog,
    pub wasm_bytes: usize,
}

impl Plugin {
    pub fn limits(&self) -> PluginLimits {
        self.host.limits
    }

    pub(crate) fn set_deadline(&self, store: &mut Store<HostState>, d: Duration) {
        // u64 arithmetic: this runs on every call (`as_micros` is u128, and u128 division is a
        // library call).
        let ticks = d.as_nanos() as u64 / EPOCH_TICK.as_nanos() as u64;
        store.set_epoch_deadline(ticks.max(1));
    }

    /// A fresh sandboxed instance.
    pub(crate) fn instantiate(
        &self,
        seed: u64,
    ) -> wasmtime::Result<(Store<HostState>, Experiment)> {
        let mut store = self.new_store(seed);
        let bindings = self.pre.instantiate(&mut store)?;
        Ok((store, bindings))
    }

    /// A fresh instance as a plain component instance (for optional exports the world does not
    /// name, such as `lessons`).
    pub(crate) fn instantiate_raw(
        &self,
        seed: u64,
    ) -> wasmtime::Result<(Store<HostState>, wasmtime::component::Instance)> {
        let mut store = self.new_store(seed);
        let instance = self.pre.instance_pre().instantiate(&mut store)?;
        Ok((store, instance))
    }

    /// A sandboxed store: deny-all WASI, captured output, seeded randomness, memory cap and
    /// the set-up deadline.
    fn new_store(&self, seed: u64) -> Store<HostState> {
        let mut wasi = WasiCtx::builder();
        // Deny-all: no preopened directories, no environment, no arguments, no network.
        wasi.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        wasi.stdout(GuestOutput::new(self.log.clone(), "stdout"));
        wasi.stderr(GuestOutput::new(self.log.clone(), "stderr"));
        // Guest randomness derives from the run's seed, so runs are reproducible.
        wasi.insecure_random_seed(seed as u128);
        wasi.insecure_random(seeded(seed ^ 0x1));
        wasi.secure_random(seeded(seed ^ 0x2));
        let state = HostState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(self.host.limits.memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            log: self.log.clone(),
        };
        let mut store = Store::new(&self.host.engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        self.set_deadline(&mut store, self.host.limits.setup_deadline);
        store
    }

    /// Turns a wasmtime error into words a plugin author can act on.
    pub(crate) fn explain(&self, e: &wasmtime::Error, deadline: Duration) -> String {
        if let Some(trap) = e.downcast_ref::<wasmtime::Trap>()
            && *trap == wasmtime::Trap::Interrupt
        {
            return format!("did not return within its {deadline:?} deadline (interrupted)\n{e:?}");
        }
        let text = format!("{e:?}");
        if text.contains("forcing trap when growing memory") {
            return format!(
                "exceeded its memory cap of {} MiB\n{text}",
                self.host.limits.memory_bytes >> 20
            );
        }
        text
    }
}

fn seeded(seed: u64) -> rand_wasi::rngs::StdRng {
    use rand_wasi::SeedableRng;
    rand_wasi::rngs::StdRng::seed_from_u64(seed)
}
