#!/usr/bin/env python3
"""Writes the structured-data benchmark inputs (deterministic):

  DATA/json/old.json, new.json   65 MB each (a 130 MB pair): 250,000 experiment records (id, name, metrics,
                                 config, tags) pretty-printed by json.dump(indent=1); new has 1 %
                                 of the records' loss changed and its last 100 records replaced
  DATA/dir/old/, new/            10,000 small JSON files (~300 bytes) in 100 folders; new has 1 %
                                 of them changed, 10 removed and 10 added

    python3 bench/gen_structured.py --out bench/data
"""

import argparse
import json
import os
import random
import shutil


def record(rng, i):
    return {
        "id": i,
        "name": f"run-{i:07d}",
        "metrics": {"loss": round(rng.uniform(0.01, 3.0), 6), "acc": round(rng.random(), 6),
                    "step": rng.randrange(1, 10**6)},
        "config": {"lr": rng.choice([1e-3, 5e-4, 1e-4]), "batch": rng.choice([16, 32, 64]),
                   "optimizer": rng.choice(["adam", "sgd", "adamw"]), "warmup": rng.random() < 0.5},
        "tags": rng.sample(["baseline", "ablation", "fp16", "bf16", "lora", "full"], 2),
    }


def write_json_pair(out):
    rng = random.Random(20261123)
    old = [record(rng, i) for i in range(250_000)]
    new = json.loads(json.dumps(old))
    for r in rng.sample(range(len(new) - 100), len(new) // 100):
        new[r]["metrics"]["loss"] = round(new[r]["metrics"]["loss"] * 0.9, 6)
    for i in range(len(new) - 100, len(new)):
        new[i] = record(rng, 10**6 + i)
    os.makedirs(out, exist_ok=True)
    for name, data in (("old.json", old), ("new.json", new)):
        with open(os.path.join(out, name), "w") as f:
            json.dump(data, f, indent=1)


def write_dir_pair(out):
    rng = random.Random(7)
    shutil.rmtree(out, ignore_errors=True)
    files = {f"group{g:03d}/result{k:03d}.json": record(rng, g * 100 + k)
             for g in range(100) for k in range(100)}
    names = sorted(files)
    changed = set(rng.sample(names, len(names) // 100))
    removed = set(rng.sample(sorted(set(names) - changed), 10))
    for side in ("old", "new"):
        for name, rec in files.items():
            if side == "new" and name in removed:
                continue
            if side == "new" and name in changed:
                rec = dict(rec, metrics=dict(rec["metrics"], loss=rec["metrics"]["loss"] + 0.5))
            path = os.path.join(out, side, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                json.dump(rec, f)
        if side == "new":
            for k in range(10):
                path = os.path.join(out, side, f"added/extra{k}.json")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    json.dump(record(rng, 10**7 + k), f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    write_json_pair(os.path.join(args.out, "json"))
    write_dir_pair(os.path.join(args.out, "dir"))


if __name__ == "__main__":
    main()
