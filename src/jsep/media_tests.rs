//! Tests of the RTP side of m-lines: parsing, writing, codec and extension negotiation.

use super::codecs::*;
use super::*;

fn sdp(media: &str) -> String {
    format!("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n{media}")
}

const VIDEO: &str = "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 35\r\nc=IN IP4 0.0.0.0\r\n\
a=mid:0\r\na=sendonly\r\na=rtcp-mux\r\na=rtcp-rsize\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=extmap:10/recvonly urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n\
a=extmap:12 urn:example:unknown\r\n\
a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:* ccm fir\r\n\
a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
a=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n\
a=rtpmap:35 H264/90000\r\na=fmtp:35 packetization-mode=0;profile-level-id=42e01f\r\n\
a=msid:stream track\r\na=ssrc-group:FID 11 22\r\na=ssrc:11 cname:abc\r\na=ssrc:11 msid:stream track\r\na=ssrc:22 cname:abc\r\n\
a=rid:h send\r\na=rid:l send max-width=320\r\na=simulcast:send h;~l\r\n";

#[test]
fn a_video_section_parses() {
    let s = Sdp::parse(&sdp(VIDEO)).unwrap();
    let m = &s.media[0];
    assert!(m.is_rtp());
    let r = &m.rtp;
    assert_eq!(r.direction, Direction::SendOnly);
    assert!(r.rtcp_rsize);
    assert_eq!(
        r.codecs.iter().map(|c| c.payload_type).collect::<Vec<_>>(),
        [96, 97, 102, 103, 35]
    );
    let vp8 = r.codec(96).unwrap();
    assert_eq!(
        vp8.feedback,
        ["nack", "nack pli", "ccm fir"],
        "wildcard rtcp-fb applies"
    );
    assert_eq!(r.codec(97).unwrap().apt(), Some(96));
    assert_eq!(
        r.codec(102).unwrap().fmtp.get("profile-level-id"),
        Some("42e01f")
    );
    assert_eq!(r.extmaps.len(), 3);
    assert_eq!(r.extmaps[1].direction, Some(Direction::RecvOnly));
    assert_eq!(r.extmap_id(codecs::uri::MID), Some(4));
    assert_eq!(r.msid.as_ref().unwrap().track, "track");
    assert_eq!(r.ssrcs.len(), 2);
    assert_eq!(r.ssrcs[0].cname.as_deref(), Some("abc"));
    assert_eq!(r.rtx_ssrc(11), Some(22));
    assert_eq!(r.rids.len(), 2);
    assert!(r.rids[0].send);
    assert_eq!(r.rids[1].restrictions, "max-width=320");
    let sim = r.simulcast.as_ref().unwrap();
    assert_eq!(
        sim.send,
        vec![vec!["h".to_string()], vec!["~l".to_string()]]
    );
}

#[test]
fn bad_media_attributes_are_errors() {
    for (bad, what) in [
        ("m=audio 9 UDP/TLS/RTP/SAVPF x\r\n", "payload type"),
        ("m=audio 9 UDP/TLS/RTP/SAVPF 200\r\n", "above 127"),
        (
            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus\r\n",
            "clock rate",
        ),
        (
            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=extmap:1 a\r\na=extmap:1 b\r\n",
            "used twice",
        ),
        (
            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=extmap:15 a\r\n",
            "bad id",
        ),
        (
            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=ssrc:x cname:y\r\n",
            "bad SSRC",
        ),
        (
            "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=rid:h sideways\r\n",
            "send or recv",
        ),
    ] {
        let e = Sdp::parse(&sdp(bad)).unwrap_err();
        assert!(e.reason.contains(what), "{bad:?}: {e}");
    }
    // Static payload types need no rtpmap; unknown dynamic ones without one are skipped.
    let s = Sdp::parse(&sdp("m=audio 9 UDP/TLS/RTP/SAVPF 0 8 100\r\n")).unwrap();
    let names: Vec<&str> = s.media[0]
        .rtp
        .codecs
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["PCMU", "PCMA"]);
}

#[test]
fn directions_answer_by_rfc_3264() {
    use Direction::*;
    for (offer, want, answer) in [
        (SendRecv, SendRecv, SendRecv),
        (SendOnly, SendRecv, RecvOnly),
        (RecvOnly, SendRecv, SendOnly),
        (Inactive, SendRecv, Inactive),
        (SendRecv, RecvOnly, RecvOnly),
        (SendOnly, SendOnly, Inactive),
    ] {
        assert_eq!(
            Direction::answer(offer, want),
            answer,
            "{offer:?} / {want:?}"
        );
    }
    assert_eq!(SendOnly.reverse(), RecvOnly);
}

#[test]
fn codec_negotiation_keeps_offered_payload_types() {
    let s = Sdp::parse(&sdp(VIDEO)).unwrap();
    let offered = &s.media[0].rtp.codecs;
    let ours = default_video_codecs();
    let ans = answer_codecs(offered, &ours);
    // VP8 + its RTX, H264 mode 1 CB + RTX; H264 mode 0 is not ours.
    let pts: Vec<u8> = ans.iter().map(|c| c.payload_type).collect();
    assert_eq!(pts, [96, 97, 102, 103]);
    // Feedback: the intersection (we do all three).
    assert_eq!(ans[0].feedback, ["nack", "nack pli", "ccm fir"]);
    assert!(ans[1].feedback.is_empty(), "no rtcp-fb on RTX");
    // And back: our offer answered by that.
    assert_eq!(
        accept_answer_codecs(&ours, &ans).len(),
        2,
        "96 and 97 match ours; 102/103 differ in pt"
    );
    // Extensions: known ones only.
    let exts = answer_extmaps(&s.media[0].rtp.extmaps, &default_video_extensions());
    assert_eq!(exts.iter().map(|e| e.id).collect::<Vec<_>>(), [4, 10]);
}

fn h264(plid: &str, mode: u8) -> Codec {
    Codec {
        payload_type: 100,
        name: "H264".into(),
        clock_rate: 90000,
        channels: 1,
        fmtp: Fmtp::parse(&format!(
            "packetization-mode={mode};profile-level-id={plid}"
        )),
        feedback: vec![],
    }
}

#[test]
fn h264_profiles_match_by_rfc_6184() {
    // Constrained baseline, however written (42e0, 42c0, 4de0 = main with set0... no:
    // 4d with constraint_set1 is CB-compatible only with set0 too).
    assert!(
        same_format(&h264("42e01f", 1), &h264("42c033", 1)),
        "CB, level differs"
    );
    assert!(
        same_format(&h264("42e01f", 1), &h264("4d801f", 1)),
        "main with constraint_set0 is CB"
    );
    assert!(
        !same_format(&h264("42e01f", 1), &h264("42001f", 1)),
        "CB vs baseline"
    );
    assert!(
        !same_format(&h264("42e01f", 1), &h264("42e01f", 0)),
        "packetization mode"
    );
    assert!(
        !same_format(&h264("640c1f", 1), &h264("4d001f", 1)),
        "high vs main"
    );
    assert!(!same_format(&h264("zz", 1), &h264("42e01f", 1)));
    // Level: the lower one unless both allow asymmetry.
    let mut ours = h264("42e01f", 1);
    let offered = h264("42e033", 1);
    let ans = answer_codecs(std::slice::from_ref(&offered), std::slice::from_ref(&ours));
    assert_eq!(ans[0].fmtp.get("profile-level-id"), Some("42e01f"));
    ours.fmtp.set("level-asymmetry-allowed", "1");
    let mut offered = offered;
    offered.fmtp.set("level-asymmetry-allowed", "1");
    let ans = answer_codecs(&[offered], &[ours]);
    assert_eq!(ans[0].fmtp.get("profile-level-id"), Some("42e033"));
}

#[test]
fn written_media_sections_parse_back() {
    let s = Sdp::parse(&sdp(VIDEO)).unwrap();
    let desc = s.media[0].rtp.clone();
    let mut out = Vec::new();
    desc.write(&mut out);
    let text: String = out
        .iter()
        .map(|a| match &a.value {
            Some(v) => format!("a={}:{v}\r\n", a.key),
            None => format!("a={}\r\n", a.key),
        })
        .collect();
    let again = Sdp::parse(&sdp(&format!(
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 35\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n{text}"
    )))
    .unwrap();
    assert_eq!(again.media[0].rtp, desc);
    assert_eq!(
        Fmtp::parse("a=1;b=2; 111/111").to_string(),
        "a=1;b=2;111/111"
    );
}

/// The SDP bounds past their limits: more than `MAX_MEDIA_SECTIONS` m-lines is an error
/// (exactly that many parse); formats beyond the first `MAX_CODECS` of an m-line are not
/// read (not even a malformed one); `a=ssrc` SSRCs, `a=ssrc-group` lines and their
/// SSRCs, `a=rid` lines and simulcast streams are cut at `MAX_SSRCS`.
#[test]
fn sdp_limits_hold_past_their_bounds() {
    let section = |mid: usize| {
        format!(
            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:{mid}\r\n\
             a=rtpmap:111 opus/48000/2\r\n"
        )
    };
    let many = |n: usize| sdp(&(0..n).map(section).collect::<String>());
    let s = Sdp::parse(&many(MAX_MEDIA_SECTIONS)).unwrap();
    assert_eq!(s.media.len(), MAX_MEDIA_SECTIONS);
    let err = Sdp::parse(&many(MAX_MEDIA_SECTIONS + 1)).unwrap_err();
    assert!(err.to_string().contains("too many m-lines"), "{err}");

    // 300 formats: the first MAX_CODECS are read, the rest (a bad one included) not.
    let mut formats: Vec<String> = (0..MAX_CODECS).map(|i| (i % 128).to_string()).collect();
    formats.push("not-a-number".into());
    formats.extend((0..171).map(|i| (i % 128).to_string()));
    let rtpmaps: String = (96..128)
        .map(|pt| format!("a=rtpmap:{pt} VP8/90000\r\n"))
        .collect();
    let video = format!(
        "m=video 9 UDP/TLS/RTP/SAVPF {}\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n{rtpmaps}",
        formats.join(" ")
    );
    let s = Sdp::parse(&sdp(&video)).unwrap();
    let codecs = &s.media[0].rtp.codecs;
    assert!(codecs.len() <= MAX_CODECS);
    assert!(!codecs.is_empty());
    let mut bad = formats.clone();
    bad[3] = "not-a-number".into();
    let video_bad = format!(
        "m=video 9 UDP/TLS/RTP/SAVPF {}\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n{rtpmaps}",
        bad.join(" ")
    );
    assert!(
        Sdp::parse(&sdp(&video_bad)).is_err(),
        "within the bound, it is read"
    );

    // 100 SSRCs, groups, rids and simulcast streams.
    let n = MAX_SSRCS + 36;
    let mut m = String::from(
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
         a=rtpmap:96 VP8/90000\r\n",
    );
    for i in 0..n {
        m += &format!("a=ssrc:{} cname:c\r\n", 1000 + i);
    }
    for i in 0..n {
        m += &format!("a=ssrc-group:FID {} {}\r\n", 1000 + i, 5000 + i);
    }
    let big_group: Vec<String> = (0..n).map(|i| (9000 + i).to_string()).collect();
    m += &format!("a=ssrc-group:SIM {}\r\n", big_group.join(" "));
    for i in 0..n {
        m += &format!("a=rid:r{i} send\r\n");
    }
    let streams: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
    m += &format!("a=simulcast:send {}\r\n", streams.join(";"));
    let s = Sdp::parse(&sdp(&m)).unwrap();
    let r = &s.media[0].rtp;
    assert_eq!(r.ssrcs.len(), MAX_SSRCS);
    assert_eq!(r.ssrcs.last().unwrap().ssrc, 1000 + MAX_SSRCS as u32 - 1);
    assert_eq!(
        r.ssrc_groups.len(),
        MAX_SSRCS,
        "the SIM group comes too late"
    );
    assert!(r.ssrc_groups.iter().all(|g| g.ssrcs.len() <= MAX_SSRCS));
    assert_eq!(r.rids.len(), MAX_SSRCS);
    assert_eq!(r.simulcast.as_ref().unwrap().send.len(), MAX_SSRCS);
    // A single group with more SSRCs than the bound keeps the first MAX_SSRCS.
    let m2 = format!(
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
         a=rtpmap:96 VP8/90000\r\na=ssrc-group:SIM {}\r\n",
        big_group.join(" ")
    );
    let s = Sdp::parse(&sdp(&m2)).unwrap();
    assert_eq!(s.media[0].rtp.ssrc_groups[0].ssrcs.len(), MAX_SSRCS);
}
