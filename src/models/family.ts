/**
 * The seam between model families and everything else. A family (src/models/<family>/) turns a
 * Hugging Face checkpoint into a `VisionLanguageModel`; the engine, pruning, evaluation and the
 * page talk to these types only and never name a family. Adding a family means one folder
 * implementing `ModelFamily` plus one line in src/models/registry.ts.
 */
import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import type { LoadProgress } from '../load/progress';
import type { ModelSource } from '../load/source';
import type { ImageInput, Preprocessor } from '../preprocess';
import type { Json } from './config';
import type { DecoderHooks, SequenceView } from './hooks';
import type { KvCache } from './llama';

/**
 * The compute of one prefill as the FLOPs model needs it (src/prune/flops.ts): the decoder's
 * widths, the vision tower per tile and the connector. Produced by the family, never rebuilt
 * by hand elsewhere.
 */
export interface FlopsShape {
  text: {
    hiddenSize: number;
    intermediateSize: number;
    numLayers: number;
    numHeads: number;
    numKvHeads: number;
    headDim: number;
    vocabSize: number;
  };
  vision: {
    hiddenSize: number;
    intermediateSize: number;
    /** Encoder layers actually run (up to the feature layer). */
    layersRun: number;
    /** Sequence length through the encoder (patches, plus CLS for CLIP). */
    tokens: number;
    patches: number;
    /** Inputs of the patch convolution (C·p·p). */
    patchInputs: number;
    /** Tower runs per image (LLaVA-1.5: 1; anyres: base + tiles; Idefics3: tiles + global). */
    tiles: number;
  } | null;
  /** The connector as a chain of linear layers [in, out] over `tokens` rows. */
  connector: { tokens: number; linears: [number, number][] } | null;
}

/** What the page and the CLIs show about a loaded model; plain data (crosses the worker boundary). */
export interface ModelInfo {
  source: string;
  /** Registry name of the family that loaded it (llava, llava_next, llava_onevision, idefics3). */
  family: string;
  /** config.json model_type, and those of its text and vision parts. */
  modelType: string;
  textModelType: string;
  visionModelType: string;
  textLayers: number;
  hiddenSize: number;
  vocabSize: number;
  maxPositions: number;
  visionLayers: number;
  /** The vision tower's input size (one tile). */
  imageSize: number;
  patchSize: number;
  /** Visual tokens of a reference image (the N_ref recipes are calibrated for when images vary). */
  imageTokens: number;
  /** The vision_feature_layer as configured (a list for multi-layer features), or null. */
  visionFeatureLayer: number | number[] | null;
  /** Whether the visual-token count depends on the image (anyres, image splitting). */
  variableImageTokens: boolean;
  /** The part of an image the tower's patch grid covers, for previews (default 'whole-image'). */
  imageRegion?: ImageRegion;
  /** The decoder's compute shape for a reference image (FLOPs in both conventions). */
  flops: FlopsShape;
  fingerprint: string;
  config: Json;
}

/**
 * Where the visual tokens of one image sit on a grid over the original image, for heatmaps:
 * `cell[i]` is the row-major cell of visual token i on a rows × cols grid, or −1 for tokens
 * that are not a place in the image (CLS, newline tokens, a downsized global view).
 */
export interface VisualGrid {
  rows: number;
  cols: number;
  cell: Int32Array;
  /**
   * What the grid covers: the centre square a CLIP-style processor crops, or the whole image
   * (resize without crop, tiling). Default 'whole-image'.
   */
  region?: ImageRegion;
}

export type ImageRegion = 'centre-square' | 'whole-image';

/**
 * Where each visual token of one image sits in 2-D, for the spatial policies (uniform, pooling,
 * windowed scores) and the positional-bias figures. Unlike VisualGrid (cells on one grid over the
 * image, for heatmaps) every sub-image keeps its own grid: LLaVA-1.5 has one; LLaVA-NeXT and
 * OneVision the base image and the unpadded tile grid; Idefics3 the tiles together and the global image.
 */
export interface TokenLayout {
  groups: { rows: number; cols: number }[];
  /** Per visual token (0..N−1 in prompt order, tile markers not counted): its group, or −1 for a token with no place (newline tokens). */
  group: Int32Array;
  /** Row and column inside the token's group (−1 when group is −1). */
  row: Int32Array;
  col: Int32Array;
}

/** An image made ready for one family: pixels per tower run and its place in the prompt. */
export interface PreparedImage {
  /** CHW f32 pixels per vision-tower run, in the order the family encodes them. */
  tiles: Float32Array[];
  /** Rows of image features = image tokens the prompt holds for it. */
  visualTokens: number;
  /** The text that replaces the image placeholder in the prompt (image tokens and any tile markers). */
  promptText: string;
  /** Family-specific geometry the encoder needs (tile grid, unpadded size); opaque to callers. */
  layout: unknown;
  grid: VisualGrid;
  /** The visual tokens' own 2-D places (see TokenLayout). */
  tokens?: TokenLayout;
}

/** The image tokens of one image: its runs of image-token ids and the region they span. */
export interface ImagePlacement {
  /** [start, end) runs of image-token rows, in prompt order; features fill them in order. */
  runs: { start: number; end: number }[];
  /** From the first run's start to the last run's end: the rows pruning works on. */
  region: { start: number; end: number };
  /** Offsets inside the region that are not image tokens (tile markers): never pruned. */
  fixedOffsets: number[];
}

export interface PrefillResult {
  /** f32 [vocab] logits of the last prompt row. */
  logits: Tensor;
  /** Rows left after pruning (the decode positions continue from seq.originalLength). */
  seq: SequenceView;
}

export interface LoadOptions {
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
}

/** A loaded model, whatever its family. */
export interface VisionLanguageModel {
  readonly ctx: GpuContext;
  readonly family: string;
  readonly numLayers: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  /** Plain-data description (see ModelInfo); `source` names where it came from. */
  describe(source: string): ModelInfo;
  /** Changes whenever a config field that decides the forward pass changes. */
  fingerprint(): string;
  /** Compute shape of a prefill with this image (a reference image when omitted). */
  flopsShape(image?: PreparedImage | null): FlopsShape;
  /** Resize, tile and normalise like the family's Python processor; where its tokens go in the prompt. */
  prepareImage(image: ImageInput, pre: Preprocessor): Promise<PreparedImage>;
  /** A blank image of the tower's size (warm-up). */
  blankImage(): { data: Uint8ClampedArray; width: number; height: number; channels: 4 };
  /** Vision tower(s) and connector: f32 [visualTokens, text hidden]. */
  encodeImage(image: PreparedImage): Tensor;
  /**
   * Embeds the prompt, writes each image's features into its runs, runs the decoder with the
   * hooks seeing the first image's region as the visual span.
   */
  prefill(inputIds: Uint32Array, images: readonly Tensor[], placements: readonly ImagePlacement[], cache: KvCache, hooks: DecoderHooks | null): Promise<PrefillResult>;
  /** One decode step: token at absolute position `position` → f32 [vocab] logits. */
  decodeStep(token: number, position: number, cache: KvCache): Promise<Tensor>;
  newCache(capacity: number): KvCache;
  dispose(): void;
}

/** Tensor name → the shape config.json implies for it (HF layout: Linear [out, in], Conv2d [out, C, p, p]). */
export type ExpectedShapes = Map<string, readonly number[]>;

/** One model family: recognises its config.json and loads checkpoints of it. */
export interface ModelFamily {
  /** Registry name (the config.json model_type it answers to, e.g. "llava_next"). */
  readonly name: string;
  /** Real Hub ids of this family, for suggestions in the page and docs. */
  readonly examples: readonly string[];
  /** Whether this family handles a config.json (model_type and, where it matters, its parts). */
  accepts(config: Json): boolean;
  /**
   * The tensors the forward pass reads and how each is stored on the GPU, from config.json and
   * the checkpoint's tensor names alone (no weights): the memory estimate before a download.
   */
  weightPlan(config: Json, tensorNames: Iterable<string>): Map<string, 'f16' | 'f32'>;
  /**
   * The shape config.json implies for every tensor of the weight plan (same keys): checked
   * against the safetensors headers at load, before a weight byte is read.
   */
  expectedShapes(config: Json, tensorNames: Iterable<string>): ExpectedShapes;
  /** Reads the checkpoint's headers, checks names and sizes, uploads the weights (progress, abort). */
  load(ctx: GpuContext, source: ModelSource, config: Json, options: LoadOptions): Promise<VisionLanguageModel>;
}

export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
}
