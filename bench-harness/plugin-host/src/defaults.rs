//! The optional `defaults` export (`plugins/wit/experiment.wit`): what a lab turns on unless
//! the command line says otherwise. Looked up by name, like `lessons`: components built
//! without it load exactly as before.

use crate::{Plugin, PluginError, WIT_PACKAGE, WIT_VERSION};

impl Plugin {
    /// The stack-sampling frequency (Hz) at which the lab profiles the reference service by
    /// default; `None` when it does not export `defaults`, or leaves profiling off.
    pub fn profile_by_default(&self) -> Result<Option<u32>, PluginError> {
        let deadline = self.limits().setup_deadline;
        let fail = |e: wasmtime::Error, call: &str| PluginError::Call {
            plugin: self.name.clone(),
            call: call.into(),
            message: self.explain(&e, deadline),
            guest_output: self.log.tail(12),
        };
        let (mut store, instance) = self
            .instantiate_raw(0)
            .map_err(|e| fail(e, "instantiation"))?;
        let name = format!("{WIT_PACKAGE}/defaults@{WIT_VERSION}");
        let Some(iface) = instance.get_export_index(&mut store, None, &name) else {
            return Ok(None);
        };
        let Some(func) = instance.get_export_index(&mut store, Some(&iface), "profile-hz") else {
            return Ok(None);
        };
        let profile_hz = instance
            .get_typed_func::<(), (Option<u32>,)>(&mut store, func)
            .map_err(|e| fail(e, "defaults.profile-hz (its signature)"))?;
        self.set_deadline(&mut store, deadline);
        let (hz,) = profile_hz
            .call(&mut store, ())
            .map_err(|e| fail(e, "defaults.profile-hz"))?;
        Ok(hz)
    }
}
