//! The cutover planner: what each phase proposes for zones in given states.

use ferry_cutover::{Observed, Options, plan};
use ferry_step_sdk::types::{ControlOp, DnsOp, DnsRrset, Operation, StepError, Undo};

fn options(extra: &[(&str, &str)]) -> Options {
    let mut params: Vec<(String, String)> = vec![("zone".into(), "example.com".into()), ("records".into(), "shop.example.com A 203.0.113.7".into())];
    params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Options::from_params(&params).unwrap()
}

fn a(values: &[&str], ttl: u32) -> DnsRrset {
    DnsRrset { name: "shop.example.com.".into(), rtype: "A".into(), ttl, values: values.iter().map(|v| v.to_string()).collect() }
}

fn observed(current: Option<DnsRrset>, zone_size: u32) -> Observed {
    Observed { current: vec![current], zone_size, source_machines: Some(0) }
}

fn ids(p: &ferry_cutover::Planned) -> Vec<&str> {
    p.actions.iter().map(|a| a.id.as_str()).collect()
}

#[test]
fn prepare_lowers_the_ttl_and_says_when_to_switch() {
    let p = plan("prepare", &options(&[]), &observed(Some(a(&["198.51.100.1"], 3600)), 4)).unwrap();
    assert_eq!(ids(&p), ["dns:lower-ttl:shop.example.com.:A"]);
    let Operation::Dns(DnsOp::Change(c)) = &p.actions[0].operation else { panic!() };
    assert_eq!(c.expected.as_ref().unwrap().ttl, 3600);
    assert_eq!((c.new.as_ref().unwrap().ttl, c.new.as_ref().unwrap().values.clone()), (60, vec!["198.51.100.1".to_string()]));
    assert!(matches!(p.actions[0].undo, Undo::RestorePrevious));
    assert!(p.findings.iter().any(|f| f.code == "switch-after" && f.message.contains("3600 s (1 h)")));
}

#[test]
fn the_switch_checks_tls_then_swaps_then_verifies() {
    let p = plan("finalize", &options(&[]), &observed(Some(a(&["198.51.100.1"], 60)), 4)).unwrap();
    assert_eq!(ids(&p), ["tls:shop.example.com", "dns:switch:shop.example.com.:A", "dns:verify:shop.example.com.:A"]);
    let Operation::Dns(DnsOp::TlsCheck(t)) = &p.actions[0].operation else { panic!() };
    assert_eq!((t.address.as_str(), t.server_name.as_str()), ("203.0.113.7:443", "shop.example.com"));
    let Operation::Dns(DnsOp::Change(c)) = &p.actions[1].operation else { panic!() };
    assert_eq!(format!("{:?}", c.expected), format!("{:?}", Some(a(&["198.51.100.1"], 60))), "compare-and-swap against what the plan saw");
    assert_eq!(format!("{:?}", c.new), format!("{:?}", Some(a(&["203.0.113.7"], 300))));
    assert!(p.actions[1].summary.contains("198.51.100.1 (ttl 60) -> 203.0.113.7 (ttl 300)"), "{}", p.actions[1].summary);
    let Operation::Dns(DnsOp::Verify(v)) = &p.actions[2].operation else { panic!() };
    assert_eq!(v.previous_ttl, 60);
}

#[test]
fn a_ttl_not_lowered_ahead_is_lowered_and_waited_out_first() {
    let p = plan("finalize", &options(&[("tls", "false")]), &observed(Some(a(&["198.51.100.1"], 600)), 4)).unwrap();
    assert_eq!(
        ids(&p),
        ["dns:lower-ttl:shop.example.com.:A", "dns:wait-ttl:shop.example.com.", "dns:switch:shop.example.com.:A", "dns:verify:shop.example.com.:A"]
    );
    assert!(matches!(p.actions[1].operation, Operation::Control(ControlOp::WaitMs(600_000))));
    let Operation::Dns(DnsOp::Change(c)) = &p.actions[2].operation else { panic!() };
    assert_eq!(c.expected.as_ref().unwrap().ttl, 60, "the switch expects the lowered TTL");
    assert!(p.findings.iter().any(|f| f.code == "ttl-not-lowered"));
}

#[test]
fn an_approval_gate_sits_right_before_the_switch() {
    let p = plan("finalize", &options(&[("tls", "false"), ("approve", "true")]), &observed(Some(a(&["198.51.100.1"], 60)), 4)).unwrap();
    assert_eq!(ids(&p)[0], "dns:approve-switch");
    assert!(matches!(&p.actions[0].operation, Operation::Control(ControlOp::Approval(m)) if m.contains("shop.example.com. A -> 203.0.113.7")));
}

#[test]
fn a_record_already_switched_plans_nothing() {
    let p = plan("finalize", &options(&[]), &observed(Some(a(&["203.0.113.7"], 300)), 4)).unwrap();
    assert!(p.actions.is_empty());
}

#[test]
fn changing_too_much_of_a_zone_needs_force() {
    let mut params = vec![("zone".to_string(), "example.com".to_string())];
    let records: Vec<String> = (0..4).map(|i| format!("h{i}.example.com A 203.0.113.{i}")).collect();
    params.push(("records".into(), records.join("; ")));
    params.push(("tls".into(), "false".into()));
    let o = Options::from_params(&params).unwrap();
    let current =
        (0..4).map(|i| Some(DnsRrset { name: format!("h{i}.example.com."), rtype: "A".into(), ttl: 60, values: vec!["198.51.100.9".into()] })).collect();
    let zone = Observed { current, zone_size: 10, source_machines: None };
    let err = plan("finalize", &o, &zone).unwrap_err();
    let StepError::PreconditionFailed(p) = err else { panic!("{err:?}") };
    assert!(p.message.contains("update 4 of the zone's 10 records (40.0%, over the 30% limit)"), "{}", p.message);
    params.push(("force".into(), "true".into()));
    assert!(plan("finalize", &Options::from_params(&params).unwrap(), &zone).is_ok());
}

#[test]
fn a_running_source_is_flagged() {
    let zone = Observed { current: vec![Some(a(&["198.51.100.1"], 60))], zone_size: 4, source_machines: Some(2) };
    let p = plan("finalize", &options(&[]), &zone).unwrap();
    assert!(p.findings.iter().any(|f| f.code == "source-running" && f.message.contains("2 machine(s)")));
}

#[test]
fn records_are_validated() {
    let bad = |records: &str| Options::from_params(&[("zone".into(), "example.com".into()), ("records".into(), records.into())]).unwrap_err();
    assert!(format!("{:?}", bad("shop.example.com A")).contains("must be `NAME TYPE VALUE"));
    assert!(format!("{:?}", bad("shop.other.org A 1.2.3.4")).contains("is not in zone example.com."));
    assert!(format!("{:?}", bad("shop.example.com TXT hello")).contains("A, AAAA or CNAME"));
    assert!(format!("{:?}", bad("www.example.com CNAME a.example.com,b.example.com")).contains("exactly one target"));
}
