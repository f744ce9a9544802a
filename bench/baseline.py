#!/usr/bin/env python3
"""The plain Python baseline diffai is compared with: the same per-tensor numbers, plain numpy.

    python3 bench/baseline.py OLD.safetensors NEW.safetensors

For every tensor name in both files with equal shape, both tensors are loaded, converted to
float64 and summarised (mean, std, min, max, NaN/Inf/zero counts over the finite values, for each
side; max_abs, mean_abs, rel_l2, cosine, changed count for the pair). Tensors in one file only,
or reshaped, get the side statistics only. Prints a one-line summary.
"""

import sys
import time

import ml_dtypes  # noqa: F401  (registers bfloat16 with numpy, for BF16 files)
import numpy as np
from safetensors import safe_open


def side_stats(x):
    finite = np.isfinite(x)
    all_finite = bool(finite.all())
    v = x if all_finite else x[finite]
    s = {
        "numel": x.size,
        "nan": int(np.isnan(x).sum()),
        "inf": int(np.isinf(x).sum()),
        "zero": int(np.count_nonzero(v == 0)),
    }
    if v.size:
        s.update(mean=float(v.mean()), std=float(v.std()), min=float(v.min()), max=float(v.max()))
    return s, finite, all_finite


def pair_metrics(o, n, fo, fn, all_finite):
    both = slice(None) if all_finite else (fo & fn)
    a, b = o[both], n[both]
    d = b - a
    ad = np.abs(d)
    norm_o, norm_n, norm_d = np.sqrt(a @ a), np.sqrt(b @ b), np.sqrt(d @ d)
    changed = n != o
    if not all_finite:
        changed &= ~(np.isnan(o) & np.isnan(n))
    return {
        "max_abs": float(ad.max()) if ad.size else 0.0,
        "mean_abs": float(ad.mean()) if ad.size else None,
        "rel_l2": float(norm_d / norm_o) if norm_o > 0 else (float("inf") if norm_d > 0 else 0.0),
        "cosine": float((a @ b) / (norm_o * norm_n)) if norm_o > 0 and norm_n > 0 else None,
        "changed": int(np.count_nonzero(changed)),
    }


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    started = time.perf_counter()
    counts = {"pairs": 0, "changed": 0, "one_sided": 0}
    elements = 0
    with safe_open(sys.argv[1], framework="np") as fo, safe_open(sys.argv[2], framework="np") as fn:
        old_names, new_names = set(fo.keys()), set(fn.keys())
        for name in sorted(old_names | new_names):
            if name in old_names and name in new_names:
                o = fo.get_tensor(name).astype(np.float64).ravel()
                n = fn.get_tensor(name).astype(np.float64).ravel()
                so, fin_o, ok_o = side_stats(o)
                sn, fin_n, ok_n = side_stats(n)
                elements += o.size + n.size
                if fo.get_slice(name).get_shape() == fn.get_slice(name).get_shape():
                    m = pair_metrics(o, n, fin_o, fin_n, ok_o and ok_n)
                    counts["pairs"] += 1
                    counts["changed"] += m["changed"] > 0
                else:
                    counts["one_sided"] += 2
            else:
                f = fo if name in old_names else fn
                x = f.get_tensor(name).astype(np.float64).ravel()
                side_stats(x)
                elements += x.size
                counts["one_sided"] += 1
    print(
        f"baseline: {counts['pairs']} pairs ({counts['changed']} changed), "
        f"{counts['one_sided']} one-sided, {elements / 1e6:.1f} M elements "
        f"in {time.perf_counter() - started:.2f} s"
    )


if __name__ == "__main__":
    main()
