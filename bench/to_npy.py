#!/usr/bin/env python3
"""Writes the f32 benchmark weights as NumPy files: one large .npy array per side (with the same
array as a single-tensor safetensors file beside it) and a compressed .npz pair.

    python3 bench/to_npy.py [--src bench/data/f32] [--out bench/data]

  * OUT/npy/old.npy, new.npy: every tensor present in both SRC files with the same shape (all but
    the two reshaped, the removed and the added one), in file order, flattened and concatenated
    into one float32 matrix of shape (N, 1024) (every such tensor has a multiple of 1024
    elements), about 0.96 GB per file, written with `np.save`. One big matrix is how .npy is
    used for large data (an embedding table, a feature matrix); the values are the f32 pair's,
    so the fine-tune pattern (identical stretches, 30-100 % of elements perturbed) is kept.
  * OUT/npy/old.safetensors, new.safetensors: the same matrix as the only tensor, named `data`
    (the name diffai gives a .npy array), no metadata: the same work for diffai as the .npy pair.
  * OUT/npz/old.npz, new.npz: `np.savez_compressed` of the layers 0-2 tensors present in both
    files with the same shape (25 arrays, ~135 MB uncompressed per file), each a member named
    after its tensor.

Each file is written to a scratch folder and moved into place, so an interrupted run leaves no
partial file. About 30-60 s, most of it deflating the .npz pair.
"""

import argparse
import json
import os
import shutil
import struct
import time

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

BENCH = os.path.dirname(os.path.abspath(__file__))
COLS = 1024  # columns of the .npy matrix: HIDDEN in gen_pair.py
NPZ_LAYERS = ("model.layers.0.", "model.layers.1.", "model.layers.2.")


def file_order(path):
    """Tensor names and shapes of a safetensors file, in the order of their data (safe_open's
    keys() are sorted by name instead)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return {k: tuple(header[k]["shape"])
            for k in sorted(header, key=lambda k: header[k]["data_offsets"][0])}


def common_tensors(old, new):
    """Names present in both files with equal shapes, in old's file order."""
    o, n = file_order(old), file_order(new)
    return [k for k, shape in o.items() if n.get(k) == shape]


def matrix(path, names):
    """The named tensors of a safetensors file, flattened and concatenated into (N, COLS)."""
    with safe_open(path, framework="np") as f:
        sizes = [int(np.prod(f.get_slice(k).get_shape())) for k in names]
        assert all(s % COLS == 0 for s in sizes), "a tensor is not a multiple of 1024 elements"
        out = np.empty((sum(sizes) // COLS, COLS), dtype=np.float32)
        flat = out.reshape(-1)
        at = 0
        for name, size in zip(names, sizes):
            t = f.get_tensor(name)
            assert t.dtype == np.float32
            flat[at:at + size] = t.reshape(-1)
            at += size
    return out


def write(dst, save):
    """Calls save(tmp) with a scratch path beside dst (same name), then moves it into place."""
    scratch = os.path.join(os.path.dirname(dst), ".to_npy")
    os.makedirs(scratch, exist_ok=True)
    tmp = os.path.join(scratch, os.path.basename(dst))
    save(tmp)
    os.replace(tmp, dst)
    shutil.rmtree(scratch)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.join(BENCH, "data", "f32"),
                    help="folder with the f32 old.safetensors and new.safetensors")
    ap.add_argument("--out", default=os.path.join(BENCH, "data"),
                    help="writes OUT/npy and OUT/npz")
    args = ap.parse_args()
    src = {side: os.path.join(args.src, f"{side}.safetensors") for side in ("old", "new")}
    names = common_tensors(src["old"], src["new"])
    npz_names = [k for k in names if k.startswith(NPZ_LAYERS)]
    for sub in ("npy", "npz"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)

    for side in ("old", "new"):
        started = time.perf_counter()
        data = matrix(src[side], names)
        npy = os.path.join(args.out, "npy", f"{side}.npy")
        st = os.path.join(args.out, "npy", f"{side}.safetensors")
        write(npy, lambda tmp: np.save(tmp, data))
        write(st, lambda tmp: save_file({"data": data}, tmp))
        del data
        print(f"{npy} and .safetensors: {len(names)} tensors as one {COLS}-column float32 matrix, "
              f"{os.path.getsize(npy) / 1e9:.3f} GB in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        with safe_open(src[side], framework="np") as f:
            arrays = {k: f.get_tensor(k) for k in npz_names}
        npz = os.path.join(args.out, "npz", f"{side}.npz")
        write(npz, lambda tmp: np.savez_compressed(tmp, **arrays))
        raw = sum(a.nbytes for a in arrays.values())
        print(f"{npz}: {len(arrays)} arrays, {raw / 1e6:.0f} MB compressed to "
              f"{os.path.getsize(npz) / 1e6:.0f} MB in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
