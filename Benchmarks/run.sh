#!/usr/bin/env bash
# One command for the speed figures: tulga (Swift, release) against the Python peer
# (opencv-python-headless from PyPI) and the C++ floor (Debian's OpenCV), same images, stages,
# models and thread count, in one run; then throughput, the liveness frame rate and the peak
# RSS of `tulga serve` (with an smaps breakdown). Prints Markdown tables, each section with the
# 1-minute load average at its start and end (/proc/loadavg): absolute times on a busy machine are
# slower, ratios from alternating runs much less so. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
RUNS=${RUNS:-30}; THREADS=${THREADS:-2}; SECONDS_TP=${THROUGHPUT_SECONDS:-10}; PORT=${PORT:-18383}  # PORT: tulga serve's, for the RSS section
VENV=${TULGA_VENV:-$PWD/Benchmarks/.venv}
WORK=$(mktemp -d /tmp/tulga-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# mark SECTION: appends the 1-minute load average to $WORK/load.SECTION (called at its start and end).
mark() { cut -d' ' -f1 /proc/loadavg >> "$WORK/load.$1"; }
date -u '+%Y-%m-%d %H:%M UTC' > "$WORK/date"
echo "==> building (release), the C++ floor and the Python peer's environment" >&2
swift build -c release --product tulga 2>&1 | tail -n 1 >&2
swift build -c release --product TulgaVideo 2>&1 | tail -n 1 >&2
swift build -c release --product tulga-bench 2>&1 | tail -n 1 >&2
BIN=$(swift build -c release --show-bin-path)
# The floor decodes with tulga's own codec.c (libjpeg-turbo, libpng), so the decode stage compares like with like.
gcc -O2 -c Sources/CTulgaVision/codec.c -ISources/CTulgaVision/include -o "$WORK/codec.o"
gcc -O2 -shared -fPIC Benchmarks/main-clock.c -o "$WORK/main-clock.so" -ldl
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
  mark "$name"
  "$BIN/tulga-bench" stages --runs "$RUNS" --threads "$THREADS" "${img_args[@]}" > "$WORK/$name.ours.json"
  "$VENV/bin/python" Benchmarks/peer.py Models "$RUNS" "$THREADS" 640 320 "$@" 2>/dev/null > "$WORK/$name.peer.json"
  "$WORK/floor" Models "$RUNS" "$THREADS" 640 320 "$@" > "$WORK/$name.floor.json"
  mark "$name"
}
run_set photos "${PHOTOS[@]}"
run_set frames "${FRAMES[@]}"

echo "==> throughput for ${SECONDS_TP}s: ours ($THREADS pipelines x 1 thread) vs the peer (one process, $THREADS threads)" >&2
img_args=(); for f in "${PHOTOS[@]}"; do img_args+=(--image "$f"); done
mark tp
"$BIN/tulga-bench" stages --threads "$THREADS" --throughput "$SECONDS_TP" "${img_args[@]}" > "$WORK/tp.ours.json"
"$VENV/bin/python" Benchmarks/peer.py Models 0 "$THREADS" 640 320 --throughput "$SECONDS_TP" "${PHOTOS[@]}" 2>/dev/null > "$WORK/tp.peer.json"
mark tp

echo "==> liveness frame rate" >&2
mark liveness
"$BIN/tulga-bench" liveness --runs "$RUNS" > "$WORK/liveness.txt"
mark liveness

VERIFY_RUNS=${VERIFY_RUNS:-15}
# wall FILE command...: appends the command's wall time in seconds (bash's clock, no fork around it).
wall() { local out=$1; shift; local t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || true; local t1=$EPOCHREALTIME
         awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >> "$out"; }
echo "==> whole-process verify (obama.jpg / obama2.jpg): tulga and the peer alternating, $VERIFY_RUNS runs each" >&2
REF=Fixtures/photos/obama.jpg; PROBE=Fixtures/photos/obama2.jpg
: > "$WORK/verify.ours"; : > "$WORK/verify.peer"; : > "$WORK/help"
wall /dev/null "$BIN/tulga" verify --reference $REF --probe $PROBE   # warm the page cache
wall /dev/null "$VENV/bin/python" Benchmarks/peer.py Models --verify $REF $PROBE
mark verify
for _ in $(seq 1 "$VERIFY_RUNS"); do
  wall "$WORK/verify.ours" "$BIN/tulga" verify --reference $REF --probe $PROBE
  wall "$WORK/verify.peer" "$VENV/bin/python" Benchmarks/peer.py Models --verify $REF $PROBE
done
mark verify
HELP_RUNS=${HELP_RUNS:-20}
echo "==> tulga --help and time to main ($HELP_RUNS runs each, alternating), the loader (LD_DEBUG=statistics), instructions (callgrind)" >&2
: > "$WORK/tomain"
mark help
for _ in $(seq 1 "$HELP_RUNS"); do
  wall "$WORK/help" "$BIN/tulga" --help
  # Time to main: from just before exec to main's first instruction (Benchmarks/main-clock.c).
  ( export MAIN_CLOCK_T0=$EPOCHREALTIME MAIN_CLOCK_OUT="$WORK/tomain"; LD_PRELOAD="$WORK/main-clock.so" exec "$BIN/tulga" --help >/dev/null 2>&1 ) || true
done
mark help
LD_DEBUG=statistics "$BIN/tulga" --help 2>&1 >/dev/null | sed -n 's/.*total startup time in dynamic loader: *//p' | head -n 1 > "$WORK/ldso"
LD_DEBUG=statistics "$BIN/tulga" --help 2>&1 >/dev/null | sed -n 's/.*number of relocations: *//p' | head -n 1 > "$WORK/relocs"
ldd "$BIN/tulga" | wc -l > "$WORK/libs"
# The libraries libTulgaVideo.so brings that tulga itself does not (for the smaps breakdown).
files() { ldd "$1" | awk '$3 ~ /^\// {print $3}' | xargs -r readlink -f | xargs -r -n1 basename | sort -u; }  # as smaps names them
comm -13 <(files "$BIN/tulga") <(files "$BIN/libTulgaVideo.so") > "$WORK/video-libs"
# Instructions, which the load does not change: the whole of `tulga --help`, and the part before main.
touch "$WORK/ir"
if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
  # valgrind 3.19 cannot read the DWARF 5 that swiftc writes: a copy without debug sections runs the same code.
  objcopy --strip-debug "$BIN/tulga" "$WORK/tulga-nodebug"
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$WORK/tulga-nodebug" --help >/dev/null 2>&1 || true
  callgrind_annotate --inclusive=yes --threshold=100 "$WORK/cg.out" 2>/dev/null > "$WORK/ir" || true
fi

echo "==> peak RSS of tulga serve, 1 and 2 pipelines: models loaded, then after one 129-frame clip" >&2
S=$WORK/serve; mkdir -p "$S/photos"; cp ../shared/fixtures/faces/lin_manuel_miranda_f095.png "$S/photos/lin.png"
printf 'iin,surname,given_name,document_number,phone,photo\n850314300013,M,L,N1,,lin.png\n' > "$S/reg.csv"
SARGS=(--database "$S/db.sqlite" --keys "$S/keys")
STORAGE="\"storage\": {\"checkpointFolder\": \"$S/checkpoints\", \"reviewFolder\": \"$S/review\", \"temporaryFolder\": \"$S/tmp\"}"
printf '{%s}\n' "$STORAGE" > "$S/config.json"
SARGS+=(--config "$S/config.json")
"$BIN/tulga" init "${SARGS[@]}" >/dev/null
KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$BIN/tulga" registry import --csv "$S/reg.csv" --photos "$S/photos" "${SARGS[@]}" >/dev/null
TULGA_NEW_API_KEY=$KEY "$BIN/tulga" apikey add bench --scopes kiosk "${SARGS[@]}" >/dev/null
: > "$WORK/rss.txt"
mark rss
for pipelines in 1 2; do
  printf '{"server": {"pipelines": %d, "rateLimitPerIINPerMinute": 1e9}, %s}\n' "$pipelines" "$STORAGE" > "$S/config.json"
  LOG_LEVEL=error "$BIN/tulga" serve --port $PORT "${SARGS[@]}" >/dev/null 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/health/ready >/dev/null && break; sleep 0.2; done
  IDLE=$(awk '/VmHWM/{print $2}' /proc/$PID/status)
  cp /proc/$PID/smaps "$WORK/smaps-loaded.$pipelines" 2>/dev/null || true
  SID=$(curl -s -X POST http://127.0.0.1:$PORT/v1/verifications -H "X-API-Key: $KEY" -d '{"iin":"850314300013"}' | "$VENV/bin/python" -c 'import json,sys;print(json.load(sys.stdin)["sessionId"])')
  # The server refuses a clip longer than the session's age (clip_timing, 4.3 s here) before it runs the
  # liveness check: wait, so the figure is of a clip actually processed, and check that it was.
  sleep 5
  curl -s -X POST "http://127.0.0.1:$PORT/v1/verifications/$SID/clip" -H "X-API-Key: $KEY" --data-binary @../shared/fixtures/video/lin_manuel_miranda_head_turns.mp4 \
    | grep -q '"phase"' || { echo "run.sh: the clip was refused; the RSS after a clip would be wrong" >&2; exit 1; }
  RSS=$(awk '/VmHWM/{print $2}' /proc/$PID/status)
  NOW=$(awk '/VmRSS/{print $2}' /proc/$PID/status)
  cp /proc/$PID/smaps "$WORK/smaps-clip.$pipelines" 2>/dev/null || true
  kill $PID; wait $PID 2>/dev/null || true
  echo "$pipelines $IDLE $RSS $NOW" >> "$WORK/rss.txt"
done
mark rss

"$VENV/bin/python" - "$WORK" <<'PY'
import json, re, subprocess, sys
w = sys.argv[1]
load = lambda n: json.load(open(f"{w}/{n}"))
def la(section):  # the 1-minute load average at the section's start and end
    try:
        return "load " + " → ".join(open(f"{w}/load.{section}").read().split())
    except OSError:
        return "load n/a"
print()
print(f"run {open(f'{w}/date').read().strip()}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores")
print()
for name, label in (("photos", "fixture JPEGs (obama, obama2, obama3, biden; DCT-scaled decode)"), ("frames", "640x480 video frames")):
    o, p, f = load(f"{name}.ours.json"), load(f"{name}.peer.json"), load(f"{name}.floor.json")
    print(f"{label}: medians in ms over {o['samples']} samples; ours OpenCV {o['opencv']}, peer OpenCV {p['opencv']}, floor OpenCV {f['opencv']}; {la(name)}")
    print()
    print("| stage | ours | peer (Python) | floor (C++) | ours / peer | ours over floor |")
    print("|---|---|---|---|---|---|")
    for stage in ("decode", "detect", "embed", "compare", "total"):
        a, b, c = o[stage], p[stage], f[stage]
        print(f"| {stage} | {a:.3f} | {b:.3f} | {c:.3f} | {a / b:.2f} | {(a / c - 1) * 100:+.1f}% |")
    print()
to, tp = load("tp.ours.json"), load("tp.peer.json")
print(f"throughput (fixture JPEGs): ours {to['images_per_second']:.1f} images/s with 2 pipelines; "
      f"peer {tp['images_per_second']:.1f} images/s in one process; ratio {to['images_per_second'] / tp['images_per_second']:.2f}; {la('tp')}")
print()
print(open(f"{w}/liveness.txt").read().strip())
print(f"({la('liveness')})")
print()
median = lambda xs: sorted(xs)[len(xs) // 2] if len(xs) % 2 else sum(sorted(xs)[len(xs) // 2 - 1:len(xs) // 2 + 1]) / 2
times = lambda n: [float(x) for x in open(f"{w}/{n}").read().split()]
ours, peer, help_, tomain = times("verify.ours"), times("verify.peer"), times("help"), times("tomain")
print("| process | median s | runs | load during the runs |")
print("|---|---|---|---|")
print(f"| tulga verify obama.jpg obama2.jpg | {median(ours):.3f} | {len(ours)} | {la('verify')} |")
print(f"| peer.py --verify (opencv-python) | {median(peer):.3f} | {len(peer)} | (alternating with the row above) |")
print(f"| ratio tulga / peer | {median(ours) / median(peer):.2f} | | |")
print(f"| tulga --help | {median(help_):.4f} | {len(help_)} | {la('help')} |")
if tomain:
    print(f"| time to main (exec to main, tulga --help) | {median(tomain):.4f} | {len(tomain)} | (alternating with the row above) |")
print()
ldso = open(f'{w}/ldso').read().strip()
mhz = [float(l.split(":")[1]) for l in open("/proc/cpuinfo") if l.startswith("cpu MHz")]
if ldso.endswith("cycles") and mhz:  # the loader counts TSC cycles; /proc/cpuinfo's clock converts them roughly
    ldso += f" (≈ {int(ldso.split()[0]) / (mhz[0] * 1e6) * 1000:.1f} ms at {mhz[0]:.0f} MHz)"
print(f"dynamic loader before main (LD_DEBUG=statistics): {ldso or 'n/a'}, "
      f"{open(f'{w}/relocs').read().strip() or 'n/a'} relocations; libraries ldd lists for tulga: {open(f'{w}/libs').read().strip()}")
# callgrind_annotate --inclusive=yes: "N (pct)  file:function [object]"
ir = {}
for line in open(f"{w}/ir"):
    m = re.match(r"^\s*([\d,]+) \(.*?\)\s+(.*)$", line)
    if not m:
        continue
    n, rest = int(m.group(1).replace(",", "")), m.group(2)
    if rest.startswith("PROGRAM TOTALS"):
        ir["total"] = n
    f = re.match(r"^(?:.*):([^: \[]+)(?: \[(.*)\])?$", rest)
    if f:
        fn, obj = f.group(1), f.group(2) or ""
        key = {"_dl_start": "loader", "_dl_init": "init", "_dl_relocate_object": "reloc"}.get(fn)
        if key and key not in ir:
            ir[key] = n
if "total" in ir and "loader" in ir:
    t, pre = ir["total"], ir["loader"] + ir.get("init", 0)
    print()
    print(f"instructions (callgrind, independent of the load): tulga --help {t / 1e6:.1f} M in all; before main {pre / 1e6:.1f} M "
          f"(the loader {ir['loader'] / 1e6:.1f} M, of which relocation {ir.get('reloc', 0) / 1e6:.1f} M; the libraries' constructors "
          f"{ir.get('init', 0) / 1e6:.1f} M); main (parse, print) and exit {(t - pre) / 1e6:.1f} M")
print()
print("| tulga serve | peak RSS, models loaded (MiB) | peak RSS after one clip (MiB) | RSS after the clip (MiB) |")
print("|---|---|---|---|")
for line in open(f"{w}/rss.txt").read().splitlines():
    n, idle, peak, now = line.split()
    print(f"| {n} pipeline{'s' if n != '1' else ''} | {int(idle) / 1024:.1f} | {int(peak) / 1024:.1f} | {int(now) / 1024:.1f} |")
print()
print(f"({la('rss')})")
PY
# Where the resident memory of `tulga serve` with 2 pipelines is, loaded and after the clip.
for when in loaded clip; do
  [ -s "$WORK/smaps-$when.2" ] || continue
  printf '\n`tulga serve`, 2 pipelines, %s (/proc/PID/smaps, Benchmarks/smaps.py):\n\n' "$([ $when = loaded ] && echo 'models loaded' || echo 'after the clip')"
  "$VENV/bin/python" Benchmarks/smaps.py "$WORK/smaps-$when.2" 10 "$WORK/video-libs"
done
