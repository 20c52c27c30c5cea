#!/usr/bin/env bash
# Where the face models' heap goes: valgrind's massif over Benchmarks/models-heap.cpp, which builds
# the models as `tulga serve` does with PIPELINES (default 2) pipelines (one SFace from its packed
# copy, or from the model itself with PLAIN=1; one YuNet each,
# malloc_trim after each, a first forward of each) on the same Debian OpenCV 4.6. valgrind 3.19
# crashes in the Swift process itself (libdispatch's worker threads; it also cannot read swiftc's
# DWARF 5), so the rest of `tulga serve` is measured by smaps in run.sh. Prints the heap (bytes
# malloc handed out, as massif counts them) at its peak and at the end, each with its allocation
# sites down to 2% of it. Takes a few minutes. Run from the repository root; needs valgrind (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "massif: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
PIPELINES=${PIPELINES:-2}
WORK=$(mktemp -d /tmp/tulga-massif.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
g++ -O2 -std=c++17 Benchmarks/models-heap.cpp Sources/CTulgaVision/pack.cpp -ISources/CTulgaVision/include \
  $(pkg-config --cflags --libs tulga-vision) -lcrypto -o "$WORK/models-heap"
PLAIN_ARG=(); [ "${PLAIN:-0}" = 1 ] && PLAIN_ARG=(plain)
"$WORK/models-heap" Models "$PIPELINES" "${PLAIN_ARG[@]}" >/dev/null  # makes the packed copy, outside massif
valgrind --tool=massif --massif-out-file="$WORK/massif.out" --time-unit=ms --detailed-freq=1 --max-snapshots=200 \
  "$WORK/models-heap" Models "$PIPELINES" "${PLAIN_ARG[@]}" 2>"$WORK/valgrind.log"
echo "massif: models-heap Models $PIPELINES ${PLAIN_ARG[*]:-(packed SFace)}; $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1 /proc/loadavg)"
echo
python3 - "$WORK/massif.out" <<'PY'
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
show("peak", peak)
show("loaded and run once (the last snapshot)", snaps[-1])
PY
