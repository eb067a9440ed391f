//! NAT boxes with the mapping and filtering behaviours of RFC 4787 §4.1 and §5.

use core::net::{IpAddr, SocketAddr};

use crate::time::{Duration, Instant};

/// Mapping or filtering behaviour (RFC 4787 terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatBehavior {
    /// Mapping: one public port for all destinations. Filtering: anyone may send in.
    EndpointIndependent,
    /// Mapping: a public port per destination IP. Filtering: only IPs sent to.
    AddressDependent,
    /// Mapping: a public port per destination IP and port. Filtering: only the exact
    /// addresses sent to.
    AddressAndPortDependent,
}

/// A NAT box. `Default`: endpoint-independent mapping, address-and-port-dependent
/// filtering (the common "port-restricted cone"), 120 s mapping timeout, no hairpinning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatConfig {
    /// How public ports are chosen (RFC 4787 §4.1).
    pub mapping: NatBehavior,
    /// Which inbound datagrams pass (RFC 4787 §5).
    pub filtering: NatBehavior,
    /// A mapping unused (outbound) for this long expires (RFC 4787 §4.3).
    pub mapping_timeout: Duration,
    /// Whether a host may reach another host behind the same NAT through the public
    /// address (RFC 4787 §6).
    pub hairpinning: bool,
    /// First public port handed out; after 65535 the NAT wraps around to 1024.
    pub first_port: u16,
}

impl Default for NatConfig {
    fn default() -> Self {
        NatConfig {
            mapping: NatBehavior::EndpointIndependent,
            filtering: NatBehavior::AddressAndPortDependent,
            mapping_timeout: Duration::from_secs(120),
            hairpinning: false,
            first_port: 40000,
        }
    }
}

#[derive(Debug, Clone)]
struct Mapping {
    internal: SocketAddr,
    /// The destination the mapping is specific to (per the mapping behaviour).
    key: Option<SocketAddr>,
    external_port: u16,
    /// Destinations sent to through this mapping, for filtering.
    sent_to: Vec<SocketAddr>,
    last_out: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct Nat {
    pub public_ip: IpAddr,
    pub cfg: NatConfig,
    mappings: Vec<Mapping>,
    next_port: u16,
}

/// Most destinations remembered per mapping for filtering.
const MAX_SENT_TO: usize = 256;
/// Most mappings per NAT; the least recently used one is recycled beyond.
const MAX_MAPPINGS: usize = 4096;

impl Nat {
    pub fn new(public_ip: IpAddr, cfg: NatConfig) -> Self {
        Nat {
            public_ip,
            cfg,
            mappings: Vec::new(),
            next_port: cfg.first_port.max(1),
        }
    }

    fn expire(&mut self, now: Instant) {
        let timeout = self.cfg.mapping_timeout;
        self.mappings.retain(|m| now < m.last_out + timeout);
    }

    fn key_for(&self, dest: SocketAddr) -> Option<SocketAddr> {
        match self.cfg.mapping {
            NatBehavior::EndpointIndependent => None,
            NatBehavior::AddressDependent => Some(SocketAddr::new(dest.ip(), 0)),
            NatBehavior::AddressAndPortDependent => Some(dest),
        }
    }

    /// Translates an outbound datagram's source; creates or refreshes the mapping.
    pub fn outbound(&mut self, now: Instant, internal: SocketAddr, dest: SocketAddr) -> SocketAddr {
        self.expire(now);
        let key = self.key_for(dest);
        let idx = match self
            .mappings
            .iter()
            .position(|m| m.internal == internal && m.key == key)
        {
            Some(i) => i,
            None => {
                if self.mappings.len() >= MAX_MAPPINGS
                    && let Some(lru) = self
                        .mappings
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, m)| m.last_out)
                        .map(|(i, _)| i)
                {
                    self.mappings.swap_remove(lru);
                }
                let port = self.alloc_port();
                self.mappings.push(Mapping {
                    internal,
                    key,
                    external_port: port,
                    sent_to: Vec::new(),
                    last_out: now,
                });
                self.mappings.len() - 1
            }
        };
        let Some(m) = self.mappings.get_mut(idx) else {
            return SocketAddr::new(self.public_ip, 0);
        };
        m.last_out = now;
        if !m.sent_to.contains(&dest) {
            if m.sent_to.len() >= MAX_SENT_TO {
                m.sent_to.remove(0);
            }
            m.sent_to.push(dest);
        }
        SocketAddr::new(self.public_ip, m.external_port)
    }

    /// The next free public port: counts up from `first_port`, wraps around to 1024 (the
    /// bottom of the non-privileged range, RFC 4787 §4.2.1) and skips live mappings. At
    /// most `MAX_MAPPINGS` ports are live, so a free one is always found.
    fn alloc_port(&mut self) -> u16 {
        let bottom = self.cfg.first_port.clamp(1, 1024);
        for _ in 0..=u16::MAX {
            let p = self.next_port;
            self.next_port = if p == u16::MAX { bottom } else { p + 1 };
            if !self.mappings.iter().any(|m| m.external_port == p) {
                return p;
            }
        }
        self.next_port
    }

    /// The internal address an inbound datagram to `public_port` from `source` reaches,
    /// or `None` if no mapping exists or the filter rejects it.
    pub fn inbound(
        &mut self,
        now: Instant,
        public_port: u16,
        source: SocketAddr,
    ) -> Option<SocketAddr> {
        self.expire(now);
        let filtering = self.cfg.filtering;
        self.mappings
            .iter()
            .filter(|m| m.external_port == public_port)
            .find(|m| match filtering {
                NatBehavior::EndpointIndependent => true,
                NatBehavior::AddressDependent => m.sent_to.iter().any(|d| d.ip() == source.ip()),
                NatBehavior::AddressAndPortDependent => m.sent_to.contains(&source),
            })
            .map(|m| m.internal)
    }

    /// Drops every mapping; ports keep counting up, so new mappings get new ports.
    pub fn clear(&mut self) {
        self.mappings.clear();
    }

    /// Number of live mappings (for tests).
    pub fn mapping_count(&self) -> usize {
        self.mappings.len()
    }
}
