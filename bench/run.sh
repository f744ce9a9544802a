#!/usr/bin/env bash
# Builds diffai (release), generates the f32 and bf16 benchmark pairs (and the f32 weights as .pt,
# .npy and .npz) if missing, and prints the benchmark table (see bench/README.md). Extra arguments
# go to bench/measure.py, e.g. --runs 3 or --only pt,npy.
set -euo pipefail
cd "$(dirname "$0")/.."

# The tree may be mid-edit: retry the build a few times, a minute apart.
for try in 1 2 3; do
    cargo build --release --quiet && break
    [[ $try == 3 ]] && { echo "run.sh: release build failed" >&2; exit 1; }
    echo "run.sh: release build failed; retrying in 60 s" >&2
    sleep 60
done
for dtype in f32 bf16; do
    if [[ ! -f bench/data/$dtype/old.safetensors || ! -f bench/data/$dtype/new.safetensors ]]; then
        python3 bench/gen_pair.py --dtype "$dtype" --out "bench/data/$dtype"
    fi
done
# The f32 weights again as torch.save'd state dicts, redone when missing or older than the pair.
for side in old new; do
    if [[ ! bench/data/f32/$side.pt -nt bench/data/f32/$side.safetensors ]]; then
        python3 bench/to_pt.py bench/data/f32
        break
    fi
done
# The f32 weights again as one .npy matrix per side (with the same matrix as safetensors) and a
# compressed .npz subset, redone when any is missing or older than the f32 pair.
for f in npy/old.npy npy/new.npy npy/old.safetensors npy/new.safetensors npz/old.npz npz/new.npz; do
    if [[ ! bench/data/$f -nt bench/data/f32/old.safetensors || \
          ! bench/data/$f -nt bench/data/f32/new.safetensors ]]; then
        python3 bench/to_npy.py --src bench/data/f32 --out bench/data
        break
    fi
done
# The structured-data pair (a ~100 MB JSON pair, two directories of 10,000 small JSON files).
if [[ ! -f bench/data/json/new.json || ! -d bench/data/dir/new ]]; then
    python3 bench/gen_structured.py --out bench/data
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
     "kernel $(uname -r), $(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
     "$(git diff --quiet 2>/dev/null || echo '(with uncommitted changes)')"
python3 bench/measure.py "$@"
