//! What an action *is*, decided by the host rather than by the step that
//! proposed it.
//!
//! A step's `summary`, `detail` and `risk` are its own words: a third-party
//! step can label `fly-destroy-app` "tidy up the logs | safe". So for every
//! [`Operation`](crate::Operation) the host knows, this module says
//!
//! - which [`OperationClass`] it belongs to, so a workflow can grant a step
//!   the operations it may propose, as it grants the imports it may call
//!   ([`OperationGrant`]);
//! - its minimum [`Risk`](crate::Risk) ([`floor`]), with the reason, so a step
//!   may raise an action's risk but never lower it;
//! - a description of exactly what the host will do ([`describe`]): the app,
//!   machines, image, paths, modes, commands, mounts, secret names, records
//!   and databases it touches, which the renderers show beside (and above) the
//!   step's summary;
//! - what no step may propose at all ([`admit`]): a shell command from a step
//!   that is not built in, setuid or world-writable file modes, and two
//!   actions with one id (the journal keys its state by id).
//!
//! Every function matches on every operation without a wildcard, so a new
//! operation does not compile until its class, floor and description are
//! decided.

mod admit;
mod class;
mod describe;
mod floor;
mod name;

pub use admit::{Admission, Refusal, Role, StepRights, effective_risk, unsafe_mode};
pub use class::{OperationClass, OperationGrant};
pub use describe::{describe, describe_undo};
pub use floor::{Floor, floor, undo_floor};
pub use name::name;
