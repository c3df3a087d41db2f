//! Loops forever in `plan`: the host's deadline must stop it.
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::{Step, export_step, types::StepError};

const NAME: &str = "spin";
const SUMMARY: &str = "never returns";
struct S;
impl Step for S {
    fn describe() -> StepInfo {
        ferry_step_sdk::step_info(NAME, "0.1.0", SUMMARY)
    }
    fn plan(_: PlanRequest) -> Result<StepPlan, StepError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}
export_step!(S);
