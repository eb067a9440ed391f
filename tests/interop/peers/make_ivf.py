#!/usr/bin/env python3
"""Writes a VP8 (or VP9) IVF clip of a moving test pattern, for sansrtc's `offer --video-ivf` test.

Usage (with the venv made by setup.sh): make_ivf.py OUT.ivf [--frames 90] [--size 320x240]
    [--fps 30] [--keyint 30] [--codec vp8|vp9]

Encoded with PyAV's libvpx (VP8, or VP9 profile 0 with --codec vp9) (PyAV comes with aiortc and bundles libvpx), real-time
settings, a keyframe every --keyint frames, into PyAV's IVF muxer (32-byte file header;
per frame a 12-byte header: size u32 LE, pts u64 LE; time base 1/fps). The pattern is the
one aiortc_peer.py sends in media mode: diagonal luma stripes that move each frame and
chroma that drifts, so that no two frames are alike. Prints one JSON line: frames, bytes,
keyframes.
"""

import argparse
import json
import sys

import av


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--frames", type=int, default=90)
    p.add_argument("--size", default="320x240")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--keyint", type=int, default=30)
    p.add_argument("--bitrate", type=int, default=1_000_000)
    p.add_argument("--codec", default="vp8", choices=["vp8", "vp9"])
    a = p.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    tape = bytes(((x * 3 + (x // w) * 5) & 0xFF) for x in range(w * h + 4 * w))
    out = av.open(a.out, "w", format="ivf")
    s = out.add_stream("libvpx" if a.codec == "vp8" else "libvpx-vp9", rate=a.fps)
    s.width, s.height, s.pix_fmt, s.bit_rate = w, h, "yuv420p", a.bitrate
    s.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "g": str(a.keyint)}
    n_bytes = keyframes = packets = 0
    for i in range(a.frames + 1):
        if i < a.frames:
            f = av.VideoFrame(w, h, "yuv420p")
            y, u, v = f.planes
            off = (i * 7) % (4 * w)
            y.update(tape[off : off + y.buffer_size])
            u.update(bytes([(i * 3) & 0xFF]) * u.buffer_size)
            v.update(bytes([(255 - i * 2) & 0xFF]) * v.buffer_size)
            f.pts = i
            encoded = s.encode(f)
        else:
            encoded = s.encode(None)  # flush
        for pkt in encoded:
            n_bytes += pkt.size
            keyframes += bool(pkt.is_keyframe)
            packets += 1
            out.mux(pkt)
    out.close()
    print(json.dumps({"file": a.out, "codec": a.codec, "frames": packets, "bytes": n_bytes, "keyframes": keyframes,
                      "size": a.size, "fps": a.fps}))
    return 0 if packets == a.frames else 1


if __name__ == "__main__":
    sys.exit(main())
