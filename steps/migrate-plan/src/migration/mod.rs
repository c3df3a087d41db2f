//! A migration to a new Fly app, in phases (the "rebuild as a new Apps V2
//! app" and "move between regions" runbooks): `create` checks, `prepare`
//! builds the new app beside the source, `data` stops the source and
//! carries its volumes over, `finalize` deploys the new app and moves
//! traffic, `decommission` deletes the source. Every phase is planned from
//! the same [`Options`] (recorded by `ferry migrate create`) and what the
//! `fly` import reports ([`Observed`]).

pub mod observed;
pub mod options;
pub mod phases;
pub mod preflight;

pub use observed::{App, Observed, Read};
pub use options::Options;
pub use phases::{Planned, Zone};

/// The phases, in order.
pub const PHASES: [&str; 5] = ["create", "prepare", "data", "finalize", "decommission"];
