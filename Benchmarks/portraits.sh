#!/usr/bin/env bash
# The document portrait against the selfie, on the fixture faces (not a timed test):
#   Benchmarks/portraits.sh            # PER_FACE (default 6) documents of each kind per fixture face
# Renders ID cards and passport pages with scripts/render-document, each fixture face in turn as the
# printed portrait (with the phone-camera degradation), reads each with `tulga-bench portraits`, and
# compares the portrait with every other fixture photo as the selfie: the same person in another
# photo is a genuine pair, anyone else an impostor. Prints the scores and how they fall in the
# decision bands (accept 0.363, review 0.31). SEED changes the documents; BUILD=debug skips the
# release build.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${PER_FACE:-6}
SEED=${SEED:-1}
CONFIG=${BUILD:-release}
FACES=${FACES:-../shared/fixtures/faces}
WORK=$(mktemp -d /tmp/tulga-portraits.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
if [ "$CONFIG" = release ]; then swift build -c release --product tulga-bench 2>&1 | tail -n 1 >&2; fi
BIN=$(swift build -c "$CONFIG" --show-bin-path)
i=0
for face in $(ls "$FACES"); do
  i=$((i + 1))
  for kind in id-card passport; do
    scripts/render-document --kind "$kind" --out "$WORK" --count "$N" --seed "$((SEED * 100 + i))" --portrait "$face" --faces "$FACES" >/dev/null
  done
done
echo "reading $(ls "$WORK"/*.json | wc -l) documents ($(nproc) cores, OMP_THREAD_LIMIT=1)" >&2
OMP_THREAD_LIMIT=1 "$BIN/tulga-bench" portraits --dir "$WORK" --faces "$FACES"
