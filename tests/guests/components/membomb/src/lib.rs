//! Allocates until it is stopped: the host's memory cap must stop it.
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::{Step, export_step, types::StepError};

const NAME: &str = "membomb";
const SUMMARY: &str = "allocates without end";
struct S;
impl Step for S {
    fn describe() -> StepInfo {
        ferry_step_sdk::step_info(NAME, "0.1.0", SUMMARY)
    }
    fn plan(_: PlanRequest) -> Result<StepPlan, StepError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![0xAB; 1 << 20]);
            std::hint::black_box(&hoard);
        }
    }
}
export_step!(S);
