//! A DNS cutover through `ferry apply`, against real Knot, BIND and
//! PowerDNS servers on loopback with TSIG, and a TLS server with a
//! certificate from a test CA standing in for the new host.

use std::process::Command;

use ferry_dns::{DnsProvider, RRset, RecordType};

use crate::support::dns_servers::{self as dns, Kind, SECRET};
use crate::support::tls_servers::{Ca, Server as TlsServer};
use crate::support::{checkout, ferry, run};

const OLD: &str = "192.0.2.10";
const NEW: &str = "203.0.113.7";

/// A checkout whose workflow cuts `app.example.test` over to [`NEW`], a
/// DNS server holding the zone, and a TLS server for the name.
struct Cutover {
    dns: dns::Server,
    _tls: TlsServer,
    dir: tempfile::TempDir,
    ca_file: std::path::PathBuf,
    secret: String,
}

impl Cutover {
    fn start(kind: Kind, records: &str, extra_params: &str) -> Self {
        let dns = dns::Server::start(kind, records);
        let ca = Ca::new("ferry test CA");
        let tls = TlsServer::serving(&ca.leaf(&["app.example.test"]));
        let workflow = format!(
            "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"cutover\"\n\
             params = {{ zone = \"example.test\", records = \"app.example.test A {NEW}\", tls-address = \"{}\", verify-timeout = 10{extra_params} }}\n\n\
             [dns.zones.\"example.test.\"]\nprovider = \"rfc2136\"\nserver = \"{}\"\ntsig_key_env = \"FERRY_SECRET_TSIG\"\n",
            tls.address, dns.addr
        );
        let dir = checkout(&[("fly.toml", "app = 'shop'\n"), ("ferry.toml", &workflow)]);
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        Cutover { dns, _tls: tls, dir, ca_file, secret: SECRET.to_string() }
    }

    fn ferry(&self, args: &[&str]) -> Command {
        let mut cmd = ferry(&crate::support::step_cache());
        cmd.env("FERRY_SECRET_TSIG", format!("hmac-sha256:{}:{}", dns::KEY_NAME, self.secret))
            .env("FERRY_TLS_CA_FILE", &self.ca_file)
            .env("FERRY_STATE", self.dir.path().join(".state"))
            .args(args)
            .arg("--dir")
            .arg(self.dir.path());
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = run(&mut self.ferry(args));
        assert_eq!(code, 0, "ferry {args:?}: {out}{err}");
        format!("{out}{err}")
    }

    /// What the server answers for `app` (values, then the TTL), via dig.
    fn app(&self) -> (Vec<String>, u32) {
        let found = self.dns.rfc2136().read(&dns::zone(), &crate::support::dns_name("app"), &RecordType::A).unwrap().unwrap();
        (found.values().to_vec(), found.ttl())
    }
}

fn cut_over_and_back(kind: Kind) {
    let c = Cutover::start(kind, &format!("app 3600 IN A {OLD}\n"), "");
    c.ok(&["apply", "--phase", "prepare", "--run", "cut-1"]);
    assert_eq!(c.app(), (vec![OLD.to_string()], 60), "prepare lowers the TTL only");

    let plan = c.ok(&["plan", "--phase", "finalize", "--format", "md"]);
    assert!(plan.contains(&format!("| app.example.test. | A | {OLD} (ttl 60) | {NEW} (ttl 300) |")), "the diff table: {plan}");
    let report = c.ok(&["apply", "--phase", "finalize", "--run", "cut-1", "--format", "json"]);
    assert_eq!(c.app(), (vec![NEW.to_string()], 300));
    assert!(report.contains("resolvers-may-cache-old-until"), "{report}");
    assert!(report.contains("app.example.test"), "the TLS check names the certificate: {report}");

    c.ok(&["abort", "--yes", "--run", "cut-1"]);
    assert_eq!(c.app(), (vec![OLD.to_string()], 3600), "exactly the previous values and TTL");
    assert_eq!(c.dns.dig("app.example.test.", "A"), [OLD], "what a resolver asking the server sees");
}

#[test]
fn a_cutover_and_its_undo_on_knot() {
    cut_over_and_back(Kind::Knot);
}

#[test]
fn a_cutover_and_its_undo_on_bind() {
    cut_over_and_back(Kind::Bind);
}

#[test]
fn a_cutover_and_its_undo_on_powerdns() {
    cut_over_and_back(Kind::PowerDns);
}

#[test]
fn a_record_that_moved_under_the_plan_is_not_overwritten() {
    let c = Cutover::start(Kind::Knot, &format!("app 60 IN A {OLD}\n"), ", approve = true");
    let out = c.ok(&["apply", "--phase", "finalize", "--run", "cut-2"]);
    assert!(out.contains("approv"), "the apply stops at the gate: {out}");
    // Someone edits the record while the switch waits for approval.
    let theirs = RRset::new(crate::support::dns_name("app"), RecordType::A, 60, ["198.51.100.99"]).unwrap();
    let ours = RRset::new(crate::support::dns_name("app"), RecordType::A, 60, [OLD]).unwrap();
    c.dns.rfc2136().replace(&dns::zone(), Some(&ours), &theirs).unwrap();
    let (code, out, err) = run(&mut c.ferry(&["apply", "--phase", "finalize", "--run", "cut-2", "--approve"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(format!("{out}{err}").contains("198.51.100.99"), "the error names what is there now: {out}{err}");
    assert_eq!(c.app(), (vec!["198.51.100.99".to_string()], 60), "the concurrent edit stands");
}

#[test]
fn changing_too_much_of_the_zone_is_refused_without_force() {
    let mut records = format!("app 60 IN A {OLD}\n");
    for i in 0..9 {
        records.push_str(&format!("h{i} 60 IN A 192.0.2.{}\n", 20 + i));
    }
    let many: Vec<String> = (0..4).map(|i| format!("h{i}.example.test A 203.0.113.{i}")).collect();
    let c = Cutover::start(Kind::Knot, &records, "");
    let workflow = std::fs::read_to_string(c.dir.path().join("ferry.toml")).unwrap();
    let wide = workflow.replace(&format!("records = \"app.example.test A {NEW}\""), &format!("records = \"{}\", tls = false", many.join("; ")));
    std::fs::write(c.dir.path().join("ferry.toml"), &wide).unwrap();
    let (code, out, err) = run(&mut c.ferry(&["plan", "--phase", "finalize"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("update 4 of the zone's"), "{err}");
    std::fs::write(c.dir.path().join("ferry.toml"), wide.replace("tls = false", "tls = false, force = true")).unwrap();
    c.ok(&["plan", "--phase", "finalize"]);
}

#[test]
fn a_wrong_tsig_key_is_named_in_a_clear_error() {
    let mut c = Cutover::start(Kind::Bind, &format!("app 60 IN A {OLD}\n"), "");
    c.secret = dns::WRONG_SECRET.to_string();
    let (code, out, err) = run(&mut c.ferry(&["plan", "--phase", "finalize"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("rejected the TSIG key"), "{err}");
    assert!(!err.contains(dns::WRONG_SECRET), "the secret is never printed");
}

#[test]
fn a_certificate_for_another_name_stops_the_switch() {
    let c = Cutover::start(Kind::Knot, &format!("app 60 IN A {OLD}\n"), "");
    let ca = Ca::new("another CA");
    let wrong = TlsServer::serving(&ca.leaf(&["other.example.test"]));
    std::fs::write(c.ca_file.clone(), ca.pem()).unwrap();
    let workflow = std::fs::read_to_string(c.dir.path().join("ferry.toml")).unwrap();
    let at = workflow.split("tls-address = \"").nth(1).unwrap().split('"').next().unwrap().to_string();
    std::fs::write(c.dir.path().join("ferry.toml"), workflow.replace(&at, &wrong.address.to_string())).unwrap();
    let (code, out, err) = run(&mut c.ferry(&["apply", "--phase", "finalize"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(format!("{out}{err}").contains("other.example.test"), "{out}{err}");
    assert_eq!(c.app(), (vec![OLD.to_string()], 60), "no record changed");
}
