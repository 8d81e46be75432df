"""
Step 4 of the demo model: reads the exported model.safetensors back into the torch model
(so the export itself is checked: every tensor name, shape and dtype), scores a JSONL set with
greedy exact match exactly as trained, and writes test vectors for the TypeScript tests: for one
correctly answered item per question type, the prompt length and the full logits row at the answer position. The runtime's
float64 reference forward must reproduce those logits (test/unit/demo-model.test.ts), which
pins tokenisation, image preprocessing and every layer of the architecture to this trainer.

  python3 check.py --model DIR --table token-table.json --data eval.jsonl [--vectors out.json] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch
from PIL import Image

import train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--vectors", help="write test vectors (one correctly answered item per question type) here")
    ap.add_argument("--json", help="write the accuracy summary here")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 2)

    model, batcher = train.load_trained(args.model, args.table)
    base = os.path.dirname(os.path.abspath(args.data))
    rows = [json.loads(line) for line in open(args.data) if line.strip()]
    no_aux = {"color": np.zeros(1, np.int64)}  # the batcher stacks auxiliary targets; scoring ignores them
    items = [(np.asarray(Image.open(os.path.join(base, r["image"])).convert("RGB")), no_aux, r["question"], r["answer"], r.get("type", "all")) for r in rows]
    metrics = train.evaluate(model, batcher, items)
    print(json.dumps({"items": len(items), **metrics}))
    if args.json:
        json.dump({"items": len(items), **metrics}, open(args.json, "w"), indent=1)

    if args.vectors:
        # One item per question type, the first of each that the model answers right, so the
        # runtime tests can assert the answer as well as the logits.
        vectors, seen = [], set()
        with torch.no_grad():
            for r, item in zip(rows, items):
                if item[4] in seen:
                    continue
                ids, pixels, pos, targets, _ = batcher.batch([item])
                logits, _ = model(ids, pixels, pos)
                if not bool((logits[0].argmax(-1) == targets[0]).all()):
                    continue
                seen.add(item[4])
                vectors.append({
                    "image": r["image"], "question": r["question"], "answer": r["answer"], "type": item[4],
                    "promptTokens": int(pos[0, 0]) + 1, "answerTokenId": int(targets[0, 0]),
                    "logits": [round(float(x), 5) for x in logits[0, 0]],
                })
        json.dump({"data": os.path.relpath(args.data, os.path.dirname(os.path.abspath(args.vectors))), "items": vectors}, open(args.vectors, "w"))
        print(f"wrote {len(vectors)} test vectors to {args.vectors}")


if __name__ == "__main__":
    main()
