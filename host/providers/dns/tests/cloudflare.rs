//! The Cloudflare provider against a stateful fake of the API v4.

mod support;

use ferry_dns::{DnsError, DnsProvider, RecordType};
use support::cloudflare::{FakeCloudflare, TOKEN};
use support::servers::zone;
use support::{name, rrset};

/// A zone whose `app` RRset has three values, listed two per page.
fn fake() -> FakeCloudflare {
    FakeCloudflare::start(&[
        ("example.test", "NS", "ns1.example.test", 3600),
        ("app.example.test", "A", "192.0.2.10", 300),
        ("app.example.test", "A", "192.0.2.11", 300),
        ("app.example.test", "A", "192.0.2.12", 300),
        ("www.example.test", "CNAME", "app.example.test", 300),
        ("example.test", "MX", "10 mail.example.test", 3600),
        ("txt.example.test", "TXT", "v=spf1 -all", 300),
    ])
}

fn app() -> ferry_dns::RRset {
    rrset("app", RecordType::A, 300, &["192.0.2.10", "192.0.2.11", "192.0.2.12"])
}

#[test]
fn reads_an_rrset_spread_over_pages() {
    let fake = fake();
    let cf = fake.provider();
    assert_eq!(cf.read(&zone(), &name("app"), &RecordType::A).unwrap(), Some(app()));
    assert!(fake.requests().iter().any(|(m, p)| m == "GET" && p.contains("/dns_records?") && p.contains("page=2")), "{:?}", fake.requests());
    assert_eq!(cf.read(&zone(), &name("nothing"), &RecordType::A).unwrap(), None);
    // Bare TXT content is one string; names get their dot back.
    assert_eq!(cf.read(&zone(), &name("txt"), &RecordType::TXT).unwrap(), Some(rrset("txt", RecordType::TXT, 300, &["\"v=spf1 -all\""])));
    let mut listed: Vec<String> = cf.zone_records(&zone()).unwrap().iter().map(ToString::to_string).collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "app.example.test. 300 A 192.0.2.10, 192.0.2.11, 192.0.2.12",
            "example.test. 3600 MX 10 mail.example.test.",
            "example.test. 3600 NS ns1.example.test.",
            "txt.example.test. 300 TXT \"v=spf1 -all\"",
            "www.example.test. 300 CNAME app.example.test.",
        ]
    );
    // The zone id is looked up once.
    let lookups = fake.requests().iter().filter(|(_, p)| p.starts_with("/client/v4/zones?")).count();
    assert_eq!(lookups, 1);
}

#[test]
fn replaces_a_multi_value_rrset_in_one_batch_and_undoes_it() {
    let fake = fake();
    let cf = fake.provider();
    let kept_id = fake.records("app.example.test", "A")[1].id.clone();
    let new = rrset("app", RecordType::A, 60, &["192.0.2.11", "198.51.100.20"]);
    cf.replace(&zone(), Some(&app()), &new).unwrap();
    assert_eq!(fake.batches(), 1);
    let stored = fake.records("app.example.test", "A");
    assert_eq!(stored.iter().map(|r| (r.content.as_str(), r.ttl)).collect::<Vec<_>>(), [("192.0.2.11", 60), ("198.51.100.20", 60)]);
    assert_eq!(stored[0].id, kept_id, "a value that stays keeps its record");
    assert_eq!(cf.read(&zone(), &name("app"), &RecordType::A).unwrap(), Some(new.clone()));

    cf.replace(&zone(), Some(&new), &app()).unwrap();
    assert_eq!(fake.batches(), 2);
    assert_eq!(cf.read(&zone(), &name("app"), &RecordType::A).unwrap(), Some(app()));
    assert_eq!(fake.records("app.example.test", "A").len(), 3);
}

#[test]
fn creates_and_deletes_mx_and_txt() {
    let fake = fake();
    let cf = fake.provider();
    let mx = ferry_dns::RRset::new(zone(), RecordType::MX, 3600, ["10 mail.example.test.", "20 backup.example.test."]).unwrap();
    let old_mx = ferry_dns::RRset::new(zone(), RecordType::MX, 3600, ["10 mail.example.test."]).unwrap();
    cf.replace(&zone(), Some(&old_mx), &mx).unwrap();
    let stored = fake.records("example.test", "MX");
    assert_eq!(
        stored.iter().map(|r| (r.priority, r.content.as_str())).collect::<Vec<_>>(),
        [(Some(20), "backup.example.test"), (Some(10), "mail.example.test")]
    );
    let txt = rrset("_ferry", RecordType::TXT, 120, &["\"a b\" \"c\""]);
    cf.replace(&zone(), None, &txt).unwrap();
    assert_eq!(cf.read(&zone(), txt.name(), &RecordType::TXT).unwrap(), Some(txt.clone()));
    cf.delete(&zone(), &txt).unwrap();
    assert!(fake.records("_ferry.example.test", "TXT").is_empty());
    assert!(matches!(cf.delete(&zone(), &txt), Err(DnsError::Conflict { found: None, .. })));
}

#[test]
fn refuses_a_record_that_moved() {
    let fake = fake();
    let ours = fake.provider();
    let theirs = fake.provider();
    let planned = ours.read(&zone(), &name("app"), &RecordType::A).unwrap().unwrap();
    let their_edit = rrset("app", RecordType::A, 300, &["203.0.113.7"]);
    theirs.replace(&zone(), Some(&planned), &their_edit).unwrap();
    let batches = fake.batches();

    let wanted = rrset("app", RecordType::A, 60, &["198.51.100.20"]);
    let error = ours.replace(&zone(), Some(&planned), &wanted).unwrap_err();
    assert!(matches!(&error, DnsError::Conflict { found: Some(found), .. } if **found == their_edit), "{error:?}");
    assert!(error.to_string().contains("203.0.113.7"), "{error}");
    assert_eq!(fake.batches(), batches, "nothing was sent");
    assert!(matches!(ours.delete(&zone(), &planned), Err(DnsError::Conflict { .. })));
    assert_eq!(ours.read(&zone(), &name("app"), &RecordType::A).unwrap(), Some(their_edit));
}

#[test]
fn a_write_racing_the_batch_is_reported() {
    let fake = fake();
    let cf = fake.provider();
    fake.before_next_batch(|records| {
        records.push(support::cloudflare::FakeRecord {
            id: "f".repeat(32),
            name: "app.example.test".into(),
            rtype: "A".into(),
            content: "203.0.113.99".into(),
            ttl: 300,
            priority: None,
            proxied: false,
        });
    });
    let new = rrset("app", RecordType::A, 60, &["198.51.100.20"]);
    let error = cf.replace(&zone(), Some(&app()), &new).unwrap_err();
    match &error {
        DnsError::NotApplied { found: Some(found), wanted, .. } => {
            assert_eq!(wanted.as_deref(), Some(&new));
            assert!(found.values().contains(&"203.0.113.99".to_owned()), "{found}");
        }
        other => panic!("expected NotApplied, got {other:?}"),
    }
}

#[test]
fn api_errors_keep_their_code() {
    let fake = fake();
    let cf = fake.provider();
    // Cloudflare refuses a CNAME next to the A records.
    let cname = rrset("app", RecordType::CNAME, 300, &["elsewhere.example.net."]);
    let error = cf.replace(&zone(), None, &cname).unwrap_err();
    match &error {
        DnsError::Api { code, status, request, .. } => {
            assert_eq!((*code, *status), (Some(81053), 400));
            assert_eq!(request, "POST /zones/023e105f4ecef8ad9ca31a8372d0c353/dns_records/batch");
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    assert!(error.to_string().contains("error 81053: An A, AAAA, or CNAME record with that host already exists"), "{error}");
    assert_eq!(cf.read(&zone(), &name("app"), &RecordType::A).unwrap(), Some(app()));

    let unknown = ferry_dns::Name::new("unknown.test").unwrap();
    assert!(matches!(cf.read(&unknown, &unknown, &RecordType::A), Err(DnsError::ZoneNotFound { .. })));
    assert!(matches!(
        cf.replace(&zone(), None, &rrset("x", RecordType::Other("SRV".into()), 60, &["1 1 443 a.example.test."])),
        Err(DnsError::Unsupported { .. })
    ));
}

#[test]
fn the_token_never_shows() {
    let fake = fake();
    let wrong = "cf-wrong-token-77c1d2";
    let cf = fake.provider_with(wrong);
    let error = cf.read(&zone(), &name("app"), &RecordType::A).unwrap_err();
    assert!(matches!(error, DnsError::Unauthorized { status: 403, .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("error 10000") && message.contains("check the API token"), "{message}");
    assert!(message.contains("<redacted>"), "the fake echoed the token: {message}");
    for shown in [message, format!("{error:?}"), format!("{cf:?}"), format!("{:?}", fake.provider())] {
        assert!(!shown.contains(wrong) && !shown.contains(TOKEN), "{shown}");
    }
}
