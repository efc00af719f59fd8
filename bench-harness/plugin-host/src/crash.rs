//! The optional `crash-check` export (`plugins/wit/experiment.wit`): a lab asks the harness to
//! kill the service (or its database) mid-write and count the acknowledged writes that
//! survived. Looked up by name like `lessons`; components built without it load as before.

use wasmtime::component::{ComponentType, Lift, Lower};

use crate::optional::OptionalFunc;
use crate::{Plugin, PluginError, wit};

/// `crash-check.failure`.
#[derive(ComponentType, Lift, Lower, Clone, Copy, Debug, PartialEq, Eq)]
#[component(enum)]
#[repr(u8)]
pub enum Failure {
    #[component(name = "service-killed")]
    ServiceKilled,
    #[component(name = "database-killed")]
    DatabaseKilled,
}

/// `crash-check.crash-plan`, checked by [`Plugin::crash_plan`].
#[derive(ComponentType, Lift, Lower, Clone, Debug, PartialEq)]
#[component(record)]
pub struct CrashPlan {
    #[component(name = "write-path")]
    pub write_path: String,
    #[component(name = "audit-path")]
    pub audit_path: String,
    pub failures: Vec<Failure>,
    pub writers: u32,
    #[component(name = "write-ms")]
    pub write_ms: u64,
}

/// Bounds on a plan: a crash check is a short demonstration, not a second load test.
pub const WRITERS: std::ops::RangeInclusive<u32> = 1..=64;
pub const WRITE_MS: std::ops::RangeInclusive<u64> = 100..=10_000;

impl Plugin {
    /// The lab's crash plan for these parameters; `None` when it does not export
    /// `crash-check` or asks for none. A plan outside the bounds is the plugin's error.
    pub fn crash_plan(&self, params: &[wit::ParamValue]) -> Result<Option<CrashPlan>, PluginError> {
        let Some(OptionalFunc {
            mut store,
            instance,
            func,
        }) = self.optional_export("crash-check", "plan")?
        else {
            return Ok(None);
        };
        let plan = instance
            .get_typed_func::<(&[wit::ParamValue],), (Option<CrashPlan>,)>(&mut store, func)
            .map_err(|e| self.optional_call_error(e, "crash-check.plan (its signature)"))?;
        self.set_deadline(&mut store, self.limits().setup_deadline);
        let (plan,) = plan
            .call(&mut store, (params,))
            .map_err(|e| self.optional_call_error(e, "crash-check.plan"))?;
        let Some(mut plan) = plan else {
            return Ok(None);
        };
        // Each failure once: every entry is a kill and a restart per variant.
        let mut seen = Vec::new();
        plan.failures.retain(|f| {
            let new = !seen.contains(f);
            seen.push(*f);
            new
        });
        let path_ok = |p: &str| {
            p.starts_with('/') && p.len() <= 256 && p.bytes().all(|b| b.is_ascii_graphic())
        };
        let problem = if !path_ok(&plan.write_path) || !path_ok(&plan.audit_path) {
            Some(
                "write-path and audit-path must start with '/' and be at most 256 visible ASCII \
                 characters"
                    .to_string(),
            )
        } else if plan.failures.is_empty() {
            Some("failures is empty: name service-killed, database-killed or both".into())
        } else if !WRITERS.contains(&plan.writers) {
            Some(format!("writers is {}; allowed {WRITERS:?}", plan.writers))
        } else if !WRITE_MS.contains(&plan.write_ms) {
            Some(format!(
                "write-ms is {}; allowed {WRITE_MS:?}",
                plan.write_ms
            ))
        } else {
            None
        };
        match problem {
            Some(message) => Err(PluginError::Call {
                plugin: self.name.clone(),
                call: "crash-check.plan".into(),
                message: format!("the plan it returned is unusable: {message}"),
                guest_output: self.log.tail(12),
            }),
            None => Ok(Some(plan)),
        }
    }
}
