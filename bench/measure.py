#!/usr/bin/env python3
"""Measures diffai against `cat` and the Python baselines and prints the table (see README.md).

    python3 bench/measure.py [--bin target/release/diffai] [--data bench/data] [--runs 5]
                             [--only f32,bf16,pt,npy,tiny,structured,analyses]

Expects DATA/f32 and DATA/bf16, each with old.safetensors and new.safetensors, DATA/f32 also
with old.pt and new.pt, the same weights saved by torch, DATA/npy with old.npy and new.npy and
the same arrays as old.safetensors and new.safetensors, and DATA/npz with old.npz and new.npz
(bench/run.sh builds and generates them).
Each pair's files are first evicted and read back once (see reset_page_cache); every timed command
then runs once to warm up, and the best of --runs runs is kept, counting only runs that no other
process on the machine competed with.
"""

import argparse
import json
import mmap
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)

# Targets per pair: diffai/cat at most, baseline/diffai at least.
CAT_RATIO_MAX = {"f32": 0.7, "bf16": 0.9}
BASELINE_RATIO_MIN = {"f32": 20.0, "bf16": 30.0}
THREAD_SPEEDUP_MIN = 1.8
# The .pt pair (same weights as the f32 safetensors pair): diffai on .pt / diffai on .safetensors
# at most, torch baseline / diffai on .pt at least.
PT_RATIO_MAX = 1.2
TORCH_BASELINE_RATIO_MIN = 10.0
# The .npy pair against the same array as single-tensor safetensors: diffai's time ratio at most.
NPY_RATIO_MAX = 1.1
# Structured data (issue 5): end-to-end throughput on the ~100 MB JSON pair, and the time for two
# directories of 10,000 small files.
JSON_MB_S_MIN = 150.0
DIR_SECONDS_MAX = 2.0
PRIVATE_MIB_MAX = 64.0
TINY_MS_MAX = 10.0
# The analyses that read the weights alone (ANALYSES.md, "Model-level analyses from the weights
# alone"), all enabled at once must cost at most this many plain diffs of the f32 pair (issue 6).
WEIGHT_ANALYSES = [
    "architecture-comparison", "param-efficiency-analysis", "memory-analysis",
    "inference-speed-estimate", "performance-impact-estimate", "quantization-analysis",
    "anomaly-detection", "gradient-analysis", "embedding-analysis", "similarity-matrix",
    "clustering-change", "attention-analysis", "head-importance", "attention-pattern-diff",
    "low-rank-analysis",
]
ANALYSES_RATIO_MAX = 3.0
BENCH_HEADS = 8

# A timed run counts only if other processes used at most this many cores meanwhile.
FOREIGN_MAX = 0.1


def busy_cpu_seconds():
    """CPU seconds spent busy so far on the whole machine (all cores, all processes)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(cmd, env=None):
    """(seconds, foreign cores) of one run of cmd with stdout to /dev/null. Foreign cores is the
    average CPU that other processes on the machine (e.g. a concurrent cargo build) used meanwhile.
    Fails loudly on exit status 2 or worse."""
    busy, mine = busy_cpu_seconds(), children_cpu_seconds()
    started = time.perf_counter()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, env=env).returncode
    elapsed = time.perf_counter() - started
    foreign = (busy_cpu_seconds() - busy) - (children_cpu_seconds() - mine)
    if rc not in (0, 1):
        sys.exit(f"measure: {' '.join(cmd)} exited with {rc}")
    return elapsed, max(foreign, 0.0) / elapsed


def best_of(cmd, runs, env=None, budget=90.0):
    """Best time of `runs` runs after one warm-up, using only runs during which other processes
    used at most FOREIGN_MAX cores. Retries contended runs (pausing a second) until `budget`
    seconds are spent; then falls back to the best run seen, flagged as contended.
    Returns (seconds, contended)."""
    run_once(cmd, env)  # warm-up
    clean, every = [], []
    deadline = time.monotonic() + budget
    while len(clean) < runs:
        t, foreign = run_once(cmd, env)
        every.append(t)
        if foreign <= FOREIGN_MAX:
            clean.append(t)
        elif time.monotonic() > deadline:
            break
        else:
            print(f"  (contended run: other processes used {foreign:.2f} cores; retrying)",
                  file=sys.stderr, flush=True)
            time.sleep(1.0)
    return (min(clean), False) if len(clean) == runs else (min(every), True)


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


def reset_page_cache(paths):
    """Evicts the files from the page cache and reads them back once, sequentially. Reading
    through readahead leaves large folios (2 MiB here), which mmap maps with one fault per 2 MiB;
    files just written, or partly evicted and faulted back page by page (this machine's DAMON pages
    out file pages idle for about a minute), sit in 4 KiB folios that cost both cat and, much more,
    diffai's mapping extra time. This puts every pair into the same, read-once state."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    subprocess.run(["cat", *paths], stdout=subprocess.DEVNULL, check=True)


def pmd_mapped_share(path):
    """Share of the file that a read-only mapping maps with 2 MiB entries (smaps FilePmdMapped)."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
        size = len(m)
        sum(m[i] for i in range(0, size, 4096))  # fault every page in
        real = os.path.realpath(path)
        rss = pmd = 0
        with open("/proc/self/smaps") as smaps:
            inside = False
            for line in smaps:
                if "-" in line.split()[0] and ":" not in line.split()[0]:
                    inside = line.rstrip().endswith(real)
                elif inside and line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif inside and line.startswith("FilePmdMapped:"):
                    pmd += int(line.split()[1])
    return pmd / rss if rss else 0.0


def tiny_files_ms(diffai, runs, budget=60.0):
    """(mean wall ms, tool, contended) of diffai on the two small example files. The whole series
    is redone (up to `budget` s) while other processes load the machine."""
    old = os.path.join(ROOT, "examples", "simple_model_v1.safetensors")
    new = os.path.join(ROOT, "examples", "simple_model_v2.safetensors")
    cmd = [diffai, old, new, "-o", "json"]
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "hyperfine.json")
    hyperfine = ["hyperfine", "-N", "-i", "--warmup", "3", "--runs", str(runs),
                 "--export-json", out, " ".join(cmd)]

    def series():
        if shutil.which("hyperfine"):
            subprocess.run(hyperfine, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=True)
            with open(out) as f:
                return json.load(f)["results"][0]["mean"] * 1e3, "hyperfine"
        run_once(cmd)
        return sum(run_once(cmd)[0] for _ in range(runs)) / runs * 1e3, "python"

    deadline = time.monotonic() + budget
    best = None
    while True:
        busy, mine, started = busy_cpu_seconds(), children_cpu_seconds(), time.perf_counter()
        ms, tool = series()
        elapsed = time.perf_counter() - started
        foreign = ((busy_cpu_seconds() - busy) - (children_cpu_seconds() - mine)) / elapsed
        best = min(best or (ms, tool), (ms, tool))
        if foreign <= FOREIGN_MAX:
            shutil.rmtree(tmp)
            return ms, tool, False
        if time.monotonic() > deadline:
            shutil.rmtree(tmp)
            return best[0], best[1], True
        time.sleep(1.0)


def npz_array_bytes(path):
    """Bytes of the arrays in an .npz (shape x item size from each member's .npy header), that
    is, what its members inflate to without their headers."""
    import numpy as np

    total = 0
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with z.open(info) as f:
                major, _ = np.lib.format.read_magic(f)
                read = (np.lib.format.read_array_header_1_0 if major == 1
                        else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read(f)
                count = 1
                for d in shape:
                    count *= d
                total += count * dtype.itemsize
    return total


# Inflates every member of the archives given as arguments, as numpy's np.load(...)[name] does
# (zipfile, one thread), discarding the bytes: the floor for reading a compressed .npz.
INFLATE_SCRIPT = """import sys, zipfile
for path in sys.argv[1:]:
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            z.read(name)
"""


def json_report(cmd):
    """diffai's parsed JSON report of one run of cmd (which must include -o json)."""
    done = subprocess.run(cmd, stdout=subprocess.PIPE)
    if done.returncode not in (0, 1):
        sys.exit(f"measure: {' '.join(cmd)} exited with {done.returncode}")
    return json.loads(done.stdout)


def comparable(report):
    """The parts of a diffai JSON report that must not depend on the file format, for the same
    tensors: the file blocks' tensor counts and sizes (not paths, formats, file sizes), the changes
    in path order (entries follow file order, which differs), the summary without `unchanged`
    (which also counts equal metadata entries: the safetensors pair has two, the .pt pair none),
    and everything else as is."""
    out = dict(report)
    for side in ("old", "new"):
        out[side] = {k: report[side][k] for k in ("tensors", "parameters", "tensor_bytes")}
    out["changes"] = sorted(report["changes"], key=lambda c: c["path"])
    out["summary"] = {k: v for k, v in report["summary"].items() if k != "unchanged"}
    return out


def first_difference(a, b, where="", rel=1e-12):
    """Where two parsed JSON values first differ (floats compared to `rel` relative), or None."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            close = a == b or abs(a - b) <= rel * max(abs(a), abs(b))
            return None if close else f"{where}: {a!r} != {b!r}"
        return f"{where}: {a!r} != {b!r}"
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{where}: keys {sorted(a.keys() ^ b.keys())} on one side only"
        for k in a:
            d = first_difference(a[k], b[k], f"{where}.{k}", rel)
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} != {len(b)} entries"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{where}[{i}]", rel)
            if d:
                return d
        return None
    return None if a == b else f"{where}: {a!r} != {b!r}"


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
    ap.add_argument("--only", default="f32,bf16,pt,npy,tiny,structured,analyses",
                    help="comma-separated sections to measure (default: all of "
                         "f32,bf16,pt,npy,tiny,structured)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if not only <= {"f32", "bf16", "pt", "npy", "tiny", "structured", "analyses"}:
        sys.exit("measure: --only takes f32, bf16, pt, npy, tiny, structured, analyses, "
                 f"not {args.only}")

    # A private copy, so that a concurrent `cargo build` cannot swap the binary mid-measurement.
    bindir = tempfile.mkdtemp(prefix="diffai-bench-")
    binary = os.path.join(bindir, "diffai")
    shutil.copy2(args.bin, binary)

    # Unset for the baseline only: they pick older, slower OpenBLAS kernels (see the env notes).
    baseline_env = {k: v for k, v in os.environ.items()
                    if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    rows = []

    def row(pair, what, value, target="", ok=None):
        rows.append((pair, what, value, target, "" if ok is None else verdict(ok)))
        print(f"  {pair:5} {what}: {value}", file=sys.stderr, flush=True)

    def secs(t, digits=3):
        return f"{t[0]:.{digits}f} s" + (" *" if t[1] else "")

    def flag(*ts):
        return " *" if any(t[1] for t in ts) else ""

    for pair in [p for p in ("f32", "bf16") if p in only]:
        old = os.path.join(args.data, pair, "old.safetensors")
        new = os.path.join(args.data, pair, "new.safetensors")
        size = os.path.getsize(old) + os.path.getsize(new)
        diffai = [binary, old, new, "-o", "json"]
        row(pair, "old + new size", f"{size / 1e9:.3f} GB")
        reset_page_cache([old, new])
        share = min(pmd_mapped_share(old), pmd_mapped_share(new))
        row(pair, "page cache mapped in 2 MiB pages", f"{100 * share:.0f} %")

        cat = best_of(["cat", old, new], args.runs)
        full = best_of(diffai, args.runs)
        ratio = full[0] / cat[0]
        row(pair, "cat old new > /dev/null", secs(cat))
        row(pair, "diffai -o json > /dev/null", secs(full))
        row(pair, "diffai / cat", f"{ratio:.2f}{flag(cat, full)}", f"<= {CAT_RATIO_MAX[pair]}",
            ratio <= CAT_RATIO_MAX[pair])
        row(pair, "diffai throughput", f"{size / full[0] / 1e9:.2f} GB/s")
        row(pair, "cat throughput", f"{size / cat[0] / 1e9:.2f} GB/s")

        baseline = [sys.executable, os.path.join(BENCH, "baseline.py"), old, new]
        base = best_of(baseline, args.baseline_runs, env=baseline_env, budget=180.0)
        speedup = base[0] / full[0]
        row(pair, "python baseline", secs(base, 2))
        row(pair, "baseline / diffai", f"{speedup:.1f}x{flag(base, full)}",
            f">= {BASELINE_RATIO_MIN[pair]:.0f}x", speedup >= BASELINE_RATIO_MIN[pair])

        t1 = best_of(diffai + ["--threads", "1"], args.runs)
        t2 = best_of(diffai + ["--threads", "2"], args.runs)
        row(pair, "diffai --threads 1", secs(t1))
        row(pair, "diffai --threads 2", secs(t2))
        row(pair, "speed-up 1 -> 2 threads", f"{t1[0] / t2[0]:.2f}x{flag(t1, t2)}",
            f">= {THREAD_SPEEDUP_MIN}x", t1[0] / t2[0] >= THREAD_SPEEDUP_MIN)

        samples = [peak_memory(diffai) for _ in range(args.mem_runs)]
        anon = max(s[0] for s in samples)
        rss = max(s[1] for s in samples)
        row(pair, f"peak private (RssAnon, max of {args.mem_runs})", f"{anon:.1f} MiB",
            f"<= {PRIVATE_MIB_MAX:.0f} MiB", anon <= PRIVATE_MIB_MAX)
        row(pair, "max RSS (incl. mapped files)", f"{rss:.0f} MiB")

    if "pt" in only:
        # The f32 weights as torch.save'd state dicts, against the same weights as safetensors.
        # All four files get the same page-cache reset, and both diffai series run right after
        # it, back to back, so that neither meets files that sat idle (see reset_page_cache).
        pt_old = os.path.join(args.data, "f32", "old.pt")
        pt_new = os.path.join(args.data, "f32", "new.pt")
        st_old = os.path.join(args.data, "f32", "old.safetensors")
        st_new = os.path.join(args.data, "f32", "new.safetensors")
        size = os.path.getsize(pt_old) + os.path.getsize(pt_new)
        diffai_pt = [binary, pt_old, pt_new, "-o", "json"]
        diffai_st = [binary, st_old, st_new, "-o", "json"]
        row("pt", "old.pt + new.pt size (f32 weights)", f"{size / 1e9:.3f} GB")
        reset_page_cache([pt_old, pt_new, st_old, st_new])
        share = min(pmd_mapped_share(p) for p in (pt_old, pt_new, st_old, st_new))
        row("pt", "page cache mapped in 2 MiB pages (.pt and .safetensors)", f"{100 * share:.0f} %")

        on_pt = best_of(diffai_pt, args.runs)
        on_st = best_of(diffai_st, args.runs)
        ratio = on_pt[0] / on_st[0]
        row("pt", "diffai -o json on .pt", secs(on_pt))
        row("pt", "diffai -o json on .safetensors", secs(on_st))
        row("pt", "diffai .pt / .safetensors", f"{ratio:.2f}{flag(on_pt, on_st)}",
            f"<= {PT_RATIO_MAX}", ratio <= PT_RATIO_MAX)
        row("pt", "diffai throughput on .pt", f"{size / on_pt[0] / 1e9:.2f} GB/s")
        # Not a speed target: that both reports agree shows the two timings are of the same work.
        reports = [comparable(json_report(c)) for c in (diffai_pt, diffai_st)]
        diff = first_difference(*reports)
        same = ("yes, bit for bit" if first_difference(*reports, rel=0.0) is None
                else "yes, within 1e-12" if diff is None else f"no ({diff})")
        row("pt", "same diff as on .safetensors", same, "same", diff is None)

        imp = best_of([sys.executable, "-c", "import torch"], args.baseline_runs,
                      env=baseline_env)
        baseline = [sys.executable, os.path.join(BENCH, "baseline_torch.py"), pt_old, pt_new]
        base = best_of(baseline, args.baseline_runs, env=baseline_env, budget=180.0)
        speedup = base[0] / on_pt[0]
        row("pt", "python -c 'import torch'", secs(imp, 2))
        row("pt", "torch baseline (load + compute)", secs(base, 2))
        row("pt", "torch baseline / diffai on .pt", f"{speedup:.1f}x{flag(base, on_pt)}",
            f">= {TORCH_BASELINE_RATIO_MIN:.0f}x", speedup >= TORCH_BASELINE_RATIO_MIN)

        samples = [peak_memory(diffai_pt) for _ in range(args.mem_runs)]
        anon = max(s[0] for s in samples)
        rss = max(s[1] for s in samples)
        row("pt", f"peak private (RssAnon, max of {args.mem_runs})", f"{anon:.1f} MiB",
            f"<= {PRIVATE_MIB_MAX:.0f} MiB", anon <= PRIVATE_MIB_MAX)
        row("pt", "max RSS (incl. mapped files)", f"{rss:.0f} MiB")

    if "npy" in only:
        # One big float32 matrix as .npy, against the same matrix as single-tensor safetensors
        # (tensor `data`, the name diffai gives a .npy array): the same work. All four files get
        # the same page-cache reset and both series run right after it, as for the .pt pair.
        np_old = os.path.join(args.data, "npy", "old.npy")
        np_new = os.path.join(args.data, "npy", "new.npy")
        st_old = os.path.join(args.data, "npy", "old.safetensors")
        st_new = os.path.join(args.data, "npy", "new.safetensors")
        size = os.path.getsize(np_old) + os.path.getsize(np_new)
        diffai_np = [binary, np_old, np_new, "-o", "json"]
        diffai_st = [binary, st_old, st_new, "-o", "json"]
        row("npy", "old.npy + new.npy size (one f32 matrix each)", f"{size / 1e9:.3f} GB")
        reset_page_cache([np_old, np_new, st_old, st_new])
        share = min(pmd_mapped_share(p) for p in (np_old, np_new, st_old, st_new))
        row("npy", "page cache mapped in 2 MiB pages (.npy and .safetensors)",
            f"{100 * share:.0f} %")

        on_np = best_of(diffai_np, args.runs)
        on_st = best_of(diffai_st, args.runs)
        ratio = on_np[0] / on_st[0]
        row("npy", "diffai -o json on .npy", secs(on_np))
        row("npy", "diffai -o json on .safetensors", secs(on_st))
        row("npy", "diffai .npy / .safetensors", f"{ratio:.2f}{flag(on_np, on_st)}",
            f"<= {NPY_RATIO_MAX}", ratio <= NPY_RATIO_MAX)
        row("npy", "diffai throughput on .npy", f"{size / on_np[0] / 1e9:.2f} GB/s")
        reports = [comparable(json_report(c)) for c in (diffai_np, diffai_st)]
        diff = first_difference(*reports)
        same = ("yes, bit for bit" if first_difference(*reports, rel=0.0) is None
                else "yes, within 1e-12" if diff is None else f"no ({diff})")
        row("npy", "same diff as on .safetensors", same, "same", diff is None)

        samples = [peak_memory(diffai_np) for _ in range(args.mem_runs)]
        anon = max(s[0] for s in samples)
        rss = max(s[1] for s in samples)
        row("npy", f"peak private (RssAnon, max of {args.mem_runs})", f"{anon:.1f} MiB",
            f"<= {PRIVATE_MIB_MAX:.0f} MiB", anon <= PRIVATE_MIB_MAX)
        row("npy", "max RSS (incl. mapped files)", f"{rss:.0f} MiB")

        # np.savez_compressed pair: diffai streams every deflated member (checked once at read,
        # then inflated window by window), so its memory must stay bounded like the other formats.
        z_old = os.path.join(args.data, "npz", "old.npz")
        z_new = os.path.join(args.data, "npz", "new.npz")
        packed = os.path.getsize(z_old) + os.path.getsize(z_new)
        arrays = npz_array_bytes(z_old) + npz_array_bytes(z_new)
        diffai_z = [binary, z_old, z_new, "-o", "json"]
        row("npz", "old.npz + new.npz size (np.savez_compressed)", f"{packed / 1e6:.0f} MB")
        row("npz", "their arrays uncompressed", f"{arrays / 1e6:.0f} MB")
        reset_page_cache([z_old, z_new])
        share = min(pmd_mapped_share(p) for p in (z_old, z_new))
        row("npz", "page cache mapped in 2 MiB pages", f"{100 * share:.0f} %")

        on_z = best_of(diffai_z, args.runs)
        inflate = best_of([sys.executable, "-c", INFLATE_SCRIPT, z_old, z_new], args.runs)
        row("npz", "diffai -o json on .npz", secs(on_z))
        row("npz", "diffai throughput, uncompressed arrays", f"{arrays / on_z[0] / 1e6:.0f} MB/s")
        row("npz", "diffai throughput, compressed files", f"{packed / on_z[0] / 1e6:.0f} MB/s")
        row("npz", "python zipfile: inflate every member", secs(inflate))
        row("npz", "diffai / inflate", f"{on_z[0] / inflate[0]:.2f}{flag(on_z, inflate)}")

        samples = [peak_memory(diffai_z) for _ in range(args.mem_runs)]
        anon = max(s[0] for s in samples)
        rss = max(s[1] for s in samples)
        row("npz", f"peak private (RssAnon, max of {args.mem_runs})",
            f"{anon:.1f} MiB (arrays: {arrays / 2**20:.0f} MiB)",
            f"<= {PRIVATE_MIB_MAX:.0f} MiB", anon <= PRIVATE_MIB_MAX)
        row("npz", "max RSS (incl. mapped files)", f"{rss:.0f} MiB")

    if "structured" in only:
        j_old = os.path.join(args.data, "json", "old.json")
        j_new = os.path.join(args.data, "json", "new.json")
        size = os.path.getsize(j_old) + os.path.getsize(j_new)
        row("json", "old.json + new.json size", f"{size / 1e6:.0f} MB")
        on_json = best_of([binary, j_old, j_new, "-o", "json"], args.runs)
        mb_s = size / on_json[0] / 1e6
        row("json", "diffai -o json", secs(on_json))
        row("json", "throughput (both files)", f"{mb_s:.0f} MB/s{flag(on_json)}",
            f">= {JSON_MB_S_MIN:.0f} MB/s", mb_s >= JSON_MB_S_MIN)
        samples = [peak_memory([binary, j_old, j_new, "-o", "json"]) for _ in range(args.mem_runs)]
        row("json", f"peak private (RssAnon, max of {args.mem_runs})",
            f"{max(s[0] for s in samples):.1f} MiB")
        d_old = os.path.join(args.data, "dir", "old")
        d_new = os.path.join(args.data, "dir", "new")
        count = sum(len(f) for _, _, f in os.walk(d_old)) + sum(len(f) for _, _, f in os.walk(d_new))
        row("dir", "files in old/ + new/", f"{count}")
        on_dir = best_of([binary, d_old, d_new, "-r", "-o", "json"], args.runs)
        row("dir", "diffai -r -o json", secs(on_dir), f"<= {DIR_SECONDS_MAX:.0f} s",
            on_dir[0] <= DIR_SECONDS_MAX)

    if "analyses" in only:
        old = os.path.join(args.data, "f32", "old.safetensors")
        new = os.path.join(args.data, "f32", "new.safetensors")
        reset_page_cache([old, new])
        plain = best_of([binary, old, new, "-o", "json"], args.runs)
        row("anal", "plain diff -o json", secs(plain))
        # The pair records no head count: 8 heads of 128 (Llama's head size) over its width 1024,
        # so the attention analyses compute instead of reporting n/a.
        weights = [binary, old, new, "-o", "json", "--num-heads", str(BENCH_HEADS)] + [
            f"--{f}" for f in WEIGHT_ANALYSES]
        every = best_of(weights, args.runs)
        ratio = every[0] / plain[0]
        row("anal", f"all {len(WEIGHT_ANALYSES)} weight analyses", secs(every))
        row("anal", "weight analyses / plain", f"{ratio:.2f}x{flag(plain, every)}",
            f"<= {ANALYSES_RATIO_MAX:.0f}x", ratio <= ANALYSES_RATIO_MAX)
        unbounded = best_of(weights + ["--low-rank-max-elements", "0"], args.runs)
        row("anal", "the same, low rank of every matrix", secs(unbounded) +
            f" ({unbounded[0] / plain[0]:.2f}x)")
        views = best_of([binary, old, new, "-o", "json", "--show-distribution"], args.runs)
        row("anal", "--show-distribution alone", secs(views) + f" ({views[0] / plain[0]:.2f}x)")

    if "tiny" in only:
        ms, tool, contended = tiny_files_ms(binary, args.tiny_runs)
        row("tiny", f"examples v1 vs v2, mean of {args.tiny_runs} ({tool})",
            f"{ms:.2f} ms" + (" *" if contended else ""), f"<= {TINY_MS_MAX:.0f} ms",
            ms <= TINY_MS_MAX)
    shutil.rmtree(bindir)

    header = ("pair", "measure", "value", "target", "result")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
    print()
    for r in [header, tuple("-" * w for w in widths)] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    met = sum(r[4] == "PASS" for r in rows)
    missed = sum(r[4] == "FAIL" for r in rows)
    print(f"\n{met} targets met, {missed} missed")
    if any(r[2].endswith("*") for r in rows):
        print("* other processes loaded the machine during every run of this measurement: "
              "the number is pessimistic; rerun when the machine is quiet")


if __name__ == "__main__":
    main()
