//! `adopt`: brings Machines made with `fly machine run` under `fly deploy`
//! (and ferry's deploy step) by marking them `fly_platform_version=v2` —
//! only when they share one image and config, since the next deploy gives
//! them all the same — and shows the fly.toml `fly config save` would write
//! from them. Plans in the `adopt` phase; reads the app's machines through
//! the `fly` import.

use ferry_migrate::{adopt, config_save};
use ferry_step_sdk::host::fly;
use ferry_step_sdk::params::{Params, Spec, finding, invalid};
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::types::{Action, CheckoutOp, FileWrite, Operation, Problem, Risk, Severity, StepError, Undo};
use ferry_step_sdk::{Step, export_step};

/// The phase adopt plans in.
const PHASE: &str = "adopt";

const PARAMS: &[Spec] = &[
    ("app", "The Fly app whose machines are adopted; default: fly.toml's app.", None),
    ("machines", "Comma-separated machine ids to adopt (default: every machine outside Apps V2, if they share one config).", None),
    (
        "save-config",
        "Also write the fly.toml derived from the machines' config to this file of the checkout, as `fly config save` does (e.g. `fly.toml`); abort puts the file back.",
        None,
    ),
];

struct Adopt;

impl Step for Adopt {
    fn describe() -> StepInfo {
        StepInfo {
            name: "adopt".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Plans adopting non-platform Machines into Apps V2 (metadata only, undone by abort), refusing machines that differ, with the fly.toml their config gives.".into(),
            params: ferry_step_sdk::params::param_infos(PARAMS, &[]),
        }
    }

    fn plan(request: PlanRequest) -> Result<StepPlan, StepError> {
        let p = Params(&request.params);
        p.only("adopt", PARAMS)?;
        if request.phase != PHASE {
            let note = finding("other-phase", Severity::Info, format!("adopt plans in the `{PHASE}` phase; nothing to do in `{}`", request.phase));
            return Ok(StepPlan { app: request.app, actions: Vec::new(), findings: vec![note] });
        }
        let app = p
            .get("app")
            .map(str::to_string)
            .or_else(|| request.app.as_ref().and_then(|a| a.app.clone()))
            .ok_or_else(|| invalid("adopt needs an app: set `app` or fly.toml's app"))?;
        let machines = fly::list_machines(&app)
            .map_err(|e| StepError::PreconditionFailed(Problem { message: format!("listing the machines of {app}: {e:?}"), location: None }))?;
        let selected = p.list("machines");
        let mut planned = adopt::plan(&app, &machines, selected.as_deref())?;
        if let Some(model) = planned.model.as_ref().and_then(|id| machines.iter().find(|m| &m.id == id)) {
            let toml = config_save::fly_toml(&app, &model.id, &model.region, &model.config).map_err(invalid)?;
            planned.findings.push(finding(
                "fly-toml",
                Severity::Info,
                format!("fly.toml from machine {}'s config, as `fly config save` writes it (keep it in the repository before the next deploy):\n\n```toml\n{toml}```", model.id),
            ));
            if let Some(file) = p.get("save-config") {
                planned.actions.push(save_config(file, &model.id, toml));
            }
        }
        Ok(StepPlan { app: request.app, actions: planned.actions, findings: planned.findings })
    }
}

/// Writes the derived fly.toml into the checkout.
fn save_config(file: &str, machine: &str, toml: String) -> Action {
    Action {
        id: format!("write-file:{file}"),
        summary: format!("write {file} from machine {machine}'s config (as `fly config save`)"),
        risk: Risk::Safe,
        operation: Operation::Checkout(CheckoutOp::WriteFile(FileWrite { file: file.into(), contents: toml })),
        undo: Undo::RestorePrevious,
        detail: None,
    }
}

export_step!(Adopt);
