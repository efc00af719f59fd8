#!/usr/bin/env python3
"""Memory soak: perflab at a fixed arrival rate for a long run, sampling its resident memory.

HdrHistograms are fixed-size whatever the run length, so the harness's RSS should be flat after
the first seconds. Prints RSS every 30 s, then the first, last and largest sample.

Usage: scripts/soak.py [--minutes 10] [--rate 2000]   (`just soak` builds release binaries first)
"""

import argparse
import os
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--rate", type=int, default=2000)
    args = p.parse_args()
    data = tempfile.mkdtemp(prefix="perflab-soak-")
    service = subprocess.Popen([os.path.join(RELEASE, "reference-app"), "--listen", "127.0.0.1:0", "--data-dir", data],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = service.stdout.readline().strip().removeprefix("listening on ")
        urllib.request.urlopen(urllib.request.Request(base + "/store/soak", data=b"v", method="PUT")).read()
        out = tempfile.mkdtemp(prefix="perflab-soak-report-")
        seconds = int(args.minutes * 60)
        harness = subprocess.Popen([os.path.join(RELEASE, "perflab"), "run", base + "/store/soak", "--rate", str(args.rate),
                                    "-d", f"{seconds}s", "-q", "--out", out], stdout=subprocess.DEVNULL)
        samples = []
        started = time.time()
        while harness.poll() is None:
            time.sleep(1)
            try:
                rss = rss_kib(harness.pid)
            except FileNotFoundError:
                break
            if rss == 0:  # the process is exiting: no longer a meaningful sample
                break
            samples.append((time.time() - started, rss))
            if len(samples) % 30 == 0:
                print(f"  {samples[-1][0]:6.0f} s  RSS {samples[-1][1] / 1024:7.1f} MiB", flush=True)
        steady = [s for s in samples if s[0] > 10] or samples
        print(f"\nperflab at {args.rate}/s for {seconds} s: RSS at 10 s {steady[0][1] / 1024:.1f} MiB, "
              f"at the end {steady[-1][1] / 1024:.1f} MiB, largest {max(s[1] for s in samples) / 1024:.1f} MiB "
              f"({len(samples)} samples); report in {out}")
    finally:
        service.terminate()
        service.wait(timeout=15)


if __name__ == "__main__":
    main()
