//! `check` against real TLS servers on 127.0.0.1, with certificates made by
//! a test CA.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use ferry_test_support::tls_servers::{Ca, DAY, Server, self_signed, target};
use ferry_tls::{Roots, TlsError, check};
use time::OffsetDateTime;

#[test]
fn a_valid_certificate_is_trusted_and_has_no_problems() {
    let ca = Ca::new("Ferry Test CA");
    let server = Server::serving(&ca.leaf(&["shop.example.com", "www.example.com"]));

    let report = check(&server.target("shop.example.com", Roots::Pem(ca.pem()))).unwrap();

    assert_eq!(report.names, ["shop.example.com", "www.example.com"]);
    assert!(report.matches_name);
    assert_eq!((report.trusted, report.trust_error.as_deref()), (Some(true), None));
    assert_eq!(report.issuer, "CN=Ferry Test CA");
    assert_eq!(report.protocol, "TLSv1.3");
    assert!((29..=30).contains(&report.days_left), "{}", report.days_left);
    assert!(report.not_before < report.checked_at && report.checked_at < report.not_after);
    assert_eq!(report.problems(14), Vec::<String>::new());
}

#[test]
fn a_tls12_only_server_is_checked_too() {
    let ca = Ca::new("Ferry Test CA");
    let server = Server::with_versions(&ca.leaf(&["shop.example.com"]), &[&rustls::version::TLS12]);

    let report = check(&server.target("shop.example.com", Roots::Pem(ca.pem()))).unwrap();

    assert_eq!(report.protocol, "TLSv1.2");
    assert_eq!(report.trusted, Some(true));
    assert!(report.problems(14).is_empty());
}

#[test]
fn a_wildcard_covers_exactly_one_label() {
    let ca = Ca::new("Ferry Test CA");
    let server = Server::serving(&ca.leaf(&["*.example.com"]));
    let check_for = |name| check(&server.target(name, Roots::Pem(ca.pem()))).unwrap();

    let shop = check_for("shop.example.com");
    assert!(shop.matches_name);
    assert_eq!(shop.trusted, Some(true));
    assert!(shop.problems(14).is_empty());

    for name in ["a.b.example.com", "example.com"] {
        let report = check_for(name);
        assert!(!report.matches_name, "{name}");
        // The chain itself is fine: the name problem is reported once, as such.
        assert_eq!(report.trusted, Some(true), "{name}");
        assert_eq!(report.problems(14), [format!("the certificate is for *.example.com — not {name}")]);
    }
}

#[test]
fn a_certificate_for_another_name_is_reported_not_refused() {
    let ca = Ca::new("Ferry Test CA");
    let server = Server::serving(&ca.leaf(&["api.example.com", "*.example.net"]));

    let report = check(&server.target("shop.example.com", Roots::Pem(ca.pem()))).unwrap();

    assert_eq!(report.names, ["api.example.com", "*.example.net"]);
    assert!(!report.matches_name);
    assert_eq!(report.trusted, Some(true));
    assert_eq!(report.problems(14), ["the certificate is for api.example.com, *.example.net — not shop.example.com"]);
}

#[test]
fn an_expired_certificate_is_reported_with_its_date() {
    let ca = Ca::new("Ferry Test CA");
    let now = OffsetDateTime::now_utc();
    let expired_at = now - 2 * DAY - time::Duration::hours(1);
    let server = Server::serving(&ca.leaf_valid(&["shop.example.com"], now - 90 * DAY, expired_at));

    let report = check(&server.target("shop.example.com", Roots::Pem(ca.pem()))).unwrap();

    assert_eq!(report.days_left, -2);
    assert_eq!(report.trusted, Some(true), "{:?}", report.trust_error);
    assert_eq!(report.problems(14), [format!("the certificate expired on {} (2 days ago)", expired_at.date())]);
}

#[test]
fn a_certificate_expiring_in_3_days_fails_a_14_day_minimum() {
    let ca = Ca::new("Ferry Test CA");
    let now = OffsetDateTime::now_utc();
    let expires = now + 3 * DAY + time::Duration::hours(1);
    let server = Server::serving(&ca.leaf_valid(&["shop.example.com"], now - 80 * DAY, expires));

    let report = check(&server.target("shop.example.com", Roots::Pem(ca.pem()))).unwrap();

    assert_eq!(report.days_left, 3);
    assert_eq!(report.problems(14), [format!("the certificate expires in 3 days (on {}); at least 14 are required", expires.date())]);
    assert!(report.problems(3).is_empty());
}

#[test]
fn a_self_signed_certificate_is_untrusted_with_a_reason() {
    let other_ca = Ca::new("Some Other CA");
    let server = Server::serving(&self_signed(&["shop.example.com"]));

    for roots in [Roots::Pem(other_ca.pem()), Roots::System] {
        let report = check(&server.target("shop.example.com", roots)).unwrap();
        assert!(report.matches_name);
        assert_eq!(report.trusted, Some(false));
        let reason = report.trust_error.clone().unwrap();
        assert!(reason.contains("unknown issuer"), "{reason}");
        assert_eq!(report.problems(14), [format!("the certificate is not trusted: {reason}")]);
    }

    let unchecked = check(&server.target("shop.example.com", Roots::None)).unwrap();
    assert_eq!((unchecked.trusted, unchecked.trust_error.as_deref()), (None, None));
    assert!(unchecked.problems(14).is_empty());
}

#[test]
fn the_certificate_is_chosen_by_sni() {
    let ca = Ca::new("Ferry Test CA");
    let (a, b) = (ca.leaf(&["a.example.com"]), ca.leaf(&["b.example.com"]));
    let server = Server::by_sni(&[("a.example.com", &a), ("b.example.com", &b)]);

    for name in ["a.example.com", "b.example.com"] {
        let report = check(&server.target(name, Roots::Pem(ca.pem()))).unwrap();
        assert_eq!(report.names, [name]);
        assert!(report.problems(14).is_empty(), "{name}: {:?}", report.problems(14));
    }

    let err = check(&server.target("c.example.com", Roots::Pem(ca.pem()))).unwrap_err();
    assert!(matches!(err, TlsError::Rejected { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("c.example.com"), "{message}");
    assert!(message.contains(&server.address.to_string()), "{message}");
}

#[test]
fn nothing_listening_is_a_connection_error_naming_the_address() {
    let address = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();

    let err = check(&target(address, "shop.example.com", Roots::None)).unwrap_err();

    assert!(matches!(err, TlsError::Connect { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&format!("could not connect to {address}: ")), "{err}");
}

#[test]
fn a_port_that_never_speaks_tls_times_out_on_time() {
    // The kernel completes the TCP handshake for a listener that is never
    // accepted from, so the ClientHello goes unanswered: a silent server.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap();
    let timeout = Duration::from_millis(300);
    let mut target = target(address, "shop.example.com", Roots::None);
    target.timeout = timeout;

    let started = Instant::now();
    let err = check(&target).unwrap_err();
    let took = started.elapsed();

    assert!(matches!(err, TlsError::HandshakeTimeout { .. }), "{err:?}");
    assert!(err.to_string().contains(&address.to_string()), "{err}");
    assert!(took >= timeout && took < timeout + Duration::from_secs(1), "{took:?}");
}

#[test]
fn unusable_inputs_are_refused_before_connecting() {
    let address = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();

    let not_pem = target(address, "shop.example.com", Roots::Pem(b"not a bundle".to_vec()));
    assert!(matches!(check(&not_pem), Err(TlsError::Roots { .. })));

    let ip = target(address, "127.0.0.1", Roots::None);
    assert!(matches!(check(&ip), Err(TlsError::ServerName { .. })));
}
