//! Bounds-checked reading and length-prefixed writing of TLS presentation-language fields
//! (RFC 5246 §4). Every read returns `None` instead of panicking when the input is short.

/// A cursor over untrusted bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let [b] = self.array::<1>()?;
        Some(b)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u24(&mut self) -> Option<u32> {
        let [a, b, c] = self.array()?;
        Some(u32::from_be_bytes([0, a, b, c]))
    }

    pub(crate) fn u48(&mut self) -> Option<u64> {
        let [a, b, c, d, e, f] = self.array()?;
        Some(u64::from_be_bytes([0, 0, a, b, c, d, e, f]))
    }

    /// `opaque x<0..2^8-1>`.
    pub(crate) fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// `opaque x<0..2^16-1>`.
    pub(crate) fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// `opaque x<0..2^24-1>`.
    pub(crate) fn vec24(&mut self) -> Option<&'a [u8]> {
        let n = self.u24()?;
        self.take(usize::try_from(n).ok()?)
    }

    /// A list of `u16` values: `uint16 x<0..2^16-2>`; `None` on an odd length.
    pub(crate) fn u16_list16(&mut self) -> Option<Vec<u16>> {
        let raw = self.vec16()?;
        u16_list(raw)
    }
}

/// Splits bytes into big-endian `u16`s; `None` on an odd length.
pub(crate) fn u16_list(raw: &[u8]) -> Option<Vec<u16>> {
    if !raw.len().is_multiple_of(2) {
        return None;
    }
    Some(
        raw.chunks_exact(2)
            .map(|c| {
                u16::from_be_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            })
            .collect(),
    )
}

pub(crate) fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u24(out: &mut Vec<u8>, v: u32) {
    let b = v.to_be_bytes();
    out.extend_from_slice(b.get(1..).unwrap_or_default());
}

/// Writes a length-prefixed field whose length prefix has `width` bytes (1, 2 or 3) and
/// whose content `f` writes. Lengths our own encoders produce always fit; a content too
/// long for its prefix is truncated to the largest length the prefix can state rather
/// than panicking (and the peer will then reject it).
pub(crate) fn put_len_prefixed(out: &mut Vec<u8>, width: usize, f: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.resize(at + width, 0);
    f(out);
    let max = (1usize << (8 * width)) - 1;
    let mut len = out.len() - at - width;
    if len > max {
        out.truncate(at + width + max);
        len = max;
    }
    let bytes = (len as u32).to_be_bytes();
    if let (Some(dst), Some(src)) = (out.get_mut(at..at + width), bytes.get(4 - width..)) {
        dst.copy_from_slice(src);
    }
}

pub(crate) fn put_vec8(out: &mut Vec<u8>, v: &[u8]) {
    put_len_prefixed(out, 1, |o| o.extend_from_slice(v));
}

pub(crate) fn put_vec16(out: &mut Vec<u8>, v: &[u8]) {
    put_len_prefixed(out, 2, |o| o.extend_from_slice(v));
}

pub(crate) fn put_vec24(out: &mut Vec<u8>, v: &[u8]) {
    put_len_prefixed(out, 3, |o| o.extend_from_slice(v));
}

pub(crate) fn put_u16_list16(out: &mut Vec<u8>, v: &[u16]) {
    put_len_prefixed(out, 2, |o| {
        for x in v {
            put_u16(o, *x);
        }
    });
}
