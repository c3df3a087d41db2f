//! RFC 2136 + TSIG against real Knot, BIND and PowerDNS servers on
//! loopback: the same scenarios on each.

mod support;

use ferry_dns::{DnsError, DnsProvider, RRset, RecordType, Rfc2136, Secret, TsigAlgorithm, TsigKey};
use support::servers::{KEY_NAME, Kind, SECRET, Server, WRONG_SECRET, wrong_key, zone};
use support::{name, rrset};

/// The plan's view of `app` in the default zone.
fn app_as_planned() -> RRset {
    rrset("app", RecordType::A, 300, &["192.0.2.10", "192.0.2.11"])
}

/// Read, lower the TTL, switch, then undo: each step a CAS on the previous
/// one, and the undo restores the exact values and TTL.
fn read_switch_and_undo(kind: Kind) {
    let server = Server::with_defaults(kind);
    let dns = server.rfc2136();
    let zone = zone();
    let before = dns.read(&zone, &name("app"), &RecordType::A).unwrap().expect("app exists");
    assert_eq!(before, app_as_planned());

    let lowered = before.with_ttl(60).unwrap();
    dns.replace(&zone, Some(&before), &lowered).unwrap();
    assert_eq!(dns.read(&zone, &name("app"), &RecordType::A).unwrap(), Some(lowered.clone()));

    let switched = rrset("app", RecordType::A, 60, &["198.51.100.20"]);
    dns.replace(&zone, Some(&lowered), &switched).unwrap();
    assert_eq!(dns.read(&zone, &name("app"), &RecordType::A).unwrap(), Some(switched.clone()));
    assert_eq!(server.dig("app.example.test", "A"), ["198.51.100.20"]);

    dns.replace(&zone, Some(&switched), &before).unwrap();
    assert_eq!(dns.read(&zone, &name("app"), &RecordType::A).unwrap(), Some(before));
    assert_eq!(server.dig("app.example.test", "A"), ["192.0.2.10", "192.0.2.11"]);
}

/// Another client changes the record between our read and our write: the
/// write is refused, names what is there now, and changes nothing. Checked
/// both for `replace` (caught by its read) and for the server-side
/// prerequisite alone (`compare_and_swap`), which is what closes the race.
fn refuses_a_record_that_moved(kind: Kind) {
    let server = Server::with_defaults(kind);
    let ours = server.rfc2136();
    let theirs = server.rfc2136();
    let zone = zone();
    let planned = ours.read(&zone, &name("app"), &RecordType::A).unwrap().unwrap();

    let their_edit = rrset("app", RecordType::A, 300, &["203.0.113.7"]);
    theirs.replace(&zone, Some(&planned), &their_edit).unwrap();

    let wanted = rrset("app", RecordType::A, 60, &["198.51.100.20"]);
    for attempt in [ours.replace(&zone, Some(&planned), &wanted), ours.compare_and_swap(&zone, &name("app"), &RecordType::A, Some(&planned), Some(&wanted))] {
        match attempt {
            Err(DnsError::Conflict { found, expected, .. }) => {
                assert_eq!(found.as_deref(), Some(&their_edit));
                assert_eq!(expected.as_deref(), Some(&planned));
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    let message = ours.replace(&zone, Some(&planned), &wanted).unwrap_err().to_string();
    assert!(message.contains("203.0.113.7") && message.contains("nothing was changed"), "{message}");
    assert_eq!(ours.read(&zone, &name("app"), &RecordType::A).unwrap(), Some(their_edit.clone()));
    assert_eq!(server.dig("app.example.test", "A"), ["203.0.113.7"]);

    // A TTL-only edit is a change too (prerequisites cannot see it; the
    // read before the update does).
    let their_ttl = their_edit.with_ttl(30).unwrap();
    theirs.replace(&zone, Some(&their_edit), &their_ttl).unwrap();
    assert!(matches!(
        ours.replace(&zone, Some(&their_edit), &wanted),
        Err(DnsError::Conflict { found: Some(found), .. }) if *found == their_ttl
    ));
}

/// `expected = None` means "must not exist", checked by the server too.
fn creates_only_what_is_absent(kind: Kind) {
    let server = Server::with_defaults(kind);
    let dns = server.rfc2136();
    let zone = zone();
    let txt = rrset("_ferry", RecordType::TXT, 120, &["\"cutover 1\" \"caf\u{e9}\"", "plain"]);
    assert_eq!(dns.read(&zone, txt.name(), &RecordType::TXT).unwrap(), None);
    dns.replace(&zone, None, &txt).unwrap();
    assert_eq!(dns.read(&zone, txt.name(), &RecordType::TXT).unwrap(), Some(txt.clone()));
    assert_eq!(server.dig("_ferry.example.test", "TXT"), ["\"cutover 1\" \"caf\\195\\169\"", "\"plain\""]);

    let other = rrset("_ferry", RecordType::TXT, 120, &["\"someone else\""]);
    for attempt in [dns.replace(&zone, None, &other), dns.compare_and_swap(&zone, txt.name(), &RecordType::TXT, None, Some(&other))] {
        assert!(matches!(&attempt, Err(DnsError::Conflict { found: Some(found), .. }) if **found == txt), "{attempt:?}");
    }
    assert_eq!(dns.read(&zone, txt.name(), &RecordType::TXT).unwrap(), Some(txt));
}

/// A delete names what it removes and is refused if that moved.
fn deletes_with_cas(kind: Kind) {
    let server = Server::with_defaults(kind);
    let dns = server.rfc2136();
    let zone = zone();
    let stale = rrset("app", RecordType::A, 300, &["192.0.2.10"]);
    assert!(matches!(dns.delete(&zone, &stale), Err(DnsError::Conflict { .. })));
    assert!(matches!(dns.compare_and_swap(&zone, &name("app"), &RecordType::A, Some(&stale), None), Err(DnsError::Conflict { .. })));
    assert_eq!(dns.read(&zone, &name("app"), &RecordType::A).unwrap(), Some(app_as_planned()));

    dns.delete(&zone, &app_as_planned()).unwrap();
    assert_eq!(dns.read(&zone, &name("app"), &RecordType::A).unwrap(), None);
    assert!(server.dig("app.example.test", "A").is_empty());
    assert!(matches!(dns.delete(&zone, &app_as_planned()), Err(DnsError::Conflict { found: None, .. })));
}

/// A wrong secret or an unknown key name is reported as a key problem,
/// without the secret, and changes nothing.
fn wrong_tsig_key_is_named(kind: Kind) {
    let server = Server::with_defaults(kind);
    let zone = zone();
    let wanted = rrset("app", RecordType::A, 60, &["198.51.100.20"]);
    let unknown = TsigKey::new("nobody", TsigAlgorithm::HmacSha256, &Secret::new(SECRET)).unwrap();
    for (key, key_name) in [(wrong_key(), KEY_NAME), (unknown, "nobody")] {
        let dns = Rfc2136::new(server.addr, key);
        for result in [
            dns.compare_and_swap(&zone, &name("app"), &RecordType::A, Some(&app_as_planned()), Some(&wanted)),
            dns.replace(&zone, Some(&app_as_planned()), &wanted),
        ] {
            let error = result.unwrap_err();
            assert!(matches!(error, DnsError::TsigRejected { .. }), "{error:?}");
            let message = error.to_string();
            assert!(
                message.contains(&format!("the server rejected the TSIG key `{key_name}.`")) && message.contains("check the key name and secret"),
                "{message}"
            );
            assert!(!message.contains(SECRET) && !message.contains(WRONG_SECRET), "{message}");
            assert!(!format!("{error:?}").contains(WRONG_SECRET));
        }
    }
    let dns = server.rfc2136();
    assert_eq!(dns.read(&zone, &name("app"), &RecordType::A).unwrap(), Some(app_as_planned()));
    assert!(!format!("{dns:?}").contains(SECRET));
}

/// AXFR with the key lists the zone (without the SOA).
fn lists_the_zone(kind: Kind) {
    let server = Server::with_defaults(kind);
    let records = server.rfc2136().zone_records(&zone()).unwrap();
    let mut shown: Vec<String> = records.iter().map(ToString::to_string).collect();
    shown.sort();
    assert_eq!(
        shown,
        [
            "app.example.test. 300 A 192.0.2.10, 192.0.2.11",
            "example.test. 300 NS ns1.example.test.",
            "ns1.example.test. 300 A 127.0.0.1",
            "txt.example.test. 300 TXT \"hello world\" \"two\"",
            "www.example.test. 300 CNAME app.example.test.",
        ],
        "{}",
        server.log()
    );
}

macro_rules! suite {
    ($module:ident, $kind:expr) => {
        mod $module {
            #[test]
            fn read_switch_and_undo() {
                super::read_switch_and_undo($kind)
            }
            #[test]
            fn refuses_a_record_that_moved() {
                super::refuses_a_record_that_moved($kind)
            }
            #[test]
            fn creates_only_what_is_absent() {
                super::creates_only_what_is_absent($kind)
            }
            #[test]
            fn deletes_with_cas() {
                super::deletes_with_cas($kind)
            }
            #[test]
            fn wrong_tsig_key_is_named() {
                super::wrong_tsig_key_is_named($kind)
            }
            #[test]
            fn lists_the_zone() {
                super::lists_the_zone($kind)
            }
            #[test]
            fn lists_a_zone_of_many_messages() {
                super::lists_a_zone_of_many_messages($kind)
            }
        }
    };
}

suite!(knot, super::Kind::Knot);
suite!(bind, super::Kind::Bind);
suite!(powerdns, super::Kind::PowerDns);

/// A zone too big for one AXFR message: every message's TSIG is checked,
/// chained to the previous one (RFC 8945 §5.3.1).
fn lists_a_zone_of_many_messages(kind: Kind) {
    let filler = "x".repeat(200);
    let records: String = (0..2000).map(|i| format!("host{i} 300 IN TXT \"{filler}\"\n")).collect();
    let server = Server::start(kind, &records);
    let listed = server.rfc2136().zone_records(&zone()).unwrap();
    // 2000 TXT RRsets, the apex NS and ns1's address.
    assert_eq!(listed.len(), 2002);
}
