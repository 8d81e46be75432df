/**
 * Issue 25 item 9 through the real engine: a tiny checkpoint whose header stores one matrix
 * transposed (same bytes, shape [in, out]) is refused by Engine.load before any weight byte is
 * read, naming the tensor, its shape and the expected one; a config.json flag written as a
 * string is refused too; the engine keeps answering with the model it had.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { headerLength, parseHeader, type TensorToWrite } from '../../src/load/safetensors';
import { MemorySource, type ModelSource } from '../../src/load/source';
import { makeTinyLlava } from '../fixtures/tiny/llava';
import { safetensorsFiles } from '../fixtures/tiny/weights';
import { testImage } from '../helpers/llava';
import { Rng } from '../helpers/random';

const g = globalThis as { __FITPRUNE_TEST_GPU__?: GPU };

const GATE = 'language_model.model.layers.0.mlp.gate_proj.weight';

/** The same checkpoint with `name`'s shape reversed in the header (the bytes are unchanged). */
function transposed(files: Map<string, Uint8Array>, name: string): { files: Map<string, Uint8Array>; headerEnd: number; shape: number[] } {
  const single = files.get('model.safetensors')!;
  const n = headerLength(single.subarray(0, 8), single.byteLength, 'model.safetensors');
  const header = parseHeader(single.subarray(8, 8 + n), single.byteLength, 'model.safetensors');
  const tensors: TensorToWrite[] = [...header.tensors.values()]
    .sort((a, b) => a.begin - b.begin)
    .map((t) => ({ name: t.name, dtype: t.dtype, shape: t.name === name ? [...t.shape].reverse() : t.shape, data: single.subarray(t.begin, t.end) }));
  const out = new Map(files);
  const rewritten = safetensorsFiles(tensors, 1, Object.keys(header.metadata).length ? header.metadata : undefined).get('model.safetensors')!;
  out.set('model.safetensors', rewritten);
  return { files: out, headerEnd: 8 + headerLength(rewritten.subarray(0, 8), rewritten.byteLength, 'model.safetensors'), shape: header.tensors.get(name)!.shape };
}

/** A source that records every byte range read from the safetensors file. */
function recording(files: Map<string, Uint8Array>, description: string): { source: ModelSource; reads: { start: number; end: number }[] } {
  const inner = new MemorySource(files, description);
  const reads: { start: number; end: number }[] = [];
  const source: ModelSource = {
    description,
    stat: (file) => inner.stat(file),
    read: (file, range, o) => {
      if (file.endsWith('.safetensors')) reads.push(range ?? { start: 0, end: files.get(file)?.byteLength ?? 0 });
      return inner.read(file, range, o);
    },
  };
  return { source, reads };
}

describe('Engine.load refuses weights whose shapes config.json does not imply', () => {
  let engine: Engine;
  const image = testImage(new Rng(5), 56, 56);
  const question = 'What is in the image?';
  let before: number[];

  beforeAll(async () => {
    engine = await Engine.create({ gpu: g.__FITPRUNE_TEST_GPU__ });
    await engine.load({ files: makeTinyLlava({ seed: 11 }), name: 'good-tiny' });
    before = (await engine.generate({ prompt: question, image, maxNewTokens: 4 })).tokens;
  });
  afterAll(() => engine.dispose());

  it('a transposed gate_proj is refused naming the tensor and both shapes, before any weight byte is read', async () => {
    const bad = transposed(makeTinyLlava({ seed: 12 }), GATE);
    const [inter, hidden] = bad.shape as [number, number];
    const { source, reads } = recording(bad.files, 'transposed-tiny');
    await expect(engine.load(source)).rejects.toThrow(`transposed-tiny: tensor ${GATE} has shape [${hidden}, ${inter}], config.json implies [${inter}, ${hidden}] (transposed?)`);
    expect(reads.length).toBeGreaterThan(0);
    for (const r of reads) expect(r.end, `read [${r.start}, ${r.end})`).toBeLessThanOrEqual(bad.headerEnd);
  });

  it('tie_word_embeddings "false" is refused naming the field', async () => {
    const files = makeTinyLlava({ seed: 13 });
    const config = JSON.parse(new TextDecoder().decode(files.get('config.json')!)) as { text_config: Record<string, unknown> };
    config.text_config['tie_word_embeddings'] = 'false';
    files.set('config.json', new TextEncoder().encode(JSON.stringify(config)));
    await expect(engine.load({ files, name: 'string-flag' })).rejects.toThrow('config.json text_config.tie_word_embeddings must be true or false, got "false"');
  });

  it('a weight holding NaN, Infinity or an F32 value past f16 is refused at load naming the tensor (fuzz: it answered NaN logits)', async () => {
    for (const [value, what] of [
      [NaN, /holds NaN at element 3: weights must be finite/],
      [-Infinity, /holds -Infinity at element 3/],
      [1e6, /holds Infinity at element 3 \(a finite F32 value beyond ±65504, the f16 it is stored as on the GPU\)/],
    ] as const) {
      const files = makeTinyLlava({ seed: 14 });
      const single = files.get('model.safetensors')!.slice();
      const header = parseHeader(single.subarray(8, 8 + headerLength(single.subarray(0, 8), single.byteLength, 'model.safetensors')), single.byteLength, 'model.safetensors');
      const t = header.tensors.get(GATE)!;
      new DataView(single.buffer, t.begin).setFloat32(12, value, true);
      files.set('model.safetensors', single);
      await expect(engine.load({ files, name: 'nan-tiny' }), String(value)).rejects.toThrow(new RegExp(`model\\.safetensors: tensor "${GATE.replace(/\./g, '\\.')}" ${what.source}`));
    }
  });

  it('the engine still answers with the model it had', async () => {
    expect(engine.info().model?.source).toBe('good-tiny');
    const after = await engine.generate({ prompt: question, image, maxNewTokens: 4 });
    expect(after.tokens).toEqual(before);
  });
});
