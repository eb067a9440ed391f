//! The server side of the handshake.

use aws_lc_rs::hmac;
use rustls::crypto::ActiveKeyExchange;

use super::{
    Ctx, Established, Handshake, HsResult, Transcript, accept_peer_chain, ct_eq, decode,
    derive_ciphers, fatal, random32, verify_data,
};
use crate::dtls::config::{CipherSuite, SrtpProfile};
use crate::dtls::crypto::{self, VERIFY_SCHEMES};
use crate::dtls::flight::{Flight, seal_append};
use crate::dtls::reassembly::Message;
use crate::dtls::wire::alert::AlertDescription as A;
use crate::dtls::wire::codec::Reader;
use crate::dtls::wire::extensions::{Extensions, POINT_FORMAT_UNCOMPRESSED, UseSrtp};
use crate::dtls::wire::handshake::{Fragment, HandshakeType as T, put_header};
use crate::dtls::wire::messages::{
    CERT_TYPE_ECDSA_SIGN, CERT_TYPE_RSA_SIGN, COMPRESSION_NULL, Certificate, CertificateRequest,
    CertificateVerify, ClientHello, ClientKeyExchange, EMPTY_RENEGOTIATION_INFO_SCSV,
    HelloVerifyRequest, ServerHello, ServerKeyExchange, parse_finished,
};
use crate::dtls::wire::record::{ContentType, DTLS_1_0, DTLS_1_2};

/// A server before a ClientHello with a valid cookie: it keeps no per-client state.
pub(crate) struct ServerListening {
    cookie_key: hmac::Key,
}

impl ServerListening {
    pub(crate) fn new(ctx: &mut Ctx<'_>) -> Self {
        let mut secret = [0u8; 32];
        ctx.rng.fill(&mut secret);
        ServerListening {
            cookie_key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
        }
    }

    /// The cookie for a ClientHello: an HMAC over the whole hello except its cookie field,
    /// so a retransmitted hello gets the same cookie and a changed one a different one.
    fn cookie(&self, body: &[u8]) -> Option<[u8; 32]> {
        let mut r = Reader::new(body);
        let head = r.take(34)?;
        let sid = r.vec8()?;
        let _cookie = r.vec8()?;
        let mut ctx = hmac::Context::with_key(&self.cookie_key);
        ctx.update(head);
        ctx.update(&[sid.len() as u8]);
        ctx.update(sid);
        ctx.update(r.rest());
        ctx.sign().as_ref().try_into().ok()
    }

    /// Handles a ClientHello fragment. Returns the next state when the hello carried a
    /// valid cookie (or cookies are off); otherwise answers with a HelloVerifyRequest
    /// through `ctx.stateless_reply` and stays. Malformed or fragmented hellos are
    /// dropped: nothing is kept for them.
    pub(crate) fn client_hello(
        &self,
        frag: &Fragment<'_>,
        record_seq: u64,
        ctx: &mut Ctx<'_>,
    ) -> HsResult<Option<Handshake>> {
        if frag.msg_type != T::ClientHello
            || frag.offset != 0
            || usize::try_from(frag.length).ok() != Some(frag.body.len())
        {
            return Ok(None);
        }
        let Ok(hello) = ClientHello::parse(frag.body) else {
            return Ok(None);
        };
        let Some(cookie) = self.cookie(frag.body) else {
            return Ok(None);
        };
        if ctx.config.require_cookie && !ct_eq(&hello.cookie, &cookie) {
            // RFC 6347 §4.2.1: reuse the hello's record and message sequence numbers.
            let mut body = Vec::with_capacity(40);
            HelloVerifyRequest {
                version: DTLS_1_0,
                cookie: cookie.to_vec(),
            }
            .write(&mut body);
            let mut plain = Vec::with_capacity(12 + body.len());
            let len = body.len() as u32;
            put_header(
                &mut plain,
                T::HelloVerifyRequest,
                len,
                frag.message_seq,
                0,
                len,
            );
            plain.extend_from_slice(&body);
            let mut dgram = Vec::with_capacity(64);
            let mut records = crate::dtls::record_layer::RecordLayer::default();
            records.bump_write_seq0(record_seq);
            if seal_append(&mut records, &mut dgram, 0, ContentType::Handshake, &plain).is_some() {
                ctx.stateless_reply = Some(dgram);
            }
            return Ok(None);
        }
        ctx.records.bump_write_seq0(record_seq);
        negotiate(hello, frag, ctx).map(Some)
    }
}

/// Chooses the parameters and sends flight 4 (RFC 5246 §7.4.1.3, RFC 8422 §5).
fn negotiate(hello: ClientHello, frag: &Fragment<'_>, ctx: &mut Ctx<'_>) -> HsResult<Handshake> {
    let c = ctx.config;
    // Versions count down: 0xfefd is DTLS 1.2, 0xfeff DTLS 1.0.
    if hello.version > DTLS_1_2 {
        return Err(fatal(A::ProtocolVersion, "client does not offer DTLS 1.2"));
    }
    let suite = c
        .cipher_suites
        .iter()
        .copied()
        .find(|s| hello.cipher_suites.contains(&s.id()))
        .ok_or(fatal(A::HandshakeFailure, "no common cipher suite"))?;
    if !hello.compression_methods.contains(&COMPRESSION_NULL) {
        return Err(fatal(A::IllegalParameter, "null compression not offered"));
    }
    let ext = &hello.extensions;
    if !ext.extended_master_secret {
        return Err(fatal(
            A::HandshakeFailure,
            "client did not offer extended master secret",
        ));
    }
    if ext
        .renegotiation_info
        .as_ref()
        .is_some_and(|ri| !ri.is_empty())
    {
        return Err(fatal(A::HandshakeFailure, "non-empty renegotiation_info"));
    }
    if let Some(f) = &ext.ec_point_formats
        && !f.contains(&POINT_FORMAT_UNCOMPRESSED)
    {
        return Err(fatal(A::IllegalParameter, "no uncompressed point format"));
    }
    let group = match &ext.supported_groups {
        Some(offered) => c.groups.iter().copied().find(|g| offered.contains(&g.id())),
        // RFC 8422 §4: without the extension, any curve the server likes.
        None => c.groups.first().copied(),
    }
    .ok_or(fatal(A::HandshakeFailure, "no common group"))?;
    let srtp: Option<SrtpProfile> = ext.use_srtp.as_ref().and_then(|u| {
        c.srtp_profiles
            .iter()
            .copied()
            .find(|p| u.profiles.contains(&p.id()))
    });
    let secure_reneg = ext.renegotiation_info.is_some()
        || hello.cipher_suites.contains(&EMPTY_RENEGOTIATION_INFO_SCSV);

    let server_random = random32(ctx.rng);
    let kx = crypto::start_kx(group).ok_or(fatal(A::InternalError, "key exchange"))?;
    let params = ServerKeyExchange::params(group.id(), kx.pub_key());
    let mut signed = Vec::with_capacity(64 + params.len());
    signed.extend_from_slice(&hello.random);
    signed.extend_from_slice(&server_random);
    signed.extend_from_slice(&params);
    let offered_sigs = ext.signature_algorithms.clone().unwrap_or_default();
    let ecdsa_sigs: Vec<u16> = offered_sigs
        .iter()
        .copied()
        .filter(|s| crypto::is_ecdsa_suite_scheme(*s))
        .collect();
    if ecdsa_sigs.is_empty() && !offered_sigs.is_empty() {
        return Err(fatal(
            A::HandshakeFailure,
            "client accepts no ECDSA signature",
        ));
    }
    // An RSA certificate cannot serve the ECDHE_ECDSA suites.
    let (scheme, signature) = crypto::sign(ctx.cert.key(), &ecdsa_sigs, &signed)
        .filter(|(s, _)| crypto::is_ecdsa_suite_scheme(*s))
        .ok_or(fatal(
            A::HandshakeFailure,
            "no common ECDSA signature scheme",
        ))?;

    let sh = ServerHello {
        version: DTLS_1_2,
        random: server_random,
        session_id: Vec::new(),
        cipher_suite: suite.id(),
        compression_method: COMPRESSION_NULL,
        extensions: Extensions {
            renegotiation_info: secure_reneg.then(Vec::new),
            extended_master_secret: true,
            ec_point_formats: ext
                .ec_point_formats
                .is_some()
                .then(|| vec![POINT_FORMAT_UNCOMPRESSED]),
            use_srtp: srtp.map(|p| UseSrtp {
                profiles: vec![p.id()],
                mki: Vec::new(),
            }),
            ..Extensions::default()
        },
    };
    let mut transcript = Transcript::default();
    transcript.add(T::ClientHello, frag.message_seq, frag.body);
    let mut flight = Flight::default();
    let mut seq = frag.message_seq;
    let mut push = |ty, body: Vec<u8>| {
        transcript.add(ty, seq, &body);
        flight.handshake(0, ty, seq, body);
        seq = seq.wrapping_add(1);
    };
    let mut b = Vec::new();
    sh.write(&mut b);
    push(T::ServerHello, b);
    let mut b = Vec::new();
    Certificate {
        chain: vec![ctx.cert.der().to_vec()],
    }
    .write(&mut b);
    push(T::Certificate, b);
    let mut b = params;
    b.extend_from_slice(&scheme.to_be_bytes());
    crate::dtls::wire::codec::put_vec16(&mut b, &signature);
    push(T::ServerKeyExchange, b);
    let mut b = Vec::new();
    // WebRTC authenticates both ends (RFC 8827 §6.5): always ask for the client's.
    CertificateRequest {
        cert_types: vec![CERT_TYPE_ECDSA_SIGN, CERT_TYPE_RSA_SIGN],
        signature_algorithms: VERIFY_SCHEMES.to_vec(),
    }
    .write(&mut b);
    push(T::CertificateRequest, b);
    push(T::ServerHelloDone, Vec::new());
    ctx.flight = Some(flight);
    ctx.expect_seq = Some(frag.message_seq.wrapping_add(1));
    Ok(Handshake::ServerNegotiating(Box::new(ServerNegotiating {
        suite,
        srtp,
        client_random: hello.random,
        server_random,
        transcript,
        next_send_seq: seq,
        kx: Some(kx),
        client_cert: None,
        master: None,
        verified: false,
    })))
}

/// Flight 4 sent; receiving Certificate, ClientKeyExchange, CertificateVerify, Finished.
pub(crate) struct ServerNegotiating {
    suite: CipherSuite,
    srtp: Option<SrtpProfile>,
    client_random: [u8; 32],
    server_random: [u8; 32],
    transcript: Transcript,
    next_send_seq: u16,
    kx: Option<Box<dyn ActiveKeyExchange>>,
    client_cert: Option<Vec<u8>>,
    master: Option<[u8; 48]>,
    /// CertificateVerify checked.
    verified: bool,
}

impl ServerNegotiating {
    pub(crate) fn handle(
        mut self: Box<Self>,
        msg: Message,
        ctx: &mut Ctx<'_>,
    ) -> HsResult<Handshake> {
        let unexpected = || fatal(A::UnexpectedMessage, "unexpected message in client flight");
        match (msg.msg_type, &self.client_cert, &self.master, self.verified) {
            (T::Certificate, None, None, false) => {
                let c = Certificate::parse(&msg.body, ctx.config.max_cert_chain).map_err(decode)?;
                self.client_cert = Some(accept_peer_chain(c.chain, ctx.fingerprints)?);
            }
            (T::ClientKeyExchange, Some(_), None, false) => {
                let cke = ClientKeyExchange::parse(&msg.body).map_err(decode)?;
                self.transcript.add(msg.msg_type, msg.seq, &msg.body);
                let kx = self.kx.take().ok_or(unexpected())?;
                let session_hash = self.transcript.hash(self.suite);
                let master = crypto::master_secret(
                    self.suite,
                    kx,
                    &cke.public,
                    b"extended master secret",
                    &session_hash,
                )
                .ok_or(fatal(A::IllegalParameter, "bad client public key"))?;
                let (write, read) = derive_ciphers(
                    self.suite,
                    &master,
                    &self.client_random,
                    &self.server_random,
                    false,
                )?;
                ctx.records.install(write, read);
                self.master = Some(master);
                return Ok(Handshake::ServerNegotiating(self));
            }
            (T::CertificateVerify, Some(cert), Some(_), false) => {
                let cv = CertificateVerify::parse(&msg.body).map_err(decode)?;
                if !crypto::verify_signature(
                    cert,
                    cv.scheme,
                    self.transcript.bytes(),
                    &cv.signature,
                ) {
                    return Err(fatal(A::DecryptError, "bad CertificateVerify signature"));
                }
                self.verified = true;
            }
            (T::Finished, Some(_), Some(master), true) => {
                if msg.epoch != 1 {
                    return Err(fatal(A::UnexpectedMessage, "Finished not encrypted"));
                }
                let master = *master;
                let got = parse_finished(&msg.body).map_err(decode)?;
                let want = verify_data(self.suite, &master, b"client finished", &self.transcript);
                if !ct_eq(&got, &want) {
                    return Err(fatal(A::DecryptError, "client Finished does not verify"));
                }
                self.transcript.add(msg.msg_type, msg.seq, &msg.body);
                let vd = verify_data(self.suite, &master, b"server finished", &self.transcript);
                let mut flight = Flight::default();
                flight.ccs();
                flight.handshake(1, T::Finished, self.next_send_seq, vd.to_vec());
                ctx.flight = Some(flight);
                return Ok(Handshake::Established(Box::new(Established {
                    suite: self.suite,
                    srtp: self.srtp,
                    master,
                    client_random: self.client_random,
                    server_random: self.server_random,
                    peer_cert: self.client_cert.take().unwrap_or_default(),
                })));
            }
            _ => return Err(unexpected()),
        }
        self.transcript.add(msg.msg_type, msg.seq, &msg.body);
        Ok(Handshake::ServerNegotiating(self))
    }
}
