//! The RTCP wire codec on arbitrary bytes: compound framing (`RawPackets`,
//! `RtcpPackets`), every typed view (SR, RR, SDES, BYE, NACK, transport-cc feedback, PLI,
//! FIR, REMB, unknown) and every writer.
//!
//! The input is tried as a compound as it is, and with the version bits of its first byte
//! forced to 2 (so framing gets past the first header more often).
//!
//! Checked:
//! - nothing panics;
//! - framing makes progress, yields at most one `Err` and then ends; each packet is
//!   exactly header, body and padding, in order, within the input; the typed iterator
//!   yields one item per framed packet;
//! - `write_rtcp` with a packet's count, type and body gives a packet that frames and
//!   types to the same thing;
//! - every typed packet written back with its writer parses to the same values (NACK: the
//!   same lost set; REMB: the same bitrate unless it saturates; transport-cc: the same
//!   arrival times); where the writer's encoding is canonical, to the very same bytes;
//! - the views agree with their definitions (NACK lost list from PID/BLP, transport-cc
//!   arrivals as running sums of deltas, exactly `status_count` packets);
//! - writers refuse a buffer one byte too short.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::rtp::wire::{
    FirEntry, RTCP_HEADER_LEN, RawPackets, RawRtcp, ReportBlock, RtcpPacket, RtcpPackets, SdesItem,
    write_bye, write_fir, write_nack, write_pli, write_receiver_report, write_remb, write_rtcp,
    write_sdes, write_sender_report, write_twcc,
};

fuzz_target!(|data: &[u8]| {
    compound(data);
    if let Some((first, rest)) = data.split_first() {
        let mut fixed = vec![0x80 | (first & 0x3f)];
        fixed.extend_from_slice(rest);
        compound(&fixed);
    }
});

fn compound(data: &[u8]) {
    let mut at = 0usize;
    let mut errors = 0usize;
    let mut framed = 0usize;
    let mut it = RawPackets::new(data);
    for r in it.by_ref() {
        framed += 1;
        assert!(framed <= data.len() / RTCP_HEADER_LEN + 1, "no progress");
        match r {
            Ok(raw) => {
                assert_eq!(errors, 0, "a packet after an error");
                let len = RTCP_HEADER_LEN + raw.body.len() + usize::from(raw.padding);
                let packet = &data[at..at + len];
                assert_eq!(len % 4, 0);
                assert_eq!(packet[0] >> 6, 2);
                assert_eq!(packet[0] & 0x1f, raw.count);
                assert_eq!(packet[1], raw.packet_type);
                assert_eq!(
                    usize::from(u16::from_be_bytes([packet[2], packet[3]])),
                    len / 4 - 1
                );
                assert_eq!(
                    raw.body,
                    &packet[RTCP_HEADER_LEN..len - usize::from(raw.padding)]
                );
                assert_eq!(packet[0] & 0x20 != 0, raw.padding != 0);
                at += len;
                one(&raw, packet);
            }
            Err(_) => errors += 1,
        }
    }
    assert!(errors <= 1);
    assert!(it.next().is_none(), "framing resumed after its end");
    if errors == 0 {
        assert_eq!(at, data.len(), "framing stopped early");
    }
    assert_eq!(RtcpPackets::new(data).count(), framed);
}

/// Writes with `f` into a buffer of `cap` bytes (enough for any rewrite: transport-cc
/// chunks are at most about twice the original's), then into one of exactly the size it
/// needs, checking that one byte less is refused; the bytes written, `None` if `f`
/// refuses the large buffer.
fn write(cap: usize, f: impl Fn(&mut [u8]) -> Option<usize>) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; cap];
    let n = f(&mut buf)?;
    buf.truncate(n);
    assert_eq!(f(&mut vec![0u8; n - 1]), None, "writer overran");
    assert_eq!(n % 4, 0);
    Some(buf)
}

/// The only packet of `b`, framed and typed.
fn reparse(b: &[u8]) -> RtcpPacket<'_> {
    let mut it = RtcpPackets::new(b);
    let p = it.next().expect("a packet").expect("own packet parses");
    assert!(it.next().is_none());
    p
}

/// One framed packet: raw round trip, then its typed view and writer.
fn one(raw: &RawRtcp<'_>, packet: &[u8]) {
    let cap = 4 * packet.len() + 4096;
    let typed = raw.parse();
    let enc = write(cap, |b| write_rtcp(b, raw.count, raw.packet_type, raw.body)).expect("raw");
    let again = RawPackets::new(&enc).next().expect("one").expect("frames");
    assert_eq!(
        (again.count, again.packet_type, again.body),
        (raw.count, raw.packet_type, raw.body)
    );
    assert_eq!(again.parse(), typed, "raw rewrite typed differently");
    if raw.padding == 0 {
        assert_eq!(enc, packet);
    }
    let Ok(typed) = typed else { return };
    // Whether the packet is as its writer would make it: no padding, nothing extra.
    let plain = raw.padding == 0;
    match typed {
        RtcpPacket::SenderReport(sr) => {
            let blocks: Vec<ReportBlock> = sr.reports.iter().collect();
            assert_eq!(blocks.len(), usize::from(raw.count));
            let enc =
                write(cap, |b| write_sender_report(b, sr.ssrc, &sr.info, &blocks)).expect("SR");
            let RtcpPacket::SenderReport(back) = reparse(&enc) else {
                panic!("not an SR")
            };
            assert_eq!((back.ssrc, back.info), (sr.ssrc, sr.info));
            assert!(back.reports.iter().eq(blocks.iter().copied()));
            if plain && sr.extension.is_empty() {
                assert_eq!(enc, packet);
            }
        }
        RtcpPacket::ReceiverReport(rr) => {
            let blocks: Vec<ReportBlock> = rr.reports.iter().collect();
            let enc = write(cap, |b| write_receiver_report(b, rr.ssrc, &blocks)).expect("RR");
            let RtcpPacket::ReceiverReport(back) = reparse(&enc) else {
                panic!("not an RR")
            };
            assert_eq!(back.ssrc, rr.ssrc);
            assert!(back.reports.iter().eq(blocks.iter().copied()));
            if plain && rr.extension.is_empty() {
                assert_eq!(enc, packet);
            }
        }
        RtcpPacket::Sdes(s) => {
            let chunks: Vec<(u32, Vec<SdesItem<'_>>)> =
                s.chunks().map(|c| (c.ssrc, c.items().collect())).collect();
            assert_eq!(chunks.len(), usize::from(raw.count));
            for (c, (_, items)) in s.chunks().zip(&chunks) {
                assert_eq!(
                    c.cname(),
                    items.iter().find(|i| i.kind == 1).map(|i| i.value)
                );
                assert!(items.iter().all(|i| i.kind != 0));
            }
            let list: Vec<(u32, &[SdesItem<'_>])> =
                chunks.iter().map(|(s, i)| (*s, i.as_slice())).collect();
            let enc = write(cap, |b| write_sdes(b, &list)).expect("SDES");
            let RtcpPacket::Sdes(back) = reparse(&enc) else {
                panic!("not an SDES")
            };
            let again: Vec<(u32, Vec<SdesItem<'_>>)> = back
                .chunks()
                .map(|c| (c.ssrc, c.items().collect()))
                .collect();
            assert_eq!(again, chunks);
        }
        RtcpPacket::Bye(bye) => {
            let ssrcs: Vec<u32> = bye.ssrcs.iter().collect();
            assert_eq!(ssrcs.len(), usize::from(raw.count));
            let enc = write(cap, |b| write_bye(b, &ssrcs, bye.reason)).expect("BYE");
            let RtcpPacket::Bye(back) = reparse(&enc) else {
                panic!("not a BYE")
            };
            assert!(back.ssrcs.iter().eq(ssrcs.iter().copied()));
            assert_eq!(back.reason, bye.reason);
        }
        RtcpPacket::Nack(n) => {
            // The definition of the lost list (RFC 4585 §6.2.1).
            let mut want = Vec::new();
            for (pid, blp) in n.pairs() {
                want.push(pid);
                want.extend(
                    (1..=16u16)
                        .filter(|i| blp & (1 << (i - 1)) != 0)
                        .map(|i| pid.wrapping_add(i)),
                );
            }
            let lost: Vec<u16> = n.lost().collect();
            assert_eq!(lost, want);
            match write(cap, |b| write_nack(b, n.sender_ssrc, n.media_ssrc, &lost)) {
                None => assert!(lost.is_empty()),
                Some(enc) => {
                    let RtcpPacket::Nack(back) = reparse(&enc) else {
                        panic!("not a NACK")
                    };
                    assert_eq!(
                        (back.sender_ssrc, back.media_ssrc),
                        (n.sender_ssrc, n.media_ssrc)
                    );
                    let mut got: Vec<u16> = back.lost().collect();
                    let mut want = lost;
                    for v in [&mut got, &mut want] {
                        v.sort_unstable();
                        v.dedup();
                    }
                    assert_eq!(got, want);
                }
            }
        }
        RtcpPacket::TransportCc(t) => {
            let packets: Vec<(u16, Option<i64>)> = t.packets().collect();
            let arrivals: Vec<(u16, Option<i64>)> = t.arrivals().collect();
            assert_eq!(packets.len(), usize::from(t.status_count));
            let mut time = t.reference_time_us();
            for (i, (p, a)) in packets.iter().zip(&arrivals).enumerate() {
                assert_eq!(p.0, t.base_seq.wrapping_add(i as u16));
                assert_eq!(p.0, a.0);
                assert_eq!(p.1.is_some(), a.1.is_some());
                if let Some(d) = p.1 {
                    assert_eq!(d % 250, 0);
                    assert!((-8_192_000..=8_191_750).contains(&d));
                    time += d;
                    assert_eq!(a.1, Some(time));
                }
            }
            if arrivals.is_empty() {
                return;
            }
            let enc = write(cap, |b| {
                write_twcc(b, t.sender_ssrc, t.media_ssrc, t.fb_pkt_count, &arrivals)
            })
            .expect("a parsed feedback can be written back");
            let RtcpPacket::TransportCc(back) = reparse(&enc) else {
                panic!("not TWCC")
            };
            assert_eq!(
                (
                    back.sender_ssrc,
                    back.media_ssrc,
                    back.base_seq,
                    back.status_count,
                    back.fb_pkt_count
                ),
                (
                    t.sender_ssrc,
                    t.media_ssrc,
                    t.base_seq,
                    t.status_count,
                    t.fb_pkt_count
                )
            );
            // The reference time is taken afresh from the first arrival; when that fits in
            // 24 signed bits, the arrival times come back exactly.
            let first = arrivals.iter().find_map(|a| a.1).unwrap_or(0);
            if (-(1i64 << 23)..1 << 23).contains(&first.div_euclid(64_000)) {
                assert!(
                    back.arrivals().eq(arrivals.iter().copied()),
                    "arrivals changed"
                );
            }
        }
        RtcpPacket::Pli(p) => {
            let enc = write(cap, |b| write_pli(b, p.sender_ssrc, p.media_ssrc)).expect("PLI");
            assert_eq!(reparse(&enc), RtcpPacket::Pli(p));
            if plain && raw.body.len() == 8 {
                assert_eq!(enc, packet);
            }
        }
        RtcpPacket::Fir(f) => {
            let entries: Vec<FirEntry> = f.entries().collect();
            let enc = write(cap, |b| write_fir(b, f.sender_ssrc, &entries)).expect("FIR");
            let RtcpPacket::Fir(back) = reparse(&enc) else {
                panic!("not a FIR")
            };
            assert_eq!((back.sender_ssrc, back.media_ssrc), (f.sender_ssrc, 0));
            assert!(back.entries().eq(entries.iter().copied()));
        }
        RtcpPacket::Remb(r) => {
            let ssrcs: Vec<u32> = r.ssrcs.iter().collect();
            let enc =
                write(cap, |b| write_remb(b, r.sender_ssrc, r.bitrate(), &ssrcs)).expect("REMB");
            let RtcpPacket::Remb(back) = reparse(&enc) else {
                panic!("not a REMB")
            };
            assert_eq!((back.sender_ssrc, back.media_ssrc), (r.sender_ssrc, 0));
            assert!(back.ssrcs.iter().eq(ssrcs.iter().copied()));
            if r.bitrate() != u64::MAX {
                assert_eq!(back.bitrate(), r.bitrate());
            }
        }
        RtcpPacket::Unknown { pt, fmt, body } => {
            assert_eq!((pt, fmt, body), (raw.packet_type, raw.count, raw.body));
        }
    }
}
