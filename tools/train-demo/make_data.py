"""
Step 3 of the demo model: the data sets the page and `npm run eval` use, as JSONL lines
  {"image": "<path relative to the JSONL>", "question": "...", "answer": "...", "type": "..."}
with their PNGs. Seeds differ from training's, so none of these scenes were trained on.

  python3 make_data.py --out public/data/shapes [--seed 7]
writes calib.jsonl (64 items, types balanced), eval.jsonl (400 items, 80 per type) with
images under calib/ and eval/, and a few sample scenes with questions (samples.json) for the page.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
from PIL import Image

import scenes


def write_set(rng: np.random.Generator, out: str, name: str, count: int) -> None:
    os.makedirs(os.path.join(out, name), exist_ok=True)
    with open(os.path.join(out, f"{name}.jsonl"), "w") as f:
        for i in range(count):
            qtype = scenes.TYPES[i % len(scenes.TYPES)]
            img, _aux, question, answer, t = scenes.sample(rng, qtype=qtype)
            path = f"{name}/{i:04d}.png"
            Image.fromarray(img).save(os.path.join(out, path), optimize=True)
            f.write(json.dumps({"image": path, "question": question, "answer": answer, "type": t}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    write_set(np.random.default_rng([args.seed, 1]), args.out, "calib", 64)
    write_set(np.random.default_rng([args.seed, 2]), args.out, "eval", 400)
    # Sample scenes for the page: one per question type, each with all the questions it supports.
    rng = np.random.default_rng([args.seed, 3])
    os.makedirs(os.path.join(args.out, "samples"), exist_ok=True)
    samples = []
    for i in range(6):
        objs = scenes.sample_objects(rng, 3 + i % 2)
        img, _ = scenes.render(rng, objs)
        path = f"samples/scene-{i + 1}.png"
        Image.fromarray(img).save(os.path.join(args.out, path), optimize=True)
        qa = [q for q in (scenes.ask(rng, objs, t) for t in scenes.TYPES) if q]
        samples.append({"image": path, "questions": [{"question": q, "answer": a} for q, a in qa]})
    with open(os.path.join(args.out, "samples.json"), "w") as f:
        json.dump(samples, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
