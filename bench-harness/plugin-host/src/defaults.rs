//! The optional `defaults` export (`plugins/wit/experiment.wit`): what a lab turns on unless
//! the command line says otherwise. Looked up by name, like `lessons`: components built
//! without it load exactly as before.

use crate::optional::OptionalFunc;
use crate::{Plugin, PluginError, wit};

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

    /// The request name the lab's verdict is about (`defaults.focus`); `None` when the
    /// component does not export it (built before it was added) or focuses on nothing. A name
    /// that cannot be a request name is the plugin's error.
    pub fn focus_by_default(
        &self,
        params: &[wit::ParamValue],
    ) -> Result<Option<String>, PluginError> {
        let name = self.text_of_params("focus", params)?;
        match name {
            Some(n) if n.is_empty() || n.len() > 64 || n.chars().any(char::is_control) => {
                Err(PluginError::Call {
                    plugin: self.name.clone(),
                    call: "defaults.focus".into(),
                    message: format!(
                        "focus {n:?} cannot be a request name: 1 to 64 characters, none of them \
                         control characters"
                    ),
                    guest_output: self.log.tail(12),
                })
            }
            name => Ok(name),
        }
    }

    /// The sweep the lab runs by default (`defaults.sweep`), as `--sweep` text; `None` when the
    /// component does not export it (built before it was added) or sweeps nothing. The text
    /// is parsed by the harness, which names the lab in its error.
    pub fn sweep_by_default(
        &self,
        params: &[wit::ParamValue],
    ) -> Result<Option<String>, PluginError> {
        let text = self.text_of_params("sweep", params)?;
        match text {
            Some(t) if t.len() > 4096 || t.chars().any(char::is_control) => {
                Err(PluginError::Call {
                    plugin: self.name.clone(),
                    call: "defaults.sweep".into(),
                    message: format!(
                        "a sweep of {} characters (or with control characters) is not one `--sweep` could take",
                        t.len()
                    ),
                    guest_output: self.log.tail(12),
                })
            }
            text => Ok(text),
        }
    }

    /// Calls `defaults.<func>(params) -> option<string>` (`focus`, `sweep`) on a fresh
    /// instance; `None` when the component does not export it.
    fn text_of_params(
        &self,
        func_name: &str,
        params: &[wit::ParamValue],
    ) -> Result<Option<String>, PluginError> {
        let call = format!("defaults.{func_name}");
        let Some(OptionalFunc {
            mut store,
            instance,
            func,
        }) = self.optional_export("defaults", func_name)?
        else {
            return Ok(None);
        };
        let typed = instance
            .get_typed_func::<(&[wit::ParamValue],), (Option<String>,)>(&mut store, func)
            .map_err(|e| self.optional_call_error(e, &format!("{call} (its signature)")))?;
        self.set_deadline(&mut store, self.limits().setup_deadline);
        let (text,) = typed
            .call(&mut store, (params,))
            .map_err(|e| self.optional_call_error(e, &call))?;
        Ok(text)
    }
}
