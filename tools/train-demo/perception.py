"""
Where the demo model's errors come from: the tower's per-patch colour and shape accuracy on
object patches (through the auxiliary head a training checkpoint carries), and greedy exact
match per question type on fresh scenes with exactly 1, 2 and 4 objects. If one-object scenes
are answered right but several-object ones are not, the language model is not picking out the
object the question names; if the per-patch shape accuracy is low, the tower is the limit.

  python3 perception.py --model DIR --table token-table.json --checkpoint checkpoint.pt [--items 150]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

import scenes
import train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--checkpoint", required=True, help="a training checkpoint (the export has no auxiliary head)")
    ap.add_argument("--items", type=int, default=150)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    model, batcher = train.load_trained(args.model, args.table, args.checkpoint)
    print(f"checkpoint at step {torch.load(args.checkpoint)['step']}")

    rng = np.random.default_rng(args.seed)
    items = [scenes.sample(rng, max_objects=4) for _ in range(50)]
    _, pixels, _, _, aux = batcher.batch(items)
    with torch.no_grad():
        out = model.aux(model.vision(pixels))
    nc, ns = len(scenes.COLOR_NAMES) + 1, len(scenes.SHAPES) + 1
    on_object = aux["color"] > 0
    color = (out[..., :nc].argmax(-1) == aux["color"])[on_object].float().mean().item()
    shape = (out[..., nc : nc + ns].argmax(-1) == aux["shape"])[on_object].float().mean().item()
    print(f"tower, per object patch (50 scenes): colour {color:.3f}, shape {shape:.3f}")

    for n in (1, 2, 4):
        # position questions need two objects, so the 1-object row asks them about two
        scenes_n = [scenes.sample(rng, max_objects=n, min_objects=n, qtype=scenes.TYPES[i % len(scenes.TYPES)]) for i in range(args.items)]
        metrics = train.evaluate(model, batcher, scenes_n)
        print(f"{n} object(s), {args.items} items: " + ", ".join(f"{k} {v * 100:.1f} %" for k, v in metrics.items()))


if __name__ == "__main__":
    main()
