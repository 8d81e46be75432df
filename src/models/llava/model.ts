/**
 * LLaVA: a vision tower (CLIP for LLaVA-1.5, SigLIP for the Qwen2 LLaVAs) → 2-layer MLP
 * projector → Llama-family decoder, every step on the GPU. Weights are f16 on the GPU
 * (bf16/f32 checkpoints converted at load), activations f32. LLaVA-NeXT and OneVision extend
 * this class with their tiling (src/models/llava-next/).
 */
import type { GpuContext } from '../../gpu/context';
import type { Tensor } from '../../gpu/tensor';
import type { ModelSource } from '../../load/source';
import type { ImageInput, Preprocessor } from '../../preprocess';
import { loadClipTower, type ClipVisionTower, type Linear } from '../clip';
import { ModelLoadError, type FlopsShape, type ImageRegion, type LoadOptions, type ModelInfo, type PreparedImage, type VisualGrid } from '../family';
import { ops } from '../ops';
import { loadSiglipTower, type SiglipVisionTower } from '../siglip';
import { checkDecoderFits, decoderFingerprintKey, decoderShape, fingerprintOf, loadDecoder, partsInfo, VlmBase, WeightUploader, type ModelFacts, type WeightPlan } from '../vlm';
import { visionLayersRun } from '../config';
import type { LlavaConfig } from './config';
import { detectLlavaLayout, llavaTensorDtypes, llavaTensorShapes, llavaWeightNames, type LlavaWeightNames } from './weights';

type Tower = ClipVisionTower | SiglipVisionTower;

export interface LlavaParts {
  tower: Tower;
  projector: { linear1: Linear; linear2: Linear };
  newline: Tensor | null;
  uploader: WeightUploader;
  decoder: Awaited<ReturnType<typeof loadDecoder>>;
}

/** The weight names of a LLaVA checkpoint from its tensor names (layout detection), or a clear error. */
export function llavaNamesFor(config: LlavaConfig, tensors: Iterable<string>, o: { imageNewline?: boolean } = {}, where = 'the checkpoint'): LlavaWeightNames {
  const layout = detectLlavaLayout(tensors);
  if (!layout) throw new ModelLoadError(`${where}: no LLaVA weights found (expected names starting with "language_model.model." or "model.language_model.")`);
  return llavaWeightNames(config, layout, o);
}

/** The tensors of a LLaVA checkpoint with their GPU dtypes and the shapes config.json implies. */
export function llavaWeightPlan(config: LlavaConfig, names: LlavaWeightNames): WeightPlan {
  return { dtypes: llavaTensorDtypes(names), shapes: llavaTensorShapes(names, config) };
}

/** Uploads a LLaVA checkpoint's tower, projector, decoder (and newline row when asked). */
export async function loadLlavaParts(ctx: GpuContext, source: ModelSource, config: LlavaConfig, options: LoadOptions, o: { imageNewline?: boolean } = {}): Promise<LlavaParts & { names: LlavaWeightNames }> {
  checkDecoderFits({ maxStorageBufferBindingSize: ctx.maxBindingBytes, maxBufferSize: ctx.device.limits.maxBufferSize }, config.text, source.description);
  let names: LlavaWeightNames | null = null;
  const uploader = await WeightUploader.open(
    ctx,
    source,
    (tensors) => {
      names = llavaNamesFor(config, tensors, o, source.description);
      return llavaWeightPlan(config, names);
    },
    options,
  );
  const n = names as unknown as LlavaWeightNames;
  try {
    const w = uploader;
    const v = config.vision;
    let tower: Tower;
    if (n.vision.kind === 'clip' && v.kind === 'clip') tower = await loadClipTower(ctx, w, v, n.vision.names);
    // LLaVA reads hidden_states[vision_feature_layer]: before SigLIP's post-layernorm.
    else if (n.vision.kind === 'siglip' && v.kind === 'siglip') tower = await loadSiglipTower(ctx, w, v, n.vision.names, { postLayernorm: false });
    else throw new Error('llava: vision config and weight names disagree');
    const projector = { linear1: await w.linear(n.projector.linear1), linear2: await w.linear(n.projector.linear2) };
    const newline = n.imageNewline ? await w.get(n.imageNewline) : null;
    const decoder = await loadDecoder(ctx, w, config.text, n.text);
    await ctx.sync();
    return { tower, projector, newline, uploader, decoder, names: n };
  } catch (e) {
    uploader.dispose();
    throw e;
  }
}

/** Row-major cells of a side × side patch grid; `offset` leading rows (CLS) are not places. */
export function squareGrid(tokens: number, side: number, offset: number, region: ImageRegion): VisualGrid {
  const cell = new Int32Array(tokens).fill(-1);
  for (let i = offset; i < tokens && i - offset < side * side; i++) cell[i] = i - offset;
  return { rows: side, cols: side, cell, region };
}

export class LlavaModel extends VlmBase {
  declare readonly facts: LlavaFacts;
  readonly config: LlavaConfig;

  constructor(
    ctx: GpuContext,
    facts: LlavaFacts,
    readonly parts: LlavaParts,
  ) {
    super(ctx, facts, parts.decoder, parts.uploader.owned);
    this.config = facts.config;
  }

  static async load(ctx: GpuContext, source: ModelSource, config: LlavaConfig, options: LoadOptions): Promise<LlavaModel> {
    return new LlavaModel(ctx, new LlavaFacts(config), await loadLlavaParts(ctx, source, config, options));
  }

  /** Patches per side of one tower run. */
  get gridSide(): number {
    return this.facts.gridSide;
  }

  /** Rows the selection drops from the front of a tower run's output (CLIP's CLS under 'default'). */
  private get droppedRows(): number {
    return this.config.visionFeatureSelectStrategy === 'default' ? 1 : 0;
  }

  /** One tower run + feature selection + projector: f32 [tileTokens, text hidden]. */
  tileFeatures(pixels: Float32Array): Tensor {
    const { ctx, config } = this;
    const v = config.vision;
    const expected = v.numChannels * v.imageSize ** 2;
    if (pixels.length !== expected) {
      throw new Error(`encodeImage: expected ${expected} pixel values (${v.numChannels}×${v.imageSize}×${v.imageSize}), got ${pixels.length}`);
    }
    let features = this.parts.tower.forward(pixels);
    if (this.droppedRows > 0) {
      const dv = v.hiddenSize;
      const n = config.tileTokens;
      const selected = ctx.empty([n, dv], 'f32', 'visionFeatures');
      ctx.copy(features.buffer, this.droppedRows * dv * 4, selected.buffer, 0, n * dv * 4);
      features.dispose();
      features = selected;
    }
    const { linear1, linear2 } = this.parts.projector;
    const p1 = ops.matmul(ctx, features, linear1.weight, linear1.bias);
    features.dispose();
    ops.activationInPlace(ctx, p1, config.projectorHiddenAct);
    const projected = ops.matmul(ctx, p1, linear2.weight, linear2.bias);
    p1.dispose();
    return projected;
  }

  encodeImage(image: PreparedImage): Tensor {
    if (image.tiles.length !== 1) throw new Error(`llava: one tile per image expected, got ${image.tiles.length}`);
    return this.tileFeatures(image.tiles[0]!);
  }

  async prepareImage(image: ImageInput, pre: Preprocessor): Promise<PreparedImage> {
    const { pixelValues } = await pre.preprocessImage(image);
    const n = this.config.tileTokens;
    const clsRows = this.config.vision.kind === 'clip' && this.droppedRows === 0 ? 1 : 0;
    return { tiles: [pixelValues], visualTokens: n, promptText: pre.imageToken.repeat(n), layout: null, grid: squareGrid(n, this.gridSide, clsRows, this.facts.imageRegion) };
  }

}

/**
 * What can be said of a LLaVA model from its config alone (no GPU): fingerprint, FLOPs shape,
 * description. Tiling families extend it.
 */
export class LlavaFacts implements ModelFacts {
  constructor(
    readonly config: LlavaConfig,
    readonly family = 'llava',
  ) {}

  get tileSize(): number {
    return this.config.vision.imageSize;
  }

  get gridSide(): number {
    return Math.floor(this.config.vision.imageSize / this.config.vision.patchSize);
  }

  /** Visual tokens of a reference image (tiling families override). */
  referenceImageTokens(): number {
    return this.config.tileTokens;
  }

  fingerprint(): string {
    const { config: c } = this;
    const v = c.vision;
    // The LLaVA-1.5 key is kept as it was, so recipes saved before families existed still match.
    const key: unknown[] = [
      c.modelType,
      decoderFingerprintKey(c.text),
      [v.hiddenSize, v.intermediateSize, v.numLayers, v.numHeads, v.imageSize, v.patchSize],
      c.visionFeatureLayer,
      c.visionFeatureSelectStrategy,
      c.imageTokenIndex,
    ];
    if (c.text.modelType !== 'llama' || v.kind !== 'clip') key.push(c.text.modelType, v.kind);
    return fingerprintOf(key);
  }

  /** CLIPImageProcessor centre-crops; SiglipImageProcessor resizes the whole image. */
  get imageRegion(): ImageRegion {
    return this.config.vision.kind === 'clip' ? 'centre-square' : 'whole-image';
  }

  /** Tower runs of a reference image. */
  referenceTiles(): number {
    return 1;
  }

  /** Whether the visual-token count depends on the image. */
  get variableImageTokens(): boolean {
    return false;
  }

  protected towerShape(tiles: number): NonNullable<FlopsShape['vision']> {
    const v = this.config.vision;
    const patches = this.gridSide ** 2;
    return {
      hiddenSize: v.hiddenSize,
      intermediateSize: v.intermediateSize,
      layersRun: visionLayersRun(v.numLayers, this.config.visionFeatureLayer),
      tokens: v.kind === 'clip' ? patches + 1 : patches,
      patches,
      patchInputs: v.numChannels * v.patchSize ** 2,
      tiles,
    };
  }

  /** Compute shape for `tiles` tower runs (a reference image when tiling: see referenceTiles). */
  flopsShape(tiles = this.referenceTiles()): FlopsShape {
    const t = this.config.text.hiddenSize;
    return {
      text: decoderShape(this.config.text),
      vision: this.towerShape(tiles),
      connector: { tokens: tiles * this.config.tileTokens, linears: [[this.config.vision.hiddenSize, t], [t, t]] },
    };
  }

  describe(source: string): ModelInfo {
    const c = this.config;
    return {
      source,
      family: this.family,
      modelType: c.modelType,
      visionModelType: c.vision.kind === 'clip' ? 'clip_vision_model' : 'siglip_vision_model',
      ...partsInfo(c.text, c.vision),
      imageTokens: this.referenceImageTokens(),
      visionFeatureLayer: c.visionFeatureLayer,
      variableImageTokens: this.variableImageTokens,
      imageRegion: this.imageRegion,
      flops: this.flopsShape(),
      fingerprint: this.fingerprint(),
      config: c.raw,
    };
  }
}
