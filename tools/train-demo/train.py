"""
Step 2 of training the demo model: trains the LLaVA-architecture model described by
<model>/config.json on the procedural scenes (scenes.py), on the CPU, and writes its weights
into <model>/model.safetensors (F16, llava-hf "hub" tensor names), replacing the placeholder.

The network is written out in plain torch exactly as the runtime (and Hugging Face
transformers) computes it: CLIP vision tower (pre-LN, quick_gelu, CLS + learned positions,
features from hidden_states[vision_feature_layer] without CLS), projector linear-GELU-linear,
Llama decoder (RMSNorm, rotate-half RoPE at positions 0..T-1, grouped-query attention, SwiGLU),
untied lm_head. Prompts are the token ids the runtime's own preprocessor produced
(prepare.ts -> token table), so training and inference see identical inputs.

Schedule (all from one seed):
  1. vision warm-up: the tower alone learns auxiliary per-patch targets (colour and shape of the
     object under each patch, object centres, the patch's own column and row) through a small
     linear head that is not exported;
  2. joint training on the answer tokens (answer + </s>), with the auxiliary loss kept at a
     lower weight, and a curriculum from one object per scene to four.
The language model's attention is never supervised.

  python3 train.py --model DIR --table token-table.json --work DIR [--steps N] [--seed S]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import scenes

# ---------------------------------------------------------------------------------------------
# model


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


def rms_normalise(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """x scaled to unit RMS over its last axis (RMSNorm without its weight)."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def balanced_patch_weight(aux: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-patch loss weights, shaped like aux["color"], summing to 1: object and background
    patches weigh half each. Objects are 2-18 % of the patches, and in a plain mean the easy
    background outweighs their targets."""
    on_object = (aux["color"] > 0).float()
    return 0.5 * on_object / on_object.sum().clamp_min(1) + 0.5 * (1 - on_object) / (1 - on_object).sum().clamp_min(1)


class ClipLayer(nn.Module):
    def __init__(self, d: int, m: int, heads: int, eps: float):
        super().__init__()
        self.heads = heads
        self.layer_norm1 = nn.LayerNorm(d, eps=eps)
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))
        self.layer_norm2 = nn.LayerNorm(d, eps=eps)
        self.fc1 = nn.Linear(d, m)
        self.fc2 = nn.Linear(m, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, d = x.shape
        hd = d // self.heads
        h = self.layer_norm1(x)
        q, k, v = (p(h).view(B, T, self.heads, hd).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        a = torch.softmax(q @ k.transpose(-1, -2) * hd**-0.5, dim=-1) @ v
        x = x + self.out_proj(a.transpose(1, 2).reshape(B, T, d))
        return x + self.fc2(quick_gelu(self.fc1(self.layer_norm2(x))))


class ClipVision(nn.Module):
    def __init__(self, c: dict, feature_layer: int):
        super().__init__()
        d, p = c["hidden_size"], c["patch_size"]
        self.grid = c["image_size"] // p
        self.patch_embedding = nn.Conv2d(3, d, p, stride=p, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(d) * 0.02)
        self.position_embedding = nn.Embedding(self.grid**2 + 1, d)
        self.pre_layrnorm = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.layers = nn.ModuleList(ClipLayer(d, c["intermediate_size"], c["num_attention_heads"], c["layer_norm_eps"]) for _ in range(c["num_hidden_layers"]))
        self.post_layernorm = nn.LayerNorm(d, eps=c["layer_norm_eps"])  # exported, unused at layer -2
        n = c["num_hidden_layers"]
        self.run_layers = n + 1 + feature_layer if feature_layer < 0 else feature_layer

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """hidden_states[feature_layer] without CLS: [B, grid², d]."""
        x = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(x.shape[0], 1, -1), x], dim=1) + self.position_embedding.weight
        x = self.pre_layrnorm(x)
        for layer in self.layers[: self.run_layers]:
            x = layer(x)
        return x[:, 1:]


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_normalise(x, self.eps) * self.weight


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


class LlamaLayer(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        d, self.h, self.kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = d // self.h
        self.input_layernorm = RMSNorm(d, c["rms_norm_eps"])
        self.q_proj = nn.Linear(d, self.h * self.hd, bias=False)
        self.k_proj = nn.Linear(d, self.kv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.kv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.h * self.hd, d, bias=False)
        self.post_attention_layernorm = RMSNorm(d, c["rms_norm_eps"])
        m = c["intermediate_size"]
        self.gate_proj = nn.Linear(d, m, bias=False)
        self.up_proj = nn.Linear(d, m, bias=False)
        self.down_proj = nn.Linear(m, d, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(B, T, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.h // self.kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        s = q @ k.transpose(-1, -2) * self.hd**-0.5 + mask
        a = torch.softmax(s, dim=-1) @ v
        x = x + self.o_proj(a.transpose(1, 2).reshape(B, T, self.h * self.hd))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llava(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        t, v = config["text_config"], config["vision_config"]
        self.config = config
        self.vision = ClipVision(v, config["vision_feature_layer"])
        self.linear_1 = nn.Linear(v["hidden_size"], t["hidden_size"])
        self.linear_2 = nn.Linear(t["hidden_size"], t["hidden_size"])
        self.embed_tokens = nn.Embedding(t["vocab_size"], t["hidden_size"])
        self.layers = nn.ModuleList(LlamaLayer(t) for _ in range(t["num_hidden_layers"]))
        self.norm = RMSNorm(t["hidden_size"], t["rms_norm_eps"])
        self.lm_head = nn.Linear(t["hidden_size"], t["vocab_size"], bias=False)
        hd = t["hidden_size"] // t["num_attention_heads"]
        inv = 1.0 / (t.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        freqs = torch.outer(torch.arange(t["max_position_embeddings"], dtype=torch.float64), inv)
        emb = torch.cat([freqs, freqs], dim=-1)
        self.register_buffer("cos", emb.cos().float(), persistent=False)
        self.register_buffer("sin", emb.sin().float(), persistent=False)
        self.image_token_id = config["image_token_index"]
        # auxiliary per-patch heads for the vision warm-up (not exported)
        self.aux = nn.Linear(v["hidden_size"], len(scenes.COLOR_NAMES) + 1 + len(scenes.SHAPES) + 1 + 1 + 2)
        # the patch's own column and row in [-1, 1]: position questions compare them between objects
        g = self.vision.grid
        cols = (torch.arange(g, dtype=torch.float32) + 0.5) / g * 2 - 1
        self.register_buffer("patch_xy", torch.stack(torch.meshgrid(cols, cols, indexing="xy"), -1).reshape(-1, 2), persistent=False)
        # two fixed orthonormal directions of the language model's input space (from their own
        # seed, not a parameter) along which projected_xy_loss asks for the patch's column and row
        readout = torch.linalg.qr(torch.randn(t["hidden_size"], 2, generator=torch.Generator().manual_seed(0)))[0].T
        self.register_buffer("xy_readout", readout.contiguous(), persistent=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def image_features(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.vision(pixels)
        return feats, self.linear_2(F.gelu(self.linear_1(feats)))

    def aux_loss(self, feats: torch.Tensor, aux: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.aux(feats)
        nc, ns = len(scenes.COLOR_NAMES) + 1, len(scenes.SHAPES) + 1
        weight = balanced_patch_weight(aux).reshape(-1)

        def balanced_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return (F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none") * weight).sum()

        color = balanced_ce(out[..., :nc], aux["color"])
        shape = balanced_ce(out[..., nc : nc + ns], aux["shape"])
        center = F.binary_cross_entropy_with_logits(out[..., nc + ns], aux["center"].float(), pos_weight=torch.tensor(8.0))
        xy = F.mse_loss(out[..., nc + ns + 1 :], self.patch_xy.expand_as(out[..., nc + ns + 1 :]))
        return color + shape + center + xy

    def align_loss(self, projected: torch.Tensor, aux: dict[str, torch.Tensor], color_ids: torch.Tensor, shape_ids: torch.Tensor, side_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Pulls each object patch's projected token towards the language model's own input
        embeddings of its colour word and shape word (cosine, a classifier over those words plus
        'none'), and background tokens away from all of them. The visual tokens then share
        directions with the words a question names, which is what a question token has to match
        to find its object; how the language model attends is left entirely to the answer loss."""
        p = F.normalize(projected, dim=-1)
        weight = balanced_patch_weight(aux).reshape(-1)
        total = projected.new_zeros(())
        pairs = [(color_ids, aux["color"]), (shape_ids, aux["shape"])]
        if side_ids is not None:  # object patches also towards "left" or "right" by their image half
            right = (self.patch_xy[:, 0] > 0).long().expand_as(aux["color"])
            pairs.append((side_ids, torch.where(aux["color"] > 0, 1 + right, torch.zeros_like(right))))
        for ids, target in pairs:
            words = F.normalize(self.embed_tokens.weight[ids], dim=-1)  # [K, d]
            logits = ALIGN_SCALE * (p @ words.T)  # [B, N, K]
            logits = torch.cat([logits.new_zeros(logits.shape[:-1] + (1,)), logits], dim=-1)  # class 0: none
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none")
            total = total + (ce * weight).sum()
        return total

    def projected_xy_loss(self, projected: torch.Tensor, aux: dict[str, torch.Tensor]) -> torch.Tensor:
        """Keeps each patch's column and row readable in what the language model sees (the
        projected token after RMS normalisation) along two fixed directions. The tower knows
        where each patch is (its auxiliary xy target), but the projector, trained on colour and
        shape, dropped it on object patches: a least-squares probe of the projected tokens
        recovered object patches' xy with R^2 below 0, and position questions sat at chance."""
        read = rms_normalise(projected) @ self.xy_readout.T  # [B, N, 2]
        return ((read - XY_SCALE * self.patch_xy).pow(2).sum(-1) * balanced_patch_weight(aux)).sum()

    def forward(
        self, ids: torch.Tensor, pixels: torch.Tensor, rows: torch.Tensor, layer_states: list[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Logits at the given positions rows [B, R] of each sequence, and the vision features
        (tower output, projected tokens). If layer_states is a list, each decoder layer's output
        at those rows is appended to it (for the analysis tools' probes)."""
        feats, projected = self.image_features(pixels)
        x = self.embed_tokens(ids)
        is_image = ids == self.image_token_id
        x = x.masked_scatter(is_image.unsqueeze(-1), projected.reshape(-1, projected.shape[-1]).to(x.dtype))
        T = ids.shape[1]
        cos, sin = self.cos[:T], self.sin[:T]
        mask = torch.full((T, T), float("-inf")).triu(1)
        index = rows.unsqueeze(-1).expand(-1, -1, x.shape[-1])
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
            if layer_states is not None:
                layer_states.append(torch.gather(x, 1, index))
        x = self.norm(x)
        return self.lm_head(torch.gather(x, 1, index)), (feats, projected)


ALIGN_SCALE = 10.0  # cosine -> logit; 'none' sits at 0, so a word needs cosine > 0 to win
XY_SCALE = 2.0  # column/row in [-1, 1] -> this many RMS units of the normalised token (norm about 11)


# ---------------------------------------------------------------------------------------------
# data


class Batcher:
    def __init__(self, table: dict, mean: list[float], std: list[float]):
        self.prompts = {q: ids for q, ids in table["prompts"].items()}
        self.answers = {a: ids for a, ids in table["answers"].items()}
        self.turns = table.get("turns", {})
        self.eos = table["eosTokenId"]
        self.pad = table["padTokenId"] if table.get("padTokenId") is not None else self.eos
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)

    def pixels(self, images: list[np.ndarray]) -> torch.Tensor:
        x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
        return (x - self.mean) / self.std

    def conversations(self, dialogues: list[list[tuple[str, str]]]):
        """ids [B, T]: first turn = the runtime's single-turn prompt + answer + </s>, later turns
        "USER: q ASSISTANT:" + answer + </s> (right-padded); rows [B, R]: positions where each
        answer and each </s> are predicted; targets [B, R] (-100 where a row is padding)."""
        seqs, rows, targets = [], [], []
        for turns in dialogues:
            ids: list[int] = []
            r: list[int] = []
            tg: list[int] = []
            for k, (q, a) in enumerate(turns):
                ids += self.prompts[q] if k == 0 else self.turns[q]
                ans = self.answers[a]
                if len(ans) != 1:
                    raise ValueError(f"answer {a!r} is {len(ans)} tokens; the trainer expects one")
                r += [len(ids) - 1, len(ids)]
                tg += [ans[0], self.eos]
                ids += [ans[0], self.eos]
            seqs.append(ids[:-1])  # the last </s> is only a target
            rows.append(r)
            targets.append(tg)
        T = max(len(s) for s in seqs)
        R = max(len(r) for r in rows)
        ids_t = torch.tensor([s + [self.pad] * (T - len(s)) for s in seqs])
        rows_t = torch.tensor([r + [0] * (R - len(r)) for r in rows])
        targets_t = torch.tensor([t + [-100] * (R - len(t)) for t in targets])
        return ids_t, rows_t, targets_t

    def batch(self, items):
        """Single-turn items (image, aux, question, answer, type)."""
        images, auxes, qs, ans, _types = zip(*items)
        ids, rows, targets = self.conversations([[(q, a)] for q, a in zip(qs, ans)])
        aux = {k: torch.from_numpy(np.stack([a[k] for a in auxes])) for k in auxes[0]}
        return ids, self.pixels(list(images)), rows, targets, aux

    def dialogue_batch(self, items):
        """Multi-turn items (image, aux, [(question, answer, type), ...])."""
        images, auxes, dialogues = zip(*items)
        ids, rows, targets = self.conversations([[(q, a) for q, a, _ in d] for d in dialogues])
        aux = {k: torch.from_numpy(np.stack([a[k] for a in auxes])) for k in auxes[0]}
        return ids, self.pixels(list(images)), rows, targets, aux


def max_objects_at(fraction: float) -> int:
    """Curriculum: scenes grow from one object to four over the first 40 % of joint training."""
    return 1 if fraction < 0.08 else 2 if fraction < 0.2 else 3 if fraction < 0.4 else 4


# ---------------------------------------------------------------------------------------------
# evaluation and export


@torch.no_grad()
def evaluate(model: Llava, batcher: Batcher, items, batch_size: int = 50) -> dict:
    """Greedy exact match: the answer token, then </s>, are both the argmax (what greedy decoding emits)."""
    model.eval()
    by_type: dict[str, list[int]] = {}
    for i in range(0, len(items), batch_size):
        chunk = items[i : i + batch_size]
        ids, pixels, rows, targets, _ = batcher.batch(chunk)
        logits, _ = model(ids, pixels, rows)
        ok = (logits.argmax(-1) == targets).all(-1)
        for item, good in zip(chunk, ok.tolist()):
            by_type.setdefault(item[4], []).append(int(good))
    model.train()
    total = sum(sum(v) for v in by_type.values()) / sum(len(v) for v in by_type.values())
    return {"accuracy": total, **{t: sum(v) / len(v) for t, v in sorted(by_type.items())}}


def left_right_probe(rng: np.random.Generator, n: int, form: str) -> list:
    """n left/right questions about scenes of two objects and n about four, typed lr_2 and lr_4
    for evaluate(): the axis a model reads only from what the tokens carry."""
    items = []
    for objects in (2, 4):
        while len(items) < (1 if objects == 2 else 2) * n:
            objs = scenes.sample_objects(rng, objects)
            qa = scenes.ask(rng, objs, "position", horizontal_share=1.0, left_right=form)
            if qa is not None:
                items.append((*scenes.render(rng, objs), qa[0], qa[1], f"lr_{objects}"))
    return items


def hub_tensors(model: Llava) -> dict[str, torch.Tensor]:
    """Our parameters under llava-hf's checkpoint names (the 'hub' layout)."""
    out: dict[str, torch.Tensor] = {}
    vt = "vision_tower.vision_model."
    v = model.vision
    out[vt + "embeddings.class_embedding"] = v.class_embedding
    out[vt + "embeddings.patch_embedding.weight"] = v.patch_embedding.weight
    out[vt + "embeddings.position_embedding.weight"] = v.position_embedding.weight
    for name in ("pre_layrnorm", "post_layernorm"):
        out[f"{vt}{name}.weight"] = getattr(v, name).weight
        out[f"{vt}{name}.bias"] = getattr(v, name).bias
    for i, layer in enumerate(v.layers):
        p = f"{vt}encoder.layers.{i}."
        for sub, mod in (
            ("self_attn.q_proj", layer.q_proj), ("self_attn.k_proj", layer.k_proj), ("self_attn.v_proj", layer.v_proj),
            ("self_attn.out_proj", layer.out_proj), ("layer_norm1", layer.layer_norm1), ("layer_norm2", layer.layer_norm2),
            ("mlp.fc1", layer.fc1), ("mlp.fc2", layer.fc2),
        ):
            out[p + sub + ".weight"] = mod.weight
            out[p + sub + ".bias"] = mod.bias
    for name in ("linear_1", "linear_2"):
        out[f"multi_modal_projector.{name}.weight"] = getattr(model, name).weight
        out[f"multi_modal_projector.{name}.bias"] = getattr(model, name).bias
    lm = "language_model.model."
    out[lm + "embed_tokens.weight"] = model.embed_tokens.weight
    for i, layer in enumerate(model.layers):
        p = f"{lm}layers.{i}."
        for sub in ("q_proj", "k_proj", "v_proj", "o_proj"):
            out[p + "self_attn." + sub + ".weight"] = getattr(layer, sub).weight
        for sub in ("gate_proj", "up_proj", "down_proj"):
            out[p + "mlp." + sub + ".weight"] = getattr(layer, sub).weight
        out[p + "input_layernorm.weight"] = layer.input_layernorm.weight
        out[p + "post_attention_layernorm.weight"] = layer.post_attention_layernorm.weight
    out[lm + "norm.weight"] = model.norm.weight
    out["language_model.lm_head.weight"] = model.lm_head.weight
    return out


def write_safetensors(path: str, tensors: dict[str, torch.Tensor]) -> None:
    """safetensors: u64 header length, JSON header (names sorted, 8-byte aligned), raw little-endian F16 data."""
    header: dict = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().to(torch.float16).contiguous().numpy().astype("<f2").tobytes()
        header[name] = {"dtype": "F16", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_hub_safetensors(path: str, model: Llava) -> None:
    """Loads an exported model (F16 safetensors, hub names) into `model`; the auxiliary head keeps its init."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    wanted = hub_tensors(model)
    stored = set(header) - {"__metadata__"}
    missing, extra = set(wanted) - stored, stored - set(wanted)
    if missing or extra:
        raise ValueError(f"{path}: missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]}")
    with torch.no_grad():
        for name, t in wanted.items():
            h = header[name]
            if h["dtype"] != "F16" or list(h["shape"]) != list(t.shape):
                raise ValueError(f"{path}: {name} is {h['dtype']} {h['shape']}, expected F16 {list(t.shape)}")
            a, b = h["data_offsets"]
            t.copy_(torch.from_numpy(np.frombuffer(data[a:b], dtype="<f2").astype(np.float32)).view(t.shape))


def load_trained(model_dir: str, table_path: str, checkpoint: str | None = None) -> tuple[Llava, Batcher]:
    """The model in eval mode, from a training checkpoint (auxiliary head included) or else from
    the folder's exported weights, and the batcher for its token table (for the analysis tools)."""
    config = json.load(open(os.path.join(model_dir, "config.json")))
    pre = json.load(open(os.path.join(model_dir, "preprocessor_config.json")))
    model = Llava(config)
    if checkpoint:
        model.load_state_dict(torch.load(checkpoint)["model"])
    else:
        read_hub_safetensors(os.path.join(model_dir, "model.safetensors"), model)
    model.eval()
    return model, Batcher(json.load(open(table_path)), pre["image_mean"], pre["image_std"])


def round_to_f16_(model: Llava) -> None:
    """Rounds every exported weight to f16 in place, so Python's final figures are the shipped model's."""
    with torch.no_grad():
        for t in hub_tensors(model).values():
            t.copy_(t.to(torch.float16).float())


# ---------------------------------------------------------------------------------------------
# training


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="model folder from prepare.ts (config.json etc.)")
    ap.add_argument("--table", required=True, help="token table from prepare.ts")
    ap.add_argument("--work", required=True, help="folder for checkpoints and the training log")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--warmup-steps", type=int, default=600, help="vision-only auxiliary steps")
    ap.add_argument("--steps", type=int, default=3000, help="joint training steps")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--turns", type=int, default=1, help="questions per training image (multi-turn conversations)")
    ap.add_argument("--export-only", action="store_true", help="write the model from the last checkpoint and stop")
    ap.add_argument("--stop-at", type=int, help="stop after this global step, keeping the checkpoint (a later call resumes)")
    ap.add_argument("--init-from", help="start from an exported model.safetensors instead of random weights (fresh optimiser)")
    ap.add_argument("--no-curriculum", action="store_true", help="scenes of 1-4 objects from the first step")
    ap.add_argument("--max-objects", type=int, default=4, help="at most this many objects per joint-training scene (caps the curriculum)")
    ap.add_argument("--freeze-vision", action="store_true", help="joint training leaves the vision tower as it is (no auxiliary loss)")
    ap.add_argument("--align-weight", type=float, default=0.0, help="weight of the projector-to-word-embedding alignment loss")
    ap.add_argument("--reset-language-model", action="store_true", help="with --init-from: fresh decoder layers and lm_head")
    ap.add_argument("--align-sides", action="store_true", help="the alignment loss also pulls object patches towards 'left' or 'right'")
    ap.add_argument("--xy-weight", type=float, default=0.0, help="weight of the loss keeping patch xy readable in the projected tokens")
    ap.add_argument("--centred-reference", type=float, default=0.0,
                    help="share of position questions whose reference object sits on the image's centre line (see scenes.sample_conversation)")
    ap.add_argument("--left-right", choices=["either", *scenes.HALF_FORMS], default="either",
                    help='left/right question form: "Is the A object left or right of the B object?" (runs 1-3) or which half one object is in (scenes.HALF_FORMS; E12-E15, the eval set)')
    ap.add_argument("--probe-left-right", type=int, default=0,
                    help="also score N left/right questions with 2 and N with 4 objects at every validation")
    ap.add_argument("--horizontal-share", type=float, default=0.5, help="share of position questions asked left/right rather than above/below")
    ap.add_argument("--type-weights", help="question type mix for joint training, e.g. color=1,shape=1.5,count=0.5,exist=2,position=2")
    args = ap.parse_args()

    type_weights = None
    if args.type_weights:
        given = dict(kv.split("=") for kv in args.type_weights.split(","))
        if set(given) != set(scenes.TYPES):
            raise SystemExit(f"--type-weights needs exactly {scenes.TYPES}")
        type_weights = [float(given[t]) for t in scenes.TYPES]
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = json.load(open(os.path.join(args.model, "config.json")))
    pre = json.load(open(os.path.join(args.model, "preprocessor_config.json")))
    table = json.load(open(args.table))
    assert table["imageTokenId"] == config["image_token_index"]
    assert table["imageTokens"] == (config["vision_config"]["image_size"] // config["vision_config"]["patch_size"]) ** 2
    batcher = Batcher(table, pre["image_mean"], pre["image_std"])
    model = Llava(config)
    color_ids = torch.tensor([table["answers"][c][0] for c in scenes.COLOR_NAMES])
    shape_ids = torch.tensor([table["answers"][s][0] for s in scenes.SHAPES])
    side_ids = torch.tensor([table["answers"][w][0] for w in ("left", "right")]) if args.align_sides else None
    os.makedirs(args.work, exist_ok=True)
    ckpt_path = os.path.join(args.work, "checkpoint.pt")
    log_path = os.path.join(args.work, "train-log.jsonl")

    val_rng = np.random.default_rng(args.seed + 10_000)
    # Validation asks left/right in the form being trained (runs 1-3: the relative one).
    val = [scenes.sample(val_rng, qtype=scenes.TYPES[i % len(scenes.TYPES)], left_right=args.left_right) for i in range(250)]
    probe = left_right_probe(np.random.default_rng(args.seed + 20_000), args.probe_left_right, args.left_right)
    rng = np.random.default_rng(args.seed)

    vision_params = list(model.vision.parameters()) + list(model.aux.parameters())
    opt_v = torch.optim.AdamW(vision_params, lr=args.lr, weight_decay=0.01)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    step, elapsed = 0, 0.0
    if args.init_from and not os.path.exists(ckpt_path):
        read_hub_safetensors(args.init_from, model)
        print(f"initialised from {args.init_from}", flush=True)
        if args.reset_language_model:  # keep tower, projector and word embeddings; new decoder layers and head
            model.layers.apply(model._init)
            model.lm_head.apply(model._init)
            for m in model.modules():
                if isinstance(m, RMSNorm) and not any(m is n for n in model.vision.modules()):
                    nn.init.ones_(m.weight)
            print("language model layers and head re-initialised", flush=True)
    if args.freeze_vision:
        model.vision.requires_grad_(False)
    if os.path.exists(ckpt_path):
        s = torch.load(ckpt_path)
        model.load_state_dict(s["model"])
        opt_v.load_state_dict(s["opt_v"])
        opt.load_state_dict(s["opt"])
        step, elapsed = s["step"], s["elapsed"]
        rng.bit_generator.state = s["rng"]
        torch.set_rng_state(s["torch_rng"])
        print(f"resumed at step {step} ({elapsed / 60:.1f} min so far)", flush=True)

    total = args.warmup_steps + args.steps
    end = step if args.export_only else min(total, args.stop_at) if args.stop_at else total
    log = open(log_path, "a")
    t0 = time.time() - elapsed
    running: dict[str, float] = {}
    objects_at = (lambda _frac: args.max_objects) if args.no_curriculum else (lambda frac: min(args.max_objects, max_objects_at(frac)))
    while step < end:
        warm = step < args.warmup_steps
        if warm:
            frac = step / args.warmup_steps
            lr = args.lr * min(1.0, (step + 1) / 50)
            items = [scenes.sample(rng, max_objects=4, left_right=args.left_right) for _ in range(args.batch)]
            _, pixels, _, _, aux = batcher.batch(items)
            feats = model.vision(pixels)
            loss = model.aux_loss(feats, aux)
            parts = {"aux": loss.item()}
            o = opt_v
        else:
            j = step - args.warmup_steps
            frac = j / args.steps
            lr = args.lr * min(1.0, (j + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
            # sample_conversation with turns=1 gives single questions too, with the mix options;
            # plain single questions keep sample()'s stream, which older runs were trained on.
            if args.turns > 1 or type_weights or args.centred_reference or args.horizontal_share != 0.5:
                items = [scenes.sample_conversation(rng, max_objects=objects_at(frac), turns=args.turns, type_weights=type_weights,
                                                     centred_reference=args.centred_reference, horizontal_share=args.horizontal_share,
                                                     left_right=args.left_right)
                         for _ in range(args.batch)]
                ids, pixels, rows, targets, aux = batcher.dialogue_batch(items)
            else:
                items = [scenes.sample(rng, max_objects=objects_at(frac), left_right=args.left_right) for _ in range(args.batch)]
                ids, pixels, rows, targets, aux = batcher.batch(items)
            logits, (feats, projected) = model(ids, pixels, rows)
            lm = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
            loss = lm
            parts = {"lm": lm.item()}
            if not args.freeze_vision:
                ax = model.aux_loss(feats, aux)
                loss = loss + 0.2 * ax
                parts["aux"] = ax.item()
            if args.align_weight:
                al = model.align_loss(projected, aux, color_ids, shape_ids, side_ids)
                loss = loss + args.align_weight * al
                parts["align"] = al.item()
            if args.xy_weight:
                xl = model.projected_xy_loss(projected, aux)
                loss = loss + args.xy_weight * xl
                parts["xy"] = xl.item()
            o = opt
        for g in o.param_groups:
            g["lr"] = lr
        o.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        o.step()
        step += 1
        for k, v in parts.items():
            running[k] = 0.98 * running.get(k, v) + 0.02 * v
        if step % 25 == 0:
            print(f"step {step}/{total} {'warm-up' if warm else 'joint'} lr {lr:.2e} " + " ".join(f"{k} {v:.3f}" for k, v in running.items()) + f"  {(time.time() - t0) / 60:.1f} min", flush=True)
        if (not warm and (step - args.warmup_steps) % args.eval_every == 0) or step == total:
            metrics = evaluate(model, batcher, val)
            if probe:
                metrics.update({k: v for k, v in evaluate(model, batcher, probe).items() if k != "accuracy"})
            record = {"step": step, "minutes": (time.time() - t0) / 60, "lr": lr, **running, **{f"val_{k}": v for k, v in metrics.items()}}
            print("VAL " + json.dumps(record), flush=True)
            log.write(json.dumps(record) + "\n")
            log.flush()
        if step % 100 == 0 or step == end:
            torch.save({"model": model.state_dict(), "opt_v": opt_v.state_dict(), "opt": opt.state_dict(), "step": step,
                        "elapsed": time.time() - t0, "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}, ckpt_path + ".tmp")
            os.replace(ckpt_path + ".tmp", ckpt_path)

    if step < total and not args.export_only:
        print(f"stopped at step {step} of {total}; run again to resume", flush=True)
        return
    minutes = (time.time() - t0) / 60
    round_to_f16_(model)
    final = evaluate(model, batcher, val)
    write_safetensors(os.path.join(args.model, "model.safetensors"), hub_tensors(model))
    summary = {"steps": step, "warmup_steps": args.warmup_steps, "batch": args.batch, "seed": args.seed, "train_minutes": minutes,
               "threads": args.threads, "validation_f16": final}
    json.dump(summary, open(os.path.join(args.work, "summary.json"), "w"), indent=1)
    print("DONE " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    sys.exit(main())
