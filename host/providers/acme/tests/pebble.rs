//! Issuance against a real Pebble whose challenge lookups go to a real Knot:
//! DNS-01 writes through ferry's RFC 2136 provider, HTTP-01 through a
//! webroot served on loopback. The chains are checked by `openssl verify`
//! against the root Pebble made for this run.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use ferry_acme::{AcmeError, Challenge, Directory, DnsChallenge, HttpChallenge, Roots, Webroot, issue};
use ferry_dns::{DnsProvider, Name, RecordType};
use ferry_test_support::acme_server::Pebble;
use ferry_test_support::dns_servers::{Kind, Server, zone};

fn directory(pebble: &Pebble) -> Directory {
    Directory { url: pebble.directory.clone(), roots: Roots::Pem(pebble.listener_root.clone()), contact: vec!["mailto:ops@example.test".into()] }
}

/// `openssl verify` of the issued chain against Pebble's root, with the
/// leaf's names checked by `-verify_hostname`.
fn openssl_verifies(pebble: &Pebble, chain_pem: &str, hostname: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    fs::write(&root, pebble.issuing_root()).unwrap();
    let blocks: Vec<&str> = chain_pem.split_inclusive("-----END CERTIFICATE-----").filter(|b| b.contains("BEGIN")).collect();
    assert!(blocks.len() >= 2, "a leaf and an intermediate: {chain_pem}");
    fs::write(dir.path().join("leaf.pem"), blocks[0]).unwrap();
    fs::write(dir.path().join("untrusted.pem"), blocks[1..].concat()).unwrap();
    let output = Command::new("openssl")
        .current_dir(dir.path())
        .args(["verify", "-CAfile", "root.pem", "-untrusted", "untrusted.pem", "-verify_hostname", hostname, "leaf.pem"])
        .output()
        .expect("run openssl");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn dns01_issues_a_name_and_its_wildcard_and_puts_the_zone_back() {
    // A TXT someone else keeps at the challenge name must survive the order.
    let knot = Server::start(Kind::Knot, "_acme-challenge.app 300 IN TXT \"kept\"\n");
    let pebble = Pebble::start(knot.addr, 1);
    let provider = knot.rfc2136();
    let challenge = Challenge::Dns(DnsChallenge { provider: &provider, zone: zone(), verify: vec![knot.addr], propagation_timeout: Duration::from_secs(10) });
    let names = ["app.example.test".to_string(), "*.app.example.test".to_string()];

    let certificate = issue(&directory(&pebble), &names, &challenge).unwrap_or_else(|e| panic!("{e}\n{}", pebble.log()));

    assert!(openssl_verifies(&pebble, &certificate.chain_pem, "app.example.test").ends_with("leaf.pem: OK\n"));
    assert!(openssl_verifies(&pebble, &certificate.chain_pem, "api.app.example.test").ends_with("leaf.pem: OK\n"), "the wildcard");
    assert!(!openssl_verifies(&pebble, &certificate.chain_pem, "other.example.test").contains("OK"), "no other name");
    assert!(certificate.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(certificate.not_after > SystemTime::now() + Duration::from_secs(30 * 86400));
    let after = provider.read(&zone(), &Name::new("_acme-challenge.app.example.test.").unwrap(), &RecordType::TXT).unwrap();
    assert_eq!(after.map(|r| (r.ttl(), r.values().to_vec())), Some((300, vec!["\"kept\"".to_string()])), "the record as it was");
}

/// A webroot on this machine, served by [`Http`].
#[derive(Debug)]
struct LocalWebroot(PathBuf);

impl Webroot for LocalWebroot {
    fn put(&self, path: &str, contents: &str) -> Result<(), String> {
        let file = self.0.join(path);
        fs::create_dir_all(file.parent().unwrap()).map_err(|e| e.to_string())?;
        fs::write(file, contents).map_err(|e| e.to_string())
    }
    fn remove(&self, path: &str) -> Result<(), String> {
        match fs::remove_file(self.0.join(path)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
            _ => Ok(()),
        }
    }
}

/// A minimal HTTP server for a directory on a loopback port, stopped on drop.
struct Http {
    port: u16,
    stop: Arc<AtomicBool>,
    served: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Http {
    fn serve(root: &Path) -> Http {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, served) = (Arc::new(AtomicBool::new(false)), Arc::new(std::sync::Mutex::new(Vec::new())));
        let (root, stop_flag, log) = (root.to_owned(), stop.clone(), served.clone());
        std::thread::spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                let mut line = String::new();
                BufReader::new(&stream).read_line(&mut line).unwrap_or_default();
                let path = line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_owned();
                log.lock().unwrap().push(path.clone());
                let mut stream = stream;
                let _ = match fs::read(root.join(&path)) {
                    Ok(body) => {
                        write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).and_then(|()| stream.write_all(&body))
                    }
                    Err(_) => write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                };
            }
        });
        Http { port, stop, served }
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn http01_issues_from_a_webroot_and_removes_the_token() {
    let knot = Server::start(Kind::Knot, "web 300 IN A 127.0.0.1\n");
    let webroot = tempfile::tempdir().unwrap();
    let http = Http::serve(webroot.path());
    let pebble = Pebble::start(knot.addr, http.port);
    let local = LocalWebroot(webroot.path().to_owned());

    let certificate = issue(&directory(&pebble), &["web.example.test".into()], &Challenge::Http(HttpChallenge { webroot: &local }))
        .unwrap_or_else(|e| panic!("{e}\n{}", pebble.log()));

    assert!(openssl_verifies(&pebble, &certificate.chain_pem, "web.example.test").ends_with("leaf.pem: OK\n"));
    let served = http.served.lock().unwrap().clone();
    assert!(served.iter().any(|p| p.starts_with(".well-known/acme-challenge/")), "Pebble fetched the token: {served:?}");
    let left: Vec<_> = fs::read_dir(webroot.path().join(".well-known/acme-challenge")).unwrap().collect();
    assert!(left.is_empty(), "the token file is removed after the order: {left:?}");
}

#[test]
fn a_webroot_nobody_serves_fails_with_the_cas_reason_and_leaves_nothing() {
    let knot = Server::start(Kind::Knot, "web 300 IN A 127.0.0.1\n");
    let served_dir = tempfile::tempdir().unwrap();
    let http = Http::serve(served_dir.path());
    let pebble = Pebble::start(knot.addr, http.port);
    // Tokens go somewhere the server does not serve: every fetch is a 404.
    let elsewhere = tempfile::tempdir().unwrap();
    let local = LocalWebroot(elsewhere.path().to_owned());

    let error = issue(&directory(&pebble), &["web.example.test".into()], &Challenge::Http(HttpChallenge { webroot: &local })).unwrap_err();

    match &error {
        AcmeError::Invalid { names, message } => {
            assert_eq!(names, "web.example.test");
            assert!(message.contains("web.example.test:") && message.contains("404"), "Pebble's reason, per name: {message}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(fs::read_dir(elsewhere.path().join(".well-known/acme-challenge")).unwrap().count(), 0);
}

#[test]
fn a_challenge_name_outside_the_zone_is_refused_before_any_write() {
    let knot = Server::start(Kind::Knot, "");
    let pebble = Pebble::start(knot.addr, 1);
    let provider = knot.rfc2136();
    let challenge = Challenge::Dns(DnsChallenge { provider: &provider, zone: zone(), verify: vec![knot.addr], propagation_timeout: Duration::from_secs(5) });

    let error = issue(&directory(&pebble), &["shop.other.test".into()], &challenge).unwrap_err();

    assert!(error.to_string().contains("_acme-challenge.shop.other.test. is not in the zone example.test."), "{error}");
    assert_eq!(provider.zone_records(&zone()).unwrap().iter().filter(|r| r.rtype() == &RecordType::TXT).count(), 0);
}
