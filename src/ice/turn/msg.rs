//! TURN messages written and read on raw bytes where `stun_codec` would allocate: the
//! Send indication around relayed data (RFC 8656 §11.1, written in place in front of the
//! data) and the Data indication (§11.4, read as a borrowed view).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::ice::stun::{HEADER_LEN, MAGIC_COOKIE, RawWalk};

/// Send indication: method 0x006, class indication (RFC 8656 §18).
const SEND_INDICATION: u16 = 0x0016;
/// Data indication: method 0x007, class indication.
const DATA_INDICATION: u16 = 0x0017;
/// XOR-PEER-ADDRESS (RFC 8656 §18.3).
const XOR_PEER_ADDRESS: u16 = 0x0012;
/// DATA (RFC 8656 §18.4).
const DATA: u16 = 0x0013;

/// Length of the Send indication in front of the data for a peer of this family:
/// header, XOR-PEER-ADDRESS, DATA attribute header.
pub(crate) fn send_indication_head_len(peer: &SocketAddr) -> usize {
    HEADER_LEN + 4 + addr_value_len(peer) + 4
}

fn addr_value_len(peer: &SocketAddr) -> usize {
    if peer.is_ipv4() { 8 } else { 20 }
}

/// Writes the XOR-encoded address value (RFC 8489 §14.2) into `out`.
fn write_xor_addr(out: &mut [u8], addr: &SocketAddr, tid: &[u8; 12]) -> Option<()> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let xport = addr.port() ^ (MAGIC_COOKIE >> 16) as u16;
    let [p0, p1] = xport.to_be_bytes();
    match addr.ip() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            let dst = out.get_mut(..8)?;
            let mut v = [0, 1, p0, p1, 0, 0, 0, 0];
            for (i, (a, c)) in o.iter().zip(cookie.iter()).enumerate() {
                *v.get_mut(4 + i)? = a ^ c;
            }
            dst.copy_from_slice(&v);
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            let dst = out.get_mut(..20)?;
            let mut v = [0u8; 20];
            v[1] = 2;
            v[2] = p0;
            v[3] = p1;
            let mask = cookie.iter().chain(tid.iter());
            for (i, (a, m)) in o.iter().zip(mask).enumerate() {
                *v.get_mut(4 + i)? = a ^ m;
            }
            dst.copy_from_slice(&v);
        }
    }
    Some(())
}

/// Reads an XOR-encoded address value.
fn read_xor_addr(value: &[u8], tid: &[u8]) -> Option<SocketAddr> {
    let &[_, family, p0, p1] = value.get(..4)? else {
        return None;
    };
    let port = u16::from_be_bytes([p0, p1]) ^ (MAGIC_COOKIE >> 16) as u16;
    let cookie = MAGIC_COOKIE.to_be_bytes();
    match family {
        1 => {
            let x: [u8; 4] = value.get(4..8)?.try_into().ok()?;
            let mut o = [0u8; 4];
            for ((d, a), c) in o.iter_mut().zip(x.iter()).zip(cookie.iter()) {
                *d = a ^ c;
            }
            (value.len() == 8).then(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(o)), port))
        }
        2 => {
            let x: [u8; 16] = value.get(4..20)?.try_into().ok()?;
            let mut o = [0u8; 16];
            for ((d, a), m) in o
                .iter_mut()
                .zip(x.iter())
                .zip(cookie.iter().chain(tid.iter()))
            {
                *d = a ^ m;
            }
            (value.len() == 20).then(|| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(o)), port))
        }
        _ => None,
    }
}

/// Frames, in place, `data_len` bytes of data already written at
/// `buf[send_indication_head_len(peer)..]` as a Send indication to `peer`
/// (RFC 8656 §11.1: XOR-PEER-ADDRESS and DATA; no integrity). Returns its length.
pub(crate) fn frame_send_indication(
    buf: &mut [u8],
    peer: &SocketAddr,
    data_len: usize,
    tid: &[u8; 12],
) -> Option<usize> {
    let head = send_indication_head_len(peer);
    let pad = (4 - data_len % 4) % 4;
    let total = head + data_len + pad;
    let msg_len = u16::try_from(total - HEADER_LEN).ok()?;
    let data_len16 = u16::try_from(data_len).ok()?;
    if buf.len() < total {
        return None;
    }
    let h = buf.get_mut(..HEADER_LEN)?;
    h.get_mut(..2)?
        .copy_from_slice(&SEND_INDICATION.to_be_bytes());
    h.get_mut(2..4)?.copy_from_slice(&msg_len.to_be_bytes());
    h.get_mut(4..8)?
        .copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    h.get_mut(8..20)?.copy_from_slice(tid);
    let alen = addr_value_len(peer);
    let a = buf.get_mut(HEADER_LEN..HEADER_LEN + 4)?;
    a.get_mut(..2)?
        .copy_from_slice(&XOR_PEER_ADDRESS.to_be_bytes());
    a.get_mut(2..4)?
        .copy_from_slice(&u16::try_from(alen).ok()?.to_be_bytes());
    write_xor_addr(buf.get_mut(HEADER_LEN + 4..)?, peer, tid)?;
    let d = buf.get_mut(HEADER_LEN + 4 + alen..head)?;
    d.get_mut(..2)?.copy_from_slice(&DATA.to_be_bytes());
    d.get_mut(2..4)?.copy_from_slice(&data_len16.to_be_bytes());
    buf.get_mut(head + data_len..total)?.fill(0);
    Some(total)
}

/// If `raw` is a Data indication (RFC 8656 §11.4), the peer it came from and the data.
/// `None` for anything else or a malformed one (§11.4: discard without XOR-PEER-ADDRESS
/// or DATA).
pub(crate) fn parse_data_indication(raw: &[u8]) -> Option<(SocketAddr, &[u8])> {
    let ty = u16::from_be_bytes([*raw.first()?, *raw.get(1)?]);
    if ty != DATA_INDICATION {
        return None;
    }
    let tid = raw.get(8..20)?;
    let mut peer = None;
    let mut data = None;
    for item in RawWalk::new(raw).ok()? {
        let (t, value, _) = item.ok()?;
        match t {
            XOR_PEER_ADDRESS if peer.is_none() => peer = Some(read_xor_addr(value, tid)?),
            DATA if data.is_none() => data = Some(value),
            _ => {}
        }
    }
    Some((peer?, data?))
}

/// True when `raw` starts like a Data or Send indication.
pub(crate) fn is_data_indication(raw: &[u8]) -> bool {
    matches!(raw.get(..2), Some(&[0x00, 0x17]))
}
