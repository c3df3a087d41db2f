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

use ferry_step_sdk::types::{AppSpec, ProcessGroup};
use serde_json::Value;

use crate::config::{self, Release};
use crate::options::Options;

/// fly.toml as this deploy sees it: `--primary-region` and `--env`
/// applied. Applying it again changes nothing.
pub fn app_for_deploy(app: &AppSpec, options: &Options) -> AppSpec {
    let mut app = app.clone();
    crate::extra_env::apply(&mut app, &options.env, options.primary_region.as_deref());
    app
}

/// The config a machine of `group` gets: fly.toml's, with the flag files
/// merged in and, for a machine this deploy creates (`current` is `None`)
/// in a group without `[[vm]]`, the guest the `--vm-*` flags ask for
/// (`machines_launchinput.go:42-45`). fly.toml's top-level
/// `host_dedication_id` wins over `--host-dedication-id`, as in flyctl
/// (`machines_launchinput.go:66-68`).
pub fn machine_config(app: &AppSpec, group: &ProcessGroup, options: &Options, release: &Release, current: Option<&Value>) -> Value {
    let mut config = config::machine_config(app, group, &options.image, release, current);
    crate::flag_files::merge(&mut config, &options.files);
    if current.is_none() && group.vm.is_none() && options.vm.is_set() {
        set_guest(&mut config, app, options);
    }
    config
}

/// The release command machine's config: fly.toml's, with the flag files
/// (flyctl gives it the merged files too, `machines.go:849-853`) and, when
/// the default group has no machine to take the size from, the `--vm-*`
/// guest if it differs from shared-cpu-1x (`inferReleaseCommandGuest`,
/// `machines_releasecommand.go:318-348`, rule 3).
pub fn release_command_config(app: &AppSpec, command: &str, options: &Options, release: &Release, default_group_has_machines: bool) -> Value {
    let mut config = config::release_command_config(app, command, &options.image, release);
    crate::flag_files::merge(&mut config, &options.files);
    if !default_group_has_machines && options.vm.differs_from_default() {
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
