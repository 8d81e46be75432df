// Long run (issue 20 part 3): 200 consecutive generations with every pruning policy and a small
// set of images that keep coming back (so the image-feature cache hits, fills and evicts nothing
// new after the first round), sampling the buffer pool after each. The schedule repeats every
// CYCLE requests, and the pool is deterministic, so after warm-up the pool must be in exactly the
// same state at the end of every cycle: handed-out bytes (weights, cached features) and cached
// free bytes both. Any growth, even one buffer per cycle, fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type GenerateRequest } from '../../src/engine/engine';
import type { PoolStats } from '../../src/gpu/pool';
import type { PruningPolicy } from '../../src/prune/policies';
import { makeTinyLlava } from '../fixtures/tiny/llava';
import { testImage } from '../helpers/llava';
import { Rng } from '../helpers/random';

const gpu = (globalThis as { __FITPRUNE_TEST_GPU__?: GPU }).__FITPRUNE_TEST_GPU__;
const GENERATIONS = 200;
const CYCLE = 10;
const WARMUP_CYCLES = 2;

describe(`long run: ${GENERATIONS} generations with mixed policies and repeated images leave the pool where it was`, () => {
  let engine: Engine;

  beforeAll(async () => {
    engine = await Engine.create({ gpu });
    await engine.load({ files: makeTinyLlava({ seed: 11 }) });
  });
  afterAll(() => engine.dispose());

  it('the same live and free bytes at the end of every cycle after warm-up', async () => {
    const info = engine.info().model!;
    const N = info.imageTokens;
    expect(info.textLayers).toBe(2);
    // Three images at two sizes (the processor resizes both): all of them recur every cycle.
    const images = [testImage(new Rng(1), 56, 56), testImage(new Rng(2), 56, 56), testImage(new Rng(3), 80, 64)];
    const recipe = { counts: [Math.floor(N / 4), Math.floor(N / 8)], referenceVisualTokens: N };
    const policies = (n: number): PruningPolicy[] => [
      { kind: 'none' },
      { kind: 'fitprune', recipe },
      { kind: 'fastv', layer: 1, ratio: 0.5 },
      { kind: 'random', recipe, seed: n }, // a new draw each time, the same sizes
    ];
    const request = (n: number): GenerateRequest => {
      const j = n % CYCLE;
      return {
        prompt: j === 9 ? 'Say hello.' : 'What is the color of the square?',
        image: j === 9 ? undefined : images[j % images.length],
        maxNewTokens: 2 + (j % 2),
        pruning: policies(n)[j % 4],
      };
    };

    const samples: PoolStats[] = [];
    const cachedHits: boolean[] = [];
    for (let n = 0; n < GENERATIONS; n++) {
      const r = await engine.generate(request(n));
      expect(r.tokens.length).toBeGreaterThan(0);
      cachedHits.push(r.usage.imageFeaturesCached);
      samples.push(engine.ctx.memory);
    }
    engine.ctx.assertNoErrors();

    // Every policy really pruned (or not) as asked, and the cache was exercised.
    const last = await engine.generate(request(1));
    expect(last.pruning.deleted).toEqual(recipe.counts);
    expect(cachedHits.slice(0, 3)).toEqual([false, false, false]);
    expect(cachedHits.slice(WARMUP_CYCLES * CYCLE).filter((hit, i) => (i % CYCLE) !== 9 && !hit)).toEqual([]);

    const cycleEnd = (c: number) => samples[(c + 1) * CYCLE - 1]!;
    const cyclePeak = (c: number) => Math.max(...samples.slice(c * CYCLE, (c + 1) * CYCLE).map((s) => s.liveBytes + s.pendingBytes + s.freeBytes));
    const start = cycleEnd(WARMUP_CYCLES - 1);
    const cycles = GENERATIONS / CYCLE;
    console.log(
      `pool after warm-up: live ${start.liveBytes} B, free ${start.freeBytes} B, pending ${start.pendingBytes} B, ${start.liveBuffers} buffers; ` +
        `after ${GENERATIONS}: live ${cycleEnd(cycles - 1).liveBytes} B, free ${cycleEnd(cycles - 1).freeBytes} B, ${cycleEnd(cycles - 1).liveBuffers} buffers; ` +
        `first request: live ${samples[0]!.liveBytes} B, free ${samples[0]!.freeBytes} B`,
    );
    expect(start.liveBytes).toBeGreaterThan(0);
    for (let c = WARMUP_CYCLES; c < cycles; c++) {
      expect({ cycle: c, ...cycleEnd(c) }).toEqual({ cycle: c, ...start });
      expect(cyclePeak(c)).toBe(cyclePeak(WARMUP_CYCLES - 1));
    }
  });
});
