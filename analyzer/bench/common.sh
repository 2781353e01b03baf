# Shared by the analyzer benchmarks (sourced, not run): arguments, the release build, the
# synthetic workload traces and a median.
#   RUNS SIZES... -> $runs, $sizes; $bin (release binaries); $work (trace cache)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs=${1:-3}; shift || true
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1000000 5000000)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p rewind-analyzer -p rewind-tests --bin analyzer --bin make-bench-trace
bin=$CARGO_TARGET_DIR/release
work=${REWIND_BENCH_DIR:-/var/tmp/rewind-bench}
mkdir -p "$work"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The directory of the N-event workload trace (made once, in 1 M-event segments).
workload() {
  local dir=$work/w$1
  if [ ! -f "$dir/done" ]; then
    rm -rf "$dir"; mkdir -p "$dir"
    "$bin/make-bench-trace" "$dir/trace.zst" "$1" 1000000 >/dev/null
    touch "$dir/done"
  fi
  echo "$dir"
}
