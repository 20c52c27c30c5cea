#!/usr/bin/env bash
# Instructions `tulga --help` executes (callgrind; the load does not change them): the whole run, the
# dynamic loader's part (_dl_start, before main) and the libraries' constructors (_dl_init).
# BIN is the folder holding `tulga` (default: the release build); RUNS (default 2) runs, each printed.
# Compare two builds by running it with each BIN. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
BIN=${BIN:-$(swift build -c release --show-bin-path)}
RUNS=${RUNS:-2}
WORK=$(mktemp -d /tmp/tulga-help-ir.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# valgrind 3.19 cannot read the DWARF 5 that swiftc writes: a copy without debug sections runs the same code.
objcopy --strip-debug "$BIN/tulga" "$WORK/tulga"
printf '| run | tulga --help, instructions | loader (_dl_start) | constructors (_dl_init) |\n|---|---|---|---|\n'
for run in $(seq 1 "$RUNS"); do
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$WORK/tulga" --help >/dev/null 2>&1
  callgrind_annotate --inclusive=yes --threshold=100 "$WORK/cg.out" 2>/dev/null > "$WORK/ir"
  total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }' "$WORK/ir")
  loader=$(awk '/rtld.c:_dl_start / { gsub(",", "", $1); print $1; exit }' "$WORK/ir")
  init=$(awk '/dl-init.c:_dl_init / { gsub(",", "", $1); print $1; exit }' "$WORK/ir")
  printf '| %s | %s | %s | %s |\n' "$run" "$total" "${loader:-n/a}" "${init:-n/a}"
done
