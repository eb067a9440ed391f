//! The SRTP key derivation function (RFC 3711 §4.3): the AES-CM PRF keyed with the master
//! key, over `x = key_id XOR master_salt` (key derivation rate 0, so `key_id` is just the
//! label, at the eighth octet).

use aws_lc_rs::cipher::{AES_128, AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;

use super::SrtpError;

/// Key derivation labels (RFC 3711 §4.3.2).
pub(crate) mod label {
    pub(crate) const SRTP_ENCRYPTION: u8 = 0;
    pub(crate) const SRTP_AUTH: u8 = 1;
    pub(crate) const SRTP_SALT: u8 = 2;
    pub(crate) const SRTCP_ENCRYPTION: u8 = 3;
    pub(crate) const SRTCP_AUTH: u8 = 4;
    pub(crate) const SRTCP_SALT: u8 = 5;
}

/// Fills `out` with `PRF(master_key, x)` for `label`. A 96-bit (AEAD) master salt is
/// taken as the first twelve octets of the 112-bit `x`, the last two zero (RFC 7714 §11,
/// as libsrtp and so the browsers do it).
pub(crate) fn derive(
    master_key: &[u8],
    master_salt: &[u8],
    label: u8,
    out: &mut [u8],
) -> Result<(), SrtpError> {
    let alg = match master_key.len() {
        16 => &AES_128,
        32 => &AES_256,
        _ => return Err(SrtpError::BadKey),
    };
    let key =
        EncryptingKey::ctr(UnboundCipherKey::new(alg, master_key).map_err(|_| SrtpError::BadKey)?)
            .map_err(|_| SrtpError::BadKey)?;
    let mut iv = [0u8; 16];
    iv.get_mut(..master_salt.len())
        .ok_or(SrtpError::BadKey)?
        .copy_from_slice(master_salt);
    iv[7] ^= label;
    out.fill(0);
    key.less_safe_encrypt(out, EncryptionContext::Iv128(FixedLength::from(iv)))
        .map(|_| ())
        .map_err(|_| SrtpError::BadKey)
}
