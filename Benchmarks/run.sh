#!/usr/bin/env bash
# One command for the speed figures: tulga (Swift, release) against the Python peer
# (opencv-python-headless from PyPI) and the C++ floor (Debian's OpenCV), same images, stages,
# models and thread count, in one run; then throughput, the liveness frame rate and the peak
# RSS of `tulga serve`. Prints a Markdown table. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
RUNS=${RUNS:-30}; THREADS=${THREADS:-2}; SECONDS_TP=${THROUGHPUT_SECONDS:-10}
VENV=${TULGA_VENV:-$PWD/Benchmarks/.venv}
WORK=$(mktemp -d /tmp/tulga-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
echo "==> building (release), the C++ floor and the Python peer's environment" >&2
swift build -c release --product tulga 2>&1 | tail -n 1 >&2
swift build -c release --product TulgaVideo 2>&1 | tail -n 1 >&2
swift build -c release --product tulga-bench 2>&1 | tail -n 1 >&2
BIN=$(swift build -c release --show-bin-path)
# The floor decodes with tulga's own codec.c (libjpeg-turbo, libpng), so the decode stage compares like with like.
gcc -O2 -c Sources/CTulgaVision/codec.c -ISources/CTulgaVision/include -o "$WORK/codec.o"
g++ -O2 -std=c++17 Benchmarks/floor.cpp "$WORK/codec.o" -ISources/CTulgaVision $(pkg-config --cflags --libs tulga-vision) -ljpeg -lpng16 -o "$WORK/floor"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import cv2, numpy' 2>/dev/null || "$VENV/bin/pip" install -q --disable-pip-version-check opencv-python-headless numpy
for i in 10 60 100; do "$BIN/tulga-bench" frame --index $i --output "$WORK/frame$i.jpg"; done
PHOTOS=(Fixtures/photos/obama.jpg Fixtures/photos/obama2.jpg Fixtures/photos/obama3.jpg Fixtures/photos/biden.jpg)
FRAMES=("$WORK/frame10.jpg" "$WORK/frame60.jpg" "$WORK/frame100.jpg")

run_set() {  # name, images...
  local name=$1; shift
  local img_args=(); for f in "$@"; do img_args+=(--image "$f"); done
  echo "==> $name: ours, peer, floor ($RUNS runs each, $THREADS threads)" >&2
  "$BIN/tulga-bench" stages --runs "$RUNS" --threads "$THREADS" "${img_args[@]}" > "$WORK/$name.ours.json"
  "$VENV/bin/python" Benchmarks/peer.py Models "$RUNS" "$THREADS" 640 320 "$@" 2>/dev/null > "$WORK/$name.peer.json"
  "$WORK/floor" Models "$RUNS" "$THREADS" 640 320 "$@" > "$WORK/$name.floor.json"
}
run_set photos "${PHOTOS[@]}"
run_set frames "${FRAMES[@]}"

echo "==> throughput for ${SECONDS_TP}s: ours ($THREADS pipelines x 1 thread) vs the peer (one process, $THREADS threads)" >&2
img_args=(); for f in "${PHOTOS[@]}"; do img_args+=(--image "$f"); done
"$BIN/tulga-bench" stages --threads "$THREADS" --throughput "$SECONDS_TP" "${img_args[@]}" > "$WORK/tp.ours.json"
"$VENV/bin/python" Benchmarks/peer.py Models 0 "$THREADS" 640 320 --throughput "$SECONDS_TP" "${PHOTOS[@]}" 2>/dev/null > "$WORK/tp.peer.json"

echo "==> liveness frame rate" >&2
"$BIN/tulga-bench" liveness --runs "$RUNS" > "$WORK/liveness.txt"

VERIFY_RUNS=${VERIFY_RUNS:-15}
# wall FILE command...: appends the command's wall time in seconds (bash's clock, no fork around it).
wall() { local out=$1; shift; local t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || true; local t1=$EPOCHREALTIME
         awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >> "$out"; }
echo "==> whole-process verify (obama.jpg / obama2.jpg): tulga and the peer alternating, $VERIFY_RUNS runs each" >&2
REF=Fixtures/photos/obama.jpg; PROBE=Fixtures/photos/obama2.jpg
: > "$WORK/verify.ours"; : > "$WORK/verify.peer"; : > "$WORK/help"
wall /dev/null "$BIN/tulga" verify --reference $REF --probe $PROBE   # warm the page cache
wall /dev/null "$VENV/bin/python" Benchmarks/peer.py Models --verify $REF $PROBE
for _ in $(seq 1 "$VERIFY_RUNS"); do
  wall "$WORK/verify.ours" "$BIN/tulga" verify --reference $REF --probe $PROBE
  wall "$WORK/verify.peer" "$VENV/bin/python" Benchmarks/peer.py Models --verify $REF $PROBE
done
echo "==> tulga --help and the dynamic loader's share (LD_DEBUG=statistics)" >&2
for _ in $(seq 1 20); do wall "$WORK/help" "$BIN/tulga" --help; done
LD_DEBUG=statistics "$BIN/tulga" --help 2>&1 >/dev/null | sed -n 's/.*total startup time in dynamic loader: *//p' | head -n 1 > "$WORK/ldso"
ldd "$BIN/tulga" | wc -l > "$WORK/libs"

echo "==> peak RSS of tulga serve, 1 and 2 pipelines: models loaded, then after one 129-frame clip" >&2
S=$WORK/serve; mkdir -p "$S/photos"; cp ../shared/fixtures/faces/lin_manuel_miranda_f095.png "$S/photos/lin.png"
printf 'iin,surname,given_name,document_number,phone,photo\n850314300013,M,L,N1,,lin.png\n' > "$S/reg.csv"
SARGS=(--database "$S/db.sqlite" --keys "$S/keys")
"$BIN/tulga" init "${SARGS[@]}" >/dev/null
KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$BIN/tulga" registry import --csv "$S/reg.csv" --photos "$S/photos" "${SARGS[@]}" >/dev/null
TULGA_NEW_API_KEY=$KEY "$BIN/tulga" apikey add bench --scopes kiosk "${SARGS[@]}" >/dev/null
: > "$WORK/rss.txt"
for pipelines in 1 2; do
  printf '{"server": {"pipelines": %d, "rateLimitPerIINPerMinute": 1e9}}\n' "$pipelines" > "$S/config.json"
  LOG_LEVEL=error "$BIN/tulga" serve --port 18383 --config "$S/config.json" "${SARGS[@]}" >/dev/null 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18383/health/ready >/dev/null && break; sleep 0.2; done
  IDLE=$(awk '/VmHWM/{print $2}' /proc/$PID/status)
  SID=$(curl -s -X POST http://127.0.0.1:18383/v1/verifications -H "X-API-Key: $KEY" -d '{"iin":"850314300013"}' | "$VENV/bin/python" -c 'import json,sys;print(json.load(sys.stdin)["sessionId"])')
  curl -s -o /dev/null -X POST "http://127.0.0.1:18383/v1/verifications/$SID/clip" -H "X-API-Key: $KEY" --data-binary @../shared/fixtures/video/lin_manuel_miranda_head_turns.mp4
  RSS=$(awk '/VmHWM/{print $2}' /proc/$PID/status)
  NOW=$(awk '/VmRSS/{print $2}' /proc/$PID/status)
  cp /proc/$PID/smaps_rollup "$WORK/smaps.$pipelines" 2>/dev/null || true
  kill $PID; wait $PID 2>/dev/null || true
  echo "$pipelines $IDLE $RSS $NOW" >> "$WORK/rss.txt"
done

"$VENV/bin/python" - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
load = lambda n: json.load(open(f"{w}/{n}"))
print()
for name, label in (("photos", "fixture JPEGs (obama, obama2, obama3, biden; DCT-scaled decode)"), ("frames", "640x480 video frames")):
    o, p, f = load(f"{name}.ours.json"), load(f"{name}.peer.json"), load(f"{name}.floor.json")
    print(f"{label}: medians in ms over {o['samples']} samples; ours OpenCV {o['opencv']}, peer OpenCV {p['opencv']}, floor OpenCV {f['opencv']}")
    print()
    print("| stage | ours | peer (Python) | floor (C++) | ours / peer | ours over floor |")
    print("|---|---|---|---|---|---|")
    for stage in ("decode", "detect", "embed", "compare", "total"):
        a, b, c = o[stage], p[stage], f[stage]
        print(f"| {stage} | {a:.3f} | {b:.3f} | {c:.3f} | {a / b:.2f} | {(a / c - 1) * 100:+.1f}% |")
    print()
to, tp = load("tp.ours.json"), load("tp.peer.json")
print(f"throughput (fixture JPEGs): ours {to['images_per_second']:.1f} images/s with 2 pipelines; "
      f"peer {tp['images_per_second']:.1f} images/s in one process; ratio {to['images_per_second'] / tp['images_per_second']:.2f}")
print()
print(open(f"{w}/liveness.txt").read().strip())
print()
median = lambda xs: sorted(xs)[len(xs) // 2] if len(xs) % 2 else sum(sorted(xs)[len(xs) // 2 - 1:len(xs) // 2 + 1]) / 2
times = lambda n: [float(x) for x in open(f"{w}/{n}").read().split()]
ours, peer, help_ = times("verify.ours"), times("verify.peer"), times("help")
print("| process | median s | runs |")
print("|---|---|---|")
print(f"| tulga verify obama.jpg obama2.jpg | {median(ours):.3f} | {len(ours)} |")
print(f"| peer.py --verify (opencv-python) | {median(peer):.3f} | {len(peer)} |")
print(f"| ratio tulga / peer | {median(ours) / median(peer):.2f} | |")
print(f"| tulga --help | {median(help_):.3f} | {len(help_)} |")
print()
print(f"dynamic loader before main (LD_DEBUG=statistics): {open(f'{w}/ldso').read().strip() or 'n/a'}; "
      f"libraries ldd lists for tulga: {open(f'{w}/libs').read().strip()}")
print()
print("| tulga serve | peak RSS, models loaded (MiB) | peak RSS after one clip (MiB) | RSS after the clip (MiB) |")
print("|---|---|---|---|")
for line in open(f"{w}/rss.txt").read().splitlines():
    n, idle, peak, now = line.split()
    print(f"| {n} pipeline{'s' if n != '1' else ''} | {int(idle) / 1024:.1f} | {int(peak) / 1024:.1f} | {int(now) / 1024:.1f} |")
PY
