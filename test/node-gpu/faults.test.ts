// Faults (issue 20 part 2, and part 5's limits): aborts at many points of a download, a load, a
// calibration, a prefill and a decode; a lost device during and between requests; a model over
// the adapter's buffer limit; an allocation that fails mid-load. After every fault the engine
// must give exactly the tokens an undisturbed engine gives, and hold no more GPU memory than
// before it. Abort points are chosen by counting (chunks, reads, runs, layers, tokens), not by
// clocks, so each of the 20 rounds per kind lands somewhere else and every run lands the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type GenerateRequest, type GenerateResult } from '../../src/engine/engine';
import type { GpuContext } from '../../src/gpu/context';
import { DeviceLostError, GpuOutOfMemoryError } from '../../src/gpu/errors';
import type { LoadProgress } from '../../src/load/progress';
import { MemorySource, type ModelSource, type ReadOptions } from '../../src/load/source';
import { HttpSource } from '../../src/load/sources';
import type { DecoderHooks } from '../../src/models/hooks';
import { Calibrator } from '../../src/prune/calibrate';
import type { PruneRunner, RunRequest } from '../../src/prune/runner';
import { makeTinyLlava } from '../fixtures/tiny/llava';
import { testImage } from '../helpers/llava';
import { Rng } from '../helpers/random';

const gpu = (globalThis as { __FITPRUNE_TEST_GPU__?: GPU }).__FITPRUNE_TEST_GPU__;
const ROUNDS = 20;
const question = 'What is the color of the square?';
const image = testImage(new Rng(3), 56, 56);
const BASE = 'https://models.test/tiny';

/** The abort reason every fault uses, so a rejection can be told from any other error. */
const stop = () => new DOMException('fault test abort', 'AbortError');
const isAbort = (e: unknown) => e instanceof DOMException && e.name === 'AbortError';

/** `count` abort points spread evenly over 1..total−1 (each round lands elsewhere). */
function spread(total: number, count = ROUNDS): number[] {
  return Array.from({ length: count }, (_, i) => 1 + Math.floor((i * (total - 1)) / count));
}

/**
 * A Range-honouring HTTP server over in-memory files, as HttpSource's `fetch`: bodies stream in
 * 16 KiB chunks, one per event-loop turn, and honour the request's signal; `onChunk` sees each
 * chunk of a weight-sized body (not the 1-byte version probes).
 */
function servingFetch(files: ReadonlyMap<string, Uint8Array>, onChunk: () => void): typeof fetch {
  return async (input, init) => {
    const signal = init?.signal ?? undefined;
    signal?.throwIfAborted();
    const name = decodeURIComponent(String(input).slice(BASE.length + 1));
    const file = files.get(name);
    if (!file) return new Response('not found', { status: 404 });
    const m = /bytes=(\d+)-(\d+)/.exec(new Headers(init?.headers).get('range') ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m ? Math.min(Number(m[2]) + 1, file.byteLength) : file.byteLength;
    const body = file.subarray(start, end);
    let offset = 0;
    const stream = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          await new Promise((r) => setImmediate(r));
          if (signal?.aborted) return controller.error(signal.reason);
          if (offset >= body.byteLength) return controller.close();
          const part = body.slice(offset, offset + 16384);
          offset += part.byteLength;
          controller.enqueue(part);
          if (body.byteLength > 1) onChunk();
        },
      },
      { highWaterMark: 0 }, // pulled only when read: the chunk count is the same every run
    );
    const headers: Record<string, string> = { 'content-length': String(body.byteLength), 'content-type': 'application/octet-stream' };
    if (m) headers['content-range'] = `bytes ${start}-${end - 1}/${file.byteLength}`;
    return new Response(stream, { status: m ? 206 : 200, headers });
  };
}

/** A source that calls `onRead(n)` after its n-th read of model.safetensors (headers and tensors). */
class WatchedSource implements ModelSource {
  readonly description: string;
  private reads = 0;
  constructor(
    private readonly inner: ModelSource,
    private readonly onRead: (n: number) => void,
  ) {
    this.description = inner.description;
  }
  stat(file: string, options?: ReadOptions): Promise<{ size: number } | null> {
    return this.inner.stat(file, options);
  }
  async read(file: string, range?: { start: number; end: number }, options?: ReadOptions): Promise<Uint8Array> {
    const bytes = await this.inner.read(file, range, options);
    if (file === 'model.safetensors') this.onRead(++this.reads);
    return bytes;
  }
}

/** A request's outcome under an abort: aborted (either way) or, when the abort came too late, finished. */
async function outcome(p: Promise<GenerateResult>): Promise<'rejected' | GenerateResult> {
  try {
    return await p;
  } catch (e) {
    if (!isAbort(e)) throw e;
    return 'rejected';
  }
}

describe('aborts: 20 each mid-download, mid-load, mid-calibration, mid-prefill and mid-decode, then the reference answer', () => {
  let engine: Engine;
  const filesA = makeTinyLlava({ seed: 11 });
  const filesB = makeTinyLlava({ seed: 12 });
  const normal: GenerateRequest = { prompt: question, image, maxNewTokens: 4 };
  let reference: number[];
  let referenceB: number[];
  /** GPU bytes handed out with model A loaded and between requests (weights + the image's cached features). */
  let liveA: number;
  let layers: number;
  let downloadChunks = 0;

  /** The undisturbed answer, and no GPU memory left behind by the fault before it. */
  async function expectReference(): Promise<void> {
    const r = await engine.generate(normal);
    expect(r.tokens).toEqual(reference);
    expect(engine.ctx.memory.liveBytes).toBe(liveA);
  }

  beforeAll(async () => {
    engine = await Engine.create({ gpu });
    // B first: its answer and the chunks of one whole download (then A replaces it).
    let chunks = 0;
    await engine.load(new HttpSource(BASE, { fetch: servingFetch(filesB, () => chunks++), cache: null }));
    referenceB = (await engine.generate(normal)).tokens;
    downloadChunks = chunks;
    await engine.load({ files: filesA });
    reference = (await engine.generate(normal)).tokens;
    liveA = engine.ctx.memory.liveBytes;
    layers = engine.loadedModel!.numLayers;
    expect(reference.length).toBeGreaterThan(0);
    expect(referenceB).not.toEqual(reference); // else "A still answers" could not tell A from B
  });
  afterAll(() => engine.dispose());

  it('mid-download (HttpSource over a streaming server): the load rejects with the abort and model A answers', async () => {
    expect(downloadChunks).toBeGreaterThan(ROUNDS);
    for (const k of spread(downloadChunks)) {
      const controller = new AbortController();
      let chunks = 0;
      const source = new HttpSource(BASE, { fetch: servingFetch(filesB, () => void (++chunks === k && controller.abort(stop()))), cache: null });
      await expect(engine.load(source, { signal: controller.signal })).rejects.toSatisfy(isAbort);
      expect(chunks).toBeGreaterThanOrEqual(k);
      expect(chunks).toBeLessThan(downloadChunks); // stopped early, not downloaded to the end
      await expectReference();
    }
  });

  it('mid-load (between header reads and tensor uploads): the load rejects and model A answers', async () => {
    const total = await countReads(filesB);
    expect(total).toBeGreaterThan(ROUNDS);
    for (const k of spread(total)) {
      const controller = new AbortController();
      const source = new WatchedSource(new MemorySource(filesB, 'B'), (n) => void (n === k && controller.abort(stop())));
      await expect(engine.load(source, { signal: controller.signal })).rejects.toSatisfy(isAbort);
      await expectReference();
    }
  });

  it('mid-calibration (inside a prefill of the k-th calibration run): the calibration rejects, A answers, and a full calibration gives the same recipe', async () => {
    const samples = [0, 1].map((i) => ({ image: testImage(new Rng(40 + i), 56, 56), question: 'What is on the left?' }));
    let runs = 0;
    const counting: PruneRunner = { get ctx() { return engine.ctx; }, info: () => engine.info(), generate: (r) => (runs++, engine.generate(r)) };
    const full = await new Calibrator(counting, samples).run(0.5, 'tiny');
    expect(runs).toBeGreaterThan(2);
    liveA = engine.ctx.memory.liveBytes; // the samples' image features are cached now
    for (const [i, k] of spread(runs).entries()) {
      const controller = new AbortController();
      const layer = i % layers;
      let n = 0;
      const runner: PruneRunner = {
        get ctx() {
          return engine.ctx;
        },
        info: () => engine.info(),
        generate: (r: RunRequest) => {
          if (++n !== k) return engine.generate(r);
          const inner = r.hooks;
          const hooks: DecoderHooks = {
            ...inner,
            afterAttention: (a) => {
              if (a.phase === 'prefill' && a.layer === layer) controller.abort(stop());
              return inner?.afterAttention?.(a);
            },
          };
          return engine.generate({ ...r, hooks });
        },
      };
      await expect(new Calibrator(runner, samples, { signal: controller.signal }).run(0.5, 'tiny')).rejects.toSatisfy(isAbort);
      expect(n).toBe(k); // no run after the aborted one
      await expectReference();
    }
    const again = await new Calibrator(engine, samples).run(0.5, 'tiny');
    expect(again.recipe.counts).toEqual(full.recipe.counts);
    expect(again.recipe.alpha).toBe(full.recipe.alpha);
  });

  it('mid-prefill (at each layer, and on a timer): the request ends aborted and the next answers the reference', async () => {
    let aborted = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const controller = new AbortController();
      const layer = i % layers;
      const hooks: DecoderHooks = { afterAttention: (a) => void (a.phase === 'prefill' && a.layer === layer && controller.abort(stop())) };
      // Odd rounds: a timer of 0–9 ms instead, which lands in the encode, the prefill or later.
      const timer = i % 2 === 1 ? setTimeout(() => controller.abort(stop()), i % 10) : null;
      const r = await outcome(engine.generate({ ...normal, maxNewTokens: 8, signal: controller.signal, hooks: timer ? null : hooks }));
      if (timer) clearTimeout(timer);
      if (r === 'rejected' || r.finishReason === 'abort') aborted++;
      if (r !== 'rejected') expect(r.tokens).toEqual(reference.concat(r.tokens.slice(reference.length)).slice(0, r.tokens.length));
      if (!timer) {
        // Aborted inside the prefill: it stops at the first token it can (the prefill's).
        expect(r === 'rejected' || (r.finishReason === 'abort' && r.tokens.length <= 1)).toBe(true);
      }
      await expectReference();
    }
    expect(aborted).toBeGreaterThanOrEqual(ROUNDS / 2);
  });

  it('mid-decode (after each token): the request ends aborted with the reference prefix and the next answers the reference', async () => {
    const long = (await engine.generate({ ...normal, maxNewTokens: 8 })).tokens;
    expect(long.slice(0, reference.length)).toEqual(reference);
    for (let i = 0; i < ROUNDS; i++) {
      const controller = new AbortController();
      const at = i % long.length;
      const r = await engine.generate({ ...normal, maxNewTokens: 8, signal: controller.signal }, (t) => void (t.index === at && controller.abort(stop())));
      expect(r.finishReason).toBe('abort');
      expect(r.tokens).toEqual(long.slice(0, at + 1));
      await expectReference();
    }
  });
});

/** model.safetensors reads of one whole load, on an engine of its own (not the one under test). */
async function countReads(files: ReadonlyMap<string, Uint8Array>): Promise<number> {
  const probe = await Engine.create({ gpu });
  try {
    let reads = 0;
    await probe.load(new WatchedSource(new MemorySource(files, 'probe'), (n) => void (reads = n)));
    return reads;
  } finally {
    probe.dispose();
  }
}

describe('device loss: the interrupted request says so; the next one answers on a new device, the model reloaded by the engine', () => {
  let engine: Engine;
  const files = makeTinyLlava({ seed: 11 });
  const normal: GenerateRequest = { prompt: question, image, maxNewTokens: 4 };
  const events: LoadProgress[] = [];
  let reference: number[];

  beforeAll(async () => {
    engine = await Engine.create({ gpu });
    await engine.load({ files, name: 'tiny-A' }, { onProgress: (p) => void events.push(p) });
    reference = (await engine.generate(normal)).tokens;
  });
  afterAll(() => engine.dispose());

  /**
   * The next request answers the reference on a new, live device, and the model was reloaded
   * (with progress events) since the fault: `seen` is the event count before it.
   */
  async function expectRecovered(lostCtx: GpuContext, seen: number): Promise<void> {
    const r = await engine.generate(normal);
    expect(r.tokens).toEqual(reference);
    expect(lostCtx.isLost).toBe(true);
    expect(engine.ctx).not.toBe(lostCtx);
    expect(engine.ctx.isLost).toBe(false);
    const reload = events.slice(seen);
    expect(reload.length).toBeGreaterThan(0);
    expect(reload.at(-1)).toMatchObject({ phase: 'upload-to-gpu' });
    expect(reload.at(-1)!.bytesDone).toBe(reload.at(-1)!.bytesTotal);
    expect(engine.info().model!.source).toBe('tiny-A');
    engine.ctx.assertNoErrors();
  }

  const lostMessage = (what: string) =>
    new RegExp(`^WebGPU device lost \\(destroyed\\): .*\\. ${what} did not complete( \\(.*\\))?; the engine acquires a new GPU device and reloads tiny-A before its next request: retry it$`);

  it('during the decode (after the 2nd token)', async () => {
    const ctx = engine.ctx;
    const seen = events.length;
    const p = engine.generate({ ...normal, maxNewTokens: 8 }, (t) => void (t.index === 1 && ctx.device.destroy()));
    await expect(p).rejects.toThrow(DeviceLostError);
    await expect(p).rejects.toThrow(lostMessage('The request'));
    await expectRecovered(ctx, seen);
  });

  it('during the prefill (in layer 1)', async () => {
    const ctx = engine.ctx;
    const seen = events.length;
    const hooks: DecoderHooks = { afterAttention: (a) => void (a.layer === 1 && !ctx.isLost && ctx.device.destroy()) };
    await expect(engine.generate({ ...normal, hooks })).rejects.toThrow(lostMessage('The request'));
    await expectRecovered(ctx, seen);
  });

  it('between requests: no error at all, the next request reloads and answers', async () => {
    const ctx = engine.ctx;
    const seen = events.length;
    ctx.device.destroy();
    await ctx.lost;
    await expectRecovered(ctx, seen);
  });

  it('just before a request, before the loss is noticed: that request answers or says the device was lost; the next one answers', async () => {
    for (let i = 0; i < 3; i++) {
      const ctx = engine.ctx;
      const seen = events.length;
      ctx.device.destroy();
      const r = await engine.generate(normal).catch((e: unknown) => e);
      if (r instanceof Error) expect(r).toBeInstanceOf(DeviceLostError);
      else expect((r as GenerateResult).tokens).toEqual(reference);
      await expectRecovered(ctx, seen);
    }
  });

  it('during the load of another model: the load says so, and the previous model is reloaded and answers', async () => {
    const ctx = engine.ctx;
    const seen = events.length;
    const source = new WatchedSource(new MemorySource(makeTinyLlava({ seed: 12 }), 'tiny-B'), (n) => void (n === 6 && ctx.device.destroy()));
    await expect(engine.load(source)).rejects.toThrow(lostMessage('The load'));
    await expectRecovered(ctx, seen);
  });

  it('warmup after a loss reloads too, and a disposed engine refuses requests by name', async () => {
    const ctx = engine.ctx;
    const seen = events.length;
    ctx.device.destroy();
    await ctx.lost;
    expect(await engine.warmup()).toBeGreaterThan(0);
    expect(engine.ctx.isLost).toBe(false);
    await expectRecovered(ctx, seen);
    const other = await Engine.create({ gpu });
    other.dispose();
    await expect(other.generate(normal)).rejects.toThrow(/this engine was disposed: create a new one/);
  });
});

describe('limits: too large for the adapter is refused before any upload; an allocation failing mid-load frees all of it', () => {
  const filesA = makeTinyLlava({ seed: 11 });
  // 4096 embedding and lm_head rows: its largest tensor is several times A's.
  const filesBig = makeTinyLlava({ seed: 12, vocabPadMultiple: 4096 });
  const normal: GenerateRequest = { prompt: question, image, maxNewTokens: 4 };

  it("a tensor over maxBufferSize: load refuses it naming the tensor, the limit and what to do, reads no weight byte, creates no buffer, and the previous model answers", async () => {
    const probe = await Engine.create({ gpu });
    const [a, big] = [await probe.inspect({ files: filesA }), await probe.inspect({ files: filesBig })];
    probe.dispose();
    expect(big.refusal).toBeNull();
    expect(big.largestTensor.bytes).toBeGreaterThan(2 * a.largestTensor.bytes);
    const limit = big.largestTensor.bytes - 4;
    const engine = await Engine.create({ gpu, maxBufferSize: limit });
    try {
      expect(engine.adapter.limits.maxBufferSize).toBe(limit);
      await engine.load({ files: filesA, name: 'tiny-A' });
      const reference = (await engine.generate(normal)).tokens;
      const inspection = await engine.inspect({ files: filesBig });
      expect(inspection.refusal).toMatch(/over this adapter's largest buffer \(maxBufferSize .* MiB\); the weights total .* MiB\. Pick a smaller model/);

      const single = filesBig.get('model.safetensors')!;
      const headerEnd = 8 + Number(new DataView(single.buffer, single.byteOffset).getBigUint64(0, true));
      let furthest = 0;
      const inner = new MemorySource(filesBig, 'tiny-big');
      const watched: ModelSource = {
        description: inner.description,
        stat: (f) => inner.stat(f),
        read: (f, r, o) => {
          if (f === 'model.safetensors') furthest = Math.max(furthest, r ? r.end : single.byteLength);
          return inner.read(f, r, o);
        },
      };
      const mark = engine.ctx.pool.mark();
      await expect(engine.load(watched)).rejects.toThrow(
        new RegExp(`^tiny-big cannot be loaded on this adapter: its largest tensor \\((\\S*embed_tokens\\.weight|\\S*lm_head\\.weight), ${(big.largestTensor.bytes / 2 ** 20).toFixed(1)} MiB as stored on the GPU\\) is over this adapter's largest buffer`),
      );
      expect(furthest).toBeGreaterThan(0);
      expect(furthest).toBeLessThanOrEqual(headerEnd); // headers only
      expect(engine.ctx.pool.mark()).toBe(mark); // not one buffer created
      expect(engine.info().model!.source).toBe('tiny-A');
      expect((await engine.generate(normal)).tokens).toEqual(reference);
    } finally {
      engine.dispose();
    }
  });

  it('the k-th buffer of a load fails (thrown by createBuffer, or reported in the out-of-memory scope): every buffer of the load is freed and the previous model answers', async () => {
    const filesB = makeTinyLlava({ seed: 12 });
    // Buffers a load of B creates from an empty pool (the pool is trimmed before each round, so the count is the same).
    const probe = await Engine.create({ gpu });
    const before = probe.ctx.pool.mark();
    await probe.load({ files: filesB });
    const buffers = probe.ctx.pool.mark() - before;
    probe.dispose();
    expect(buffers).toBeGreaterThan(10);

    const engine = await Engine.create({ gpu });
    try {
      await engine.load({ files: filesA, name: 'tiny-A' });
      const reference = (await engine.generate(normal)).tokens;
      const live = engine.ctx.memory.liveBytes;
      const device = engine.ctx.device;
      const realCreate = device.createBuffer.bind(device);
      const realPop = device.popErrorScope.bind(device);
      for (const [i, k] of spread(buffers, 8).entries()) {
        const thrown = i % 2 === 0;
        let calls = 0;
        let failed = false;
        device.createBuffer = (d: GPUBufferDescriptor) => {
          if (++calls === k) {
            failed = true;
            // Some implementations throw; Dawn and Chromium hand back an unusable buffer and report the error in the scope.
            if (thrown) throw new RangeError(`simulated: out of memory allocating ${d.size} bytes`);
          }
          return realCreate(d);
        };
        device.popErrorScope = async () => {
          const real = await realPop();
          return !thrown && failed ? new GPUOutOfMemoryError('simulated allocation failure') : real;
        };
        try {
          engine.ctx.pool.trim();
          const load = engine.load({ files: filesB, name: 'tiny-B' });
          if (thrown) await expect(load).rejects.toThrow(/simulated: out of memory allocating/);
          else {
            await expect(load).rejects.toThrow(GpuOutOfMemoryError);
            await expect(load).rejects.toThrow(/^the GPU ran out of memory while loading tiny-B \(\d+\.\d MiB of weights\) \(simulated allocation failure\): close other tabs or applications that use the GPU, or pick a smaller model$/);
          }
          expect(failed).toBe(true);
        } finally {
          device.createBuffer = realCreate;
          device.popErrorScope = realPop;
        }
        expect(engine.ctx.memory.liveBytes).toBe(live); // nothing of B is held
        engine.ctx.flush();
        engine.ctx.pool.trim();
        expect(engine.ctx.memory).toMatchObject({ liveBytes: live, pendingBytes: 0, freeBytes: 0 });
        expect(engine.info().model!.source).toBe('tiny-A');
        expect((await engine.generate(normal)).tokens).toEqual(reference);
      }
    } finally {
      engine.dispose();
    }
  });
});
