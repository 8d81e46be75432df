/**
 * What the adapter under test can do at best, measured in the same run as the kernels it
 * judges: peak f32 FMA throughput, streaming read bandwidth, and the cost of one dispatch.
 * Each figure is the best of a few timed repetitions after a warm-up (a ceiling, not a typical
 * value). Used by the kernel benchmark (bench/kernels-page.ts) and the decode figures.
 */
import type { GpuContext } from '../../src/gpu/context';
import { Uniforms } from '../../src/kernels/common';
import bandwidthSource from './bandwidth.wgsl?raw';
import emptySource from './empty.wgsl?raw';
import peakSource from './peak-fma.wgsl?raw';

export interface Roofline {
  /** Best f32 FMA throughput, GFLOP/s (an fma counts 2). */
  peakGflops: number;
  /** Best streaming read bandwidth, GB/s (1e9 bytes). */
  bandwidthGBs: number;
  /** Milliseconds one empty dispatch adds when many are submitted together. */
  dispatchMs: number;
  /** Milliseconds of one submit + wait with a single empty dispatch (the per-token sync floor). */
  submitRoundTripMs: number;
}

const WG = 256;

async function best(times: number, run: () => Promise<number>): Promise<number> {
  await run(); // compile and warm up
  let min = Infinity;
  for (let i = 0; i < times; i++) min = Math.min(min, await run());
  return min;
}

async function timed(ctx: GpuContext, record: () => void): Promise<number> {
  await ctx.sync();
  const t0 = performance.now();
  record();
  await ctx.sync();
  return performance.now() - t0;
}

/** Picks a 2-D grid for `workgroups` groups under the per-dimension limit. */
function grid(ctx: GpuContext, workgroups: number): [number, number] {
  const max = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  return workgroups <= max ? [workgroups, 1] : [max, Math.ceil(workgroups / max)];
}

export async function measureRoofline(ctx: GpuContext, o: { repeats?: number; fmaIters?: number; bandwidthBytes?: number } = {}): Promise<Roofline> {
  const repeats = o.repeats ?? 5;
  // Peak: enough invocations to fill any GPU (64 Ki) and enough rounds to dwarf launch cost.
  const invocations = 64 * 1024;
  const iters = o.fmaIters ?? 2048;
  const peakOut = ctx.empty([invocations], 'f32', 'roofline');
  const peak = ctx.pipeline('rooflinePeakFma', peakSource);
  const [px, py] = grid(ctx, invocations / WG);
  const peakMs = await best(repeats, () =>
    timed(ctx, () =>
      ctx.dispatch({ kernel: 'rooflinePeakFma', pipeline: peak, uniforms: new Uniforms().u32(iters).f32(0.5).bytes(), bindings: { 1: ctx.bind('rooflinePeakFma', peakOut) }, workgroups: [px, py] }),
    ),
  );
  peakOut.dispose();

  // Bandwidth: a buffer far larger than any cache (capped by the binding limit).
  const bytes = Math.min(o.bandwidthBytes ?? 256 * 2 ** 20, ctx.maxBindingBytes - (ctx.maxBindingBytes % 16));
  const count = bytes / 16;
  const src = ctx.empty([bytes / 4], 'f32', 'roofline');
  ctx.fill(src, 0x3f800000);
  const threads = 256 * 1024;
  const bwOut = ctx.empty([threads], 'f32', 'roofline');
  const bw = ctx.pipeline('rooflineBandwidth', bandwidthSource);
  const [bx, by] = grid(ctx, threads / WG);
  const bwMs = await best(repeats, () =>
    timed(ctx, () =>
      ctx.dispatch({
        kernel: 'rooflineBandwidth',
        pipeline: bw,
        uniforms: new Uniforms().u32(count).u32(threads).bytes(),
        bindings: { 1: ctx.bind('rooflineBandwidth', src), 2: ctx.bind('rooflineBandwidth', bwOut) },
        workgroups: [bx, by],
      }),
    ),
  );
  src.dispose();
  bwOut.dispose();

  // Launch cost: 200 empty dispatches in one submit, and one dispatch per submit + wait.
  const emptyOut = ctx.empty([4], 'u32', 'roofline');
  const empty = ctx.pipeline('rooflineEmpty', emptySource);
  const one = () => ctx.dispatch({ kernel: 'rooflineEmpty', pipeline: empty, uniforms: new Uniforms().u32(1).u32(0).u32(0).u32(0).bytes(), bindings: { 1: ctx.bind('rooflineEmpty', emptyOut) }, workgroups: [1] });
  const many = 200;
  const manyMs = await best(repeats, () => timed(ctx, () => { for (let i = 0; i < many; i++) one(); }));
  const roundTripMs = await best(repeats * 4, () => timed(ctx, one));
  emptyOut.dispose();

  return {
    peakGflops: (invocations * iters * 64) / peakMs / 1e6,
    bandwidthGBs: bytes / bwMs / 1e6,
    dispatchMs: Math.max(0, manyMs - roundTripMs) / (many - 1),
    submitRoundTripMs: roundTripMs,
  };
}
