/**
 * Idefics3 / SmolVLM on the GPU: each frame (row-major tiles, then the global image; or only the
 * global image when unsplit) goes through the SigLIP tower *with* its post-layernorm
 * (Idefics3 reads last_hidden_state), then the connector: pixel_shuffle as a row gather
 * (pixelShuffleRowPlan, see connector-ref.ts), a free reshape [seq, d] → [seq/s², d·s²] and the
 * bias-free modality projection. The frames' features fill the prompt's runs of `<image>`
 * tokens in order; the tile markers between the runs are ordinary prompt tokens that pruning
 * never deletes (ImagePlacement.fixedOffsets).
 */
import type { GpuContext } from '../../gpu/context';
import type { Tensor } from '../../gpu/tensor';
import { readJsonIfPresent, type ModelSource } from '../../load/source';
import { toRgb, type ImageInput, type Preprocessor } from '../../preprocess';
import type { Json } from '../config';
import { ModelLoadError, type FlopsShape, type LoadOptions, type ModelInfo, type PreparedImage, type VisualGrid } from '../family';
import { ops } from '../ops';
import { loadSiglipTower, siglipGridSize, siglipPatches, type SiglipVisionTower } from '../siglip';
import { checkDecoderFits, decoderFingerprintKey, decoderShape, fingerprintOf, loadDecoder, partsInfo, VlmBase, WeightUploader, type ModelFacts } from '../vlm';
import type { Idefics3Config } from './config';
import { pixelShuffleRowPlan } from './connector-ref';
import { checkImageProcessorConfig } from '../../preprocess/image-config';
import { idefics3Grid, preprocessIdefics3, type Idefics3PreprocessorConfig } from './image-processor';
import { expandIdefics3Image, IDEFICS3_TOKENS } from './prompt';
import { idefics3TensorDtypes, idefics3TensorShapes, idefics3WeightNames, isIdefics3Layout, type Idefics3WeightNames } from './weights';

/** The tile grid of a prepared image (0×0: unsplit, the global image only). */
export interface Idefics3ImageLayout {
  rows: number;
  cols: number;
}

/** Frames the tower runs for a rows×cols grid: the tiles plus the global image, or one frame unsplit. */
export function idefics3Frames(rows: number, cols: number): number {
  return rows * cols + 1;
}

/**
 * Where each visual token sits on a grid over the original image: the tiles cover it as a
 * rows×cols mosaic of q×q cells (q = patches per side / s: one cell per connector token, row-major
 * in its tile, as pixel_shuffle orders them); the global image's tokens are a second, coarser
 * view and get −1. An unsplit image is only the global view, so its q×q tokens are the cells.
 */
export function idefics3VisualGrid(layout: Idefics3ImageLayout, q: number): VisualGrid {
  const perFrame = q * q;
  if (layout.rows === 0) return { rows: q, cols: q, cell: Int32Array.from({ length: perFrame }, (_, i) => i) };
  const { rows, cols } = layout;
  const cell = new Int32Array(idefics3Frames(rows, cols) * perFrame).fill(-1);
  const width = cols * q;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const base = (r * cols + c) * perFrame;
      for (let k = 0; k < perFrame; k++) cell[base + k] = (r * q + Math.floor(k / q)) * width + c * q + (k % q);
    }
  }
  return { rows: rows * q, cols: width, cell };
}

/**
 * What can be said of an Idefics3 model from config.json and preprocessor_config.json alone
 * (no GPU): fingerprint, FLOPs shape, description.
 */
export class Idefics3Facts implements ModelFacts {
  readonly family = 'idefics3';

  constructor(
    readonly config: Idefics3Config,
    readonly imageConfig: Idefics3PreprocessorConfig,
  ) {}

  get tileSize(): number {
    return this.config.vision.imageSize;
  }

  /** Connector tokens per side of one frame. */
  get tokensPerSide(): number {
    return siglipGridSize(this.config.vision) / this.config.scaleFactor;
  }

  get variableImageTokens(): boolean {
    return this.imageConfig.do_image_splitting !== false;
  }

  /**
   * Frames of the reference image recipes are calibrated for: a square image of side
   * size.longest_edge, i.e. the largest grid a square image reaches (SmolVLM: 2048 px → 4×4
   * tiles + global = 17 frames, 1,088 tokens). Chosen over "one unsplit frame" because
   * real inputs are split: rescaling floor(k·N/N_ref) from the full grid shrinks counts for
   * smaller grids instead of multiplying a 64-token recipe by 17.
   */
  referenceFrames(): number {
    const side = this.imageConfig.size?.longest_edge ?? this.config.vision.imageSize;
    const g = idefics3Grid(side, side, this.imageConfig);
    return g.rows === 0 ? 1 : idefics3Frames(g.rows, g.cols);
  }

  referenceImageTokens(): number {
    return this.referenceFrames() * this.config.imageSeqLen;
  }

  fingerprint(): string {
    const { config: c, imageConfig: p } = this;
    const v = c.vision;
    return fingerprintOf([
      c.modelType,
      decoderFingerprintKey(c.text),
      [v.hiddenSize, v.intermediateSize, v.numLayers, v.numHeads, v.imageSize, v.patchSize],
      c.scaleFactor,
      c.imageTokenId,
      // The split decides how many tokens an image gets, so recipes depend on it.
      [p.size?.longest_edge ?? null, p.max_image_size?.longest_edge ?? null, p.do_image_splitting !== false],
    ]);
  }

  flopsShape(frames = this.referenceFrames()): FlopsShape {
    const c = this.config;
    const v = c.vision;
    const patches = siglipPatches(v);
    const s2 = c.scaleFactor ** 2;
    return {
      text: decoderShape(c.text),
      vision: { hiddenSize: v.hiddenSize, intermediateSize: v.intermediateSize, layersRun: v.numLayers, tokens: patches, patches, patchInputs: v.numChannels * v.patchSize ** 2, tiles: frames },
      connector: { tokens: frames * c.imageSeqLen, linears: [[v.hiddenSize * s2, c.text.hiddenSize]] },
    };
  }

  describe(source: string): ModelInfo {
    const c = this.config;
    return {
      source,
      family: this.family,
      modelType: c.modelType,
      visionModelType: c.vision.modelType,
      ...partsInfo(c.text, c.vision),
      imageTokens: this.referenceImageTokens(),
      visionFeatureLayer: null,
      variableImageTokens: this.variableImageTokens,
      flops: this.flopsShape(),
      fingerprint: this.fingerprint(),
      config: c.raw,
    };
  }
}

/** Reads the image processor's and processor's settings and checks them against config.json. */
async function readImageConfig(source: ModelSource, config: Idefics3Config, signal?: AbortSignal): Promise<Idefics3PreprocessorConfig> {
  const [image, processor] = await Promise.all([
    readJsonIfPresent<Json>(source, 'preprocessor_config.json', { signal }),
    readJsonIfPresent<Json>(source, 'processor_config.json', { signal }),
  ]);
  if (!image) throw new ModelLoadError(`${source.description} has no preprocessor_config.json: Idefics3 needs it to resize and split images`);
  try {
    checkImageProcessorConfig(image);
  } catch (e) {
    throw new ModelLoadError(`${source.description}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const p = image as Idefics3PreprocessorConfig;
  const tile = p.max_image_size?.longest_edge;
  if (tile !== undefined && tile !== config.vision.imageSize) {
    throw new ModelLoadError(`${source.description}: preprocessor_config.json max_image_size.longest_edge ${tile} is not the vision tower's image_size ${config.vision.imageSize}`);
  }
  // Python's processor would default to 364-px tiles; the tower's size is the only one that can run.
  const checked: Idefics3PreprocessorConfig = { ...p, max_image_size: { longest_edge: config.vision.imageSize } };
  const seqLen = processor?.['image_seq_len'];
  if (typeof seqLen === 'number' && seqLen !== config.imageSeqLen) {
    throw new ModelLoadError(`${source.description}: processor_config.json image_seq_len ${seqLen} is not (image_size / patch_size)² / scale_factor² = ${config.imageSeqLen}`);
  }
  return checked;
}

export class Idefics3Model extends VlmBase {
  declare readonly facts: Idefics3Facts;
  readonly config: Idefics3Config;
  /** Special-token strings already checked against the tokenizer. */
  private readonly knownTokens = new Set<string>();

  private constructor(
    ctx: GpuContext,
    facts: Idefics3Facts,
    private readonly tower: SiglipVisionTower,
    /** f16 [text hidden, d·s²] */
    private readonly projection: Tensor,
    /** u32 [patches]: pixel_shuffle as a row permutation. */
    private readonly shufflePlan: Tensor,
    uploader: WeightUploader,
    decoder: Awaited<ReturnType<typeof loadDecoder>>,
  ) {
    super(ctx, facts, decoder, uploader.owned);
    this.config = facts.config;
  }

  static async load(ctx: GpuContext, source: ModelSource, config: Idefics3Config, options: LoadOptions): Promise<Idefics3Model> {
    const imageConfig = await readImageConfig(source, config, options.signal);
    const names: Idefics3WeightNames = idefics3WeightNames(config);
    checkDecoderFits({ maxStorageBufferBindingSize: ctx.maxBindingBytes, maxBufferSize: ctx.device.limits.maxBufferSize }, config.text, source.description);
    const uploader = await WeightUploader.open(
      ctx,
      source,
      (tensors) => {
        if (!isIdefics3Layout(tensors)) throw new ModelLoadError(`${source.description}: no Idefics3 weights found (expected names starting with "model.text_model.")`);
        return { dtypes: idefics3TensorDtypes(names), shapes: idefics3TensorShapes(names, config) };
      },
      options,
    );
    try {
      const w = uploader;
      const v = config.vision;
      const vn = names.vision;
      // Idefics3 reads last_hidden_state: after the post-layernorm.
      const tower = await loadSiglipTower(ctx, w, v, vn, { postLayernorm: true });
      // Its shape [text hidden, d·s²] was checked with every other tensor's in WeightUploader.open.
      const projection = await w.get(names.connector);
      const patches = siglipPatches(v);
      const shufflePlan = ctx.upload(pixelShuffleRowPlan(patches, v.hiddenSize, config.scaleFactor), [patches], 'u32', 'pixelShufflePlan');
      uploader.owned.push(shufflePlan);
      const decoder = await loadDecoder(ctx, w, config.text, names.text);
      await ctx.sync();
      return new Idefics3Model(ctx, new Idefics3Facts(config, imageConfig), tower, projection, shufflePlan, uploader, decoder);
    } catch (e) {
      uploader.dispose();
      throw e;
    }
  }

  /** One frame: tower (with post-layernorm) → pixel shuffle → projection: f32 [image_seq_len, text hidden]. */
  frameFeatures(pixels: Float32Array): Tensor {
    const { ctx, config } = this;
    const v = config.vision;
    const hidden = this.tower.forward(pixels);
    const shuffled = ops.gatherRows(ctx, hidden, this.shufflePlan);
    hidden.dispose();
    // Viewed as [seq/s², d·s²] each row is one s×s block of patches, concatenated row-major.
    const grouped = shuffled.reshape([config.imageSeqLen, v.hiddenSize * config.scaleFactor ** 2]);
    const projected = ops.matmul(ctx, grouped, this.projection);
    grouped.dispose();
    return projected;
  }

  encodeImage(image: PreparedImage): Tensor {
    const { ctx, config } = this;
    const n = config.imageSeqLen;
    const d = config.text.hiddenSize;
    if (image.visualTokens !== image.tiles.length * n) {
      throw new Error(`idefics3: ${image.tiles.length} frame(s) give ${image.tiles.length * n} tokens, the image says ${image.visualTokens}`);
    }
    if (image.tiles.length === 1) return this.frameFeatures(image.tiles[0]!);
    const out = ctx.empty([image.visualTokens, d], 'f32', 'imageFeatures');
    image.tiles.forEach((pixels, i) => {
      const f = this.frameFeatures(pixels);
      ctx.copy(f.buffer, 0, out.buffer, i * n * d * 4, n * d * 4);
      f.dispose();
    });
    return out;
  }

  /** Throws unless the tokenizer has each token as one id (else the prompt would not match training). */
  private requireTokens(pre: Preprocessor, tokens: readonly string[]): void {
    for (const t of tokens) {
      if (this.knownTokens.has(t)) continue;
      const id = pre.tokenizer.convert_tokens_to_ids(t) as number | null | undefined;
      if (typeof id !== 'number' || id === pre.tokenizer.unk_token_id) throw new Error(`idefics3: the tokenizer has no "${t}" token, which the image's prompt needs`);
      this.knownTokens.add(t);
    }
  }

  async prepareImage(image: ImageInput, pre: Preprocessor): Promise<PreparedImage> {
    const rgb = await toRgb(image);
    const out = preprocessIdefics3(rgb.data as Uint8ClampedArray, rgb.width, rgb.height, this.facts.imageConfig);
    const tokens = { ...IDEFICS3_TOKENS, imageToken: pre.imageToken };
    const tags: string[] = [];
    for (let r = 1; r <= out.rows; r++) for (let c = 1; c <= out.cols; c++) tags.push(`<row_${r}_col_${c}>`);
    this.requireTokens(pre, [tokens.fakeTokenAroundImage, tokens.globalImageToken, ...tags]);
    const layout: Idefics3ImageLayout = { rows: out.rows, cols: out.cols };
    return {
      tiles: out.tiles,
      visualTokens: out.tiles.length * this.config.imageSeqLen,
      promptText: expandIdefics3Image(out.rows, out.cols, this.config.imageSeqLen, tokens),
      layout,
      grid: idefics3VisualGrid(layout, this.facts.tokensPerSide),
    };
  }

}
