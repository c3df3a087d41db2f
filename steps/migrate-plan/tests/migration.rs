//! The migration's preflight checks and phases on a real fly.toml (read by
//! the inventory) and app states shaped like the Machines API's.

use ferry_migrate::migration::{App, Observed, Options, Read, Zone, phases, preflight};
use ferry_step_sdk::host::fly::{CertificateInfo, IpInfo, MachineInfo, VolumeInfo};
use ferry_step_sdk::types::{AppSpec, CheckoutOp, ControlOp, DnsOp, DnsRrset, Finding, FlyOp, Operation, Severity, Undo};
use serde_json::{Value, json};

/// Two groups: web serves HTTP, worker mounts a volume and serves nothing.
const SHOP: &str = r#"
app = "shop"
primary_region = "ams"
[processes]
  web = "bin/web"
  worker = "bin/worker"
[mounts]
  source = "shop_data"
  destination = "/data"
  processes = ["worker"]
[http_service]
  internal_port = 8080
  processes = ["web"]
  [[http_service.checks]]
    interval = "1s"
    timeout = "1s"
    path = "/healthz"
"#;

const IMAGE: &str = "registry.fly.io/shop:deployment-01";

fn app(toml: &str) -> AppSpec {
    ferry_inventory::inventory(&ferry_inventory::MemoryFiles::fly_toml(toml), None).unwrap_or_else(|e| panic!("{e:?}"))
}

fn machine(id: &str, group: &str, image: &str) -> MachineInfo {
    MachineInfo {
        id: id.into(),
        name: format!("shop-{id}"),
        state: "started".into(),
        region: "ams".into(),
        image: image.into(),
        process_group: Some(group.into()),
        metadata: vec![("fly_platform_version".into(), "v2".into()), ("fly_process_group".into(), group.into())],
        config: json!({"image": image}).to_string(),
        cordoned: false,
    }
}

fn source() -> App {
    App {
        machines: vec![machine("w1", "web", IMAGE), machine("w2", "web", IMAGE), machine("k1", "worker", IMAGE)],
        volumes: vec![VolumeInfo { id: "vol_1".into(), name: "shop_data".into(), region: "ams".into(), size_gb: 3, attached_machine: Some("k1".into()) }],
        secrets: vec!["SECRET_KEY_BASE".into(), "DATABASE_URL".into()],
        ips: vec![],
        certificates: vec![CertificateInfo { hostname: "shop.example.com".into(), status: "active".into() }],
    }
}

fn options(extra: &[(&str, &str)]) -> Options {
    let mut params: Vec<(String, String)> = [("id", "mig-1"), ("to", "shop-v2"), ("provided-secrets", "DATABASE_URL,SECRET_KEY_BASE")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Options::from_params(Some(&app(SHOP)), &params).unwrap()
}

fn errors(findings: &[Finding]) -> Vec<String> {
    findings.iter().filter(|f| f.severity == Severity::Error).map(|f| format!("{}: {}", f.code, f.message)).collect()
}

fn fresh() -> Observed {
    Observed { source: Read::Found(source()), target: Read::Missing }
}

#[test]
fn a_sound_app_passes_every_check_and_says_what_was_checked() {
    let checks = preflight::checks(&app(SHOP), &fresh(), &options(&[]));
    assert!(errors(&checks).is_empty(), "{:?}", errors(&checks));
    let codes: Vec<&str> = checks.iter().map(|f| f.code.as_str()).collect();
    for code in ["source-app", "target-app", "region", "images", "volumes", "secrets", "certificates", "services"] {
        assert!(codes.contains(&format!("preflight-{code}").as_str()), "{code} missing from {codes:?}");
    }
}

#[test]
fn each_failing_check_says_why_and_what_to_do() {
    let cases: Vec<(&str, Observed, Options, &str)> = vec![
        ("source missing", Observed { source: Read::Missing, target: Read::Missing }, options(&[]), "app shop does not exist on Fly"),
        ("deploy token", Observed { source: Read::Found(source()), target: Read::Denied("403".into()) }, options(&[]), "needs an organization token"),
        ("name taken", Observed { source: Read::Found(source()), target: Read::Found(App::default()) }, options(&[]), "app shop-v2 exists already"),
        ("unknown region", fresh(), options(&[("region", "xyz")]), "unknown Fly region(s): xyz"),
        ("secret without value", fresh(), options(&[("provided-secrets", "DATABASE_URL")]), "Set FERRY_SECRET_SECRET_KEY_BASE"),
        ("hostname outside the zone", fresh(), options(&[("dns-zone", "other.org")]), "shop.example.com is not in the zone other.org"),
    ];
    for (case, observed, options, message) in cases {
        let failed = errors(&preflight::checks(&app(SHOP), &observed, &options));
        assert!(failed.iter().any(|e| e.contains(message)), "{case}: expected `{message}` in {failed:?}");
    }
}

#[test]
fn machines_on_different_images_or_outside_apps_v2_fail() {
    let mut two_images = source();
    two_images.machines[1].image = "registry.fly.io/shop:deployment-02".into();
    let failed = errors(&preflight::checks(&app(SHOP), &Observed { source: Read::Found(two_images), target: Read::Missing }, &options(&[])));
    assert!(failed.iter().any(|e| e.contains("run 2 images") && e.contains("deployment-02 (w2)")), "{failed:?}");

    let mut unmanaged = source();
    unmanaged.machines[2].metadata.clear();
    unmanaged.machines[2].process_group = None;
    let failed = errors(&preflight::checks(&app(SHOP), &Observed { source: Read::Found(unmanaged), target: Read::Missing }, &options(&[])));
    assert!(failed.iter().any(|e| e.contains("k1 are outside Apps V2")), "{failed:?}");
}

#[test]
fn a_service_naming_an_undefined_group_fails() {
    let toml = SHOP.replace("processes = [\"web\"]", "processes = [\"webb\"]");
    let failed = errors(&preflight::checks(&app(&toml), &fresh(), &options(&[])));
    assert!(failed.iter().any(|e| e.contains("names process group `webb`")), "{failed:?}");
}

fn ops(planned: &phases::Planned) -> Vec<&Operation> {
    planned.actions.iter().map(|a| &a.operation).collect()
}

#[test]
fn prepare_builds_the_new_app_and_touches_nothing_of_the_source() {
    let planned = phases::prepare(&app(SHOP), &source(), &options(&[]));
    let ids: Vec<&str> = planned.actions.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["app:shop-v2", "edit-config:fly.toml:app", "secrets:shop-v2", "ip:v6", "ip:shared_v4", "certificate:shop.example.com"]);
    let Operation::Fly(FlyOp::SetSecrets(s)) = &planned.actions[2].operation else { panic!() };
    assert_eq!(s.names, ["DATABASE_URL", "SECRET_KEY_BASE"]);
    for op in ops(&planned) {
        let app = match op {
            Operation::Fly(FlyOp::CreateApp(a)) => a.name.clone(),
            Operation::Fly(FlyOp::SetSecrets(s)) => s.app.clone(),
            Operation::Fly(FlyOp::AllocateIp(ip)) => ip.app.clone(),
            Operation::Fly(FlyOp::AddCertificate(c)) => c.app.clone(),
            Operation::Checkout(CheckoutOp::EditConfig(e)) => {
                assert_eq!(e.value.as_deref(), Some("\"shop-v2\""));
                continue;
            }
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(app, "shop-v2");
    }
    assert!(planned.actions.iter().all(|a| matches!(a.undo, Undo::RestorePrevious)));
}

#[test]
fn prepare_moves_the_primary_region_and_makes_volumes_no_data_fills() {
    let mut empty = source();
    empty.volumes.clear();
    let planned = phases::prepare(&app(SHOP), &empty, &options(&[("region", "fra")]));
    let region = planned.actions.iter().find(|a| a.id == "edit-config:fly.toml:primary_region").expect("primary_region edited");
    let Operation::Checkout(CheckoutOp::EditConfig(e)) = &region.operation else { panic!() };
    assert_eq!(e.value.as_deref(), Some("\"fra\""));
    let Some(Operation::Fly(FlyOp::CreateVolume(v))) = ops(&planned).into_iter().find(|o| matches!(o, Operation::Fly(FlyOp::CreateVolume(_)))) else {
        panic!("no volume")
    };
    assert_eq!((v.name.as_str(), v.region.as_str(), v.app.as_str()), ("shop_data", "fra", "shop-v2"));
}

#[test]
fn data_stops_the_source_then_copies_each_mounted_volume() {
    let planned = phases::data(&source(), &options(&[]));
    let Operation::Fly(FlyOp::StopMachines(stop)) = &planned.actions[0].operation else { panic!() };
    assert_eq!((stop.app.as_str(), stop.ids.clone()), ("shop", vec!["w1".to_string(), "w2".into(), "k1".into()]));
    let Operation::Fly(FlyOp::CopyVolume(copy)) = &planned.actions[1].operation else { panic!() };
    assert_eq!((copy.source_app.as_str(), copy.source_volume.as_str(), copy.app.as_str(), copy.size_gb), ("shop", "vol_1", "shop-v2", 3));
    assert_eq!(planned.actions.len(), 2);
}

fn target() -> App {
    App {
        volumes: vec![VolumeInfo { id: "vol_9".into(), name: "shop_data".into(), region: "ams".into(), size_gb: 3, attached_machine: None }],
        ips: vec![
            IpInfo { address: "2a09:8280:1::9".into(), kind: "v6".into(), region: "global".into() },
            IpInfo { address: "66.241.124.9".into(), kind: "shared_v4".into(), region: "global".into() },
        ],
        ..App::default()
    }
}

fn created(planned: &phases::Planned, group: &str) -> Vec<(String, Value)> {
    let action = planned.actions.iter().find(|a| a.id == format!("create:{group}")).unwrap_or_else(|| panic!("no create:{group}"));
    let Operation::Fly(FlyOp::CreateMachines(batch)) = &action.operation else { panic!() };
    assert!(batch.wait.health, "health-gated");
    batch.machines.iter().map(|m| (m.region.clone(), serde_json::from_str(&m.config).unwrap())).collect()
}

#[test]
fn finalize_deploys_two_web_machines_across_regions_and_a_worker_that_restarts_always() {
    let planned = phases::finalize(&app(SHOP), &source(), &target(), None, &options(&[("regions", "ams,fra")])).unwrap();
    let web = created(&planned, "web");
    assert_eq!(web.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>(), ["ams", "fra"]);
    assert_eq!(web[0].1["image"], IMAGE);
    assert!(web[0].1.get("restart").is_none_or(|r| r["policy"] != "always"));
    let worker = created(&planned, "worker");
    assert_eq!(worker.len(), 1, "one machine per copied volume");
    assert_eq!(worker[0].1["restart"]["policy"], "always");
    assert_eq!(worker[0].1["mounts"][0]["name"], "shop_data");
    let dns = planned.findings.iter().find(|f| f.code == "dns-by-hand").expect("records listed without a zone");
    assert!(dns.message.contains("shop.example.com. A 66.241.124.9") && dns.message.contains("AAAA 2a09:8280:1::9"), "{}", dns.message);
    let stops: Vec<&str> = planned.actions.iter().filter(|a| matches!(a.operation, Operation::Fly(FlyOp::StopMachines(_)))).map(|a| a.id.as_str()).collect();
    assert_eq!(stops, ["stop:shop"], "a source still running (no data phase) is stopped after the switch");
}

#[test]
fn finalize_switches_the_hostnames_records_in_the_zone() {
    let old = |rtype: &str, value: &str| Some(DnsRrset { name: "shop.example.com.".into(), rtype: rtype.into(), ttl: 300, values: vec![value.into()] });
    let zone = Zone { current: vec![old("A", "66.241.124.1"), old("AAAA", "2a09:8280:1::1")], size: 4 };
    let mut stopped = source();
    stopped.machines.iter_mut().for_each(|m| m.state = "stopped".into());
    let planned = phases::finalize(&app(SHOP), &stopped, &target(), Some(&zone), &options(&[("dns-zone", "example.com")])).unwrap();
    let changes: Vec<(String, Vec<String>)> = ops(&planned)
        .into_iter()
        .filter_map(|o| match o {
            Operation::Dns(DnsOp::Change(c)) => c.new.as_ref().map(|n| (n.rtype.clone(), n.values.clone())),
            _ => None,
        })
        .collect();
    // The cutover planner lowers a long TTL first (old values kept), then switches.
    let (lowered, switched) = changes.split_at(changes.len() - 2);
    assert_eq!(switched, [("A".to_string(), vec!["66.241.124.9".to_string()]), ("AAAA".into(), vec!["2a09:8280:1::9".into()])]);
    assert!(lowered.iter().all(|(_, v)| v[0].ends_with("::1") || v[0].ends_with(".1")), "{lowered:?}");
    assert!(!planned.actions.iter().any(|a| matches!(a.operation, Operation::Fly(FlyOp::StopMachines(_)))), "the source is stopped already");
    // Traffic moves only once the new app's certificate is issued, and the
    // wait comes first: a certificate not ready costs no deploy to undo.
    let Operation::Fly(FlyOp::WaitCertificate(wait)) = &planned.actions[0].operation else { panic!("{:?}", planned.actions[0]) };
    assert_eq!((wait.app.as_str(), wait.hostname.as_str()), ("shop-v2", "shop.example.com"));
    let first_dns = planned.actions.iter().position(|a| matches!(a.operation, Operation::Dns(DnsOp::Change(_)))).unwrap();
    assert!(first_dns > 0);
}

#[test]
fn preflight_warns_about_a_certificate_the_rest_api_reports_pending() {
    let mut pending = source();
    pending.certificates[0].status = "pending_ownership".into();
    let observed = Observed { source: Read::Found(pending), target: Read::Missing };
    let checks = preflight::checks(&app(SHOP), &observed, &options(&[]));
    assert!(checks.iter().any(|f| f.severity == Severity::Warning && f.message.contains("`pending_ownership`")), "{checks:?}");
    let quiet = preflight::checks(&app(SHOP), &fresh(), &options(&[]));
    assert!(!quiet.iter().any(|f| f.severity == Severity::Warning && f.code.contains("certificates")), "`active` is issued: {quiet:?}");
}

#[test]
fn decommission_waits_for_an_approval_and_is_irreversible() {
    let planned = phases::decommission(&source(), &options(&[]));
    assert!(matches!(planned.actions[0].operation, Operation::Control(ControlOp::Approval(_))));
    assert!(matches!(&planned.actions[1].operation, Operation::Fly(FlyOp::DestroyApp(app)) if app == "shop"));
    assert!(matches!(planned.actions[1].undo, Undo::None(_)));
}
