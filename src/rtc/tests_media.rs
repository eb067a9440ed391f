//! Unit tests of incoming media routing: simulcast by rid, RTX by repaired rid, and
//! SSRCs learned from the MID extension, on plain RTP fed past SRTP.

use super::*;
use crate::jsep::MediaKind;
use crate::rtp::wire::RtpHeaderRepr;

const CHROMIUM_AV: &str = include_str!("../../tests/fixtures/sdp/chromium-av-datachannel.sdp");

/// Chromium's audio/video offer, its video made a two-layer simulcast by rid (as
/// Chromium writes it: rids, `a=simulcast`, no SSRCs).
fn simulcast_offer() -> String {
    let mut out = String::new();
    let mut in_video = false;
    for line in CHROMIUM_AV.lines() {
        if line.starts_with("m=") {
            if in_video {
                out.push_str("a=rid:h send\r\na=rid:l send\r\na=simulcast:send h;l\r\n");
            }
            in_video = line.starts_with("m=video");
        }
        if in_video && (line.starts_with("a=ssrc") || line.starts_with("a=ssrc-group")) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

fn packet(ssrc: u32, pt: u8, seq: u16, exts: &[(u8, &[u8])], payload: &[u8]) -> Vec<u8> {
    let repr = RtpHeaderRepr {
        payload_type: pt,
        sequence_number: seq,
        timestamp: 90_000,
        ssrc,
        extensions: exts,
        ..Default::default()
    };
    let mut buf = vec![0u8; 1500];
    let n = repr.write(&mut buf, payload).unwrap();
    buf.truncate(n);
    buf
}

fn rtp_events(rtc: &mut Rtc) -> Vec<RtpPacket> {
    let mut out = Vec::new();
    while let Some(e) = rtc.poll_event() {
        if let RtcEvent::MediaRtp(p) = e {
            out.push(p);
        }
    }
    out
}

#[test]
fn simulcast_layers_are_told_apart_by_rid_and_rtx_by_repaired_rid() {
    let mut b = Rtc::new(
        RtcConfig {
            rng: RngSource::Seeded(5),
            ..RtcConfig::default()
        },
        Instant::ZERO,
    )
    .unwrap();
    let answer = b.accept_offer(Instant::ZERO, &simulcast_offer()).unwrap();
    // The answer receives both layers.
    assert!(
        answer.contains("a=rid:h recv\r\na=rid:l recv\r\n"),
        "{answer}"
    );
    assert!(answer.contains("a=simulcast:recv h;l\r\n"), "{answer}");
    let video = b
        .media
        .iter()
        .find(|t| t.kind == MediaKind::Video)
        .map(|t| t.id)
        .unwrap();
    let ids = b.transceiver(video).unwrap().ext_ids;
    let (mid, rid, rrid) = (
        ids.mid.unwrap(),
        ids.rid.unwrap(),
        ids.repaired_rid.unwrap(),
    );
    let now = Instant::from_millis(10);
    // Layer h on SSRC 100, layer l on SSRC 200, each announced by its first packet.
    for (ssrc, layer) in [(100u32, b"h"), (200, b"l")] {
        let p = packet(ssrc, 96, 1, &[(mid, b"1"), (rid, layer)], b"first");
        b.handle_rtp(now, &p);
        // Later packets carry no header extension at all.
        let p = packet(ssrc, 96, 2, &[], b"second");
        b.handle_rtp(now, &p);
    }
    // Layer l loses seq 3; its RTX (SSRC 201, pt 97, repaired rid l) brings it.
    b.handle_rtp(now, &packet(200, 96, 4, &[], b"fourth"));
    let mut rtx_payload = 3u16.to_be_bytes().to_vec();
    rtx_payload.extend_from_slice(b"third");
    b.handle_rtp(
        now,
        &packet(201, 97, 1000, &[(mid, b"1"), (rrid, b"l")], &rtx_payload),
    );
    // A padding-only RTX probe is no packet.
    b.handle_rtp(now, &packet(201, 97, 1001, &[], &[]));
    let got = rtp_events(&mut b);
    type Seen<'a> = (u32, Option<&'a str>, u16, &'a [u8], bool);
    let summary: Vec<Seen<'_>> = got
        .iter()
        .map(|p| {
            (
                p.ssrc,
                p.rid.as_deref(),
                p.sequence_number as u16,
                p.payload(),
                p.repaired,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (100, Some("h"), 1, &b"first"[..], false),
            (100, Some("h"), 2, &b"second"[..], false),
            (200, Some("l"), 1, &b"first"[..], false),
            (200, Some("l"), 2, &b"second"[..], false),
            (200, Some("l"), 4, &b"fourth"[..], false),
            (200, Some("l"), 3, &b"third"[..], true),
        ]
    );
    assert!(got.iter().all(|p| p.media == video && p.payload_type == 96));
    // The RTX packet came back as the original: SSRC, payload type, sequence number.
    let rtx = got.last().unwrap();
    let h = crate::rtp::wire::RtpHeader::parse(&rtx.raw).unwrap();
    assert_eq!((h.ssrc, h.payload_type, h.sequence_number), (200, 96, 3));
    // A third rid is not one the offer announced: refused.
    b.handle_rtp(now, &packet(300, 96, 1, &[(mid, b"1"), (rid, b"x")], b"?"));
    assert!(rtp_events(&mut b).is_empty());
    assert_eq!(b.stats().media_unrouted, 1);
    let stats = b.media_stats(video).unwrap();
    let mut layers: Vec<_> = stats.recv.iter().map(|(s, r, _)| (*s, r.clone())).collect();
    layers.sort();
    assert_eq!(
        layers,
        vec![(100, Some("h".into())), (200, Some("l".into()))]
    );
}

#[test]
fn an_ssrc_is_learned_from_the_mid_or_a_payload_type_only_one_m_line_has() {
    let mut b = Rtc::new(
        RtcConfig {
            rng: RngSource::Seeded(6),
            ..RtcConfig::default()
        },
        Instant::ZERO,
    )
    .unwrap();
    // Chromium's offer without any a=ssrc: nothing announced.
    let offer: String = CHROMIUM_AV
        .lines()
        .filter(|l| !l.starts_with("a=ssrc"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    b.accept_offer(Instant::ZERO, &offer).unwrap();
    let audio = b.media.iter().find(|t| t.kind == MediaKind::Audio).unwrap();
    let (audio_id, audio_mid) = (audio.id, audio.ext_ids.mid.unwrap());
    let now = Instant::from_millis(10);
    // By MID.
    b.handle_rtp(now, &packet(7, 111, 1, &[(audio_mid, b"0")], b"a"));
    // By payload type: 96 (VP8) is only on the video m-line.
    b.handle_rtp(now, &packet(8, 96, 1, &[], b"v"));
    // 0 (PCMU) also only audio.
    b.handle_rtp(now, &packet(9, 0, 1, &[], b"p"));
    let got = rtp_events(&mut b);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].media, audio_id);
    assert_ne!(got[1].media, audio_id);
    assert_eq!(got[2].media, audio_id);
    // A payload type neither m-line has: unrouted.
    b.handle_rtp(now, &packet(10, 55, 1, &[], b"?"));
    assert!(rtp_events(&mut b).is_empty());
    assert_eq!(b.stats().media_unrouted, 1);
}

/// A thousand SSRCs (as a peer holding the SRTP keys could send): incoming streams per
/// transceiver stop at `max_receive_streams`, routes at 256, media events waiting for
/// `poll_event` at `max_queued` (the rest dropped and counted); diagnostics agree.
#[test]
fn receive_streams_routes_and_media_events_are_bounded() {
    let mut b = Rtc::new(
        RtcConfig {
            rng: RngSource::Seeded(7),
            media: MediaConfig {
                max_receive_streams: 4,
                max_queued: 16,
                ..MediaConfig::default()
            },
            ..RtcConfig::default()
        },
        Instant::ZERO,
    )
    .unwrap();
    let offer: String = CHROMIUM_AV
        .lines()
        .filter(|l| !l.starts_with("a=ssrc"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    b.accept_offer(Instant::ZERO, &offer).unwrap();
    while b.poll_event().is_some() {}
    let now = Instant::from_millis(10);
    for ssrc in 0..1000u32 {
        // 96 (VP8) routes to the video m-line alone.
        b.handle_rtp(now, &packet(1000 + ssrc, 96, 1, &[], b"v"));
    }
    // More packets of an accepted stream than the event queue holds.
    for seq in 2..102u16 {
        b.handle_rtp(now, &packet(1000, 96, seq, &[], b"v"));
    }
    let d = b.diagnostics();
    assert_eq!(d.over_limit(), None, "{d:#?}");
    assert_eq!(d.media.receive_streams.len, 4);
    assert!(d.media.routes.len <= 256);
    assert_eq!(d.events.len, 16);
    let queued = rtp_events(&mut b).len();
    assert_eq!(queued, 16, "max_queued media events");
    let st = b.stats();
    // 996 streams refused, 104 - 16 packets of the accepted ones over the event bound.
    assert!(
        st.media_dropped + st.media_unrouted >= 996 + 88,
        "{} + {}",
        st.media_dropped,
        st.media_unrouted
    );
}

/// The media packet pool past its bound: `Rtc::recycle` keeps at most `MEDIA_POOL` (64)
/// packet-sized buffers and frees the rest, and never keeps a buffer too big for a
/// packet when there is no association to take it.
#[test]
fn recycled_packet_buffers_are_bounded() {
    let mut rtc = Rtc::new(
        RtcConfig {
            rng: RngSource::Seeded(8),
            ..RtcConfig::default()
        },
        Instant::ZERO,
    )
    .unwrap();
    rtc.add_media(MediaKind::Video, crate::jsep::Direction::SendRecv)
        .unwrap();
    let before = rtc.diagnostics().total_bytes;
    for _ in 0..1000 {
        rtc.recycle(Vec::with_capacity(1200));
    }
    assert_eq!(rtc.pool.len(), MEDIA_POOL);
    assert_eq!(MEDIA_POOL, 64);
    let grown = rtc.diagnostics().total_bytes - before;
    assert!(grown <= MEDIA_POOL * 1200, "{grown} bytes");
    rtc.recycle(Vec::with_capacity(1 << 20));
    assert_eq!(rtc.pool.len(), MEDIA_POOL);
    assert_eq!(rtc.diagnostics().total_bytes - before, grown);
}
