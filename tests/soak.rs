//! One hour of virtual time: data channel messages (200 a second each way, 8 to 64
//! bytes), audio
//! (50 packets a second) and video (90 packets a second, NACK/RTX) both ways over
//! links losing 5 % of the datagrams: `cargo test --release --features sim --test soak`.
//!
//! Memory at the end must equal memory after the first minute (within a small margin),
//! every queue stays within its bound all along, and the counters that wrap do so
//! correctly: RTP sequence numbers start 536 below the wrap so the SRTP rollover counter
//! moves within seconds (and again every 12 minutes of video), and the SCTP stream
//! sequence numbers wrap every 65,536 messages (5.5 minutes).
#![cfg(feature = "sim")]

mod robust;

use robust::*;
use sansrtc::Duration;
use sansrtc::rtc::RtcState;
use sansrtc::sim::LinkConfig;

#[test]
fn one_hour_of_data_and_media_over_5_percent_loss() {
    // Debug builds soak for 6 minutes (enough for two SSN wraps and a dozen ROC
    // changes at the chosen start); release builds (scripts/test-all.sh) for the hour.
    // SOAK_SECS=n sets the length.
    let full = 3600u64;
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 360 } else { full });
    if secs < full {
        robust::loud(format_args!(
            "NOTE: debug build: soaking {secs} s of virtual time instead of {full} s \
             (run with --release, or SOAK_SECS={full}, for the full hour)"
        ));
    }
    let mut w = world(Options {
        seed: 53,
        media: true,
        link: LinkConfig {
            latency: Duration::from_millis(30),
            jitter: Duration::from_millis(5),
            loss: 0.05,
            ..LinkConfig::default()
        },
        ..Options::default()
    });
    for id in [w.a, w.b] {
        w.sim.endpoint_mut(id).media.seq_start = Some((65_000, 65_000));
        // Small messages (8 to 64 bytes): 200 a second fit a 5 %-loss path easily.
        w.sim.endpoint_mut(id).size_cap = 64;
        // Sampling the diagnostics after every input is cheap, but an hour has millions
        // of inputs: sample once a second below instead.
        w.sim.endpoint_mut(id).sample_diag = false;
    }
    w.connect(Duration::from_secs(20));
    w.stream_both(u64::MAX, Duration::from_millis(5));
    let start = w.sim.now();
    #[allow(clippy::disallowed_methods)] // the test measures its own run time
    let wall = std::time::Instant::now();
    let mut at_one_minute = None;
    let mut srtt_one_minute = (None, None);
    let mut t = start;
    while t < start + Duration::from_secs(secs) {
        t += Duration::from_secs(1);
        w.sim.run_until(t);
        for id in [w.a, w.b] {
            let n = w.sim.endpoint_mut(id);
            n.diag_max = n.diag_max.max(&n.rtc.diagnostics());
        }
        if t == start + Duration::from_secs(60) {
            at_one_minute = Some((w.a().rtc.diagnostics(), w.b().rtc.diagnostics()));
            srtt_one_minute = (w.a().rtc.stats().sctp.srtt, w.b().rtc.stats().sctp.srtt);
        }
    }
    let at_end = (w.a().rtc.diagnostics(), w.b().rtc.diagnostics());
    let run_time = wall.elapsed();
    // Stop and drain: every message must arrive.
    for id in [w.a, w.b] {
        w.sim.endpoint_mut(id).send.remaining = 0;
        w.sim.endpoint_mut(id).media.on = false;
    }
    w.assert_all_delivered(Duration::from_secs(60));
    let (m1a, m1b) = at_one_minute.expect("ran past one minute");
    for (who, n, m1, end) in [("A", w.a(), m1a, at_end.0), ("B", w.b(), m1b, at_end.1)] {
        let st = n.rtc.stats();
        let peer = if who == "A" { w.b() } else { w.a() };
        eprintln!(
            "{who}: {secs} s in {run_time:?}; memory after 1 min {} B, at the end {} B, \
             high-water {} B; messages in {} ({} B); RTP in audio {} video {} (of {} and \
             {} sent), ext seq video {}..{}; SRTP in {:?}; SCTP retransmits {} srtt {:?}",
            m1.total_bytes,
            end.total_bytes,
            n.diag_max.total_bytes,
            n.recv.count,
            n.recv.bytes,
            n.rtp_in[0],
            n.rtp_in[1],
            peer.media.audio_sent,
            peer.media.video_sent,
            n.ext_seq_min[1],
            n.ext_seq_max[1],
            st.srtp_in,
            st.sctp.retransmitted_chunks,
            st.sctp.srtt
        );
        for ((name, x), (_, y)) in m1.gauges().into_iter().zip(end.gauges()) {
            if x.len != y.len {
                eprintln!("  {who} {name}: {} -> {}", x.len, y.len);
            }
        }
        eprintln!(
            "  {who} bytes: ice {} -> {}, dtls {} -> {}, sctp {} -> {}, media {} -> {}; \
             sends refused {}",
            m1.ice.bytes,
            end.ice.bytes,
            m1.dtls.bytes,
            end.dtls.bytes,
            m1.sctp.bytes,
            end.sctp.bytes,
            m1.media.bytes,
            end.media.bytes,
            n.send.refused
        );
        assert_eq!(n.rtc.state(), RtcState::Connected, "{who}");
        assert_eq!(n.closed, None, "{who}");
        assert_eq!(n.diag_max.over_limit(), None, "{who}: {:#?}", n.diag_max);
        // Memory flat: the end within 5 % (or 64 KiB) of the first minute.
        let margin = (m1.total_bytes / 20).max(64 * 1024);
        assert!(
            end.total_bytes.abs_diff(m1.total_bytes) <= margin,
            "{who}: memory {} after a minute, {} at the end: {end:#?} vs {m1:#?}",
            m1.total_bytes,
            end.total_bytes
        );
        // The SCTP round-trip estimate keeps being measured (a timed chunk acknowledged
        // by a gap block once froze it for good).
        let srtt_then = if who == "A" {
            srtt_one_minute.0
        } else {
            srtt_one_minute.1
        };
        assert!(
            srtt_then.is_some() && st.sctp.srtt != srtt_then,
            "{who}: srtt frozen"
        );
        // Counters: every message in order and intact (checked on arrival), 200 a
        // second; the SSN wrapped.
        assert_eq!(n.recv.wrong, 0, "{who}: {:?}", n.recv.first_wrong);
        assert!(
            n.recv.count >= secs * 200 * 99 / 100,
            "{who}: {}",
            n.recv.count
        );
        assert!(
            n.recv.count > 65_536,
            "{who}: the stream sequence number wrapped"
        );
        // SCTP delivered those and one DCEP message (the channel's OPEN or ACK).
        assert_eq!(st.sctp.messages_in, n.recv.count + 1, "{who}");
        // SRTP: no packet failed authentication across the rollovers (a wrong ROC
        // would fail every packet after a wrap); replays are the link's duplicates only
        // (none here) and RTX repairs of packets that did arrive.
        assert_eq!(st.srtp_in.auth_failures, 0, "{who}");
        // Video: the extended sequence numbers run over the wrap, one per packet
        // sent, and NACK/RTX repaired the losses (all but the last moments').
        let span = n.ext_seq_max[1] - n.ext_seq_min[1] + 1;
        assert!(span > 536, "{who}: video crossed the wrap");
        assert!(
            span <= peer.media.video_sent && span + 30 >= peer.media.video_sent,
            "{who}: video span {span}, sent {}",
            peer.media.video_sent
        );
        assert!(
            n.rtp_in[1] + 30 >= peer.media.video_sent,
            "{who}: video received {} of {}",
            n.rtp_in[1],
            peer.media.video_sent
        );
        // Audio is not retransmitted: about 95 % arrives.
        let audio_span = n.ext_seq_max[0] - n.ext_seq_min[0] + 1;
        assert!(audio_span <= peer.media.audio_sent && audio_span + 10 >= peer.media.audio_sent);
        assert!(
            n.rtp_in[0] * 100 >= peer.media.audio_sent * 92,
            "{who}: audio"
        );
    }
}
