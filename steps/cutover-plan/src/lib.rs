//! Plans a DNS cutover, phase 5 of the "Migrate from Fly.io" runbook, as
//! reviewable actions: in `prepare`, the records' TTLs are lowered (so the
//! switch later takes effect fast, and so does a rollback); at the switch,
//! the new host's certificate is checked first, each record changes only if
//! it still holds what the plan saw, and every authoritative server is
//! asked until it answers the new value. Every change's undo restores
//! exactly the previous records and TTLs.
//!
//! The planner is pure: the `cutover` step component reads the zone and
//! feeds it [`Observed`].

pub mod options;

use ferry_step_sdk::types::{Action, ControlOp, DnsChange, DnsOp, DnsRrset, DnsVerify, Finding, Operation, Problem, Risk, Severity, StepError, TlsCheck, Undo};

pub use options::{Options, Wanted};

/// The zone as the plan sees it.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The current record set for each wanted record, in the same order
    /// (`None`: it does not exist yet).
    pub current: Vec<Option<DnsRrset>>,
    /// Record sets in the zone, for the change thresholds.
    pub zone_size: u32,
    /// Machines the old app still runs on Fly, when known.
    pub source_machines: Option<u32>,
}

#[derive(Debug)]
pub struct Planned {
    pub actions: Vec<Action>,
    pub findings: Vec<Finding>,
}

/// The phase in which TTLs are lowered ahead of the switch.
pub const PREPARE: &str = "prepare";

pub fn plan(phase: &str, options: &Options, observed: &Observed) -> Result<Planned, StepError> {
    let pairs: Vec<(&Wanted, Option<&DnsRrset>)> = options.records.iter().zip(observed.current.iter().map(Option::as_ref)).collect();
    if phase == PREPARE { Ok(prepare(options, &pairs)) } else { switch(options, observed, &pairs) }
}

/// Lowers every TTL above `lowered_ttl`; nothing else changes.
fn prepare(options: &Options, pairs: &[(&Wanted, Option<&DnsRrset>)]) -> Planned {
    let mut planned = Planned { actions: Vec::new(), findings: Vec::new() };
    for (_, current) in pairs {
        let Some(current) = current.filter(|c| c.ttl > options.lowered_ttl) else { continue };
        planned.actions.push(lower_ttl(&options.zone, current, options.lowered_ttl));
    }
    let longest = pairs.iter().filter_map(|(_, c)| *c).map(|c| c.ttl).max().unwrap_or(0);
    if planned.actions.is_empty() {
        planned.findings.push(finding("ttl-low", Severity::Info, format!("every record's TTL is {} s or less already", options.lowered_ttl)));
    } else {
        planned.findings.push(finding(
            "switch-after",
            Severity::Info,
            format!("resolvers may hold the old TTL for up to {longest} s ({}): switch no sooner than that after this applies", human(longest)),
        ));
    }
    planned
}

fn switch(options: &Options, observed: &Observed, pairs: &[(&Wanted, Option<&DnsRrset>)]) -> Result<Planned, StepError> {
    let mut actions = Vec::new();
    let mut findings = Vec::new();
    let changes: Vec<(&Wanted, Option<&DnsRrset>)> =
        pairs.iter().copied().filter(|(w, c)| c.is_none_or(|c| c.values != w.values || c.ttl != options.ttl)).collect();
    if changes.is_empty() {
        findings.push(finding("up-to-date", Severity::Info, "every record already points at the new host".into()));
        return Ok(Planned { actions, findings });
    }
    check_thresholds(options, observed, &changes)?;
    if let Some(address) = &options.tls_address {
        for name in unique(changes.iter().map(|(w, _)| w.name.trim_end_matches('.'))) {
            actions.push(tls_check(address, name, options.tls_min_days));
        }
    }
    // A TTL still high now means resolvers would hold the old answer that
    // long after the switch: lower it and wait it out first.
    let mut seen = Vec::new();
    for (w, current) in &changes {
        let Some(current) = current.filter(|c| c.ttl > options.lowered_ttl && c.values != w.values) else {
            seen.push(current.cloned());
            continue;
        };
        let lowered = DnsRrset { ttl: options.lowered_ttl, ..current.clone() };
        actions.push(lower_ttl(&options.zone, current, options.lowered_ttl));
        actions.push(wait_out(&current.name, current.ttl));
        findings.push(finding(
            "ttl-not-lowered",
            Severity::Warning,
            format!(
                "{} {} still has a {} s TTL: the plan lowers it and waits {} before the switch; run the `prepare` phase a TTL ahead next time",
                current.name,
                current.rtype,
                current.ttl,
                human(current.ttl)
            ),
        ));
        seen.push(Some(lowered));
    }
    if options.approve {
        let what: Vec<String> = changes.iter().map(|(w, _)| format!("{} {} -> {}", w.name, w.rtype, w.values.join(","))).collect();
        actions.push(approval(&what.join("; ")));
    }
    for ((w, _), expected) in changes.iter().zip(&seen) {
        let new = DnsRrset { name: w.name.clone(), rtype: w.rtype.clone(), ttl: options.ttl, values: w.values.clone() };
        actions.push(change(&options.zone, expected.clone(), new.clone()));
        let previous_ttl = expected.as_ref().map_or(0, |e| e.ttl);
        actions.push(verify(&options.zone, new, previous_ttl, options.verify_timeout_ms));
    }
    let longest = seen.iter().flatten().map(|e| e.ttl).max().unwrap_or(0);
    findings.push(finding(
        "resolver-caching",
        Severity::Info,
        format!(
            "after the switch, public resolvers may answer the old values for up to {longest} s ({}), and some (about 9% measured) keep answers longer than their TTL: keep the old app frozen, not deleted",
            human(longest)
        ),
    ));
    if let Some(n) = observed.source_machines.filter(|n| *n > 0) {
        findings.push(finding(
            "source-running",
            Severity::Warning,
            format!("the old app still has {n} machine(s) on Fly: freeze it first (scaled to zero), so visitors on cached DNS fail over instead of writing to the old database"),
        ));
    }
    Ok(Planned { actions, findings })
}

/// octoDNS's rule: refuse to update or delete more than a share of a zone
/// of ten or more records, unless forced.
fn check_thresholds(options: &Options, observed: &Observed, changes: &[(&Wanted, Option<&DnsRrset>)]) -> Result<(), StepError> {
    let size = observed.zone_size;
    if options.force || size < options::MIN_EXISTING {
        return Ok(());
    }
    let updates = changes.iter().filter(|(_, c)| c.is_some()).count();
    let pct = updates as f64 * 100.0 / f64::from(size);
    if pct > options.max_update_pct {
        return Err(StepError::PreconditionFailed(Problem {
            message: format!(
                "the cutover would update {updates} of the zone's {size} records ({pct:.1}%, over the {:.0}% limit): pass force=true if that is what you want",
                options.max_update_pct
            ),
            location: None,
        }));
    }
    Ok(())
}

fn lower_ttl(zone: &str, current: &DnsRrset, ttl: u32) -> Action {
    let lowered = DnsRrset { ttl, ..current.clone() };
    Action {
        id: format!("dns:lower-ttl:{}:{}", current.name, current.rtype),
        summary: format!("lower the TTL of {} {} from {} s to {ttl} s", current.name, current.rtype, current.ttl),
        risk: Risk::Safe,
        operation: Operation::Dns(DnsOp::Change(DnsChange { zone: zone.into(), expected: Some(current.clone()), new: Some(lowered) })),
        undo: Undo::RestorePrevious,
        detail: Some(format!("{} -> {} (values unchanged)", describe(Some(current)), describe(Some(&DnsRrset { ttl, ..current.clone() })))),
    }
}

fn wait_out(name: &str, ttl: u32) -> Action {
    Action {
        id: format!("dns:wait-ttl:{name}"),
        summary: format!("wait {} for resolvers to drop {name}'s old {ttl} s TTL", human(ttl)),
        risk: Risk::Safe,
        operation: Operation::Control(ControlOp::WaitMs(u64::from(ttl) * 1000)),
        undo: Undo::RestorePrevious,
        detail: None,
    }
}

fn tls_check(address: &str, name: &str, min_days: u32) -> Action {
    Action {
        id: format!("tls:{name}"),
        summary: format!("check that {address} serves a valid certificate for {name} (at least {min_days} days left)"),
        risk: Risk::Safe,
        operation: Operation::Dns(DnsOp::TlsCheck(TlsCheck { address: address.into(), server_name: name.into(), min_days_left: min_days })),
        undo: Undo::RestorePrevious,
        detail: Some("A TLS handshake with SNI against the new host itself, before any record points there.".into()),
    }
}

fn approval(what: &str) -> Action {
    Action {
        id: "dns:approve-switch".into(),
        summary: format!("approve the switch: {what}"),
        risk: Risk::Safe,
        operation: Operation::Control(ControlOp::Approval(format!("switch DNS: {what}"))),
        undo: Undo::RestorePrevious,
        detail: None,
    }
}

fn change(zone: &str, expected: Option<DnsRrset>, new: DnsRrset) -> Action {
    Action {
        id: format!("dns:switch:{}:{}", new.name, new.rtype),
        summary: format!("point {} {}: {} -> {}", new.name, new.rtype, describe(expected.as_ref()), describe(Some(&new))),
        risk: Risk::Disruptive,
        detail: Some(
            "Changed only if the record still holds what this plan saw (compare-and-swap); undone by restoring exactly the previous values and TTL.".into(),
        ),
        operation: Operation::Dns(DnsOp::Change(DnsChange { zone: zone.into(), expected, new: Some(new) })),
        undo: Undo::RestorePrevious,
    }
}

fn verify(zone: &str, expected: DnsRrset, previous_ttl: u32, timeout_ms: u64) -> Action {
    Action {
        id: format!("dns:verify:{}:{}", expected.name, expected.rtype),
        summary: format!("wait until every authoritative server answers {} {} {}", expected.name, expected.rtype, expected.values.join(",")),
        risk: Risk::Safe,
        operation: Operation::Dns(DnsOp::Verify(DnsVerify { zone: zone.into(), expected, previous_ttl, timeout_ms })),
        undo: Undo::RestorePrevious,
        detail: None,
    }
}

/// `198.51.100.1 (ttl 3600)`, or `none`.
pub fn describe(r: Option<&DnsRrset>) -> String {
    match r {
        Some(r) => format!("{} (ttl {})", r.values.join(","), r.ttl),
        None => "none".into(),
    }
}

fn human(secs: u32) -> String {
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn finding(code: &str, severity: Severity, message: String) -> Finding {
    Finding { code: code.into(), severity, message, location: None }
}

fn unique<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}
