/**
 * What every family shares: uploading a checkpoint's weights with progress and abort, the
 * memory check before it, placing image features into the prompt's image tokens, and the
 * decoder side of generation (prefill with hooks, decode steps, KV cache). A family subclass
 * adds its vision tower, connector and image preparation.
 */
import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { openCheckpoint, uploadBytes, uploadTensor, type Checkpoint } from '../load/checkpoint';
import { LoadProgressTracker } from '../load/progress';
import type { ModelSource } from '../load/source';
import type { ImageInput, Preprocessor } from '../preprocess';
import type { DecoderConfig, VisionTowerConfig } from './config';
import {
  ModelLoadError,
  type ExpectedShapes,
  type FlopsShape,
  type ImagePlacement,
  type LoadOptions,
  type ModelInfo,
  type PrefillResult,
  type PreparedImage,
  type VisionLanguageModel,
} from './family';
import type { DecoderHooks, SequenceView } from './hooks';
import { KvCache, LlamaDecoder, type LlamaLayerWeights } from './llama';
import type { DecoderWeightNames } from './llama-weights';

export type GpuDtypes = Map<string, 'f16' | 'f32'>;

/** What a family plans to upload: each tensor's GPU dtype and the shape config.json implies for it (same keys). */
export interface WeightPlan {
  dtypes: GpuDtypes;
  shapes: ExpectedShapes;
}

const MB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * Which config.json fields set each dimension of a tensor, by the tensor's role (its name's
 * ending) and part (text decoder, vision tower, connector). Only for messages: a shape
 * mismatch then names the field to look at ("dim 1 is text_config.hidden_size"), not just
 * the tensor. The families build the shapes themselves; this table mirrors the HF layouts.
 */
const DIM_FIELDS: readonly { pattern: RegExp; part: 'text' | 'vision' | 'any'; dims: readonly string[] }[] = [
  { pattern: /(embed_tokens|lm_head)\.weight$/, part: 'text', dims: ['vocab_size', 'hidden_size'] },
  { pattern: /self_attn\.q_proj\.weight$/, part: 'text', dims: ['num_attention_heads × head_dim', 'hidden_size'] },
  { pattern: /self_attn\.[kv]_proj\.weight$/, part: 'text', dims: ['num_key_value_heads × head_dim', 'hidden_size'] },
  { pattern: /self_attn\.q_proj\.bias$/, part: 'text', dims: ['num_attention_heads × head_dim'] },
  { pattern: /self_attn\.[kv]_proj\.bias$/, part: 'text', dims: ['num_key_value_heads × head_dim'] },
  { pattern: /self_attn\.o_proj\.weight$/, part: 'text', dims: ['hidden_size', 'num_attention_heads × head_dim'] },
  { pattern: /mlp\.(gate|up)_proj\.weight$/, part: 'text', dims: ['intermediate_size', 'hidden_size'] },
  { pattern: /mlp\.down_proj\.weight$/, part: 'text', dims: ['hidden_size', 'intermediate_size'] },
  { pattern: /(layernorm|norm)\.weight$/, part: 'text', dims: ['hidden_size'] },
  { pattern: /patch_embedding\.weight$/, part: 'vision', dims: ['hidden_size', 'num_channels', 'patch_size', 'patch_size'] },
  { pattern: /position_embedding\.weight$/, part: 'vision', dims: ['(image_size / patch_size)² patches (+1 for CLIP\'s class token)', 'hidden_size'] },
  { pattern: /self_attn\.(q|k|v|out)_proj\.weight$/, part: 'vision', dims: ['hidden_size', 'hidden_size'] },
  { pattern: /mlp\.fc1\.weight$/, part: 'vision', dims: ['intermediate_size', 'hidden_size'] },
  { pattern: /mlp\.fc1\.bias$/, part: 'vision', dims: ['intermediate_size'] },
  { pattern: /mlp\.fc2\.weight$/, part: 'vision', dims: ['hidden_size', 'intermediate_size'] },
  { pattern: /\.(bias|weight)$|class_embedding$/, part: 'vision', dims: ['hidden_size'] },
  { pattern: /linear_1\.weight$/, part: 'any', dims: ['text_config.hidden_size', 'vision_config.hidden_size'] },
  { pattern: /linear_2\.weight$/, part: 'any', dims: ['text_config.hidden_size', 'text_config.hidden_size'] },
  { pattern: /linear_[12]\.bias$|image_newline$/, part: 'any', dims: ['text_config.hidden_size'] },
  { pattern: /connector\.modality_projection\.proj\.weight$/, part: 'any', dims: ['text_config.hidden_size', 'vision_config.hidden_size × scale_factor²'] },
];

/** " (dim 1 is text_config.hidden_size)" for the dimensions that differ, or "" when the role is unknown. */
export function shapeHint(name: string, actual: readonly number[], expected: readonly number[]): string {
  const part = /vision/.test(name) ? 'vision' : /language_model|text_model|lm_head/.test(name) ? 'text' : 'any';
  const row = DIM_FIELDS.find((r) => (r.part === part || r.part === 'any') && r.pattern.test(name) && r.dims.length === expected.length);
  if (!row) return '';
  const field = (d: string) => (row.part === 'any' ? d : `${part}_config.${d}`);
  if (actual.length !== expected.length) return ` (a rank-${expected.length} tensor: ${row.dims.map(field).join(' × ')})`;
  const diff = expected.map((_, i) => i).filter((i) => actual[i] !== expected[i]);
  // A swapped pair is a transposed tensor, not a wrong field.
  if (diff.length === 2 && actual[diff[0]!] === expected[diff[1]!] && actual[diff[1]!] === expected[diff[0]!]) return ' (transposed?)';
  return ` (${diff.map((i) => `dim ${i} is ${field(row.dims[i]!)}`).join(', ')})`;
}

/**
 * Refuses a checkpoint whose headers disagree with the plan: a transposed, flattened or
 * mis-sized tensor, or one whose config.json widths (hidden, heads, vocab) are not the weights'.
 * Pure: `tensors` are the safetensors header entries. Names the tensor, its shape and the
 * expected one (the first mismatch, and how many more there are).
 */
export function checkTensorShapes(tensors: ReadonlyMap<string, { shape: readonly number[] }>, plan: WeightPlan, where: string): void {
  const bad: string[] = [];
  for (const name of plan.dtypes.keys()) {
    const expected = plan.shapes.get(name);
    if (!expected) throw new Error(`${where}: no expected shape planned for tensor ${name}`);
    const t = tensors.get(name);
    if (!t) continue; // Checkpoint.require names missing tensors
    if (t.shape.length !== expected.length || t.shape.some((x, i) => x !== expected[i])) {
      bad.push(`tensor ${name} has shape ${shapeText(t.shape)}, config.json implies ${shapeText(expected)}${shapeHint(name, t.shape, expected)}`);
    }
  }
  if (bad.length > 0) {
    throw new ModelLoadError(`${where}: ${bad[0]}${bad.length > 1 ? ` (and ${bad.length - 1} more tensor(s) of the wrong shape)` : ''}`);
  }
}

/**
 * Refuses a decoder this adapter cannot hold before any weight is read: the RoPE table is one
 * f32 storage buffer of max_position_embeddings × head_dim values (config parsing caps the
 * positions at 1<<20; the adapter decides the rest).
 */
export function checkDecoderFits(limits: { maxStorageBufferBindingSize: number; maxBufferSize: number }, text: DecoderConfig, where: string): void {
  const ropeBytes = text.maxPositions * text.headDim * 4;
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (ropeBytes > limit) {
    throw new ModelLoadError(
      `${where}: config.json text_config.max_position_embeddings ${text.maxPositions} needs a ${MB(ropeBytes)} RoPE table (positions × head_dim ${text.headDim} × 4 bytes), over this adapter's largest storage binding (${MB(limit)}); at most ${Math.floor(limit / (text.headDim * 4))} positions fit`,
    );
  }
}

/** GPU bytes the weights will take, and the largest single tensor (checked against maxBufferSize). */
export function weightMemory(checkpoint: Checkpoint, dtypes: GpuDtypes): { bytes: number; largest: { name: string; bytes: number } } {
  let bytes = 0;
  let largest = { name: '', bytes: 0 };
  for (const [name, as] of dtypes) {
    const b = uploadBytes(checkpoint.info(name), as);
    bytes += b;
    if (b > largest.bytes) largest = { name, bytes: b };
  }
  return { bytes, largest };
}

/**
 * Reads a checkpoint's tensors onto the GPU as the dtype map says, with one progress stream.
 * Everything uploaded is tracked in `owned` so a failed or aborted load frees it.
 */
export class WeightUploader {
  readonly owned: Tensor[] = [];
  private readonly progress: LoadProgressTracker;

  private constructor(
    private readonly ctx: GpuContext,
    readonly checkpoint: Checkpoint,
    private readonly dtypes: GpuDtypes,
    private readonly options: LoadOptions,
  ) {
    const downloadTotals = new Map<string, number>();
    let uploadTotal = 0;
    for (const [name, as] of dtypes) {
      const info = checkpoint.info(name);
      downloadTotals.set(info.file, (downloadTotals.get(info.file) ?? 0) + info.end - info.begin);
      uploadTotal += uploadBytes(info, as);
    }
    this.progress = new LoadProgressTracker(downloadTotals, uploadTotal, options.onProgress);
  }

  /**
   * Opens the checkpoint (headers only), checks every needed tensor is there with the shape
   * config.json implies, and that the largest fits one GPU buffer, before a single weight byte
   * is downloaded.
   */
  static async open(ctx: GpuContext, source: ModelSource, planFor: (tensorNames: Iterable<string>) => WeightPlan, options: LoadOptions): Promise<WeightUploader> {
    const checkpoint = await openCheckpoint(source, options);
    const plan = planFor(checkpoint.tensors.keys());
    const dtypes = plan.dtypes;
    checkpoint.require(dtypes.keys());
    checkTensorShapes(checkpoint.tensors, plan, source.description);
    const { bytes, largest } = weightMemory(checkpoint, dtypes);
    const limit = ctx.adapter.limits.maxBufferSize;
    if (largest.bytes > limit) {
      throw new ModelLoadError(
        `${source.description}: tensor ${largest.name} needs ${MB(largest.bytes)} on the GPU, over this adapter's largest buffer (${MB(limit)}); the weights total ${MB(bytes)}`,
      );
    }
    return new WeightUploader(ctx, checkpoint, dtypes, options);
  }

  async get(name: string, shape?: number[]): Promise<Tensor> {
    const as = this.dtypes.get(name);
    if (!as) throw new Error(`weight ${name} was not planned for upload`);
    const t = await uploadTensor(this.ctx, this.checkpoint, name, { as, signal: this.options.signal, progress: this.progress });
    this.owned.push(t);
    return shape ? t.reshape(shape) : t;
  }

  async linear(p: { weight: string; bias: string }): Promise<{ weight: Tensor; bias: Tensor }> {
    return { weight: await this.get(p.weight), bias: await this.get(p.bias) };
  }

  dispose(): void {
    for (const t of this.owned) t.dispose();
    this.owned.length = 0;
  }
}

/** Uploads a Llama-family decoder. */
export async function loadDecoder(ctx: GpuContext, w: WeightUploader, config: DecoderConfig, names: DecoderWeightNames): Promise<LlamaDecoder> {
  const layers: LlamaLayerWeights[] = [];
  for (const l of names.layers) {
    layers.push({
      inputNorm: await w.get(l.inputNorm),
      q: await w.get(l.q),
      k: await w.get(l.k),
      v: await w.get(l.v),
      qkvBias: l.qkvBias ? { q: await w.get(l.qkvBias.q), k: await w.get(l.qkvBias.k), v: await w.get(l.qkvBias.v) } : null,
      o: await w.get(l.o),
      postNorm: await w.get(l.postNorm),
      gate: await w.get(l.gate),
      up: await w.get(l.up),
      down: await w.get(l.down),
    });
  }
  const embed = await w.get(names.embed);
  return new LlamaDecoder(ctx, config, { embed, layers, norm: await w.get(names.norm), lmHead: names.lmHead ? await w.get(names.lmHead) : embed });
}

/**
 * Groups the prompt's runs of image tokens into images: image i takes runs until it has
 * `visualTokens[i]` tokens. A run may hold several adjacent images (LLaVA's `<image><image>`).
 * Throws when the counts do not add up, naming both.
 */
export function placeImages(runs: readonly { start: number; end: number }[], visualTokens: readonly number[]): ImagePlacement[] {
  const total = runs.reduce((a, r) => a + r.end - r.start, 0);
  const wanted = visualTokens.reduce((a, b) => a + b, 0);
  if (total !== wanted) {
    throw new Error(`the prompt holds ${total} image tokens but its ${visualTokens.length} image(s) need ${wanted}`);
  }
  const out: ImagePlacement[] = [];
  let r = 0;
  let at = runs[0]?.start ?? 0;
  for (const need of visualTokens) {
    const mine: { start: number; end: number }[] = [];
    let left = need;
    while (left > 0) {
      const run = runs[r]!;
      if (at < run.start) at = run.start;
      const take = Math.min(left, run.end - at);
      mine.push({ start: at, end: at + take });
      at += take;
      left -= take;
      if (at === run.end) r++;
    }
    const region = { start: mine[0]!.start, end: mine[mine.length - 1]!.end };
    const fixedOffsets: number[] = [];
    for (let i = 1; i < mine.length; i++) for (let p = mine[i - 1]!.end; p < mine[i]!.start; p++) fixedOffsets.push(p - region.start);
    out.push({ runs: mine, region, fixedOffsets });
  }
  return out;
}

/**
 * What a family can say of a model from its config files alone (no GPU): the fingerprint
 * recipes are bound to, the FLOPs shape and the description. The loaded model delegates to it,
 * and tests and tools use it without a GPU.
 */
export interface ModelFacts {
  readonly family: string;
  fingerprint(): string;
  /** Compute shape for `tiles` tower runs (a reference image when omitted). */
  flopsShape(tiles?: number): FlopsShape;
  describe(source: string): ModelInfo;
  /** The tower's input size: the blank warm-up image. */
  readonly tileSize: number;
}

/** Shared decoder side of every family: a subclass supplies the vision side; its facts describe it. */
export abstract class VlmBase implements VisionLanguageModel {
  readonly family: string;

  protected constructor(
    readonly ctx: GpuContext,
    readonly facts: ModelFacts,
    readonly decoder: LlamaDecoder,
    private readonly owned: Tensor[],
  ) {
    this.family = facts.family;
  }

  get numLayers(): number {
    return this.decoder.config.numLayers;
  }
  get vocabSize(): number {
    return this.decoder.config.vocabSize;
  }
  get maxPositions(): number {
    return this.decoder.config.maxPositions;
  }

  abstract prepareImage(image: ImageInput, pre: Preprocessor): Promise<PreparedImage>;
  abstract encodeImage(image: PreparedImage): Tensor;

  describe(source: string): ModelInfo {
    return this.facts.describe(source);
  }

  fingerprint(): string {
    return this.facts.fingerprint();
  }

  flopsShape(image?: PreparedImage | null): FlopsShape {
    return this.facts.flopsShape(image?.tiles.length);
  }

  blankImage(): { data: Uint8ClampedArray; width: number; height: number; channels: 4 } {
    const size = this.facts.tileSize;
    return { data: new Uint8ClampedArray(size * size * 4).fill(127), width: size, height: size, channels: 4 };
  }

  async prefill(inputIds: Uint32Array, images: readonly Tensor[], placements: readonly ImagePlacement[], cache: KvCache, hooks: DecoderHooks | null): Promise<PrefillResult> {
    const { ctx } = this;
    const T = inputIds.length;
    const d = this.decoder.config.hiddenSize;
    if (images.length !== placements.length) {
      throw new Error(`prefill: ${placements.length} image(s) placed in the prompt but ${images.length} given`);
    }
    const ids = ctx.upload(inputIds, [T], 'u32', 'inputIds');
    const hidden = this.decoder.embed(ids);
    ids.dispose();
    images.forEach((img, i) => {
      const { runs } = placements[i]!;
      const rows = runs.reduce((a, r) => a + r.end - r.start, 0);
      if (img.shape[0] !== rows) throw new Error(`prefill: image ${i} has ${img.shape[0]} feature rows but ${rows} image tokens in the prompt`);
      let from = 0;
      for (const run of runs) {
        const n = run.end - run.start;
        ctx.copy(img.buffer, from * d * 4, hidden.buffer, run.start * d * 4, n * d * 4);
        from += n;
      }
    });
    const positions = ctx.upload(Uint32Array.from({ length: T }, (_, i) => i), [T], 'u32', 'positions');
    // Statistics and pruning act on the first image's region (several images: docs/ARCHITECTURE.md).
    const first = placements[0];
    let pinned: Tensor | null = null;
    if (first && first.fixedOffsets.length > 0) {
      const marks = new Float32Array(T);
      for (const o of first.fixedOffsets) marks[first.region.start + o] = Infinity;
      pinned = ctx.upload(marks, [T], 'f32', 'pinned');
    }
    const seq: SequenceView = {
      length: T,
      positions,
      visualSpan: first ? { ...first.region } : null,
      originalLength: T,
      fixedOffsets: first ? [...first.fixedOffsets] : [],
      pinned,
    };
    const out = await this.decoder.forward(hidden, seq, cache, 'prefill', hooks);
    const logits = this.decoder.logits(out.hidden, out.seq.length - 1);
    out.hidden.dispose();
    if (out.seq.positions !== positions) out.seq.positions.dispose();
    if (out.seq.pinned && out.seq.pinned !== pinned) out.seq.pinned.dispose();
    positions.dispose();
    pinned?.dispose();
    return { logits: logits.reshape([this.vocabSize]), seq: { ...out.seq, pinned: null } };
  }

  async decodeStep(token: number, position: number, cache: KvCache): Promise<Tensor> {
    const { ctx } = this;
    const ids = ctx.upload(Uint32Array.of(token), [1], 'u32', 'token');
    const hidden = this.decoder.embed(ids);
    ids.dispose();
    const positions = ctx.upload(Uint32Array.of(position), [1], 'u32', 'position');
    const seq: SequenceView = { length: 1, positions, visualSpan: null, originalLength: position + 1, fixedOffsets: [], pinned: null };
    const out = await this.decoder.forward(hidden, seq, cache, 'decode', null);
    positions.dispose();
    const logits = this.decoder.logits(out.hidden, 0);
    out.hidden.dispose();
    return logits.reshape([this.vocabSize]);
  }

  newCache(capacity: number): KvCache {
    return new KvCache(this.ctx, this.decoder.config, capacity);
  }

  dispose(): void {
    this.decoder.dispose();
    for (const t of this.owned) t.dispose();
    this.owned.length = 0;
  }
}

/** FNV-1a of a JSON key: same fingerprint, same forward pass. */
export function fingerprintOf(key: unknown): string {
  const s = JSON.stringify(key);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** The fields of ModelInfo every family fills the same way from its decoder and tower configs. */
export function partsInfo(text: DecoderConfig, vision: VisionTowerConfig): Pick<ModelInfo, 'textModelType' | 'textLayers' | 'hiddenSize' | 'vocabSize' | 'maxPositions' | 'visionLayers' | 'imageSize' | 'patchSize'> {
  return {
    textModelType: text.modelType,
    textLayers: text.numLayers,
    hiddenSize: text.hiddenSize,
    vocabSize: text.vocabSize,
    maxPositions: text.maxPositions,
    visionLayers: vision.numLayers,
    imageSize: vision.imageSize,
    patchSize: vision.patchSize,
  };
}

/** The decoder part of every family's FLOPs shape. */
export function decoderShape(t: DecoderConfig): FlopsShape['text'] {
  return { hiddenSize: t.hiddenSize, intermediateSize: t.intermediateSize, numLayers: t.numLayers, numHeads: t.numHeads, numKvHeads: t.numKvHeads, headDim: t.headDim, vocabSize: t.vocabSize };
}

export function decoderFingerprintKey(t: DecoderConfig): unknown[] {
  return [t.hiddenSize, t.intermediateSize, t.numLayers, t.numHeads, t.numKvHeads, t.headDim, t.vocabSize, t.ropeTheta];
}
