//! Reads the file named by the `path` parameter and lists the checkout root;
//! reports what it saw as findings, so tests can check confinement and caps.
use ferry_step_sdk::host::{checkout, clock};
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::types::{Finding, Severity, StepError};
use ferry_step_sdk::{Step, export_step, files};

struct ReadsCheckout;

impl Step for ReadsCheckout {
    fn describe() -> StepInfo {
        ferry_step_sdk::step_info("reads-checkout", "0.1.0", "reads a file")
    }

    fn plan(request: PlanRequest) -> Result<StepPlan, StepError> {
        let path = request.params.iter().find(|(k, _)| k == "path").map(|(_, v)| v.as_str()).unwrap_or("fly.toml");
        let read = match checkout::read_file(path) {
            Ok(bytes) => format!("read {} bytes", bytes.len()),
            Err(e) => format!("error: {}", files::describe(path, &e)),
        };
        let listing = match checkout::list_dir("") {
            Ok(entries) => entries.into_iter().map(|e| e.name).collect::<Vec<_>>().join(","),
            Err(e) => format!("error: {}", files::describe("", &e)),
        };
        let clock_ok = clock::now_unix_ms() > 1_700_000_000_000;
        let finding = |code: &str, message: String| Finding { code: code.into(), severity: Severity::Info, message, location: None };
        Ok(StepPlan { app: None, actions: vec![], findings: vec![finding("read", read), finding("listing", listing), finding("clock", clock_ok.to_string())] })
    }
}

export_step!(ReadsCheckout);
