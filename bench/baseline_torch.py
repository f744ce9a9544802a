#!/usr/bin/env python3
"""The PyTorch baseline for .pt files: `torch.load` both state dicts, then the same numbers.

    python3 bench/baseline_torch.py OLD.pt NEW.pt

The usual way to compare two checkpoints in Python: `torch.load(weights_only=True, mmap=False)`
of both files (everything read into memory), then, per tensor, the same float64 numbers as
baseline.py computes with numpy, here with torch ops (which use every core, as diffai does):
mean, std (population), min, max, NaN/Inf/zero counts over the finite values for each side, and
max_abs, mean_abs, rel_l2, cosine and changed count for each pair of equal shape. Reshaped
tensors and tensors in one file only get the side statistics only. Like baseline.py it does not
skip byte-identical tensors. Prints a one-line summary, with the load time separately.
"""

import sys
import time

import torch


def side_stats(x):
    finite = torch.isfinite(x)
    all_finite = bool(finite.all())
    v = x if all_finite else x[finite]
    s = {
        "numel": x.numel(),
        "nan": int(torch.isnan(x).sum()),
        "inf": int(torch.isinf(x).sum()),
        "zero": int(torch.count_nonzero(v == 0)),
    }
    if v.numel():
        s.update(
            mean=float(v.mean()),
            std=float(v.std(correction=0)),
            min=float(v.min()),
            max=float(v.max()),
        )
    return s, finite, all_finite


def pair_metrics(o, n, fo, fn, all_finite):
    if all_finite:
        a, b = o, n
    else:
        both = fo & fn
        a, b = o[both], n[both]
    d = b - a
    ad = d.abs()
    norm_o, norm_n, norm_d = (float(torch.sqrt(t @ t)) for t in (a, b, d))
    changed = n != o
    if not all_finite:
        changed &= ~(torch.isnan(o) & torch.isnan(n))
    return {
        "max_abs": float(ad.max()) if ad.numel() else 0.0,
        "mean_abs": float(ad.mean()) if ad.numel() else None,
        "rel_l2": norm_d / norm_o if norm_o > 0 else (float("inf") if norm_d > 0 else 0.0),
        "cosine": float(a @ b) / (norm_o * norm_n) if norm_o > 0 and norm_n > 0 else None,
        "changed": int(torch.count_nonzero(changed)),
    }


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    started = time.perf_counter()
    old = torch.load(sys.argv[1], weights_only=True, mmap=False, map_location="cpu")
    new = torch.load(sys.argv[2], weights_only=True, mmap=False, map_location="cpu")
    loaded = time.perf_counter()
    counts = {"pairs": 0, "changed": 0, "one_sided": 0}
    elements = 0
    for name in sorted(old.keys() | new.keys()):
        if name in old and name in new:
            o = old[name].to(torch.float64).ravel()
            n = new[name].to(torch.float64).ravel()
            so, fin_o, ok_o = side_stats(o)
            sn, fin_n, ok_n = side_stats(n)
            elements += o.numel() + n.numel()
            if old[name].shape == new[name].shape:
                m = pair_metrics(o, n, fin_o, fin_n, ok_o and ok_n)
                counts["pairs"] += 1
                counts["changed"] += m["changed"] > 0
            else:
                counts["one_sided"] += 2
        else:
            x = (old if name in old else new)[name].to(torch.float64).ravel()
            side_stats(x)
            elements += x.numel()
            counts["one_sided"] += 1
    done = time.perf_counter()
    print(
        f"baseline_torch: {counts['pairs']} pairs ({counts['changed']} changed), "
        f"{counts['one_sided']} one-sided, {elements / 1e6:.1f} M elements "
        f"in {done - started:.2f} s (torch.load {loaded - started:.2f} s, "
        f"{torch.get_num_threads()} threads)"
    )


if __name__ == "__main__":
    main()
