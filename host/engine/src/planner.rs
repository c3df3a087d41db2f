//! Calls each step's `plan` in order and assembles the workflow's plan. The
//! app-spec a step returns is what the next step receives.
//!
//! A step only proposes: before its actions enter the plan, the host admits
//! them (`crate::policy`). Every operation, and every undo's, must be
//! in the step's operation grant; a custom step may not make the host run a
//! shell command; no step may write a setuid or world-writable file; ids are
//! unique across the plan; and each action's risk is raised to the host's
//! floor for its operations. All of this happens before the plan is hashed,
//! so the hash a reviewer approves covers the effective risk.

use crate::policy::{Admission, Refusal, StepRights};
use ferry_model::{Plan, PlanRequest, StepError, StepSection};
use ferry_runtime::{HostContext, Runtime, RuntimeError};

use crate::{ResolvedStep, StepOrigin};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The step trapped, timed out, hit a cap or could not be called.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The step itself refused, with a typed reason.
    #[error("step `{step}` failed: {error}")]
    Step { step: String, error: StepError },
    /// The step proposed something the host does not let it propose.
    #[error("refusing the plan: {0}")]
    Refused(#[from] Refusal),
}

/// Plans `phase` with `steps`, in order.
pub fn plan(runtime: &Runtime, host: &HostContext, steps: &[ResolvedStep], phase: &str, run_id: &str) -> Result<Plan, PlanError> {
    let mut plan = Plan::new(phase);
    let mut admission = Admission::new();
    for step in steps {
        let request = PlanRequest { run_id: run_id.to_string(), phase: phase.to_string(), app: plan.app.clone(), params: step.spec.params.clone() };
        let started = std::time::Instant::now();
        let mut answer = runtime.plan(&step.loaded, host, &request)?.map_err(|error| PlanError::Step { step: step.spec.name.clone(), error })?;
        tracing::debug!(step = %step.spec.name, us = started.elapsed().as_micros() as u64, "planned");
        let rights = StepRights { step: &step.spec.name, builtin: step.origin == StepOrigin::Builtin, grant: &step.actions };
        let declared: Vec<_> = answer.actions.iter().map(|a| a.risk).collect();
        admission.admit(rights, &mut answer.actions)?;
        for (action, declared) in answer.actions.iter().zip(declared).filter(|(a, d)| a.risk != *d) {
            tracing::debug!(step = %step.spec.name, action = %action.id, "risk raised from {} to {} (the host's floor)", declared.as_str(), action.risk.as_str());
        }
        if let Some(app) = answer.app {
            plan.app = Some(app);
        }
        plan.steps.push(StepSection { step: step.spec.name.clone(), version: step.info.version.clone(), actions: answer.actions, findings: answer.findings });
    }
    Ok(plan)
}
