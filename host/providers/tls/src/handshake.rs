//! One TLS handshake over TCP, inside one deadline.
//!
//! The handshake is driven by hand rather than with `complete_io` so that
//! every read and write gets only the time left: a server that trickles
//! bytes, or accepts TCP and never answers, cannot stretch the check past
//! `Target::timeout`.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ProtocolVersion};

use crate::{Target, TlsError};

/// Connects, completes the handshake and returns the negotiated protocol
/// ("TLSv1.3", "TLSv1.2").
pub(crate) fn run(target: &Target, server_name: ServerName<'static>, config: Arc<ClientConfig>) -> Result<String, TlsError> {
    let deadline = Instant::now() + target.timeout;
    let mut tcp = TcpStream::connect_timeout(&target.address, target.timeout).map_err(|source| {
        if is_timeout(&source) {
            TlsError::ConnectTimeout { address: target.address, timeout: target.timeout }
        } else {
            TlsError::Connect { address: target.address, source }
        }
    })?;
    let mut conn = ClientConnection::new(config, server_name).map_err(|e| failed(target, e))?;
    let mut wire = Wire { tcp: &mut tcp, target, deadline };

    while conn.is_handshaking() {
        if conn.wants_write() {
            wire.write(&mut conn)?;
        } else {
            wire.read(&mut conn)?;
            if let Err(e) = conn.process_new_packets() {
                // Tell the server why (rustls queued an alert); it's a courtesy,
                // so a failure to send it changes nothing.
                let _ = wire.write(&mut conn);
                return Err(failed(target, e));
            }
        }
    }

    let protocol = conn.protocol_version().map(name).unwrap_or_else(|| "unknown".into());
    // Finish politely (our Finished, then close_notify) so the server logs a
    // clean close rather than an error; the check already has its answer.
    conn.send_close_notify();
    while conn.wants_write() && wire.write(&mut conn).is_ok() {}
    Ok(protocol)
}

/// The socket plus what every I/O error needs to be reported with.
struct Wire<'a> {
    tcp: &'a mut TcpStream,
    target: &'a Target,
    deadline: Instant,
}

impl Wire<'_> {
    fn write(&mut self, conn: &mut ClientConnection) -> Result<(), TlsError> {
        let left = self.time_left()?;
        self.tcp.set_write_timeout(Some(left)).map_err(|e| self.broke(e))?;
        conn.write_tls(self.tcp).map_err(|e| self.broke(e))?;
        self.tcp.flush().map_err(|e| self.broke(e))
    }

    fn read(&mut self, conn: &mut ClientConnection) -> Result<(), TlsError> {
        let left = self.time_left()?;
        self.tcp.set_read_timeout(Some(left)).map_err(|e| self.broke(e))?;
        match conn.read_tls(self.tcp) {
            Ok(0) => Err(self.broke(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"))),
            Ok(_) => Ok(()),
            Err(e) => Err(self.broke(e)),
        }
    }

    /// Socket timeouts of zero mean "forever", so an exhausted deadline is
    /// reported here instead of being passed on.
    fn time_left(&self) -> Result<Duration, TlsError> {
        self.deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero()).ok_or_else(|| self.timed_out())
    }

    fn broke(&self, source: io::Error) -> TlsError {
        if is_timeout(&source) {
            return self.timed_out();
        }
        TlsError::Io { address: self.target.address, server_name: self.target.server_name.clone(), source }
    }

    fn timed_out(&self) -> TlsError {
        TlsError::HandshakeTimeout { address: self.target.address, server_name: self.target.server_name.clone(), timeout: self.target.timeout }
    }
}

/// A server's alert means "it refused us", anything else "we refused it".
fn failed(target: &Target, source: rustls::Error) -> TlsError {
    let address = target.address;
    let server_name = target.server_name.clone();
    match source {
        rustls::Error::AlertReceived(alert) => TlsError::Rejected { address, server_name, alert },
        source => TlsError::Handshake { address, server_name, source },
    }
}

/// Socket read timeouts surface as `WouldBlock` on Unix and `TimedOut` on Windows.
fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn name(version: ProtocolVersion) -> String {
    match version {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        other => format!("{other:?}"),
    }
}
