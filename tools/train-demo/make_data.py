"""
Step 3 of the demo model: the data sets the page and `npm run eval` use, as JSONL lines
  {"image": "<path relative to the JSONL>", "question": "...", "answer": "...", "type": "..."}
with their PNGs. Seeds differ from training's, so none of these scenes were trained on.

  python3 make_data.py --out public/data/shapes [--seed 7] [--left-right what-half]
writes calib.jsonl (64 items, types balanced), eval.jsonl (400 items, 80 per type) with
images under calib/ and eval/, and a few sample scenes with questions (samples.json) for the page.
Left/right questions ask which half of the image an object is in ("What half is the red object
in?", the shipped model's form since E15, README.md); --left-right either asks runs 1-3's
"Is the red object left or right of the blue object?" instead.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
from PIL import Image

import scenes


def write_set(rng: np.random.Generator, out: str, name: str, count: int, left_right: str) -> None:
    os.makedirs(os.path.join(out, name), exist_ok=True)
    with open(os.path.join(out, f"{name}.jsonl"), "w") as f:
        for i in range(count):
            qtype = scenes.TYPES[i % len(scenes.TYPES)]
            img, _aux, question, answer, t = scenes.sample(rng, qtype=qtype, left_right=left_right)
            path = f"{name}/{i:04d}.png"
            Image.fromarray(img).save(os.path.join(out, path), optimize=True)
            f.write(json.dumps({"image": path, "question": question, "answer": answer, "type": t}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--left-right", choices=["either", *scenes.HALF_FORMS], default="what-half",
                    help="form of the left/right questions (scenes.ask)")
    args = ap.parse_args()
    write_set(np.random.default_rng([args.seed, 1]), args.out, "calib", 64, args.left_right)
    write_set(np.random.default_rng([args.seed, 2]), args.out, "eval", 400, args.left_right)
    # Sample scenes for the page: one per question type, each with all the questions it supports.
    rng = np.random.default_rng([args.seed, 3])
    os.makedirs(os.path.join(args.out, "samples"), exist_ok=True)
    samples = []
    for i in range(6):
        objs = scenes.sample_objects(rng, 3 + i % 2)
        img, _ = scenes.render(rng, objs)
        path = f"samples/scene-{i + 1}.png"
        Image.fromarray(img).save(os.path.join(args.out, path), optimize=True)
        qa = [q for q in (scenes.ask(rng, objs, t, left_right=args.left_right) for t in scenes.TYPES) if q]
        samples.append({"image": path, "questions": [{"question": q, "answer": a} for q, a in qa]})
    with open(os.path.join(args.out, "samples.json"), "w") as f:
        json.dump(samples, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
