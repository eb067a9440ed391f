//! Hostile-peer testing (feature `sim`): a test makes one of two peer connections
//! misbehave below the API, as a peer that holds the DTLS keys but speaks bad SCTP would.

use super::*;

impl Rtc {
    /// Sends `packet` as if our SCTP association had written it: sealed into a DTLS
    /// record and sent on the selected pair at the next `poll_transmit`, bypassing the
    /// association. Returns `false` (nothing sent) before DTLS is connected. For tests
    /// of the peer's robustness: INIT floods, wrong verification tags, bad checksums.
    pub fn sim_send_raw_sctp(&mut self, packet: &[u8]) -> bool {
        let (Some(pair), Some(dtls)) = (self.ice.selected_pair(), self.dtls.as_mut()) else {
            return false;
        };
        if self.closed || !dtls.is_connected() {
            return false;
        }
        let mut buf = vec![0u8; packet.len() + DTLS_OVERHEAD + 64];
        match dtls.seal_application_data(packet, &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                let t = crate::net::Transmit {
                    proto: pair.proto,
                    source: pair.local,
                    destination: pair.remote,
                    size: n,
                };
                self.final_out.push_back((t, buf));
                true
            }
            Err(_) => false,
        }
    }

    /// The SCTP verification tags (ours, the peer's), once the data channel layer exists.
    pub fn sim_sctp_tags(&self) -> Option<(u32, u32)> {
        self.dc
            .as_ref()
            .map(|dc| dc.association().verification_tags())
    }
}
