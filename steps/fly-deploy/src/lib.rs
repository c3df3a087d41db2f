//! Plans a deploy onto Fly Machines, as `fly deploy` would carry it out,
//! but as data: which machines change, in which batches, with which
//! config, and how each change is undone.
//!
//! Data flows one way: the app-spec and the machines the API reports
//! ([`Observed`]) -> the changes per process group ([`changes`]) -> the
//! strategy's ordered actions ([`rollout`]). The planner is pure, so it
//! is tested natively; the `deploy` step component only feeds it.

pub mod actions;
mod changes;
pub mod compare;
pub mod config;
pub mod extra_env;
pub mod flag_files;
pub mod observed;
pub mod options;
pub mod overrides;
pub mod placement;
mod rollout;
pub mod vm_size;

pub(crate) use ferry_step_sdk::params::precondition;
use ferry_step_sdk::types::{Action, AppSpec, Finding, Problem, Severity, StepError};
use sha2::{Digest, Sha256};

pub use changes::{Changes, Replacement, size_gb};
pub use config::Release;
pub use observed::{Machine, Observed};
pub use options::{Options, Strategy};

/// A deploy's plan.
#[derive(Clone, Debug)]
pub struct Planned {
    pub release: Release,
    pub actions: Vec<Action>,
    pub findings: Vec<Finding>,
}

/// Plans the deploy of `options.image` with `app`'s config onto the app
/// the API describes in `observed`.
pub fn plan(app: &AppSpec, observed: &Observed, options: &Options) -> Result<Planned, StepError> {
    let app = &overrides::app_for_deploy(app, options);
    flag_files::ensure_read(&options.files)?;
    let name =
        options.app.as_deref().or(app.app.as_deref()).ok_or_else(|| invalid(app, "fly.toml sets no `app`: ferry deploy needs the app's name (or --app)"))?;
    check_process_groups(app, observed, options)?;
    let release = release(app, observed, &options.image);
    let mut changes = Changes::compute(app, observed, options, &release)?;
    options.placement.apply(&mut changes, &observed.managed(), default_group(app));
    if options.update_only && !changes.new_groups.is_empty() {
        let groups: Vec<&str> = changes.new_groups.iter().map(|g| g.group.as_str()).collect();
        changes.findings.push(finding(
            "update-only",
            Severity::Info,
            format!("--update-only: no machines created for process group(s) without any: {}", groups.join(", ")),
        ));
        changes.new_groups.clear();
    }
    let mut findings = changes.findings.clone();
    let actions = if changes.is_empty() {
        findings.push(finding(
            "up-to-date",
            Severity::Info,
            format!("every machine of {name} already runs {} with this config: nothing to deploy", options.image),
        ));
        Vec::new()
    } else {
        let mut actions = vec![actions::create_release(release_record(app, name, options))];
        actions.extend(rollout::actions(app, name, &changes, options, &release, &deploy_key(app, &options.image, &options.files))?);
        actions.push(actions::complete_release(name));
        actions
    };
    Ok(Planned { release, actions, findings })
}

/// The release values the plan writes into machine metadata: flyctl's
/// "no release" values (`fly_release_id` `""`, `fly_release_version`
/// `"0"`). The release record is created by the host when the deploy
/// starts (the plan's `create-release` action) and its id and version,
/// which the API assigns, are written into every machine then: a reviewed
/// plan, whose hash is fixed at review, cannot hold them.
pub fn release(_app: &AppSpec, _observed: &Observed, _image: &str) -> Release {
    Release { id: String::new(), version: 0 }
}

/// Names this deploy in launch ids (`ferry_launch_id`), from what is
/// deployed: planning the same deploy again (after a crash, or in CI after
/// review) gives the same ids, so a resumed run finds the machines it
/// created instead of creating more. The `--file-*` files count: a deploy
/// that changes only a flag file is another deploy.
pub fn deploy_key(app: &AppSpec, image: &str, files: &[flag_files::FlagFile]) -> String {
    let placeholder = Release { id: String::new(), version: 0 };
    let mut hash = Sha256::new();
    hash.update(image.as_bytes());
    for group in &app.groups {
        hash.update(group.name.as_bytes());
        let mut config = config::launch_config(app, group, image, &placeholder).unwrap_or_default();
        flag_files::merge(&mut config, files);
        hash.update(config.to_string().as_bytes());
    }
    let digest = hash.finalize();
    format!("ferry-{}", digest.iter().take(6).map(|b| format!("{b:02x}")).collect::<String>())
}

/// What the release record is created with: flyctl's strategy name and
/// the app's config as JSON (flyctl sends fly.toml; the app-spec is what
/// the plan has of it).
fn release_record(app: &AppSpec, name: &str, options: &Options) -> ferry_step_sdk::types::FlyRelease {
    let processes: serde_json::Map<String, serde_json::Value> =
        app.groups.iter().map(|g| (g.name.clone(), serde_json::Value::from(g.command.clone()))).collect();
    let definition = serde_json::json!({
        "app": name,
        "primary_region": app.primary_region,
        "build": {"image": options.image},
        "deploy": {"strategy": options::strategy_name(options.strategy), "release_command": app.deploy.release_command},
        "processes": processes,
    });
    ferry_step_sdk::types::FlyRelease { app: name.to_string(), image: options.image.clone(), strategy: options.strategy, definition: definition.to_string() }
}

/// The group of machines without group metadata: fly.toml's first.
pub(crate) fn default_group(app: &AppSpec) -> &str {
    app.groups.first().map(|g| g.name.as_str()).unwrap_or("app")
}

/// `--process-groups` names a group of fly.toml or of a machine (a group
/// gone from fly.toml may be named to remove only its machines); anything
/// else is a typo, refused with the name it most resembles.
fn check_process_groups(app: &AppSpec, observed: &Observed, options: &Options) -> Result<(), StepError> {
    let managed = observed.managed();
    let mut known: Vec<&str> = app.groups.iter().map(|g| g.name.as_str()).collect();
    known.extend(managed.iter().map(|m| m.group(default_group(app))));
    known.dedup();
    if let Some(group) = options.groups.iter().find(|g| !known.contains(&g.as_str())) {
        let mut listed = known.clone();
        listed.sort_unstable();
        listed.dedup();
        return Err(ferry_step_sdk::params::invalid(format!(
            "process-groups: `{group}` is not a process group of fly.toml or of the app's machines{}; the groups are: {}",
            ferry_step_sdk::params::suggestion(group, listed.iter().copied()),
            listed.join(", ")
        )));
    }
    Ok(())
}

pub(crate) fn finding(code: &str, severity: Severity, message: String) -> Finding {
    Finding { code: code.into(), severity, message, location: None }
}

pub(crate) fn invalid(app: &AppSpec, message: &str) -> StepError {
    let location = Some(ferry_step_sdk::types::Location { file: app.source.clone(), line: None, column: None, key: None });
    StepError::InvalidInput(Problem { message: message.to_string(), location })
}
