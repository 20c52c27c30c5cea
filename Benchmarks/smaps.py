"""Where a process's resident memory is: a copy of /proc/PID/smaps summed by kind and by mapping.

Usage: smaps.py SMAPS_FILE [TOP] [VIDEO_LIBS]
Prints a Markdown table of Rss (MiB) by kind (the heap and anonymous memory, the executable, OpenCV,
the Swift runtime and Foundation, the libraries only libTulgaVideo.so brings (VIDEO_LIBS: a file of their
file names, one a line), other libraries, other files), each split into
file-backed clean pages and dirty or anonymous pages, then the TOP (default 12) largest mappings.
"""
import collections
import os
import re
import sys


VIDEO = set()


def kind(name):
    base = os.path.basename(name)
    if name in ("", "[heap]") or name.startswith("[anon"):
        return "heap and anonymous (malloc arenas, thread stacks, model weights and buffers)"
    if name.startswith("["):
        return "kernel ([stack], [vdso], [vvar])"
    if base == "tulga" or base == "tulga-bench":
        return "the executable (Swift code, all modules linked statically)"
    if base in VIDEO or base == "libTulgaVideo.so":
        return "libraries only the video library brings (libTulgaVideo.so: FFmpeg and its closure)"
    if base.startswith("libopencv_"):
        return "OpenCV (dnn, objdetect, imgproc, core)"
    if base.startswith(("libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime", "lib_FoundationICU", "libicu")):
        return "Swift runtime, Foundation and ICU"
    if ".so" in base:
        return "other shared libraries"
    return "other files"


def main():
    path, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 12
    if len(sys.argv) > 3:
        VIDEO.update(line.strip() for line in open(sys.argv[3]) if line.strip())
    by_kind = collections.defaultdict(lambda: [0, 0, 0])  # rss, clean file pages, dirty or anonymous
    by_name = collections.Counter()
    name, fields = None, {}

    def flush():
        if name is None:
            return
        rss = fields.get("Rss", 0)
        clean = fields.get("Shared_Clean", 0) + fields.get("Private_Clean", 0)
        k = kind(name)
        by_kind[k][0] += rss
        by_kind[k][1] += clean
        by_kind[k][2] += rss - clean
        by_name[name or "[anon]"] += rss

    for line in open(path):
        head = line.split()
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            flush()
            name, fields = (head[5] if len(head) > 5 else ""), {}
        elif len(head) >= 2 and head[0].endswith(":") and head[1].isdigit():
            fields[head[0][:-1]] = int(head[1])
    flush()
    total = sum(v[0] for v in by_kind.values())
    mib = lambda kb: f"{kb / 1024:.1f}"
    print("| resident memory by kind | Rss MiB | file-backed clean | dirty or anonymous |")
    print("|---|---|---|---|")
    for k, (rss, clean, dirty) in sorted(by_kind.items(), key=lambda kv: -kv[1][0]):
        print(f"| {k} | {mib(rss)} | {mib(clean)} | {mib(dirty)} |")
    print(f"| total | {mib(total)} | {mib(sum(v[1] for v in by_kind.values()))} | {mib(sum(v[2] for v in by_kind.values()))} |")
    print()
    print("| largest mappings | Rss MiB |")
    print("|---|---|")
    for n, rss in by_name.most_common(top):
        print(f"| {os.path.basename(n) if n.startswith('/') else n} | {mib(rss)} |")


if __name__ == "__main__":
    main()
