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
//! - what no step may propose at all ([`admit`]): an nginx reload from a step
//!   that is not built in, setuid or world-writable file modes, and two
//!   actions with one id (the journal keys its state by id).
//!
//! Each provider's operations implement [`OperationPolicy`] in the same
//! engine module as their executor (`crate::dns::ops`, `crate::fly::ops`…),
//! matching every operation without a wildcard, so a new operation does not
//! compile until its name, floor, description, undo and execution are
//! decided, in one file; its class is its provider's.

mod admit;
mod class;
mod describe;
mod floor;
mod name;
pub(crate) mod words;

pub use admit::{Admission, Refusal, Role, StepRights, effective_risk, unsafe_mode};
pub use class::{OperationClass, OperationGrant};
pub use describe::{describe, describe_undo};
pub use floor::{Floor, floor, undo_floor};
pub use name::name;

use ferry_model::{Operation, Risk};
pub(crate) use floor::at;

/// What the host says about an operation, whatever its step says. Each
/// provider's operation enum implements it beside its executor, and
/// [`Operation`] by asking its provider's.
pub trait OperationPolicy {
    /// `fly-set-secrets`: the name plans, errors and refusals use.
    fn name(&self) -> &'static str;
    /// The least risk, and why.
    fn floor(&self) -> Floor;
    /// What the host's "restore the previous state" does for it, and the
    /// risk of that (an abort runs it).
    fn restore(&self) -> Restore;
    /// What running it does, in a reviewer's words.
    fn describe(&self) -> String;
}

/// What the host's "restore the previous state" does, and its risk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restore {
    pub does: &'static str,
    pub floor: Floor,
}

pub(crate) const fn restore(does: &'static str, floor: Floor) -> Restore {
    Restore { does, floor }
}

/// The restore of an operation the host keeps no state for.
pub const NOTHING_TO_PUT_BACK: Restore = restore("nothing to put back", at(Risk::Safe, "nothing to put back"));

/// Undoing bookkeeping: metadata, a lock, a release record, an identity.
pub(crate) const BOOKKEEPING: Floor = at(Risk::Safe, "puts back bookkeeping nothing serves from");

/// Undoing a copy into an empty target: it is emptied again.
pub(crate) const COPY_REMOVED: Floor = at(Risk::Destructive, "removes what the copy created on the target, with anything written there since");

/// The provider's operation, for the policy questions every provider answers.
fn of(op: &Operation) -> &dyn OperationPolicy {
    match op {
        Operation::Control(op) => op,
        Operation::Checkout(op) => op,
        Operation::Fly(op) => op,
        Operation::Dns(op) => op,
        Operation::Data(op) => op,
        Operation::Vm(op) => op,
    }
}

impl OperationPolicy for Operation {
    fn name(&self) -> &'static str {
        of(self).name()
    }

    fn floor(&self) -> Floor {
        of(self).floor()
    }

    fn restore(&self) -> Restore {
        of(self).restore()
    }

    fn describe(&self) -> String {
        of(self).describe()
    }
}
