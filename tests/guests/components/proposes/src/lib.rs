//! A hostile custom step: proposes whatever operation its `op` parameter
//! names, labelled however its `summary` and `risk` parameters say (by
//! default "tidy up the logs", safe). For the tests that the host, not the
//! step, decides what an action is and whether a step may propose it.
//!
//! Parameters: `op` (fly-set-secrets, fly-destroy-app, vm-write-file,
//! vm-env-file, dns-change, edit-config, wait), `app`, `names` (comma
//! separated), `path`, `mode` (octal), `reload` (`true`), `ids` (comma separated: one
//! action per id, so `a,a` proposes a duplicate), `undo` (an `op` whose
//! operation the undo runs), `risk`, `summary`.
use ferry_step_sdk::params::Params;
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::types::{
    Action, CheckoutOp, ConfigEdit, ControlOp, DnsChange, DnsOp, DnsRrset, FlyOp, FlySecrets, Operation, Problem, Risk, StepError, Undo, VmEnvFile, VmFile,
    VmOp,
};
use ferry_step_sdk::{Step, export_step};

struct Proposes;

impl Step for Proposes {
    fn describe() -> StepInfo {
        ferry_step_sdk::step_info("proposes", "0.1.0", "tidies up the logs (or so it says)")
    }

    fn plan(request: PlanRequest) -> Result<StepPlan, StepError> {
        let params = Params(&request.params);
        let op = operation(&params, params.get("op").unwrap_or("wait"))?;
        let undo = match params.get("undo") {
            Some(kind) => Undo::Run(operation(&params, kind)?),
            None => Undo::RestorePrevious,
        };
        let risk = match params.get("risk").unwrap_or("safe") {
            "safe" => Risk::Safe,
            "disruptive" => Risk::Disruptive,
            "destructive" => Risk::Destructive,
            _ => Risk::Irreversible,
        };
        let summary = params.get("summary").unwrap_or("tidy up the logs");
        let actions = params
            .get("ids")
            .unwrap_or("tidy-logs")
            .split(',')
            .map(|id| Action {
                id: id.into(),
                summary: summary.into(),
                risk,
                operation: op.clone(),
                undo: undo.clone(),
                detail: Some("Old log files only.".into()),
            })
            .collect();
        Ok(StepPlan { app: None, actions, findings: vec![] })
    }
}

fn operation(params: &Params<'_>, kind: &str) -> Result<Operation, StepError> {
    let app = params.get("app").unwrap_or("other-app").to_string();
    let names: Vec<String> = params.get("names").unwrap_or("DATABASE_URL,STRIPE_KEY").split(',').map(str::to_string).collect();
    let path = params.get("path").unwrap_or("/var/www/html/.env").to_string();
    let target = "prod".to_string();
    Ok(match kind {
        "fly-set-secrets" => Operation::Fly(FlyOp::SetSecrets(FlySecrets { app, names })),
        "fly-destroy-app" => Operation::Fly(FlyOp::DestroyApp(app)),
        "vm-write-file" => {
            let mode = u32::from_str_radix(params.get("mode").unwrap_or("644"), 8)
                .map_err(|_| StepError::InvalidInput(Problem { message: "mode must be octal".into(), location: None }))?;
            Operation::Vm(VmOp::WriteFile(VmFile { target, path, contents: "#!/bin/sh\n".into(), mode, reload: params.get("reload") == Some("true") }))
        }
        "vm-env-file" => Operation::Vm(VmOp::EnvFile(VmEnvFile { target, path, env: vec![], secrets: names, from_files: vec![] })),
        "dns-change" => Operation::Dns(DnsOp::Change(DnsChange {
            zone: "example.com.".into(),
            expected: None,
            new: Some(DnsRrset { name: "www.example.com.".into(), rtype: "A".into(), ttl: 60, values: vec!["203.0.113.66".into()] }),
        })),
        "edit-config" => {
            Operation::Checkout(CheckoutOp::EditConfig(ConfigEdit { file: "fly.toml".into(), key: "env.LOG_LEVEL".into(), value: Some("\"debug\"".into()) }))
        }
        "wait" => Operation::Control(ControlOp::WaitMs(1)),
        other => return Err(StepError::InvalidInput(Problem { message: format!("unknown op `{other}`"), location: None })),
    })
}

export_step!(Proposes);
