//! A small custom step, the kind a team writes for its own rules: it requires
//! a primary region and proposes setting it in fly.toml when missing.
use ferry_step_sdk::step::{ParamInfo, PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::types::{Action, CheckoutOp, ConfigEdit, Finding, Operation, Problem, Risk, Severity, StepError, Undo};
use ferry_step_sdk::{Step, export_step, info};

struct RequireRegion;

impl Step for RequireRegion {
    fn describe() -> StepInfo {
        StepInfo {
            name: "require-region".into(),
            version: "1.2.0".into(),
            summary: "Requires fly.toml to set primary_region; proposes one if missing.".into(),
            params: vec![ParamInfo { name: "region".into(), description: "The region to propose.".into(), required: true, default: None }],
        }
    }

    fn plan(request: PlanRequest) -> Result<StepPlan, StepError> {
        let app = request.app.ok_or_else(|| StepError::PreconditionFailed(problem("run parse-config first")))?;
        if let Some(region) = &app.primary_region {
            info!("primary_region is {region}");
            return Ok(StepPlan { app: None, actions: vec![], findings: vec![] });
        }
        let region = request
            .params
            .iter()
            .find(|(k, _)| k == "region")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| StepError::InvalidInput(problem("parameter `region` is required")))?;
        let action = Action {
            id: format!("edit-config:{}:primary_region", app.source),
            summary: format!("set primary_region = \"{region}\" in {}", app.source),
            risk: Risk::Safe,
            operation: Operation::Checkout(CheckoutOp::EditConfig(ConfigEdit {
                file: app.source.clone(),
                key: "primary_region".into(),
                value: Some(format!("\"{region}\"")),
            })),
            undo: Undo::RestorePrevious,
            detail: Some("Machines and volumes are placed in the primary region.".into()),
        };
        let finding = Finding {
            code: "no-primary-region".into(),
            severity: Severity::Warning,
            message: format!("{} sets no primary_region", app.source),
            location: None,
        };
        Ok(StepPlan { app: None, actions: vec![action], findings: vec![finding] })
    }
}

fn problem(message: &str) -> Problem {
    Problem { message: message.into(), location: None }
}

export_step!(RequireRegion);
