//! Plans migrations within Fly (the "rebuild as an Apps V2 app" runbook).
//!
//! [`migration`]: an app rebuilt as a new app (another name, org or
//! region) in reviewed, reversible phases. [`adopt`]: Machines created
//! with `fly machine run` brought under `fly deploy` (and ferry's deploy
//! step) by their metadata. [`config_save`]: the fly.toml `fly config save`
//! would write from a machine's config. Pure functions of what the `fly`
//! import reports, so they are tested natively.

pub mod adopt;
pub mod config_save;
pub mod migration;
pub mod to_vm;
