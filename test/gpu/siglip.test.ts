import { visionLayersRun } from '../../src/models/config';
import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/load/checkpoint';
import { encodeSafetensors, type TensorToWrite } from '../../src/load/safetensors';
import { MemorySource } from '../../src/load/source';
import type { GpuContext } from '../../src/gpu/context';
import { WeightUploader } from '../../src/models/vlm';
import {
  loadSiglipTower,
  parseSiglipVision,
  siglipPatches,
  siglipTensorDtypes,
  siglipTensorShapes,
  siglipWeightNames,
  SiglipVisionTower,
  type SiglipVisionConfig,
  type SiglipWeightNames,
} from '../../src/models/siglip';
import { referenceSiglip } from '../../src/reference/siglip';
import { expectClose } from '../helpers/compare';
import { readF32, testGpu } from '../helpers/gpu';
import { freshRng, type Rng } from '../helpers/random';
import { lookupAsOnGpu } from '../helpers/reference-weights';

// GPU activations are f32 and both sides use the same f16-rounded matmul weights, so the
// difference is f32 vs float64 arithmetic over a few layers, relative to the output's scale.
const TOLERANCE = { rtol: 2e-5 };

function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function bf16Bytes(a: Float32Array): Uint8Array {
  const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const out = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = u[i]! >>> 16; // truncation: any bf16 value will do
  return new Uint8Array(out.buffer);
}

/**
 * A SigLIP checkpoint in memory holding `stored` encoder layers: the layers past `used` and
 * the attention-pooling head are NaN, so reading any of them poisons the output.
 */
function makeCheckpoint(
  rng: Rng,
  c: SiglipVisionConfig,
  prefix: string,
  stored: number,
  used: number,
  dtype: 'F32' | 'BF16',
): Map<string, Uint8Array> {
  const d = c.hiddenSize;
  const tensors: TensorToWrite[] = [];
  const put = (name: string, shape: number[], values: Float32Array) =>
    tensors.push({ name, dtype, shape, data: dtype === 'F32' ? f32Bytes(values) : bf16Bytes(values) });
  const nan = (n: number) => new Float32Array(n).fill(NaN);
  const normal = (n: number, scale: number, offset = 0) => rng.floats(n, scale).map((x) => x + offset);
  const cols = c.numChannels * c.patchSize * c.patchSize;
  const all = siglipWeightNames(prefix, stored);
  put(all.patchEmbedding.weight, [d, c.numChannels, c.patchSize, c.patchSize], normal(d * cols, 1 / Math.sqrt(cols)));
  put(all.patchEmbedding.bias, [d], normal(d, 0.2));
  put(all.positionEmbedding, [siglipPatches(c), d], normal(siglipPatches(c) * d, 0.5));
  all.layers.forEach((l, i) => {
    const fill = (n: number, scale: number, offset = 0) => (i < used ? normal(n, scale, offset) : nan(n));
    const lin = (p: { weight: string; bias: string }, out: number, inp: number) => {
      put(p.weight, [out, inp], fill(out * inp, 1 / Math.sqrt(inp)));
      put(p.bias, [out], fill(out, 0.1));
    };
    const norm = (p: { weight: string; bias: string }) => {
      put(p.weight, [d], fill(d, 0.2, 1));
      put(p.bias, [d], fill(d, 0.2));
    };
    norm(l.norm1);
    lin(l.q, d, d);
    lin(l.k, d, d);
    lin(l.v, d, d);
    lin(l.out, d, d);
    norm(l.norm2);
    lin(l.fc1, c.intermediateSize, d);
    lin(l.fc2, d, c.intermediateSize);
  });
  put(all.postLayernorm.weight, [d], normal(d, 0.2, 1));
  put(all.postLayernorm.bias, [d], normal(d, 0.2));
  put(`${prefix}head.probe`, [1, 1, d], nan(d));
  return new Map([['model.safetensors', encodeSafetensors(tensors, { format: 'pt' })]]);
}

/** Uploads the tower as the families do: the shared uploader checks names and shapes against the plan first. */
async function uploadTower(ctx: GpuContext, files: Map<string, Uint8Array>, config: SiglipVisionConfig, names: SiglipWeightNames, postLayernorm: boolean) {
  const plan = { dtypes: siglipTensorDtypes(names, { postLayernorm }), shapes: siglipTensorShapes(names, config, { postLayernorm }) };
  const uploader = await WeightUploader.open(ctx, new MemorySource(files), () => plan, {});
  try {
    return { uploader, tower: await loadSiglipTower(ctx, uploader, config, names, { postLayernorm }) };
  } catch (e) {
    uploader.dispose();
    throw e;
  }
}

/** CHW pixels in [-1, 1]; the strip a 'valid' convolution never reads is NaN. */
function testPixels(rng: Rng, c: SiglipVisionConfig): Float32Array {
  const S = c.imageSize;
  const used = Math.floor(S / c.patchSize) * c.patchSize;
  const px = new Float32Array(c.numChannels * S * S);
  for (let ch = 0; ch < c.numChannels; ch++) {
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) px[(ch * S + y) * S + x] = y < used && x < used ? rng.uniform(-1, 1) : NaN;
    }
  }
  return px;
}

function rowStats(x: Float32Array, rows: number, d: number): { maxMeanAbs: number; maxVarDev: number } {
  let maxMeanAbs = 0;
  let maxVarDev = 0;
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let j = 0; j < d; j++) m += x[r * d + j]!;
    m /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x[r * d + j]! - m) ** 2;
    maxMeanAbs = Math.max(maxMeanAbs, Math.abs(m));
    maxVarDev = Math.max(maxVarDev, Math.abs(v / d - 1));
  }
  return { maxMeanAbs, maxVarDev };
}

describe('SigLIP vision tower vs the CPU reference', () => {
  const cases = [
    {
      what: 'LLaVA layout, feature layer −2 of 3, no post-layernorm, F32, 30/6 → 25 patches',
      config: { model_type: 'siglip_vision_model', hidden_size: 36, intermediate_size: 52, num_hidden_layers: 3, num_attention_heads: 3, image_size: 30, patch_size: 6 },
      prefix: 'vision_tower.vision_model.',
      featureLayer: -2,
      dtype: 'F32' as const,
    },
    {
      what: 'Idefics3 layout, all 2 layers, BF16, 32/6 → 25 patches (2 px dropped)',
      config: { model_type: 'idefics3_vision', hidden_size: 36, intermediate_size: 52, num_hidden_layers: 2, num_attention_heads: 3, image_size: 32, patch_size: 6 },
      prefix: 'model.vision_model.',
      featureLayer: -1,
      dtype: 'BF16' as const,
    },
    {
      what: 'head dim 10 (row-wise attention), exact gelu, 1 channel, F32, 20/4 → 25 patches',
      config: { hidden_size: 30, intermediate_size: 44, num_hidden_layers: 2, num_attention_heads: 3, image_size: 20, patch_size: 4, num_channels: 1, hidden_act: 'gelu' },
      prefix: 'model.vision_tower.vision_model.',
      featureLayer: -1,
      dtype: 'F32' as const,
    },
  ];
  for (const k of cases) {
    it(k.what, async () => {
      const ctx = await testGpu();
      const rng = freshRng();
      const config = parseSiglipVision(k.config);
      const used = visionLayersRun(config.numLayers, k.featureLayer);
      const files = makeCheckpoint(rng, config, k.prefix, config.numLayers, used, k.dtype);
      const checkpoint = await openCheckpoint(new MemorySource(files));
      const names = siglipWeightNames(k.prefix, used);
      const get = await lookupAsOnGpu(checkpoint, siglipTensorDtypes(names, { postLayernorm: true }));
      const pixels = testPixels(rng, config);
      const { uploader, tower: loaded } = await uploadTower(ctx, files, config, names, true);
      try {
        const weights = loaded.weights;
        expect(weights.patchEmbedding.weight.shape).toEqual([config.hiddenSize, config.numChannels * config.patchSize ** 2]);
        expect(weights.patchEmbedding.weight.dtype).toBe('f16');
        expect(weights.layers[0]!.fc1.weight.dtype).toBe('f16');
        expect(weights.layers[0]!.fc1.bias.dtype).toBe('f32');
        expect(weights.positionEmbedding.dtype).toBe('f32');
        const P = siglipPatches(config);
        const d = config.hiddenSize;
        const results: Float32Array[] = [];
        for (const postLayernorm of [false, true]) {
          const tower = new SiglipVisionTower(ctx, config, weights, { postLayernorm });
          expect(tower.patches).toBe(25);
          const out = tower.forward(pixels);
          expect(out.shape).toEqual([P, d]);
          const got = await readF32(ctx, out);
          out.dispose();
          const expected = referenceSiglip(config, get, names, pixels, { postLayernorm });
          expectClose(got, expected, TOLERANCE, `post_layernorm ${postLayernorm}, seed ${rng.seed}`);
          results.push(got);
        }
        // The flag matters, and with it every row is layer-normalised: undoing the affine
        // (w, b) leaves rows of zero mean and unit variance.
        const [pre, post] = results as [Float32Array, Float32Array];
        let diff = 0;
        for (let i = 0; i < pre.length; i++) diff = Math.max(diff, Math.abs(pre[i]! - post[i]!));
        expect(diff, `seed ${rng.seed}`).toBeGreaterThan(0.1);
        const w = get(names.postLayernorm.weight);
        const b = get(names.postLayernorm.bias);
        const unscaled = post.map((x, i) => (x - b[i % d]!) / w[i % d]!);
        const s = rowStats(unscaled, P, d);
        expect(s.maxMeanAbs, `seed ${rng.seed}`).toBeLessThan(1e-4);
        expect(s.maxVarDev, `seed ${rng.seed}`).toBeLessThan(1e-3);
        ctx.assertNoErrors();
      } finally {
        uploader.dispose();
      }
    });
  }

  it('refuses a checkpoint whose shapes disagree with the config, and a missing post-layernorm', async () => {
    const ctx = await testGpu();
    const rng = freshRng();
    const config = parseSiglipVision({ hidden_size: 12, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, image_size: 12, patch_size: 4 });
    const files = makeCheckpoint(rng, config, 'p.', 1, 1, 'F32');
    const names = siglipWeightNames('p.', 1);
    // A config with a larger image implies more position rows than the checkpoint has.
    const bigger = { ...config, imageSize: 16 };
    await expect(uploadTower(ctx, files, bigger, names, false)).rejects.toThrow(
      /p\.embeddings\.position_embedding\.weight has shape \[9, 12\], config\.json implies \[16, 12\]/,
    );
    const noPost = { ...names, postLayernorm: { weight: 'p.missing.weight', bias: 'p.missing.bias' } };
    await expect(uploadTower(ctx, files, config, noPost, true)).rejects.toThrow(/2 tensor\(s\) missing.*p\.missing\.weight/);
    const { uploader, tower: loaded } = await uploadTower(ctx, files, config, names, false);
    try {
      const weights = loaded.weights;
      expect(weights.postLayernorm).toBeNull();
      expect(() => new SiglipVisionTower(ctx, config, weights, { postLayernorm: true })).toThrow(/postLayernorm requested/);
      const tower = new SiglipVisionTower(ctx, config, weights, { postLayernorm: false });
      expect(() => tower.forward(new Float32Array(10))).toThrow(/expected 432 pixel values \(3×12×12\), got 10/);
    } finally {
      uploader.dispose();
    }
  });
});
