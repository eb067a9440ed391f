#!/usr/bin/env python3
"""aiortc test peer for sansrtc's real-peer interop tests (loopback only).

Usage (with the venv made by setup.sh, /work/main/.interop/venv/bin/python):
    aiortc_peer.py offer <whip-url>                    drive the workload, print one JSON line
    aiortc_peer.py media <whip-url> [--codec VP8|H264] audio + video to a media echo; decodes
                                                       and counts the echo, one JSON line
    aiortc_peer.py answer --listen 127.0.0.1:PORT      echo server; PORT 0 picks a free port;
                                                       prints "LISTENING <port>" when ready

Signalling (WHIP style, RFC 9725 convention, non-trickle): the offerer POSTs its offer to
<whip-url> with Content-Type: application/sdp once ICE gathering is complete (candidates
inside the SDP); the answerer replies 201 Created, Content-Type: application/sdp, body = the
complete answer, and a Location header naming the session (DELETE on it closes the session).
The answerer accepts any number of offers, on any path, each in its own peer connection.

Network: ICE server list empty; aioice's host address discovery is replaced by one that
returns only 127.0.0.1 (aioice skips loopback otherwise, and aiortc's default STUN server is
on the internet).

Workload (identical in chromium_peer.mjs; the offerer drives it, the answerer echoes every
message back on the same channel with the same type, string stays string, binary stays binary):
  1. Create data channel "echo" (ordered, reliable) before the offer. open_ms = ms from just
     before createOffer to the channel's open event (includes gathering and the HTTP POST).
  2. Send 1000 messages i = 0..999. Type: string if i % 3 == 0, else binary.
     Size (bytes; strings are ASCII so chars == bytes):
       i < 16: SPECIAL[i], SPECIAL = [0, 0, 65536, 65536, 1, 2, 3, 1199, 1200, 1201,
                                      16383, 16384, 16385, 65535, 32768, 4096]
       else by b = i % 8:  b < 4:  1     + (i * 13)     % 200      (small, 1..200)
                           b < 6:  201   + (i * 7919)   % 4000     (mid, 201..4200)
                           b == 6: 4201  + (i * 104729) % 28000    (large, 4201..32200)
                           b == 7: 32201 + (i * 7919)   % 33336    (huge, 32201..65536)
     Content: TAPE[k] = (k * 7 + (k >> 8) * 13) & 0xff for k in 0..65536+1024;
       off = (i * 37) % 1024; binary message = TAPE[off : off + size];
       string message = the same bytes mapped to chr(33 + b % 94) (printable ASCII '!'..'~').
     Sending keeps bufferedAmount <= 1 MiB (bufferedAmountLowThreshold 256 KiB); echoes are
     checked as they arrive: all 1000, in order, same type, equal content (msgs_ok counts them).
  3. Bulk: 256 binary messages of 65536 bytes (16 MiB), chunk k = TAPE[off : off + 65536]
     with off = (k * 37) % 1024, same backpressure. SHA-256 over all echoed bytes must equal
     SHA-256 over all sent bytes. bulk_mb_per_s = 16 MiB (counted once, in 10^6-byte MB)
     divided by the seconds from the first bulk send to the last bulk echo received.
  4. Close the channel, wait for its close event, close the peer connection.
  Output: one final JSON line on stdout
     {"peer": "aiortc", "role": "offer", "open_ms": N, "msgs_ok": 1000,
      "bulk_mb_per_s": X, "ok": true}
  exit 0; on any failure {"peer": "aiortc", "role": "offer", "ok": false, "error": "..."}
  and exit 1. Every wait has a timeout; the whole run is bounded by 120 s.

Media mode (against an echo that sends every audio/video stream back, e.g. sansrtc's
`echo` example): a 440 Hz tone (48 kHz mono, 20 ms frames) and a 320x240 30 fps moving test
pattern (diagonal luma stripes shifted each frame, drifting chroma) as sendrecv tracks, video
restricted to --codec (and RTX), plus data channel "echo" (one ping must come back). From
connected (20 s at most) it receives for 6 s: the echoed tracks are read (aiortc decodes
what is read) and their frames counted. ok needs >= 30 echoed video frames of 320x240 and
>= 50 audio frames decoded, and the ping. Output, one line:
  {"peer": "aiortc", "role": "media", "codec": "VP8", "negotiated": {...}, "srtp_profile": ..,
   "video_frames_sent": N, "video_frames_decoded": N, "video_packets_lost": N, "video_rtt_ms": X,
   "audio_frames_sent": N, "audio_frames_decoded": N, ..., "ok": true}

Answer mode also takes audio/video m-lines (received only): it decodes and counts them and,
when the session ends, prints "RESULT {json}" on stdout (frames decoded, frame size, packets,
losses, SRTP profile); the reply to a DELETE carries the same JSON.
"""

import argparse
import asyncio
import fractions
import hashlib
import itertools
import json
import logging
import math
import os
import signal
import socket
import sys
import time

import aioice.ice
import aiohttp
import av
from aiohttp import web
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack


def _loopback_only(use_ipv4: bool = True, use_ipv6: bool = False) -> list[str]:
    return ["127.0.0.1"]


# aioice drops 127.0.0.1 from its host candidates; on a loopback-only test that leaves none.
aioice.ice.get_host_addresses = _loopback_only


def _capture_plain_rtcp(directory: str) -> None:
    """SANSRTC_CAPTURE=<dir>: plain RTCP (fuzz seeds, see docs/INTEROP.md), which the
    sansrtc side never sees decrypted: what sansrtc sent, as aiortc decrypted it
    (rtcp-sansrtc-<n>.bin), and what aiortc sends, before encryption (rtcp-aiortc-<n>.bin);
    at most 300 files each, never overwriting."""
    from aiortc import rtcdtlstransport
    from aiortc.rtp import is_rtcp

    os.makedirs(directory, exist_ok=True)
    counts = {"sansrtc": 0, "aiortc": 0}

    def keep(origin: str, data: bytes) -> None:
        n = counts[origin]
        while n < 300:
            path = os.path.join(directory, f"rtcp-{origin}-{n}.bin")
            n += 1
            try:
                with open(path, "xb") as f:
                    f.write(data)
                break
            except FileExistsError:
                continue
        counts[origin] = n

    transport = rtcdtlstransport.RTCDtlsTransport
    handle, send = transport._handle_rtcp_data, transport._send_rtp

    async def handle_rtcp_data(self, data: bytes) -> None:
        keep("sansrtc", data)
        await handle(self, data)

    async def send_rtp(self, data: bytes) -> None:
        if is_rtcp(data):
            keep("aiortc", data)
        await send(self, data)

    transport._handle_rtcp_data = handle_rtcp_data
    transport._send_rtp = send_rtp


if os.environ.get("SANSRTC_CAPTURE"):
    _capture_plain_rtcp(os.environ["SANSRTC_CAPTURE"])

PEER = "aiortc"
RUN_TIMEOUT = 120.0  # the whole offer run
OPEN_TIMEOUT = 20.0
ECHO_TIMEOUT = 45.0
BULK_TIMEOUT = 45.0
CLOSE_TIMEOUT = 10.0
HTTP_TIMEOUT = 15.0

HIGH_WATER = 1 << 20  # bufferedAmount never exceeds this
LOW_WATER = 256 << 10  # bufferedAmountLowThreshold
N_MSGS = 1000
BULK_CHUNK = 65536
BULK_COUNT = 256
SPECIAL = [0, 0, 65536, 65536, 1, 2, 3, 1199, 1200, 1201, 16383, 16384, 16385, 65535, 32768, 4096]
TAPE = bytes(((k * 7) + (k >> 8) * 13) & 0xFF for k in range(65536 + 1024))
STR_TAPE = bytes(33 + b % 94 for b in TAPE).decode("ascii")

log = logging.getLogger("aiortc_peer")
DEBUG_SDP = bool(os.environ.get("SANSRTC_PEER_DEBUG"))  # log every offer and answer


def log_sdp(what: str, sdp: str) -> None:
    if DEBUG_SDP:
        log.info("%s:\n%s", what, sdp.rstrip())


def rtc_config() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[])


def msg_size(i: int) -> int:
    if i < len(SPECIAL):
        return SPECIAL[i]
    b = i % 8
    if b < 4:
        return 1 + (i * 13) % 200
    if b < 6:
        return 201 + (i * 7919) % 4000
    if b == 6:
        return 4201 + (i * 104729) % 28000
    return 32201 + (i * 7919) % 33336


def message(i: int):
    off = (i * 37) % 1024
    n = msg_size(i)
    if i % 3 == 0:
        return STR_TAPE[off : off + n]
    return TAPE[off : off + n]


def bulk_chunk(k: int) -> bytes:
    off = (k * 37) % 1024
    return TAPE[off : off + BULK_CHUNK]


def describe(m) -> str:
    return f"{'string' if isinstance(m, str) else 'binary'}[{len(m)}]"


class Failure(Exception):
    pass


async def wait_or_fail(aw, timeout: float, what: str):
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        raise Failure(f"timeout after {timeout:.0f} s: {what}") from None


# ---------------------------------------------------------------------------------------
# offer: the driver


async def whip_post(url: str, offer_sdp: str) -> str:
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as http:
        async with http.post(
            url, data=offer_sdp.encode(), headers={"Content-Type": "application/sdp"}
        ) as resp:
            body = await resp.text()
            if resp.status != 201:
                raise Failure(f"WHIP POST {url}: HTTP {resp.status}: {body[:200]!r}")
            if resp.content_type != "application/sdp":
                raise Failure(f"WHIP POST {url}: Content-Type {resp.content_type!r}")
            return body


async def drive(url: str) -> dict:
    pc = RTCPeerConnection(rtc_config())
    try:
        return await drive_pc(pc, url)
    finally:
        await pc.close()


async def drive_pc(pc: RTCPeerConnection, url: str) -> dict:
    loop = asyncio.get_running_loop()
    dc = pc.createDataChannel("echo", ordered=True)
    opened, closed, low = asyncio.Event(), asyncio.Event(), asyncio.Event()
    inbox: asyncio.Queue = asyncio.Queue()
    failed: list[str] = []
    dc.bufferedAmountLowThreshold = LOW_WATER
    dc.on("open", opened.set)
    dc.on("close", closed.set)
    dc.on("bufferedamountlow", low.set)
    dc.on("message", inbox.put_nowait)

    @pc.on("connectionstatechange")
    def _state():
        log.info("connection state %s", pc.connectionState)
        if pc.connectionState == "failed":
            failed.append("peer connection failed")
            inbox.put_nowait(None)  # wake a waiting receiver

    t0 = loop.time()
    await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers here: non-trickle
    log_sdp("offer", pc.localDescription.sdp)
    answer = await whip_post(url, pc.localDescription.sdp)
    log_sdp("answer", answer)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    await wait_or_fail(opened.wait(), OPEN_TIMEOUT, "data channel open")
    open_ms = (loop.time() - t0) * 1000.0
    log.info("open after %.1f ms", open_ms)

    async def send(data) -> None:
        n = len(data)
        while dc.bufferedAmount > 0 and dc.bufferedAmount + n > HIGH_WATER:
            low.clear()
            if dc.bufferedAmount <= LOW_WATER:
                break
            await low.wait()
        if dc.readyState != "open":
            raise Failure(f"channel {dc.readyState} while sending")
        dc.send(data)

    async def recv():
        m = await inbox.get()
        if m is None:
            raise Failure(failed[0] if failed else "channel gone")
        return m

    # -- 1000 echoed messages
    async def send_msgs():
        for i in range(N_MSGS):
            await send(message(i))

    async def check_msgs():
        ok = 0
        for i in range(N_MSGS):
            got, want = await recv(), message(i)
            if type(got) is not type(want) or got != want:
                raise Failure(
                    f"echo {i}: got {describe(got)}, want {describe(want)}"
                    + ("" if type(got) is not type(want) or len(got) != len(want) else ", content differs")
                )
            ok += 1
        return ok

    _, msgs_ok = await wait_or_fail(
        asyncio.gather(send_msgs(), check_msgs()), ECHO_TIMEOUT, "1000 echoes"
    )
    log.info("%d echoes ok", msgs_ok)

    # -- 16 MiB bulk
    sent_hash, got_hash = hashlib.sha256(), hashlib.sha256()
    total = BULK_CHUNK * BULK_COUNT

    async def send_bulk():
        for k in range(BULK_COUNT):
            chunk = bulk_chunk(k)
            sent_hash.update(chunk)
            await send(chunk)

    async def recv_bulk():
        got = 0
        while got < total:
            m = await recv()
            if not isinstance(m, bytes):
                raise Failure(f"bulk echo after {got} bytes: got a string[{len(m)}]")
            got_hash.update(m)
            got += len(m)
        if got != total:
            raise Failure(f"bulk echo: {got} bytes, want {total}")
        return loop.time()

    t_bulk = loop.time()
    _, t_end = await wait_or_fail(
        asyncio.gather(send_bulk(), recv_bulk()), BULK_TIMEOUT, "16 MiB bulk echo"
    )
    if sent_hash.digest() != got_hash.digest():
        raise Failure(
            f"bulk SHA-256 differs: sent {sent_hash.hexdigest()} echoed {got_hash.hexdigest()}"
        )
    mbps = total / 1e6 / (t_end - t_bulk)
    log.info("bulk %.1f MB/s", mbps)
    if not inbox.empty():
        raise Failure(f"{inbox.qsize()} unexpected extra message(s)")

    # -- close
    dc.close()
    await wait_or_fail(closed.wait(), CLOSE_TIMEOUT, "data channel close")
    await wait_or_fail(pc.close(), CLOSE_TIMEOUT, "peer connection close")
    return {
        "peer": PEER,
        "role": "offer",
        "open_ms": round(open_ms, 1),
        "msgs_ok": msgs_ok,
        "bulk_mb_per_s": round(mbps, 2),
        "ok": True,
    }


def run_offer(url: str) -> int:
    async def main():
        return await asyncio.wait_for(drive(url), RUN_TIMEOUT)

    try:
        result = asyncio.run(main())
    except Failure as e:
        result = {"peer": PEER, "role": "offer", "ok": False, "error": str(e)}
    except asyncio.TimeoutError:
        result = {"peer": PEER, "role": "offer", "ok": False, "error": f"run exceeded {RUN_TIMEOUT:.0f} s"}
    except Exception as e:  # a bug or an unexpected library error: still one JSON line
        result = {"peer": PEER, "role": "offer", "ok": False, "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result), flush=True)
    return 0 if result.get("ok") else 1



# ---------------------------------------------------------------------------------------
# media: synthetic audio and video to an echo; the echo is decoded and counted

MEDIA_CONNECT_TIMEOUT = 20.0
MEDIA_SECONDS = 6.0  # from connected: how long the echo is received
MEDIA_MIN_VIDEO = 30  # echoed video frames decoded, at least (of ~180 sent)
MEDIA_MIN_AUDIO = 50  # echoed audio frames decoded, at least (of ~300 sent)
VIDEO_W, VIDEO_H = 320, 240
# The luma of the test pattern: diagonal stripes, each frame a slice further along.
PATTERN = bytes(((x * 3 + (x // VIDEO_W) * 5) & 0xFF) for x in range(VIDEO_W * VIDEO_H + 4 * VIDEO_W))


def pattern_frame(i: int) -> av.VideoFrame:
    """Frame i of a moving test pattern (so that no two VP8 frames are alike)."""
    f = av.VideoFrame(VIDEO_W, VIDEO_H, "yuv420p")
    y, u, v = f.planes
    off = (i * 7) % (4 * VIDEO_W)
    y.update(PATTERN[off : off + y.buffer_size])
    u.update(bytes([(i * 3) & 0xFF]) * u.buffer_size)
    v.update(bytes([(255 - i * 2) & 0xFF]) * v.buffer_size)
    return f


class PatternVideoTrack(VideoStreamTrack):
    """30 fps of the moving test pattern."""

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        f = pattern_frame(self.frames)
        self.frames += 1
        f.pts, f.time_base = pts, time_base
        return f


class ToneAudioTrack(AudioStreamTrack):
    """A 440 Hz tone, 20 ms frames at 48 kHz, mono s16."""

    RATE = 48000
    SAMPLES = 960
    # one period of 440 Hz does not fit 960 samples evenly: a 4800-sample tape (44 periods)
    TAPE = b"".join(
        int(8000 * math.sin(2 * math.pi * 440 * k / 48000)).to_bytes(
            2, "little", signed=True
        )
        for k in range(4800)
    )

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if hasattr(self, "_timestamp"):
            self._timestamp += self.SAMPLES
            await asyncio.sleep(self._start + self._timestamp / self.RATE - time.time())
        else:
            self._start = time.time()
            self._timestamp = 0
        f = av.AudioFrame(format="s16", layout="mono", samples=self.SAMPLES)
        off = (self.frames * self.SAMPLES * 2) % len(self.TAPE)
        chunk = (self.TAPE + self.TAPE)[off : off + self.SAMPLES * 2]
        f.planes[0].update(chunk)
        f.pts = self._timestamp
        f.sample_rate = self.RATE
        f.time_base = fractions.Fraction(1, self.RATE)
        self.frames += 1
        return f


class TrackCounter:
    """Consumes a received track (aiortc decodes only what is read) and counts frames."""

    def __init__(self, track) -> None:
        self.kind = track.kind
        self.frames = 0
        self.size = None
        self.first = None
        self.task = asyncio.get_running_loop().create_task(self._run(track))

    async def _run(self, track) -> None:
        try:
            while True:
                f = await track.recv()
                self.frames += 1
                if self.first is None:
                    self.first = time.monotonic()
                if self.kind == "video":
                    self.size = f"{f.width}x{f.height}"
                else:
                    self.size = f"{f.sample_rate} Hz {f.layout.name}"
        except (MediaStreamError, asyncio.CancelledError):
            pass

    def stop(self) -> None:
        self.task.cancel()


def srtp_profile_of(pc: RTCPeerConnection):
    """The negotiated SRTP profile (aiortc keeps it only inside its OpenSSL object)."""
    try:
        for t in pc.getTransceivers():
            ssl = t.receiver.transport._ssl
            return ssl.get_selected_srtp_profile().decode()
    except Exception:
        return None
    return None


def negotiated_codecs(sdp: str) -> dict:
    """The first codec of each audio/video m-line of an SDP: {"video": "VP8/90000", ...}."""
    out: dict = {}
    kind, first = None, None
    for line in sdp.splitlines():
        if line.startswith("m="):
            parts = line[2:].split()
            kind, first = parts[0], (parts[3] if len(parts) > 3 and parts[1] != "0" else None)
        elif kind in ("audio", "video") and first and line.startswith(f"a=rtpmap:{first} "):
            out.setdefault(kind, line.split(" ", 1)[1])
    return out


async def rtp_stats(pc: RTCPeerConnection) -> dict:
    """inbound-rtp and remote-inbound-rtp numbers by kind."""
    out: dict = {}
    report = await pc.getStats()
    for st in report.values():
        kind = getattr(st, "kind", None)
        if st.type == "inbound-rtp":
            d = out.setdefault(kind, {})
            d["packets_received"] = st.packetsReceived
            d["packets_lost"] = st.packetsLost
            d["jitter"] = st.jitter
        elif st.type == "remote-inbound-rtp":
            d = out.setdefault(kind, {})
            d["rtt_ms"] = round(st.roundTripTime * 1000, 1)
            d["remote_packets_lost"] = st.packetsLost
        elif st.type == "outbound-rtp":
            d = out.setdefault(kind, {})
            d["packets_sent"] = st.packetsSent
    return out


async def media_drive(url: str, codec: str) -> dict:
    pc = RTCPeerConnection(rtc_config())
    try:
        return await media_drive_pc(pc, url, codec)
    finally:
        await pc.close()


async def media_drive_pc(pc: RTCPeerConnection, url: str, codec: str) -> dict:
    loop = asyncio.get_running_loop()
    audio, video = ToneAudioTrack(), PatternVideoTrack()
    pc.addTrack(audio)
    vt = pc.addTransceiver(video, direction="sendrecv")
    want = f"video/{codec}".lower()
    caps = RTCRtpSender.getCapabilities("video").codecs
    prefs = [c for c in caps if c.mimeType.lower() == want]
    if not prefs:
        raise Failure(f"aiortc cannot send {codec}")
    vt.setCodecPreferences(prefs + [c for c in caps if c.mimeType.lower() == "video/rtx"])
    dc = pc.createDataChannel("echo", ordered=True)
    dc_echo: asyncio.Future = loop.create_future()
    dc.on("open", lambda: dc.send("media ping"))
    dc.on("message", lambda m: dc_echo.done() or dc_echo.set_result(m))
    counters: dict[str, TrackCounter] = {}
    connected = asyncio.Event()
    failed: list[str] = []

    @pc.on("track")
    def _track(track):
        log.info("track %s", track.kind)
        counters[track.kind] = TrackCounter(track)

    @pc.on("connectionstatechange")
    def _state():
        log.info("connection state %s", pc.connectionState)
        if pc.connectionState == "connected":
            connected.set()
        if pc.connectionState == "failed":
            failed.append("peer connection failed")
            connected.set()

    t0 = loop.time()
    await pc.setLocalDescription(await pc.createOffer())
    log_sdp("offer", pc.localDescription.sdp)
    answer = await whip_post(url, pc.localDescription.sdp)
    log_sdp("answer", answer)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    await wait_or_fail(connected.wait(), MEDIA_CONNECT_TIMEOUT, "connection")
    if failed:
        raise Failure(failed[0])
    connect_ms = (loop.time() - t0) * 1000.0
    t_up = time.monotonic()
    await asyncio.sleep(MEDIA_SECONDS)
    stats = await rtp_stats(pc)
    a, v = counters.get("audio"), counters.get("video")
    try:
        echo = await asyncio.wait_for(asyncio.shield(dc_echo), 1.0)
    except asyncio.TimeoutError:
        echo = None
    for c in counters.values():
        c.stop()
    result = {
        "peer": PEER,
        "role": "media",
        "codec": codec,
        "negotiated": negotiated_codecs(answer),
        "srtp_profile": srtp_profile_of(pc),
        "connect_ms": round(connect_ms, 1),
        "seconds": MEDIA_SECONDS,
        "video_frames_sent": video.frames,
        "video_frames_decoded": v.frames if v else 0,
        "video_first_ms": round((v.first - t_up) * 1000) if v and v.first else None,
        "video_frame_size": v.size if v else None,
        "video_packets_received": stats.get("video", {}).get("packets_received"),
        "video_packets_lost": stats.get("video", {}).get("packets_lost"),
        "video_jitter": stats.get("video", {}).get("jitter"),
        "video_rtt_ms": stats.get("video", {}).get("rtt_ms"),
        "audio_frames_sent": audio.frames,
        "audio_frames_decoded": a.frames if a else 0,
        "audio_format": a.size if a else None,
        "audio_packets_received": stats.get("audio", {}).get("packets_received"),
        "audio_packets_lost": stats.get("audio", {}).get("packets_lost"),
        "audio_rtt_ms": stats.get("audio", {}).get("rtt_ms"),
    }
    problems = []
    if result["video_frames_decoded"] < MEDIA_MIN_VIDEO:
        problems.append(
            f"echoed video: {result['video_frames_decoded']} frames decoded, want >= {MEDIA_MIN_VIDEO}"
        )
    if result["audio_frames_decoded"] < MEDIA_MIN_AUDIO:
        problems.append(
            f"echoed audio: {result['audio_frames_decoded']} frames decoded, want >= {MEDIA_MIN_AUDIO}"
        )
    if v and v.size and v.size != f"{VIDEO_W}x{VIDEO_H}":
        problems.append(f"echoed video is {v.size}, want {VIDEO_W}x{VIDEO_H}")
    if echo != "media ping":
        problems.append(f"data channel echo: {echo!r}")
    result["ok"] = not problems
    if problems:
        result["error"] = "; ".join(problems)
    return result


def run_media(url: str, codec: str) -> int:
    async def main():
        return await asyncio.wait_for(media_drive(url, codec), RUN_TIMEOUT)

    try:
        result = asyncio.run(main())
    except Failure as e:
        result = {"peer": PEER, "role": "media", "codec": codec, "ok": False, "error": str(e)}
    except asyncio.TimeoutError:
        result = {"peer": PEER, "role": "media", "codec": codec, "ok": False, "error": f"run exceeded {RUN_TIMEOUT:.0f} s"}
    except Exception as e:
        result = {"peer": PEER, "role": "media", "codec": codec, "ok": False, "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result), flush=True)
    return 0 if result.get("ok") else 1


# ---------------------------------------------------------------------------------------
# answer: the WHIP echo server

SESSION_LIFETIME = 600.0  # a session still open after this is closed anyway
IDLE_GRACE = 2.0  # close a session this long after its last channel closed


class EchoServer:
    def __init__(self) -> None:
        self.sessions: dict[str, RTCPeerConnection] = {}
        self.counters: dict[str, dict[str, TrackCounter]] = {}
        self.ids = itertools.count(1)

    async def close_session(self, sid: str, why: str):
        """Closes a session; for one that received media, prints and returns what it
        decoded: "RESULT {json}" on stdout."""
        pc = self.sessions.pop(sid, None)
        if pc is None:
            return None
        log.info("session %s: closing (%s)", sid, why)
        counters = self.counters.pop(sid, {})
        result = None
        if counters:
            stats = await rtp_stats(pc)
            result = {"peer": PEER, "role": "answer", "session": sid, "closed": why,
                      "srtp_profile": srtp_profile_of(pc)}
            for kind, c in sorted(counters.items()):
                c.stop()
                result[f"{kind}_frames_decoded"] = c.frames
                result[f"{kind}_format"] = c.size
                for k, val in stats.get(kind, {}).items():
                    if k != "packets_sent":  # (a recvonly transceiver's idle sender)
                        result[f"{kind}_{k}"] = val
            print("RESULT " + json.dumps(result), flush=True)
        await pc.close()
        return result

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "DELETE":
            sid = request.path.rstrip("/").rsplit("/", 1)[-1]
            if sid not in self.sessions:
                return web.Response(status=404)
            result = await self.close_session(sid, "DELETE")
            if result is None:
                return web.Response(status=200)
            return web.json_response(result, status=200)
        if request.method != "POST":
            return web.Response(status=405, headers={"Allow": "POST, DELETE"})
        if request.content_type != "application/sdp":
            return web.Response(status=415, text="Content-Type must be application/sdp")
        offer = await request.text()
        log_sdp("offer", offer)
        sid = str(next(self.ids))
        pc = RTCPeerConnection(rtc_config())
        self.sessions[sid] = pc
        channels: set = set()
        loop = asyncio.get_running_loop()

        def spawn(coro):
            # keep a reference so the task is not collected
            t = loop.create_task(coro)
            tasks.add(t)
            t.add_done_callback(tasks.discard)

        tasks: set = set()

        @pc.on("connectionstatechange")
        def _state():
            log.info("session %s: connection %s", sid, pc.connectionState)
            if pc.connectionState in ("failed", "closed"):
                spawn(self.close_session(sid, pc.connectionState))

        @pc.on("track")
        def _track(track):
            # Received media is decoded (aiortc decodes what is read) and counted.
            log.info("session %s: %s track", sid, track.kind)
            self.counters.setdefault(sid, {})[track.kind] = TrackCounter(track)

        @pc.on("datachannel")
        def _channel(ch):
            log.info("session %s: channel %r id %s", sid, ch.label, ch.id)
            channels.add(ch)

            @ch.on("message")
            def _echo(m):
                if ch.readyState == "open":
                    try:
                        ch.send(m)
                    except Exception as e:
                        log.error("session %s: echo of %s failed: %s", sid, describe(m), e)

            @ch.on("close")
            def _closed():
                channels.discard(ch)
                log.info("session %s: channel %r closed", sid, ch.label)

                async def later():
                    await asyncio.sleep(IDLE_GRACE)
                    if not channels:
                        await self.close_session(sid, "no channel left")

                spawn(later())

        async def lifetime():
            await asyncio.sleep(SESSION_LIFETIME)
            await self.close_session(sid, "lifetime")

        spawn(lifetime())
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())  # gathers: non-trickle
        except Exception as e:
            await self.close_session(sid, "bad offer")
            return web.Response(status=400, text=f"{type(e).__name__}: {e}")
        log.info("session %s: answered", sid)
        log_sdp("answer", pc.localDescription.sdp)
        return web.Response(
            status=201,
            body=pc.localDescription.sdp.encode(),
            content_type="application/sdp",
            headers={"Location": f"/session/{sid}"},
        )


def run_answer(listen: str) -> int:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"

    async def main():
        server = EchoServer()
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", server.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        await web.SockSite(runner, sock).start()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        print(f"LISTENING {sock.getsockname()[1]}", flush=True)
        try:
            await stop.wait()
        finally:
            closing = [server.close_session(sid, "shutdown") for sid in list(server.sessions)]
            if closing:
                try:
                    await asyncio.wait_for(asyncio.gather(*closing), 3.0)
                except asyncio.TimeoutError:
                    log.info("shutdown: sessions did not close within 3 s")
            await runner.cleanup()

    asyncio.run(main())
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-v", "--verbose", action="store_true", help="debug logs on stderr")
    sub = p.add_subparsers(dest="mode", required=True)
    o = sub.add_parser("offer", help="drive the workload against a WHIP echo server")
    o.add_argument("url")
    m = sub.add_parser("media", help="send audio and video to a WHIP echo, decode the echo")
    m.add_argument("url")
    m.add_argument("--codec", default="VP8", choices=["VP8", "H264"])
    a = sub.add_parser("answer", help="serve WHIP offers and echo")
    a.add_argument("--listen", required=True, metavar="127.0.0.1:PORT")
    args = p.parse_args()
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format=f"[{PEER} %(asctime)s] %(message)s",
    )
    if not args.verbose:
        for noisy in ("aioice", "aiortc", "aiohttp"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.mode == "offer":
        return run_offer(args.url)
    if args.mode == "media":
        return run_media(args.url, args.codec)
    return run_answer(args.listen)


if __name__ == "__main__":
    sys.exit(main())
