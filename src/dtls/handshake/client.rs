//! The client side of the handshake.

use super::{
    Ctx, Established, Fatal, Handshake, HsResult, Transcript, accept_peer_chain, ct_eq, decode,
    derive_ciphers, fatal, random32, verify_data,
};
use crate::dtls::config::{CipherSuite, NamedGroup, SrtpProfile};
use crate::dtls::crypto::{self, VERIFY_SCHEMES};
use crate::dtls::flight::Flight;
use crate::dtls::reassembly::Message;
use crate::dtls::wire::alert::AlertDescription as A;
use crate::dtls::wire::extensions::{
    EXT_EC_POINT_FORMATS, EXT_EXTENDED_MASTER_SECRET, EXT_RENEGOTIATION_INFO, EXT_SUPPORTED_GROUPS,
    EXT_USE_SRTP, Extensions, POINT_FORMAT_UNCOMPRESSED, UseSrtp,
};
use crate::dtls::wire::handshake::HandshakeType as T;
use crate::dtls::wire::messages::{
    COMPRESSION_NULL, Certificate, CertificateRequest, CertificateVerify, ClientHello,
    ClientKeyExchange, HelloVerifyRequest, ServerHello, ServerKeyExchange, parse_empty,
    parse_finished,
};
use crate::dtls::wire::record::DTLS_1_2;

/// Most HelloVerifyRequests followed before giving up (a server that keeps changing its
/// cookie is broken or hostile).
const MAX_HELLO_VERIFY: u8 = 4;

/// Waiting for HelloVerifyRequest or ServerHello.
pub(crate) struct ClientHelloSent {
    hello: ClientHello,
    /// message_seq of the ClientHello last sent.
    seq: u16,
    verify_requests: u8,
}

/// Starts a client: builds the first ClientHello and its flight.
pub(crate) fn start(ctx: &mut Ctx<'_>) -> Handshake {
    let c = ctx.config;
    let extensions = Extensions {
        supported_groups: Some(c.groups.iter().map(|g| g.id()).collect()),
        ec_point_formats: Some(vec![POINT_FORMAT_UNCOMPRESSED]),
        signature_algorithms: Some(VERIFY_SCHEMES.to_vec()),
        use_srtp: (!c.srtp_profiles.is_empty()).then(|| UseSrtp {
            profiles: c.srtp_profiles.iter().map(|p| p.id()).collect(),
            mki: Vec::new(),
        }),
        extended_master_secret: true,
        renegotiation_info: Some(Vec::new()),
        present: Vec::new(),
    };
    let hello = ClientHello {
        version: DTLS_1_2,
        random: random32(ctx.rng),
        session_id: Vec::new(),
        cookie: Vec::new(),
        cipher_suites: c.cipher_suites.iter().map(|s| s.id()).collect(),
        compression_methods: vec![COMPRESSION_NULL],
        extensions,
    };
    let state = ClientHelloSent {
        hello,
        seq: 0,
        verify_requests: 0,
    };
    ctx.flight = Some(state.flight());
    Handshake::ClientHelloSent(Box::new(state))
}

impl ClientHelloSent {
    fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(256);
        self.hello.write(&mut b);
        b
    }

    fn flight(&self) -> Flight {
        let mut f = Flight::default();
        f.handshake(0, T::ClientHello, self.seq, self.body());
        f
    }

    pub(crate) fn handle(
        mut self: Box<Self>,
        msg: Message,
        ctx: &mut Ctx<'_>,
    ) -> HsResult<Handshake> {
        match msg.msg_type {
            T::HelloVerifyRequest => {
                let hvr = HelloVerifyRequest::parse(&msg.body).map_err(decode)?;
                self.verify_requests += 1;
                if self.verify_requests > MAX_HELLO_VERIFY {
                    return Err(fatal(A::HandshakeFailure, "too many HelloVerifyRequests"));
                }
                if hvr.cookie.is_empty() {
                    return Err(fatal(A::IllegalParameter, "empty cookie"));
                }
                // RFC 6347 §4.2.1: the second ClientHello repeats the first with the cookie.
                self.hello.cookie = hvr.cookie;
                self.seq = msg.seq.wrapping_add(1);
                ctx.records.reset_read_epoch0();
                ctx.flight = Some(self.flight());
                Ok(Handshake::ClientHelloSent(self))
            }
            T::ServerHello => self.server_hello(msg, ctx),
            _ => Err(fatal(A::UnexpectedMessage, "expected ServerHello")),
        }
    }

    fn server_hello(self: Box<Self>, msg: Message, ctx: &mut Ctx<'_>) -> HsResult<Handshake> {
        let sh = ServerHello::parse(&msg.body).map_err(decode)?;
        if sh.version != DTLS_1_2 {
            return Err(fatal(A::ProtocolVersion, "server did not choose DTLS 1.2"));
        }
        let suite = CipherSuite::from_id(sh.cipher_suite)
            .filter(|s| ctx.config.cipher_suites.contains(s))
            .ok_or(fatal(
                A::IllegalParameter,
                "server chose a suite not offered",
            ))?;
        if sh.compression_method != COMPRESSION_NULL {
            return Err(fatal(A::IllegalParameter, "server chose compression"));
        }
        let offered = [
            EXT_SUPPORTED_GROUPS,
            EXT_EC_POINT_FORMATS,
            EXT_EXTENDED_MASTER_SECRET,
            EXT_RENEGOTIATION_INFO,
            EXT_USE_SRTP,
        ];
        // RFC 5246 §7.4.1.4: only extensions the client offered may come back.
        if sh.extensions.present.iter().any(|t| !offered.contains(t))
            || (sh.extensions.use_srtp.is_some() && self.hello.extensions.use_srtp.is_none())
        {
            return Err(fatal(
                A::UnsupportedExtension,
                "server sent an extension not offered",
            ));
        }
        if !sh.extensions.extended_master_secret {
            // RFC 7627 §5.2: we refuse a handshake without it.
            return Err(fatal(
                A::HandshakeFailure,
                "server refused extended master secret",
            ));
        }
        if sh
            .extensions
            .renegotiation_info
            .as_ref()
            .is_some_and(|ri| !ri.is_empty())
        {
            return Err(fatal(A::HandshakeFailure, "non-empty renegotiation_info"));
        }
        if let Some(f) = &sh.extensions.ec_point_formats
            && !f.contains(&POINT_FORMAT_UNCOMPRESSED)
        {
            return Err(fatal(A::IllegalParameter, "no uncompressed point format"));
        }
        let srtp = match &sh.extensions.use_srtp {
            None => None,
            Some(u) => {
                // RFC 5764 §4.1.1: exactly one profile, one we offered, and our (empty) MKI.
                let [id] = u.profiles.as_slice() else {
                    return Err(fatal(A::IllegalParameter, "use_srtp must name one profile"));
                };
                let p = SrtpProfile::from_id(*id)
                    .filter(|p| ctx.config.srtp_profiles.contains(p))
                    .ok_or(fatal(
                        A::IllegalParameter,
                        "server chose an SRTP profile not offered",
                    ))?;
                if !u.mki.is_empty() {
                    return Err(fatal(A::IllegalParameter, "unexpected SRTP MKI"));
                }
                Some(p)
            }
        };
        let mut transcript = Transcript::default();
        transcript.add(T::ClientHello, self.seq, &self.body());
        transcript.add(T::ServerHello, msg.seq, &msg.body);
        Ok(Handshake::ClientNegotiating(Box::new(ClientNegotiating {
            suite,
            srtp,
            client_random: self.hello.random,
            server_random: sh.random,
            transcript,
            next_send_seq: self.seq.wrapping_add(1),
            server_cert: None,
            server_kx: None,
            cert_request: None,
        })))
    }
}

/// Receiving Certificate, ServerKeyExchange, CertificateRequest and ServerHelloDone.
pub(crate) struct ClientNegotiating {
    suite: CipherSuite,
    srtp: Option<SrtpProfile>,
    client_random: [u8; 32],
    server_random: [u8; 32],
    transcript: Transcript,
    next_send_seq: u16,
    server_cert: Option<Vec<u8>>,
    server_kx: Option<(NamedGroup, Vec<u8>)>,
    cert_request: Option<CertificateRequest>,
}

impl ClientNegotiating {
    pub(crate) fn handle(
        mut self: Box<Self>,
        msg: Message,
        ctx: &mut Ctx<'_>,
    ) -> HsResult<Handshake> {
        let unexpected = || fatal(A::UnexpectedMessage, "unexpected message in server flight");
        match (msg.msg_type, &self.server_cert, &self.server_kx) {
            (T::Certificate, None, None) => {
                let c = Certificate::parse(&msg.body, ctx.config.max_cert_chain).map_err(decode)?;
                self.server_cert = Some(accept_peer_chain(c.chain, ctx.fingerprints)?);
            }
            (T::ServerKeyExchange, Some(cert), None) => {
                let ske = ServerKeyExchange::parse(&msg.body).map_err(decode)?;
                let group = NamedGroup::from_id(ske.group)
                    .filter(|g| ctx.config.groups.contains(g))
                    .ok_or(fatal(
                        A::IllegalParameter,
                        "server chose a group not offered",
                    ))?;
                let mut signed = Vec::with_capacity(64 + 4 + ske.public.len());
                signed.extend_from_slice(&self.client_random);
                signed.extend_from_slice(&self.server_random);
                signed.extend_from_slice(&ServerKeyExchange::params(ske.group, &ske.public));
                if !crypto::is_ecdsa_suite_scheme(ske.scheme) {
                    return Err(fatal(
                        A::IllegalParameter,
                        "ServerKeyExchange not signed with ECDSA",
                    ));
                }
                if !crypto::verify_signature(cert, ske.scheme, &signed, &ske.signature) {
                    return Err(fatal(A::DecryptError, "bad ServerKeyExchange signature"));
                }
                self.server_kx = Some((group, ske.public));
            }
            (T::CertificateRequest, Some(_), Some(_)) if self.cert_request.is_none() => {
                self.cert_request = Some(CertificateRequest::parse(&msg.body).map_err(decode)?);
            }
            (T::ServerHelloDone, Some(_), Some(_)) => {
                parse_empty(&msg.body).map_err(decode)?;
                self.transcript.add(msg.msg_type, msg.seq, &msg.body);
                return self.send_client_flight(ctx);
            }
            _ => return Err(unexpected()),
        }
        self.transcript.add(msg.msg_type, msg.seq, &msg.body);
        Ok(Handshake::ClientNegotiating(self))
    }

    /// Builds flight 5: [Certificate], ClientKeyExchange, [CertificateVerify], CCS,
    /// Finished; derives the keys and installs epoch 1.
    #[allow(clippy::boxed_local)] // states live boxed in `Handshake`
    fn send_client_flight(mut self: Box<Self>, ctx: &mut Ctx<'_>) -> HsResult<Handshake> {
        let internal = |r| fatal(A::InternalError, r);
        let (group, server_public) = self.server_kx.take().ok_or(internal("no key exchange"))?;
        let server_cert = self.server_cert.take().ok_or(internal("no certificate"))?;
        let mut flight = Flight::default();
        let mut seq = self.next_send_seq;
        let mut push = |flight: &mut Flight, t: &mut Transcript, ty, epoch, body: Vec<u8>| {
            t.add(ty, seq, &body);
            flight.handshake(epoch, ty, seq, body);
            seq = seq.wrapping_add(1);
        };
        if self.cert_request.is_some() {
            let mut body = Vec::new();
            Certificate {
                chain: vec![ctx.cert.der().to_vec()],
            }
            .write(&mut body);
            push(&mut flight, &mut self.transcript, T::Certificate, 0, body);
        }
        let kx = crypto::start_kx(group).ok_or(internal("key exchange"))?;
        let mut body = Vec::new();
        ClientKeyExchange {
            public: kx.pub_key().to_vec(),
        }
        .write(&mut body);
        push(
            &mut flight,
            &mut self.transcript,
            T::ClientKeyExchange,
            0,
            body,
        );
        // RFC 7627 §4: the session hash covers everything up to ClientKeyExchange.
        let session_hash = self.transcript.hash(self.suite);
        let master = crypto::master_secret(
            self.suite,
            kx,
            &server_public,
            b"extended master secret",
            &session_hash,
        )
        .ok_or(fatal(A::IllegalParameter, "bad server public key"))?;
        if let Some(req) = &self.cert_request {
            let (scheme, signature) = crypto::sign(
                ctx.cert.key(),
                &req.signature_algorithms,
                self.transcript.bytes(),
            )
            .ok_or(fatal(A::HandshakeFailure, "no common signature scheme"))?;
            let mut body = Vec::new();
            CertificateVerify { scheme, signature }.write(&mut body);
            push(
                &mut flight,
                &mut self.transcript,
                T::CertificateVerify,
                0,
                body,
            );
        }
        flight.ccs();
        let (write, read) = derive_ciphers(
            self.suite,
            &master,
            &self.client_random,
            &self.server_random,
            true,
        )?;
        ctx.records.install(write, read);
        let vd = verify_data(self.suite, &master, b"client finished", &self.transcript);
        push(
            &mut flight,
            &mut self.transcript,
            T::Finished,
            1,
            vd.to_vec(),
        );
        ctx.flight = Some(flight);
        Ok(Handshake::ClientWaitFinished(Box::new(
            ClientWaitFinished {
                established: Established {
                    suite: self.suite,
                    srtp: self.srtp,
                    master,
                    client_random: self.client_random,
                    server_random: self.server_random,
                    peer_cert: server_cert,
                },
                transcript: core::mem::take(&mut self.transcript),
            },
        )))
    }
}

/// Flight 5 sent; waiting for the server's Finished.
pub(crate) struct ClientWaitFinished {
    established: Established,
    transcript: Transcript,
}

impl ClientWaitFinished {
    #[allow(clippy::boxed_local)] // states live boxed in `Handshake`
    pub(crate) fn handle(self: Box<Self>, msg: Message, _ctx: &mut Ctx<'_>) -> HsResult<Handshake> {
        if msg.msg_type != T::Finished {
            return Err(fatal(A::UnexpectedMessage, "expected Finished"));
        }
        if msg.epoch != 1 {
            return Err(fatal(A::UnexpectedMessage, "Finished not encrypted"));
        }
        let got = parse_finished(&msg.body).map_err(decode)?;
        let e = &self.established;
        let want = verify_data(e.suite, &e.master, b"server finished", &self.transcript);
        if !ct_eq(&got, &want) {
            return Err(Fatal {
                alert: A::DecryptError,
                reason: "server Finished does not verify",
            });
        }
        Ok(Handshake::Established(Box::new(self.established)))
    }
}
