//! Plans for a VM target: a Docker host the user owns, reached over SSH,
//! with nginx in front. Pure functions of the app-spec, the target's
//! settings and what the `vm` import observed, so they are tested natively.
//!
//! - [`provision::plan`]: what the host needs once (Docker and nginx if
//!   missing, the app's directories and volume paths, its env file keyed by
//!   every secret name, its Docker network, and a Postgres bound to
//!   localhost when the app had Fly Postgres).
//! - [`deploy::plan`]: a release beside the one serving: image, release
//!   command, containers started and health-gated, nginx switched by a
//!   graceful reload, the old release stopped (kept for a rollback), old
//!   releases pruned; all under the host lock.
//! - [`deploy::rollback`]: the previous release started again and switched to.

pub mod app;
pub mod certificate;
pub mod checked;
pub mod deploy;
pub mod nginx;
pub mod observed;
pub mod postgres;
pub mod provision;

use ferry_step_sdk::types::{Action, Operation, Risk, Undo};

/// What a planner returns: actions and findings, in order.
#[derive(Debug, Default)]
pub struct Planned {
    pub actions: Vec<Action>,
    pub findings: Vec<ferry_step_sdk::types::Finding>,
}

pub(crate) fn action(id: String, summary: String, risk: Risk, operation: Operation, undo: Undo) -> Action {
    Action { id, summary, risk, operation, undo, detail: None }
}
