//! `deploy`: plans a release of the app onto Fly Machines the way
//! `fly deploy` carries it out — release command first, then per process
//! group creates, updates and destroys in the strategy's order — as
//! reviewable actions, each with its undo. It reads the app's machines,
//! volumes and addresses through the read-only `fly` import; the host
//! alone changes them.

use ferry_fly_deploy::options::PARAMS;
use ferry_fly_deploy::{Machine, Observed, Options};
use ferry_step_sdk::host::checkout;
use ferry_step_sdk::host::fly::{self, QueryError};
use ferry_step_sdk::params::precondition;
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::types::{Platform, Problem, StepError};
use ferry_step_sdk::{Step, export_step, info};

struct Deploy;

impl Step for Deploy {
    fn describe() -> StepInfo {
        StepInfo {
            name: "deploy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Plans a release onto Fly Machines: release command, then machines created, updated and destroyed per process group with the rolling, immediate, canary or bluegreen strategy.".into(),
            params: ferry_step_sdk::params::param_infos(PARAMS, &[]),
        }
    }

    fn plan(request: PlanRequest) -> Result<StepPlan, StepError> {
        let app = request.app.ok_or_else(|| precondition("deploy needs the app-spec: run parse-config before it in the workflow"))?;
        if app.platform != Platform::Fly {
            return Err(StepError::Unsupported(Problem {
                message: format!("{} describes a Heroku app: deploy it to Fly after `ferry migrate` writes its fly.toml", app.source),
                location: None,
            }));
        }
        let mut options = Options::from_params(&app, &request.params)?;
        // `--file-local` files, read from the checkout (confined to it).
        ferry_fly_deploy::flag_files::read_local(&mut options.files, |path| checkout::read_file(path).map_err(|e| ferry_step_sdk::files::describe(path, &e)))?;
        // fly.toml as this deploy sees it (`--env`, `--primary-region`), so
        // the plan's app-spec says what the machines get.
        let mut app = ferry_fly_deploy::overrides::app_for_deploy(&app, &options);
        if let Some(name) = &options.app {
            app.app = Some(name.clone());
        }
        let name = app.app.clone().unwrap_or_default();
        let observed = observe(&name)?;
        info!("{} has {} machine(s), {} managed", name, observed.machines.len(), observed.managed().len());
        let planned = ferry_fly_deploy::plan(&app, &observed, &options)?;
        info!("release {} v{}: {} action(s)", planned.release.id, planned.release.version, planned.actions.len());
        Ok(StepPlan { app: Some(app), actions: planned.actions, findings: planned.findings })
    }
}

fn observe(app: &str) -> Result<Observed, StepError> {
    let wrap = |e: QueryError| match e {
        QueryError::Unavailable(m) => precondition(format!("deploy needs the Fly API: {m}")),
        QueryError::NotFound(_) => precondition(format!("app `{app}` does not exist on Fly: create it with `fly apps create {app}`")),
        QueryError::Denied(m) => precondition(format!("the Fly token may not read app `{app}` ({m}); a deploy token is scoped to one app")),
        QueryError::Failed(m) => StepError::Transient(Problem { message: format!("reading app `{app}` from Fly: {m}"), location: None }),
    };
    Ok(Observed {
        machines: fly::list_machines(app).map_err(wrap)?.into_iter().map(Machine::from_info).collect(),
        volumes: fly::list_volumes(app).map_err(wrap)?,
        ips: fly::list_ips(app).map_err(wrap)?,
    })
}

export_step!(Deploy);
