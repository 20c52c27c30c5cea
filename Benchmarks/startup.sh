#!/usr/bin/env bash
# Startup alone, in seconds (a few seconds to run, so it can be rerun when the machine is quiet):
# `tulga --help` wall time and time to main (Benchmarks/main-clock.c), alternating, RUNS (default
# 30) each, medians; the CPU time of `tulga --help` (perf stat task-clock, when perf is there), which
# waiting for a busy CPU does not inflate; and the 1-minute load average before and after.
# Uses the release build (run.sh or `swift build -c release --product tulga` first). Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
RUNS=${RUNS:-30}
BIN=${BIN:-$(swift build -c release --show-bin-path)}
WORK=$(mktemp -d /tmp/tulga-startup.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
gcc -O2 -shared -fPIC Benchmarks/main-clock.c -o "$WORK/main-clock.so" -ldl
wall() { local t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || true; local t1=$EPOCHREALTIME
         awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >> "$WORK/help"; }
before=$(cut -d' ' -f1 /proc/loadavg)
"$BIN/tulga" --help >/dev/null  # warm the page cache
for _ in $(seq 1 "$RUNS"); do
  wall "$BIN/tulga" --help
  ( export MAIN_CLOCK_T0=$EPOCHREALTIME MAIN_CLOCK_OUT="$WORK/tomain"; LD_PRELOAD="$WORK/main-clock.so" exec "$BIN/tulga" --help >/dev/null 2>&1 ) || true
done
cpu=n/a
if command -v perf >/dev/null; then
  cpu=$(perf stat -r "$RUNS" -x, -e task-clock "$BIN/tulga" --help 2>&1 >/dev/null | awk -F, '/task-clock/ { printf "%.4f", $1 / 1000 }')
fi
after=$(cut -d' ' -f1 /proc/loadavg)
median() { sort -g "$1" | awk '{a[NR]=$1} END {printf "%.4f", NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
printf '\nrun %s, %s cores, load %s → %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$before" "$after"
printf '| tulga --help | median s | runs |\n|---|---|---|\n'
printf '| wall time | %s | %s |\n' "$(median "$WORK/help")" "$(wc -l < "$WORK/help")"
printf '| time to main (exec to main) | %s | %s |\n' "$(median "$WORK/tomain")" "$(wc -l < "$WORK/tomain")"
printf '| CPU time (perf stat task-clock, mean) | %s | %s |\n' "$cpu" "$RUNS"
