//! `copy-data`: plans the data phase of a migration — databases copied by
//! dump-restore or logical replication, volumes in two rsync passes, the
//! source frozen with an undo, every copy verified. It reads the databases
//! and volumes through the read-only `data` import (by name: connection
//! strings stay with the host) and the app's machines through `fly`.

use ferry_copy_data::options::PARAMS;
use ferry_copy_data::{Database, Observed, Options, Volume};
use ferry_step_sdk::host::data::{self, DataError, Side};
use ferry_step_sdk::host::fly;
use ferry_step_sdk::params::precondition;
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::types::{Problem, StepError};
use ferry_step_sdk::{Step, export_step, info};

struct CopyData;

impl Step for CopyData {
    fn describe() -> StepInfo {
        StepInfo {
            name: "copy-data".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Plans the data copy: Postgres by dump-restore or logical replication, volumes in two rsync passes, the source frozen with an undo, every copy verified.".into(),
            params: ferry_step_sdk::params::param_infos(PARAMS, &[]),
        }
    }

    fn plan(request: PlanRequest) -> Result<StepPlan, StepError> {
        let options = Options::from_params(&request.params)?;
        // Other phases observe nothing: the planner only says it has no work there.
        let observed = if request.phase == ferry_copy_data::DATA { observe(&options)? } else { Observed::default() };
        let planned = ferry_copy_data::plan(&request.phase, &options, &observed)?;
        Ok(StepPlan { app: request.app, actions: planned.actions, findings: planned.findings })
    }
}

fn observe(options: &Options) -> Result<Observed, StepError> {
    let databases: Vec<Database> = selected(data::list_databases(), options.databases.as_ref(), "database")?
        .into_iter()
        .map(|name| {
            let source = data::pg_inventory(&name, Side::Source).map_err(|e| data_error(&name, "source", e))?;
            let target = data::pg_inventory(&name, Side::Target).map_err(|e| data_error(&name, "target", e))?;
            Ok(Database { name, source, target })
        })
        .collect::<Result<_, StepError>>()?;
    let volumes: Vec<Volume> = selected(data::list_volumes(), options.volumes.as_ref(), "volume")?
        .into_iter()
        .map(|name| {
            let source = data::volume_facts(&name, Side::Source).map_err(|e| data_error(&name, "source", e))?;
            let target = data::volume_facts(&name, Side::Target).map_err(|e| data_error(&name, "target", e))?;
            Ok(Volume { name, source, target })
        })
        .collect::<Result<_, StepError>>()?;
    let freeze_machines = match &options.freeze_app {
        Some(app) => fly::list_machines(app)
            .map_err(|e| precondition(format!("freeze-app {app}: {e:?}")))?
            .into_iter()
            .filter(|m| m.state == "started")
            .map(|m| m.id)
            .collect(),
        None => Vec::new(),
    };
    info!("{} database(s), {} volume(s) to copy", databases.len(), volumes.len());
    Ok(Observed { databases, volumes, cores: data::host_cores(), freeze_machines })
}

/// The configured names, narrowed to those asked for; asking for one that
/// is not configured is an error, not a silent skip.
fn selected(configured: Vec<String>, wanted: Option<&Vec<String>>, what: &str) -> Result<Vec<String>, StepError> {
    let Some(wanted) = wanted else { return Ok(configured) };
    if let Some(missing) = wanted.iter().find(|w| !configured.contains(w)) {
        return Err(StepError::InvalidInput(Problem {
            message: format!("{what} `{missing}` is not configured in ferry.toml [data] (configured: {})", configured.join(", ")),
            location: None,
        }));
    }
    Ok(wanted.clone())
}

fn data_error(name: &str, side: &str, e: DataError) -> StepError {
    match e {
        DataError::Unavailable(m) => precondition(format!("{name} ({side}): {m}")),
        DataError::Failed(m) => StepError::Transient(Problem { message: format!("reading {name} ({side}): {m}"), location: None }),
    }
}

export_step!(CopyData);
