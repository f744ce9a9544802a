#!/usr/bin/env python3
"""Writes a benchmark pair DIR/old.safetensors and DIR/new.safetensors shaped like a small LLM.

    python3 bench/gen_pair.py --dtype f32 --out bench/data/f32 [--size-gb 1.0] [--seed 0]

The f32 pair totals about --size-gb GB per file; the bf16 pair has the same tensors (same names,
shapes and values before rounding), so half the bytes. `new` differs from `old` like a fine-tune:

  * most tensors: 30-100 % of the elements perturbed by ~1e-3 relative (1e-2 for bf16, whose
    ~4e-3 rounding step would otherwise swallow most of the perturbation);
  * some identical: the RMSNorm weights of even layers, the final norm, v_proj of every 4th layer;
  * two reshaped (same bytes, other shape): layers.1 q_proj and layers.2 mlp.up_proj;
  * one removed (model.rotary_emb.inv_freq) and one added (lm_head.bias).

Generation is seeded (numpy default_rng, float32) and takes a few seconds per GB.
"""

import argparse
import os
import time

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

HIDDEN = 1024
INTER = 2816
VOCAB = 32000
# Parameters of one transformer layer: q/k/v/o, gate/up/down and two norms.
LAYER_PARAMS = 4 * HIDDEN * HIDDEN + 3 * INTER * HIDDEN + 2 * HIDDEN


def layout(size_gb):
    """Tensor names and shapes of old (in file order), with the layer count fitted to size_gb."""
    fixed = 2 * VOCAB * HIDDEN + HIDDEN + HIDDEN // 2
    layers = max(3, round((size_gb * 1e9 / 4 - fixed) / LAYER_PARAMS))
    shapes = {"model.embed_tokens.weight": (VOCAB, HIDDEN)}
    for i in range(layers):
        p = f"model.layers.{i}."
        for proj in "qkvo":
            shapes[p + f"self_attn.{proj}_proj.weight"] = (HIDDEN, HIDDEN)
        shapes[p + "mlp.gate_proj.weight"] = (INTER, HIDDEN)
        shapes[p + "mlp.up_proj.weight"] = (INTER, HIDDEN)
        shapes[p + "mlp.down_proj.weight"] = (HIDDEN, INTER)
        shapes[p + "input_layernorm.weight"] = (HIDDEN,)
        shapes[p + "post_attention_layernorm.weight"] = (HIDDEN,)
    shapes["model.norm.weight"] = (HIDDEN,)
    shapes["model.rotary_emb.inv_freq"] = (HIDDEN // 2,)
    shapes["lm_head.weight"] = (VOCAB, HIDDEN)
    return shapes, layers


def is_norm(name):
    return name.endswith("norm.weight")


def identical_in_new(name):
    parts = name.split(".")
    if name == "model.norm.weight":
        return True
    if len(parts) > 2 and parts[1] == "layers":
        layer = int(parts[2])
        if is_norm(name) and layer % 2 == 0:
            return True
        if name.endswith("v_proj.weight") and layer % 4 == 0:
            return True
    return False


RESHAPED = {
    "model.layers.1.self_attn.q_proj.weight": (2 * HIDDEN, HIDDEN // 2),
    "model.layers.2.mlp.up_proj.weight": (HIDDEN, INTER),
}
REMOVED = "model.rotary_emb.inv_freq"
ADDED = ("lm_head.bias", (VOCAB,))


def old_tensor(rng, name, shape):
    if is_norm(name):
        return 1.0 + rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
    if name == REMOVED:
        return (1.0 / 10000.0 ** (np.arange(0, HIDDEN, 2, dtype=np.float32) / HIDDEN)).astype(
            np.float32
        )
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)


def perturb(rng, x, rel):
    """A copy of x with a random 30-100 % of its elements scaled by (1 + rel * N(0, 1))."""
    frac = rng.uniform(0.3, 1.0)
    noise = rng.standard_normal(x.shape, dtype=np.float32)
    noise *= np.float32(rel)
    noise[rng.random(x.shape, dtype=np.float32) >= frac] = 0.0
    noise += np.float32(1.0)
    return x * noise


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dtype", choices=["f32", "bf16"], required=True)
    ap.add_argument("--out", default=None, help="output directory (default bench/data/DTYPE)")
    ap.add_argument("--size-gb", type=float, default=1.0, help="size of the f32 file in GB")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", args.dtype)
    os.makedirs(out, exist_ok=True)

    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    shapes, layers = layout(args.size_gb)
    rel = 1e-3 if args.dtype == "f32" else 1e-2
    cast = (lambda a: a) if args.dtype == "f32" else (lambda a: a.astype(ml_dtypes.bfloat16))

    old, new = {}, {}
    for name, shape in shapes.items():
        x = old_tensor(rng, name, shape)
        old[name] = cast(x)
        if name == REMOVED:
            continue
        if identical_in_new(name):
            new[name] = old[name]
            continue
        y = cast(perturb(rng, x, rel))
        new[name] = y.reshape(RESHAPED[name]) if name in RESHAPED else y
    new[ADDED[0]] = cast(rng.standard_normal(ADDED[1], dtype=np.float32) * np.float32(0.01))

    meta = {"format": "np", "generator": "diffai bench/gen_pair.py", "seed": str(args.seed)}
    for side, tensors in (("old", old), ("new", new)):
        save_file(tensors, os.path.join(out, f"{side}.safetensors"), metadata=meta)
    sizes = [os.path.getsize(os.path.join(out, f"{s}.safetensors")) for s in ("old", "new")]
    print(
        f"{out}: {args.dtype}, {layers} layers, {len(old)}/{len(new)} tensors, "
        f"{sizes[0] / 1e9:.3f} + {sizes[1] / 1e9:.3f} GB in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
