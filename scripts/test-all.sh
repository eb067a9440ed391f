#!/usr/bin/env bash
# The whole sansrtc test suite: unit, scenario, property and doc tests, docs build, and a
# short smoke run of every fuzz target. Installs what it needs (idempotently):
#   - OpenSSL's CLI (Debian) for the DTLS interop tests,
#   - cargo-fuzz (crates.io) for the fuzz smoke.
# tests/turn_coturn.rs installs coturn (Debian) itself when `turnserver` is missing.
# Usage: bash scripts/test-all.sh          (FUZZ_SECONDS=N to change the smoke length,
#                                           FUZZ_SECONDS=0 to skip it)
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-20}
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
command -v unshare >/dev/null || need_apt+=(util-linux)
command -v ip >/dev/null || need_apt+=(iproute2)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]} (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

echo "== cargo test (all features)"
cargo test --all-features --all-targets
cargo test --all-features --doc

echo "== robustness at full size (release): the 1,000,000-datagram flood and the one-hour soak"
# Debug builds (above) run these scaled down and say so; here they run at full size.
cargo test --release --features sim --test hostile --test faults --test soak

echo "== cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --all-features --no-deps --quiet

if [ "$FUZZ_SECONDS" != 0 ]; then
  echo "== fuzz smoke: ${FUZZ_SECONDS}s per target"
  bash scripts/fuzz.sh "$FUZZ_SECONDS"
fi
echo "== all tests passed"
