//! TLS to a `turns:` server (RFC 8656 §3.1) over a byte stream the host owns, with
//! rustls's own client connection and in-memory buffers: the host's bytes go in with
//! `read_tls`, TLS bytes to write come out of `write_tls` into the caller's buffer.

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};

use super::stream::Framer;

/// A TLS client connection to one TURN server.
pub(crate) struct TlsStream {
    conn: rustls::ClientConnection,
    /// Plaintext queued since rustls's output was last drained, and its bound (rustls's
    /// own limit could take half a frame; ours refuses whole frames).
    queued: usize,
    limit: usize,
}

impl core::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsStream")
            .field("handshaking", &self.conn.is_handshaking())
            .finish()
    }
}

/// A rustls client configuration trusting `roots` (DER certificates), with the crypto
/// provider the crate uses everywhere (aws-lc-rs).
pub(crate) fn client_config(roots: &[Vec<u8>]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut store = rustls::RootCertStore::empty();
    for der in roots {
        store
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| format!("root certificate: {e}"))?;
    }
    if store.is_empty() {
        return Err("no root certificates for turns: (IceConfig::turn_tls_roots)".into());
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

impl TlsStream {
    /// Starts a connection to `server_name` (a DNS name or an IP literal); the
    /// ClientHello is ready at once. `buffer_limit` bounds rustls's queued bytes.
    pub fn new(
        config: Arc<rustls::ClientConfig>,
        server_name: &str,
        buffer_limit: usize,
    ) -> Result<Self, String> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| format!("TLS server name: {e}"))?;
        let mut conn =
            rustls::ClientConnection::new(config, name).map_err(|e| format!("TLS client: {e}"))?;
        conn.set_buffer_limit(None);
        Ok(TlsStream {
            conn,
            queued: 0,
            limit: buffer_limit,
        })
    }

    /// Bytes the host read from the TCP stream: decrypted and appended to `framer`.
    pub fn read_tls(&mut self, mut data: &[u8], framer: &mut Framer) -> Result<(), String> {
        let mut plain = [0u8; 4096];
        while !data.is_empty() {
            let n = self
                .conn
                .read_tls(&mut data)
                .map_err(|e| format!("TLS read: {e}"))?;
            self.conn
                .process_new_packets()
                .map_err(|e| format!("TLS: {e}"))?;
            loop {
                match self.conn.reader().read(&mut plain) {
                    Ok(0) => break,
                    Ok(k) => framer
                        .push(plain.get(..k).unwrap_or_default())
                        .map_err(|_| "TURN stream overflow".to_owned())?,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(format!("TLS read: {e}")),
                }
            }
            if n == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Queues plaintext (whole TURN frames). False when rustls's buffer is full.
    pub fn write_plain(&mut self, bytes: &[u8]) -> bool {
        if self.queued + bytes.len() > self.limit {
            return false;
        }
        self.queued += bytes.len();
        matches!(self.conn.writer().write(bytes), Ok(n) if n == bytes.len())
    }

    /// Writes pending TLS bytes into `buf`; returns how many (0: nothing to write).
    pub fn write_tls(&mut self, buf: &mut [u8]) -> usize {
        if !self.conn.wants_write() {
            return 0;
        }
        let mut out: &mut [u8] = buf;
        let n = self.conn.write_tls(&mut out).unwrap_or(0);
        if !self.conn.wants_write() && !self.conn.is_handshaking() {
            self.queued = 0;
        }
        n
    }

    /// Sends close_notify.
    pub fn close(&mut self) {
        self.conn.send_close_notify();
    }
}
