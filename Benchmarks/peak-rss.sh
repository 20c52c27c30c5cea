#!/usr/bin/env bash
# Peak RSS (VmHWM) of a release `tulga serve` alone, RUNS times for 1 and 2 pipelines: models loaded,
# then after one 129-frame clip. Prints a Markdown table of medians in MiB and in MB (10^6 bytes).
# BEFORE=DIR (another build's folder, holding its tulga and libTulgaVideo.so): each run starts that
# build's serve too, right after this one's, so both are measured side by side on the same data.
# The 2-pipeline run of this build is also watched by Benchmarks/rss-peak.py, and its smaps at the
# load peak, once loaded, at the clip's peak and after the clip are summed by Benchmarks/smaps.py
# (where the memory goes). RSS does not depend on the machine's load. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
RUNS=${RUNS:-3}; PORT=${PORT:-18385}
swift build -c release --product tulga 2>&1 | tail -n 1 >&2
swift build -c release --product TulgaVideo 2>&1 | tail -n 1 >&2
BIN=$(swift build -c release --show-bin-path)
BUILDS=("$BIN"); [ -n "${BEFORE:-}" ] && BUILDS=("$BEFORE" "$BIN")
S=$(mktemp -d /tmp/tulga-rss.XXXXXX)
trap 'rm -rf "$S"' EXIT
mkdir -p "$S/photos"; cp ../shared/fixtures/faces/lin_manuel_miranda_f095.png "$S/photos/lin.png"
printf 'iin,surname,given_name,document_number,phone,photo\n850314300013,M,L,N1,,lin.png\n' > "$S/reg.csv"
FOLDERS="\"storage\": {\"checkpointFolder\": \"$S/checkpoints\", \"reviewFolder\": \"$S/review\", \"temporaryFolder\": \"$S/tmp\"}"
ARGS=(--database "$S/db.sqlite" --keys "$S/keys" --config "$S/config.json")
printf '{%s}\n' "$FOLDERS" > "$S/config.json"
"$BIN/tulga" init "${ARGS[@]}" >/dev/null
# Also makes SFace's packed copy (Models/*.packed.onnx), so no run below pays for it.
"$BIN/tulga" registry import --csv "$S/reg.csv" --photos "$S/photos" "${ARGS[@]}" >/dev/null
KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
TULGA_NEW_API_KEY=$KEY "$BIN/tulga" apikey add rss --scopes kiosk "${ARGS[@]}" >/dev/null
status() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
# serve BUILD PIPELINES WATCH: one start, a clip; appends "loaded after-clip" (VmHWM, KiB) to $S/hwm.BUILD-INDEX.PIPELINES.
serve() {
  local bin=$1 pipelines=$2 watch=$3 index=$4 watcher=""
  LOG_LEVEL=error "$bin/tulga" serve --port "$PORT" "${ARGS[@]}" >/dev/null 2>&1 &
  local pid=$!
  if [ "$watch" = 1 ]; then python3 Benchmarks/rss-peak.py "$pid" "$S/smaps-load-peak" > "$S/peak-load" & watcher=$!; fi
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
  local loaded; loaded=$(status "$pid" VmHWM)
  if [ -n "$watcher" ]; then
    kill "$watcher"; wait "$watcher" || true
    cp "/proc/$pid/smaps" "$S/smaps-loaded"
  fi
  # A clip may not be longer than the session has existed (4.3 s of video): wait, then post it.
  local sid phase
  sid=$(curl -s -X POST "http://127.0.0.1:$PORT/v1/verifications" -H "X-API-Key: $KEY" -d '{"iin":"850314300013"}' | sed -n 's/.*"sessionId":"\([^"]*\)".*/\1/p')
  sleep 5
  if [ "$watch" = 1 ]; then python3 Benchmarks/rss-peak.py "$pid" "$S/smaps-clip-peak" > "$S/peak-clip" & watcher=$!; fi
  phase=$(curl -s -X POST "http://127.0.0.1:$PORT/v1/verifications/$sid/clip" -H "X-API-Key: $KEY" \
    --data-binary @../shared/fixtures/video/lin_manuel_miranda_head_turns.mp4 | sed -n 's/.*"phase":"\([^"]*\)".*/\1/p')
  [ -n "$phase" ] || { echo "peak-rss: the clip was not taken (no phase in the answer)" >&2; kill "$pid"; exit 1; }
  if [ -n "$watcher" ]; then
    kill "$watcher"; wait "$watcher" || true
    cp "/proc/$pid/smaps" "$S/smaps-after-clip"
  fi
  echo "$loaded $(status "$pid" VmHWM)" >> "$S/hwm.$index.$pipelines"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
load_before=$(cut -d' ' -f1 /proc/loadavg)
for pipelines in 1 2; do
  printf '{"server": {"pipelines": %d, "rateLimitPerIINPerMinute": 1e9}, %s}\n' "$pipelines" "$FOLDERS" > "$S/config.json"
  for run in $(seq 1 "$RUNS"); do
    for index in "${!BUILDS[@]}"; do
      watch=0; [ "$pipelines" = 2 ] && [ "$run" = "$RUNS" ] && [ "${BUILDS[$index]}" = "$BIN" ] && watch=1
      serve "${BUILDS[$index]}" "$pipelines" "$watch" "$index"
    done
  done
done
echo "peak-rss: $(date -u '+%Y-%m-%d %H:%M UTC'), $RUNS runs, load $load_before → $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| build | pipelines | peak RSS loaded, MiB (runs) | MB | peak RSS after a clip, MiB (runs) | MB |"
echo "|---|---|---|---|---|---|"
column() {  # file, field: "median (run, run, …)" and the median in MB
  awk -v f="$2" '{print $f}' "$1" | sort -n | awk -v list="$(awk -v f="$2" '{printf "%s%.1f", (NR>1?", ":""), $f/1024}' "$1")" \
    '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.1f (%s) | %.1f", m/1024, list, m*1024/1e6}'
}
for index in "${!BUILDS[@]}"; do
  name=this; [ "${BUILDS[$index]}" != "$BIN" ] && name="before ($BEFORE)"
  for pipelines in 1 2; do
    echo "| $name | $pipelines | $(column "$S/hwm.$index.$pipelines" 1) | $(column "$S/hwm.$index.$pipelines" 2) |"
  done
done
echo
echo "This build, 2 pipelines, the last run: VmRSS at the load peak and the clip's peak as rss-peak.py caught them (KiB: VmRSS, RssAnon, RssFile): $(cat "$S/peak-load"); $(cat "$S/peak-clip")"
files() { ldd "$1" | awk '$3 ~ /^\// {print $3}' | xargs -r readlink -f | xargs -r -n1 basename | sort -u; }
comm -13 <(files "$BIN/tulga") <(files "$BIN/libTulgaVideo.so") > "$S/video-libs"
for phase in load-peak loaded clip-peak after-clip; do
  echo; echo "smaps, $phase:"; echo
  python3 Benchmarks/smaps.py "$S/smaps-$phase" 8 "$S/video-libs"
done
