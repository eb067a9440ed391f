//! Hello extensions a WebRTC DTLS 1.2 handshake uses.

use super::codec::{Reader, put_len_prefixed, put_u16, put_u16_list16, put_vec8, u16_list};

/// server_name(0): never sent; listed to recognise it.
pub const EXT_SERVER_NAME: u16 = 0;
/// supported_groups(10), RFC 8422 §5.1.1.
pub const EXT_SUPPORTED_GROUPS: u16 = 10;
/// ec_point_formats(11), RFC 8422 §5.1.2.
pub const EXT_EC_POINT_FORMATS: u16 = 11;
/// signature_algorithms(13), RFC 5246 §7.4.1.4.1.
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
/// use_srtp(14), RFC 5764 §4.1.1.
pub const EXT_USE_SRTP: u16 = 14;
/// extended_master_secret(23), RFC 7627 §5.1.
pub const EXT_EXTENDED_MASTER_SECRET: u16 = 23;
/// renegotiation_info(0xff01), RFC 5746 §3.2.
pub const EXT_RENEGOTIATION_INFO: u16 = 0xff01;

/// The uncompressed point format, the only one RFC 8422 §5.1.2 leaves.
pub const POINT_FORMAT_UNCOMPRESSED: u8 = 0;

/// `use_srtp` contents (RFC 5764 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UseSrtp {
    /// Protection profile ids, in the sender's preference order.
    pub profiles: Vec<u16>,
    /// The MKI; WebRTC sends none.
    pub mki: Vec<u8>,
}

/// The extensions of a ClientHello or ServerHello that matter to us. Others are skipped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extensions {
    /// supported_groups.
    pub supported_groups: Option<Vec<u16>>,
    /// ec_point_formats.
    pub ec_point_formats: Option<Vec<u8>>,
    /// signature_algorithms.
    pub signature_algorithms: Option<Vec<u16>>,
    /// use_srtp.
    pub use_srtp: Option<UseSrtp>,
    /// extended_master_secret was present.
    pub extended_master_secret: bool,
    /// renegotiation_info's renegotiated_connection.
    pub renegotiation_info: Option<Vec<u8>>,
    /// Types of every extension present, in order (to answer only what was offered).
    pub present: Vec<u16>,
}

impl Extensions {
    /// Parses the `extensions<0..2^16-1>` block (the block's length prefix included). An
    /// absent block (no bytes left) is no extensions. A type appearing twice is an error
    /// (RFC 5246 §7.4.1.4).
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<Extensions, &'static str> {
        let mut ext = Extensions::default();
        if r.is_empty() {
            return Ok(ext);
        }
        let block = r.vec16().ok_or("extensions truncated")?;
        let mut r = Reader::new(block);
        while !r.is_empty() {
            let ty = r.u16().ok_or("extension truncated")?;
            let data = r.vec16().ok_or("extension truncated")?;
            if ext.present.contains(&ty) {
                return Err("duplicate extension");
            }
            if ext.present.len() >= 64 {
                return Err("too many extensions");
            }
            ext.present.push(ty);
            let mut d = Reader::new(data);
            match ty {
                EXT_SUPPORTED_GROUPS => {
                    ext.supported_groups = Some(d.u16_list16().ok_or("bad supported_groups")?);
                }
                EXT_EC_POINT_FORMATS => {
                    ext.ec_point_formats = Some(d.vec8().ok_or("bad ec_point_formats")?.to_vec());
                }
                EXT_SIGNATURE_ALGORITHMS => {
                    ext.signature_algorithms =
                        Some(d.u16_list16().ok_or("bad signature_algorithms")?);
                }
                EXT_USE_SRTP => {
                    let profiles = d.vec16().and_then(u16_list).ok_or("bad use_srtp")?;
                    let mki = d.vec8().ok_or("bad use_srtp")?.to_vec();
                    ext.use_srtp = Some(UseSrtp { profiles, mki });
                }
                EXT_EXTENDED_MASTER_SECRET => {
                    if !data.is_empty() {
                        return Err("bad extended_master_secret");
                    }
                    ext.extended_master_secret = true;
                }
                EXT_RENEGOTIATION_INFO => {
                    ext.renegotiation_info =
                        Some(d.vec8().ok_or("bad renegotiation_info")?.to_vec());
                }
                _ => continue,
            }
            if !d.is_empty() {
                return Err("trailing bytes in extension");
            }
        }
        Ok(ext)
    }

    /// Writes the extensions block (with its length prefix), in a fixed order.
    pub fn write(&self, out: &mut Vec<u8>) {
        put_len_prefixed(out, 2, |o| {
            if let Some(ri) = &self.renegotiation_info {
                put_ext(o, EXT_RENEGOTIATION_INFO, |o| put_vec8(o, ri));
            }
            if self.extended_master_secret {
                put_ext(o, EXT_EXTENDED_MASTER_SECRET, |_| {});
            }
            if let Some(g) = &self.supported_groups {
                put_ext(o, EXT_SUPPORTED_GROUPS, |o| put_u16_list16(o, g));
            }
            if let Some(f) = &self.ec_point_formats {
                put_ext(o, EXT_EC_POINT_FORMATS, |o| put_vec8(o, f));
            }
            if let Some(s) = &self.signature_algorithms {
                put_ext(o, EXT_SIGNATURE_ALGORITHMS, |o| put_u16_list16(o, s));
            }
            if let Some(u) = &self.use_srtp {
                put_ext(o, EXT_USE_SRTP, |o| {
                    put_u16_list16(o, &u.profiles);
                    put_vec8(o, &u.mki);
                });
            }
        });
    }
}

fn put_ext(out: &mut Vec<u8>, ty: u16, f: impl FnOnce(&mut Vec<u8>)) {
    put_u16(out, ty);
    put_len_prefixed(out, 2, f);
}

/// Writes one raw extension (for tests building odd hellos).
#[cfg(test)]
pub(crate) fn raw_ext(out: &mut Vec<u8>, ty: u16, data: &[u8]) {
    put_u16(out, ty);
    put_len_prefixed(out, 2, |o| o.extend_from_slice(data));
}
