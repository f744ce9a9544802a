#!/usr/bin/env python3
"""Where the coverage edges a fuzzing run found after loading its corpus are in the source.

    fuzz/new-edges.py LOG BINARY

LOG is the output of a run with -print_pcs=1 (campaign.sh writes one), BINARY the fuzz target
that ran (fuzz/target/x86_64-unknown-linux-gnu/release/TARGET, not rebuilt since). libFuzzer
prints each new edge's address in the running process and its innermost source frame, which is
often standard-library code inlined into a caller; this script finds where the process was
loaded (the page-aligned base at which llvm-symbolizer gives the printed frames back), then
counts each edge for the innermost frame, in its inlining chain, that is not the standard
library: a file of diffai's own crates or a dependency (by crate). Edges whose whole chain is
the standard library count as "std"; edges in the standard library's HashMap probing as
"std HashMap": which of those branches run depends on hash keys that are random per map, so
they come from chance, not from the input alone. Needs llvm-symbolizer.
"""

import collections
import os
import re
import subprocess
import sys

PAGE = 0x1000  # bytes; a position-independent executable is loaded at a page boundary
CHECKED_EDGES = 8  # printed frames a base must give back (one usually leaves a single candidate)


def symbolize(binary, offsets, inlines=False):
    """The symbolizer's frames (lines of "function" then "file:line:col") per offset."""
    args = ["llvm-symbolizer", "--obj=" + binary] + (["--inlines"] if inlines else [])
    text = "".join(f"{off:#x}\n" for off in offsets)
    out = subprocess.run(args, input=text, capture_output=True, text=True, check=True).stdout
    return [block.split("\n") for block in out.strip("\n").split("\n\n")]


def load_base(binary, edges):
    """The base at which the checked edges' printed innermost frames (those with a line and a
    column; a few are printed with the file alone) are given back."""
    pc = edges[0][0]
    candidates = [pc - off for off in range(pc & (PAGE - 1), os.path.getsize(binary), PAGE)]
    exact = [(pc, where) for pc, where in edges if re.search(r":\d+:\d+$", where)]
    for pc, where in exact[:CHECKED_EDGES]:
        frames = symbolize(binary, [pc - base for base in candidates])
        candidates = [b for b, f in zip(candidates, frames) if len(f) > 1 and f[1] == where]
    if len(candidates) != 1:
        sys.exit(f"new-edges.py: {len(candidates)} load bases fit {binary}; is it the binary that ran?")
    return candidates[0]


def owner(location):
    """Who a source location belongs to."""
    if "/rust/deps/hashbrown" in location:
        return "std HashMap"
    if location.startswith("/rustc/") or "/rust/deps/" in location:
        return "std"
    crate = re.search(r"registry/src/[^/]+/([^/]+?)-\d[^/]*/", location)
    if crate:
        return crate.group(1)
    own = re.search(r"crates/diffai[a-z-]*/src/([^:]+)", location)
    return "diffai " + own.group(1) if own else "other"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: new-edges.py LOG BINARY")
    log, binary = sys.argv[1:]
    edges, loaded = [], False
    with open(log, errors="replace") as f:
        for line in f:
            loaded = loaded or "INITED" in line
            m = re.search(r"NEW_PC: 0x([0-9a-f]+) in .* (/\S+)$", line.rstrip())
            if loaded and m:
                edges.append((int(m.group(1), 16), m.group(2)))
    if not edges:
        print("no new edges after the corpus loaded")
        return
    base = load_base(binary, edges)
    counts = collections.Counter()
    for frames in symbolize(binary, [pc - base for pc, _ in edges], inlines=True):
        owners = [owner(where) for where in frames[1::2]]
        inner = owners[0]
        counts[inner if inner == "std HashMap" else next((o for o in owners if o != "std"), "std")] += 1
    for name, n in counts.most_common():
        print(f"{n:6d} new edges in {name}")


if __name__ == "__main__":
    main()
