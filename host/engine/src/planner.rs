//! Calls each step's `plan` in order and assembles the workflow's plan. The
//! app-spec a step returns is what the next step receives.

use ferry_model::{Plan, PlanRequest, StepError, StepSection};
use ferry_runtime::{HostContext, Runtime, RuntimeError};

use crate::ResolvedStep;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The step trapped, timed out, hit a cap or could not be called.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The step itself refused, with a typed reason.
    #[error("step `{step}` failed: {error}")]
    Step { step: String, error: StepError },
}

/// Plans `phase` with `steps`, in order.
pub fn plan(
    runtime: &Runtime,
    host: &HostContext,
    steps: &[ResolvedStep],
    phase: &str,
    run_id: &str,
) -> Result<Plan, PlanError> {
    let mut plan = Plan::new(phase);
    for step in steps {
        let request = PlanRequest {
            run_id: run_id.to_string(),
            phase: phase.to_string(),
            app: plan.app.clone(),
            params: step.spec.params.clone(),
        };
        let started = std::time::Instant::now();
        let answer = runtime
            .plan(&step.loaded, host, &request)?
            .map_err(|error| PlanError::Step { step: step.spec.name.clone(), error })?;
        tracing::debug!(step = %step.spec.name, us = started.elapsed().as_micros() as u64, "planned");
        if let Some(app) = answer.app {
            plan.app = Some(app);
        }
        plan.steps.push(StepSection {
            step: step.spec.name.clone(),
            version: step.info.version.clone(),
            actions: answer.actions,
            findings: answer.findings,
        });
    }
    Ok(plan)
}
