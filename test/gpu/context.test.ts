import { describe, expect, it } from 'vitest';
import { acquireGpu, describeAdapter } from '../../src/gpu/device';
import { DeviceLostError, GpuOutOfMemoryError, KernelInputError } from '../../src/gpu/errors';
import { matmul } from '../../src/kernels/matmul';
import { toHalfBits } from '../../src/util/half';
import { readF32, testGpu } from '../helpers/gpu';
import { freshRng } from '../helpers/random';

const g = globalThis as { __FITPRUNE_TEST_GPU__?: GPU };

describe('GpuContext', () => {
  it('requests the adapter limits and reports features', async () => {
    const ctx = await testGpu();
    const a = ctx.adapter;
    expect(a.limits.maxStorageBufferBindingSize).toBe(ctx.device.limits.maxStorageBufferBindingSize);
    // The spec's default is 128 MiB; SwiftShader offers 1 GiB and we must have asked for it.
    expect(a.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
    expect(a.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
    expect(typeof a.features.shaderF16).toBe('boolean');
    expect(describeAdapter(a)).toMatch(/features: /);
    for (const f of ['shader-f16', 'subgroups', 'timestamp-query'] as const) {
      const key = f === 'shader-f16' ? 'shaderF16' : f === 'subgroups' ? 'subgroups' : 'timestampQuery';
      expect(ctx.device.features.has(f)).toBe(a.features[key]);
    }
  });

  it('can pretend an optional feature is missing', async () => {
    const ctx = await acquireGpu({ gpu: g.__FITPRUNE_TEST_GPU__, disableFeatures: ['shader-f16'] });
    expect(ctx.features.shaderF16).toBe(false);
    expect(ctx.device.features.has('shader-f16')).toBe(false);
    ctx.destroy();
  });

  it('round-trips every dtype through upload and read', async () => {
    const ctx = await testGpu();
    const f = new Float32Array([1.5, -2, 3.25]);
    const u = new Uint32Array([0, 7, 0xffffffff]);
    const i = new Int32Array([-5, 0, 2 ** 31 - 1]);
    const h = toHalfBits([1, -0.5, 2, 65504, 3]); // odd count: padded word
    expect([...(await ctx.read(ctx.upload(f, [3], 'f32')))]).toEqual([...f]);
    expect([...(await ctx.read(ctx.upload(u, [3], 'u32')))]).toEqual([...u]);
    expect([...(await ctx.read(ctx.upload(i, [3], 'i32')))]).toEqual([...i]);
    expect([...(await ctx.read(ctx.upload(h, [5], 'f16')))]).toEqual([...h]);
    expect(() => ctx.upload(f, [4], 'f32')).toThrow(/expects 4 elements, got 3/);
  });

  it('batches dispatches into one submit until flush or read', async () => {
    const ctx = await testGpu();
    const rng = freshRng();
    const x = ctx.upload(rng.floats(5 * 7), [5, 7], 'f32');
    const w = ctx.upload(rng.floats(3 * 7), [3, 7], 'f32');
    const queue = ctx.device.queue;
    const submit = queue.submit.bind(queue);
    let submits = 0;
    queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
      submits++;
      submit(buffers);
    };
    try {
      const outs = Array.from({ length: 10 }, () => matmul(ctx, x, w));
      expect(submits).toBe(0);
      await readF32(ctx, outs[9]!);
      expect(submits).toBe(1);
    } finally {
      queue.submit = submit;
    }
  });

  it('reuses released buffers only after the batch that used them was submitted', async () => {
    const ctx = await testGpu();
    const a = ctx.empty([1000], 'f32');
    const buffer = a.buffer;
    a.dispose();
    const b = ctx.empty([1000], 'f32');
    expect(b.buffer).not.toBe(buffer); // still pending: not reused yet
    b.dispose();
    ctx.flush();
    const c = ctx.empty([1000], 'f32');
    expect([buffer, b.buffer]).toContain(c.buffer);
  });

  it('caches pipelines by kernel and defines', async () => {
    const ctx = await testGpu();
    const rng = freshRng();
    const x = ctx.upload(rng.floats(9 * 4), [9, 4], 'f32');
    const w = ctx.upload(rng.floats(2 * 4), [2, 4], 'f32');
    matmul(ctx, x, w, { path: 'tiled' });
    const n = ctx.pipelines.size;
    matmul(ctx, x, w, { path: 'tiled' });
    expect(ctx.pipelines.size).toBe(n);
    matmul(ctx, x, w, { path: 'tiled', bias: ctx.upload(new Float32Array(2), [2], 'f32') });
    expect(ctx.pipelines.size).toBe(n + 1);
    await ctx.sync();
  });

  it('profiles kernels by label', async () => {
    const ctx = await testGpu();
    const rng = freshRng();
    const x = ctx.upload(rng.floats(33 * 20), [33, 20], 'f32');
    const w = ctx.upload(rng.floats(17 * 20), [17, 20], 'f32');
    ctx.startProfiling();
    matmul(ctx, x, w, { path: 'tiled' });
    matmul(ctx, x, w, { path: 'tiled' });
    matmul(ctx, ctx.upload(rng.floats(20), [1, 20], 'f32'), w);
    const report = await ctx.stopProfiling();
    const byLabel = Object.fromEntries(report.map((r) => [r.label, r]));
    expect(byLabel['matmul']?.count).toBe(2);
    expect(byLabel['matvec']?.count).toBe(1);
    expect(byLabel['matmul']!.totalMs).toBeGreaterThan(0);
  }, 60_000);

  it('surfaces device loss as DeviceLostError', async () => {
    const ctx = await acquireGpu({ gpu: g.__FITPRUNE_TEST_GPU__ });
    ctx.device.destroy();
    await ctx.device.lost;
    await Promise.resolve();
    expect(ctx.isLost).toBe(true);
    expect(() => ctx.empty([4], 'f32')).toThrow(DeviceLostError);
    expect(() => ctx.assertAlive()).toThrow(/device lost \(destroyed\)/);
  });

  it('refuses a tensor bigger than maxBufferSize with the shape in the message', async () => {
    const ctx = await testGpu();
    const n = Math.floor(ctx.device.limits.maxBufferSize / 4) + 1;
    expect(() => ctx.empty([n], 'f32', 'huge')).toThrow(KernelInputError);
    expect(() => ctx.empty([n], 'f32', 'huge')).toThrow(/huge\[\d+\] f32 needs \d+ bytes, over maxBufferSize/);
  });

  it('reports live, pending and free bytes, and a failed operation can destroy exactly the buffers it still holds', async () => {
    const ctx = await acquireGpu({ gpu: g.__FITPRUNE_TEST_GPU__ });
    try {
      expect(ctx.memory).toEqual({ liveBuffers: 0, liveBytes: 0, pendingBytes: 0, freeBytes: 0 });
      const kept = ctx.empty([1000], 'f32'); // 4000 bytes → a 4096-byte bucket
      const mark = ctx.pool.mark();
      const a = ctx.empty([2000], 'f32'); // 8000 → 8192
      const b = ctx.empty([10], 'u32'); // 40 → 256
      expect(ctx.memory).toEqual({ liveBuffers: 3, liveBytes: 4096 + 8192 + 256, pendingBytes: 0, freeBytes: 0 });
      b.dispose();
      expect(ctx.memory).toMatchObject({ liveBytes: 4096 + 8192, pendingBytes: 256, freeBytes: 0 });
      ctx.flush();
      expect(ctx.memory).toMatchObject({ liveBytes: 4096 + 8192, pendingBytes: 0, freeBytes: 256 });
      // Since the mark only `a` is still handed out: it goes, `kept` (older) and the free one stay.
      expect(ctx.pool.destroyLiveSince(mark)).toBe(8192);
      expect(ctx.memory).toEqual({ liveBuffers: 2, liveBytes: 4096, pendingBytes: 0, freeBytes: 256 });
      a.dispose(); // a late release of a destroyed buffer is a no-op, never a reuse
      ctx.flush();
      expect(ctx.memory).toEqual({ liveBuffers: 2, liveBytes: 4096, pendingBytes: 0, freeBytes: 256 });
      expect(ctx.empty([2000], 'f32').buffer).not.toBe(a.buffer);
      kept.dispose();
      ctx.flush();
      ctx.pool.trim();
      expect(ctx.memory).toMatchObject({ liveBytes: 8192, pendingBytes: 0, freeBytes: 0 });
    } finally {
      ctx.destroy();
    }
  });

  it('a buffer reused from the free list after the mark counts as handed out since it (a failed load leaks no reused buffer)', async () => {
    const ctx = await acquireGpu({ gpu: g.__FITPRUNE_TEST_GPU__ });
    try {
      const old = ctx.empty([2000], 'f32');
      const buffer = old.buffer;
      old.dispose();
      ctx.flush(); // now free, created before the mark
      const mark = ctx.pool.mark();
      const reused = ctx.empty([2000], 'f32');
      expect(reused.buffer).toBe(buffer);
      expect(ctx.pool.destroyLiveSince(mark)).toBe(8192);
      expect(ctx.memory).toEqual({ liveBuffers: 0, liveBytes: 0, pendingBytes: 0, freeBytes: 0 });
    } finally {
      ctx.destroy();
    }
  });

  it('an out-of-memory scope passes a task through, reports an allocation failure the device put in it, and always pops', async () => {
    const ctx = await acquireGpu({ gpu: g.__FITPRUNE_TEST_GPU__ });
    try {
      await expect(ctx.outOfMemoryScope('testing', async () => 42)).resolves.toBe(42);
      await expect(ctx.outOfMemoryScope('testing', () => Promise.reject(new Error('task failed')))).rejects.toThrow('task failed');
      // Nothing left pushed: popping now finds an empty stack.
      await expect(ctx.device.popErrorScope()).rejects.toThrow();
      // The error a real OOM would leave in the scope (no test machine can be made to run out).
      const pop = ctx.device.popErrorScope.bind(ctx.device);
      ctx.device.popErrorScope = async () => (await pop(), new GPUOutOfMemoryError('no memory left'));
      try {
        const run = ctx.outOfMemoryScope('uploading weights', async () => 'done');
        await expect(run).rejects.toThrow(GpuOutOfMemoryError);
        await expect(run).rejects.toThrow('the GPU ran out of memory while uploading weights (no memory left): close other tabs or applications that use the GPU, or pick a smaller model');
      } finally {
        ctx.device.popErrorScope = pop;
      }
    } finally {
      ctx.destroy();
    }
  });

  it('can plan for a lower maxBufferSize than the device has (tests of the too-large refusal)', async () => {
    const ctx = await acquireGpu({ gpu: g.__FITPRUNE_TEST_GPU__, maxBufferSize: 4096 });
    try {
      expect(ctx.adapter.limits.maxBufferSize).toBe(4096);
      expect(ctx.maxBufferBytes).toBe(4096);
      ctx.empty([1024], 'f32').dispose();
      expect(() => ctx.empty([1025], 'f32', 'big')).toThrow(/big\[1025\] f32 needs 4100 bytes, over maxBufferSize 4096/);
    } finally {
      ctx.destroy();
    }
  });
});
