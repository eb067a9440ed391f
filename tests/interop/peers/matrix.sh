#!/bin/sh
# Runs every offerer/answerer combination of the test peers against each other, without
# sansrtc, to check the harness itself. As root it re-runs itself inside a private network
# namespace holding only `lo` (unshare -n), so no datagram leaves loopback.
#   sh tests/interop/peers/matrix.sh [aiortc:chromium ...]   (default: all four pairs)
# Prints each offerer's JSON line and a summary; exits non-zero if any pair failed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${SANSRTC_IN_NETNS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    SANSRTC_IN_NETNS=1 exec unshare -n -- sh -c 'ip link set lo up && exec sh "$0" "$@"' "$0" "$@"
fi
[ -n "${SANSRTC_IN_NETNS:-}" ] || echo "WARNING: not root: running on the host loopback" >&2

INTEROP=${SANSRTC_INTEROP_DIR:-$(cd "$HERE/../../.." && pwd)/.interop}
PY="$INTEROP/venv/bin/python"
peer_cmd() { # peer-name -> command prefix
    case $1 in
        aiortc) echo "$PY $HERE/aiortc_peer.py" ;;
        chromium) echo "node $HERE/chromium_peer.mjs" ;;
        *) echo "unknown peer $1" >&2; exit 2 ;;
    esac
}
PAIRS=${*:-"aiortc:chromium chromium:aiortc aiortc:aiortc chromium:chromium"}
LOGS=$(mktemp -d)
fails=0
summary=""
for pair in $PAIRS; do
    off=${pair%%:*} ans=${pair##*:}
    $(peer_cmd "$ans") answer --listen 127.0.0.1:0 >"$LOGS/$pair.ans.out" 2>"$LOGS/$pair.ans.err" &
    apid=$!
    port=""
    for _ in $(seq 300); do
        port=$(awk '/^LISTENING /{print $2; exit}' "$LOGS/$pair.ans.out" 2>/dev/null)
        [ -n "$port" ] && break
        kill -0 $apid 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        line="{\"ok\": false, \"error\": \"$ans answerer did not start\"}"
        cat "$LOGS/$pair.ans.err" >&2
    else
        start=$(date +%s%N)
        line=$(timeout 150 $(peer_cmd "$off") offer "http://127.0.0.1:$port/whip" 2>"$LOGS/$pair.off.err" | tail -n 1)
        wall=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
        [ -n "$line" ] || line='{"ok": false, "error": "no output"}'
    fi
    kill $apid 2>/dev/null
    wait $apid 2>/dev/null
    echo "$off -> $ans: $line (wall ${wall:-?} s)"
    case $line in
        *'"ok": true'* | *'"ok":true'*) summary="$summary  ok    $off -> $ans\n" ;;
        *) fails=$((fails + 1)); summary="$summary  FAIL  $off -> $ans\n"
           echo "--- offerer stderr"; tail -n 20 "$LOGS/$pair.off.err"
           echo "--- answerer stderr"; tail -n 20 "$LOGS/$pair.ans.err" ;;
    esac
done
printf "summary:\n$summary"
rm -rf "$LOGS"
[ $fails = 0 ]
