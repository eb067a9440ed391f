//! RTP/RTCP wire codec micro-benchmarks: `cargo bench --bench rtp`.
//!
//! Each iteration handles one packet, so divan's per-iteration time is the time per
//! packet; the allocation profiler shows that parsing allocates nothing.
//!
//! - `rtp_parse_3_extensions`: parse a video packet with abs-send-time, transport-wide
//!   sequence number and MID (one-byte form) and read all three values.
//! - `rtp_write_3_extensions`: write the same packet (header and 1000-byte payload).
//! - `rtcp_parse_compound`: frame and type SR + SDES + NACK + transport-cc feedback, and
//!   walk everything in them (report blocks, CNAME, lost sequence numbers, the 100
//!   packets of the feedback).
//! - `rtcp_write_twcc_100`: write a transport-cc feedback about 100 packets.

use divan::{Bencher, black_box};
use sansrtc::rtp::wire::ext::{self, AudioLevel};
use sansrtc::rtp::wire::{
    ReportBlock, RtcpPacket, RtcpPackets, RtpHeader, RtpHeaderRepr, SenderInfo, write_nack,
    write_sdes_cname, write_sender_report, write_twcc,
};

/// Counts allocations so divan prints them next to the timings.
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

/// Extension ids as a browser might negotiate them.
const ID_ABS_SEND_TIME: u8 = 2;
const ID_TRANSPORT_CC: u8 = 3;
const ID_MID: u8 = 4;

/// Writes the benchmark's RTP packet into `buf`; its length.
fn write_rtp(buf: &mut [u8], payload: &[u8]) -> usize {
    let ast = ext::abs_send_time_bytes(0x12_3456);
    let tcc = ext::transport_cc_bytes(4711);
    let exts: [(u8, &[u8]); 3] = [
        (ID_ABS_SEND_TIME, &ast),
        (ID_TRANSPORT_CC, &tcc),
        (ID_MID, b"0"),
    ];
    let repr = RtpHeaderRepr {
        marker: true,
        payload_type: 96,
        sequence_number: 1000,
        timestamp: 90_000,
        ssrc: 0x1234_5678,
        extensions: &exts,
        ..RtpHeaderRepr::default()
    };
    repr.write(buf, payload).unwrap_or(0)
}

#[divan::bench]
fn rtp_parse_3_extensions(bencher: Bencher) {
    let mut buf = [0u8; 1500];
    let n = write_rtp(&mut buf, &[7; 1000]);
    let packet = &buf[..n];
    bencher.bench(|| {
        let h = RtpHeader::parse(black_box(packet)).unwrap();
        let mut sum = u32::from(h.sequence_number);
        for (id, value) in h.extensions() {
            match id {
                ID_ABS_SEND_TIME => sum ^= ext::abs_send_time(value).unwrap_or(0),
                ID_TRANSPORT_CC => sum ^= u32::from(ext::transport_cc(value).unwrap_or(0)),
                ID_MID => sum ^= ext::mid(value).map_or(0, |m| m.len() as u32),
                _ => sum ^= AudioLevel::parse(value).map_or(0, |a| u32::from(a.level)),
            }
        }
        black_box((sum, h.payload.len()))
    });
}

#[divan::bench]
fn rtp_write_3_extensions(bencher: Bencher) {
    let payload = [7u8; 1000];
    let mut buf = [0u8; 1500];
    bencher.bench_local(|| black_box(write_rtp(black_box(&mut buf), black_box(&payload))));
}

/// Packets 0..100 of a transport-cc feedback: every 10th lost, the rest 1 ms apart.
fn twcc_input() -> Vec<(u16, Option<i64>)> {
    (0..100u16)
        .map(|i| (i, (i % 10 != 9).then_some(1_000_000 + 1000 * i64::from(i))))
        .collect()
}

/// SR (2 blocks) + SDES CNAME + NACK (4 lost) + transport-cc (100 packets).
fn compound() -> Vec<u8> {
    let mut buf = vec![0u8; 1500];
    let mut n = 0;
    let info = SenderInfo {
        ntp_time: 0xe000_0000_0000_0000,
        rtp_time: 90_000,
        packet_count: 1000,
        octet_count: 1_000_000,
    };
    let blocks = [
        ReportBlock {
            ssrc: 1,
            ..ReportBlock::default()
        },
        ReportBlock {
            ssrc: 2,
            ..ReportBlock::default()
        },
    ];
    n += write_sender_report(&mut buf[n..], 0x55, &info, &blocks).unwrap_or(0);
    n += write_sdes_cname(&mut buf[n..], 0x55, "4TOk42mSjXCkVIa6").unwrap_or(0);
    n += write_nack(&mut buf[n..], 0x55, 1, &[100, 101, 105, 117]).unwrap_or(0);
    n += write_twcc(&mut buf[n..], 0x55, 1, 0, &twcc_input()).unwrap_or(0);
    buf.truncate(n);
    buf
}

#[divan::bench]
fn rtcp_parse_compound(bencher: Bencher) {
    let packet = compound();
    bencher.bench(|| {
        let mut sum = 0i64;
        for p in RtcpPackets::new(black_box(&packet)) {
            match p.unwrap() {
                RtcpPacket::SenderReport(sr) => {
                    sum += sr.reports.iter().map(|r| i64::from(r.jitter)).sum::<i64>();
                }
                RtcpPacket::Sdes(s) => {
                    sum += s.chunks().filter_map(|c| c.cname()).count() as i64;
                }
                RtcpPacket::Nack(nack) => sum += nack.lost().map(i64::from).sum::<i64>(),
                RtcpPacket::TransportCc(t) => {
                    sum += t.arrivals().filter_map(|(_, a)| a).sum::<i64>();
                }
                _ => {}
            }
        }
        black_box(sum)
    });
}

#[divan::bench]
fn rtcp_write_twcc_100(bencher: Bencher) {
    let input = twcc_input();
    let mut buf = [0u8; 1500];
    bencher.bench_local(|| black_box(write_twcc(black_box(&mut buf), 1, 2, 0, black_box(&input))));
}
