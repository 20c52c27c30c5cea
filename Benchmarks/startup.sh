#!/usr/bin/env bash
# Startup alone, in seconds (a few seconds to run, so it can be rerun when the machine is quiet):
# `tulga --help` wall time and time to main (Benchmarks/main-clock.c), alternating, RUNS (default
# 30) each, medians; the CPU time of `tulga --help` (perf stat task-clock, when perf is there), which
# waiting for a busy CPU does not inflate; and the 1-minute load average before and after. Then what
# the load does not change: the libraries ldd lists, the dynamic loader's relocations and time
# (LD_DEBUG=statistics), and instructions (callgrind, when valgrind is there): in all, and before main.
# BEFORE=DIR (another build's folder): that build's tulga alternates with this one's in the same loop,
# and every figure is printed for both. Uses the release build (run.sh or `swift build -c release
# --product tulga` first). Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
RUNS=${RUNS:-30}
BIN=${BIN:-$(swift build -c release --show-bin-path)}
BUILDS=("$BIN"); NAMES=(this); [ -n "${BEFORE:-}" ] && BUILDS=("$BEFORE" "$BIN") && NAMES=(before this)
WORK=$(mktemp -d /tmp/tulga-startup.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
gcc -O2 -shared -fPIC Benchmarks/main-clock.c -o "$WORK/main-clock.so" -ldl
wall() { local out=$1; shift; local t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || true; local t1=$EPOCHREALTIME
         awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >> "$out"; }
before=$(cut -d' ' -f1 /proc/loadavg)
for b in "${BUILDS[@]}"; do "$b/tulga" --help >/dev/null; done  # warm the page cache
for _ in $(seq 1 "$RUNS"); do
  for i in "${!BUILDS[@]}"; do
    wall "$WORK/help.$i" "${BUILDS[$i]}/tulga" --help
    ( export MAIN_CLOCK_T0=$EPOCHREALTIME MAIN_CLOCK_OUT="$WORK/tomain.$i"; LD_PRELOAD="$WORK/main-clock.so" exec "${BUILDS[$i]}/tulga" --help >/dev/null 2>&1 ) || true
  done
done
for i in "${!BUILDS[@]}"; do
  b=${BUILDS[$i]}
  cpu=n/a
  if command -v perf >/dev/null; then
    cpu=$(perf stat -r "$RUNS" -x, -e task-clock "$b/tulga" --help 2>&1 >/dev/null | awk -F, '/task-clock/ { printf "%.4f", $1 / 1000 }')
  fi
  echo "$cpu" > "$WORK/cpu.$i"
  ldd "$b/tulga" | wc -l > "$WORK/libs.$i"
  LD_DEBUG=statistics "$b/tulga" --help 2>&1 >/dev/null | sed -n 's/.*number of relocations: *//p' | head -n 1 > "$WORK/relocs.$i"
  LD_DEBUG=statistics "$b/tulga" --help 2>&1 >/dev/null | sed -n 's/.*total startup time in dynamic loader: *//p' | head -n 1 > "$WORK/ldso.$i"
  : > "$WORK/ir.$i"
  if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
    # valgrind 3.19 cannot read the DWARF 5 that swiftc writes: a copy without debug sections runs the same code.
    objcopy --strip-debug "$b/tulga" "$WORK/tulga-nodebug"
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$i" "$WORK/tulga-nodebug" --help >/dev/null 2>&1 || true
    callgrind_annotate --inclusive=yes --threshold=100 "$WORK/cg.$i" 2>/dev/null > "$WORK/ir.$i" || true
  fi
done
after=$(cut -d' ' -f1 /proc/loadavg)
median() { sort -g "$1" | awk '{a[NR]=$1} END {printf "%.4f", NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# instructions FILE: "total before-main" in millions, from callgrind_annotate --inclusive (the loader's
# _dl_start and the constructors' _dl_init come before main).
instructions() {
  awk '{gsub(",", "", $1)} $1 ~ /^[0-9]+$/ { if ($0 ~ /PROGRAM TOTALS/) t = $1; if ($0 ~ /:_dl_start /) l = l ? l : $1; if ($0 ~ /:_dl_init /) n = n ? n : $1 }
       END { if (t) printf "%.1f M | %.1f M", t / 1e6, (l + n) / 1e6; else printf "n/a | n/a" }' "$1"
}
printf '\nrun %s, %s cores, load %s → %s, %s runs each, alternating\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$before" "$after" "$RUNS"
printf '| tulga --help | wall s (median) | time to main s (median) | CPU s (perf, mean) | libraries (ldd) | relocations | loader time | instructions, all | before main |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for i in "${!BUILDS[@]}"; do
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${NAMES[$i]}" "$(median "$WORK/help.$i")" "$(median "$WORK/tomain.$i")" "$(cat "$WORK/cpu.$i")" \
    "$(cat "$WORK/libs.$i")" "$(cat "$WORK/relocs.$i")" "$(cat "$WORK/ldso.$i")" "$(instructions "$WORK/ir.$i")"
done
