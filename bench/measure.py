#!/usr/bin/env python3
"""Measures diffai against `cat` and the Python baseline and prints the table (see README.md).

    python3 bench/measure.py [--bin target/release/diffai] [--data bench/data] [--runs 5]

Expects DATA/f32 and DATA/bf16, each with old.safetensors and new.safetensors (bench/run.sh
builds and generates them). Every timed command runs once to warm up (the page cache holds all
files afterwards), then the best of --runs runs is kept.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)

# Targets per pair: diffai/cat at most, baseline/diffai at least.
CAT_RATIO_MAX = {"f32": 0.7, "bf16": 0.9}
BASELINE_RATIO_MIN = {"f32": 20.0, "bf16": 30.0}
THREAD_SPEEDUP_MIN = 1.8
PRIVATE_MIB_MAX = 64.0
TINY_MS_MAX = 10.0


def run_once(cmd, env=None):
    """Seconds taken by cmd (stdout to /dev/null); fails loudly on exit status 2 or worse."""
    started = time.perf_counter()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, env=env).returncode
    elapsed = time.perf_counter() - started
    if rc not in (0, 1):
        sys.exit(f"measure: {' '.join(cmd)} exited with {rc}")
    return elapsed


def best_of(cmd, runs, env=None):
    run_once(cmd, env)  # warm-up
    return min(run_once(cmd, env) for _ in range(runs))


def peak_memory(cmd, interval=0.001):
    """(peak RssAnon MiB sampled every `interval` s, max RSS MiB from wait4) of one run of cmd."""
    actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
    pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=actions)
    peak_kib = 0
    while True:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        peak_kib = max(peak_kib, int(line.split()[1]))
                        break
        except (FileNotFoundError, ProcessLookupError):
            pass
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        time.sleep(interval)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"measure: {' '.join(cmd)} failed")
    return peak_kib / 1024, usage.ru_maxrss / 1024


def tiny_files_ms(diffai, runs):
    """Mean wall time in ms of diffai on the two small example files, and the tool used."""
    old = os.path.join(ROOT, "examples", "simple_model_v1.safetensors")
    new = os.path.join(ROOT, "examples", "simple_model_v2.safetensors")
    cmd = [diffai, old, new, "-o", "json"]
    if shutil.which("hyperfine"):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "h.json")
            subprocess.run(
                ["hyperfine", "-N", "-i", "--warmup", "3", "--runs", str(runs),
                 "--export-json", out, " ".join(cmd)],
                stdout=subprocess.DEVNULL, check=True,
            )
            with open(out) as f:
                return json.load(f)["results"][0]["mean"] * 1e3, "hyperfine"
    run_once(cmd)
    return sum(run_once(cmd) for _ in range(runs)) / runs * 1e3, "python"


def verdict(ok):
    return "PASS" if ok else "FAIL"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "diffai"))
    ap.add_argument("--data", default=os.path.join(BENCH, "data"))
    ap.add_argument("--runs", type=int, default=5, help="timed runs of cat and diffai (best kept)")
    ap.add_argument("--baseline-runs", type=int, default=3, help="timed runs of the baseline")
    ap.add_argument("--mem-runs", type=int, default=3, help="sampled runs (max kept)")
    ap.add_argument("--tiny-runs", type=int, default=20)
    args = ap.parse_args()

    # Unset for the baseline only: they pick older, slower OpenBLAS kernels (see the env notes).
    baseline_env = {k: v for k, v in os.environ.items()
                    if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    rows = []

    def row(pair, what, value, target="", ok=None):
        rows.append((pair, what, value, target, "" if ok is None else verdict(ok)))
        print(f"  {pair:5} {what}: {value}", file=sys.stderr, flush=True)

    for pair in ("f32", "bf16"):
        old = os.path.join(args.data, pair, "old.safetensors")
        new = os.path.join(args.data, pair, "new.safetensors")
        size = os.path.getsize(old) + os.path.getsize(new)
        diffai = [args.bin, old, new, "-o", "json"]
        row(pair, "old + new size", f"{size / 1e9:.3f} GB")

        t_cat = best_of(["cat", old, new], args.runs)
        t_diffai = best_of(diffai, args.runs)
        ratio = t_diffai / t_cat
        row(pair, "cat old new > /dev/null", f"{t_cat:.3f} s")
        row(pair, "diffai -o json", f"{t_diffai:.3f} s")
        row(pair, "diffai / cat", f"{ratio:.2f}", f"<= {CAT_RATIO_MAX[pair]}",
            ratio <= CAT_RATIO_MAX[pair])
        row(pair, "diffai throughput", f"{size / t_diffai / 1e9:.2f} GB/s")
        row(pair, "cat throughput", f"{size / t_cat / 1e9:.2f} GB/s")

        baseline = [sys.executable, os.path.join(BENCH, "baseline.py"), old, new]
        t_base = best_of(baseline, args.baseline_runs, env=baseline_env)
        speedup = t_base / t_diffai
        row(pair, "python baseline", f"{t_base:.2f} s")
        row(pair, "baseline / diffai", f"{speedup:.1f}x", f">= {BASELINE_RATIO_MIN[pair]:.0f}x",
            speedup >= BASELINE_RATIO_MIN[pair])

        t1 = best_of(diffai + ["--threads", "1"], args.runs)
        t2 = best_of(diffai + ["--threads", "2"], args.runs)
        row(pair, "diffai --threads 1", f"{t1:.3f} s")
        row(pair, "diffai --threads 2", f"{t2:.3f} s")
        row(pair, "speed-up 1 -> 2 threads", f"{t1 / t2:.2f}x", f">= {THREAD_SPEEDUP_MIN}x",
            t1 / t2 >= THREAD_SPEEDUP_MIN)

        samples = [peak_memory(diffai) for _ in range(args.mem_runs)]
        anon = max(s[0] for s in samples)
        rss = max(s[1] for s in samples)
        row(pair, "peak private (RssAnon)", f"{anon:.1f} MiB", f"<= {PRIVATE_MIB_MAX:.0f} MiB",
            anon <= PRIVATE_MIB_MAX)
        row(pair, "max RSS (incl. mapped files)", f"{rss:.0f} MiB")

    ms, tool = tiny_files_ms(args.bin, args.tiny_runs)
    row("tiny", f"examples v1 vs v2, mean of {args.tiny_runs} ({tool})", f"{ms:.2f} ms",
        f"<= {TINY_MS_MAX:.0f} ms", ms <= TINY_MS_MAX)

    widths = [max(len(r[i]) for r in rows + [("pair", "measure", "value", "target", "result")])
              for i in range(5)]
    header = ("pair", "measure", "value", "target", "result")
    print()
    for r in [header, tuple("-" * w for w in widths)] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    failed = sum(r[4] == "FAIL" for r in rows)
    print(f"\n{sum(r[4] == 'PASS' for r in rows)} targets met, {failed} missed")


if __name__ == "__main__":
    main()
