/**
 * npm run bench:prune [-- --case llava-576|next-2336|idefics3-1088|all] — in one run on Node's
 * WebGPU (Dawn): unpruned vs FitPrune prefill time at 50 % and 30 % of the reference-convention
 * FLOPs, next to the FLOPs ratios, and the cost of the pruning machinery (statistics, ranking,
 * gather) as a share of the unpruned prefill. Models are random checkpoints in the exact HF
 * layouts (test/fixtures/tiny): LLaVA-1.5's 576 visual tokens; a LLaVA-NeXT with 2,336 (base
 * image + 2×4 anyres tiles + newline rows); an Idefics3 (SmolVLM) with 1,088 (4×4 tiles + the
 * global image, tile markers between them). Recipes are calibrated here on 2 images. Only ratios
 * measured in one run mean anything.
 */
import { parseArgs } from 'node:util';
import { Engine } from '../src/engine/engine';
import { describeAdapter } from '../src/gpu/device';
import { nodeGpu } from '../src/gpu/node';
import { Calibrator, type PassA } from '../src/prune/calibrate';
import type { PruningPolicy } from '../src/prune/policies';
import { Rng } from '../src/util/random';
import { IDEFICS3_PRESETS, makeTinyIdefics3 } from '../test/fixtures/tiny/idefics3';
import { makeTinyLlava } from '../test/fixtures/tiny/llava';
import { makeTinyLlavaNext, NEXT_PRESETS } from '../test/fixtures/tiny/llava-next';

const PRUNING_KERNELS = ['attentionStats', 'attentionStatsReduce', 'bottomKKeep', 'bottomKKeepCompact', 'gatherRows', 'elementwise'];
const RUNS = 3;

interface BenchCase {
  describe: string;
  files: () => Map<string, Uint8Array>;
  image: [width: number, height: number];
}

// The big cases keep the tiles' geometry but a 4-layer, 128-wide decoder, so that a prefill of
// 2,000+ tokens takes seconds (not minutes) on a software GPU and calibration fits in the run.
const SMALL_DECODER = { hidden: 128, intermediate: 344, layers: 4, heads: 4, kvHeads: 2 };

const CASES: Record<string, BenchCase> = {
  'llava-576': {
    describe: 'LLaVA-1.5 layout, 576 visual tokens (336 px, patch 14), 8 layers × 256 (preset bench-576)',
    files: () => makeTinyLlava({ seed: 3, preset: 'bench-576' }),
    image: [336, 336],
  },
  'next-2336': {
    describe: 'LLaVA-NeXT layout (llava-v1.6-mistral), 2,336 visual tokens (448×224 image: base + 2×4 tiles of 112 px + newlines), 4 layers × 128',
    files: () => makeTinyLlavaNext({ seed: 3, preset: { ...NEXT_PRESETS['bench-2336'], text: SMALL_DECODER } }),
    image: [448, 224],
  },
  'idefics3-1088': {
    describe: 'Idefics3 layout (SmolVLM), 1,088 visual tokens (512 px image: 4×4 tiles + global, 64 each, markers between), 4 layers × 128',
    files: () => makeTinyIdefics3({ seed: 3, preset: { ...IDEFICS3_PRESETS['bench-1088'], text: { ...SMALL_DECODER, tieEmbeddings: false } } }),
    image: [512, 512],
  },
};

function image(rng: Rng, w: number, h: number) {
  const data = new Uint8ClampedArray(w * h * 4).fill(110);
  const s = Math.floor(Math.min(w, h) / 6);
  for (let k = 0; k < 5; k++) {
    const [x0, y0, c] = [rng.int(0, w - s), rng.int(0, h - s), [rng.int(0, 256), rng.int(0, 256), rng.int(0, 256)]];
    for (let y = y0; y < y0 + s; y++) for (let x = x0; x < x0 + s; x++) data.set([...c, 255], (y * w + x) * 4);
  }
  return { data, width: w, height: h, channels: 4 as const };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function bench(engine: Engine, name: string, c: BenchCase): Promise<void> {
  const info = await engine.load({ files: c.files(), name });
  const rng = new Rng(7);
  const question = 'What is the color of the square on the left?';
  const img = image(rng, ...c.image);
  const samples = [0, 1].map(() => ({ image: image(rng, ...c.image), question }));
  const prefill = (pruning: PruningPolicy) => engine.generate({ prompt: question, image: img, maxNewTokens: 1, pruning });
  await prefill({ kind: 'none' }); // warm-up: pipelines and the image-feature cache
  const policies: { name: string; policy: PruningPolicy }[] = [{ name: 'unpruned', policy: { kind: 'none' } }];
  let passA: PassA | undefined;
  let calibrationSeconds = 0;
  for (const keep of [0.5, 0.3]) {
    const t0 = performance.now();
    const r = await new Calibrator(engine, samples).run(keep, name, { passA });
    calibrationSeconds += (performance.now() - t0) / 1000;
    passA = r.passA;
    policies.push({ name: `fitprune ${keep * 100} %`, policy: { kind: 'fitprune', recipe: r.recipe } });
    // The control: the same per-layer counts, tokens drawn at random (no statistics, no ranking).
    policies.push({ name: `random ${keep * 100} % (same counts)`, policy: { kind: 'random', recipe: r.recipe, seed: 1 } });
  }
  const rows: string[] = [];
  const medians = new Map<string, number>();
  let unprunedMs = 0;
  let visual = 0;
  let promptTokens = 0;
  for (const { name: label, policy } of policies) {
    await prefill(policy); // warm-up of this policy's pipelines
    const times: number[] = [];
    let last = await prefill(policy);
    for (let i = 0; i < RUNS; i++) {
      last = await prefill(policy);
      times.push(last.usage.prefillMs);
    }
    const ms = median(times);
    medians.set(label, ms);
    if (policy.kind === 'none') {
      unprunedMs = ms;
      visual = last.usage.visualTokens;
      promptTokens = last.usage.promptTokens;
    }
    rows.push(
      `| ${label} | ${ms.toFixed(0)} | ${(ms / unprunedMs).toFixed(3)} | ${last.pruning.flops.reference.ratio.toFixed(3)} | ${last.pruning.flops.architecture.ratio.toFixed(3)} | ${last.pruning.keptPerLayer.at(-1)} |`,
    );
  }
  // Overhead: per-kernel GPU time (wall clock per dispatch) of one unpruned and one pruned prefill.
  const profile = async (policy: PruningPolicy) => {
    engine.ctx.startProfiling('wall');
    await prefill(policy);
    return engine.ctx.stopProfiling();
  };
  const base = await profile({ kind: 'none' });
  const pruned = await profile(policies[1]!.policy);
  const total = base.reduce((a, k) => a + k.totalMs, 0);
  const machineryKernels = pruned.filter((k) => PRUNING_KERNELS.includes(k.label));
  const machinery = machineryKernels.reduce((a, k) => a + k.totalMs, 0);
  const breakdown = machineryKernels.map((k) => `${k.label} ${k.totalMs.toFixed(1)} ms`).join(', ');
  console.log(`\n## ${name}\n`);
  console.log(`Model: random ${info.family} checkpoint — ${c.describe}; prompt ${promptTokens} tokens of which ${visual} visual; median of ${RUNS} prefills (image features cached)`);
  console.log(`Recipes calibrated here on 2 images in ${calibrationSeconds.toFixed(1)} s (both budgets, pass A shared)\n`);
  console.log('| policy | prefill ms | time ratio | FLOPs ratio (reference) | FLOPs ratio (architecture) | visual tokens left |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(r);
  console.log(`\nStatistics + ranking + gather at 50 %: ${machinery.toFixed(1)} ms of kernel time = ${((machinery / total) * 100).toFixed(1)} % of the unpruned prefill's ${total.toFixed(0)} ms (per-dispatch wall clock): ${breakdown}`);
  for (const keep of ['50', '30']) {
    const fit = medians.get(`fitprune ${keep} %`)!;
    const rnd = medians.get(`random ${keep} % (same counts)`)!;
    console.log(`FitPrune / random prefill at ${keep} %, same counts: ${(fit / rnd).toFixed(3)}`);
  }
}

const { values } = parseArgs({ options: { case: { type: 'string', default: 'llava-576' } } });
const names = values.case === 'all' ? Object.keys(CASES) : values.case!.split(',');
for (const n of names) if (!CASES[n]) throw new Error(`unknown --case "${n}" (${Object.keys(CASES).join(', ')}, all)`);

const engine = await Engine.create({ gpu: nodeGpu() });
try {
  console.log(`# Pruning benchmark — ${new Date().toISOString().slice(0, 10)}\n`);
  console.log(`Adapter: ${describeAdapter(engine.adapter)}`);
  for (const n of names) await bench(engine, n, CASES[n]!);
} finally {
  engine.dispose();
}
