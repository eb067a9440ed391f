#!/usr/bin/env bash
# Instruction counts per workload and stack, with valgrind's callgrind:
#   bash benches/compare/callgrind.sh [setup|dc|media ...]
# Runs the --quick sizes (valgrind is ~50x slower), collecting only inside the
# function that does each workload's measured work (--toggle-collect), and prints
# instructions per unit. Profiles are kept in $OUT (default /tmp/sansrtc-callgrind)
# for callgrind_annotate / kcachegrind.
# Needs valgrind (apt-get install valgrind). Under valgrind aws-lc runs its AVX2 code
# paths, not AVX-512: the crypto share differs from native runs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-/tmp/sansrtc-callgrind}"
mkdir -p "$out"
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install valgrind" >&2; exit 1; }
cargo build --release --manifest-path "$here/Cargo.toml" >&2
bin="$here/target/release/sansrtc-compare"
workloads=("$@")
[ ${#workloads[@]} -eq 0 ] && workloads=(setup dc media)
# quick sizes, as in src/common.rs
setup_n=20; dc_msgs=$((16 * 1024 * 1024 / 16384)); media_n=20000
printf '%-8s %-8s %16s %22s\n' workload stack instructions "per unit"
for w in "${workloads[@]}"; do
  case "$w" in
    setup) fn=setup_one; n=$setup_n; unit=connection; extra=(--no-reused-setup) ;;
    dc) fn=dc_transfer; n=$dc_msgs; unit="16 KiB msg"; extra=() ;;
    media) fn=media_transfer; n=$media_n; unit=packet; extra=() ;;
    *) echo "unknown workload $w (setup, dc, media)" >&2; exit 2 ;;
  esac
  for s in sansrtc str0m; do
    mod=$([ "$s" = sansrtc ] && echo sans || echo strom)
    file="$out/callgrind.$w.$s"
    log="$out/log.$w.$s"
    valgrind --tool=callgrind --callgrind-out-file="$file" \
      --toggle-collect="sansrtc_compare::$mod::$fn*" \
      "$bin" --quick -w "$w" -s "$s" "${extra[@]}" >"$log" 2>&1 \
      || { echo "$w/$s failed, see $log" >&2; exit 1; }
    ir=$(grep -oE 'Collected : [0-9]+' "$log" | awk '{print $3}')
    printf '%-8s %-8s %16s %14.0f /%s\n' "$w" "$s" "$ir" "$(awk -v a="$ir" -v b="$n" 'BEGIN{print a/b}')" "$unit"
  done
done
echo "profiles: $out/callgrind.<workload>.<stack> (callgrind_annotate --inclusive=yes FILE)"
