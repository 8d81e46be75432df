#!/usr/bin/env bash
# Reproduces the embedded demo model from nothing: `npm run train-demo` (see README.md here).
# Needs Debian's python3-torch, python3-pil, python3-numpy and an optimised BLAS
# (libopenblas0-pthread: with Debian's reference BLAS, torch runs ~30x slower).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/usr/bin/python3}
WORK=${WORK:-.train-demo}
MODEL=public/models/fitprune-demo
DATA=public/data/shapes
mkdir -p "$WORK"
if ! "$PY" -c 'import torch, PIL, numpy' 2>/dev/null; then
  echo "needs PyTorch, Pillow and numpy for $PY: sudo apt-get install -y python3-torch python3-pil python3-numpy libopenblas0-pthread" >&2
  exit 1
fi
cd tools/train-demo
"$PY" scenes.py --texts > "../../$WORK/texts.json"
cd ../..
node scripts/run-ts.mjs tools/train-demo/prepare.ts --texts "$WORK/texts.json" --out "$MODEL" --table "$WORK/token-table.json"
# The schedule the committed model was trained with, in the stages it actually ran (each call
# resumes from $WORK/checkpoint.pt, RNG states included): vision warm-up; joint training on
# single-turn questions (batch 32) on a 1000-step cosine, stretched to 1300 steps at step 1300;
# then four questions per image (batch 24) for the rest. See README.md for why.
train() { (cd tools/train-demo && "$PY" train.py --model "../../$MODEL" --table "../../$WORK/token-table.json" --work "../../$WORK" \
  --seed 1 --warmup-steps 900 --lr 1.5e-3 "$@"); }
train --steps 1000 --stop-at 1300
train --steps 1300 --stop-at 1700
train --steps 1300 --turns 4 --batch 24
# Stage 4 (the second session): a new 1800-step cosine started from the stage-3 export (F16
# weights, fresh optimiser and auxiliary head), four questions per image up to step 800 and
# eight after, scenes of 1-4 objects throughout, stopped and exported at step 1600 (learning
# rate already within 30 % of its floor). Its own folder, seed and validation set.
cp "$MODEL/model.safetensors" "$WORK/stage3-model.safetensors"
rm -f "$WORK/continue/checkpoint.pt"
continue_training() { (cd tools/train-demo && "$PY" train.py --model "../../$MODEL" --table "../../$WORK/token-table.json" --work "../../$WORK/continue" \
  --seed 2 --warmup-steps 0 --lr 1e-3 --steps 1800 --batch 24 --no-curriculum --eval-every 200 --init-from "../../$WORK/stage3-model.safetensors" "$@"); }
continue_training --turns 4 --stop-at 800
continue_training --turns 8 --stop-at 1600  # validation had been flat since step 1000 (see README.md)
continue_training --turns 8 --export-only
(cd tools/train-demo && "$PY" make_data.py --out "../../$DATA" --seed 7)
(cd tools/train-demo && "$PY" check.py --model "../../$MODEL" --table "../../$WORK/token-table.json" --data "../../$DATA/eval.jsonl" \
  --vectors ../../test/fixtures/demo-model-vectors.json --json "../../$WORK/check.json")
echo "done: $MODEL, $DATA, test/fixtures/demo-model-vectors.json; training log in $WORK/train-log.jsonl"
