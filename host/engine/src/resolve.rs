//! Turns a workflow's step specs into loaded, import-checked components.
//! Every step is loaded before any runs, so a bad custom step fails the
//! workflow before it does anything.
//!
//! A custom component's path comes from ferry.toml, which a pull request can
//! change. It is read only if it is a regular file inside the workflow file's
//! directory (the checkout, or the directory of `--workflow FILE`) of at most
//! [`ferry_runtime::MAX_COMPONENT_BYTES`]; anything else is refused before a
//! byte is read, so no error can disclose, say, the sha256 of a file outside
//! the checkout. The size cap also bounds compilation, which no deadline can
//! interrupt.

use std::path::{Path, PathBuf};

use crate::policy::OperationGrant;
use ferry_model::StepInfo;
use ferry_runtime::{ComponentFileError, Grants, HostContext, LoadedStep, Runtime, RuntimeError};
use sha2::{Digest, Sha256};

use crate::{StepSpec, Workflow};

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no built-in step is called `{name}` (built-in: {known}); a custom step needs `component` and `sha256`")]
    UnknownBuiltin { name: String, known: String },
    #[error("the component of step `{step}` at {path} {reason}; it was not read")]
    ComponentFile { step: String, path: String, reason: ComponentFileError },
    #[error(
        "the component of step `{step}` at {path} has sha256 {actual}, but ferry.toml pins {pinned}; \
         refusing to run it (update the pin only if you trust the new component)"
    )]
    ShaMismatch { step: String, path: String, pinned: String, actual: String },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// Where a step's component came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepOrigin {
    Builtin,
    Custom(PathBuf),
}

/// A workflow step, loaded and ready to call.
#[derive(Debug, Clone)]
pub struct ResolvedStep {
    pub spec: StepSpec,
    pub origin: StepOrigin,
    pub loaded: LoadedStep,
    /// What the step's `describe` said.
    pub info: StepInfo,
    /// The operation classes the step may propose; the planner refuses any
    /// other operation in its plan.
    pub actions: OperationGrant,
}

/// Loads every step of `workflow` and asks each to describe itself.
pub fn resolve(runtime: &Runtime, host: &HostContext, workflow: &Workflow) -> Result<Vec<ResolvedStep>, ResolveError> {
    // `Workflow::parse` joins a component's path onto this same directory.
    let root = workflow.file.as_deref().and_then(Path::parent).unwrap_or(Path::new(""));
    workflow.steps.iter().map(|spec| resolve_one(runtime, host, root, spec)).collect()
}

fn resolve_one(runtime: &Runtime, host: &HostContext, root: &Path, spec: &StepSpec) -> Result<ResolvedStep, ResolveError> {
    let (bytes, grants, actions, origin) = match &spec.component {
        None => {
            let builtin = ferry_steps::find(&spec.name).ok_or_else(|| ResolveError::UnknownBuiltin {
                name: spec.name.clone(),
                known: ferry_steps::BUILTIN.iter().map(|b| b.name).collect::<Vec<_>>().join(", "),
            })?;
            let grants = Grants::parse(builtin.grants).expect("built-in grants name known capabilities");
            let actions = OperationGrant::parse(builtin.actions).expect("built-in operation grants name known classes");
            (std::borrow::Cow::Borrowed(builtin.component), grants, actions, StepOrigin::Builtin)
        }
        Some((path, pinned)) => {
            let bytes = read_component(root, path).map_err(|reason| ResolveError::ComponentFile {
                step: spec.name.clone(),
                path: path.display().to_string(),
                reason,
            })?;
            let actual = hex::encode(Sha256::digest(&bytes));
            if &actual != pinned {
                return Err(ResolveError::ShaMismatch { step: spec.name.clone(), path: path.display().to_string(), pinned: pinned.clone(), actual });
            }
            let grants = spec.grants.clone().unwrap_or_else(default_custom_grants);
            // A custom step that names no `actions` may propose approvals and waits only.
            let actions = spec.actions.clone().unwrap_or_default();
            (std::borrow::Cow::Owned(bytes), grants, actions, StepOrigin::Custom(path.clone()))
        }
    };
    let loaded = runtime.load(&spec.name, &bytes, grants, spec.limits)?;
    let info = runtime.describe(&loaded, host)?;
    Ok(ResolvedStep { spec: spec.clone(), origin, loaded, info, actions })
}

/// Reads `path` (the workflow directory `root` joined with what ferry.toml
/// wrote) confined to `root`. An absolute path in ferry.toml replaced `root`
/// in the join, so it does not start with `root` and stays absolute: refused.
fn read_component(root: &Path, path: &Path) -> Result<Vec<u8>, ComponentFileError> {
    let relative = path.strip_prefix(root).unwrap_or(path);
    ferry_runtime::read_component_file(root, relative)
}

/// A custom step that names no grants may log and read the clock, nothing more.
fn default_custom_grants() -> Grants {
    Grants::new([ferry_runtime::Capability::Log, ferry_runtime::Capability::Clock])
}
