//! The optional `lessons` export (`plugins/wit/experiment.wit`): a lab's explanation for the
//! outcome a run actually had. Looked up by name, since components built before it existed do
//! not export it and must load exactly as before.

use wasmtime::component::{ComponentType, Lift, Lower};

use crate::{Plugin, PluginError, WIT_PACKAGE, WIT_VERSION, wit};

/// `lessons.outcome`.
#[derive(ComponentType, Lift, Lower, Clone, Copy, Debug, PartialEq, Eq)]
#[component(enum)]
#[repr(u8)]
pub enum Outcome {
    #[component(name = "faster")]
    Faster,
    #[component(name = "slower")]
    Slower,
    #[component(name = "equivalent")]
    Equivalent,
    #[component(name = "inconclusive")]
    Inconclusive,
}

/// One question for the lab: what does this outcome of this metric mean?
#[derive(Debug, Clone)]
pub struct Question {
    pub candidate: String,
    pub baseline: String,
    pub metric: wit::Metric,
    pub outcome: Outcome,
}

impl Plugin {
    /// The lab's answer to each question, in order; all `None` when the lab does not export
    /// `lessons`.
    pub fn lessons(&self, questions: &[Question]) -> Result<Vec<Option<String>>, PluginError> {
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
        let name = format!("{WIT_PACKAGE}/lessons@{WIT_VERSION}");
        let Some(iface) = instance.get_export_index(&mut store, None, &name) else {
            return Ok(vec![None; questions.len()]);
        };
        let Some(func) = instance.get_export_index(&mut store, Some(&iface), "explain") else {
            return Ok(vec![None; questions.len()]);
        };
        let explain = instance
            .get_typed_func::<(&str, &str, wit::Metric, Outcome), (Option<String>,)>(
                &mut store, func,
            )
            .map_err(|e| fail(e, "lessons.explain (its signature)"))?;
        questions
            .iter()
            .map(|q| {
                self.set_deadline(&mut store, deadline);
                let (answer,) = explain
                    .call(
                        &mut store,
                        (
                            q.candidate.as_str(),
                            q.baseline.as_str(),
                            q.metric,
                            q.outcome,
                        ),
                    )
                    .map_err(|e| fail(e, "lessons.explain"))?;
                Ok(answer)
            })
            .collect()
    }
}
