//! Optional exports (`lessons`, `defaults`, `crash-check`): interfaces added within 0.1.0, looked up by name
//! on a fresh instance, so a component built without them loads and runs exactly as before.

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, Instance};

use crate::host::HostState;
use crate::{Plugin, PluginError, WIT_PACKAGE, WIT_VERSION};

/// A fresh instance and the optional function found in it.
pub(crate) struct OptionalFunc {
    pub store: Store<HostState>,
    pub instance: Instance,
    pub func: ComponentExportIndex,
}

impl Plugin {
    /// The error for a failed call of an optional export, under the set-up deadline.
    pub(crate) fn optional_call_error(&self, e: wasmtime::Error, call: &str) -> PluginError {
        PluginError::Call {
            plugin: self.name.clone(),
            call: call.into(),
            message: self.explain(&e, self.limits().setup_deadline),
            guest_output: self.log.tail(12),
        }
    }

    /// `func` of the optional `interface` of this package, on a fresh instance; `None` when
    /// the component does not export it.
    pub(crate) fn optional_export(
        &self,
        interface: &str,
        func: &str,
    ) -> Result<Option<OptionalFunc>, PluginError> {
        let (mut store, instance) = self
            .instantiate_raw(0)
            .map_err(|e| self.optional_call_error(e, "instantiation"))?;
        let name = format!("{WIT_PACKAGE}/{interface}@{WIT_VERSION}");
        let Some(iface) = instance.get_export_index(&mut store, None, &name) else {
            return Ok(None);
        };
        let Some(func) = instance.get_export_index(&mut store, Some(&iface), func) else {
            return Ok(None);
        };
        Ok(Some(OptionalFunc {
            store,
            instance,
            func,
        }))
    }
}
