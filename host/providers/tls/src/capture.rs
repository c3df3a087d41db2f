//! A certificate verifier that records instead of judging.
//!
//! rustls aborts the handshake when verification fails, which would leave
//! nothing to report. So the handshake runs with this verifier, which keeps
//! the chain (and the time and OCSP response it was shown with) and lets the
//! handshake go on; [`crate::trust`] then asks a real `WebPkiServerVerifier`
//! the same question with the same inputs. Handshake *signatures* are still
//! checked for real: they prove the server holds the certificate's key, and
//! a chain from a server that does not is not worth reporting on.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// What the server presented, as the verifier saw it.
#[derive(Debug, Clone)]
pub(crate) struct Presented {
    pub(crate) end_entity: CertificateDer<'static>,
    pub(crate) intermediates: Vec<CertificateDer<'static>>,
    pub(crate) ocsp_response: Vec<u8>,
    /// The verification time rustls supplied, reused so the trust verdict
    /// and the report's day counts agree.
    pub(crate) at: UnixTime,
}

/// Records the first chain it is shown; accepts every chain.
#[derive(Debug)]
pub(crate) struct Recorder {
    algorithms: WebPkiSupportedAlgorithms,
    presented: OnceLock<Presented>,
}

impl Recorder {
    pub(crate) fn new(provider: &Arc<CryptoProvider>) -> Self {
        Self { algorithms: provider.signature_verification_algorithms, presented: OnceLock::new() }
    }

    /// The recorded chain; `None` if the handshake never got that far.
    pub(crate) fn presented(&self) -> Option<Presented> {
        self.presented.get().cloned()
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // One config serves one connection, so this runs once; a second call
        // would be the same chain and is ignored.
        let _ = self.presented.set(Presented {
            end_entity: end_entity.clone().into_owned(),
            intermediates: intermediates.iter().map(|c| c.clone().into_owned()).collect(),
            ocsp_response: ocsp_response.to_vec(),
            at: now,
        });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
