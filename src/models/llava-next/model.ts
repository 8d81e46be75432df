/**
 * LLaVA-NeXT (`llava_next`) and LLaVA-OneVision (`llava_onevision`) on the GPU: LLaVA's tower,
 * projector and decoder (src/models/llava/) run once per anyres tile, and the tiles' features
 * are packed into the prompt's order (base image, unpadded grid rows each closed by the learnt
 * `image_newline`) with the gather-rows kernel, following the plan src/models/llava-next/anyres.ts
 * derives from Python's pack_image_features. The image processor is ours (image-processor.ts):
 * transformers.js has none that tiles (docs: processors-python-vs-js).
 *
 * For pruning the whole packed run, newline rows included, is one visual span: the prompt holds
 * `totalTokens` consecutive image tokens, as Python's processor expands `<image>`, and the
 * FitPrune reference code prunes newline rows like any other visual token.
 */
import type { GpuContext } from '../../gpu/context';
import type { Tensor } from '../../gpu/tensor';
import { readJsonIfPresent, type ModelSource } from '../../load/source';
import { toRgb, type ImageInput, type Preprocessor } from '../../preprocess';
import type { Json } from '../config';
import { ModelLoadError, type LoadOptions, type PreparedImage, type VisualGrid } from '../family';
import { LlavaFacts, LlavaModel, loadLlavaParts, type LlavaParts } from '../llava/model';
import { ops } from '../ops';
import { fingerprintOf } from '../vlm';
import { anyresGatherPlan, anyresLayout, type AnyresFamily, type AnyresLayout } from './anyres';
import { parseAnyresConfig, type AnyresConfig } from './config';
import { preprocessAnyres, type AnyresImageProcessorConfig } from './image-processor';

/** What can be said of an anyres model from its config alone: a reference image, FLOPs, fingerprint. */
export class AnyresLlavaFacts extends LlavaFacts {
  constructor(readonly anyres: AnyresConfig) {
    super(anyres.llava, anyres.family);
  }

  /** The token layout of an image of this size (what the processor and the packing agree on). */
  layoutFor(height: number, width: number): AnyresLayout {
    const v = this.config.vision;
    return anyresLayout({
      family: this.anyres.family,
      imageHeight: height,
      imageWidth: width,
      pinpoints: this.anyres.pinpoints,
      tileSize: v.imageSize,
      patchSize: v.patchSize,
      visionAspectRatio: this.anyres.visionAspectRatio ?? undefined,
    });
  }

  /**
   * The reference image recipes are calibrated for when nothing else is known (N_ref of a
   * recipe made without calibration images): a square image of the tower's size.
   */
  private referenceLayout(): AnyresLayout {
    const s = this.config.vision.imageSize;
    return this.layoutFor(s, s);
  }

  override referenceImageTokens(): number {
    return this.referenceLayout().totalTokens;
  }

  override referenceTiles(): number {
    return this.referenceLayout().numTiles;
  }

  override get variableImageTokens(): boolean {
    return true;
  }

  override fingerprint(): string {
    return fingerprintOf([super.fingerprint(), this.anyres.family, this.anyres.pinpoints, this.anyres.visionAspectRatio]);
  }
}

function isAnyresLayout(x: unknown): x is AnyresLayout {
  return typeof x === 'object' && x !== null && 'tokensPerTile' in x && 'totalTokens' in x && 'numTiles' in x;
}

/**
 * The heatmap grid of an anyres image: the emitted (unpadded, maybe downscaled) patch grid,
 * which covers the original image; the base image's tokens and the newline rows are no place.
 */
export function anyresVisualGrid(layout: AnyresLayout): VisualGrid {
  const cell = new Int32Array(layout.totalTokens).fill(-1);
  const g = layout.grid;
  if (!g) {
    // A single padded tile (OneVision multi-image): its patches are the cells.
    const p = layout.patchesPerSide;
    for (let i = 0; i < layout.base.tokens; i++) cell[i] = i;
    return { rows: p, cols: p, cell };
  }
  let o = layout.base.tokens + (layout.base.newlineAfter ? 1 : 0);
  for (let r = 0; r < g.outRows; r++) {
    for (let c = 0; c < g.outCols; c++) cell[o++] = r * g.outCols + c;
    o++; // the row's newline
  }
  return { rows: g.outRows, cols: g.outCols, cell };
}

/** Rows of the concatenated tile features ([base; tiles], no newline) that form the unpadded grid window, row-major. */
function unpaddedWindowRows(layout: AnyresLayout): Uint32Array {
  const g = layout.grid!;
  // The gather plan of the same layout without the downscale lists exactly the window's rows
  // (plus base rows and newline markers, skipped here).
  const { downscaledRows: _rows, downscaledCols: _cols, ...rest } = g;
  const unscaled: AnyresLayout = {
    ...layout,
    grid: { ...rest, outRows: g.unpaddedRows, outCols: g.unpaddedCols },
    gridTokens: g.unpaddedRows * g.unpaddedCols,
    newlineTokens: g.unpaddedRows,
    totalTokens: layout.base.tokens + g.unpaddedRows * g.unpaddedCols + g.unpaddedRows,
  };
  const plan = anyresGatherPlan(unscaled)!;
  return Uint32Array.from(plan.subarray(layout.base.tokens).filter((s) => s >= 0));
}

export class AnyresLlavaModel extends LlavaModel {
  declare readonly facts: AnyresLlavaFacts;

  constructor(
    ctx: GpuContext,
    facts: AnyresLlavaFacts,
    parts: LlavaParts,
    /** preprocessor_config.json (pinpoints filled from config.json), or null: the model then takes no images. */
    private readonly processor: AnyresImageProcessorConfig | null,
    private readonly sourceName: string,
  ) {
    super(ctx, facts, parts);
  }

  override async prepareImage(image: ImageInput, pre: Preprocessor): Promise<PreparedImage> {
    if (!this.processor) throw new Error(`${this.sourceName} has no preprocessor_config.json: it cannot take images`);
    const rgb = await toRgb(image);
    const data = rgb.data instanceof Uint8ClampedArray ? rgb.data : Uint8ClampedArray.from(rgb.data);
    const { anyres } = this.facts;
    const { tiles, layout } = preprocessAnyres(data, rgb.width, rgb.height, this.processor, anyres.family, {
      patchSize: this.config.vision.patchSize,
      visionAspectRatio: anyres.visionAspectRatio ?? undefined,
    });
    return { tiles, visualTokens: layout.totalTokens, promptText: pre.imageToken.repeat(layout.totalTokens), layout, grid: anyresVisualGrid(layout) };
  }

  /**
   * Tower + projector per tile into one buffer [base; tiles; newline], then the packed rows in
   * prompt order: one gather when rows are copied, or (OneVision's downscale) the unpadded
   * window gathered, bilinearly resized on the GPU and laid out row by row with newlines.
   */
  override encodeImage(image: PreparedImage): Tensor {
    const layout = image.layout;
    if (!isAnyresLayout(layout)) throw new Error(`${this.family}: the image was not prepared by this model (no anyres layout)`);
    if (image.tiles.length !== layout.numTiles) throw new Error(`${this.family}: ${image.tiles.length} tiles for a layout of ${layout.numTiles}`);
    const { ctx } = this;
    const d = this.config.text.hiddenSize;
    const t = layout.tokensPerTile;
    if (t !== this.config.tileTokens) throw new Error(`${this.family}: layout has ${t} tokens per tile, the tower gives ${this.config.tileTokens}`);
    const newline = this.parts.newline;
    if (!newline) throw new Error(`${this.family}: no image_newline loaded`);
    const rows = layout.numTiles * t;
    const all = ctx.empty([rows + 1, d], 'f32', 'anyresTileFeatures');
    image.tiles.forEach((pixels, i) => {
      const f = this.tileFeatures(pixels);
      ctx.copy(f.buffer, 0, all.buffer, i * t * d * 4, t * d * 4);
      f.dispose();
    });
    ctx.copy(newline.buffer, 0, all.buffer, rows * d * 4, d * 4);

    const plan = anyresGatherPlan(layout);
    if (plan) {
      const keep = ctx.upload(Uint32Array.from(plan, (src) => (src < 0 ? rows : src)), [plan.length], 'u32', 'anyresPlan');
      const out = ops.gatherRows(ctx, all, keep);
      keep.dispose();
      all.dispose();
      return out;
    }

    // OneVision's anyres_max_N downscale: rows are interpolated, not copied.
    const g = layout.grid!;
    const windowRows = unpaddedWindowRows(layout);
    const keep = ctx.upload(windowRows, [windowRows.length], 'u32', 'anyresWindow');
    const window = ops.gatherRows(ctx, all, keep);
    keep.dispose();
    const resized = ops.bilinearResize(ctx, window, { inH: g.unpaddedRows, inW: g.unpaddedCols, outH: g.outRows, outW: g.outCols });
    window.dispose();
    const out = ctx.empty([layout.totalTokens, d], 'f32', 'anyresFeatures');
    const rowBytes = d * 4;
    ctx.copy(all.buffer, 0, out.buffer, 0, layout.base.tokens * rowBytes);
    let o = layout.base.tokens;
    for (let r = 0; r < g.outRows; r++) {
      ctx.copy(resized.buffer, r * g.outCols * rowBytes, out.buffer, o * rowBytes, g.outCols * rowBytes);
      o += g.outCols;
      ctx.copy(newline.buffer, 0, out.buffer, o++ * rowBytes, rowBytes);
    }
    resized.dispose();
    all.dispose();
    return out;
  }
}

/**
 * Loads a llava_next / llava_onevision checkpoint. preprocessor_config.json is read here (not by
 * transformers.js, which cannot tile) and checked against config.json and the tower: its tile
 * must be the tower's input and its pinpoints the model's, or prompt and features would disagree.
 */
export async function loadAnyresModel(ctx: GpuContext, source: ModelSource, raw: Json, options: LoadOptions, family: AnyresFamily): Promise<AnyresLlavaModel> {
  const config = parseAnyresConfig(raw, family);
  const facts = new AnyresLlavaFacts(config);
  const stored = await readJsonIfPresent<AnyresImageProcessorConfig>(source, 'preprocessor_config.json', { signal: options.signal });
  let processor: AnyresImageProcessorConfig | null = null;
  if (stored) {
    processor = { ...stored, image_grid_pinpoints: stored.image_grid_pinpoints ?? config.pinpoints };
    const own = JSON.stringify(processor.image_grid_pinpoints);
    if (own !== JSON.stringify(config.pinpoints)) {
      throw new ModelLoadError(`${source.description}: preprocessor_config.json image_grid_pinpoints ${own} differ from config.json's ${JSON.stringify(config.pinpoints)}`);
    }
    // A 1-pixel image through the processor gives its tile size and a layout to compare with the model's.
    const v = config.llava.vision;
    let probe;
    try {
      probe = preprocessAnyres(new Uint8ClampedArray(3), 1, 1, processor, family, { patchSize: v.patchSize, visionAspectRatio: config.visionAspectRatio ?? undefined });
    } catch (e) {
      throw new ModelLoadError(`${source.description}: preprocessor_config.json cannot be used: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (probe.tileSize.height !== v.imageSize || probe.tileSize.width !== v.imageSize) {
      throw new ModelLoadError(`${source.description}: preprocessor_config.json makes ${probe.tileSize.width}×${probe.tileSize.height} tiles, the vision tower takes ${v.imageSize}×${v.imageSize}`);
    }
  }
  const parts = await loadLlavaParts(ctx, source, config.llava, options, { imageNewline: true });
  const d = config.llava.text.hiddenSize;
  if (parts.newline && parts.newline.size !== d) {
    parts.uploader.dispose();
    throw new ModelLoadError(`${source.description}: ${parts.names.imageNewline} has ${parts.newline.size} values, expected the text hidden size ${d}`);
  }
  return new AnyresLlavaModel(ctx, facts, parts, processor, source.description);
}
