//! The DTLS 1.2 handshake as typestate: each state is a struct, and handling a message
//! consumes the state and returns the next one (RFC 5246 §7.3, RFC 6347 §4.2).
//!
//! ```text
//! client                                         server
//! ClientHello              ------>                 (Listening: stateless)
//!                          <------   HelloVerifyRequest (cookie)
//! ClientHello (cookie)     ------>
//!                                    ServerHello, Certificate, ServerKeyExchange,
//!                          <------   CertificateRequest, ServerHelloDone
//! Certificate, ClientKeyExchange,
//! CertificateVerify, [CCS], Finished ------>
//!                          <------   [CCS], Finished
//! ```

mod client;
mod server;

pub(crate) use client::{
    ClientHelloSent, ClientNegotiating, ClientWaitFinished, start as start_client,
};
pub(crate) use server::{ServerListening, ServerNegotiating};

use super::cert::{DtlsCertificate, Fingerprint};
use super::config::{CipherSuite, DtlsConfig, SrtpProfile};
use super::crypto::{self, RecordCipher};
use super::flight::Flight;
use super::reassembly::Message;
use super::record_layer::RecordLayer;
use super::wire::alert::AlertDescription;
use super::wire::handshake::{HandshakeType, transcript_bytes};
use crate::rng::Rng;

/// A fatal handshake error: the alert to send and what went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fatal {
    pub(crate) alert: AlertDescription,
    pub(crate) reason: &'static str,
}

pub(crate) type HsResult<T> = Result<T, Fatal>;

pub(crate) fn fatal(alert: AlertDescription, reason: &'static str) -> Fatal {
    Fatal { alert, reason }
}

pub(crate) fn decode(reason: &'static str) -> Fatal {
    fatal(AlertDescription::DecodeError, reason)
}

/// What a state needs from the endpoint, and where it leaves its output.
pub(crate) struct Ctx<'a> {
    pub(crate) config: &'a DtlsConfig,
    pub(crate) cert: &'a DtlsCertificate,
    pub(crate) rng: &'a mut Rng,
    pub(crate) records: &'a mut RecordLayer,
    pub(crate) fingerprints: &'a [Fingerprint],
    /// A new flight to send (replacing the previous one).
    pub(crate) flight: Option<Flight>,
    /// A stateless reply (HelloVerifyRequest): one datagram, never retransmitted.
    pub(crate) stateless_reply: Option<Vec<u8>>,
    /// Set when the receive side must expect this message_seq next.
    pub(crate) expect_seq: Option<u16>,
}

/// The handshake messages so far, as RFC 6347 §4.2.6 hashes them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transcript(Vec<u8>);

impl Transcript {
    pub(crate) fn add(&mut self, msg_type: HandshakeType, seq: u16, body: &[u8]) {
        transcript_bytes(&mut self.0, msg_type, seq, body);
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn hash(&self, suite: CipherSuite) -> Vec<u8> {
        crypto::hash(suite, &self.0)
    }
}

/// A completed handshake: what the connection runs on.
pub(crate) struct Established {
    pub(crate) suite: CipherSuite,
    pub(crate) srtp: Option<SrtpProfile>,
    pub(crate) master: [u8; 48],
    pub(crate) client_random: [u8; 32],
    pub(crate) server_random: [u8; 32],
    pub(crate) peer_cert: Vec<u8>,
}

impl core::fmt::Debug for Established {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the master secret.
        f.debug_struct("Established")
            .field("suite", &self.suite)
            .field("srtp", &self.srtp)
            .finish()
    }
}

impl Established {
    /// RFC 5705 §4: `PRF(master, label, client_random + server_random [+ len + context])`.
    pub(crate) fn export(&self, label: &[u8], context: Option<&[u8]>, len: usize) -> Vec<u8> {
        let mut seed = Vec::with_capacity(64 + context.map_or(0, |c| c.len() + 2));
        seed.extend_from_slice(&self.client_random);
        seed.extend_from_slice(&self.server_random);
        if let Some(c) = context {
            seed.extend_from_slice(&(c.len() as u16).to_be_bytes());
            seed.extend_from_slice(c);
        }
        let mut out = vec![0u8; len];
        crypto::prf(self.suite, &mut out, &self.master, label, &seed);
        out
    }
}

/// The handshake state.
pub(crate) enum Handshake {
    /// A client that has not started.
    ClientIdle,
    /// A client waiting for HelloVerifyRequest or ServerHello.
    ClientHelloSent(Box<ClientHelloSent>),
    /// A client receiving the server's flight.
    ClientNegotiating(Box<ClientNegotiating>),
    /// A client that sent its Finished.
    ClientWaitFinished(Box<ClientWaitFinished>),
    /// A server waiting for a ClientHello (stateless until the cookie checks).
    ServerListening(Box<ServerListening>),
    /// A server receiving the client's flight.
    ServerNegotiating(Box<ServerNegotiating>),
    /// Done.
    Established(Box<Established>),
    /// Failed or closed: nothing more is processed.
    Dead,
}

impl core::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Handshake::ClientIdle => "ClientIdle",
            Handshake::ClientHelloSent(_) => "ClientHelloSent",
            Handshake::ClientNegotiating(_) => "ClientNegotiating",
            Handshake::ClientWaitFinished(_) => "ClientWaitFinished",
            Handshake::ServerListening(_) => "ServerListening",
            Handshake::ServerNegotiating(_) => "ServerNegotiating",
            Handshake::Established(_) => "Established",
            Handshake::Dead => "Dead",
        })
    }
}

impl Handshake {
    /// Handles the next complete handshake message.
    pub(crate) fn handle(self, msg: Message, ctx: &mut Ctx<'_>) -> HsResult<Handshake> {
        // Only Finished travels encrypted in a first handshake (RFC 5246 §7.4.9); the
        // states check that it does.
        if msg.epoch != 0 && msg.msg_type != HandshakeType::Finished {
            return Err(fatal(
                AlertDescription::UnexpectedMessage,
                "handshake message in the wrong epoch",
            ));
        }
        match self {
            Handshake::ClientHelloSent(s) => s.handle(msg, ctx),
            Handshake::ClientNegotiating(s) => s.handle(msg, ctx),
            Handshake::ClientWaitFinished(s) => s.handle(msg, ctx),
            Handshake::ServerNegotiating(s) => s.handle(msg, ctx),
            // Listening servers take ClientHellos through `ServerListening::client_hello`;
            // an established connection refuses renegotiation (handled by the endpoint).
            other => Err(fatal_unexpected(other, msg)),
        }
    }

    pub(crate) fn is_established(&self) -> bool {
        matches!(self, Handshake::Established(_))
    }
}

fn fatal_unexpected(_state: Handshake, _msg: Message) -> Fatal {
    fatal(
        AlertDescription::UnexpectedMessage,
        "unexpected handshake message",
    )
}

/// Derives the epoch-1 ciphers (RFC 5246 §6.3): `(write, read)` for the given side.
pub(crate) fn derive_ciphers(
    suite: CipherSuite,
    master: &[u8; 48],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    is_client: bool,
) -> HsResult<(RecordCipher, RecordCipher)> {
    let (key_len, iv_len) = RecordCipher::lengths(suite);
    let mut seed = [0u8; 64];
    seed[..32].copy_from_slice(server_random);
    seed[32..].copy_from_slice(client_random);
    let mut block = vec![0u8; 2 * (key_len + iv_len)];
    crypto::prf(suite, &mut block, master, b"key expansion", &seed);
    let internal = || fatal(AlertDescription::InternalError, "key derivation");
    let (ck, rest) = block.split_at(key_len);
    let (sk, rest) = rest.split_at(key_len);
    let (civ, siv) = rest.split_at(iv_len);
    let client = RecordCipher::new(suite, ck, civ).ok_or_else(internal)?;
    let server = RecordCipher::new(suite, sk, siv).ok_or_else(internal)?;
    Ok(if is_client {
        (client, server)
    } else {
        (server, client)
    })
}

/// Finished verify_data (RFC 5246 §7.4.9): 12 bytes of `PRF(master, label, Hash(msgs))`.
pub(crate) fn verify_data(
    suite: CipherSuite,
    master: &[u8; 48],
    label: &[u8],
    transcript: &Transcript,
) -> [u8; 12] {
    let mut out = [0u8; 12];
    crypto::prf(suite, &mut out, master, label, &transcript.hash(suite));
    out
}

/// Constant-time equality of two verify_data values.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Takes the peer's certificate chain: the leaf must parse, and match a fingerprint if
/// any are known yet (otherwise the endpoint checks it once they are given).
pub(crate) fn accept_peer_chain(
    chain: Vec<Vec<u8>>,
    fingerprints: &[Fingerprint],
) -> HsResult<Vec<u8>> {
    let Some(leaf) = chain.into_iter().next() else {
        return Err(fatal(
            AlertDescription::HandshakeFailure,
            "peer sent no certificate",
        ));
    };
    if !crypto::parses_as_certificate(&leaf) {
        return Err(fatal(
            AlertDescription::BadCertificate,
            "peer certificate does not parse",
        ));
    }
    if !fingerprints.is_empty() && !fingerprints.iter().any(|f| f.matches(&leaf)) {
        return Err(fatal(
            AlertDescription::BadCertificate,
            "peer certificate fingerprint mismatch",
        ));
    }
    Ok(leaf)
}

/// Fills a hello random.
pub(crate) fn random32(rng: &mut Rng) -> [u8; 32] {
    let mut r = [0u8; 32];
    rng.fill(&mut r);
    r
}
