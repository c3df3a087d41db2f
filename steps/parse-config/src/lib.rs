//! `parse-config`: reads the app's config from the checkout (fly.toml,
//! fly.json or fly.yaml, its Dockerfile, or a Heroku Procfile and app.json)
//! and returns its app-spec, the inventory every later step plans from.
//! When Fly API access is configured it adds the live state: regions,
//! images, volumes and secret names. It proposes no actions.

use ferry_inventory::{Files, Live, add_live};
use ferry_step_sdk::host::fly::{self, QueryError};
use ferry_step_sdk::step::{ParamInfo, PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::types::{Finding, LiveVolume, Platform, Severity, StepError};
use ferry_step_sdk::{Step, debug, export_step, files, info};

struct ParseConfig;

/// The checkout, through the host's `checkout` import.
struct Checkout;

impl Files for Checkout {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        files::read_text(path)
    }

    fn read_bytes(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        match ferry_step_sdk::host::checkout::read_file(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(ferry_step_sdk::host::checkout::ReadError::NotFound(_)) => Ok(None),
            Err(e) => Err(files::describe(path, &e)),
        }
    }
}

impl Step for ParseConfig {
    fn describe() -> StepInfo {
        let param = |name: &str, description: &str, default: Option<&str>| ParamInfo {
            name: name.into(),
            description: description.into(),
            required: false,
            default: default.map(str::to_string),
        };
        StepInfo {
            name: "parse-config".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Reads fly.toml (or fly.json/fly.yaml), the Dockerfile, or a Heroku Procfile and app.json, into the app's inventory.".into(),
            params: vec![
                param("config", "The Fly config file, relative to the checkout.", Some("fly.toml, fly.json, fly.yaml")),
                param("live", "Ask the Fly API for regions, volumes and secret names (true/false).", Some("true")),
                param("app", "The Fly app, instead of the config's `app` (flyctl's `-a`): the inventory and its live state are of this app.", None),
            ],
        }
    }

    fn plan(request: PlanRequest) -> Result<StepPlan, StepError> {
        let mut app = ferry_inventory::inventory(&Checkout, param(&request, "config"))?;
        info!("read {}", app.sources.join(", "));
        if let Some(name) = param(&request, "app") {
            app.app = Some(name.to_string());
        }
        let wants_live = param(&request, "live") != Some("false");
        if let (true, Platform::Fly, Some(name)) = (wants_live, app.platform, app.app.clone()) {
            match live(&name) {
                Ok(state) => add_live(&mut app, state),
                Err(QueryError::Unavailable(why)) => debug!("no live state: {why}"),
                Err(e) => app.warnings.push(Finding {
                    code: "fly-api".into(),
                    severity: Severity::Warning,
                    message: format!("could not read the live state of `{name}` from Fly: {}", describe(&e)),
                    location: None,
                }),
            }
        }
        Ok(StepPlan { app: Some(app), actions: Vec::new(), findings: Vec::new() })
    }
}

fn live(app: &str) -> Result<Live, QueryError> {
    let machines = fly::list_machines(app)?;
    let volumes = fly::list_volumes(app)?;
    Ok(Live {
        machines: machines.into_iter().map(|m| (m.region, m.image)).collect(),
        volumes: volumes
            .into_iter()
            .map(|v| LiveVolume { name: v.name, region: v.region, size_gb: v.size_gb, attached: v.attached_machine.is_some() })
            .collect(),
        secret_names: fly::list_secret_names(app)?,
    })
}

fn describe(e: &QueryError) -> String {
    match e {
        QueryError::Unavailable(m) | QueryError::NotFound(m) | QueryError::Denied(m) | QueryError::Failed(m) => m.clone(),
    }
}

fn param<'r>(request: &'r PlanRequest, name: &str) -> Option<&'r str> {
    request.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

export_step!(ParseConfig);
