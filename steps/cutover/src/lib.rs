//! `cutover`: plans the switch of an app's DNS records to its new host —
//! TTLs lowered ahead in `prepare`, then the new host's certificate
//! checked, each record changed only if it still holds what the plan saw,
//! and every authoritative server verified. It reads the zone through the
//! read-only `dns` import; the host alone changes it.

use ferry_cutover::options::PARAMS;
use ferry_cutover::{Observed, Options};
use ferry_step_sdk::host::dns::{self, DnsError};
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::types::{Problem, StepError};
use ferry_step_sdk::{Step, export_step, info};

struct Cutover;

impl Step for Cutover {
    fn describe() -> StepInfo {
        StepInfo {
            name: "cutover".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Plans a DNS cutover: TTLs lowered ahead (prepare), the new host's TLS checked, records switched by compare-and-swap, every authoritative server verified.".into(),
            params: ferry_step_sdk::params::param_infos(PARAMS, &["zone", "records"]),
        }
    }

    fn plan(request: PlanRequest) -> Result<StepPlan, StepError> {
        let options = Options::from_params(&request.params)?;
        let zone = &options.zone;
        let current =
            options.records.iter().map(|r| dns::read_rrset(zone, &r.name, &r.rtype).map_err(|e| dns_error(zone, e))).collect::<Result<Vec<_>, _>>()?;
        let zone_size = dns::zone_size(zone).map_err(|e| dns_error(zone, e))?;
        let source_machines = request.app.as_ref().and_then(|a| a.live.as_ref()).map(|l| l.machines);
        info!("{zone}: {zone_size} record sets; {} to cut over", options.records.len());
        let planned = ferry_cutover::plan(&request.phase, &options, &Observed { current, zone_size, source_machines })?;
        Ok(StepPlan { app: request.app, actions: planned.actions, findings: planned.findings })
    }
}

fn dns_error(zone: &str, e: DnsError) -> StepError {
    let problem = |message: String| Problem { message, location: None };
    match e {
        DnsError::Unavailable(m) => StepError::PreconditionFailed(problem(m)),
        DnsError::Denied(m) => StepError::PreconditionFailed(problem(format!("zone {zone}: {m}"))),
        DnsError::Failed(m) => StepError::Transient(problem(format!("reading zone {zone}: {m}"))),
    }
}

export_step!(Cutover);
