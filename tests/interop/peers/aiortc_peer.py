#!/usr/bin/env python3
"""aiortc test peer for sansrtc's real-peer interop tests (loopback only).

Usage (with the venv made by setup.sh, /work/main/.interop/venv/bin/python):
    aiortc_peer.py offer <whip-url>                    drive the workload, print one JSON line
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
"""

import argparse
import asyncio
import hashlib
import itertools
import json
import logging
import os
import signal
import socket
import sys

import aioice.ice
import aiohttp
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription


def _loopback_only(use_ipv4: bool = True, use_ipv6: bool = False) -> list[str]:
    return ["127.0.0.1"]


# aioice drops 127.0.0.1 from its host candidates; on a loopback-only test that leaves none.
aioice.ice.get_host_addresses = _loopback_only

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
# answer: the WHIP echo server

SESSION_LIFETIME = 600.0  # a session still open after this is closed anyway
IDLE_GRACE = 2.0  # close a session this long after its last channel closed


class EchoServer:
    def __init__(self) -> None:
        self.sessions: dict[str, RTCPeerConnection] = {}
        self.ids = itertools.count(1)

    async def close_session(self, sid: str, why: str) -> None:
        pc = self.sessions.pop(sid, None)
        if pc is not None:
            log.info("session %s: closing (%s)", sid, why)
            await pc.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "DELETE":
            sid = request.path.rstrip("/").rsplit("/", 1)[-1]
            if sid not in self.sessions:
                return web.Response(status=404)
            await self.close_session(sid, "DELETE")
            return web.Response(status=200)
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
    return run_answer(args.listen)


if __name__ == "__main__":
    sys.exit(main())
