//! Serial number arithmetic for TSNs (32-bit) and SSNs (16-bit), RFC 1982 as RFC 9260
//! §1.6 asks.

/// `a < b` in 32-bit serial arithmetic.
pub(crate) fn lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < (1 << 31)
}

/// `a <= b` in 32-bit serial arithmetic.
pub(crate) fn le(a: u32, b: u32) -> bool {
    a == b || lt(a, b)
}

/// `a < b` in 16-bit serial arithmetic.
pub(crate) fn lt16(a: u16, b: u16) -> bool {
    a != b && b.wrapping_sub(a) < (1 << 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps() {
        assert!(lt(1, 2));
        assert!(lt(u32::MAX, 0));
        assert!(!lt(0, u32::MAX));
        assert!(le(5, 5) && !lt(5, 5));
        assert!(lt16(u16::MAX, 3));
        assert!(!lt16(7, 7) && !lt16(9, 8));
    }
}
