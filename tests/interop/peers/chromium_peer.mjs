#!/usr/bin/env node
// Headless Chromium test peer for sansrtc's real-peer interop tests (loopback only).
//
// Usage (after setup.sh):
//   node chromium_peer.mjs offer <whip-url>                drive the workload, print one JSON line
//   node chromium_peer.mjs media <whip-url> [--codec VP8|H264]
//                                                          camera + microphone to a media echo;
//                                                          checks the echo decodes, one JSON line
//   node chromium_peer.mjs answer --listen 127.0.0.1:PORT  echo server; PORT 0 picks a free port;
//                                                          prints "LISTENING <port>" when ready
// Environment: SANSRTC_INTEROP_DIR (default <repo>/.interop, holds node/node_modules/playwright-core),
//   SANSRTC_CHROMIUM (default /usr/lib/chromium/chromium), SANSRTC_PEER_DEBUG=1 (browser logs).
//
// Debian's Chromium is driven by playwright-core (never `npx playwright install`) with a fresh
// user-data-dir per run. The page is http://localhost/peer, fulfilled by Playwright's router so
// nothing is fetched. It must be a secure context: there, with --use-fake-ui-for-media-stream
// (presumably taken as granted media permission), Chromium offers plain 127.0.0.1 host candidates
// (UDP, plus a TCP "tcptype active" one on port 9). On about:blank (not secure), or without that flag, it
// hides host addresses behind mDNS names, and in a loopback-only namespace its mDNS responder
// cannot start: gathering never completes. crypto.subtle (SHA-256) also needs a secure context.
// Every RTCPeerConnection has iceServers: []. Node does all HTTP; the page only runs WebRTC.
//
// Signalling (WHIP style, RFC 9725 convention, non-trickle): the offerer POSTs its offer to
// <whip-url> with Content-Type: application/sdp once ICE gathering is complete (candidates
// inside the SDP); the answerer replies 201 Created, Content-Type: application/sdp, body = the
// complete answer, and a Location header naming the session (DELETE on it closes the session).
// The answerer accepts any number of offers, on any path, each in its own peer connection.
//
// Workload (identical in aiortc_peer.py; the offerer drives it, the answerer echoes every
// message back on the same channel with the same type, string stays string, binary stays binary):
//   1. Create data channel "echo" (ordered, reliable) before the offer. open_ms = ms from just
//      before createOffer to the channel's open event (includes gathering and the HTTP POST).
//   2. Send 1000 messages i = 0..999. Type: string if i % 3 == 0, else binary.
//      Size (bytes; strings are ASCII so chars == bytes):
//        i < 16: SPECIAL[i], SPECIAL = [0, 0, 65536, 65536, 1, 2, 3, 1199, 1200, 1201,
//                                       16383, 16384, 16385, 65535, 32768, 4096]
//        else by b = i % 8:  b < 4:  1     + (i * 13)     % 200      (small, 1..200)
//                            b < 6:  201   + (i * 7919)   % 4000     (mid, 201..4200)
//                            b == 6: 4201  + (i * 104729) % 28000    (large, 4201..32200)
//                            b == 7: 32201 + (i * 7919)   % 33336    (huge, 32201..65536)
//      Content: TAPE[k] = (k * 7 + (k >> 8) * 13) & 0xff for k in 0..65536+1024;
//        off = (i * 37) % 1024; binary message = TAPE[off : off + size];
//        string message = the same bytes mapped to chr(33 + b % 94) (printable ASCII '!'..'~').
//      Sending keeps bufferedAmount <= 1 MiB (bufferedAmountLowThreshold 256 KiB); echoes are
//      checked as they arrive: all 1000, in order, same type, equal content (msgs_ok counts them).
//   3. Bulk: 256 binary messages of 65536 bytes (16 MiB), chunk k = TAPE[off : off + 65536]
//      with off = (k * 37) % 1024, same backpressure. SHA-256 over all echoed bytes must equal
//      SHA-256 over all sent bytes. bulk_mb_per_s = 16 MiB (counted once, in 10^6-byte MB)
//      divided by the seconds from the first bulk send to the last bulk echo received.
//   4. Close the channel, wait for its close event, close the peer connection.
//   Output: one final JSON line on stdout
//      {"peer": "chromium", "role": "offer", "open_ms": N, "msgs_ok": 1000,
//       "bulk_mb_per_s": X, "ok": true}
//   exit 0; on any failure {"peer": "chromium", "role": "offer", "ok": false, "error": "..."}
//   and exit 1. Every wait has a timeout; the whole run is bounded by 120 s.
//
// Media mode (against an echo that sends every audio/video stream back, e.g. sansrtc's
// `echo` example): getUserMedia with the fake camera (640x480, 30 fps asked) and the fake
// microphone; both tracks as sendrecv transceivers, video restricted to --codec (and RTX)
// with setCodecPreferences, plus data channel "echo" (one ping must come back). Once
// connected (20 s at most) it polls getStats until the echoed video decoded and the echoed
// audio arrived (10 s at most), 3 s more for the counters, then closes. Received tracks are
// played by media elements: Chromium decodes received audio only for a sink. ok needs >= 30
// echoed video frames decoded in --codec, echoed audio packets and samples, and the ping.
// If this Chromium cannot encode or decode --codec (RTCRtpSender/Receiver.getCapabilities)
// it prints {"ok": true, "skipped": "<why>"} instead. Output, one line:
//   {"peer": "chromium", "role": "media", "codec": "VP8", "connect_ms": N, "video_codec": ..,
//    "video_frames_decoded": N, "video_frame_size": "640x480", "video_packets_lost": N,
//    "video_nack_sent": N, "video_pli_sent": N, "video_rtt_ms": X, "audio_packets_received": N,
//    "audio_samples_received": N, "audio_concealed_ratio": X, ..., "ok": true}
// SANSRTC_PEER_DEBUG=1 also logs the final getStats (RTP, codec, transport, pair entries).
//
// Answer mode also takes audio/video m-lines (received only): it plays them out and, when the
// session ends, prints "RESULT {json}" on stdout with its getStats numbers (frames decoded,
// packets, losses, SRTP cipher); the reply to a DELETE carries the same JSON.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const PEER = 'chromium';
const RUN_TIMEOUT_MS = 120_000;
const HTTP_TIMEOUT_MS = 15_000;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const INTEROP = process.env.SANSRTC_INTEROP_DIR || path.resolve(HERE, '../../../.interop');
const CHROMIUM = process.env.SANSRTC_CHROMIUM || '/usr/lib/chromium/chromium';
const DEBUG = !!process.env.SANSRTC_PEER_DEBUG;
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  // media mode: the echoed audio is played out by an element, which needs no user gesture
  '--autoplay-policy=no-user-gesture-required',
];
const PAGE_URL = 'http://localhost/peer';

const log = (...a) => process.stderr.write(`[${PEER} ${new Date().toISOString()}] ${a.join(' ')}\n`);

// ------------------------------------------------------------------------------------------
// Runs inside the page (serialized by page.evaluate): defines window.peer.
function pageLib() {
  const OPEN_TIMEOUT = 20_000, ECHO_TIMEOUT = 45_000, BULK_TIMEOUT = 45_000;
  const CLOSE_TIMEOUT = 10_000, GATHER_TIMEOUT = 10_000;
  const HIGH_WATER = 1 << 20, LOW_WATER = 256 << 10;
  const N_MSGS = 1000, BULK_CHUNK = 65536, BULK_COUNT = 256;
  const SPECIAL = [0, 0, 65536, 65536, 1, 2, 3, 1199, 1200, 1201, 16383, 16384, 16385, 65535, 32768, 4096];
  const TAPE = new Uint8Array(65536 + 1024);
  for (let k = 0; k < TAPE.length; k++) TAPE[k] = ((k * 7) + (k >> 8) * 13) & 0xff;
  let STR_TAPE = '';
  for (let k = 0; k < TAPE.length; k += 4096) {
    STR_TAPE += String.fromCharCode(...Array.from(TAPE.subarray(k, k + 4096), (b) => 33 + (b % 94)));
  }
  const msgSize = (i) => {
    if (i < SPECIAL.length) return SPECIAL[i];
    const b = i % 8;
    if (b < 4) return 1 + (i * 13) % 200;
    if (b < 6) return 201 + (i * 7919) % 4000;
    if (b === 6) return 4201 + (i * 104729) % 28000;
    return 32201 + (i * 7919) % 33336;
  };
  const message = (i) => {
    const off = (i * 37) % 1024, n = msgSize(i);
    return i % 3 === 0 ? STR_TAPE.substring(off, off + n) : TAPE.slice(off, off + n);
  };
  const bulkChunk = (k) => { const off = (k * 37) % 1024; return TAPE.slice(off, off + BULK_CHUNK); };
  const describe = (m) => typeof m === 'string' ? `string[${m.length}]` : `binary[${m.byteLength}]`;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const within = (p, ms, what) => {
    let t;
    return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout after ${ms / 1000} s: ${what}`)), ms); })])
      .finally(() => clearTimeout(t));
  };
  const gathered = (pc) => within(new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') resolve(); });
  }), GATHER_TIMEOUT, 'ICE gathering');
  const sameBytes = (a, b) => {
    if (a.length !== b.length) return false;
    for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return false;
    return true;
  };
  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

  // ---- offer side
  const drv = {};
  async function startOffer() {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const dc = pc.createDataChannel('echo', { ordered: true });
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = LOW_WATER;
    Object.assign(drv, { pc, dc, inbox: [], waiter: null, failure: null });
    const wake = () => { const w = drv.waiter; drv.waiter = null; if (w) w(); };
    drv.opened = new Promise((r) => dc.addEventListener('open', () => r(performance.now()), { once: true }));
    drv.closed = new Promise((r) => dc.addEventListener('close', r, { once: true }));
    dc.onmessage = (e) => { drv.inbox.push(e.data); wake(); };
    dc.onerror = (e) => { drv.failure = drv.failure || `data channel error: ${e.error && e.error.message}`; wake(); };
    pc.onconnectionstatechange = () => {
      console.log(`connection ${pc.connectionState}`);
      if (pc.connectionState === 'failed') { drv.failure = drv.failure || 'peer connection failed'; wake(); }
    };
    drv.t0 = performance.now();
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    return pc.localDescription.sdp;
  }
  async function finishOffer(answer) {
    await drv.pc.setRemoteDescription({ type: 'answer', sdp: answer });
  }
  async function recv() {
    for (;;) {
      if (drv.inbox.length) return drv.inbox.shift();
      if (drv.failure) throw new Error(drv.failure);
      if (drv.dc.readyState !== 'open') throw new Error(`channel ${drv.dc.readyState} while receiving`);
      await new Promise((r) => { drv.waiter = r; });
    }
  }
  async function send(data) {
    const dc = drv.dc;
    const n = typeof data === 'string' ? data.length : data.byteLength;
    while (dc.bufferedAmount > 0 && dc.bufferedAmount + n > HIGH_WATER) {
      if (drv.failure) throw new Error(drv.failure);
      // the event, or a poll as a safety net
      await new Promise((r) => { dc.addEventListener('bufferedamountlow', r, { once: true }); setTimeout(r, 50); });
    }
    if (dc.readyState !== 'open') throw new Error(`channel ${dc.readyState} while sending`);
    dc.send(data);
  }
  async function runWorkload() {
    const { pc, dc } = drv;
    const tOpen = await within(drv.opened, OPEN_TIMEOUT, 'data channel open');
    const openMs = tOpen - drv.t0;
    console.log(`open after ${openMs.toFixed(1)} ms`);

    // 1000 echoed messages
    const sendMsgs = async () => { for (let i = 0; i < N_MSGS; i++) await send(message(i)); };
    const checkMsgs = async () => {
      let ok = 0;
      for (let i = 0; i < N_MSGS; i++) {
        const got = await recv(), want = message(i);
        const gotBin = typeof got !== 'string', wantBin = typeof want !== 'string';
        const same = gotBin === wantBin && (gotBin ? sameBytes(new Uint8Array(got), want) : got === want);
        if (!same) {
          const sameShape = gotBin === wantBin && (gotBin ? got.byteLength : got.length) === (wantBin ? want.byteLength : want.length);
          throw new Error(`echo ${i}: got ${describe(got)}, want ${describe(want)}${sameShape ? ', content differs' : ''}`);
        }
        ok++;
      }
      return ok;
    };
    const [, msgsOk] = await within(Promise.all([sendMsgs(), checkMsgs()]), ECHO_TIMEOUT, '1000 echoes');
    console.log(`${msgsOk} echoes ok`);

    // 16 MiB bulk
    const total = BULK_CHUNK * BULK_COUNT;
    const sent = new Uint8Array(total), echoed = new Uint8Array(total);
    const sendBulk = async () => {
      for (let k = 0; k < BULK_COUNT; k++) {
        const chunk = bulkChunk(k);
        sent.set(chunk, k * BULK_CHUNK);
        await send(chunk);
      }
    };
    const recvBulk = async () => {
      let got = 0;
      while (got < total) {
        const m = await recv();
        if (typeof m === 'string') throw new Error(`bulk echo after ${got} bytes: got a string[${m.length}]`);
        if (got + m.byteLength > total) throw new Error(`bulk echo: more than ${total} bytes`);
        echoed.set(new Uint8Array(m), got);
        got += m.byteLength;
      }
      return performance.now();
    };
    const tBulk = performance.now();
    const [, tEnd] = await within(Promise.all([sendBulk(), recvBulk()]), BULK_TIMEOUT, '16 MiB bulk echo');
    const [hs, he] = await Promise.all([crypto.subtle.digest('SHA-256', sent), crypto.subtle.digest('SHA-256', echoed)]);
    if (hex(hs) !== hex(he)) throw new Error(`bulk SHA-256 differs: sent ${hex(hs)} echoed ${hex(he)}`);
    const mbps = total / 1e6 / ((tEnd - tBulk) / 1000);
    console.log(`bulk ${mbps.toFixed(1)} MB/s`);
    if (drv.inbox.length) throw new Error(`${drv.inbox.length} unexpected extra message(s)`);

    // close
    dc.close();
    await within(drv.closed, CLOSE_TIMEOUT, 'data channel close');
    pc.close();
    return { open_ms: Math.round(openMs * 10) / 10, msgs_ok: msgsOk, bulk_mb_per_s: Math.round(mbps * 100) / 100 };
  }

  // ---- media mode: camera and microphone to an echo, the echo decoded
  const MEDIA_CONNECT_TIMEOUT = 20_000;
  const media = {};
  function videoCapabilities() {
    const mimes = (c) => (c ? c.codecs.map((x) => x.mimeType) : []);
    return {
      send: [...new Set(mimes(RTCRtpSender.getCapabilities('video')))],
      recv: [...new Set(mimes(RTCRtpReceiver.getCapabilities('video')))],
    };
  }
  async function startMedia(codec) {
    // The fake camera (a moving pattern with a frame counter) and the fake microphone (a beep).
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: true, video: { width: 640, height: 480, frameRate: 30 },
    });
    const pc = new RTCPeerConnection({ iceServers: [] });
    const [audio] = stream.getAudioTracks(), [video] = stream.getVideoTracks();
    const at = pc.addTransceiver(audio, { direction: 'sendrecv', streams: [stream] });
    const vt = pc.addTransceiver(video, { direction: 'sendrecv', streams: [stream] });
    // Only `codec` (and its RTX) for video: the echo must then carry exactly that.
    const want = `video/${codec}`.toLowerCase();
    const caps = RTCRtpReceiver.getCapabilities('video').codecs;
    const prefs = caps.filter((c) => c.mimeType.toLowerCase() === want);
    if (!prefs.length) throw new Error(`${codec} is not among the receive capabilities`);
    const rtx = caps.filter((c) => c.mimeType.toLowerCase() === 'video/rtx');
    vt.setCodecPreferences([...prefs, ...rtx]);
    const dc = pc.createDataChannel('echo', { ordered: true });
    Object.assign(media, { pc, dc, at, vt, failure: null, tracks: [] });
    media.dcEcho = new Promise((resolve) => {
      dc.onopen = () => dc.send('media ping');
      dc.onmessage = (e) => resolve(e.data);
    });
    // Chromium decodes received audio only while something plays it out: a media element
    // (video too, so that the path is the usual one; decoding happens without it).
    pc.ontrack = (e) => {
      media.tracks.push(e.track.kind);
      console.log(`track ${e.track.kind} mid ${e.transceiver.mid}`);
      const el = document.createElement(e.track.kind);
      el.autoplay = true;
      el.srcObject = new MediaStream([e.track]);
      document.body.appendChild(el);
      el.play().catch((err) => console.log(`play ${e.track.kind}: ${err}`));
    };
    media.connected = new Promise((resolve) => {
      pc.onconnectionstatechange = () => {
        console.log(`connection ${pc.connectionState}`);
        if (pc.connectionState === 'connected') resolve(performance.now());
        if (pc.connectionState === 'failed') media.failure = 'peer connection failed';
      };
    });
    media.t0 = performance.now();
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    return pc.localDescription.sdp;
  }
  async function finishMedia(answer) {
    await media.pc.setRemoteDescription({ type: 'answer', sdp: answer });
  }
  // The stats the report needs, by kind: inbound (the echo), outbound (what we send, with
  // the feedback the echo sent about it), remote-inbound (RTT from the echo's reports).
  async function mediaStats() {
    const report = await media.pc.getStats();
    const all = new Map();
    report.forEach((s) => all.set(s.id, s));
    const pick = (type, kind) => [...all.values()].find((s) => s.type === type && s.kind === kind);
    const codecOf = (s) => (s && s.codecId && all.get(s.codecId)) || null;
    const out = {};
    for (const kind of ['audio', 'video']) {
      const inb = pick('inbound-rtp', kind), outb = pick('outbound-rtp', kind);
      const rin = pick('remote-inbound-rtp', kind);
      const c = codecOf(inb);
      out[kind] = {
        codec: c ? `${c.mimeType.replace(/^.*\//, '')}${c.sdpFmtpLine ? ` ${c.sdpFmtpLine}` : ''}` : null,
        payload_type: c ? c.payloadType : null,
        packets_received: inb ? inb.packetsReceived : 0,
        packets_lost: inb ? inb.packetsLost : 0,
        jitter_ms: inb && inb.jitter !== undefined ? Math.round(inb.jitter * 10000) / 10 : null,
        nack_sent: inb ? inb.nackCount || 0 : 0,
        packets_sent: outb ? outb.packetsSent : 0,
        nack_received: outb ? outb.nackCount || 0 : 0,
        rtt_ms: rin && rin.roundTripTime !== undefined ? Math.round(rin.roundTripTime * 10000) / 10 : null,
      };
      if (kind === 'video') {
        Object.assign(out.video, {
          frames_decoded: inb ? inb.framesDecoded || 0 : 0,
          key_frames_decoded: inb ? inb.keyFramesDecoded || 0 : 0,
          frames_dropped: inb ? inb.framesDropped || 0 : 0,
          frame_size: inb && inb.frameWidth ? `${inb.frameWidth}x${inb.frameHeight}` : null,
          fps: inb && inb.framesPerSecond !== undefined ? inb.framesPerSecond : null,
          decoder: inb ? inb.decoderImplementation || null : null,
          pli_sent: inb ? inb.pliCount || 0 : 0,
          fir_sent: inb ? inb.firCount || 0 : 0,
          pli_received: outb ? outb.pliCount || 0 : 0,
          frames_encoded: outb ? outb.framesEncoded || 0 : 0,
          encoder: outb ? outb.encoderImplementation || null : null,
          sent_codec: codecOf(outb) ? codecOf(outb).mimeType.replace(/^.*\//, '') : null,
        });
      } else {
        Object.assign(out.audio, {
          samples_received: inb ? inb.totalSamplesReceived || 0 : 0,
          concealed_samples: inb ? inb.concealedSamples || 0 : 0,
          audio_level: inb && inb.audioLevel !== undefined ? Math.round(inb.audioLevel * 1000) / 1000 : null,
        });
      }
    }
    return out;
  }
  async function dumpStats() {
    const report = await media.pc.getStats();
    const lines = [];
    report.forEach((s) => { if (/rtp|codec|candidate-pair|transport/.test(s.type)) lines.push(JSON.stringify(s)); });
    return lines.join('\n');
  }
  // Waits for the connection, then until the echoed video decodes and the echoed audio
  // arrives (within waitMs), then `settleMs` more so the counters say something.
  async function runMedia(waitMs, settleMs, minFrames) {
    const tConn = await within(Promise.race([media.connected, new Promise((_, rej) => {
      const t = setInterval(() => { if (media.failure) { clearInterval(t); rej(new Error(media.failure)); } }, 100);
    })]), MEDIA_CONNECT_TIMEOUT, 'connection');
    const connectMs = tConn - media.t0;
    const tUp = performance.now();
    let s = await mediaStats(), firstMs = null;
    while (performance.now() - tUp < waitMs) {
      s = await mediaStats();
      if (s.video.frames_decoded > 0 && s.audio.packets_received > 0 && firstMs === null) firstMs = performance.now() - tUp;
      if (firstMs !== null && s.video.frames_decoded >= minFrames && performance.now() - tUp >= firstMs + settleMs) break;
      await sleep(250);
    }
    const dcEcho = await within(media.dcEcho, 1000, 'data channel echo').catch(() => null);
    const dump = await dumpStats();
    media.pc.close();
    return { connectMs, firstMs, stats: s, dcEcho, tracks: media.tracks, dump };
  }

  // ---- answer side: echo sessions
  const sessions = new Map();
  let nextId = 1;
  const SESSION_LIFETIME = 600_000, IDLE_GRACE = 2_000;
  // Closes a session. One that received media first reports what it decoded (from
  // getStats): to node, which prints "RESULT {json}", and as the value returned (the
  // body of the DELETE reply). Returns null for an unknown session, {} without media.
  async function closeSession(id, why) {
    const s = sessions.get(id);
    if (!s) return null;
    sessions.delete(id);
    clearTimeout(s.lifetime);
    console.log(`session ${id}: closing (${why})`);
    let result = {};
    if (s.kinds.size) {
      result = { peer: 'chromium', role: 'answer', session: id, closed: why };
      try {
        const report = await s.pc.getStats();
        const all = new Map();
        report.forEach((x) => all.set(x.id, x));
        for (const x of all.values()) {
          if (x.type === 'transport' && x.srtpCipher) result.srtp_profile = x.srtpCipher;
          if (x.type !== 'inbound-rtp') continue;
          const k = x.kind, c = x.codecId && all.get(x.codecId);
          result[`${k}_codec`] = c ? c.mimeType.replace(/^.*\//, '') : null;
          result[`${k}_packets_received`] = x.packetsReceived;
          result[`${k}_packets_lost`] = x.packetsLost;
          result[`${k}_jitter_ms`] = Math.round((x.jitter || 0) * 10000) / 10;
          result[`${k}_nack_sent`] = x.nackCount || 0;
          if (k === 'video') {
            Object.assign(result, {
              video_frames_received: x.framesReceived || 0,
              video_frames_decoded: x.framesDecoded || 0,
              video_key_frames_decoded: x.keyFramesDecoded || 0,
              video_frames_dropped: x.framesDropped || 0,
              video_frame_size: x.frameWidth ? `${x.frameWidth}x${x.frameHeight}` : null,
              video_pli_sent: x.pliCount || 0,
              video_decoder: x.decoderImplementation || null,
            });
          } else {
            result.audio_samples_received = x.totalSamplesReceived || 0;
          }
        }
      } catch (err) {
        result.error = String(err);
      }
      window.sansrtcResult(JSON.stringify(result));
    }
    s.pc.close();
    return result;
  }
  async function answerOffer(offer) {
    const id = String(nextId++);
    const pc = new RTCPeerConnection({ iceServers: [] });
    const channels = new Set();
    const kinds = new Set();
    sessions.set(id, { pc, kinds, lifetime: setTimeout(() => closeSession(id, 'lifetime'), SESSION_LIFETIME) });
    // Received media is played out (Chromium decodes audio only for a sink) and, when the
    // session ends, reported.
    pc.ontrack = (e) => {
      kinds.add(e.track.kind);
      console.log(`session ${id}: ${e.track.kind} track`);
      const el = document.createElement(e.track.kind);
      el.autoplay = true;
      el.muted = e.track.kind === 'video';
      el.srcObject = new MediaStream([e.track]);
      document.body.appendChild(el);
      el.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      console.log(`session ${id}: connection ${pc.connectionState}`);
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') closeSession(id, pc.connectionState);
    };
    pc.ondatachannel = ({ channel: ch }) => {
      console.log(`session ${id}: channel ${JSON.stringify(ch.label)} id ${ch.id}`);
      channels.add(ch);
      ch.binaryType = 'arraybuffer';
      ch.onmessage = (e) => {
        if (ch.readyState !== 'open') return;
        try { ch.send(e.data); } catch (err) { console.log(`session ${id}: echo of ${describe(e.data)} failed: ${err}`); }
      };
      ch.onclose = () => {
        channels.delete(ch);
        console.log(`session ${id}: channel ${JSON.stringify(ch.label)} closed`);
        setTimeout(() => { if (!channels.size) closeSession(id, 'no channel left'); }, IDLE_GRACE);
      };
    };
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
    } catch (err) {
      closeSession(id, 'bad offer');
      return { error: String(err) };
    }
    console.log(`session ${id}: answered`);
    return { id, sdp: pc.localDescription.sdp };
  }

  window.peer = {
    startOffer, finishOffer, runWorkload, answerOffer, closeSession,
    videoCapabilities, startMedia, finishMedia, runMedia,
  };
}

// ------------------------------------------------------------------------------------------
// Node side

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

async function launch() {
  const { chromium } = createRequire(path.join(INTEROP, 'node', 'package.json'))('playwright-core');
  // A fresh profile per run, named after this process so that one left behind by a killed
  // run (Chromium itself exits when node dies: its DevTools pipe closes) is removed next time.
  for (const name of fs.readdirSync(os.tmpdir())) {
    const m = /^sansrtc-chromium-(\d+)-/.exec(name);
    if (m && !alive(Number(m[1]))) fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sansrtc-chromium-${process.pid}-`));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000,
  });
  const cleanup = async () => {
    try { await Promise.race([ctx.close(), new Promise((r) => setTimeout(r, 5000))]); } catch {}
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.on('console', (m) => { if (DEBUG || m.type() === 'error' || m.type() === 'log') log('page:', m.text()); });
    page.on('pageerror', (e) => log('page error:', e.message));
    page.on('crash', () => log('page crashed'));
    await ctx.route('**/*', (route) => (route.request().url() === PAGE_URL
      ? route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>sansrtc peer</title>' })
      : route.abort()));
    await page.goto(PAGE_URL);
    await page.evaluate(pageLib);
    return { ctx, page, cleanup, version: ctx.browser()?.version() };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

// One JSON object on one line, spaced like Python's json.dumps so both peers print alike.
const jsonLine = (o) => `{${Object.entries(o).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')}}`;

async function whipPost(url, offer) {
  let resp;
  try {
    resp = await fetch(url, {
      method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer,
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
  } catch (e) {
    throw new Error(`WHIP POST ${url}: ${e.message}${e.cause ? `: ${e.cause.message || e.cause}` : ''}`);
  }
  const body = await resp.text();
  if (resp.status !== 201) throw new Error(`WHIP POST ${url}: HTTP ${resp.status}: ${JSON.stringify(body.slice(0, 200))}`);
  const ct = (resp.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
  if (ct !== 'application/sdp') throw new Error(`WHIP POST ${url}: Content-Type ${JSON.stringify(ct)}`);
  return body;
}

async function runOffer(url) {
  let browser = null;
  const finish = async (result) => {
    process.stdout.write(jsonLine({ peer: PEER, role: 'offer', ...result }) + '\n');
    if (browser) await browser.cleanup();
    process.exit(result.ok ? 0 : 1);
  };
  const deadline = setTimeout(() => finish({ ok: false, error: `run exceeded ${RUN_TIMEOUT_MS / 1000} s` }), RUN_TIMEOUT_MS);
  try {
    browser = await launch();
    log(`chromium ${browser.version}`);
    const { page } = browser;
    const offer = await page.evaluate(() => window.peer.startOffer());
    if (DEBUG) log(`offer:\n${offer.trimEnd()}`);
    const answer = await whipPost(url, offer);
    if (DEBUG) log(`answer:\n${answer.trimEnd()}`);
    await page.evaluate((a) => window.peer.finishOffer(a), answer);
    const r = await page.evaluate(() => window.peer.runWorkload());
    clearTimeout(deadline);
    await finish({ open_ms: r.open_ms, msgs_ok: r.msgs_ok, bulk_mb_per_s: r.bulk_mb_per_s, ok: true });
  } catch (e) {
    clearTimeout(deadline);
    const msg = String((e && e.message) || e).split('\n')[0].replace(/^page\.evaluate: (Error: )?/, '');
    await finish({ ok: false, error: msg });
  }
}

// Media: audio and video to an echo at <url>, the echo decoded. Prints one JSON line.
const MEDIA_WAIT_MS = 10_000;   // from connected until the echo must have decoded
const MEDIA_SETTLE_MS = 3_000;  // then this long more, for the counters
const MEDIA_MIN_FRAMES = 30;    // echoed video frames decoded, at least (1 s at 30 fps)
async function runMedia(url, codec) {
  let browser = null;
  const finish = async (result) => {
    process.stdout.write(jsonLine({ peer: PEER, role: 'media', codec, ...result }) + '\n');
    if (browser) await browser.cleanup();
    process.exit(result.ok ? 0 : 1);
  };
  const deadline = setTimeout(() => finish({ ok: false, error: `run exceeded ${RUN_TIMEOUT_MS / 1000} s` }), RUN_TIMEOUT_MS);
  try {
    browser = await launch();
    log(`chromium ${browser.version}`);
    const { page } = browser;
    const caps = await page.evaluate(() => window.peer.videoCapabilities());
    log(`video send codecs ${caps.send.join(' ')}; receive ${caps.recv.join(' ')}`);
    const mime = `video/${codec}`.toLowerCase();
    const canSend = caps.send.some((m) => m.toLowerCase() === mime);
    const canRecv = caps.recv.some((m) => m.toLowerCase() === mime);
    if (!canSend || !canRecv) {
      clearTimeout(deadline);
      const why = `this Chromium (${browser.version}) cannot ${canSend ? '' : 'encode'}${!canSend && !canRecv ? ' or ' : ''}${canRecv ? '' : 'decode'} ${codec}: RTCRtp${canSend ? 'Receiver' : 'Sender'}.getCapabilities('video') lists ${(canSend ? caps.recv : caps.send).join(' ') || 'nothing'}`;
      log(`SKIPPED: ${why}`);
      return await finish({ ok: true, skipped: why });
    }
    const offer = await page.evaluate((c) => window.peer.startMedia(c), codec);
    if (DEBUG) log(`offer:\n${offer.trimEnd()}`);
    const answer = await whipPost(url, offer);
    if (DEBUG) log(`answer:\n${answer.trimEnd()}`);
    await page.evaluate((a) => window.peer.finishMedia(a), answer);
    const r = await page.evaluate(([w, st, mf]) => window.peer.runMedia(w, st, mf), [MEDIA_WAIT_MS, MEDIA_SETTLE_MS, MEDIA_MIN_FRAMES]);
    clearTimeout(deadline);
    if (DEBUG) log(`getStats at the end:\n${r.dump}`);
    const { audio: a, video: v } = r.stats;
    const problems = [];
    if (!(v.frames_decoded >= MEDIA_MIN_FRAMES)) problems.push(`echoed video: ${v.frames_decoded} frames decoded (want >= ${MEDIA_MIN_FRAMES}), ${v.packets_received} packets received`);
    if (!(a.packets_received > 0)) problems.push(`echoed audio: ${a.packets_received} packets received`);
    if (!(a.samples_received > 0)) problems.push(`echoed audio: ${a.samples_received} samples received`);
    if (!v.codec || v.codec.split(' ')[0].toLowerCase() !== codec.toLowerCase()) problems.push(`echoed video codec ${v.codec}, want ${codec}`);
    if (r.dcEcho !== 'media ping') problems.push(`data channel echo: ${JSON.stringify(r.dcEcho)}`);
    const concealed = a.samples_received ? Math.round((a.concealed_samples / a.samples_received) * 1000) / 1000 : null;
    const result = {
      connect_ms: Math.round(r.connectMs),
      first_decode_ms: r.firstMs === null ? null : Math.round(r.firstMs),
      video_codec: v.codec,
      video_frames_decoded: v.frames_decoded,
      video_key_frames_decoded: v.key_frames_decoded,
      video_frame_size: v.frame_size,
      video_fps: v.fps,
      video_packets_received: v.packets_received,
      video_packets_lost: v.packets_lost,
      video_jitter_ms: v.jitter_ms,
      video_nack_sent: v.nack_sent,
      video_pli_sent: v.pli_sent,
      video_frames_encoded: v.frames_encoded,
      video_nack_received: v.nack_received,
      video_pli_received: v.pli_received,
      video_rtt_ms: v.rtt_ms,
      audio_codec: a.codec,
      audio_packets_received: a.packets_received,
      audio_packets_lost: a.packets_lost,
      audio_jitter_ms: a.jitter_ms,
      audio_samples_received: a.samples_received,
      audio_concealed_ratio: concealed,
      audio_rtt_ms: a.rtt_ms,
      decoder: v.decoder,
      encoder: v.encoder,
      ok: problems.length === 0,
    };
    if (problems.length) {
      result.error = problems.join('; ');
      log(`getStats at the end:\n${r.dump}`);
    }
    await finish(result);
  } catch (e) {
    clearTimeout(deadline);
    const msg = String((e && e.message) || e).split('\n')[0].replace(/^page\.evaluate: (Error: )?/, '');
    await finish({ ok: false, error: msg });
  }
}

async function runAnswer(listen) {
  const i = listen.lastIndexOf(':');
  if (i < 0) throw new Error(`--listen wants HOST:PORT, got ${listen}`);
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(listen.slice(i + 1));
  const browser = await launch();
  log(`chromium ${browser.version}`);
  const { page } = browser;
  // What a session that received media decoded, one line on stdout when it ends.
  await page.exposeFunction('sansrtcResult', (json) => { process.stdout.write(`RESULT ${json}\n`); });
  const server = http.createServer((req, res) => {
    const reply = (status, body = '', headers = {}) => { res.writeHead(status, headers); res.end(body); };
    if (req.method === 'DELETE') {
      const id = req.url.replace(/\/+$/, '').split('/').pop();
      page.evaluate((sid) => window.peer.closeSession(sid, 'DELETE'), id)
        .then((r) => (r === null ? reply(404)
          : Object.keys(r).length ? reply(200, JSON.stringify(r), { 'Content-Type': 'application/json' }) : reply(200)),
        (e) => reply(500, String(e)));
      return;
    }
    if (req.method !== 'POST') return reply(405, '', { Allow: 'POST, DELETE' });
    const ct = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    if (ct !== 'application/sdp') return reply(415, 'Content-Type must be application/sdp\n');
    const chunks = [];
    let size = 0;
    req.on('data', (c) => { size += c.length; if (size > 1 << 20) req.destroy(); else chunks.push(c); });
    req.on('end', async () => {
      try {
        const offer = Buffer.concat(chunks).toString('utf8');
        if (DEBUG) log(`offer:\n${offer.trimEnd()}`);
        const r = await page.evaluate((sdp) => window.peer.answerOffer(sdp), offer);
        if (DEBUG && r.sdp) log(`answer:\n${r.sdp.trimEnd()}`);
        if (r.error) return reply(400, r.error + '\n');
        reply(201, r.sdp, { 'Content-Type': 'application/sdp', Location: `/session/${r.id}` });
      } catch (e) {
        reply(500, String(e) + '\n');
      }
    });
  });
  server.requestTimeout = HTTP_TIMEOUT_MS;
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve); });
  process.stdout.write(`LISTENING ${server.address().port}\n`);
  const stop = async () => {
    server.close();
    await browser.cleanup();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  page.on('crash', () => { log('page crashed: exiting'); browser.cleanup().then(() => process.exit(1)); });
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'offer' && rest.length === 1) {
  await runOffer(rest[0]);
} else if (mode === 'media' && (rest.length === 1 || (rest.length === 3 && rest[1] === '--codec'))) {
  await runMedia(rest[0], rest.length === 3 ? rest[2] : 'VP8');
} else if (mode === 'answer' && rest[0] === '--listen' && rest.length === 2) {
  try {
    await runAnswer(rest[1]);
  } catch (e) {
    log(`answer: ${e.stack || e}`);
    process.exit(1);
  }
} else {
  process.stderr.write('usage: chromium_peer.mjs offer <whip-url> | media <whip-url> [--codec VP8|H264] | answer --listen 127.0.0.1:PORT\n');
  process.exit(2);
}
