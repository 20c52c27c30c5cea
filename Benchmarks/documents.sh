#!/usr/bin/env bash
# Document reading accuracy and speed on synthetic photos (not a timed test):
#   Benchmarks/documents.sh            # DOCUMENTS (default 300) ID cards and as many passports
# Generates them with scripts/render-document (random names, numbers and dates, phone-camera
# degradation) into a temporary folder, reads each with `tulga-bench documents` (release build),
# and prints per kind the shares read fully correct, refused with a named reason and read wrong
# but accepted, and the median time per document. SEED changes the documents; BUILD=debug skips
# the release build; DOCS=DIR reads documents already rendered there (and keeps them).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${DOCUMENTS:-300}
SEED=${SEED:-1}
CONFIG=${BUILD:-release}
if [ -n "${DOCS:-}" ]; then
  WORK=$DOCS
else
  WORK=$(mktemp -d /tmp/tulga-documents.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
fi
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
if [ "$CONFIG" = release ]; then swift build -c release --product tulga-bench 2>&1 | tail -n 1 >&2; fi
BIN=$(swift build -c "$CONFIG" --show-bin-path)
if [ -z "${DOCS:-}" ]; then
  echo "generating $N ID cards and $N passports (seed $SEED) in $WORK" >&2
  # One generator per kind, on the two cores.
  scripts/render-document --kind id-card --out "$WORK" --count "$N" --seed "$SEED" >/dev/null &
  scripts/render-document --kind passport --out "$WORK" --count "$N" --seed "$SEED" >/dev/null &
  wait
fi
echo "reading ($(nproc) cores, OMP_THREAD_LIMIT=1)" >&2
OMP_THREAD_LIMIT=1 "$BIN/tulga-bench" documents --dir "$WORK"
