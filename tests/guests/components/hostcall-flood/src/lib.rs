//! Sends the host one 64 MiB log line: the host-call byte cap must stop it
//! before the host allocates it.
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::{Step, export_step, logging, types::StepError};

const NAME: &str = "hostcall-flood";
const SUMMARY: &str = "floods a host call";
struct S;
impl Step for S {
    fn describe() -> StepInfo {
        ferry_step_sdk::step_info(NAME, "0.1.0", SUMMARY)
    }
    fn plan(_: PlanRequest) -> Result<StepPlan, StepError> {
        let line = "x".repeat(64 << 20);
        logging::log(logging::Level::Info, &line);
        Ok(StepPlan { app: None, actions: vec![], findings: vec![] })
    }
}
export_step!(S);
