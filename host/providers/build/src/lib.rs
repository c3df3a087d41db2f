//! Building an app's image as `fly deploy` does, on whatever engine the
//! machine has (`../shared/reference/build-push.md`).
//!
//! Three questions, one module each, each answered by a pure function so
//! that what runs is readable and asserted as text (as Kamal's `commands/`
//! are); only [`Engines::detect`] asks the machine:
//!
//! - [`builder`]: which engine builds, and the reason the plan shows: BuildKit
//!   where Docker has it, Debian's `buildah` where there is no Docker daemon
//!   (or where build secrets would otherwise reach Docker's classic builder),
//!   the classic builder for the rest.
//! - [`commands`]: the command line of that build, from a [`BuildSpec`]. A
//!   build secret crosses it by name only: the engine reads its value from
//!   `FERRY_SECRET_<NAME>` in its own environment, so it is never in an
//!   argument, a layer or the image's history.
//! - [`reference`]: the tag a deploy pushes (`registry.fly.io/<app>:deployment-<id>`),
//!   the digest-pinned reference it deploys, and the registry password a Fly
//!   token makes.

pub mod builder;
pub mod commands;
pub mod exec;
pub mod reference;
pub mod registry;
mod spec;

pub use builder::{Builder, Choice, Engines};
pub use spec::{BuildSpec, LayerCache, PLATFORM, SECRET_VAR_PREFIX};

/// Why a build cannot be planned as asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    /// No engine that can build is on this machine.
    #[error("no container engine can build here: {0}")]
    NoEngine(String),
    /// The spec asks for something the chosen engine cannot do safely.
    #[error("{0}")]
    Unsupported(String),
    /// A registry refused or could not be read.
    #[error("the registry {host}: {why}")]
    Registry { host: String, why: String },
    /// The engine failed or could not be run.
    #[error("{command} failed: {why}")]
    Failed { command: String, why: String },
    /// A name or value that would not survive the command line or the registry.
    #[error("{what} `{value}` {why}")]
    Invalid { what: &'static str, value: String, why: &'static str },
}
