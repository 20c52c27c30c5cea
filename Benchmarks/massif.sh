#!/usr/bin/env bash
# Where the heap of `tulga serve` goes: the release build under valgrind's massif, with PIPELINES
# (default 2) face pipelines: the models loaded, then (with CLIP=1; slow under valgrind) one 129-frame
# clip verified, then SIGTERM.
# Prints the heap (bytes malloc handed out, as massif counts it) when the models are loaded, at its
# peak and at exit, each with its allocation sites down to 2% of it. Slow (valgrind): several
# minutes. Run from the repository root after `swift build -c release --product tulga --product TulgaVideo` (run.sh
# builds both). Needs valgrind (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
command -v valgrind >/dev/null || { echo "massif: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
PIPELINES=${PIPELINES:-2}; PORT=${PORT:-18384}; CLIP=${CLIP:-0}
BIN=$(swift build -c release --show-bin-path)
WORK=$(mktemp -d /tmp/tulga-massif.XXXXXX)
# valgrind 3.19 cannot read the DWARF 5 that swiftc writes: copies without debug sections run the same code.
objcopy --strip-debug "$BIN/tulga" "$WORK/tulga"
objcopy --strip-debug "$BIN/libTulgaVideo.so" "$WORK/libTulgaVideo.so"
S=$WORK/serve; mkdir -p "$S/photos"; cp ../shared/fixtures/faces/lin_manuel_miranda_f095.png "$S/photos/lin.png"
printf 'iin,surname,given_name,document_number,phone,photo\n850314300013,M,L,N1,,lin.png\n' > "$S/reg.csv"
SARGS=(--database "$S/db.sqlite" --keys "$S/keys" --config "$S/config.json")
STORAGE="\"storage\": {\"checkpointFolder\": \"$S/checkpoints\", \"reviewFolder\": \"$S/review\", \"temporaryFolder\": \"$S/tmp\"}"
printf '{"server": {"pipelines": %d, "rateLimitPerIINPerMinute": 1e9}, %s}\n' "$PIPELINES" "$STORAGE" > "$S/config.json"
"$BIN/tulga" init "${SARGS[@]}" >/dev/null
KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$BIN/tulga" registry import --csv "$S/reg.csv" --photos "$S/photos" "${SARGS[@]}" >/dev/null
TULGA_NEW_API_KEY=$KEY "$BIN/tulga" apikey add bench --scopes kiosk "${SARGS[@]}" >/dev/null
T0=$EPOCHREALTIME
LOG_LEVEL=error TULGA_VIDEO_LIBRARY="$WORK/libTulgaVideo.so" valgrind --tool=massif --massif-out-file="$WORK/massif.out" --time-unit=ms --detailed-freq=1 --max-snapshots=200 \
  "$WORK/tulga" serve --port "$PORT" "${SARGS[@]}" >/dev/null 2>"$WORK/valgrind.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 1800); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$PORT/health" >/dev/null || { echo "massif: serve did not start" >&2; tail "$WORK/valgrind.log" >&2; exit 1; }
# massif's clock (--time-unit=ms) is wall time since the start: the models were loaded by now.
LOADED_MS=$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
code="not sent (CLIP=0)"
if [ "$CLIP" = 1 ]; then
  SID=$(curl -s -X POST "http://127.0.0.1:$PORT/v1/verifications" -H "X-API-Key: $KEY" -d '{"iin":"850314300013"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["sessionId"])')
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3000 -X POST "http://127.0.0.1:$PORT/v1/verifications/$SID/clip" \
    -H "X-API-Key: $KEY" --data-binary @../shared/fixtures/video/lin_manuel_miranda_head_turns.mp4)
fi
kill -TERM $PID; wait $PID 2>/dev/null || true
trap 'rm -rf "$WORK"' EXIT
echo "massif: tulga serve, $PIPELINES pipelines; /health answered (models loaded) at ${LOADED_MS} ms; the clip: HTTP $code; $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1 /proc/loadavg)"
echo
python3 - "$WORK/massif.out" "$LOADED_MS" <<'PY'
import re, sys
# massif.out: "snapshot=N", "time=", "mem_heap_B=", "heap_tree=detailed|peak|empty", then the tree as
# "nK: BYTES ADDRESS: FUNCTION (FILE)" lines indented by depth.
snaps, cur = [], None
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    k, _, v = line.partition("=")
    if k == "snapshot":
        cur = {"n": int(v), "tree": []}; snaps.append(cur)
    elif cur is not None and k in ("time", "mem_heap_B", "mem_heap_extra_B", "mem_stacks_B"):
        cur[k] = int(v)
    elif cur is not None and k == "heap_tree":
        cur["kind"] = v
    elif cur is not None and re.match(r"^ *n\d+: ", line):
        depth = len(line) - len(line.lstrip(" "))
        m = re.match(r"^ *n\d+: (\d+) (.*)$", line)
        cur["tree"].append((depth, int(m.group(1)), m.group(2)))
mib = lambda b: f"{b / 1048576:.1f} MiB"
loaded = float(sys.argv[2] or 0)
detailed = [s for s in snaps if s["tree"]]
before = [s for s in detailed if s.get("time", 0) <= loaded] or detailed[:1]
peak = next((s for s in snaps if s.get("kind") == "peak"), max(snaps, key=lambda s: s.get("mem_heap_B", 0)))
def show(label, s, depth_max=7, share=0.02):
    total = s.get("mem_heap_B", 0)
    print(f"== {label}: snapshot {s['n']} at {s.get('time', 0)} ms, heap {mib(total)} "
          f"(+ {mib(s.get('mem_heap_extra_B', 0))} malloc overhead); allocation sites of at least {share:.0%}:")
    for depth, size, what in s["tree"]:
        if depth <= depth_max and size >= share * total and depth > 0:
            what = re.sub(r" \(in /.*/", " (", re.sub(r"^0x[0-9A-F]+: ", "", what))
            print(f"{'  ' * (depth - 1)}- {mib(size)} {what[:160]}")
    print()
show("models loaded (the last snapshot before the clip)", before[-1])
show("peak", peak)
show("at exit", snaps[-1], depth_max=3)
PY
