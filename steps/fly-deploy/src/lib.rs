//! Plans a deploy onto Fly Machines, as `fly deploy` would carry it out,
//! but as data: which machines change, in which batches, with which
//! config, and how each change is undone.
//!
//! Data flows one way: the app-spec and the machines the API reports
//! ([`Observed`]) -> the changes per process group ([`changes`]) -> the
//! strategy's ordered actions ([`rollout`]). The planner is pure, so it
//! is tested natively; the `deploy` step component only feeds it.

pub mod actions;
pub mod compare;
pub mod config;
pub mod observed;
pub mod options;
mod changes;
mod rollout;

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
    let name = options
        .app
        .as_deref()
        .or(app.app.as_deref())
        .ok_or_else(|| invalid(app, "fly.toml sets no `app`: ferry deploy needs the app's name (or --app)"))?;
    let release = release(app, observed, &options.image);
    let changes = Changes::compute(app, observed, options, &release)?;
    let mut findings = changes.findings.clone();
    let actions = if changes.is_empty() {
        findings.push(finding(
            "up-to-date",
            Severity::Info,
            format!("every machine of {name} already runs {} with this config: nothing to deploy", options.image),
        ));
        Vec::new()
    } else {
        rollout::actions(app, name, &changes, options, &release)?
    };
    Ok(Planned { release, actions, findings })
}

/// The release this deploy writes into machine metadata. Its id is derived
/// from what is deployed, so planning the same deploy again (after a
/// crash, or in CI after review) gives the same plan; its version is one
/// above the app's latest, or the version machines of this release carry.
pub fn release(app: &AppSpec, observed: &Observed, image: &str) -> Release {
    let placeholder = Release { id: String::new(), version: 0 };
    let mut hash = Sha256::new();
    hash.update(image.as_bytes());
    for group in &app.groups {
        hash.update(group.name.as_bytes());
        let config = config::launch_config(app, group, image, &placeholder).unwrap_or_default();
        hash.update(config.to_string().as_bytes());
    }
    let digest = hash.finalize();
    let id = format!("ferry-{}", digest.iter().take(6).map(|b| format!("{b:02x}")).collect::<String>());
    let managed = observed.managed();
    let version_of = |m: &Machine| m.meta(config::meta::RELEASE_VERSION).and_then(|v| v.parse::<u64>().ok());
    let version = managed
        .iter()
        .find(|m| m.meta(config::meta::RELEASE_ID) == Some(id.as_str()))
        .and_then(|m| version_of(m))
        .unwrap_or_else(|| managed.iter().filter_map(|m| version_of(m)).max().unwrap_or(0) + 1);
    Release { id, version }
}

pub(crate) fn finding(code: &str, severity: Severity, message: String) -> Finding {
    Finding { code: code.into(), severity, message, location: None }
}

pub(crate) fn invalid(app: &AppSpec, message: &str) -> StepError {
    let location = Some(ferry_step_sdk::types::Location { file: app.source.clone(), line: None, column: None, key: None });
    StepError::InvalidInput(Problem { message: message.to_string(), location })
}

