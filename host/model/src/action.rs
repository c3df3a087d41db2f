//! Actions: the only way a step can ask for a change. Mirrors `types.wit`.

use serde::{Deserialize, Serialize};
use wasmtime::component::{ComponentType, Lift, Lower};

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

/// A change to one key of a TOML file in the checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct ConfigEdit {
    pub file: String,
    pub key: String,
    /// A TOML literal; `None` removes the key.
    pub value: Option<String>,
}

/// What the host knows how to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(variant)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    #[component(name = "edit-config")]
    EditConfig(ConfigEdit),
    #[component(name = "approval")]
    Approval(String),
    #[component(name = "wait-ms")]
    WaitMs(u64),
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
