//! The data channel layer (DCEP, RFC 8832; channels over SCTP, RFC 8831) under a hostile
//! peer.
//!
//! First the whole input goes to the DCEP parser (`Open::parse`). Then two
//! `DataChannels` (A the DTLS client, B the server) are connected in memory over real
//! SCTP, and the rest of the input is a script. A plays the hostile peer through its
//! association's raw `send`: arbitrary payloads with arbitrary PPIDs (DCEP OPEN and ACK
//! among them, well-formed or not) on arbitrary streams, ordered or not, so B's DCEP
//! handling, channel table and message delivery see everything a peer can send. Both
//! sides also use the channel API (create, pre-negotiated channels, send text and
//! binary, close, thresholds) and time moves.
//!
//! Checked: nothing panics; `poll_transmit` never reports more than its buffer; no
//! event follows `Disconnected`; B never holds more channels than `max_channels`; every
//! message B delivers is on a channel B reported open.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use sansrtc::datachannel::dcep::{Open, ppid};
use sansrtc::datachannel::{
    ChannelConfig, ChannelId, ChannelReliability, DataChannelEvent, DataChannels,
    DataChannelsConfig,
};
use sansrtc::dtls::DtlsRole;
use sansrtc::sctp::{Reliability, SctpConfig, SendOptions};
use sansrtc::{Duration, Instant, RngSource};

const MAX_CHANNELS: usize = 16;

struct Side {
    dc: DataChannels,
    open: BTreeSet<u16>,
    disconnected: bool,
}

impl Side {
    fn new(role: DtlsRole, seed: u64) -> Side {
        Side {
            dc: DataChannels::new(
                DataChannelsConfig {
                    role,
                    max_channels: MAX_CHANNELS,
                    sctp: SctpConfig {
                        rng: RngSource::Seeded(seed),
                        ..SctpConfig::default()
                    },
                },
                Instant::ZERO,
            ),
            open: BTreeSet::new(),
            disconnected: false,
        }
    }

    fn drain(&mut self) {
        while let Some(e) = self.dc.poll_event() {
            assert!(!self.disconnected, "event after Disconnected: {e:?}");
            match e {
                DataChannelEvent::Opened { id, .. } => {
                    self.open.insert(id.0);
                }
                DataChannelEvent::Closed(id) => {
                    self.open.remove(&id.0);
                }
                DataChannelEvent::Message { id, .. } => {
                    assert!(self.open.contains(&id.0), "message on {id:?}, never opened");
                }
                DataChannelEvent::Disconnected(_) => self.disconnected = true,
                _ => {}
            }
        }
        assert!(self.dc.channel_count() <= MAX_CHANNELS);
    }
}

/// Moves every packet both ways until quiet (bounded).
fn pump(a: &mut Side, b: &mut Side, now: Instant) {
    let mut buf = [0u8; 1500];
    for _ in 0..64 {
        let mut moved = false;
        while let Some(n) = a.dc.poll_transmit(now, &mut buf) {
            assert!(n <= buf.len());
            b.dc.handle_receive(now, buf.get(..n).unwrap_or_default());
            moved = true;
        }
        while let Some(n) = b.dc.poll_transmit(now, &mut buf) {
            assert!(n <= buf.len());
            a.dc.handle_receive(now, buf.get(..n).unwrap_or_default());
            moved = true;
        }
        a.drain();
        b.drain();
        if !moved {
            break;
        }
    }
}

struct Script<'a>(&'a [u8]);

impl Script<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.byte()?, self.byte()?]))
    }
    fn bytes(&mut self, max: usize) -> &[u8] {
        let n = usize::from(self.byte().unwrap_or(0))
            .min(max)
            .min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        b
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = Open::parse(data);

    let mut a = Side::new(DtlsRole::Client, 1);
    let mut b = Side::new(DtlsRole::Server, 2);
    let mut now = Instant::ZERO;
    a.dc.connect(now);
    pump(&mut a, &mut b, now);
    let mut s = Script(data);
    let mut steps = 0;
    while let Some(op) = s.byte() {
        steps += 1;
        if steps > 256 {
            break;
        }
        match op % 10 {
            // The hostile peer: any payload, any PPID, any stream.
            0..=2 => {
                let stream = s.u16().unwrap_or(0) % 64;
                let p = match s.byte().unwrap_or(0) % 8 {
                    0..=2 => ppid::DCEP,
                    3 => ppid::STRING,
                    4 => ppid::BINARY,
                    5 => ppid::STRING_EMPTY,
                    6 => ppid::BINARY_EMPTY,
                    _ => u32::from(s.byte().unwrap_or(0)),
                };
                let unordered = s.byte().unwrap_or(0) & 1 == 1;
                let payload = s.bytes(255).to_vec();
                let _ = a.dc.association_mut().send(
                    stream,
                    p,
                    &payload,
                    SendOptions {
                        unordered,
                        reliability: Reliability::Reliable,
                    },
                );
            }
            // A well-formed OPEN with fuzzed fields.
            3 => {
                let stream = s.u16().unwrap_or(0) % 64;
                let kind = s.byte().unwrap_or(0);
                let prio = s.u16().unwrap_or(0);
                let rel = s.u16().unwrap_or(0);
                let label = s.bytes(32).to_vec();
                let proto = s.bytes(16).to_vec();
                let mut m = vec![0x03, kind];
                m.extend_from_slice(&prio.to_be_bytes());
                m.extend_from_slice(&u32::from(rel).to_be_bytes());
                m.extend_from_slice(&(label.len() as u16).to_be_bytes());
                m.extend_from_slice(&(proto.len() as u16).to_be_bytes());
                m.extend_from_slice(&label);
                m.extend_from_slice(&proto);
                let _ =
                    a.dc.association_mut()
                        .send(stream, ppid::DCEP, &m, SendOptions::default());
            }
            // The channel API on either side.
            4 => {
                let side = if s.byte().unwrap_or(0) & 1 == 0 {
                    &mut a
                } else {
                    &mut b
                };
                let reliability = match s.byte().unwrap_or(0) % 3 {
                    0 => ChannelReliability::Reliable,
                    1 => ChannelReliability::MaxRetransmits(u16::from(s.byte().unwrap_or(0))),
                    _ => ChannelReliability::MaxLifetimeMs(u32::from(s.byte().unwrap_or(0))),
                };
                let negotiated = match s.byte().unwrap_or(0) {
                    n if n < 32 => Some(u16::from(n)),
                    _ => None,
                };
                let _ = side.dc.create_channel(ChannelConfig {
                    label: String::from_utf8_lossy(s.bytes(16)).into_owned(),
                    ordered: s.byte().unwrap_or(0) & 1 == 0,
                    reliability,
                    negotiated,
                    ..ChannelConfig::default()
                });
            }
            5 | 6 => {
                let side = if op % 2 == 0 { &mut a } else { &mut b };
                let id = ChannelId(u16::from(s.byte().unwrap_or(0) % 64));
                let msg = s.bytes(255).to_vec();
                let what = s.byte().unwrap_or(0);
                if let Some(mut ch) = side.dc.channel(id) {
                    match what % 5 {
                        0 => drop(ch.send_binary(&msg)),
                        1 => drop(ch.send_text(&String::from_utf8_lossy(&msg))),
                        2 => drop(ch.close()),
                        3 => ch.set_buffered_amount_low_threshold(msg.len()),
                        _ => {
                            let _ = ch.buffered_amount();
                        }
                    }
                }
            }
            // Time.
            7 => {
                now += Duration::from_millis(u64::from(s.byte().unwrap_or(0)) * 10);
                a.dc.handle_timeout(now);
                b.dc.handle_timeout(now);
            }
            8 => {
                if let Some(t) = [a.dc.poll_timeout(), b.dc.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min()
                {
                    now = now.max(t);
                    a.dc.handle_timeout(now);
                    b.dc.handle_timeout(now);
                }
            }
            // A raw packet from nowhere at B.
            _ => {
                let junk = s.bytes(255).to_vec();
                b.dc.handle_receive(now, &junk);
            }
        }
        pump(&mut a, &mut b, now);
    }
});
