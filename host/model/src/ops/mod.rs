//! What the host knows how to do, by the provider that does it: one module
//! per provider, mirroring one `wit/ops-<provider>.wit` each.
//!
//! [`Operation`] is the contract's `operation` variant: a provider, then
//! that provider's operation. The executor dispatches on the provider and
//! each provider's executor matches its own enum, so an operation cannot
//! reach another provider's code, and a new one is named by the compiler in
//! its provider's module (here), its executor and nowhere else.

pub mod checkout;
pub mod control;
pub mod data;
pub mod dns;
pub mod fly;
pub mod vm;

use serde::{Deserialize, Serialize};
use wasmtime::component::{ComponentType, Lift, Lower};

use crate::policy::{Floor, OperationPolicy, Restore};
use checkout::CheckoutOp;
use control::ControlOp;
use data::DataOp;
use dns::DnsOp;
use fly::FlyOp;
use vm::VmOp;

/// What the host knows how to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(variant)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    #[component(name = "control")]
    Control(ControlOp),
    #[component(name = "checkout")]
    Checkout(CheckoutOp),
    #[component(name = "fly")]
    Fly(FlyOp),
    #[component(name = "dns")]
    Dns(DnsOp),
    #[component(name = "data")]
    Data(DataOp),
    #[component(name = "vm")]
    Vm(VmOp),
}

impl Operation {
    /// The provider's operation, for the policy questions every provider answers.
    fn policy(&self) -> &dyn OperationPolicy {
        match self {
            Operation::Control(op) => op,
            Operation::Checkout(op) => op,
            Operation::Fly(op) => op,
            Operation::Dns(op) => op,
            Operation::Data(op) => op,
            Operation::Vm(op) => op,
        }
    }
}

impl OperationPolicy for Operation {
    fn name(&self) -> &'static str {
        self.policy().name()
    }

    fn floor(&self) -> Floor {
        self.policy().floor()
    }

    fn restore(&self) -> Restore {
        self.policy().restore()
    }

    fn describe(&self) -> String {
        self.policy().describe()
    }
}
