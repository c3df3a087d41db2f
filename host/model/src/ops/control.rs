//! Operations that change nothing: approval gates and waits (`wit/ops-control.wit`).
//!
//! What the host says about each operation: its name, its least risk, what
//! it does and what its undo puts back. The records and the variant are the
//! WIT file's own, generated (`super::contract`): a new operation of this
//! provider is written in its WIT file, then here and in its executor, each
//! named by the compiler as a match it is missing from.

pub use super::contract::ferry::step::control_ops::*;

use crate::Risk::Safe;
use crate::policy::words::*;
use crate::policy::{Floor, NOTHING_TO_PUT_BACK, OperationPolicy, Restore, at};

impl OperationPolicy for ControlOp {
    fn name(&self) -> &'static str {
        match self {
            ControlOp::Approval(_) => "approval",
            ControlOp::WaitMs(_) => "wait-ms",
        }
    }

    fn floor(&self) -> Floor {
        match self {
            ControlOp::Approval(_) => at(Safe, "changes nothing: the apply waits for a person"),
            ControlOp::WaitMs(_) => at(Safe, "changes nothing: the apply waits"),
        }
    }

    fn restore(&self) -> Restore {
        match self {
            ControlOp::Approval(_) | ControlOp::WaitMs(_) => NOTHING_TO_PUT_BACK,
        }
    }

    fn describe(&self) -> String {
        match self {
            ControlOp::Approval(message) => format!("stop until a person approves: {message}"),
            ControlOp::WaitMs(ms) => format!("wait {}", duration(*ms)),
        }
    }
}
