#!/usr/bin/env bash
# Peak RSS (VmHWM) of a release `tulga serve` alone, RUNS times for 1 and 2 pipelines: models loaded,
# then after one 129-frame clip. Prints a Markdown table of medians (run.sh measures the same once,
# with an smaps breakdown). RSS does not depend on the machine's load. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
RUNS=${RUNS:-3}; PORT=${PORT:-18385}
swift build -c release --product tulga 2>&1 | tail -n 1 >&2
swift build -c release --product TulgaVideo 2>&1 | tail -n 1 >&2
BIN=$(swift build -c release --show-bin-path)
S=$(mktemp -d /tmp/tulga-rss.XXXXXX)
trap 'rm -rf "$S"' EXIT
mkdir -p "$S/photos"; cp ../shared/fixtures/faces/lin_manuel_miranda_f095.png "$S/photos/lin.png"
printf 'iin,surname,given_name,document_number,phone,photo\n850314300013,M,L,N1,,lin.png\n' > "$S/reg.csv"
FOLDERS="\"storage\": {\"checkpointFolder\": \"$S/checkpoints\", \"reviewFolder\": \"$S/review\", \"temporaryFolder\": \"$S/tmp\"}"
ARGS=(--database "$S/db.sqlite" --keys "$S/keys" --config "$S/config.json")
printf '{%s}\n' "$FOLDERS" > "$S/config.json"
"$BIN/tulga" init "${ARGS[@]}" >/dev/null
"$BIN/tulga" registry import --csv "$S/reg.csv" --photos "$S/photos" "${ARGS[@]}" >/dev/null
KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
TULGA_NEW_API_KEY=$KEY "$BIN/tulga" apikey add rss --scopes kiosk "${ARGS[@]}" >/dev/null
hwm() { awk '/VmHWM/{print $2}' "/proc/$1/status"; }
echo "| pipelines | peak RSS loaded, MiB (runs) | peak RSS after a clip, MiB (runs) |"
echo "|---|---|---|"
for pipelines in 1 2; do
  printf '{"server": {"pipelines": %d, "rateLimitPerIINPerMinute": 1e9}, %s}\n' "$pipelines" "$FOLDERS" > "$S/config.json"
  loaded=(); clip=()
  for _ in $(seq 1 "$RUNS"); do
    LOG_LEVEL=error "$BIN/tulga" serve --port "$PORT" "${ARGS[@]}" >/dev/null 2>&1 &
    PID=$!
    for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
    loaded+=("$(hwm $PID)")
    # A clip may not be longer than the session has existed (4.3 s of video): wait, then post it.
    SID=$(curl -s -X POST "http://127.0.0.1:$PORT/v1/verifications" -H "X-API-Key: $KEY" -d '{"iin":"850314300013"}' | sed -n 's/.*"sessionId":"\([^"]*\)".*/\1/p')
    sleep 5
    PHASE=$(curl -s -X POST "http://127.0.0.1:$PORT/v1/verifications/$SID/clip" -H "X-API-Key: $KEY" \
      --data-binary @../shared/fixtures/video/lin_manuel_miranda_head_turns.mp4 | sed -n 's/.*"phase":"\([^"]*\)".*/\1/p')
    [ -n "$PHASE" ] || { echo "peak-rss: the clip was not taken (no phase in the answer)" >&2; exit 1; }
    clip+=("$(hwm $PID)")
    kill "$PID"; wait "$PID" 2>/dev/null || true
  done
  median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1024}'; }
  list() { printf '%s\n' "$@" | awk '{printf "%s%.1f", (NR>1?", ":""), $1/1024}'; }
  echo "| $pipelines | $(median "${loaded[@]}") ($(list "${loaded[@]}")) | $(median "${clip[@]}") ($(list "${clip[@]}")) |"
done
