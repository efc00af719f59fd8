#!/usr/bin/env python3
"""What `--profile` costs the service it measures: the same endpoint as two variants, one
profiled and one not, in perflab's own paired, interleaved rounds. The throughput and p99
intervals of "profiled vs unprofiled" are the profiler's cost, with the same statistics as any
other verdict (inconclusive when the cost is below this machine's noise floor).

Usage: scripts/bench-profiler.py [--repeats 3] [--connections 8] [--frequency 99]
(`just bench-profiler` builds the release binaries first.)
"""

import argparse
import json
import os
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")

ENDPOINTS = [
    ("GET /store/k (global-mutex)", "/store/k"),
    ("GET /codec/users?count=20 (json)", "/codec/users?count=20"),
]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--frequency", type=int, default=99)
    args = p.parse_args()
    data = tempfile.mkdtemp(prefix="perflab-bench-profiler-")
    service = subprocess.Popen([os.path.join(RELEASE, "reference-app"), "--listen", "127.0.0.1:0", "--data-dir", data],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = service.stdout.readline().strip().removeprefix("listening on ")
        subprocess.run(["curl", "-s", "-X", "PUT", f"{base}/store/k", "-d", "value"], check=True,
                       capture_output=True)
        print(f"{args.connections} VUs, profiler at {args.frequency} Hz, {args.repeats} runs per endpoint, "
              "adaptive rounds (perflab's defaults)\n")
        print(f"{'endpoint':36} {'samples':>8}  {'throughput profiled/unprofiled':34}  p99 profiled/unprofiled")
        for label, path in ENDPOINTS:
            url = base + path
            for _ in range(args.repeats):
                with tempfile.TemporaryDirectory() as out:
                    subprocess.run([os.path.join(RELEASE, "perflab"), "run", url, url,
                                    "--names", "unprofiled", "profiled", "-c", str(args.connections),
                                    "--profile", "--profile-variants", "profiled",
                                    "--profile-frequency", str(args.frequency), "-q", "--out", out],
                                   check=True, capture_output=True)
                    with open(os.path.join(out, "report.json")) as f:
                        r = json.load(f)
                metrics = {m["metric"]: m for m in r["comparisons"][0]["metrics"]}
                samples = r["profiles"]["variants"][0]["samples"]

                def show(name):
                    m = metrics[name]
                    iv = m["interval"]
                    return f"{iv['estimate']:.3f} [{iv['low']:.3f}, {iv['high']:.3f}] {m['verdict']}"
                print(f"{label:36} {samples:>8}  {show('throughput'):34}  {show('p99')}")
    finally:
        service.terminate()
        service.wait()


if __name__ == "__main__":
    main()
