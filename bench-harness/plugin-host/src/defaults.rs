//! The optional `defaults` export (`plugins/wit/experiment.wit`): what a lab turns on unless
//! the command line says otherwise. Looked up by name, like `lessons`: components built
//! without it load exactly as before.

use crate::optional::OptionalFunc;
use crate::{Plugin, PluginError};

impl Plugin {
    /// The stack-sampling frequency (Hz) at which the lab profiles the reference service by
    /// default; `None` when it does not export `defaults`, or leaves profiling off.
    pub fn profile_by_default(&self) -> Result<Option<u32>, PluginError> {
        let Some(OptionalFunc {
            mut store,
            instance,
            func,
        }) = self.optional_export("defaults", "profile-hz")?
        else {
            return Ok(None);
        };
        let profile_hz = instance
            .get_typed_func::<(), (Option<u32>,)>(&mut store, func)
            .map_err(|e| self.optional_call_error(e, "defaults.profile-hz (its signature)"))?;
        self.set_deadline(&mut store, self.limits().setup_deadline);
        let (hz,) = profile_hz
            .call(&mut store, ())
            .map_err(|e| self.optional_call_error(e, "defaults.profile-hz"))?;
        Ok(hz)
    }
}
