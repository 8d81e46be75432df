#!/usr/bin/env bash
# Reproduces the embedded demo model from nothing: `npm run train-demo` (see README.md here).
# Needs Debian's python3-torch, python3-pil, python3-numpy, an optimised BLAS
# (libopenblas0-pthread: with Debian's reference BLAS, torch runs ~30x slower) and jemalloc
# (libjemalloc2: with glibc's allocator a training step took 2-9 s instead of 1-1.6 s here, see README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
# torch's OpenMP threads otherwise spin while OpenBLAS's own threads do the matmuls on the same
# two cores (measured: 2.5 s per step spinning, 1.55 s passive; results are the same).
export OMP_WAIT_POLICY=PASSIVE
PY=${PYTHON:-/usr/bin/python3}
WORK=${WORK:-.train-demo}
MODEL=public/models/fitprune-demo
DATA=public/data/shapes
mkdir -p "$WORK"
if ! "$PY" -c 'import torch, PIL, numpy' 2>/dev/null; then
  echo "needs PyTorch, Pillow and numpy for $PY: sudo apt-get install -y python3-torch python3-pil python3-numpy libopenblas0-pthread libjemalloc2" >&2
  exit 1
fi
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
if [ -e "$JEMALLOC" ]; then
  # Keep freed pages: torch frees and re-allocates the same large activations every step.
  export LD_PRELOAD="$JEMALLOC${LD_PRELOAD:+:$LD_PRELOAD}" MALLOC_CONF="retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1"
else
  echo "warning: libjemalloc2 is not installed; training steps may be several times slower" >&2
fi
cd tools/train-demo
"$PY" scenes.py --texts > "../../$WORK/texts.json"
cd ../..
node scripts/run-ts.mjs tools/train-demo/prepare.ts --texts "$WORK/texts.json" --out "$MODEL" --table "$WORK/token-table.json"
# One run from one seed (it checkpoints every 100 steps, RNG states included; RESUME=1 continues
# an interrupted run): vision warm-up on the auxiliary per-patch targets, then joint training
# on eight questions per image with a curriculum from one object per scene to four.
# The committed model's run was planned for 1800 joint steps and stretched to 2400 at global
# step 1100 (600 joint steps in; validation was still rising): the two calls replay exactly that.
[ -n "${RESUME:-}" ] || rm -f "$WORK/checkpoint.pt" "$WORK/train-log.jsonl"
train() { (cd tools/train-demo && "$PY" train.py --model "../../$MODEL" --table "../../$WORK/token-table.json" --work "../../$WORK" \
  --seed 1 --warmup-steps 500 --batch 24 --turns 8 --lr 1.5e-3 --eval-every 200 "$@"); }
train --steps 1800 --stop-at 1100
train --steps 2400
(cd tools/train-demo && "$PY" make_data.py --out "../../$DATA" --seed 7)
(cd tools/train-demo && "$PY" check.py --model "../../$MODEL" --table "../../$WORK/token-table.json" --data "../../$DATA/eval.jsonl" \
  --vectors ../../test/fixtures/demo-model-vectors.json --json "../../$WORK/check.json")
echo "done: $MODEL, $DATA, test/fixtures/demo-model-vectors.json; training log in $WORK/train-log.jsonl"
