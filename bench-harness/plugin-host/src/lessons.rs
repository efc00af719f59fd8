//! The optional `lessons` export (`plugins/wit/experiment.wit`): a lab's explanation for the
//! outcome a run actually had. Looked up by name, since components built before it existed do
//! not export it and must load exactly as before.

use wasmtime::component::{ComponentType, Lift, Lower};

use crate::optional::OptionalFunc;
use crate::{Plugin, PluginError, wit};

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
        let Some(OptionalFunc {
            mut store,
            instance,
            func,
        }) = self.optional_export("lessons", "explain")?
        else {
            return Ok(vec![None; questions.len()]);
        };
        let explain = instance
            .get_typed_func::<(&str, &str, wit::Metric, Outcome), (Option<String>,)>(
                &mut store, func,
            )
            .map_err(|e| self.optional_call_error(e, "lessons.explain (its signature)"))?;
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
                    .map_err(|e| self.optional_call_error(e, "lessons.explain"))?;
                Ok(answer)
            })
            .collect()
    }
}
