//! Where `fly deploy`'s flags meet the machine configs fly.toml gives: the
//! hooks the planner calls instead of [`crate::config`] directly, so the
//! config builder stays a function of fly.toml alone.
//!
//! flyctl applies the flags in two places, and so does ferry:
//! - on the app config, before anything is built: `--env`,
//!   `--primary-region` ([`app_for_deploy`], see [`crate::extra_env`]);
//! - on the built machine configs: the flag files merged by guest path
//!   ([`crate::flag_files`]), and the `--vm-*` guest for machines this
//!   deploy creates ([`crate::vm_size`]).

use ferry_step_sdk::types::{AppSpec, ProcessGroup, StepError};
use serde_json::Value;

use crate::config::{self, Release, Updated};
use crate::observed::Machine;
use crate::options::Options;

/// fly.toml as this deploy sees it: `--primary-region` and `--env`
/// applied. Applying it again changes nothing.
pub fn app_for_deploy(app: &AppSpec, options: &Options) -> AppSpec {
    let mut app = app.clone();
    crate::extra_env::apply(&mut app, &options.env, options.primary_region.as_deref());
    app
}

/// The config a machine of `group` this deploy creates gets: fly.toml's,
/// with the flag files merged in and, in a group without `[[vm]]`, the
/// guest the `--vm-*` flags ask for (`machines_launchinput.go:42-45`).
/// fly.toml's top-level `host_dedication_id` wins over
/// `--host-dedication-id`, as in flyctl (`machines_launchinput.go:66-68`).
pub fn launch_config(app: &AppSpec, group: &ProcessGroup, options: &Options, release: &Release) -> Result<Value, StepError> {
    let mut config = config::launch_config(app, group, &options.image, release)?;
    crate::flag_files::merge(&mut config, &options.files);
    if group.vm.is_none() && options.vm.is_set() {
        set_guest(&mut config, app, options);
    }
    Ok(config)
}

/// An existing machine's new config: its current one with what fly.toml
/// owns overwritten, then the flag files merged in (flyctl's `--vm-*`
/// flags size only the machines a deploy creates).
pub fn update_config(app: &AppSpec, group: &ProcessGroup, options: &Options, release: &Release, machine: &Machine) -> Result<Updated, StepError> {
    let mut updated = config::update_config(app, group, &options.image, release, machine)?;
    crate::flag_files::merge(&mut updated.config, &options.files);
    Ok(updated)
}

/// The release command machine's config: fly.toml's, with the flag files
/// (flyctl gives it the merged files too, `machines.go:849-853`) and, when
/// no managed machine gives it a size, the `--vm-*` guest if it differs
/// from shared-cpu-1x (`inferReleaseCommandGuest`,
/// `machines_releasecommand.go:318-348`, rule 3).
pub fn release_command_config(app: &AppSpec, command: &str, options: &Options, release: &Release, machines: &[&Machine]) -> Value {
    let mut config = config::release_command_config(app, command, &options.image, release, machines);
    crate::flag_files::merge(&mut config, &options.files);
    if machines.is_empty() && app.deploy.release_command_vm.is_none() && options.vm.differs_from_default() {
        set_guest(&mut config, app, options);
    }
    config
}

fn set_guest(config: &mut Value, app: &AppSpec, options: &Options) {
    let mut guest = options.vm.guest();
    if let Some(id) = &app.machine.host_dedication_id {
        guest["host_dedication_id"] = Value::from(id.clone());
    }
    config["guest"] = guest;
}
