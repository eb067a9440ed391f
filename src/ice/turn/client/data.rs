//! Permissions, channels and relayed data (RFC 8656 §9, §11, §12): what goes to peers
//! through the allocation, framed as ChannelData once a channel is bound and as Send
//! indications before.

use std::collections::VecDeque;

use core::net::{IpAddr, SocketAddr};

use crate::net::Transmit;
use crate::rng::Rng;
use crate::time::Instant;

use super::super::{channel_data, msg};
use super::{Binding, Permission, State, TurnClient, TxKind};

impl TurnClient {
    // ---- permissions, channels and data

    /// Makes sure a permission towards `peer`'s IP exists or is being created, and
    /// asks for a channel to `peer` while channels are left (RFC 8656 §9, §12).
    pub fn ensure_peer(&mut self, now: Instant, rng: &mut Rng, peer: SocketAddr) {
        if self.state != State::Allocated
            || peer.is_ipv4() != self.relayed.is_some_and(|r| r.is_ipv4())
        {
            return;
        }
        if !self.perms.iter().any(|p| p.ip == peer.ip()) {
            if self.perms.len() >= self.cfg.max_permissions {
                self.stats.dropped += 1;
                return;
            }
            self.perms.push(Permission {
                ip: peer.ip(),
                installed: false,
                in_flight: true,
                refresh_at: now,
            });
            self.request(now, rng, TxKind::Permission { ip: peer.ip() }, 0);
        }
        if !self.channels.iter().any(|c| c.peer == peer)
            && self.channels.len() < self.cfg.max_channels
            && channel_data::is_valid_channel(self.next_channel)
        {
            let channel = self.next_channel;
            self.next_channel += 1;
            self.channels.push(Binding {
                channel,
                peer,
                bound: false,
                in_flight: true,
                refresh_at: now,
            });
            self.request(now, rng, TxKind::ChannelBind { channel, peer }, 0);
        }
    }

    fn has_permission(&self, ip: IpAddr) -> bool {
        self.perms.iter().any(|p| p.ip == ip && p.installed)
    }

    fn bound_channel(&self, peer: &SocketAddr) -> Option<u16> {
        self.channels
            .iter()
            .find(|c| c.peer == *peer && c.bound)
            .map(|c| c.channel)
    }

    /// Sends a datagram (a STUN message of the agent's) to `peer` through the relay: at
    /// once when the permission is there, else after it is created.
    pub fn send_to_peer(&mut self, now: Instant, rng: &mut Rng, peer: SocketAddr, data: &[u8]) {
        if self.state != State::Allocated {
            self.stats.dropped += 1;
            return;
        }
        if !self.has_permission(peer.ip()) {
            self.ensure_peer(now, rng, peer);
            if self.pending.len() >= self.cfg.max_pending {
                self.stats.dropped += 1;
                return;
            }
            self.pending.push_back((peer, data.to_vec()));
            return;
        }
        self.ensure_peer(now, rng, peer);
        let (head, tail) = self.overhead(&peer);
        let mut buf = vec![0u8; head + data.len() + tail];
        if let Some(dst) = buf.get_mut(head..head + data.len()) {
            dst.copy_from_slice(data);
        }
        if let Some(n) = self.frame(&mut buf, head, data.len(), &peer, rng) {
            let frame = buf.get(..n).unwrap_or_default().to_vec();
            self.emit(&frame);
        }
    }

    pub(super) fn flush_pending(&mut self, rng: &mut Rng, ip: IpAddr) {
        let mut keep = VecDeque::new();
        let mut ready = Vec::new();
        while let Some((peer, data)) = self.pending.pop_front() {
            if peer.ip() == ip {
                ready.push((peer, data));
            } else {
                keep.push_back((peer, data));
            }
        }
        self.pending = keep;
        for (peer, data) in ready {
            let (head, tail) = self.overhead(&peer);
            let mut buf = vec![0u8; head + data.len() + tail];
            if let Some(dst) = buf.get_mut(head..head + data.len()) {
                dst.copy_from_slice(&data);
            }
            if let Some(n) = self.frame(&mut buf, head, data.len(), &peer, rng) {
                let frame = buf.get(..n).unwrap_or_default().to_vec();
                self.emit(&frame);
            }
        }
    }

    /// Bytes to leave free before (header) and after (padding) relayed data to `peer`:
    /// ChannelData once the channel is bound, a Send indication before.
    pub fn overhead(&self, peer: &SocketAddr) -> (usize, usize) {
        if self.bound_channel(peer).is_some() {
            (channel_data::HEADER_LEN, 3)
        } else {
            (msg::send_indication_head_len(peer), 3)
        }
    }

    /// True when data to `peer` can be relayed now.
    pub fn can_send(&self, peer: &SocketAddr) -> bool {
        self.state == State::Allocated && self.has_permission(peer.ip())
    }

    fn frame(
        &mut self,
        buf: &mut [u8],
        head: usize,
        len: usize,
        peer: &SocketAddr,
        rng: &mut Rng,
    ) -> Option<usize> {
        let tid = if self.bound_channel(peer).is_some() {
            [0u8; 12]
        } else {
            Self::new_tid(rng)
        };
        self.frame_with_tid(buf, head, len, peer, &tid)
    }

    /// Frames `len` bytes at `buf[head..]` in place; the frame starts at `buf[0]`.
    fn frame_with_tid(
        &mut self,
        buf: &mut [u8],
        head: usize,
        len: usize,
        peer: &SocketAddr,
        tid: &[u8; 12],
    ) -> Option<usize> {
        let stream = self.is_stream();
        match self.bound_channel(peer) {
            Some(channel) => {
                if head != channel_data::HEADER_LEN {
                    buf.copy_within(head..head + len, channel_data::HEADER_LEN);
                }
                let n = channel_data::frame_in_place(buf, channel, len, stream).ok()?;
                self.stats.sent_channel_data += 1;
                Some(n)
            }
            None => {
                let need = msg::send_indication_head_len(peer);
                if head != need {
                    buf.copy_within(head..head + len, need);
                }
                let n = msg::frame_send_indication(buf, peer, len, tid)?;
                self.stats.sent_send_indications += 1;
                Some(n)
            }
        }
    }

    /// Wraps `len` bytes of data at `buf[head..]` for `peer` and returns the transmit to
    /// the server, written at the start of `buf` (TLS: the encrypted bytes).
    pub fn wrap_in_place(
        &mut self,
        rng: &mut Rng,
        buf: &mut [u8],
        head: usize,
        len: usize,
        peer: &SocketAddr,
    ) -> Option<Transmit> {
        if !self.can_send(peer) {
            self.stats.dropped += 1;
            return None;
        }
        let n = self.frame(buf, head, len, peer, rng)?;
        let (proto, source, destination) = (self.proto(), self.source(), self.server);
        if let Some(tls) = self.stream.as_mut().and_then(|s| s.tls.as_mut()) {
            if !tls.write_plain(buf.get(..n)?) {
                self.stats.dropped += 1;
                return None;
            }
            let size = tls.write_tls(buf);
            return (size > 0).then_some(Transmit {
                proto,
                source,
                destination,
                size,
            });
        }
        Some(Transmit {
            proto,
            source,
            destination,
            size: n,
        })
    }
}
