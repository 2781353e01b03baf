#!/usr/bin/env bash
# Analyzer benchmark (not a timed test): replay + model rate, timeline wall time and peak
# memory on large synthetic workload traces (1 M and 5 M events by default), medians of
# RUNS runs. Peak memory at two trace lengths shows whether memory grows with the trace.
#
#   analyzer/bench/replay.sh [RUNS] [SIZES...]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}; shift || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1000000 5000000)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p rewind-analyzer -p rewind-tests --bin analyzer --bin make-bench-trace
bin=$CARGO_TARGET_DIR/release
work=${REWIND_BENCH_DIR:-/var/tmp/rewind-bench}
mkdir -p "$work"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-10s %-9s %12s %14s %12s\n' events command "wall s" "events/s" "peak RSS MiB"
for n in "${sizes[@]}"; do
  dir=$work/w$n
  if [ ! -f "$dir/done" ]; then
    rm -rf "$dir"; mkdir -p "$dir"
    "$bin/make-bench-trace" "$dir/trace.zst" "$n" 1000000 >/dev/null
    touch "$dir/done"
  fi
  real=$("$bin/analyzer" info --json "$dir" | grep -o '"events": *[0-9]*' | head -1 | grep -o '[0-9]*$')
  for cmd in "tree -q" "timeline -q --all" "timeline -q"; do
    walls=(); rss=()
    for _ in $(seq "$runs"); do
      out=$( { /usr/bin/time -f '%e %M' taskset -c 0 "$bin/analyzer" $cmd "$dir" >/dev/null; } 2>&1 | tail -1)
      walls+=("${out% *}"); rss+=("${out#* }")
    done
    w=$(printf '%s\n' "${walls[@]}" | median); m=$(printf '%s\n' "${rss[@]}" | median)
    printf '%-10s %-9s %12s %14.0f %12.1f\n' "$real" "${cmd%% *}${cmd#* -q}" "$w" "$(echo "$real / $w" | bc -l)" "$(echo "$m / 1024" | bc -l)"
  done
done
echo "(tree = replay + process model + a small output; timeline --all prints every event; taskset -c 0: one core)"
