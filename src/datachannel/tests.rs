//! Unit tests of data channels: two layers in memory over a perfect link.

use super::dcep::{ChannelReliability, Open, ppid};
use super::*;
use crate::rng::RngSource;

fn layer(role: DtlsRole, seed: u64) -> DataChannels {
    DataChannels::new(
        DataChannelsConfig {
            role,
            max_channels: 64,
            sctp: SctpConfig {
                rng: RngSource::Seeded(seed),
                ..SctpConfig::default()
            },
        },
        Instant::ZERO,
    )
}

/// Client and server, both connecting, association up.
fn pair() -> (
    DataChannels,
    DataChannels,
    Vec<DataChannelEvent>,
    Vec<DataChannelEvent>,
) {
    let (mut a, mut b) = (layer(DtlsRole::Client, 1), layer(DtlsRole::Server, 2));
    a.connect(Instant::ZERO);
    b.connect(Instant::ZERO);
    let (ea, eb) = shuttle(&mut a, &mut b);
    assert_eq!(ea, vec![DataChannelEvent::Connected]);
    assert_eq!(eb, vec![DataChannelEvent::Connected]);
    (a, b, Vec::new(), Vec::new())
}

/// Shuttles packets both ways until nothing moves; returns the events of each side
/// except `BufferedAmountLow`, which (with the default threshold of 0) fires whenever a
/// send buffer drains, as in browsers.
fn shuttle(
    a: &mut DataChannels,
    b: &mut DataChannels,
) -> (Vec<DataChannelEvent>, Vec<DataChannelEvent>) {
    let (ea, eb) = shuttle_all(a, b);
    let keep = |e: &DataChannelEvent| !matches!(e, DataChannelEvent::BufferedAmountLow(_));
    (
        ea.into_iter().filter(keep).collect(),
        eb.into_iter().filter(keep).collect(),
    )
}

fn shuttle_all(
    a: &mut DataChannels,
    b: &mut DataChannels,
) -> (Vec<DataChannelEvent>, Vec<DataChannelEvent>) {
    let now = Instant::ZERO;
    let mut buf = [0u8; 1500];
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        let mut moved = false;
        while let Some(n) = a.poll_transmit(now, &mut buf) {
            b.handle_receive(now, &buf[..n]);
            moved = true;
        }
        while let Some(n) = b.poll_transmit(now, &mut buf) {
            a.handle_receive(now, &buf[..n]);
            moved = true;
        }
        ea.extend(core::iter::from_fn(|| a.poll_event()));
        eb.extend(core::iter::from_fn(|| b.poll_event()));
        if !moved {
            break;
        }
    }
    (ea, eb)
}

#[test]
fn in_band_open_ack_and_messages_of_every_kind() {
    let (mut a, mut b, _, _) = pair();
    let id = a
        .create_channel(ChannelConfig {
            label: "chat".into(),
            protocol: "json".into(),
            ..ChannelConfig::default()
        })
        .unwrap();
    assert_eq!(id, ChannelId(0), "the DTLS client uses even ids");
    assert_eq!(a.state(id), ChannelState::Connecting);
    {
        let mut ch = a.channel(id).unwrap();
        ch.send_text("hello").unwrap();
        ch.send_binary(&[1, 2, 3]).unwrap();
        ch.send_text("").unwrap();
        ch.send_binary(&[]).unwrap();
    }
    let (ea, eb) = shuttle(&mut a, &mut b);
    assert_eq!(a.state(id), ChannelState::Open);
    assert!(matches!(
        &ea[..],
        [DataChannelEvent::Opened { remote: false, .. }]
    ));
    assert_eq!(
        eb,
        vec![
            DataChannelEvent::Opened {
                id,
                label: "chat".into(),
                protocol: "json".into(),
                remote: true
            },
            DataChannelEvent::Message {
                id,
                binary: false,
                data: b"hello".to_vec()
            },
            DataChannelEvent::Message {
                id,
                binary: true,
                data: vec![1, 2, 3]
            },
            DataChannelEvent::Message {
                id,
                binary: false,
                data: vec![]
            },
            DataChannelEvent::Message {
                id,
                binary: true,
                data: vec![]
            },
        ]
    );
    // The server answers on the same channel; its own channels are odd.
    b.channel(id).unwrap().send_text("back").unwrap();
    let mine = b.create_channel(ChannelConfig::default()).unwrap();
    assert_eq!(mine.0 % 2, 1);
    let (ea, _) = shuttle(&mut a, &mut b);
    assert!(ea.contains(&DataChannelEvent::Message {
        id,
        binary: false,
        data: b"back".to_vec()
    }));
    assert!(
        ea.iter().any(
            |e| matches!(e, DataChannelEvent::Opened { id: i, remote: true, .. } if *i == mine)
        )
    );
}

#[test]
fn pre_negotiated_channels_skip_dcep() {
    let (mut a, mut b) = (layer(DtlsRole::Client, 3), layer(DtlsRole::Server, 4));
    let cfg = ChannelConfig {
        label: "neg".into(),
        negotiated: Some(7),
        ..ChannelConfig::default()
    };
    let ia = a.create_channel(cfg.clone()).unwrap();
    let ib = b.create_channel(cfg.clone()).unwrap();
    assert_eq!((ia, ib), (ChannelId(7), ChannelId(7)));
    assert_eq!(a.create_channel(cfg), Err(DataChannelError::IdInUse(7)));
    a.connect(Instant::ZERO);
    a.channel(ia).unwrap().send_binary(b"x").unwrap();
    let (ea, eb) = shuttle(&mut a, &mut b);
    assert!(
        ea.iter()
            .any(|e| matches!(e, DataChannelEvent::Opened { remote: false, .. }))
    );
    assert!(eb.contains(&DataChannelEvent::Message {
        id: ib,
        binary: true,
        data: b"x".to_vec()
    }));
    assert_eq!(a.association().stats().messages_in, 0, "no DCEP came back");
}

#[test]
fn close_resets_both_directions_and_frees_the_id() {
    let (mut a, mut b, _, _) = pair();
    let id = a.create_channel(ChannelConfig::default()).unwrap();
    shuttle(&mut a, &mut b);
    a.channel(id).unwrap().send_text("last words").unwrap();
    a.channel(id).unwrap().close().unwrap();
    assert_eq!(a.state(id), ChannelState::Closing);
    assert_eq!(
        a.channel(id).unwrap().send_text("no"),
        Err(DataChannelError::Closed)
    );
    let (ea, eb) = shuttle(&mut a, &mut b);
    assert_eq!(
        eb,
        vec![
            DataChannelEvent::Message {
                id,
                binary: false,
                data: b"last words".to_vec()
            },
            DataChannelEvent::Closed(id)
        ]
    );
    assert_eq!(ea, vec![DataChannelEvent::Closed(id)]);
    assert_eq!(a.state(id), ChannelState::Closed);
    assert!(a.channel(id).is_none());
    // The id is free again.
    let again = a
        .create_channel(ChannelConfig {
            negotiated: Some(id.0),
            ..ChannelConfig::default()
        })
        .unwrap();
    assert_eq!(again, id);
}

#[test]
fn the_peer_closing_closes_ours() {
    let (mut a, mut b, _, _) = pair();
    let id = a.create_channel(ChannelConfig::default()).unwrap();
    shuttle(&mut a, &mut b);
    b.channel(id).unwrap().close().unwrap();
    let (ea, eb) = shuttle(&mut a, &mut b);
    assert_eq!(ea, vec![DataChannelEvent::Closed(id)]);
    assert_eq!(eb, vec![DataChannelEvent::Closed(id)]);
}

#[test]
fn buffered_amount_and_its_low_threshold() {
    let (mut a, mut b, _, _) = pair();
    let id = a.create_channel(ChannelConfig::default()).unwrap();
    shuttle(&mut a, &mut b);
    {
        let mut ch = a.channel(id).unwrap();
        ch.set_buffered_amount_low_threshold(10_000);
        for _ in 0..20 {
            ch.send_binary(&[7; 1000]).unwrap();
        }
        assert_eq!(ch.buffered_amount(), 20_000);
    }
    let (ea, _) = shuttle_all(&mut a, &mut b);
    assert_eq!(a.channel(id).unwrap().buffered_amount(), 0);
    assert_eq!(
        ea.iter()
            .filter(|e| **e == DataChannelEvent::BufferedAmountLow(id))
            .count(),
        1,
        "crossing the threshold once fires once"
    );
}

#[test]
fn misbehaving_peers_are_ignored() {
    let (mut a, mut b, _, _) = pair();
    // A message on a stream with no channel; an OPEN with our own parity; junk DCEP.
    a.association_mut()
        .send(10, ppid::STRING, b"nobody", SendOptions::default())
        .unwrap();
    let open = Open {
        ordered: true,
        reliability: ChannelReliability::Reliable,
        priority: 256,
        label: "x".into(),
        protocol: String::new(),
    };
    a.association_mut()
        .send(11, ppid::DCEP, &open.encode(), SendOptions::default())
        .unwrap();
    a.association_mut()
        .send(12, ppid::DCEP, &[0x03, 0xff], SendOptions::default())
        .unwrap();
    let (_, eb) = shuttle(&mut a, &mut b);
    assert!(eb.is_empty(), "{eb:?}");
    assert_eq!(b.stats().dropped, 3);
}

#[test]
fn channel_limit_and_long_labels() {
    let (mut a, _b, _, _) = pair();
    for _ in 0..64 {
        a.create_channel(ChannelConfig::default()).unwrap();
    }
    assert_eq!(
        a.create_channel(ChannelConfig::default()),
        Err(DataChannelError::TooManyChannels)
    );
    let (mut c, _) = (layer(DtlsRole::Server, 9), ());
    assert_eq!(
        c.create_channel(ChannelConfig {
            label: "x".repeat(70_000),
            ..ChannelConfig::default()
        }),
        Err(DataChannelError::TooLong)
    );
}

#[test]
fn dcep_open_round_trips_every_channel_type() {
    for ordered in [true, false] {
        for reliability in [
            ChannelReliability::Reliable,
            ChannelReliability::MaxRetransmits(3),
            ChannelReliability::MaxLifetimeMs(1500),
        ] {
            let o = Open {
                ordered,
                reliability,
                priority: 512,
                label: "läbel".into(),
                protocol: "proto".into(),
            };
            let b = o.encode();
            assert_eq!(Open::parse(&b).unwrap(), o);
            for n in 0..b.len() {
                assert!(Open::parse(&b[..n]).is_err());
            }
        }
    }
    // RFC 8832 §5.1: the unordered reliable channel type is 0x80.
    let o = Open {
        ordered: false,
        reliability: ChannelReliability::Reliable,
        priority: 256,
        label: String::new(),
        protocol: String::new(),
    };
    assert_eq!(o.encode(), vec![3, 0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        Open::parse(&[3, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        Err(dcep::DcepError::UnknownType)
    );
    assert_eq!(
        Open::parse(&[3, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0xff]),
        Err(dcep::DcepError::NotUtf8)
    );
}

#[test]
fn unordered_partial_channels_map_to_sctp_options() {
    let (mut a, mut b, _, _) = pair();
    let id = a
        .create_channel(ChannelConfig {
            ordered: false,
            reliability: ChannelReliability::MaxRetransmits(0),
            ..ChannelConfig::default()
        })
        .unwrap();
    let (_, eb) = shuttle(&mut a, &mut b);
    assert_eq!(
        b.config(id).map(|c| (c.ordered, c.reliability)),
        Some((false, ChannelReliability::MaxRetransmits(0)))
    );
    assert!(matches!(eb.first(), Some(DataChannelEvent::Opened { .. })));
    for i in 0..10u8 {
        a.channel(id).unwrap().send_binary(&[i]).unwrap();
    }
    let (_, eb) = shuttle(&mut a, &mut b);
    assert_eq!(eb.len(), 10, "a perfect link loses nothing");
}

#[test]
fn association_loss_closes_every_channel() {
    let (mut a, mut b, _, _) = pair();
    let x = a.create_channel(ChannelConfig::default()).unwrap();
    let y = a.create_channel(ChannelConfig::default()).unwrap();
    shuttle(&mut a, &mut b);
    a.association_mut().abort();
    let (ea, eb) = shuttle(&mut a, &mut b);
    assert!(ea.contains(&DataChannelEvent::Closed(x)) && ea.contains(&DataChannelEvent::Closed(y)));
    assert!(matches!(
        ea.last(),
        Some(DataChannelEvent::Disconnected(CloseReason::LocalAbort))
    ));
    assert!(matches!(
        eb.last(),
        Some(DataChannelEvent::Disconnected(CloseReason::Error(
            SctpError::PeerAborted(12)
        )))
    ));
}

/// A message on our channel before its DCEP ACK: the message proves the peer got the
/// OPEN (RFC 8832 §6), so `Opened` comes first, then the message.
#[test]
fn a_message_before_the_ack_opens_the_channel_first() {
    let (mut a, mut b, _, _) = pair();
    // B uses stream 0 as a pre-negotiated channel; A opens stream 0 in band. B ignores
    // the OPEN for a stream it already has and sends on it: A sees its channel open,
    // then the message.
    let nb = b
        .create_channel(ChannelConfig {
            negotiated: Some(0),
            ..ChannelConfig::default()
        })
        .unwrap();
    let na = a.create_channel(ChannelConfig::default()).unwrap();
    assert_eq!(na, ChannelId(0));
    b.channel(nb).unwrap().send_binary(b"early").unwrap();
    let (ea, _) = shuttle(&mut a, &mut b);
    let got: Vec<_> = ea
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                DataChannelEvent::Opened { .. } | DataChannelEvent::Message { .. }
            )
        })
        .collect();
    assert!(
        matches!(
            got.first(),
            Some(DataChannelEvent::Opened {
                id: ChannelId(0),
                ..
            })
        ),
        "{got:?}"
    );
    assert!(
        matches!(
            got.get(1),
            Some(DataChannelEvent::Message {
                id: ChannelId(0),
                ..
            })
        ),
        "{got:?}"
    );
}

/// A channel closed before it opened never delivers a message: its `Opened` was never
/// reported, so the host knows no such channel.
#[test]
fn a_channel_closed_before_opening_delivers_nothing() {
    let (mut a, mut b, _, _) = pair();
    let id = b.create_channel(ChannelConfig::default()).unwrap();
    b.channel(id).unwrap().close().unwrap();
    a.association_mut()
        .send(id.0, ppid::STRING, b"too early", SendOptions::default())
        .unwrap();
    let (_, eb) = shuttle(&mut a, &mut b);
    assert!(
        !eb.iter().any(|e| matches!(
            e,
            DataChannelEvent::Message { .. } | DataChannelEvent::Opened { .. }
        )),
        "{eb:?}"
    );
    assert!(b.stats().dropped >= 1);
}
