//! The PowerDNS HTTP API provider against a real PowerDNS on loopback.

mod support;

use ferry_dns::{DnsError, DnsProvider, Name, PowerDns, RecordType, Secret};
use support::servers::{API_KEY, Kind, Server, zone};
use support::{name, rrset};

fn api(server: &Server) -> PowerDns {
    PowerDns::new(server.api.as_deref().expect("api url"), Secret::new(API_KEY)).unwrap()
}

fn app() -> ferry_dns::RRset {
    rrset("app", RecordType::A, 300, &["192.0.2.10", "192.0.2.11"])
}

#[test]
fn read_switch_and_undo() {
    let server = Server::with_defaults(Kind::PowerDns);
    let pdns = api(&server);
    let before = pdns.read(&zone(), &name("app"), &RecordType::A).unwrap().unwrap();
    assert_eq!(before, app());

    let lowered = before.with_ttl(60).unwrap();
    pdns.replace(&zone(), Some(&before), &lowered).unwrap();
    let switched = rrset("app", RecordType::A, 60, &["198.51.100.20", "198.51.100.21"]);
    pdns.replace(&zone(), Some(&lowered), &switched).unwrap();
    assert_eq!(pdns.read(&zone(), &name("app"), &RecordType::A).unwrap(), Some(switched.clone()));
    // What resolvers get, and what the RFC 2136 view of the same server says.
    assert_eq!(server.dig("app.example.test", "A"), ["198.51.100.20", "198.51.100.21"]);
    assert_eq!(server.rfc2136().read(&zone(), &name("app"), &RecordType::A).unwrap(), Some(switched.clone()));

    pdns.replace(&zone(), Some(&switched), &before).unwrap();
    assert_eq!(pdns.read(&zone(), &name("app"), &RecordType::A).unwrap(), Some(before));
    assert_eq!(server.dig("app.example.test", "A"), ["192.0.2.10", "192.0.2.11"]);
}

#[test]
fn refuses_a_record_that_moved() {
    let server = Server::with_defaults(Kind::PowerDns);
    let pdns = api(&server);
    let planned = pdns.read(&zone(), &name("app"), &RecordType::A).unwrap().unwrap();
    // Someone else changes it, through the other protocol.
    let their_edit = rrset("app", RecordType::A, 300, &["203.0.113.7"]);
    server.rfc2136().replace(&zone(), Some(&planned), &their_edit).unwrap();

    let wanted = rrset("app", RecordType::A, 60, &["198.51.100.20"]);
    let error = pdns.replace(&zone(), Some(&planned), &wanted).unwrap_err();
    assert!(matches!(&error, DnsError::Conflict { found: Some(found), .. } if **found == their_edit), "{error:?}");
    assert!(error.to_string().contains("203.0.113.7"), "{error}");
    assert!(matches!(pdns.delete(&zone(), &planned), Err(DnsError::Conflict { .. })));
    assert_eq!(pdns.read(&zone(), &name("app"), &RecordType::A).unwrap(), Some(their_edit.clone()));
    assert_eq!(server.dig("app.example.test", "A"), ["203.0.113.7"]);

    // A record that must not exist, but does.
    assert!(matches!(pdns.replace(&zone(), None, &wanted), Err(DnsError::Conflict { found: Some(_), .. })));
}

#[test]
fn deletes_and_lists() {
    let server = Server::with_defaults(Kind::PowerDns);
    let pdns = api(&server);
    let listed = pdns.zone_records(&zone()).unwrap();
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert!(listed.contains(&app()));
    assert!(listed.contains(&rrset("txt", RecordType::TXT, 300, &["\"hello world\" \"two\""])));

    pdns.delete(&zone(), &app()).unwrap();
    assert_eq!(pdns.read(&zone(), &name("app"), &RecordType::A).unwrap(), None);
    assert!(server.dig("app.example.test", "A").is_empty());
    assert_eq!(pdns.zone_records(&zone()).unwrap().len(), 4);

    let txt = rrset("_ferry", RecordType::TXT, 60, &["\"caf\u{e9} \\\"q\\\"\""]);
    pdns.replace(&zone(), None, &txt).unwrap();
    assert_eq!(pdns.read(&zone(), txt.name(), &RecordType::TXT).unwrap(), Some(txt));
}

#[test]
fn api_errors_are_specific() {
    let server = Server::with_defaults(Kind::PowerDns);
    let pdns = api(&server);
    // PowerDNS refuses a CNAME next to other data (422).
    let cname = rrset("app", RecordType::CNAME, 300, &["elsewhere.example.net."]);
    match pdns.replace(&zone(), None, &cname) {
        Err(DnsError::Api { status, message, .. }) => {
            assert_eq!(status, 422);
            assert!(message.to_lowercase().contains("conflict"), "{message}");
        }
        other => panic!("expected a 422, got {other:?}"),
    }
    let unknown = Name::new("unknown.test").unwrap();
    assert!(matches!(pdns.read(&unknown, &unknown, &RecordType::A), Err(DnsError::ZoneNotFound { provider: "powerdns", .. })));
    let outside = rrset("app", RecordType::A, 60, &["192.0.2.1"]);
    assert!(matches!(pdns.replace(&unknown, None, &outside), Err(DnsError::OutOfZone { .. })));

    let wrong = "pdns-wrong-key-0042";
    let bad = PowerDns::new(server.api.as_deref().unwrap(), Secret::new(wrong)).unwrap();
    let error = bad.read(&zone(), &name("app"), &RecordType::A).unwrap_err();
    assert!(matches!(error, DnsError::Unauthorized { status: 401, .. }), "{error:?}");
    for shown in [error.to_string(), format!("{error:?}"), format!("{bad:?}")] {
        assert!(!shown.contains(wrong) && !shown.contains(API_KEY), "{shown}");
    }
    assert!(error.to_string().contains("X-API-Key"), "{error}");
}
