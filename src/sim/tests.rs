//! Unit tests of the NAT table.

use super::nat::Nat;
use super::{NatBehavior, NatConfig};
use crate::time::{Duration, Instant};
use core::net::SocketAddr;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn ports_are_reused_only_after_expiry() {
    let cfg = NatConfig {
        mapping: NatBehavior::AddressAndPortDependent,
        mapping_timeout: Duration::from_secs(10),
        first_port: 65534,
        ..NatConfig::default()
    };
    let mut nat = Nat::new("203.0.113.1".parse().unwrap(), cfg);
    let p1 = nat.outbound(Instant::ZERO, sa("10.0.0.1:1"), sa("192.0.2.1:1"));
    let p2 = nat.outbound(Instant::ZERO, sa("10.0.0.1:1"), sa("192.0.2.1:2"));
    let p3 = nat.outbound(Instant::ZERO, sa("10.0.0.1:1"), sa("192.0.2.1:3"));
    // Wraps around at the top of the port range without reusing live ports.
    assert_eq!([p1.port(), p2.port()], [65534, 65535]);
    assert!(p3.port() != p1.port() && p3.port() != p2.port());
    assert_eq!(nat.mapping_count(), 3);
    assert_eq!(
        nat.inbound(Instant::from_secs(5), p1.port(), sa("192.0.2.1:1")),
        Some(sa("10.0.0.1:1"))
    );
    assert_eq!(
        nat.inbound(Instant::from_secs(11), p1.port(), sa("192.0.2.1:1")),
        None
    );
    assert_eq!(nat.mapping_count(), 0);
}
