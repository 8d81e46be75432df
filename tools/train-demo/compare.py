"""
Picks between candidate models without touching the eval set: greedy exact match per question
type on fresh single-question items (1-4 objects, equal numbers per type) from a seed that no
training run, validation set or shipped data set uses.

Each candidate is a training checkpoint (.pt) or an exported model folder (config.json and
model.safetensors); the model folder given with --model supplies the config for checkpoints.

  python3 compare.py --model DIR --table token-table.json CANDIDATE [CANDIDATE ...] [--items 500] [--left-right half]
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import torch

import scenes
import train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="model folder (config) for checkpoint candidates")
    ap.add_argument("--table", required=True)
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--left-right", choices=["either", *scenes.HALF_FORMS], default="either", help="left/right question form (scenes.ask)")
    ap.add_argument("candidates", nargs="+")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    items = [scenes.sample(rng, qtype=scenes.TYPES[i % len(scenes.TYPES)], left_right=args.left_right) for i in range(args.items)]
    for candidate in args.candidates:
        if os.path.isdir(candidate):
            model, batcher = train.load_trained(candidate, args.table)
        else:
            model, batcher = train.load_trained(args.model, args.table, candidate)
            step = torch.load(candidate)["step"]
            candidate = f"{candidate} (step {step})"
        metrics = train.evaluate(model, batcher, items)
        print(f"{candidate}: " + ", ".join(f"{k} {v * 100:.1f} %" for k, v in metrics.items()), flush=True)


if __name__ == "__main__":
    main()
