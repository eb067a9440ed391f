//! STUN parser, integrity check, USERNAME peek and candidate-line parser on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::ice::Candidate;
use sansrtc::ice::stun::{self, IntegrityKey};

fuzz_target!(|data: &[u8]| {
    let key = IntegrityKey::short_term("fuzzfuzzfuzzfuzzfuzzfuzz");
    let _ = stun::peek_username(data);
    if let Ok(p) = stun::parse(data) {
        let _ = p.verify_integrity(&key);
        let _ = p.username();
        let _ = p.unknown_required();
        // Whatever parsed must re-encode without panicking.
        let mut out = [0u8; 2048];
        let _ = stun::encode(p.message.clone(), Some(&key), true, &mut out);
        let e = stun::error_response(&p.message, 420, "Unknown Attribute", p.unknown_required());
        let _ = stun::encode(e, None, true, &mut out);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(c) = s.parse::<Candidate>() {
            let back: Candidate = c.to_string().parse().expect("own output parses");
            assert_eq!(back.addr, c.addr);
        }
    }
});
