#!/usr/bin/env python3
"""Where the coverage edges a fuzzing run found after loading its corpus are in the source.

    fuzz/new-edges.py LOG BINARY [TSV]

LOG is the output of a run with -print_pcs=1 (campaign.sh writes one), BINARY the fuzz target
that ran (fuzz/target/x86_64-unknown-linux-gnu/release/TARGET, not rebuilt since). libFuzzer
prints each new edge's address in the running process and its innermost source frame, which is
often standard-library code inlined into a caller; this script finds where the process was
loaded (the page-aligned base at which llvm-symbolizer gives the printed frames back), then
counts each edge for the innermost frame, in its inlining chain, that is not the standard
library: a file of diffai's own crates or a dependency (by crate). Edges whose whole chain is
the standard library count as "std"; edges in hashbrown's probing (std's HashMap, and the tables
of indexmap and lru) as "hash tables": which of those branches run depends on hash keys that are
random per map or per process, so they come from chance, not from the input alone. Needs
llvm-symbolizer.

With TSV, campaign.sh's once-a-minute coverage samples (unix time, runs, cov, ft), it also
tells how long before the end the last edge outside "hash tables" came, and whether that is
10 minutes or more (plateaued on the input's own ground, whatever chance still adds).
"""

import collections
import os
import re
import subprocess
import sys

PAGE = 0x1000  # bytes; a position-independent executable is loaded at a page boundary
CHECKED_EDGES = 8  # printed frames a base must give back (one usually leaves a single candidate)
PLATEAU_MINUTES = 10  # the README's rule: no new edge in the last 10 minutes of a run
CHANCE = "hash tables"  # hashbrown probing: keyed by random hash keys, so chance


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
    if "/hashbrown-" in location:  # std's copy (/rust/deps/) or a dependency's (registry)
        return CHANCE
    if location.startswith("/rustc/") or "/rust/deps/" in location:
        return "std"
    crate = re.search(r"registry/src/[^/]+/([^/]+?)-\d[^/]*/", location)
    if crate:
        return crate.group(1)
    own = re.search(r"crates/diffai[a-z-]*/src/([^:]+)", location)
    return "diffai " + own.group(1) if own else "other"


def read_log(log):
    """The new edges after the corpus loaded: (address, printed frame, run that found it).
    libFuzzer prints an input's NEW_PC lines just before the "#RUNS NEW ..." line."""
    edges, pending, loaded = [], [], False
    with open(log, errors="replace") as f:
        for line in f:
            loaded = loaded or "INITED" in line
            m = re.search(r"NEW_PC: 0x([0-9a-f]+) in .* (/\S+)$", line.rstrip())
            if loaded and m:
                pending.append((int(m.group(1), 16), m.group(2)))
            run = re.match(r"#(\d+)\s", line)
            if run and pending:
                edges += [(pc, where, int(run.group(1))) for pc, where in pending]
                pending = []
    return edges + [(pc, where, sys.maxsize) for pc, where in pending]  # after the last line


def quiet_minutes(tsv, run):
    """Minutes from the first sample at or after RUN (the minute its edge was seen) to the last."""
    samples = [tuple(map(int, line.split()[:2])) for line in open(tsv) if line.strip()]
    end = samples[-1][0]
    seen = next((t for t, runs in samples if runs >= run), end)
    return (end - seen) / 60


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: new-edges.py LOG BINARY [TSV]")
    log, binary = sys.argv[1:3]
    edges = read_log(log)
    if not edges:
        print("no new edges after the corpus loaded")
        return
    base = load_base(binary, [(pc, where) for pc, where, _ in edges])
    counts = collections.Counter()
    last_own = 0  # run of the last edge that is not chance
    frames_of = symbolize(binary, [pc - base for pc, _, _ in edges], inlines=True)
    for (_, _, run), frames in zip(edges, frames_of):
        name = next((o for o in map(owner, frames[1::2]) if o != "std"), "std")
        counts[name] += 1
        if name != CHANCE:
            last_own = max(last_own, run)
    for name, n in counts.most_common():
        print(f"{n:6d} new edges in {name}")
    if len(sys.argv) == 4:
        quiet = quiet_minutes(sys.argv[3], last_own)
        verdict = "plateaued" if quiet >= PLATEAU_MINUTES else "still growing"
        print(f"last new edge outside {CHANCE}: {quiet:.0f} min before the end: {verdict}")


if __name__ == "__main__":
    main()
