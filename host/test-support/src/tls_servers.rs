//! Test PKI (rcgen) and throwaway TLS servers on 127.0.0.1.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use ferry_tls::{Roots, Target};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::ResolvesServerCertUsingSni;
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection, SupportedProtocolVersion};
use time::OffsetDateTime;

/// A day, for validity windows.
pub const DAY: time::Duration = time::Duration::days(1);

/// A certificate authority that issues leaves.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - 365 * DAY;
        params.not_after = now + 365 * DAY;
        Self { issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap() }
    }

    /// The CA certificate as a PEM bundle, for `Roots::Pem`.
    pub fn pem(&self) -> Vec<u8> {
        self.issuer.pem().into_bytes()
    }

    /// A leaf for `names`, valid for the month around now.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        let now = OffsetDateTime::now_utc();
        self.leaf_valid(names, now - 30 * DAY, now + 30 * DAY)
    }

    /// A leaf for `names` with the given validity.
    pub fn leaf_valid(&self, names: &[&str], from: OffsetDateTime, until: OffsetDateTime) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(names, from, until).signed_by(&key, &self.issuer).unwrap();
        Leaf::new(&cert, &key)
    }
}

/// A self-signed leaf, issued by nobody anyone trusts.
pub fn self_signed(names: &[&str]) -> Leaf {
    let now = OffsetDateTime::now_utc();
    let key = KeyPair::generate().unwrap();
    let cert = leaf_params(names, now - DAY, now + 30 * DAY).self_signed(&key).unwrap();
    Leaf::new(&cert, &key)
}

fn leaf_params(names: &[&str], from: OffsetDateTime, until: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = from;
    params.not_after = until;
    params
}

/// A leaf certificate and its key, ready to serve.
pub struct Leaf {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    /// The same two as PEM, for servers that read files (the registry).
    pub cert_pem: String,
    pub key_pem: String,
}

impl Leaf {
    fn new(cert: &rcgen::Certificate, key: &KeyPair) -> Self {
        Self { cert: cert.der().clone(), key: PrivatePkcs8KeyDer::from(key.serialize_der()), cert_pem: cert.pem(), key_pem: key.serialize_pem() }
    }

    fn certified(&self, provider: &CryptoProvider) -> CertifiedKey {
        let key = PrivateKeyDer::Pkcs8(self.key.clone_key());
        CertifiedKey::from_der(vec![self.cert.clone()], key, provider).unwrap()
    }
}

/// A TLS server on a free 127.0.0.1 port, handling one connection at a
/// time in a thread, stopped (and joined) on drop.
pub struct Server {
    pub address: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `leaf` whatever name is asked for.
    pub fn serving(leaf: &Leaf) -> Self {
        Self::with_versions(leaf, rustls::DEFAULT_VERSIONS)
    }

    /// Serves `leaf` with only the given protocol versions.
    pub fn with_versions(leaf: &Leaf, versions: &[&'static SupportedProtocolVersion]) -> Self {
        let config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.cert.clone()], PrivateKeyDer::Pkcs8(leaf.key.clone_key()))
            .unwrap();
        Self::start(config)
    }

    /// Picks the certificate by SNI; unknown names get no certificate.
    pub fn by_sni(leaves: &[(&str, &Leaf)]) -> Self {
        let provider = provider();
        let mut resolver = ResolvesServerCertUsingSni::new();
        for (name, leaf) in leaves {
            resolver.add(name, leaf.certified(&provider)).unwrap();
        }
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        Self::start(config)
    }

    fn start(config: ServerConfig) -> Self {
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            for tcp in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(tcp) = tcp {
                    serve(tcp, config.clone());
                }
            }
        });
        Self { address, stop, thread: Some(thread) }
    }

    pub fn target(&self, server_name: &str, roots: Roots) -> Target {
        target(self.address, server_name, roots)
    }
}

/// One handshake, then wait for the client to hang up; errors only end it.
fn serve(mut tcp: TcpStream, config: Arc<ServerConfig>) {
    tcp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    tcp.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut conn = ServerConnection::new(config).unwrap();
    while conn.is_handshaking() {
        if conn.complete_io(&mut tcp).is_err() {
            return;
        }
    }
    while conn.complete_io(&mut tcp).is_ok_and(|(read, _)| read > 0) {}
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A check of `address` for `server_name` with a test-sized timeout.
pub fn target(address: SocketAddr, server_name: &str, roots: Roots) -> Target {
    Target { address, server_name: server_name.into(), timeout: Duration::from_secs(5), roots }
}
