#!/usr/bin/env python3
"""Fuzz seeds from captured real traffic (docs/INTEROP.md, "Fuzz seeds from real traffic").

    python3 scripts/seeds_from_capture.py ORIGIN=CAPTURE_DIR [ORIGIN=CAPTURE_DIR ...]

Each CAPTURE_DIR was written by the examples with SANSRTC_CAPTURE=<dir> (datagrams by
RFC 7983 class, SDP, decrypted RTP; plain RTCP from the aiortc peer). ORIGIN names the
session (e.g. chromium-dc, aiortc-media) and prefixes every seed. A small, diverse
selection goes to fuzz/seeds/<target>/, in each target's own input format:

  stun       a STUN datagram as received; a=candidate lines of the SDP as text
  dtls_wire  a DTLS datagram as received (the handshake, then a few records of data)
  rtp        a decrypted RTP packet (diverse payload types and sizes)
  rtcp       a plain RTCP compound (aiortc's own, and ours as aiortc decrypted it)
  srtp       profile byte, then: plain RTP or RTCP (protect/unprotect round trip), or an
             SRTP/SRTCP datagram as received (unprotect; its keys are not the target's)
  rtc        mode byte 0 then an SDP offer or answer (the SDP mode); mode byte 3 then
             length-prefixed plain RTP/RTCP packets of at most 255 bytes (the media mode)
  ice_agent  flags byte, then operations (op, len, bytes): each STUN datagram received
             (op 0), a timer step (op 5), each a=candidate line (op 6)
"""

import glob
import hashlib
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SEEDS = os.path.join(ROOT, "fuzz", "seeds")


def files(d, kind):
    def n(p):
        m = re.search(r"-(\d+)\.\w+$", p)
        return int(m.group(1)) if m else 0

    return sorted(glob.glob(os.path.join(d, f"{kind}-[0-9]*.*")), key=n)


def read(p):
    with open(p, "rb") as f:
        return f.read()


def unique(blobs):
    seen, out = set(), []
    for b in blobs:
        h = hashlib.sha256(b).digest()
        if h not in seen:
            seen.add(h)
            out.append(b)
    return out


def spread(blobs, n):
    """n items spread over the list (first and last included)."""
    if len(blobs) <= n:
        return list(blobs)
    return [blobs[round(i * (len(blobs) - 1) / (n - 1))] for i in range(n)]


def diverse_rtp(packets, n):
    """Per payload type, packets of spread sizes; then the first few of the session."""
    by_pt = {}
    for p in packets:
        if len(p) >= 12:
            by_pt.setdefault(p[1] & 0x7F, []).append(p)
    out = []
    per = max(2, n // max(1, len(by_pt)))
    for pt in sorted(by_pt):
        out += spread(sorted(by_pt[pt], key=len), per)
    out += packets[:4]
    return unique(out)[:n]


def write(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def candidates(sdps):
    lines = []
    for s in sdps:
        lines += [l.strip() for l in s.decode("utf-8", "replace").splitlines() if l.startswith("a=candidate:")]
    return list(dict.fromkeys(lines))


def main():
    for arg in sys.argv[1:]:
        origin, d = arg.split("=", 1)
        stun = unique([read(p) for p in files(d, "stun")])
        dtls = [read(p) for p in files(d, "dtls")]
        srtp = [read(p) for p in files(d, "srtp")]
        rtp = unique([read(p) for p in files(d, "rtp")])
        rtcp_peer = unique([read(p) for p in files(d, "rtcp-aiortc")])
        rtcp_ours = unique([read(p) for p in files(d, "rtcp-sansrtc")])
        sdps = [read(p) for p in files(d, "sdp")]
        counts = {}

        def put(target, name, data):
            write(target, f"{origin}-{name}", data)
            counts[target] = counts.get(target, 0) + 1

        for i, s in enumerate(stun[:8]):
            put("stun", f"{i}.bin", s)
        for i, c in enumerate(candidates(sdps)[:4]):
            put("stun", f"candidate-{i}.txt", c.encode())

        # The handshake (the first datagrams), then a few data records of spread sizes.
        hs = dtls[:8]
        rest = unique(dtls[8:])
        for i, x in enumerate(hs + spread(sorted(rest, key=len), 4)):
            put("dtls_wire", f"{i}.bin", x)

        for i, p in enumerate(diverse_rtp(rtp, 12)):
            put("rtp", f"{i}.bin", p)
        for i, p in enumerate(spread(rtcp_peer, 10)):
            put("rtcp", f"{i}.bin", p)
        for i, p in enumerate(spread(rtcp_ours, 3)):
            put("rtcp", f"sansrtc-{i}.bin", p)

        for i, p in enumerate(diverse_rtp(rtp, 6)):
            put("srtp", f"plain-rtp-{i}.bin", bytes([i % 4]) + p)
        for i, p in enumerate(spread(rtcp_peer, 2) + spread(rtcp_ours, 2)):
            put("srtp", f"plain-rtcp-{i}.bin", bytes([i % 4]) + p)
        sr = [x for x in srtp if len(x) > 1 and 192 <= x[1] <= 223]
        rp = [x for x in srtp if not (len(x) > 1 and 192 <= x[1] <= 223)]
        for i, x in enumerate(spread(sorted(rp, key=len), 3) + sr[:2]):
            put("srtp", f"wire-{i}.bin", b"\x00" + x)

        for i, s in enumerate(sdps[:2]):
            put("rtc", f"sdp-{'offer' if i == 0 else 'answer'}.bin", b"\x00" + s)
        small = [p for p in rtp if len(p) <= 255][:40] + [p for p in rtcp_peer + rtcp_ours if len(p) <= 255][:8]
        if small:
            put("rtc", "media.bin", b"\x03" + b"".join(bytes([len(p)]) + p for p in small))

        if stun:
            for flags in (0, 1):
                ops = bytearray([flags])
                for s in stun:
                    if len(s) <= 255:
                        ops += bytes([0x00, len(s)]) + s
                ops += b"\x05\x00"
                for c in candidates(sdps)[:4]:
                    c = c.removeprefix("a=").encode()[:255]
                    ops += bytes([0x06, len(c)]) + c
                ops += b"\x05\x00"
                put("ice_agent", f"{'controlling' if flags else 'controlled'}.bin", bytes(ops))
        print(origin, counts)


if __name__ == "__main__":
    main()
