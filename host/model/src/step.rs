//! The `step` interface's records (`wit/step.wit`).

use serde::{Deserialize, Serialize};
use wasmtime::component::{ComponentType, Lift, Lower};

use crate::{Action, AppSpec, Finding};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct ParamInfo {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub default: Option<String>,
}

/// Who a step is, from its `describe` export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct StepInfo {
    pub name: String,
    pub version: String,
    pub summary: String,
    pub params: Vec<ParamInfo>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct PlanRequest {
    #[component(name = "run-id")]
    pub run_id: String,
    pub phase: String,
    pub app: Option<AppSpec>,
    #[serde(with = "crate::pairs")]
    pub params: Vec<(String, String)>,
}

/// One step's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct StepPlan {
    pub app: Option<AppSpec>,
    pub actions: Vec<Action>,
    pub findings: Vec<Finding>,
}
