/**
 * npm run bench:prune — in one run on Node's WebGPU (Dawn): unpruned vs FitPrune prefill time
 * at 50 % and 30 % of the reference-convention FLOPs, next to the FLOPs ratios, and the cost of
 * the pruning machinery (statistics, ranking, gather) as a share of the unpruned prefill.
 * Model: a random LLaVA with LLaVA-1.5's 576 visual tokens on an 8-layer, 256-wide decoder
 * (preset bench-576), recipes calibrated on 2 samples. Only ratios measured here mean anything.
 */
import { Engine } from '../src/engine/engine';
import { describeAdapter } from '../src/gpu/device';
import { nodeGpu } from '../src/gpu/node';
import { Calibrator, type PassA } from '../src/prune/calibrate';
import type { PruningPolicy } from '../src/prune/policies';
import { Rng } from '../src/util/random';
import { makeTinyLlava } from '../test/fixtures/tiny/llava';

const PRUNING_KERNELS = ['attentionStats', 'attentionStatsReduce', 'bottomKKeep', 'bottomKKeepCompact', 'gatherRows', 'elementwise'];
const RUNS = 3;

function image(rng: Rng) {
  const [w, h] = [336, 336];
  const data = new Uint8ClampedArray(w * h * 4).fill(110);
  for (let k = 0; k < 5; k++) {
    const [x0, y0, c] = [rng.int(0, 280), rng.int(0, 280), [rng.int(0, 256), rng.int(0, 256), rng.int(0, 256)]];
    for (let y = y0; y < y0 + 50; y++) for (let x = x0; x < x0 + 50; x++) data.set([...c, 255], (y * w + x) * 4);
  }
  return { data, width: w, height: h, channels: 4 as const };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const engine = await Engine.create({ gpu: nodeGpu() });
try {
  await engine.load({ files: makeTinyLlava({ seed: 3, preset: 'bench-576' }), name: 'bench-576' });
  const rng = new Rng(7);
  const question = 'What is the color of the square on the left?';
  const img = image(rng);
  const samples = [0, 1].map(() => ({ image: image(rng), question }));
  const prefill = async (pruning: PruningPolicy) => {
    const r = await engine.generate({ prompt: question, image: img, maxNewTokens: 1, pruning });
    return r;
  };
  await prefill({ kind: 'none' }); // warm-up: pipelines
  const policies: { name: string; policy: PruningPolicy }[] = [{ name: 'unpruned', policy: { kind: 'none' } }];
  let passA: PassA | undefined;
  let calibrationSeconds = 0;
  for (const keep of [0.5, 0.3]) {
    const t0 = performance.now();
    const c = await new Calibrator(engine, samples).run(keep, 'bench-576', { passA });
    calibrationSeconds += (performance.now() - t0) / 1000;
    passA = c.passA;
    policies.push({ name: `fitprune ${keep * 100} %`, policy: { kind: 'fitprune', recipe: c.recipe } });
  }
  const rows: string[] = [];
  let unprunedMs = 0;
  for (const { name, policy } of policies) {
    await prefill(policy); // warm-up of this policy's pipelines
    const times: number[] = [];
    let last = await prefill(policy);
    for (let i = 0; i < RUNS; i++) {
      last = await prefill(policy);
      times.push(last.usage.prefillMs);
    }
    const ms = median(times);
    if (policy.kind === 'none') unprunedMs = ms;
    rows.push(
      `| ${name} | ${ms.toFixed(0)} | ${(ms / unprunedMs).toFixed(3)} | ${last.pruning.flops.reference.ratio.toFixed(3)} | ${last.pruning.flops.architecture.ratio.toFixed(3)} | ${last.pruning.keptPerLayer.at(-1)} |`,
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
  const machinery = pruned.filter((k) => PRUNING_KERNELS.includes(k.label)).reduce((a, k) => a + k.totalMs, 0);
  console.log(`# Pruning benchmark — ${new Date().toISOString().slice(0, 10)}\n`);
  console.log(`Adapter: ${describeAdapter(engine.adapter)}`);
  console.log(`Model: random LLaVA, 576 visual tokens, 8 layers × 256 wide (preset bench-576); prompt ${(await prefill({ kind: 'none' })).usage.promptTokens} tokens; median of ${RUNS} prefills`);
  console.log(`Recipes calibrated here on 2 samples in ${calibrationSeconds.toFixed(1)} s (both budgets, pass A shared)\n`);
  console.log('| policy | prefill ms | time ratio | FLOPs ratio (reference) | FLOPs ratio (architecture) | visual tokens left |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(r);
  console.log(`\nStatistics + ranking + gather at 50 %: ${machinery.toFixed(1)} ms of kernel time = ${((machinery / total) * 100).toFixed(1)} % of the unpruned prefill's ${total.toFixed(0)} ms (per-dispatch wall clock)`);
} finally {
  engine.dispose();
}
