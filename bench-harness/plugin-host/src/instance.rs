//! Running a loaded plugin: `describe`, and the virtual users the engine drives.
//!
//! All VUs of a run share one instance (one `Store`) behind a mutex: a Rust guest's call takes
//! about a microsecond (`just bench-plugins`), so the lock is held briefly, and one instance
//! keeps memory small even for an 18 MB Python component. A trap
//! poisons the instance, so it is dropped and a fresh one built; each VU re-creates its
//! resource on its next call. After `max_traps` traps the run stops.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::Store;
use wasmtime::component::ResourceAny;

use perflab_load::workload::{
    BodyNeed, CheckResult, RequestSpec, ResponseView, VirtualUser, Workload, WorkloadError,
};

use crate::bindings::Experiment;
use crate::host::{HostState, Plugin};
use crate::{PluginError, convert, wit};

impl Plugin {
    /// Calls `describe` in a fresh instance.
    pub fn describe(&self, params: &[wit::ParamValue]) -> Result<wit::Description, PluginError> {
        let deadline = self.limits().setup_deadline;
        let call = |e: wasmtime::Error, call: &str| PluginError::Call {
            plugin: self.name.clone(),
            call: call.into(),
            message: self.explain(&e, deadline),
            guest_output: self.log.tail(12),
        };
        let (mut store, bindings) = self.instantiate(0).map_err(|e| call(e, "instantiation"))?;
        self.set_deadline(&mut store, deadline);
        let d = bindings
            .perflab_experiment_lab()
            .call_describe(&mut store, params)
            .map_err(|e| call(e, "describe"))?;
        if d.variants.is_empty() {
            return Err(PluginError::Invalid {
                plugin: self.name.clone(),
                message: "describe() returned no variants".into(),
            });
        }
        Ok(d)
    }
}

struct Live {
    store: Store<HostState>,
    bindings: Experiment,
}

struct Shard {
    live: Option<Live>,
    generation: u64,
    traps: u32,
}

pub struct PluginWorkload {
    plugin: Arc<Plugin>,
    params: Vec<wit::ParamValue>,
    body_need: BodyNeed,
    shard: Arc<Mutex<Shard>>,
    seed: u64,
}

impl PluginWorkload {
    pub fn new(
        plugin: Arc<Plugin>,
        params: Vec<wit::ParamValue>,
        body_need: BodyNeed,
        seed: u64,
    ) -> PluginWorkload {
        PluginWorkload {
            plugin,
            params,
            body_need,
            shard: Arc::new(Mutex::new(Shard {
                live: None,
                generation: 0,
                traps: 0,
            })),
            seed,
        }
    }
}

impl Workload for PluginWorkload {
    fn virtual_user(&self, vu: u32, seed: u64) -> Result<Box<dyn VirtualUser>, WorkloadError> {
        Ok(Box::new(PluginVu {
            plugin: self.plugin.clone(),
            shard: self.shard.clone(),
            config: wit::VuConfig {
                vu,
                seed,
                params: self.params.clone(),
            },
            handle: None,
            body_need: self.body_need,
            instance_seed: self.seed,
        }))
    }
}

struct PluginVu {
    plugin: Arc<Plugin>,
    shard: Arc<Mutex<Shard>>,
    config: wit::VuConfig,
    /// This VU's resource, and the instance generation it lives in.
    handle: Option<(ResourceAny, u64)>,
    body_need: BodyNeed,
    instance_seed: u64,
}

impl PluginVu {
    fn call<R>(
        &mut self,
        name: &str,
        f: impl Fn(&mut Store<HostState>, &Experiment, ResourceAny) -> wasmtime::Result<R>,
    ) -> Result<R, WorkloadError> {
        let mut shard = self.shard.lock().unwrap_or_else(|p| p.into_inner());
        let limits = self.plugin.limits();
        loop {
            let attempt: Result<R, (wasmtime::Error, &str, Duration)> = (|| {
                if shard.live.is_none() {
                    let (store, bindings) = self
                        .plugin
                        .instantiate(self.instance_seed)
                        .map_err(|e| (e, "instantiation", limits.setup_deadline))?;
                    shard.live = Some(Live { store, bindings });
                    shard.generation += 1;
                }
                let generation = shard.generation;
                let live = shard.live.as_mut().expect("just ensured");
                let handle = match self.handle {
                    Some((h, g)) if g == generation => h,
                    _ => {
                        self.plugin
                            .set_deadline(&mut live.store, limits.setup_deadline);
                        let h = live
                            .bindings
                            .perflab_experiment_lab()
                            .virtual_user()
                            .call_constructor(&mut live.store, &self.config)
                            .map_err(|e| (e, "virtual-user constructor", limits.setup_deadline))?;
                        self.handle = Some((h, generation));
                        h
                    }
                };
                self.plugin
                    .set_deadline(&mut live.store, limits.call_deadline);
                f(&mut live.store, &live.bindings, handle)
                    .map_err(|e| (e, name, limits.call_deadline))
            })();
            match attempt {
                Ok(r) => return Ok(r),
                Err((e, call, deadline)) => {
                    // The instance may be in any state after a trap: throw it away.
                    shard.live = None;
                    self.handle = None;
                    shard.traps += 1;
                    let message = self.plugin.explain(&e, deadline);
                    self.plugin.log.push(format!(
                        "[host] {call} trapped ({} of {} allowed): {message}",
                        shard.traps, limits.max_traps
                    ));
                    if shard.traps >= limits.max_traps {
                        let err = PluginError::TooManyTraps {
                            plugin: self.plugin.name.clone(),
                            call: call.to_string(),
                            traps: shard.traps,
                            message,
                            guest_output: self.plugin.log.tail(12),
                        };
                        return Err(err.into());
                    }
                }
            }
        }
    }
}

impl VirtualUser for PluginVu {
    fn next_request(&mut self, iteration: u64) -> Result<RequestSpec, WorkloadError> {
        let r = self.call("next-request", |store, b, h| {
            b.perflab_experiment_lab()
                .virtual_user()
                .call_next_request(store, h, iteration)
        })?;
        let r = r.map_err(|message| PluginError::Returned {
            plugin: self.plugin.name.clone(),
            call: "next-request",
            message,
        })?;
        convert::request(r).map_err(|e| {
            PluginError::Invalid {
                plugin: self.plugin.name.clone(),
                message: e.to_string(),
            }
            .into()
        })
    }

    fn body_need(&self) -> BodyNeed {
        self.body_need
    }

    fn reads_headers(&self) -> bool {
        true
    }

    fn check_response(
        &mut self,
        response: &ResponseView<'_>,
    ) -> Result<Vec<CheckResult>, WorkloadError> {
        let wire = wit::Response {
            request_name: response.request_name.to_string(),
            status: response.status,
            headers: response
                .headers
                .iter()
                .filter_map(|(k, v)| {
                    Some(wit::Header {
                        name: k.as_str().to_string(),
                        value: v.to_str().ok()?.to_string(),
                    })
                })
                .collect(),
            body: response.body.to_vec(),
        };
        let checks = self.call("check-response", |store, b, h| {
            b.perflab_experiment_lab()
                .virtual_user()
                .call_check_response(store, h, &wire)
        })?;
        Ok(checks
            .into_iter()
            .map(|c| CheckResult {
                name: c.name,
                passed: c.passed,
            })
            .collect())
    }
}

impl Drop for PluginVu {
    fn drop(&mut self) {
        if let Some((h, generation)) = self.handle.take() {
            let mut shard = self.shard.lock().unwrap_or_else(|p| p.into_inner());
            if shard.generation == generation
                && let Some(live) = shard.live.as_mut()
            {
                let _ = h.resource_drop(&mut live.store);
            }
        }
    }
}
