//! The SRTP transforms: AES counter mode with HMAC-SHA1 (RFC 3711 §4.1.1, §4.2) and
//! AEAD AES-GCM (RFC 7714 §8, §9), in place, from aws-lc-rs.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{AES_128, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;

use super::kdf::{self, label};
use super::{Profile, SrtpError};

/// The length of an RTP header (fixed part, CSRCs, extension), or `None` if `p` is not
/// an RTP packet (RFC 3550 §5.1).
pub(crate) fn rtp_header_len(p: &[u8]) -> Option<usize> {
    let b0 = *p.first()?;
    if b0 >> 6 != 2 || p.len() < 12 {
        return None;
    }
    let mut n = 12 + 4 * usize::from(b0 & 0x0f);
    if b0 & 0x10 != 0 {
        let words = p.get(n + 2..n + 4)?;
        n += 4 + 4 * usize::from(u16::from_be_bytes([*words.first()?, *words.get(1)?]));
    }
    (n <= p.len()).then_some(n)
}

/// The E flag and SRTCP index word of a protected RTCP packet.
pub(crate) fn esrtcp_word(p: &[u8], profile: Profile) -> Option<u32> {
    let at = match profile {
        Profile::Aes128CmHmacSha1_80 | Profile::Aes128CmHmacSha1_32 => p.len().checked_sub(14)?,
        Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => p.len().checked_sub(4)?,
    };
    Some(u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?))
}

// The contexts live once per direction, so the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Transform {
    AesCm {
        enc: EncryptingKey,
        salt: [u8; 14],
        auth: hmac::Key,
        tag_len: usize,
    },
    Gcm {
        key: LessSafeKey,
        salt: [u8; 12],
    },
}

const GCM_TAG: usize = 16;

impl Transform {
    pub(crate) fn derive(
        profile: Profile,
        mk: &[u8],
        ms: &[u8],
        rtcp: bool,
    ) -> Result<Self, SrtpError> {
        let (l_enc, l_auth, l_salt) = if rtcp {
            (
                label::SRTCP_ENCRYPTION,
                label::SRTCP_AUTH,
                label::SRTCP_SALT,
            )
        } else {
            (label::SRTP_ENCRYPTION, label::SRTP_AUTH, label::SRTP_SALT)
        };
        let mut key = vec![0u8; profile.key_len()];
        let mut salt = vec![0u8; profile.salt_len()];
        let mut auth = [0u8; 20];
        kdf::derive(mk, ms, l_enc, &mut key)?;
        kdf::derive(mk, ms, l_salt, &mut salt)?;
        if matches!(
            profile,
            Profile::Aes128CmHmacSha1_80 | Profile::Aes128CmHmacSha1_32
        ) {
            kdf::derive(mk, ms, l_auth, &mut auth)?;
        }
        Self::from_session(profile, &key, &salt, &auth, rtcp)
    }

    pub(crate) fn from_session(
        profile: Profile,
        key: &[u8],
        salt: &[u8],
        auth: &[u8],
        rtcp: bool,
    ) -> Result<Self, SrtpError> {
        Ok(match profile {
            Profile::Aes128CmHmacSha1_80 | Profile::Aes128CmHmacSha1_32 => Transform::AesCm {
                enc: EncryptingKey::ctr(
                    UnboundCipherKey::new(&AES_128, key).map_err(|_| SrtpError::BadKey)?,
                )
                .map_err(|_| SrtpError::BadKey)?,
                salt: salt.try_into().map_err(|_| SrtpError::BadKey)?,
                auth: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth),
                // RFC 5764 §4.1.2: the _32 profile keeps an 80-bit tag on SRTCP.
                tag_len: if profile == Profile::Aes128CmHmacSha1_32 && !rtcp {
                    4
                } else {
                    10
                },
            },
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => {
                let alg = if profile == Profile::AeadAes128Gcm {
                    &aead::AES_128_GCM
                } else {
                    &aead::AES_256_GCM
                };
                Transform::Gcm {
                    key: LessSafeKey::new(
                        UnboundKey::new(alg, key).map_err(|_| SrtpError::BadKey)?,
                    ),
                    salt: salt.try_into().map_err(|_| SrtpError::BadKey)?,
                }
            }
        })
    }

    /// AES-CM keystream over `data` for (SSRC, index) (RFC 3711 §4.1.1).
    fn ctr(
        enc: &EncryptingKey,
        salt: &[u8; 14],
        ssrc: u32,
        index: u64,
        data: &mut [u8],
    ) -> Result<(), SrtpError> {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        if data.is_empty() {
            return Ok(());
        }
        enc.less_safe_encrypt(data, EncryptionContext::Iv128(FixedLength::from(iv)))
            .map(|_| ())
            .map_err(|_| SrtpError::Malformed)
    }

    fn gcm_rtp_nonce(salt: &[u8; 12], ssrc: u32, index: u64) -> Nonce {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        // ROC (32 bits) and SEQ (16 bits): the 48-bit index.
        iv[6..12].copy_from_slice(&index.to_be_bytes()[2..]);
        for (b, s) in iv.iter_mut().zip(salt) {
            *b ^= s;
        }
        Nonce::assume_unique_for_key(iv)
    }

    fn gcm_rtcp_nonce(salt: &[u8; 12], ssrc: u32, index: u32) -> Nonce {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[8..12].copy_from_slice(&(index & 0x7fff_ffff).to_be_bytes());
        for (b, s) in iv.iter_mut().zip(salt) {
            *b ^= s;
        }
        Nonce::assume_unique_for_key(iv)
    }

    pub(crate) fn protect_rtp(
        &self,
        buf: &mut [u8],
        hl: usize,
        len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, SrtpError> {
        match self {
            Transform::AesCm {
                enc,
                salt,
                auth,
                tag_len,
            } => {
                Self::ctr(
                    enc,
                    salt,
                    ssrc,
                    index,
                    buf.get_mut(hl..len).ok_or(SrtpError::Malformed)?,
                )?;
                let roc = ((index >> 16) as u32).to_be_bytes();
                let mut ctx = hmac::Context::with_key(auth);
                ctx.update(buf.get(..len).ok_or(SrtpError::Malformed)?);
                ctx.update(&roc);
                let tag = ctx.sign();
                let out = buf.get_mut(len..len + tag_len).ok_or(SrtpError::NoRoom)?;
                out.copy_from_slice(tag.as_ref().get(..*tag_len).ok_or(SrtpError::NoRoom)?);
                Ok(len + tag_len)
            }
            Transform::Gcm { key, salt } => {
                let nonce = Self::gcm_rtp_nonce(salt, ssrc, index);
                let (head, rest) = buf.split_at_mut_checked(hl).ok_or(SrtpError::Malformed)?;
                let (body, tail) = rest
                    .split_at_mut_checked(len - hl)
                    .ok_or(SrtpError::Malformed)?;
                let tag = key
                    .seal_in_place_separate_tag(nonce, Aad::from(&*head), body)
                    .map_err(|_| SrtpError::Malformed)?;
                tail.get_mut(..GCM_TAG)
                    .ok_or(SrtpError::NoRoom)?
                    .copy_from_slice(tag.as_ref());
                Ok(len + GCM_TAG)
            }
        }
    }

    pub(crate) fn unprotect_rtp(
        &self,
        buf: &mut [u8],
        hl: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, SrtpError> {
        match self {
            Transform::AesCm {
                enc,
                salt,
                auth,
                tag_len,
            } => {
                let len = buf
                    .len()
                    .checked_sub(*tag_len)
                    .ok_or(SrtpError::Malformed)?;
                let roc = ((index >> 16) as u32).to_be_bytes();
                let mut ctx = hmac::Context::with_key(auth);
                ctx.update(buf.get(..len).ok_or(SrtpError::Malformed)?);
                ctx.update(&roc);
                let tag = ctx.sign();
                let want = tag.as_ref().get(..*tag_len).ok_or(SrtpError::Malformed)?;
                let got = buf.get(len..).ok_or(SrtpError::Malformed)?;
                verify_slices_are_equal(want, got).map_err(|_| SrtpError::AuthFailed)?;
                Self::ctr(
                    enc,
                    salt,
                    ssrc,
                    index,
                    buf.get_mut(hl..len).ok_or(SrtpError::Malformed)?,
                )?;
                Ok(len)
            }
            Transform::Gcm { key, salt } => {
                let nonce = Self::gcm_rtp_nonce(salt, ssrc, index);
                let (head, rest) = buf.split_at_mut_checked(hl).ok_or(SrtpError::Malformed)?;
                let plain = key
                    .open_in_place(nonce, Aad::from(&*head), rest)
                    .map_err(|_| SrtpError::AuthFailed)?;
                Ok(hl + plain.len())
            }
        }
    }

    pub(crate) fn protect_rtcp(
        &self,
        buf: &mut [u8],
        len: usize,
        ssrc: u32,
        index: u32,
    ) -> Result<usize, SrtpError> {
        // Always encrypted: E = 1 (RFC 3711 §3.4).
        let word = (0x8000_0000 | index).to_be_bytes();
        match self {
            Transform::AesCm {
                enc,
                salt,
                auth,
                tag_len,
            } => {
                Self::ctr(
                    enc,
                    salt,
                    ssrc,
                    u64::from(index),
                    buf.get_mut(8..len).ok_or(SrtpError::Malformed)?,
                )?;
                buf.get_mut(len..len + 4)
                    .ok_or(SrtpError::NoRoom)?
                    .copy_from_slice(&word);
                let tag = hmac::sign(auth, buf.get(..len + 4).ok_or(SrtpError::NoRoom)?);
                let out = buf
                    .get_mut(len + 4..len + 4 + tag_len)
                    .ok_or(SrtpError::NoRoom)?;
                out.copy_from_slice(tag.as_ref().get(..*tag_len).ok_or(SrtpError::NoRoom)?);
                Ok(len + 4 + tag_len)
            }
            Transform::Gcm { key, salt } => {
                let nonce = Self::gcm_rtcp_nonce(salt, ssrc, index);
                let mut aad = [0u8; 12];
                aad[..8].copy_from_slice(buf.get(..8).ok_or(SrtpError::Malformed)?);
                aad[8..].copy_from_slice(&word);
                let body = buf.get_mut(8..len).ok_or(SrtpError::Malformed)?;
                let tag = key
                    .seal_in_place_separate_tag(nonce, Aad::from(aad), body)
                    .map_err(|_| SrtpError::Malformed)?;
                buf.get_mut(len..len + GCM_TAG)
                    .ok_or(SrtpError::NoRoom)?
                    .copy_from_slice(tag.as_ref());
                buf.get_mut(len + GCM_TAG..len + GCM_TAG + 4)
                    .ok_or(SrtpError::NoRoom)?
                    .copy_from_slice(&word);
                Ok(len + GCM_TAG + 4)
            }
        }
    }

    pub(crate) fn unprotect_rtcp(
        &self,
        buf: &mut [u8],
        ssrc: u32,
        word: u32,
    ) -> Result<usize, SrtpError> {
        let encrypted = word & 0x8000_0000 != 0;
        let index = word & 0x7fff_ffff;
        match self {
            Transform::AesCm {
                enc,
                salt,
                auth,
                tag_len,
            } => {
                let end = buf
                    .len()
                    .checked_sub(*tag_len)
                    .ok_or(SrtpError::Malformed)?;
                let len = end.checked_sub(4).ok_or(SrtpError::Malformed)?;
                let tag = hmac::sign(auth, buf.get(..end).ok_or(SrtpError::Malformed)?);
                let want = tag.as_ref().get(..*tag_len).ok_or(SrtpError::Malformed)?;
                verify_slices_are_equal(want, buf.get(end..).ok_or(SrtpError::Malformed)?)
                    .map_err(|_| SrtpError::AuthFailed)?;
                if encrypted {
                    Self::ctr(
                        enc,
                        salt,
                        ssrc,
                        u64::from(index),
                        buf.get_mut(8..len).ok_or(SrtpError::Malformed)?,
                    )?;
                }
                Ok(len)
            }
            Transform::Gcm { key, salt } => {
                let nonce = Self::gcm_rtcp_nonce(salt, ssrc, index);
                let end = buf.len().checked_sub(4).ok_or(SrtpError::Malformed)?;
                if encrypted {
                    let mut aad = [0u8; 12];
                    aad[..8].copy_from_slice(buf.get(..8).ok_or(SrtpError::Malformed)?);
                    aad[8..].copy_from_slice(&word.to_be_bytes());
                    let plain = key
                        .open_in_place(
                            nonce,
                            Aad::from(aad),
                            buf.get_mut(8..end).ok_or(SrtpError::Malformed)?,
                        )
                        .map_err(|_| SrtpError::AuthFailed)?;
                    Ok(8 + plain.len())
                } else {
                    // RFC 7714 §9.3: authenticated only: everything is associated data.
                    let len = end.checked_sub(GCM_TAG).ok_or(SrtpError::Malformed)?;
                    let mut aad = buf.get(..len).ok_or(SrtpError::Malformed)?.to_vec();
                    aad.extend_from_slice(&word.to_be_bytes());
                    let tag = buf.get_mut(len..end).ok_or(SrtpError::Malformed)?;
                    key.open_in_place(nonce, Aad::from(aad.as_slice()), tag)
                        .map_err(|_| SrtpError::AuthFailed)?;
                    Ok(len)
                }
            }
        }
    }
}
