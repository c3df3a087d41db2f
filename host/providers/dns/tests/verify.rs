//! Verification against two real authoritative servers that disagree:
//! Knot got the update, BIND still has the old copy of the zone (a
//! secondary that has not caught up).

mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use ferry_dns::verify::{self, Answer};
use ferry_dns::{DnsProvider, Name, RecordType};
use support::servers::{Kind, Server, zone};
use support::{name, rrset};

/// A loopback port with nothing listening.
fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}

#[test]
fn says_which_servers_serve_the_new_value() {
    let knot = Server::with_defaults(Kind::Knot);
    let bind = Server::with_defaults(Kind::Bind);
    let old = rrset("app", RecordType::A, 300, &["192.0.2.10", "192.0.2.11"]);
    let new = rrset("app", RecordType::A, 60, &["198.51.100.20"]);
    knot.rfc2136().replace(&zone(), Some(&old), &new).unwrap();
    let dead = closed_port();

    let report = verify::authoritative(&zone(), &name("app"), &RecordType::A, Some(&new), &[knot.addr, bind.addr, dead]);
    assert!(!report.all_current());
    assert_eq!(report.current(), [knot.addr]);
    assert_eq!(report.lagging(), [bind.addr, dead]);
    assert_eq!(report.servers[0].answer, Answer::Current { ttl: Some(60) });
    assert_eq!(report.servers[0].serial, Some(2), "Knot bumped the serial");
    assert_eq!(report.servers[1].answer, Answer::Stale { found: Some(old.clone()) });
    assert_eq!(report.servers[1].serial, Some(1));
    assert!(matches!(&report.servers[2].answer, Answer::Failed { reason } if reason.contains("refused")), "{report}");
    let shown = report.to_string();
    assert!(shown.contains(&format!("{}: serves the new app.example.test. A with TTL 60, serial 2", knot.addr)), "{shown}");
    assert!(shown.contains(&format!("{}: still serves `{old}`, serial 1", bind.addr)), "{shown}");

    // Once BIND has it too, everyone is current.
    bind.rfc2136().replace(&zone(), Some(&old), &new).unwrap();
    let report = verify::authoritative(&zone(), &name("app"), &RecordType::A, Some(&new), &[knot.addr, bind.addr]);
    assert!(report.all_current(), "{report}");
}

#[test]
fn a_deletion_and_a_server_that_does_not_serve_the_zone() {
    let knot = Server::with_defaults(Kind::Knot);
    let bind = Server::with_defaults(Kind::Bind);
    let txt = knot.rfc2136().read(&zone(), &name("txt"), &RecordType::TXT).unwrap().unwrap();
    knot.rfc2136().delete(&zone(), &txt).unwrap();

    let report = verify::authoritative(&zone(), &name("txt"), &RecordType::TXT, None, &[knot.addr, bind.addr]);
    assert_eq!(report.servers[0].answer, Answer::Current { ttl: None });
    assert_eq!(report.servers[1].answer, Answer::Stale { found: Some(txt) });

    // BIND does not serve other.test: it refuses rather than answer.
    let other = Name::new("other.test").unwrap();
    let www = Name::new("www.other.test").unwrap();
    let report = verify::authoritative(&other, &www, &RecordType::A, None, &[bind.addr]);
    assert!(matches!(&report.servers[0].answer, Answer::Failed { .. }), "{report}");
    assert_eq!(report.servers[0].serial, None);
}
