//! Panics with a message that names the phase: the host must show it.
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::{Step, export_step, types::StepError};

const NAME: &str = "panics";
const SUMMARY: &str = "panics while planning";
struct S;
impl Step for S {
    fn describe() -> StepInfo {
        ferry_step_sdk::step_info(NAME, "0.1.0", SUMMARY)
    }
    fn plan(request: PlanRequest) -> Result<StepPlan, StepError> {
        let groups: Vec<u32> = Vec::new();
        let first = groups.first().copied();
        panic!("no process group to plan for in phase {}: {first:?}", request.phase)
    }
}
export_step!(S);
