#!/usr/bin/env bash
# SQLite ingest benchmark (not a timed test): `analyzer ingest` of the synthetic workload
# traces that replay.sh makes (1 M and 5 M events by default), medians of RUNS runs of
# wall time, rows per second (every table, as `ingest` counts them) and peak memory, and
# the time of each phase of the median run.
#
#   analyzer/bench/ingest.sh [RUNS] [SIZES...]
#
# BASE=path/to/an/older/analyzer ingests the same trace in every round too, one after the
# other, so that before/after ratios come from the same minutes of the machine.
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

variants=(now)
[ -n "${BASE:-}" ] && variants+=(base)

printf '%-10s %-6s %8s %12s %10s  %s\n' events binary "wall s" "rows/s" "peak MiB" "phases (median run)"
for n in "${sizes[@]}"; do
  dir=$(workload "$n")
  : >"$out/runs"
  for r in $(seq "$runs"); do
    for v in "${variants[@]}"; do
      exe=$bin/analyzer; [ "$v" = base ] && exe=$BASE
      rm -f "$out/db"
      /usr/bin/time -o "$out/time" -f '%e %M' "$exe" ingest -v "$dir" -o "$out/db" 2>"$out/log.$v.$r"
      # "...: N events, R rows in Ts (X rows/s)" then "time by phase: ..."
      rows=$(grep -o '[0-9]* rows in' "$out/log.$v.$r" | grep -o '^[0-9]*')
      echo "$v $(cat "$out/time") $rows $r" >>"$out/runs"
    done
  done
  for v in "${variants[@]}"; do
    w=$(grep "^$v " "$out/runs" | awk '{print $2}' | median)
    m=$(grep "^$v " "$out/runs" | awk '{print $3}' | median)
    rows=$(grep "^$v " "$out/runs" | awk '{print $4}' | head -1)
    r=$(grep "^$v " "$out/runs" | awk -v w="$w" '$2 == w {print $5; exit}')
    phases=$(grep -o 'time by phase: .*' "$out/log.$v.$r" | sed 's/time by phase: //')
    printf '%-10s %-6s %8s %12.0f %10.1f  %s\n' "$n" "$v" "$w" "$(echo "$rows / $w" | bc -l)" \
      "$(echo "$m / 1024" | bc -l)" "$phases"
  done
done
echo "(rows/s = rows of every table / wall time of the whole ingest: replay, rows, indexes,"
echo " foreign key check, commit; medians of $runs runs)"
