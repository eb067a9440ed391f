#!/bin/sh
# Installs what the real-peer interop tests need, only what is missing (idempotent; needs no
# network once everything is there). Run as root on a fresh machine:
#   sh tests/interop/peers/setup.sh
# - Debian's chromium (/usr/lib/chromium/chromium), never a Playwright-downloaded browser
# - a Python venv at <repo>/.interop/venv with aiortc and aiohttp (requirements.txt, pinned)
# - playwright-core from npm in <repo>/.interop/node (driver only, no browser download)
# plus unshare/ip for the private network namespace. Quiet on success; on failure prints the
# log of the step that failed and exits non-zero. SANSRTC_INTEROP_DIR overrides <repo>/.interop.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
INTEROP=${SANSRTC_INTEROP_DIR:-$(cd "$HERE/../../.." && pwd)/.interop}
PLAYWRIGHT_CORE_VERSION=1.65.1
CHROMIUM=/usr/lib/chromium/chromium
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

fail() {
    echo "setup.sh: $1 failed:" >&2
    tail -n 40 "$LOG" >&2
    exit 1
}

APT_UPDATED=""
apt_install() { # packages...
    if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: need root to install $*" >&2
        exit 1
    fi
    if [ -z "$APT_UPDATED" ]; then
        apt-get update -qq >>"$LOG" 2>&1 || fail "apt-get update"
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        >>"$LOG" 2>&1 || fail "apt-get install $*"
}

# -- system packages
missing=""
[ -x "$CHROMIUM" ] || missing="$missing chromium"
command -v unshare >/dev/null 2>&1 || missing="$missing util-linux"
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install $missing
"$CHROMIUM" --version >>"$LOG" 2>&1 || fail "$CHROMIUM --version"

mkdir -p "$INTEROP"

# -- Python venv with aiortc (reinstalled when requirements.txt changes)
VENV="$INTEROP/venv"
REQ="$HERE/requirements.txt"
if ! { [ -x "$VENV/bin/python" ] && cmp -s "$REQ" "$VENV/.sansrtc-requirements.txt" &&
    "$VENV/bin/python" -c 'import aiortc, aiohttp, aioice' >/dev/null 2>&1; }; then
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >>"$LOG" 2>&1; then
        # Debian's python3 needs python3-venv for ensurepip
        rm -rf "$VENV"
        apt_install python3-venv
        python3 -m venv "$VENV" >>"$LOG" 2>&1 || fail "python3 -m venv"
    fi
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$REQ" \
        >>"$LOG" 2>&1 || fail "pip install -r requirements.txt"
    "$VENV/bin/python" -c 'import aiortc, aiohttp, aioice' >>"$LOG" 2>&1 || fail "import aiortc"
    cp "$REQ" "$VENV/.sansrtc-requirements.txt"
fi

# -- playwright-core (the driver only: no browser is downloaded by playwright-core)
NODE_DIR="$INTEROP/node"
have=$(node -p "require('$NODE_DIR/node_modules/playwright-core/package.json').version" 2>/dev/null || true)
if [ "$have" != "$PLAYWRIGHT_CORE_VERSION" ]; then
    mkdir -p "$NODE_DIR"
    [ -f "$NODE_DIR/package.json" ] || echo '{ "private": true }' >"$NODE_DIR/package.json"
    (cd "$NODE_DIR" && npm install --no-audit --no-fund --save-exact --loglevel=error \
        "playwright-core@$PLAYWRIGHT_CORE_VERSION") >>"$LOG" 2>&1 ||
        fail "npm install playwright-core@$PLAYWRIGHT_CORE_VERSION"
    have=$(node -p "require('$NODE_DIR/node_modules/playwright-core/package.json').version" 2>>"$LOG") ||
        fail "playwright-core check"
    [ "$have" = "$PLAYWRIGHT_CORE_VERSION" ] || fail "playwright-core version ($have)"
fi
