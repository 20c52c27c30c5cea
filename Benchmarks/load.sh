#!/usr/bin/env bash
# Load test on loopback with wrk (Debian): frames posted to verification sessions (the hot
# path: JPEG decode, detection, pose, quality, the liveness machine) at 8 and 32 connections,
# then attempt start with and without the cached registry embedding, then 32 connections creating
# sessions for one IIN with one key, which must yield exactly one session (a key holds one open
# session per IIN; the others are refused with 409).
# Prints requests/s, p50 and p99 latency, non-2xx counts, and the 1-minute load average
# (/proc/loadavg) before and after each measurement. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
command -v wrk >/dev/null || { echo "load: wrk not found (apt-get install wrk)" >&2; exit 1; }
DURATION=${DURATION:-10s}
START_RUNS=${START_RUNS:-30}   # attempt starts timed with and without the cached embedding, each
loadavg() { cut -d' ' -f1 /proc/loadavg; }
swift build -c release --product tulga 2>&1 | tail -n 1
swift build -c release --product TulgaVideo 2>&1 | tail -n 1
BIN="$(swift build -c release --show-bin-path)/tulga"
WORK=$(mktemp -d /tmp/tulga-load.XXXXXX)
PORT=${PORT:-18282}
KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
ARGS=(--database "$WORK/tulga.sqlite" --keys "$WORK/keys" --config "$WORK/load.json")
cat > "$WORK/load.json" <<JSON
{"liveness": {"promptTimeoutMs": 1e12, "sessionTimeoutMs": 1e12}, "policy": {"attemptLeaseMinutes": 62},
 "storage": {"checkpointFolder": "$WORK/checkpoints", "reviewFolder": "$WORK/review", "temporaryFolder": "$WORK/tmp"},
 "server": {"port": $PORT, "rateLimitPerKeyPerMinute": 1e9, "rateLimitPerIINPerMinute": 1e9, "sessionsPerKeyPerMinute": 1e9,
            "sessionIdleSeconds": 3600, "sessionFaceWithinSeconds": 3600}}
JSON
"$BIN" init "${ARGS[@]}" >/dev/null
mkdir -p "$WORK/photos"
cp ../shared/fixtures/faces/lin_manuel_miranda_f095.png "$WORK/photos/lin.png"
python3 - "$WORK" "$START_RUNS" <<'PY'
import sys
work = sys.argv[1]
def check(d):
    s = sum(d[i] * (i + 1) for i in range(11)) % 11
    if s == 10:
        w = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]
        s = sum(d[i] * w[i] for i in range(11)) % 11
    return None if s == 10 else s
rows, serial = [], 0
while len(rows) < 128 + 2 * int(sys.argv[2]) + 1:
    head = "8503143%04d" % serial
    serial += 1
    c = check([int(x) for x in head])
    if c is not None:
        rows.append(head + str(c))
with open(work + "/registry.csv", "w") as f:
    f.write("iin,surname,given_name,document_number,phone,photo\n")
    for iin in rows:
        f.write("%s,Load,Test,N%s,,lin.png\n" % (iin, iin[-6:]))
with open(work + "/iins", "w") as f:
    f.write("\n".join(rows) + "\n")
PY
"$BIN" registry import --csv "$WORK/registry.csv" --photos "$WORK/photos" "${ARGS[@]}" >/dev/null
TULGA_NEW_API_KEY=$KEY "$BIN" apikey add load --scopes kiosk "${ARGS[@]}" >/dev/null
LOG_LEVEL=error "$BIN" serve "${ARGS[@]}" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done

# A 640x480 frame from the fixture video (the face, letterboxed).
swift build -c release --product tulga-bench 2>&1 | tail -n 1
"$(swift build -c release --show-bin-path)/tulga-bench" frame --output "$WORK/frame.jpg"

# Four sessions per connection at the largest load, each for its own IIN (a key may hold one open session per IIN).
: > "$WORK/sessions"
head -n 128 "$WORK/iins" | while read -r iin; do
  curl -sf -X POST "http://127.0.0.1:$PORT/v1/verifications" -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
    -d "{\"iin\":\"$iin\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessionId"])' >> "$WORK/sessions"
done
# Warm the sessions past their baseline.
while read -r sid; do
  for _ in 1 2 3 4 5 6; do
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/v1/verifications/$sid/frames" -H "X-API-Key: $KEY" --data-binary @"$WORK/frame.jpg"
  done
done < "$WORK/sessions"

printf '\nrun %s, %s cores\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)"
printf '\n| connections | requests/s | p50 ms | p99 ms | non-2xx | load before → after |\n|---|---|---|---|---|---|\n'
for c in 8 32; do
  before=$(loadavg)
  out=$(wrk -t2 -c"$c" -d"$DURATION" --latency -s Benchmarks/wrk/frames.lua "http://127.0.0.1:$PORT" -- "$WORK/frame.jpg" "$WORK/sessions" 2 "$KEY")
  rps=$(echo "$out" | awk '/^RPS/{print $2}'); p50=$(echo "$out" | awk '/^P50_MS/{print $2}')
  p99=$(echo "$out" | awk '/^P99_MS/{print $2}'); bad=$(echo "$out" | sed -n 's/^STATUS non2xx=//p')
  printf '| %s | %s | %s | %s | %s | %s → %s |\n' "$c" "$rps" "$p50" "$p99" "$bad" "$before" "$(loadavg)"
done

# Attempt start (session creation) with the registry photo's embedding cached, as imported, against
# without it, as before the cache (the column cleared, so the photo is decoded, detected, aligned and
# embedded again; that path then also seals and stores the new embedding, which the code before the
# cache did not): alternating, one fresh IIN each, medians.
sed -n "129,$((128 + 2 * START_RUNS))p" "$WORK/iins" > "$WORK/start-iins"
python3 - "$WORK" <<'PY'
import sqlite3, sys
work = sys.argv[1]
iins = open(work + "/start-iins").read().split()
db = sqlite3.connect(work + "/tulga.sqlite", timeout=30)
db.executemany("UPDATE registry SET reference = NULL, reference_key_id = NULL WHERE iin = ?", [(i,) for i in iins[1::2]])
db.commit()
PY
n=0; : > "$WORK/start-cached"; : > "$WORK/start-uncached"; before=$(loadavg)
while read -r iin; do
  t=$(curl -sf -o /dev/null -w '%{time_total}' -X POST "http://127.0.0.1:$PORT/v1/verifications" -H "X-API-Key: $KEY" \
        -H 'Content-Type: application/json' -d "{\"iin\":\"$iin\"}")
  if [ $((n % 2)) = 0 ]; then echo "$t" >> "$WORK/start-cached"; else echo "$t" >> "$WORK/start-uncached"; fi
  n=$((n + 1))
done < "$WORK/start-iins"
median() { sort -g "$1" | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m * 1000}'; }
printf '\n| attempt start (POST /v1/verifications) | median ms | n | load before → after |\n|---|---|---|---|\n'
printf '| registry embedding cached | %s | %s | %s → %s |\n' "$(median "$WORK/start-cached")" "$(wc -l < "$WORK/start-cached")" "$before" "$(loadavg)"
printf '| embedded again (no cache) | %s | %s | (alternating with the row above) |\n' "$(median "$WORK/start-uncached")" "$(wc -l < "$WORK/start-uncached")"

# One open session per key and IIN under load: 32 connections create sessions for one fresh IIN.
iin=$(tail -n 1 "$WORK/iins")
wrk -t2 -c32 -d3s -s Benchmarks/wrk/create.lua "http://127.0.0.1:$PORT" -- "$iin" "$KEY" >/dev/null
created=$(curl -sf "http://127.0.0.1:$PORT/metrics" | awk -F' ' '/^hb_requests\{http_route="\/v1\/verifications",http_request_method="POST",http_response_status_code="201"\}/{print $2}')
expected=$(( $(wc -l < "$WORK/sessions") + $(wc -l < "$WORK/start-iins") + 1 ))
echo
echo "sessions created in all: $created (expected $expected: 128 for the load, $(wc -l < "$WORK/start-iins") for attempt start, exactly 1 for the contended IIN)"
errors=$(curl -sf "http://127.0.0.1:$PORT/metrics" | grep -c 'http_response_status_code="5' || true)
echo "routes that answered 5xx: $errors"
[ "$created" = "$expected" ] && [ "$errors" = "0" ]
