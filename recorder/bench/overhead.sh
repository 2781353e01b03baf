#!/usr/bin/env bash
# Recorder benchmark (not a test): prints
#  1. the highest paced event rate recorded with zero loss, with bytes/event on disk;
#  2. the slowdown of a fixed syscall-heavy workload (open/read/close, loopback TCP
#     connect/accept/send/close, fork+exec) under the recorder vs without, medians of RUNS;
#  3. per-program kernel cost from the kernel's bpf run-time stats.
# Usage (root): recorder/bench/overhead.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
cargo build --release -q -p rewind-recorder
REC=${CARGO_TARGET_DIR:-target}/release/recorder
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/gen" recorder/bench/gen.c

ns() { sed -n 's/.*elapsed_ns=\([0-9]*\).*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -n "s/.* \([0-9.]*\) $1.*/\1/p"; }

# Two generator processes: one alone tops out near 490 k kill(2)/s on this machine, below
# what the recorder drains; the recorder's consumer shares the two cores with them.
PROCS=${PROCS:-2}
echo "== 1. sustained rate without loss (signal records, 16 MiB ring buffer, $PROCS generators) =="
best=0
for rate in 250000 500000 600000 750000 1000000 1500000; do
    n=$((rate * 3))
    rm -f "$tmp/r.zst"
    err=$("$REC" record -q -o "$tmp/r.zst" -- "$tmp/gen" signals "$n" "$rate" "$PROCS" 2>&1 >"$tmp/out")
    got=$(ns <"$tmp/out")
    lost=$(echo "$err" | sed -n 's/.* records, \([0-9]*\) lost.*/\1/p')
    recs=$(echo "$err" | sed -n 's/.*: \([0-9]*\) records,.*/\1/p')
    bpe=$(echo "$err" | sed -n 's/.*(\([0-9.]*\) bytes\/record.*/\1/p')
    achieved=$(awk -v n="$n" -v t="$got" 'BEGIN {printf "%.0f", n / (t / 1e9)}')
    echo "target ${rate}/s: achieved ${achieved} events/s, ${recs} records, ${lost} lost, ${bpe} bytes/record on disk"
    if [ "$lost" = 0 ] && [ "$achieved" -gt "$best" ]; then best=$achieved; fi
done
echo "highest rate with zero loss: ${best} events/s"

echo "== 2. workload slowdown (gen mixed 5000), median of $RUNS =="
for i in $(seq "$RUNS"); do "$tmp/gen" mixed 5000 | ns; done >"$tmp/bare"
for i in $(seq "$RUNS"); do
    rm -f "$tmp/m.zst"
    "$REC" record -q -o "$tmp/m.zst" -- "$tmp/gen" mixed 5000 2>"$tmp/err.$i" | ns
done >"$tmp/rec"
bare=$(median <"$tmp/bare")
rec=$(median <"$tmp/rec")
awk -v b="$bare" -v r="$rec" 'BEGIN {printf "bare %.1f ms, recorded %.1f ms, slowdown x%.2f (+%.0f%%)\n", b/1e6, r/1e6, r/b, (r/b-1)*100}'
tail -1 "$tmp/err.1" | grep -v wrote || true
grep "records," "$tmp/err.1" || true

echo "== 3. kernel cost per program (gen mixed 5000) =="
rm -f "$tmp/s.zst"
"$REC" record -q --stats -o "$tmp/s.zst" -- "$tmp/gen" mixed 5000 2>&1 >/dev/null | grep -E "program|handle_|all " || true
