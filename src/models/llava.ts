import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { openCheckpoint, uploadBytes, uploadTensor, type Checkpoint } from '../load/checkpoint';
import { LoadProgressTracker, type LoadProgress } from '../load/progress';
import { readJson, type ModelSource } from '../load/source';
import { ClipVisionTower, type ClipLayerWeights, type Linear } from './clip';
import { parseLlavaConfig, type LlavaConfig } from './config';
import type { DecoderHooks, SequenceView } from './hooks';
import { KvCache, LlamaDecoder, type LlamaLayerWeights } from './llama';
import { allLlavaWeightNames, detectLlavaLayout, llavaTensorDtypes, llavaWeightNames, type LlavaWeightNames } from './llava-weights';
import { ops } from './ops';

export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
}

export interface LoadOptions {
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
}

export interface PrefillResult {
  /** f32 [vocab] logits of the last prompt row. */
  logits: Tensor;
  /** Rows left after pruning (the decode positions continue from seq.originalLength). */
  seq: SequenceView;
}

/**
 * LLaVA-1.5: CLIP vision tower → 2-layer MLP projector → Llama decoder, every step on the GPU.
 * Weights are f16 on the GPU (bf16/f32 checkpoints converted at load), activations f32.
 */
export class LlavaModel {
  private constructor(
    readonly ctx: GpuContext,
    readonly config: LlavaConfig,
    readonly vision: ClipVisionTower,
    readonly projector: { linear1: Linear; linear2: Linear },
    readonly decoder: LlamaDecoder,
    private readonly owned: Tensor[],
  ) {}

  static async load(ctx: GpuContext, source: ModelSource, options: LoadOptions = {}): Promise<LlavaModel> {
    const config = parseLlavaConfig(await readJson(source, 'config.json', { signal: options.signal }));
    const checkpoint = await openCheckpoint(source, options);
    const layout = detectLlavaLayout(checkpoint.tensors.keys());
    if (!layout) {
      throw new ModelLoadError(
        `${source.description}: no LLaVA weights found (expected names starting with "language_model.model." or "model.language_model.")`,
      );
    }
    const names = llavaWeightNames(config, layout);
    checkpoint.require(allLlavaWeightNames(names));
    const owned: Tensor[] = [];
    try {
      return await LlavaModel.upload(ctx, config, checkpoint, names, owned, options);
    } catch (e) {
      for (const t of owned) t.dispose();
      throw e;
    }
  }

  private static async upload(
    ctx: GpuContext,
    config: LlavaConfig,
    checkpoint: Checkpoint,
    names: LlavaWeightNames,
    owned: Tensor[],
    options: LoadOptions,
  ): Promise<LlavaModel> {
    const dtypes = llavaTensorDtypes(names);
    const downloadTotals = new Map<string, number>();
    let uploadTotal = 0;
    for (const [name, as] of dtypes) {
      const info = checkpoint.info(name);
      downloadTotals.set(info.file, (downloadTotals.get(info.file) ?? 0) + info.end - info.begin);
      uploadTotal += uploadBytes(info, as);
    }
    const progress = new LoadProgressTracker(downloadTotals, uploadTotal, options.onProgress);
    const get = async (name: string, shape?: number[]): Promise<Tensor> => {
      const t = await uploadTensor(ctx, checkpoint, name, { as: dtypes.get(name)!, signal: options.signal, progress });
      owned.push(t);
      return shape ? t.reshape(shape) : t;
    };
    const pair = async (p: { weight: string; bias: string }): Promise<Linear> => ({
      weight: await get(p.weight),
      bias: await get(p.bias),
    });
    const v = config.vision;
    const patchCols = v.numChannels * v.patchSize * v.patchSize;
    const visionLayers: ClipLayerWeights[] = [];
    for (const l of names.vision.layers) {
      visionLayers.push({
        norm1: await pair(l.norm1),
        q: await pair(l.q),
        k: await pair(l.k),
        v: await pair(l.v),
        out: await pair(l.out),
        norm2: await pair(l.norm2),
        fc1: await pair(l.fc1),
        fc2: await pair(l.fc2),
      });
    }
    const vision = new ClipVisionTower(ctx, v, {
      classEmbedding: await get(names.vision.classEmbedding),
      patchEmbedding: await get(names.vision.patchEmbedding, [v.hiddenSize, patchCols]),
      positionEmbedding: await get(names.vision.positionEmbedding),
      preNorm: await pair(names.vision.preNorm),
      layers: visionLayers,
    });
    const projector = { linear1: await pair(names.projector.linear1), linear2: await pair(names.projector.linear2) };
    const textLayers: LlamaLayerWeights[] = [];
    for (const l of names.text.layers) {
      textLayers.push({
        inputNorm: await get(l.inputNorm),
        q: await get(l.q),
        k: await get(l.k),
        v: await get(l.v),
        o: await get(l.o),
        postNorm: await get(l.postNorm),
        gate: await get(l.gate),
        up: await get(l.up),
        down: await get(l.down),
      });
    }
    const embed = await get(names.text.embed);
    const decoder = new LlamaDecoder(ctx, config.text, {
      embed,
      layers: textLayers,
      norm: await get(names.text.norm),
      lmHead: names.text.lmHead ? await get(names.text.lmHead) : embed,
    });
    await ctx.sync();
    return new LlavaModel(ctx, config, vision, projector, decoder, owned);
  }

  /** Visual tokens one image contributes. */
  get imageTokens(): number {
    return this.config.imageTokens;
  }

  /** pixels (CHW f32, the processor's output) → the selected vision features f32 [imageTokens, vision hidden]. */
  visionFeatures(pixels: Float32Array): Tensor {
    const { ctx, config } = this;
    const expected = config.vision.numChannels * config.vision.imageSize ** 2;
    if (pixels.length !== expected) {
      throw new Error(`encodeImage: expected ${expected} pixel values (${config.vision.numChannels}×${config.vision.imageSize}×${config.vision.imageSize}), got ${pixels.length}`);
    }
    const states = this.vision.forward(pixels);
    if (config.visionFeatureSelectStrategy === 'full') return states;
    const dv = config.vision.hiddenSize;
    const n = config.imageTokens;
    const features = ctx.empty([n, dv], 'f32', 'visionFeatures');
    ctx.copy(states.buffer, dv * 4, features.buffer, 0, n * dv * 4); // drop the CLS row
    states.dispose();
    return features;
  }

  /** pixels (CHW f32, the processor's output) → f32 [imageTokens, text hidden]: vision tower + projector. */
  encodeImage(pixels: Float32Array): Tensor {
    const { ctx, config } = this;
    const features = this.visionFeatures(pixels);
    const p1 = ops.matmul(ctx, features, this.projector.linear1.weight, this.projector.linear1.bias);
    features.dispose();
    ops.activationInPlace(ctx, p1, config.projectorHiddenAct);
    const projected = ops.matmul(ctx, p1, this.projector.linear2.weight, this.projector.linear2.bias);
    p1.dispose();
    return projected;
  }

  /**
   * Embeds the prompt, writes the image features into the image span(s) and runs the decoder.
   * `images[i]` fills `imageSpans[i]`.
   */
  async prefill(
    inputIds: Uint32Array,
    images: readonly Tensor[],
    imageSpans: readonly { start: number; end: number }[],
    cache: KvCache,
    hooks: DecoderHooks | null,
  ): Promise<PrefillResult> {
    const { ctx } = this;
    const T = inputIds.length;
    const d = this.config.text.hiddenSize;
    if (images.length !== imageSpans.length) {
      throw new Error(`prefill: ${imageSpans.length} image span(s) in the prompt but ${images.length} image(s) given`);
    }
    const ids = ctx.upload(inputIds, [T], 'u32', 'inputIds');
    const hidden = this.decoder.embed(ids);
    ids.dispose();
    images.forEach((img, i) => {
      const span = imageSpans[i]!;
      const rows = span.end - span.start;
      if (img.shape[0] !== rows) throw new Error(`prefill: image ${i} has ${img.shape[0]} feature rows but its span has ${rows} tokens`);
      ctx.copy(img.buffer, 0, hidden.buffer, span.start * d * 4, rows * d * 4);
    });
    const positions = ctx.upload(Uint32Array.from({ length: T }, (_, i) => i), [T], 'u32', 'positions');
    // Statistics and pruning act on the first image's span (several images: see docs).
    const visualSpan = imageSpans[0] ? { ...imageSpans[0] } : null;
    const seq: SequenceView = { length: T, positions, visualSpan, originalLength: T };
    const out = await this.decoder.forward(hidden, seq, cache, 'prefill', hooks);
    const logits = this.decoder.logits(out.hidden, out.seq.length - 1);
    out.hidden.dispose();
    if (out.seq.positions !== positions) out.seq.positions.dispose();
    positions.dispose();
    return { logits: logits.reshape([this.config.text.vocabSize]), seq: out.seq };
  }

  /** One decode step: token at absolute position `position` → f32 [vocab] logits. */
  async decodeStep(token: number, position: number, cache: KvCache): Promise<Tensor> {
    const { ctx } = this;
    const ids = ctx.upload(Uint32Array.of(token), [1], 'u32', 'token');
    const hidden = this.decoder.embed(ids);
    ids.dispose();
    const positions = ctx.upload(Uint32Array.of(position), [1], 'u32', 'position');
    const seq: SequenceView = { length: 1, positions, visualSpan: null, originalLength: position + 1 };
    const out = await this.decoder.forward(hidden, seq, cache, 'decode', null);
    positions.dispose();
    const logits = this.decoder.logits(out.hidden, 0);
    out.hidden.dispose();
    return logits.reshape([this.config.text.vocabSize]);
  }

  newCache(capacity: number): KvCache {
    return new KvCache(this.ctx, this.config.text, capacity);
  }

  dispose(): void {
    this.decoder.dispose();
    for (const t of this.owned) t.dispose();
    this.owned.length = 0;
  }
}
