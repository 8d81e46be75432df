"""
Procedural visual question answering scenes for the demo model (numpy only, deterministic).

A scene is a 112x112 RGB image: a flat grey background with faint noise (uninformative: most
of the 14x14 = 196 patches of 8 px show nothing) and 1-4 objects, each of its own colour (so a
colour names one object) and any shape, 2x2 or 3x3 patches on the patch grid. Every question
is about something visible and has a one-word answer; each question type needs the model to
look at the right objects:

  color     What color is the {shape}?                       (that shape occurs once)
  shape     What shape is the {color} object?
  count     How many objects are there? / How many {shape}s are there?
  exist     Is there a {color} {shape}?                      (yes/no, balanced)
  position  Is the {color} object left or right of the {color} object?   (left_right="either")
            What half is the {color} object in?                         (left_right="what-half")
            Is the {color} object above or below the {color} object?

Runs 1-3 trained on the relative forms (left_right="either"), and their six-layer language
model never learnt the left/right one (runs 1-4 and the experiments in README.md, History); the
shipped model (E15) and the eval set ask instead which half of the image one object lies in
(2-4 objects, HALF_FORMS). Asked "Is the {color} object in the left or right half?", a language
model trained afresh on run 3's tower answered with the objects' mean side; asked "What half is
the {color} object in?", laid out like the shape question whose answer row picks the named
object, it learnt to read the named one (README.md, History). Above/below stays relative in both: rows
are 14 tokens apart in the image sequence and the model compares the two objects through that.

All randomness flows from one numpy Generator, so a seed fixes every image and question.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import numpy as np

IMAGE_SIZE = 112
PATCH = 8
GRID = IMAGE_SIZE // PATCH  # 14 -> 196 visual tokens

COLORS = {
    "red": (214, 39, 40),
    "green": (44, 160, 44),
    "blue": (31, 90, 220),
    "yellow": (240, 200, 20),
    "purple": (148, 60, 190),
}
COLOR_NAMES = list(COLORS)
SHAPES = ["circle", "square", "triangle"]
TYPES = ["color", "shape", "count", "exist", "position"]
# Objects sit on the patch grid, 2x2 or 3x3 patches each, so every patch shows one canonical
# piece of at most one object (a quarter disc, a square's corner, a triangle's flank). Off the
# grid, shape is spread over fragments of varying size and a small tower learnt it far slower
# (per-patch shape accuracy on objects still about 0.5 after 350 warm-up steps).
MIN_CELLS, MAX_CELLS = 2, 3  # object bounding box side, patches
GAP = PATCH  # at least one empty patch between object boxes
POSITION_MARGIN = 10  # |dx| or |dy| between centres for left/right or above/below questions


@dataclass
class Obj:
    color: str
    shape: str
    x0: int  # bounding box, px
    y0: int
    size: int

    @property
    def cx(self) -> float:
        return self.x0 + self.size / 2

    @property
    def cy(self) -> float:
        return self.y0 + self.size / 2


_YS, _XS = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32) + 0.5  # pixel centres


def _mask(obj: Obj) -> np.ndarray:
    """Boolean IMAGE_SIZE x IMAGE_SIZE coverage of the object (pixel centres inside the shape)."""
    s = obj.size
    u = (_XS - obj.x0) / s  # 0..1 inside the box
    v = (_YS - obj.y0) / s
    inside = (u >= 0) & (u < 1) & (v >= 0) & (v < 1)
    if obj.shape == "square":
        return inside
    if obj.shape == "circle":
        return (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    # triangle: apex at the top centre, base along the bottom
    return inside & (np.abs(u - 0.5) <= v / 2)


def sample_objects(rng: np.random.Generator, n: int) -> list[Obj]:
    """n objects of distinct colours (shapes may repeat) with non-overlapping boxes."""
    colors = rng.choice(len(COLOR_NAMES), size=n, replace=False)
    shapes = rng.integers(len(SHAPES), size=n)
    objs: list[Obj] = []
    for k, sh in zip(colors, shapes):
        color, shape = COLOR_NAMES[int(k)], SHAPES[int(sh)]
        for _ in range(200):
            cells = int(rng.integers(MIN_CELLS, MAX_CELLS + 1))
            size = cells * PATCH
            x0 = PATCH * int(rng.integers(0, GRID - cells + 1))
            y0 = PATCH * int(rng.integers(0, GRID - cells + 1))
            if all(
                x0 + size + GAP <= o.x0 or o.x0 + o.size + GAP <= x0 or y0 + size + GAP <= o.y0 or o.y0 + o.size + GAP <= y0
                for o in objs
            ):
                objs.append(Obj(color, shape, x0, y0, size))
                break
        else:
            return sample_objects(rng, n)  # crowded: start over (rare for n <= 4)
    return objs


def render(rng: np.random.Generator, objs: list[Obj]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """RGB uint8 [H, W, 3] and per-patch auxiliary targets for the vision warm-up."""
    grey = float(rng.integers(150, 206))
    img = np.full((IMAGE_SIZE, IMAGE_SIZE, 3), grey, np.float32)
    img += rng.normal(0, 4, size=img.shape).astype(np.float32)
    owner = np.full((IMAGE_SIZE, IMAGE_SIZE), -1, np.int64)
    for i, o in enumerate(objs):
        m = _mask(o)
        # a little shading variation so colours are not single RGB values
        tint = np.array(COLORS[o.color], np.float32) + rng.normal(0, 6, size=3).astype(np.float32)
        img[m] = tint
        owner[m] = i
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)

    # per patch: the object covering most of it (>= 25 % of its pixels), else background
    cover = np.zeros((GRID, GRID, len(objs) + 1), np.float32)
    blocks = owner.reshape(GRID, PATCH, GRID, PATCH).transpose(0, 2, 1, 3).reshape(GRID, GRID, PATCH * PATCH)
    for i in range(len(objs)):
        cover[:, :, i] = (blocks == i).mean(-1)
    best = cover[:, :, : len(objs)].argmax(-1) if objs else np.zeros((GRID, GRID), np.int64)
    frac = cover[:, :, : len(objs)].max(-1) if objs else np.zeros((GRID, GRID))
    color_t = np.zeros((GRID, GRID), np.int64)  # 0 background, 1.. colour index + 1
    shape_t = np.zeros((GRID, GRID), np.int64)
    for i, o in enumerate(objs):
        sel = (best == i) & (frac >= 0.25)
        color_t[sel] = COLOR_NAMES.index(o.color) + 1
        shape_t[sel] = SHAPES.index(o.shape) + 1
    center_t = np.zeros((GRID, GRID), np.int64)
    for o in objs:
        center_t[min(GRID - 1, int(o.cy // PATCH)), min(GRID - 1, int(o.cx // PATCH))] = 1
    return img, {"color": color_t.reshape(-1), "shape": shape_t.reshape(-1), "center": center_t.reshape(-1)}


def _plural(shape: str) -> str:
    return shape + "s"


def _pick_unique(rng: np.random.Generator, objs: list[Obj], key) -> Obj | None:
    """A random object whose key (colour or shape) no other object shares, or None."""
    unique = [o for o in objs if sum(key(p) == key(o) for p in objs) == 1]
    return unique[int(rng.integers(len(unique)))] if unique else None


def ask(
    rng: np.random.Generator,
    objs: list[Obj],
    qtype: str,
    centred_reference: bool = False,
    horizontal_share: float = 0.5,
    left_right: str = "either",
) -> tuple[str, str] | None:
    """A question of this type about the scene and its answer, or None if the scene can't support it.
    left_right is the form of left/right questions: "either" (is A left or right of B; the shipped
    model's form) or one of HALF_FORMS (which half of the image an object lies in);
    centred_reference applies to the former."""
    if qtype == "color":  # named by its shape, which must occur once
        o = _pick_unique(rng, objs, lambda x: x.shape)
        return None if o is None else (f"What color is the {o.shape}?", o.color)
    if qtype == "shape":  # named by its colour, which must occur once
        o = _pick_unique(rng, objs, lambda x: x.color)
        return None if o is None else (f"What shape is the {o.color} object?", o.shape)
    if qtype == "count":
        if rng.random() < 0.4:
            return "How many objects are there?", str(len(objs))
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        return f"How many {_plural(shape)} are there?", str(sum(o.shape == shape for o in objs))
    if qtype == "exist":
        present = {(o.color, o.shape) for o in objs}
        if rng.random() < 0.5:
            c, s = sorted(present)[int(rng.integers(len(present)))]
            return f"Is there a {c} {s}?", "yes"
        # absent pairs that share a colour or a shape with something present are the informative ones
        absent = [(c, s) for c in COLOR_NAMES for s in SHAPES if (c, s) not in present]
        near = [(c, s) for c, s in absent if any(c == pc or s == ps for pc, ps in present)]
        pool = near if near and rng.random() < 0.8 else absent
        c, s = pool[int(rng.integers(len(pool)))]
        return f"Is there a {c} {s}?", "no"
    if qtype == "position":
        if len(objs) < 2:
            return None
        if left_right in HALF_FORMS and rng.random() < horizontal_share:
            return half_question(rng, objs, left_right)
        for _ in range(20):
            i, j = rng.choice(len(objs), size=2, replace=False)
            a, b = objs[int(i)], objs[int(j)]
            horizontal = left_right == "either" and rng.random() < horizontal_share
            if centred_reference and abs((b.cx if horizontal else b.cy) - IMAGE_SIZE / 2) > PATCH / 2:
                continue
            if horizontal and abs(a.cx - b.cx) >= POSITION_MARGIN:
                return f"Is the {a.color} object left or right of the {b.color} object?", "left" if a.cx < b.cx else "right"
            if not horizontal and abs(a.cy - b.cy) >= POSITION_MARGIN:
                return f"Is the {a.color} object above or below the {b.color} object?", "above" if a.cy < b.cy else "below"
        return None
    raise ValueError(qtype)


# Forms of the "which half" question: the wording ("half": "Is the A object in the left or right
# half?"; "what-half": "What half is the A object in?", laid out like "What shape is the A
# object?") and, with "-opposite", only scenes with an object wholly on each side.
HALF_FORMS = ("half", "what-half", "half-opposite", "what-half-opposite")


def half_question(rng: np.random.Generator, objs: list[Obj], form: str = "half") -> tuple[str, str] | None:
    """Which half of the image one of the objects lies in (whole box on one side of the centre
    line), or None if every object straddles it (or, for an "-opposite" form, no object lies
    wholly on each side)."""
    whole = [o for o in objs if o.x0 + o.size <= IMAGE_SIZE // 2 or o.x0 >= IMAGE_SIZE // 2]
    if not whole:
        return None
    if form.endswith("-opposite") and len({w.x0 < IMAGE_SIZE // 2 for w in whole}) < 2:
        return None  # then reading all objects' mean side, not the named one's, is at chance
    o = whole[int(rng.integers(len(whole)))]
    q = f"What half is the {o.color} object in?" if form.startswith("what-half") else f"Is the {o.color} object in the left or right half?"
    return q, "left" if o.x0 < IMAGE_SIZE // 2 else "right"


def sample(rng: np.random.Generator, max_objects: int = 4, qtype: str | None = None, min_objects: int = 1, left_right: str = "either"):
    """One (image, aux targets, question, answer, type), retrying until the scene supports the question."""
    while True:
        t = qtype or TYPES[int(rng.integers(len(TYPES)))]
        lo = max(min_objects, 2 if t == "position" else 1)
        n = int(rng.integers(lo, max(lo, max_objects) + 1))
        objs = sample_objects(rng, n)
        qa = ask(rng, objs, t, left_right=left_right)
        if qa is None:
            continue
        img, aux = render(rng, objs)
        return img, aux, qa[0], qa[1], t


def sample_conversation(
    rng: np.random.Generator,
    max_objects: int = 4,
    turns: int = 4,
    type_weights: list[float] | None = None,
    centred_reference: float = 0.0,
    horizontal_share: float = 0.5,
    left_right: str = "either",
):
    """One scene with up to `turns` different questions about it, for multi-turn training:
    (image, aux targets, [(question, answer, type), ...]). The first question is of a type drawn
    like sample()'s, so first turns (the inference format) follow the same distribution, unless
    type_weights (one per TYPES entry) tilt every turn towards some types.

    centred_reference is the share of position questions whose second object (the reference)
    sits on the image's centre line along the asked axis. Then the answer is a property of the
    first object alone (which half it is in), and a model that reads both named objects' column
    or row through one attention (their mean) can already answer: a first step for a model that
    has not yet learnt to tell the two apart, where the symmetric reading of general scenes carries
    no signal about which is further left (runs 1-3's "either" form of left/right questions).
    horizontal_share is the share of position questions asked left/right rather than above/below."""
    p = None if type_weights is None else np.asarray(type_weights, np.float64) / sum(type_weights)

    def draw() -> str:
        return TYPES[int(rng.integers(len(TYPES)))] if p is None else TYPES[int(rng.choice(len(TYPES), p=p))]

    def ask_drawn(objs: list[Obj], t: str) -> tuple[str, str] | None:
        centred = t == "position" and centred_reference > 0 and rng.random() < centred_reference
        return ask(rng, objs, t, centred, horizontal_share, left_right)

    while True:
        t = draw()
        # (with a half form a one-object scene may be drawn for a position question; ask() turns it
        # down and the loop draws again, which is the stream the half-form runs were trained on)
        lo = 2 if t == "position" and left_right == "either" else 1
        n = int(rng.integers(lo, max(lo, max_objects) + 1))
        objs = sample_objects(rng, n)
        first = ask_drawn(objs, t)
        if first is None:
            continue
        qa = [(first[0], first[1], t)]
        for _ in range(4 * turns):
            if len(qa) >= turns:
                break
            t2 = draw()
            more = ask_drawn(objs, t2)
            if more and all(more[0] != q for q, _, _ in qa):
                qa.append((more[0], more[1], t2))
        img, aux = render(rng, objs)
        return img, aux, qa


def all_texts() -> dict[str, list[str]]:
    """Every question and answer the generator can produce (for the token table), and the
    sentences the tokenizer's merges are learnt from: the question set of runs 1-3, frozen so that
    the token ids (and so the trained embeddings) stay what they were."""
    qs: list[str] = []
    qs += [f"What color is the {s}?" for s in SHAPES]
    qs += [f"What shape is the {c} object?" for c in COLOR_NAMES]
    qs += ["How many objects are there?"] + [f"How many {_plural(s)} are there?" for s in SHAPES]
    qs += [f"Is there a {c} {s}?" for c in COLOR_NAMES for s in SHAPES]
    for a in COLOR_NAMES:
        for b in COLOR_NAMES:
            if a != b:
                qs.append(f"Is the {a} object left or right of the {b} object?")
                qs.append(f"Is the {a} object above or below the {b} object?")
    corpus = list(qs)
    qs += [f"Is the {c} object in the left or right half?" for c in COLOR_NAMES]
    qs += [f"What half is the {c} object in?" for c in COLOR_NAMES]
    answers = COLOR_NAMES + SHAPES + [str(i) for i in range(5)] + ["yes", "no", "left", "right", "above", "below"]
    return {"questions": qs, "answers": answers, "corpus": corpus}


if __name__ == "__main__":
    if sys.argv[1:] == ["--texts"]:
        json.dump(all_texts(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print("usage: python3 scenes.py --texts", file=sys.stderr)
        sys.exit(2)
