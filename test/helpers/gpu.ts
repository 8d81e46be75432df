import { acquireGpu } from '../../src/gpu/device';
import type { GpuContext } from '../../src/gpu/context';
import type { DType, Tensor } from '../../src/gpu/tensor';

/**
 * The GPU for a test file: navigator.gpu in the browser, the `webgpu` package (Dawn) in Node,
 * installed as globalThis.__FITPRUNE_TEST_GPU__ by test/setup/node-gpu.ts.
 */
const g = globalThis as { __FITPRUNE_TEST_GPU__?: GPU };
let shared: Promise<GpuContext> | null = null;

export function testGpu(): Promise<GpuContext> {
  shared ??= acquireGpu({ gpu: g.__FITPRUNE_TEST_GPU__ });
  return shared;
}

/** A context with a small storage-binding limit, to exercise weight slicing on small tensors. */
export function testGpuWithBindingLimit(maxBindingBytes: number): Promise<GpuContext> {
  return acquireGpu({ gpu: g.__FITPRUNE_TEST_GPU__, maxBindingBytes });
}

/** The quiet-NaN bit pattern we poison f32 outputs with, and an impossible index for u32. */
export const POISON_F32 = 0x7fc00000;
export const POISON_U32 = 0xdeadbeef;

/** A new output tensor filled with poison, so elements a kernel fails to write are caught. */
export function poisoned(ctx: GpuContext, shape: readonly number[], dtype: DType = 'f32'): Tensor {
  const t = ctx.empty(shape, dtype, 'poisoned');
  ctx.fill(t, dtype === 'f32' ? POISON_F32 : dtype === 'f16' ? 0x7e007e00 : POISON_U32);
  return t;
}

/** Read a tensor and fail if WebGPU reported a validation error on the way. */
export async function readChecked(ctx: GpuContext, t: Tensor): Promise<Float32Array | Uint32Array | Int32Array | Uint16Array> {
  const data = await ctx.read(t);
  ctx.assertNoErrors();
  return data;
}

export async function readF32(ctx: GpuContext, t: Tensor): Promise<Float32Array> {
  const data = await readChecked(ctx, t);
  if (!(data instanceof Float32Array)) throw new Error(`expected f32, got ${t.dtype}`);
  return data;
}

export async function readU32(ctx: GpuContext, t: Tensor): Promise<Uint32Array> {
  const data = await readChecked(ctx, t);
  if (!(data instanceof Uint32Array)) throw new Error(`expected u32, got ${t.dtype}`);
  return data;
}
