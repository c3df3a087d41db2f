//! Plans migrations within Fly (the "rebuild as an Apps V2 app" runbook).
//!
//! So far: [`adopt`], which brings Machines created with `fly machine run`
//! under `fly deploy` (and ferry's deploy step) by their metadata, and
//! [`config_save`], the fly.toml `fly config save` would write from a
//! machine's config. Pure functions of what the `fly` import reports, so
//! they are tested natively.

pub mod adopt;
pub mod config_save;
