//! Proposes one `edit-config` action per entry of the `edits` parameter
//! (`env.A="1";env.B="2"`), in order, and an approval gate before them when
//! `approval` is set: a multi-action plan for the apply, crash and abort tests.
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::types::{Action, CheckoutOp, ConfigEdit, ControlOp, Operation, Problem, Risk, StepError, Undo};
use ferry_step_sdk::{Step, export_step};

struct Edits;

impl Step for Edits {
    fn describe() -> StepInfo {
        ferry_step_sdk::step_info("edits", "0.1.0", "edits keys of fly.toml")
    }

    fn plan(request: PlanRequest) -> Result<StepPlan, StepError> {
        let param = |name: &str| request.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let edits = param("edits").ok_or_else(|| StepError::InvalidInput(Problem { message: "edits is required".into(), location: None }))?;
        let mut actions = Vec::new();
        if let Some(message) = param("approval") {
            actions.push(Action {
                id: "approve".into(),
                summary: format!("wait for approval: {message}"),
                risk: Risk::Safe,
                operation: Operation::Control(ControlOp::Approval(message)),
                undo: Undo::None("an approval changes nothing".into()),
                detail: None,
            });
        }
        for edit in edits.split(';').filter(|e| !e.is_empty()) {
            let (key, value) = edit.split_once('=').unwrap_or((edit, ""));
            actions.push(Action {
                id: format!("edit:{key}"),
                summary: format!("set {key} = {value} in fly.toml"),
                risk: Risk::Disruptive,
                operation: Operation::Checkout(CheckoutOp::EditConfig(ConfigEdit { file: "fly.toml".into(), key: key.into(), value: Some(value.into()) })),
                undo: Undo::RestorePrevious,
                detail: None,
            });
        }
        Ok(StepPlan { app: None, actions, findings: vec![] })
    }
}

export_step!(Edits);
