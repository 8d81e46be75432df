// Runs kernels inside a dedicated Web Worker (where the engine lives) and checks them against
// the CPU reference there; the test on the page only sees the verdict.
import { acquireGpu, describeAdapter } from '../../src/gpu/device';
import { attention } from '../../src/kernels/attention';
import { bottomKKeep } from '../../src/kernels/bottomk-select';
import { gatherRows } from '../../src/kernels/gather-rows';
import { matmul } from '../../src/kernels/matmul';
import * as refAttention from '../../src/reference/attention';
import * as refGather from '../../src/reference/gather-rows';
import * as refMatmul from '../../src/reference/matmul';
import * as refSelect from '../../src/reference/bottomk-select';
import { Rng } from '../helpers/random';

export interface WorkerVerdict {
  adapter: string;
  inWorker: boolean;
  matmulMaxError: number;
  attentionMaxError: number;
  gatherExact: boolean;
  keepExact: boolean;
  seed: number;
}

function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < b.length; i++) {
    const e = Math.abs(a[i]! - b[i]!);
    if (!Number.isFinite(a[i]!)) return Infinity;
    err = Math.max(err, e);
  }
  return err / (scale || 1);
}

self.onmessage = async (event: MessageEvent<{ seed: number }>) => {
  try {
    const rng = new Rng(event.data.seed);
    const ctx = await acquireGpu();
    const poison = (shape: number[], dtype: 'f32' | 'u32') => {
      const t = ctx.empty(shape, dtype);
      ctx.fill(t, dtype === 'f32' ? 0x7fc00000 : 0xdeadbeef);
      return t;
    };
    const [M, N, K] = [29, 43, 37];
    const x = rng.floats(M * K);
    const w = rng.floats(N * K);
    const y = poison([M, N], 'f32');
    matmul(ctx, ctx.upload(x, [M, K], 'f32'), ctx.upload(w, [N, K], 'f32'), { out: y });
    const matmulMaxError = maxRelError((await ctx.read(y)) as Float32Array, refMatmul.matmul(x, w, M, N, K));

    const a = { Tq: 19, Hq: 4, Hkv: 2, D: 16, kvLen: 19, causal: true, scale: 0.25 };
    const q = rng.floats(19 * 4 * 16);
    const k = rng.floats(19 * 2 * 16);
    const v = rng.floats(19 * 2 * 16);
    const o = poison([19, 4, 16], 'f32');
    attention(ctx, ctx.upload(q, [19, 4, 16], 'f32'), ctx.upload(k, [19, 2, 16], 'f32'), ctx.upload(v, [19, 2, 16], 'f32'), { kvLen: 19, causal: true, out: o });
    const attentionMaxError = maxRelError((await ctx.read(o)) as Float32Array, refAttention.attention(q, k, v, a).out);

    const scores = rng.floats(31);
    const keep = bottomKKeep(ctx, ctx.upload(scores, [31], 'f32'), 12, { spanStart: 4, seqLen: 40 });
    const keepGot = [...((await ctx.read(keep)) as Uint32Array)];
    const keepWant = refSelect.bottomKKeep(scores, 12, 4, 40);
    const keepExact = keepGot.length === keepWant.length && keepGot.every((r, i) => r === keepWant[i]);

    const hidden = rng.floats(40 * 7);
    const gathered = poison([keepWant.length, 7], 'f32');
    gatherRows(ctx, ctx.upload(hidden, [40, 7], 'f32'), keep, { out: gathered });
    const g = (await ctx.read(gathered)) as Float32Array;
    const gw = refGather.gatherRows(hidden, 7, keepWant);
    const gatherExact = g.length === gw.length && g.every((val, i) => val === gw[i]);
    ctx.assertNoErrors();
    const verdict: WorkerVerdict = {
      adapter: describeAdapter(ctx.adapter),
      inWorker: typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined' && typeof document === 'undefined',
      matmulMaxError,
      attentionMaxError,
      gatherExact,
      keepExact,
      seed: event.data.seed,
    };
    self.postMessage({ ok: true, verdict });
  } catch (e) {
    self.postMessage({ ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
};
