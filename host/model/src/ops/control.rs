//! Operations that change nothing: approval gates and waits (`wit/ops-control.wit`).
//!
//! The records, the variant, and what the host says about each operation:
//! its name, its least risk, what it does and what its undo puts back. A
//! new operation of this provider is added here, in its WIT file and in its
//! executor; the compiler names each match it is missing from.

use serde::{Deserialize, Serialize};
use wasmtime::component::{ComponentType, Lift, Lower};

use crate::Risk::Safe;
use crate::policy::words::*;
use crate::policy::{Floor, NOTHING_TO_PUT_BACK, OperationPolicy, Restore, at};

/// What the host does through this provider (`control-op` in the WIT).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(variant)]
#[serde(rename_all = "kebab-case")]
pub enum ControlOp {
    #[component(name = "approval")]
    Approval(String),
    #[component(name = "wait-ms")]
    WaitMs(u64),
}

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
