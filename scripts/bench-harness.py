#!/usr/bin/env python3
"""perflab's URL mode against wrk, on the same endpoint of the reference service.

Alternates wrk and perflab several times (so drift hits both), and prints each one's throughput
and client CPU per request (user + system time of the load generator process, from its rusage),
then the ratios. Goal: perflab >= 0.9x wrk's throughput at <= 1.5x its CPU per request.

Usage: scripts/bench-harness.py [--rounds 4] [--duration 5] [--connections 16]
(`just bench-harness` builds the release binaries first.)
"""

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")


def run_measured(cmd):
    """Runs cmd, returns (stdout, cpu seconds used by it and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, cpu


def wrk(url, args):
    out, cpu = run_measured(["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency", url])
    total = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps, cpu / total, total


def perflab(url, args, out_dir):
    cmd = [os.path.join(RELEASE, "perflab"), "run", url, "-c", str(args.connections), "-d", f"{args.duration}s",
           "--threads", "1", "-q", "--out", out_dir]
    _, cpu = run_measured(cmd)
    with open(os.path.join(out_dir, "report.json")) as f:
        s = json.load(f)["variants"][0]["summary"]
    return s["throughput"], cpu / s["requests"], s["requests"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--connections", type=int, default=16)
    args = p.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    data = tempfile.mkdtemp(prefix="perflab-bench-")
    service = subprocess.Popen([os.path.join(RELEASE, "reference-app"), "--listen", "127.0.0.1:0", "--data-dir", data],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = service.stdout.readline().strip().removeprefix("listening on ")
        req = urllib.request.Request(base + "/store/bench", data=b"value", method="PUT")
        urllib.request.urlopen(req).read()
        url = base + "/store/bench"
        print(f"target: GET {url} (reference-app, store=global-mutex), {args.connections} connections, "
              f"{args.duration}s per run, one load-generator thread each, {os.cpu_count()} cores shared with the service\n")
        rows = []
        for r in range(args.rounds):
            order = ["wrk", "perflab"] if r % 2 == 0 else ["perflab", "wrk"]
            for tool in order:
                out_dir = tempfile.mkdtemp(prefix="perflab-bench-report-")
                rps, cpu, n = wrk(url, args) if tool == "wrk" else perflab(url, args, out_dir)
                rows.append((tool, rps, cpu))
                print(f"  round {r + 1}  {tool:<8} {rps:>10.0f} req/s   {cpu * 1e6:6.2f} µs CPU/request   ({n} requests)")
                time.sleep(0.5)
        mean = lambda tool, i: sum(row[i] for row in rows if row[0] == tool) / args.rounds
        thr = mean("perflab", 1) / mean("wrk", 1)
        cpu = mean("perflab", 2) / mean("wrk", 2)
        # The machine's speed drifts between runs; the two runs of a round are neighbours in
        # time, so their ratio is the steadier figure.
        by_round = [(rows[2 * r], rows[2 * r + 1]) for r in range(args.rounds)]
        pick = lambda pair, tool: pair[0] if pair[0][0] == tool else pair[1]
        median = lambda v: sorted(v)[len(v) // 2] if len(v) % 2 else sum(sorted(v)[len(v) // 2 - 1:len(v) // 2 + 1]) / 2
        thr_med = median([pick(p, "perflab")[1] / pick(p, "wrk")[1] for p in by_round])
        cpu_med = median([pick(p, "perflab")[2] / pick(p, "wrk")[2] for p in by_round])
        print(f"\nperflab / wrk, ratio of means:           throughput {thr:.2f}x, client CPU per request {cpu:.2f}x")
        print(f"perflab / wrk, median of per-round ratios: throughput {thr_med:.2f}x, client CPU per request {cpu_med:.2f}x")
        print("(goal: >= 0.90x throughput at <= 1.50x CPU)")
    finally:
        service.terminate()
        service.wait(timeout=15)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
