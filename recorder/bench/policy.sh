#!/usr/bin/env bash
# Enforcement benchmark (not a test): latency of open, loopback connect and fork+exec
# (recorder/bench/oplat.c) with no recorder, under the recorder without a policy, with a
# 10-rule and with 256-rule policies (rules that never match the workload; policy256p's open
# rules name only paths, so every open is resolved and looked up: the worst case). Configurations interleaved
# round by round; medians of ROUNDS; ratios against "no recorder" of the same rounds.
# Usage (root): recorder/bench/policy.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}
N_OPEN=${N_OPEN:-200000} N_CONNECT=${N_CONNECT:-20000} N_EXEC=${N_EXEC:-2000}
cargo build --release -q -p rewind-recorder
REC=${CARGO_TARGET_DIR:-target}/release/recorder
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/oplat" recorder/bench/oplat.c

# N rules over every operation the workload does, none of which matches it. Open rules
# name a binary (the usual case: the kernel stops before the path walk when no rule's
# binary matches) or, with "paths", only a path (every open's path is resolved and looked up).
policy() {
    local n=$1 kind=${2:-} f=$tmp/p$1${2:-}.yaml
    { echo "version: 1"; echo "name: bench-$n"; echo "rules:"
      for i in $(seq "$n"); do
          case $((i % 3)) in
          0) if [ "$kind" = paths ]; then
                 printf '  - id: r%d\n    on: [open]\n    action: kill\n    match:\n      path: { prefix: [/nonexistent/%d/] }\n' "$i" "$i"
             else
                 printf '  - id: r%d\n    on: [open]\n    action: kill\n    match:\n      path: { prefix: [/nonexistent/%d/] }\n      binary: { suffix: [/no-such-%d] }\n' "$i" "$i" "$i"
             fi ;;
          1) printf '  - id: r%d\n    on: [exec]\n    action: kill\n    match:\n      binary: { prefix: [/nonexistent/%d/] }\n      uid: [%d]\n' "$i" "$i" "$((50000 + i))" ;;
          2) printf '  - id: r%d\n    on: [connect]\n    action: deny\n    match:\n      dest: { cidr: [10.%d.0.0/16], ports: [%d] }\n' "$i" "$((i % 250))" "$((1000 + i))" ;;
          esac
      done; } >"$f"
    echo "$f"
}
P10=$(policy 10)
P256=$(policy 256)
P256P=$(policy 256 paths)
"$REC" policy check "$P256" >/dev/null
"$REC" policy check "$P256P" >/dev/null

run() { # config -> "open connect exec" ns/op
    local cmd=("$tmp/oplat" "$N_OPEN" "$N_CONNECT" "$N_EXEC")
    case $1 in
    none) "${cmd[@]}" ;;
    recorder) "$REC" record -q -o "$tmp/t.zst" --force -- "${cmd[@]}" 2>/dev/null ;;
    policy10) "$REC" record -q -o "$tmp/t.zst" --force --policy "$P10" -- "${cmd[@]}" 2>/dev/null ;;
    policy256) "$REC" record -q -o "$tmp/t.zst" --force --policy "$P256" -- "${cmd[@]}" 2>/dev/null ;;
    policy256p) "$REC" record -q -o "$tmp/t.zst" --force --policy "$P256P" -- "${cmd[@]}" 2>/dev/null ;;
    esac | awk '{printf "%s ", $3} END {print ""}'
}
configs=(none recorder policy10 policy256 policy256p)
for r in $(seq "$ROUNDS"); do
    for c in "${configs[@]}"; do
        echo "$c $(run "$c")" >>"$tmp/results"
    done
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "ns per operation, medians of $ROUNDS interleaved rounds (ratio to no recorder)"
printf '%-10s %16s %16s %16s\n' config open connect exec
for c in "${configs[@]}"; do
    row=$c
    for col in 2 3 4; do
        m=$(awk -v c="$c" -v k="$col" '$1 == c {print $k}' "$tmp/results" | median)
        b=$(awk -v k="$col" '$1 == "none" {print $k}' "$tmp/results" | median)
        row="$row $m $(awk -v m="$m" -v b="$b" 'BEGIN {printf "x%.2f", m / b}')"
    done
    echo "$row" | awk '{printf "%-10s %9s %6s %9s %6s %9s %6s\n", $1, $2, $3, $4, $5, $6, $7}'
done
