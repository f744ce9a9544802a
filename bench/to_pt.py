#!/usr/bin/env python3
"""Writes the weights of safetensors files as PyTorch state dicts (torch zip format).

    python3 bench/to_pt.py DIR [DIR ...]      # DIR/old.safetensors -> DIR/old.pt, same for new

Each file is loaded with `safetensors.torch.load_file` and the dict saved with `torch.save`
(default zip format: one uncompressed, 64-byte aligned record per storage, which diffai slices
from its memory map). The tensors, their names, shapes, dtypes and values are the same as in the
safetensors file; the safetensors metadata is not carried over. Each .pt is written to a
scratch folder and moved into place, so an interrupted run leaves no partial file.
"""

import os
import sys
import time

import torch
from safetensors.torch import load_file


def convert(src, dst):
    tensors = load_file(src)
    # Saved under its own name (torch names the archive's top folder after the file) in a
    # scratch folder beside it, then moved into place.
    scratch = os.path.join(os.path.dirname(dst), ".to_pt")
    os.makedirs(scratch, exist_ok=True)
    tmp = os.path.join(scratch, os.path.basename(dst))
    torch.save(tensors, tmp)
    os.replace(tmp, dst)
    os.rmdir(scratch)
    return len(tensors)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for directory in sys.argv[1:]:
        for side in ("old", "new"):
            started = time.perf_counter()
            src = os.path.join(directory, f"{side}.safetensors")
            dst = os.path.join(directory, f"{side}.pt")
            count = convert(src, dst)
            print(f"{dst}: {count} tensors, {os.path.getsize(dst) / 1e9:.3f} GB "
                  f"in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
