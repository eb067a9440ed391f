#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, one after another, and
# prints the executions each reached. A crash stops the run with a non-zero status; its
# input is in fuzz/artifacts/<target>/ (keep it as a regression seed once fixed).
#   bash scripts/fuzz.sh 600                 # the 10-minute campaign
#   bash scripts/fuzz.sh 20 rtc stun         # a short run of two targets
#   JOBS=2 bash scripts/fuzz.sh 600          # two targets at a time
# Installs cargo-fuzz if missing. The corpora grow outside the repository
# (${TMPDIR:-/tmp}/sansrtc-fuzz-corpus/<target>), seeded from fuzz/seeds/<target>.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH=${1:?usage: fuzz.sh SECONDS [target...]}
shift || true
JOBS=${JOBS:-1}
if ! command -v cargo-fuzz >/dev/null; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build
targets=("$@")
[ ${#targets[@]} -eq 0 ] && mapfile -t targets < <(cargo fuzz list)
logs="${TMPDIR:-/tmp}/sansrtc-fuzz-logs"
mkdir -p "$logs"

run_one() {
  local t=$1
  local corpus="${TMPDIR:-/tmp}/sansrtc-fuzz-corpus/$t"
  mkdir -p "$corpus"
  local seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  if cargo fuzz run "$t" "$corpus" "${seeds[@]}" -- \
      -max_total_time="$SECONDS_EACH" -print_final_stats=1 >"$logs/$t.log" 2>&1; then
    local runs
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' || echo "?")
    echo "-- fuzz $t: ${SECONDS_EACH}s, $runs executions, no crash"
  else
    echo "-- fuzz $t: FAILED (log: $logs/$t.log, input in fuzz/artifacts/$t/)"
    tail -n 30 "$logs/$t.log"
    return 1
  fi
}

status=0
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$JOBS" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
