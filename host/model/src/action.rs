//! Actions: the only way a step can ask for a change. Mirrors `types.wit`;
//! each provider's operations are in [`crate::ops`].

use serde::{Deserialize, Serialize};
use wasmtime::component::{ComponentType, Lift, Lower};

use crate::Operation;

/// What an action can cost if it goes wrong. Ordered from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(enum)]
#[repr(u8)]
#[serde(rename_all = "kebab-case")]
pub enum Risk {
    #[component(name = "safe")]
    Safe,
    #[component(name = "disruptive")]
    Disruptive,
    #[component(name = "destructive")]
    Destructive,
    #[component(name = "irreversible")]
    Irreversible,
}

impl Risk {
    pub const ALL: [Risk; 4] = [Risk::Safe, Risk::Disruptive, Risk::Destructive, Risk::Irreversible];

    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Safe => "safe",
            Risk::Disruptive => "disruptive",
            Risk::Destructive => "destructive",
            Risk::Irreversible => "irreversible",
        }
    }
}

/// How an action is reversed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(variant)]
#[serde(rename_all = "kebab-case")]
pub enum Undo {
    #[component(name = "run")]
    Run(Operation),
    #[component(name = "restore-previous")]
    RestorePrevious,
    #[component(name = "none")]
    None(String),
}

/// One change in a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Action {
    pub id: String,
    pub summary: String,
    pub risk: Risk,
    pub operation: Operation,
    pub undo: Undo,
    pub detail: Option<String>,
}
