#!/usr/bin/env python3
"""Checks the invariants of ARCHITECTURE.md that a tool can check (run by `just lint`).

1. Crate boundaries, from `cargo metadata` (normal dependencies, transitively):
   the load crate has no plugin host and no wasmtime; analysis has no runtime, network or
   wasmtime (it does no I/O); the report has no plugin host, services or wasmtime; nothing
   depends on the `perflab` command-line crate.
2. No import cycle between the modules of any workspace crate: `use crate::a` in module b and
   `use crate::b` in module a (or a longer loop) is an error.
"""

import json
import os
import re
import subprocess
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# crate -> packages that must not be among its normal dependencies (transitively)
FORBIDDEN = {
    "perflab-load": ["wasmtime", "perflab-plugin-host", "perflab-analysis", "perflab-report"],
    "perflab-analysis": ["tokio", "hyper", "wasmtime", "perflab-load", "rustls", "tempfile"],
    "perflab-report": ["wasmtime", "perflab-plugin-host", "perflab-services"],
    "perflab-plugin-host": ["perflab-analysis", "perflab-report", "perflab-services"],
    "perflab-services": ["tokio", "wasmtime", "perflab-load"],
    "reference-app": ["wasmtime", "perflab-load", "perflab-plugin-host", "perflab"],
    # The workshop server stores and shows submitted reports: it measures nothing.
    "perflab-workshop": ["wasmtime", "perflab-load", "perflab-plugin-host", "perflab-services"],
}


def metadata():
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def check_crates(meta):
    errors = []
    names = {p["id"]: p["name"] for p in meta["packages"]}
    normal = defaultdict(set)
    anyk = defaultdict(set)
    for node in meta["resolve"]["nodes"]:
        for dep in node["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            anyk[node["id"]].add(dep["pkg"])
            if None in kinds:  # a normal (not dev, not build) dependency
                normal[node["id"]].add(dep["pkg"])

    def closure(pid):
        seen, stack = set(), [pid]
        while stack:
            for d in normal[stack.pop()]:
                if d not in seen:
                    seen.add(d)
                    stack.append(d)
        return {names[d] for d in seen}

    members = {names[m]: m for m in meta["workspace_members"]}
    for crate, banned in FORBIDDEN.items():
        if crate not in members:
            errors.append(f"{crate}: not a workspace member (update scripts/check-architecture.py)")
            continue
        deps = closure(members[crate])
        for b in banned:
            if b in deps:
                errors.append(f"{crate} depends on {b} (see ARCHITECTURE.md, invariants)")
    for pid, deps in anyk.items():
        if names[pid] != "perflab" and "perflab" in {names[d] for d in deps if d in members.values()}:
            errors.append(f"{names[pid]} depends on the perflab command-line crate")
    return errors, meta


MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([a-z_0-9]+)\s*;", re.M)
CRATE_PATH = re.compile(r"\bcrate::((?:[a-z_0-9]+::)*[a-z_0-9]+)")
USE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\};", re.S)


def modules(src):
    """module path (tuple) -> file, for every module file under src."""
    found = {}

    def walk(path, file):
        found[path] = file
        text = open(file, encoding="utf-8").read()
        base = os.path.dirname(file)
        stem = os.path.splitext(os.path.basename(file))[0]
        here = base if stem in ("lib", "main", "mod") else os.path.join(base, stem)
        for name in MOD_DECL.findall(text):
            for cand in (os.path.join(here, name + ".rs"), os.path.join(here, name, "mod.rs")):
                if os.path.isfile(cand):
                    walk(path + (name,), cand)
                    break

    for root in ("lib.rs", "main.rs"):
        f = os.path.join(src, root)
        if os.path.isfile(f):
            walk((), f)
    return found


COMMENT = re.compile(r"//[^\n]*")


def code_of(text):
    """The code a module depends through: comments (doc links) and the test module cut."""
    i = text.find("#[cfg(test)]")
    text = text if i < 0 else text[:i]
    return COMMENT.sub("", text)


def check_cycles(crate_dir):
    src = os.path.join(crate_dir, "src")
    mods = modules(src)
    edges = defaultdict(set)
    for path, file in mods.items():
        if not path:
            continue
        text = code_of(open(file, encoding="utf-8").read())
        refs = CRATE_PATH.findall(text)
        for group in USE_GROUP.findall(text):
            refs += [p.strip().split("::")[0] for p in group.split(",") if p.strip()]
        for ref in refs:
            parts = tuple(ref.split("::"))
            # The longest prefix that is a module: `crate::clients::http::X` -> clients::http.
            target = None
            for n in range(len(parts), 0, -1):
                if parts[:n] in mods:
                    target = parts[:n]
                    break
            if target and target != path and not path[: len(target)] == target and not target[: len(path)] == path:
                edges[path].add(target)
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(mods):
        if v and v not in index:
            visit(v)
    return [
        f"{os.path.relpath(crate_dir, ROOT)}: import cycle between modules "
        + " ↔ ".join(sorted("::".join(m) for m in comp))
        for comp in sccs
    ]


def main():
    meta = metadata()
    errors, meta = check_crates(meta)
    for m in meta["workspace_members"]:
        pkg = next(p for p in meta["packages"] if p["id"] == m)
        errors += check_cycles(os.path.dirname(pkg["manifest_path"]))
    if errors:
        print("architecture check failed:", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        sys.exit(1)
    print(f"architecture: crate boundaries hold, no module cycles in {len(meta['workspace_members'])} crates")


if __name__ == "__main__":
    main()
