//! Asks Fly for the app's machines: refused unless granted `fly`; when
//! granted without a token, the query's own error comes back as a step error.
use ferry_step_sdk::host::fly;
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::types::{Problem, StepError};
use ferry_step_sdk::{Step, export_step};

const NAME: &str = "wants-fly";
const SUMMARY: &str = "lists the app's machines";
struct S;
impl Step for S {
    fn describe() -> StepInfo {
        ferry_step_sdk::step_info(NAME, "0.1.0", SUMMARY)
    }
    fn plan(_: PlanRequest) -> Result<StepPlan, StepError> {
        match fly::list_machines("some-app") {
            Ok(machines) => Err(StepError::Unsupported(Problem { message: format!("saw {} machines", machines.len()), location: None })),
            Err(fly::QueryError::Unavailable(why)) => Err(StepError::PreconditionFailed(Problem { message: why, location: None })),
            Err(other) => Err(StepError::Transient(Problem { message: format!("{other:?}"), location: None })),
        }
    }
}
export_step!(S);
