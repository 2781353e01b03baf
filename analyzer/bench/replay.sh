#!/usr/bin/env bash
# Analyzer benchmark (not a timed test): replay + model rate, timeline wall time and peak
# memory on large synthetic workload traces (1 M and 5 M events by default), medians of
# RUNS runs. Peak memory at two trace lengths shows whether memory grows with the trace.
#
#   analyzer/bench/replay.sh [RUNS] [SIZES...]
#
# Each command runs three ways, one after the other in every round so that a busy or
# throttled machine affects them alike:
#   1 core, 1 thread   taskset -c 0, REWIND_READ_AHEAD=0: the one-core figure
#   1 core, 2 threads  taskset -c 0, reading ahead on a second thread sharing the core
#   2 cores            the default: reading and decoding beside the model
# BASE=path/to/an/older/analyzer adds that binary (1 core, its defaults) to every round,
# for before/after ratios measured in the same run.
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.one"' EXIT

variants=("1core-1thread" "1core-2threads" "2cores")
[ -n "${BASE:-}" ] && variants+=("base-1core")

run_one() { # variant command...
  local v=$1; shift
  case $v in
    1core-1thread) REWIND_READ_AHEAD=0 /usr/bin/time -o "$tmp.one" -f '%e %M' taskset -c 0 "$bin/analyzer" "$@" ;;
    1core-2threads) /usr/bin/time -o "$tmp.one" -f '%e %M' taskset -c 0 "$bin/analyzer" "$@" ;;
    2cores) /usr/bin/time -o "$tmp.one" -f '%e %M' "$bin/analyzer" "$@" ;;
    base-1core) /usr/bin/time -o "$tmp.one" -f '%e %M' taskset -c 0 "$BASE" "$@" ;;
  esac >/dev/null 2>&1
  tail -1 "$tmp.one"
}

printf '%-10s %-22s %-15s %8s %12s %12s\n' events command how "wall s" "events/s" "peak MiB"
for n in "${sizes[@]}"; do
  dir=$(workload "$n")
  real=$("$bin/analyzer" info --json "$dir" | grep -o '"events": *[0-9]*' | head -1 | grep -o '[0-9]*$')
  for cmd in "timeline -q --type loss" "tree -q" "timeline -q"; do
    : >"$tmp"
    for _ in $(seq "$runs"); do
      for v in "${variants[@]}"; do
        # shellcheck disable=SC2086
        echo "$v $(run_one "$v" $cmd "$dir")" >>"$tmp"
      done
    done
    for v in "${variants[@]}"; do
      w=$(grep "^$v " "$tmp" | awk '{print $2}' | median)
      m=$(grep "^$v " "$tmp" | awk '{print $3}' | median)
      printf '%-10s %-22s %-15s %8s %12.0f %12.1f\n' "$real" "$cmd" "$v" "$w" \
        "$(echo "$real / $w" | bc -l)" "$(echo "$m / 1024" | bc -l)"
    done
  done
done
echo "(timeline --type loss = replay + model, every event filtered out; tree = replay + the whole model kept;"
echo " timeline = every event put in words; medians of $runs runs)"
