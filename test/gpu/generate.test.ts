import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { makeTinyLlava } from '../fixtures/tiny/llava';
import { testImage } from '../helpers/llava';
import { Rng } from '../helpers/random';

const g = globalThis as { __FITPRUNE_TEST_GPU__?: GPU };

describe('generation: stopping, sampling, abort, errors', () => {
  let engine: Engine;
  const image = testImage(new Rng(3), 56, 56);
  const question = 'What is the color of the square?';

  beforeAll(async () => {
    engine = await Engine.create({ gpu: g.__FITPRUNE_TEST_GPU__ });
    await engine.load({ files: makeTinyLlava({ seed: 11 }) });
  });
  afterAll(() => engine.dispose());

  it('stops at max tokens and streams every token', async () => {
    const seen: number[] = [];
    const r = await engine.generate({ prompt: question, image, maxNewTokens: 7 }, (t) => void seen.push(t.token));
    expect(r.finishReason === 'length' || r.finishReason === 'eos').toBe(true);
    if (r.finishReason === 'length') expect(r.tokens).toHaveLength(7);
    expect(seen).toEqual(r.tokens);
    expect(r.usage.decodeTokensPerSecond).toBeGreaterThanOrEqual(0);
  });

  it('decodes greedily in one submit per token, creating no GPU buffer once warm', async () => {
    const queue = engine.ctx.device.queue;
    const device = engine.ctx.device;
    const submit = queue.submit.bind(queue);
    const createBuffer = device.createBuffer.bind(device);
    let submits = 0;
    let created = 0;
    queue.submit = (buffers) => {
      submits++;
      submit(buffers);
    };
    device.createBuffer = (d) => {
      created++;
      return createBuffer(d);
    };
    try {
      const run = async () => {
        const at: { submits: number; created: number }[] = [];
        await engine.generate({ prompt: question, image, maxNewTokens: 8 }, () => void at.push({ submits, created }));
        return at;
      };
      await run(); // warm-up: pipelines, pool buckets
      const at = await run();
      expect(at.length).toBeGreaterThan(2);
      // Between two streamed tokens lies exactly one decode step: its layers, argmax and readback.
      for (let i = 1; i < at.length; i++) expect(at[i]!.submits - at[i - 1]!.submits, `submits before token ${i}`).toBe(1);
      expect(at.at(-1)!.created - at[0]!.created).toBe(0);
    } finally {
      queue.submit = submit;
      device.createBuffer = createBuffer;
    }
  });

  it('encodes an image once: the same pixels again reuse the cached features and give the same answer', async () => {
    const other = testImage(new Rng(99), 56, 56);
    const first = await engine.generate({ prompt: question, image: other, maxNewTokens: 3 });
    const again = await engine.generate({ prompt: question, image: { ...other, data: other.data.slice() }, maxNewTokens: 3 });
    expect(first.usage.imageFeaturesCached).toBe(false);
    expect(again.usage.imageFeaturesCached).toBe(true);
    expect(again.tokens).toEqual(first.tokens);
    expect([...again.firstLogits!]).toEqual([...first.firstLogits!]);
  });

  it('stops at a stop string and leaves it out of the text', async () => {
    const full = await engine.generate({ prompt: question, image, maxNewTokens: 8 });
    const stop = full.text.slice(0, 3);
    if (stop.trim().length === 0) return; // a degenerate random model: nothing to stop on
    const r = await engine.generate({ prompt: question, image, maxNewTokens: 8, stop: [stop] });
    expect(r.finishReason).toBe('stop');
    expect(r.text.endsWith(stop)).toBe(false);
    expect(full.text.startsWith(r.text)).toBe(true);
  });

  it('samples reproducibly for a seed and differently for another', async () => {
    const run = (seed: number) => engine.generate({ prompt: question, image, maxNewTokens: 8, sampling: { temperature: 1.5, topK: 50, seed } });
    const [a, b] = [await run(1), await run(1)];
    expect(a.tokens).toEqual(b.tokens);
    const others = await Promise.all([2, 3, 4].map((s) => run(s)));
    expect(others.some((o) => o.tokens.join() !== a.tokens.join())).toBe(true);
  });

  it('aborts mid-generation and stays usable', async () => {
    const controller = new AbortController();
    const r = await engine.generate({ prompt: question, image, maxNewTokens: 20, signal: controller.signal }, (t) => {
      if (t.index === 1) controller.abort();
    });
    expect(r.finishReason).toBe('abort');
    expect(r.tokens).toHaveLength(2);
    const after = await engine.generate({ prompt: question, image, maxNewTokens: 2 });
    expect(after.tokens.length).toBeGreaterThan(0);
  });

  it('warms up (compiles the pipelines) without disturbing later answers', async () => {
    const before = await engine.generate({ prompt: question, image, maxNewTokens: 3 });
    expect(await engine.warmup()).toBeGreaterThan(0);
    const after = await engine.generate({ prompt: question, image, maxNewTokens: 3 });
    expect(after.tokens).toEqual(before.tokens);
    engine.ctx.assertNoErrors();
  });

  it('answers a text-only prompt, and refuses a placeholder without an image', async () => {
    const r = await engine.generate({ prompt: 'Hello there', maxNewTokens: 3 });
    expect(r.usage.visualTokens).toBe(0);
    await expect(engine.generate({ prompt: 'USER: <image>\nHi ASSISTANT:', rawPrompt: true, maxNewTokens: 2 })).rejects.toThrow(
      /^the raw prompt \(rawPrompt: true\) contains "<image>", the model's image token, but no image was given/,
    );
  });

  it('refuses a question that itself contains the image token, saying to remove it', async () => {
    await expect(engine.generate({ prompt: 'What is <image> here?', image, maxNewTokens: 2 })).rejects.toThrow(
      /2 image placeholders "<image>"; exactly one is needed with an image: the question itself contains "<image>", the model's image token: remove it/,
    );
  });

  it('refuses a prompt with a token id past the embedding (tokenizer.json vs vocab_size) before the GPU, and stays usable', async () => {
    const files = makeTinyLlava({ seed: 11 });
    const json = (name: string) => JSON.parse(new TextDecoder().decode(files.get(name)!)) as Record<string, unknown>;
    const vocabSize = (json('config.json')['text_config'] as { vocab_size: number }).vocab_size;
    const tokenizer = json('tokenizer.json');
    (tokenizer['added_tokens'] as unknown[]).push({ id: vocabSize, content: '<far>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    files.set('tokenizer.json', new TextEncoder().encode(JSON.stringify(tokenizer)));
    await engine.load({ files });
    await expect(engine.generate({ prompt: 'a <far> b', image, maxNewTokens: 2 })).rejects.toThrow(
      new RegExp(`tokenizer\\.json gives the token id ${vocabSize} \\(at position \\d+ of the prompt\\), but the model's embedding has ${vocabSize} rows`),
    );
    const r = await engine.generate({ prompt: question, image, maxNewTokens: 2 });
    expect(r.tokens.length).toBeGreaterThan(0);
    engine.ctx.assertNoErrors();
  });

  it('refuses at load an eos_token_id at or past the vocab size (generation_config.json vs config.json), keeping the previous model', async () => {
    const before = await engine.generate({ prompt: question, image, maxNewTokens: 3 });
    const sourceBefore = engine.info().model!.source;
    const files = makeTinyLlava({ seed: 12 });
    const json = (name: string) => JSON.parse(new TextDecoder().decode(files.get(name)!)) as Record<string, unknown>;
    const vocabSize = (json('config.json')['text_config'] as { vocab_size: number }).vocab_size;
    // The tokenizer knows the id (so the preprocessor accepts it), but the lm_head has no row for it: EOS could never be generated.
    const tokenizer = json('tokenizer.json');
    (tokenizer['added_tokens'] as unknown[]).push({ id: vocabSize, content: '<end>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    files.set('tokenizer.json', new TextEncoder().encode(JSON.stringify(tokenizer)));
    files.set('generation_config.json', new TextEncoder().encode(JSON.stringify({ ...json('generation_config.json'), eos_token_id: [2, vocabSize] })));
    await expect(engine.load({ files, name: 'eos-past-vocab' })).rejects.toThrow(
      new RegExp(`^eos-past-vocab: eos_token_id ${vocabSize} \\(generation_config\\.json, else the tokenizer's eos_token\\) is not below the model's vocab size ${vocabSize} \\(config\\.json vocab_size\\).*fix eos_token_id in generation_config\\.json$`),
    );
    expect(engine.info().model!.source).toBe(sourceBefore);
    const after = await engine.generate({ prompt: question, image, maxNewTokens: 3 });
    expect(after.tokens).toEqual(before.tokens);
    engine.ctx.assertNoErrors();
  });
});
