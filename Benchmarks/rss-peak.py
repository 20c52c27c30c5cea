"""Catches a process's resident memory at its peak: polls /proc/PID/status every millisecond or so and,
each time VmRSS passes its highest value by at least 256 KiB, keeps a copy of /proc/PID/smaps as OUT.
Runs until the process ends or SIGTERM; then prints "peak VmRSS KiB, RssAnon KiB, RssFile KiB".
Summarise OUT with smaps.py. The copy is taken just after the sample, so it can miss a spike shorter
than a few milliseconds; VmHWM (the kernel's own high-water mark) stays the figure to quote.

Usage: rss-peak.py PID OUT
"""
import signal
import sys
import time


def fields(pid):
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                values[key] = int(rest.split()[0])
    return values


def main():
    pid, out = sys.argv[1], sys.argv[2]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    best = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
    while not stop:
        try:
            now = fields(pid)
            if now.get("VmRSS", 0) >= best["VmRSS"] + 256:
                with open(f"/proc/{pid}/smaps") as f:
                    text = f.read()
                with open(out, "w") as f:
                    f.write(text)
                best = now
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.001)
    print(best.get("VmRSS", 0), best.get("RssAnon", 0), best.get("RssFile", 0))


if __name__ == "__main__":
    main()
