//! `parse-config`: reads the app's config from the checkout and returns its
//! app-spec, the inventory every later step plans from. It proposes no
//! actions: reading changes nothing.

mod fly_toml;
mod node;
mod read;

use ferry_step_sdk::step::{ParamInfo, PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::types::{Location, Problem, StepError};
use ferry_step_sdk::{Step, export_step, files, info};

/// The largest config file read (1 MiB); real fly.toml files are a few KiB.
const MAX_CONFIG_BYTES: usize = 1 << 20;

struct ParseConfig;

impl Step for ParseConfig {
    fn describe() -> StepInfo {
        StepInfo {
            name: "parse-config".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Reads fly.toml from the checkout and returns the app's inventory (app-spec).".into(),
            params: vec![ParamInfo {
                name: "config".into(),
                description: "Path of the Fly config file, relative to the checkout.".into(),
                required: false,
                default: Some("fly.toml".into()),
            }],
        }
    }

    fn plan(request: PlanRequest) -> Result<StepPlan, StepError> {
        let path = param(&request, "config").unwrap_or("fly.toml").to_string();
        let text = files::read_text(&path)
            .map_err(|message| invalid(message, &path, None))?
            .ok_or_else(|| invalid(format!("{path} not found in the checkout"), &path, None))?;
        if text.len() > MAX_CONFIG_BYTES {
            return Err(invalid(format!("{path} is over 1 MiB; refusing to parse it"), &path, None));
        }
        info!("read {path} ({} bytes)", text.len());
        let root = node::parse_toml(&text).map_err(|e| {
            let loc = location(&path, e.pos, None);
            StepError::InvalidInput(Problem { message: format!("{path} is not valid TOML: {}", e.message), location: Some(loc) })
        })?;
        let app = fly_toml::app_spec(&root, &path).map_err(|p| {
            let loc = location(&path, p.pos, Some(p.key));
            StepError::InvalidInput(Problem { message: p.message, location: Some(loc) })
        })?;
        Ok(StepPlan { app: Some(app), actions: Vec::new(), findings: Vec::new() })
    }
}

fn param<'r>(request: &'r PlanRequest, name: &str) -> Option<&'r str> {
    request.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn location(file: &str, pos: Option<node::Pos>, key: Option<String>) -> Location {
    Location {
        file: file.to_string(),
        line: pos.map(|p| p.line),
        column: pos.map(|p| p.column),
        key: key.filter(|k| !k.is_empty()),
    }
}

fn invalid(message: String, file: &str, key: Option<String>) -> StepError {
    StepError::InvalidInput(Problem { message, location: Some(location(file, None, key)) })
}

export_step!(ParseConfig);
