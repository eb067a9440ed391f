//! Unit tests of SDP handling: our descriptions, real browsers' offers, hostile text.

use proptest::prelude::*;

use super::description::{LocalSection, RejectedSection, Section, write};
use super::*;
use crate::dtls::{Fingerprint, HashAlgorithm};
use crate::ice::{Candidate, CandidateKind, Credentials};
use crate::net::Protocol;

fn fp() -> Fingerprint {
    Fingerprint::of(HashAlgorithm::Sha256, b"certificate")
}

fn ours(candidates: &[Candidate], setup: Setup, eoc: bool, creds: &Credentials) -> String {
    let f = fp();
    let local = LocalSection {
        mid: "0",
        credentials: creds,
        fingerprint: &f,
        setup,
        candidates,
        end_of_candidates: eoc,
        sctp_port: 5000,
        max_message_size: 262_144,
    };
    write(42, 7, false, &[Section::DataChannel(local)])
}

#[test]
fn our_offer_round_trips() {
    let creds = Credentials {
        ufrag: "abcd".into(),
        pwd: "0123456789012345678901".into(),
    };
    let host = Candidate::host("192.0.2.1:5000".parse().unwrap(), Protocol::Udp);
    let mut host = host;
    host.foundation = "1".into();
    host.priority = 2_130_706_431;
    let srflx = Candidate::new(
        CandidateKind::ServerReflexive,
        "203.0.113.7:40000".parse().unwrap(),
        "192.0.2.1:5000".parse().unwrap(),
        Some("198.51.100.1".parse().unwrap()),
        Protocol::Udp,
        65535,
    );
    let text = ours(&[host.clone(), srflx.clone()], Setup::ActPass, true, &creds);
    assert!(
        text.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"),
        "{text}"
    );
    assert!(text.contains("a=group:BUNDLE 0\r\n"));
    let sdp = Sdp::parse(&text).unwrap();
    assert_eq!((sdp.session_id, sdp.session_version), (42, 7));
    assert!(sdp.trickle && !sdp.ice_lite);
    assert_eq!(sdp.bundle, vec!["0".to_string()]);
    let (i, dc) = sdp.datachannel().unwrap();
    assert_eq!(i, 0);
    assert_eq!(dc.mid.as_deref(), Some("0"));
    assert_eq!(dc.ice.as_ref(), Some(&creds));
    assert_eq!(dc.fingerprints, vec![fp()]);
    assert_eq!(dc.setup, Some(Setup::ActPass));
    assert_eq!(dc.candidates, vec![host, srflx]);
    assert!(dc.end_of_candidates);
    assert_eq!(dc.sctp_port, Some(5000));
    assert_eq!(dc.max_message_size, Some(262_144));
}

#[test]
fn answers_reject_media_sections() {
    let offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n\
        a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n\
        a=fingerprint:sha-1 00:11:22:33:44:55:66:77:88:99:00:11:22:33:44:55:66:77:88:99\r\n\
        a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
        a=setup:actpass\r\na=sctp-port:5000\r\n\
        a=candidate:1 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active\r\n\
        a=candidate:2 1 udp 2122260223 3d3c2e0a-7e0b-4f2a-9c6f-1c6b1c8a1234.local 50000 typ host\r\n\
        a=candidate:3 1 udp 2122260223 192.0.2.1 50000 typ host\r\n";
    let sdp = Sdp::parse(offer).unwrap();
    assert_eq!(sdp.media.len(), 2);
    let (i, dc) = sdp.datachannel().unwrap();
    assert_eq!(i, 1);
    assert_eq!(dc.fingerprints.len(), 1, "sha-1 is skipped, sha-256 kept");
    assert_eq!(
        dc.candidates.len(),
        1,
        "TCP and mDNS candidates are skipped"
    );
    assert_eq!(dc.skipped_candidates, 2);
    assert_eq!(dc.max_message_size, None);
    let creds = dc.ice.clone().unwrap();
    let f = fp();
    let local = LocalSection {
        mid: "1",
        credentials: &creds,
        fingerprint: &f,
        setup: Setup::Active,
        candidates: &[],
        end_of_candidates: false,
        sctp_port: 5000,
        max_message_size: 65536,
    };
    let answer = write(
        9,
        1,
        false,
        &[
            Section::Rejected(RejectedSection {
                section: &sdp.media[0],
            }),
            Section::DataChannel(local),
        ],
    );
    assert!(
        answer.contains("m=audio 0 UDP/TLS/RTP/SAVPF 111 0\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("a=group:BUNDLE 1\r\n"),
        "rejected mids leave BUNDLE"
    );
    let back = Sdp::parse(&answer).unwrap();
    assert!(back.media[0].is_rejected());
    assert_eq!(back.media[0].mid.as_deref(), Some("0"));
    assert_eq!(back.datachannel().unwrap().1.setup, Some(Setup::Active));
}

#[test]
fn session_level_values_are_inherited() {
    let offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=ice-ufrag:sess\r\na=ice-pwd:0123456789012345678901\r\na=ice-lite\r\n\
        a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
        a=setup:passive\r\n\
        m=application 5000 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:data\r\n";
    let sdp = Sdp::parse(offer).unwrap();
    assert!(sdp.ice_lite);
    let (_, dc) = sdp.datachannel().unwrap();
    assert_eq!(dc.ice.as_ref().map(|c| c.ufrag.as_str()), Some("sess"));
    assert_eq!(dc.setup, Some(Setup::Passive));
    assert_eq!(dc.fingerprints.len(), 1);
}

#[test]
fn malformed_sdp_names_the_line() {
    let cases: [(&str, Option<usize>); 6] = [
        ("v=0\r\nhello\r\n", Some(2)),
        (
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio\r\n",
            Some(5),
        ),
        ("v=0\r\no=- x 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", Some(2)),
        ("", None),
        (
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=fingerprint:sha-256 zz\r\n",
            None,
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 70000 UDP/DTLS/SCTP x\r\n",
            None,
        ),
    ];
    for (text, line) in cases {
        let err = Sdp::parse(text).unwrap_err();
        if line.is_some() {
            assert_eq!(err.line, line, "{text:?}: {err}");
        }
        assert!(!err.to_string().is_empty());
    }
    let huge = "a".repeat(MAX_SDP_LEN + 1);
    assert!(Sdp::parse(&huge).is_err());
}

fn credentials() -> impl Strategy<Value = Credentials> {
    ("[a-zA-Z0-9+/]{4,32}", "[a-zA-Z0-9+/]{22,64}")
        .prop_map(|(ufrag, pwd)| Credentials { ufrag, pwd })
}

fn candidate() -> impl Strategy<Value = Candidate> {
    (
        any::<[u8; 4]>(),
        1u16..,
        any::<u32>(),
        0u8..3,
        any::<[u8; 4]>(),
        1u16..,
    )
        .prop_map(|(ip, port, prio, kind, rip, rport)| {
            let kind = match kind {
                0 => CandidateKind::Host,
                1 => CandidateKind::ServerReflexive,
                _ => CandidateKind::Relayed,
            };
            let addr = std::net::SocketAddr::from((ip, port));
            Candidate {
                foundation: format!("{}", prio % 1000),
                component: 1,
                proto: Protocol::Udp,
                priority: prio,
                addr,
                kind,
                related: (kind != CandidateKind::Host)
                    .then(|| std::net::SocketAddr::from((rip, rport))),
                ufrag: None,
            }
        })
}

proptest! {
    /// Our own offers always round-trip.
    #[test]
    fn generated_offers_round_trip(
        creds in credentials(),
        candidates in proptest::collection::vec(candidate(), 0..8),
        setup in prop_oneof![Just(Setup::ActPass), Just(Setup::Active), Just(Setup::Passive)],
        eoc in any::<bool>(),
    ) {
        let text = ours(&candidates, setup, eoc, &creds);
        let sdp = Sdp::parse(&text).unwrap();
        let (_, dc) = sdp.datachannel().unwrap();
        prop_assert_eq!(dc.ice.as_ref(), Some(&creds));
        prop_assert_eq!(&dc.candidates, &candidates);
        prop_assert_eq!(dc.setup, Some(setup));
        prop_assert_eq!(dc.end_of_candidates, eoc);
    }

    /// Parsing never panics, whatever is done to a valid offer's lines.
    #[test]
    fn mangled_offers_never_panic(
        creds in credentials(),
        cut in any::<prop::sample::Index>(),
        junk in "[ -~\r\n]{0,64}",
        replace in any::<prop::sample::Index>(),
    ) {
        let text = ours(&[], Setup::ActPass, false, &creds);
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let i = replace.index(lines.len());
        lines[i] = junk.clone();
        let mangled = lines.join("\r\n");
        let _ = Sdp::parse(&mangled);
        let at = cut.index(text.len());
        if text.is_char_boundary(at) {
            let _ = Sdp::parse(&text[..at]);
        }
        let _ = Sdp::parse(&junk);
    }

    /// Arbitrary text never panics either.
    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,400}") {
        let _ = Sdp::parse(&s);
    }
}

/// Real offers and answers captured from Chromium, Firefox and aiortc
/// (`tests/fixtures/sdp/README.md` says how and with which versions).
mod fixtures {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            (
                $name,
                include_str!(concat!("../../tests/fixtures/sdp/", $name)),
            )
        };
    }

    const OFFERS: [(&str, &str); 6] = [
        fixture!("chromium-datachannel.sdp"),
        fixture!("chromium-av-datachannel.sdp"),
        fixture!("firefox-datachannel.sdp"),
        fixture!("firefox-av-datachannel.sdp"),
        fixture!("aiortc-datachannel.sdp"),
        fixture!("aiortc-av-datachannel.sdp"),
    ];
    const ANSWERS: [(&str, &str); 2] = [
        fixture!("chromium-answer.sdp"),
        fixture!("firefox-answer.sdp"),
    ];

    #[test]
    fn every_real_offer_parses_into_what_webrtc_needs() {
        for (name, text) in OFFERS {
            let sdp = Sdp::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let (_, dc) = sdp
                .datachannel()
                .unwrap_or_else(|| panic!("{name}: no data channel"));
            assert!(dc.mid.is_some(), "{name}: mid");
            let creds = dc
                .ice
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: ICE credentials"));
            assert!(creds.is_valid(), "{name}: {creds:?}");
            assert!(!dc.fingerprints.is_empty(), "{name}: fingerprint");
            assert!(
                dc.fingerprints
                    .iter()
                    .any(|f| f.algorithm == HashAlgorithm::Sha256),
                "{name}: a sha-256 fingerprint"
            );
            assert_eq!(dc.setup, Some(Setup::ActPass), "{name}: setup");
            assert_eq!(dc.sctp_port, Some(5000), "{name}: sctp-port");
            assert!(
                dc.candidates.iter().any(|c| c.addr.ip().is_loopback()),
                "{name}: a usable loopback candidate in {:?}",
                dc.candidates
            );
            assert!(dc.candidates.iter().all(|c| c.proto == Protocol::Udp));
            assert!(
                sdp.bundle.contains(dc.mid.as_ref().unwrap()),
                "{name}: BUNDLE"
            );
            if name.contains("-av-") {
                assert!(sdp.media.len() >= 3, "{name}: audio, video and data");
                assert!(sdp.media.iter().any(|m| m.kind == MediaKind::Audio));
                assert!(sdp.media.iter().any(|m| m.kind == MediaKind::Video));
            }
        }
    }

    #[test]
    fn browser_answers_parse() {
        for (name, text) in ANSWERS {
            let sdp = Sdp::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let (_, dc) = sdp.datachannel().unwrap();
            assert!(
                matches!(dc.setup, Some(Setup::Active | Setup::Passive)),
                "{name}"
            );
        }
    }

    #[test]
    fn peculiarities_are_understood() {
        // Firefox: the fingerprint at session level, a huge max-message-size, IPv6 and
        // TCP candidates beside the IPv4 UDP one.
        let ff = Sdp::parse(OFFERS[2].1).unwrap();
        let (_, dc) = ff.datachannel().unwrap();
        assert_eq!(dc.fingerprints.len(), 1);
        assert_eq!(dc.max_message_size, Some(1_073_741_823));
        assert!(dc.skipped_candidates >= 2, "TCP candidates skipped");
        assert!(dc.end_of_candidates);
        // aiortc: three fingerprints (sha-256, sha-384, sha-512), all usable.
        let ai = Sdp::parse(OFFERS[4].1).unwrap();
        assert_eq!(ai.datachannel().unwrap().1.fingerprints.len(), 3);
    }

    #[test]
    fn every_real_offer_is_answered_correctly() {
        use crate::rtc::{Rtc, RtcConfig};
        for (name, text) in OFFERS {
            let mut rtc = Rtc::new(
                RtcConfig {
                    rng: crate::rng::RngSource::Seeded(1),
                    ..RtcConfig::default()
                },
                crate::Instant::ZERO,
            )
            .unwrap();
            rtc.add_local_candidate(Candidate::host(
                "127.0.0.1:9999".parse().unwrap(),
                Protocol::Udp,
            ))
            .unwrap();
            let answer = rtc
                .accept_offer(crate::Instant::ZERO, text)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let offer = Sdp::parse(text).unwrap();
            let ans =
                Sdp::parse(&answer).unwrap_or_else(|e| panic!("{name}: our answer: {e}\n{answer}"));
            assert_eq!(
                ans.media.len(),
                offer.media.len(),
                "{name}: one m-line per offered"
            );
            for (o, a) in offer.media.iter().zip(&ans.media) {
                assert_eq!(o.kind, a.kind, "{name}");
                assert_eq!(o.mid, a.mid, "{name}: mids kept in order");
                assert_eq!(
                    a.is_rejected(),
                    !o.is_datachannel() && !o.is_rtp(),
                    "{name}: data, audio and video accepted"
                );
                if o.is_rtp() {
                    // Codecs: a subset of the offer's, same payload types and formats;
                    // an RTX only with what it repairs.
                    assert!(!a.rtp.codecs.is_empty(), "{name}: a codec in common");
                    for c in &a.rtp.codecs {
                        let offered = o
                            .rtp
                            .codec(c.payload_type)
                            .unwrap_or_else(|| panic!("{name}: {c:?} offered"));
                        assert!(
                            c.is(&offered.name) && c.clock_rate == offered.clock_rate,
                            "{name}: {c:?}"
                        );
                        if let Some(apt) = c.apt() {
                            assert!(a.rtp.codec(apt).is_some(), "{name}: rtx apt={apt} accepted");
                        }
                        for fb in &c.feedback {
                            assert!(offered.has_feedback(fb), "{name}: rtcp-fb {fb} offered");
                        }
                    }
                    for e in &a.rtp.extmaps {
                        assert!(o.rtp.extmaps.contains(e), "{name}: extmap {e:?} offered");
                    }
                    assert_eq!(
                        a.rtp.direction,
                        crate::jsep::Direction::answer(
                            o.rtp.direction,
                            crate::jsep::Direction::SendRecv
                        ),
                        "{name}"
                    );
                    assert!(a.rtcp_mux, "{name}: rtcp-mux");
                    if a.rtp.direction.sends() {
                        assert!(!a.rtp.ssrcs.is_empty(), "{name}: our SSRCs announced");
                    }
                }
            }
            let (_, dc) = ans.datachannel().unwrap();
            assert_eq!(
                dc.setup,
                Some(Setup::Active),
                "{name}: we take the DTLS client role"
            );
            assert_eq!(dc.candidates.len(), 1);
            let accepted: Vec<String> = ans
                .media
                .iter()
                .filter(|m| !m.is_rejected())
                .filter_map(|m| m.mid.clone())
                .collect();
            assert_eq!(ans.bundle, accepted, "{name}: BUNDLE of what we accept");
        }
    }
}
