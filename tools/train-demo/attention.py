"""
Where the language model looks: for one checkpoint or export, the share of the answer row's
attention (the position that predicts the answer) that lands on the image, on any object's
patches, and on the patches of the object(s) the question names, per layer and head.

A model that answers from a "bag of objects" puts its image attention on objects in general;
one that binds the question to the image puts it on the named object. Uniform attention
would give the patch fractions printed on the last line.

  python3 attention.py --model DIR --table token-table.json [--checkpoint checkpoint.pt] [--items 60]
"""
from __future__ import annotations

import argparse
import re

import numpy as np
import torch

import scenes
import train


def named_mask(question: str, aux: dict[str, np.ndarray]) -> np.ndarray | None:
    """Patches of the object(s) a colour, shape, existence or position question names (empty
    when an existence question names an absent object)."""
    m = re.match(r"What color is the (\w+)\?", question)
    if m:
        return aux["shape"] == scenes.SHAPES.index(m[1]) + 1
    m = re.match(r"What shape is the (\w+) object\?", question)
    if m:
        return aux["color"] == scenes.COLOR_NAMES.index(m[1]) + 1
    colors = "|".join(scenes.COLOR_NAMES)
    # position: both objects, named by their colours (a colour names one object in a scene)
    named = re.findall(rf"({colors}) object", question)
    if named:
        mask = np.zeros_like(aux["color"], dtype=bool)
        for c in named:
            mask |= aux["color"] == scenes.COLOR_NAMES.index(c) + 1
        return mask
    m = re.match(rf"Is there a ({colors}) (\w+)\?", question)
    if m:
        return (aux["color"] == scenes.COLOR_NAMES.index(m[1]) + 1) & (aux["shape"] == scenes.SHAPES.index(m[2]) + 1)
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--checkpoint", help="a training checkpoint (default: the model's exported weights)")
    ap.add_argument("--items", type=int, default=60)
    ap.add_argument("--seed", type=int, default=99)
    args = ap.parse_args()
    model, batcher = train.load_trained(args.model, args.table, args.checkpoint)
    rng = np.random.default_rng(args.seed)
    items = [scenes.sample(rng, qtype=scenes.TYPES[i % len(scenes.TYPES)], min_objects=2) for i in range(args.items)]
    ids, pixels, rows, targets, aux = batcher.batch(items)
    objects = torch.from_numpy(np.stack([a["color"] > 0 for a in (it[1] for it in items)])).float()
    masks = [named_mask(it[2], it[1]) for it in items]
    # Only questions whose named object is in the image (not "is there a green square?" → no).
    has_named = torch.tensor([m is not None and bool(m.any()) for m in masks])
    named = torch.from_numpy(np.stack([m if m is not None else np.zeros(objects.shape[1], bool) for m in masks])).float()
    captured: list[torch.Tensor] = []
    text_rows: list[torch.Tensor] = []
    with torch.no_grad():
        _, projected = model.image_features(pixels)
        x = model.embed_tokens(ids)
        is_image = ids == model.image_token_id
        x = x.masked_scatter(is_image.unsqueeze(-1), projected.reshape(-1, projected.shape[-1]))
        T = ids.shape[1]
        cos, sin = model.cos[:T], model.sin[:T]
        mask = torch.full((T, T), float("-inf")).triu(1)
        B = x.shape[0]
        for layer in model.layers:
            h = layer.input_layernorm(x)
            q = layer.q_proj(h).view(B, T, layer.h, layer.hd).transpose(1, 2)
            k = layer.k_proj(h).view(B, T, layer.kv, layer.hd).transpose(1, 2)
            q = q * cos + train.rotate_half(q) * sin
            k = (k * cos + train.rotate_half(k) * sin).repeat_interleave(layer.h // layer.kv, dim=1)
            p = torch.softmax(q @ k.transpose(-1, -2) * layer.hd**-0.5 + mask, dim=-1)
            captured.append(p[torch.arange(B), :, rows[:, 0]])  # [B, heads, T]: the answer row
            text_rows.append(p)  # every row, for the question words' own look at the image
            x = layer(x, cos, sin, mask)
        logits, _ = model(ids, pixels, rows)
    correct = (logits.argmax(-1) == targets).all(-1)
    print(f"{len(items)} items with 2-4 objects; accuracy {correct.float().mean():.2f}; "
          + ", ".join(f"{t} {correct[[i for i, it in enumerate(items) if it[4] == t]].float().mean():.2f}" for t in scenes.TYPES))
    print("layer head | on image | objects' share of it | named object's share (colour/shape/exist/position questions)")
    for li, p in enumerate(captured):
        for hh in range(p.shape[1]):
            img = p[:, hh][is_image].view(B, -1)
            total = img.sum(-1).clamp_min(1e-9)
            obj = ((img * objects).sum(-1) / total).mean()
            nam = ((img * named).sum(-1) / total)[has_named].mean()
            print(f"L{li} h{hh} | {img.sum(-1).mean():.2f} | {obj:.2f} | {nam:.2f}")
    # The question's words may do the binding themselves (the answer row then reads from them):
    # per head, the text row after the image whose image attention is most on the named object.
    last_image = is_image.float().cumsum(-1).argmax(-1)  # index of each sequence's last image token
    print("best question row per item: named object's share of its image attention (mean over items), per layer and head")
    for li, p in enumerate(text_rows):
        line = []
        for hh in range(p.shape[1]):
            best = []
            for b in range(B):
                if not has_named[b]:
                    continue
                r0, r1 = int(last_image[b]) + 1, int(rows[b, 0]) + 1
                img = p[b, hh, r0:r1][:, is_image[b]]  # [rows, 196]
                share = (img * named[b]).sum(-1) / img.sum(-1).clamp_min(1e-9)
                best.append(share.max())
            line.append(f"h{hh} {torch.stack(best).mean():.2f}")
        print(f"L{li} " + " ".join(line))
    print(f"uniform attention would give: objects {objects.mean():.3f}, named object {named[has_named].mean():.3f}")


if __name__ == "__main__":
    main()
