import type { GpuContext, AdapterSummary } from '../gpu/context';
import { acquireGpu, type AcquireOptions } from '../gpu/device';
import type { Tensor } from '../gpu/tensor';
import type { LoadProgress } from '../load/progress';
import type { ModelSource } from '../load/source';
import { MemorySource } from '../load/source';
import { openSource } from '../load/open';
import { readJson } from '../load/source';
import type { ModelInfo, VisionLanguageModel, VisualGrid } from '../models/family';
import type { DecoderHooks } from '../models/hooks';
import { ops } from '../models/ops';
import { FAMILIES, familyFor } from '../models/registry';
import { checkTensorShapes, placeImages, weightMemory } from '../models/vlm';
import { openCheckpoint } from '../load/checkpoint';
import { loadPreprocessor, truncateAtStop, type ImageInput, type Preprocessor } from '../preprocess';
import { architectureFlops, referenceFlops } from '../prune/flops';
import { ImageFeatureCache, pixelKey } from './image-cache';
import { pruningSession, type PruningPolicy, type PruningReport } from '../prune/policies';
import { checkGenerateRequest } from './request';
import { Sampler, type SamplingOptions } from './sampler';

export type { ModelInfo } from '../models/family';

export interface GenerateRequest {
  /** The user's question; wrapped in the model's chat template unless `rawPrompt`. */
  prompt: string;
  /** Treat `prompt` as the full, already-templated text (must contain the image token if an image is given). */
  rawPrompt?: boolean;
  image?: ImageInput;
  maxNewTokens?: number;
  sampling?: SamplingOptions;
  /** Stop when the decoded answer ends with one of these. */
  stop?: string[];
  signal?: AbortSignal;
  /** Visual-token pruning for this request (default none). */
  pruning?: PruningPolicy;
  /** Also report which visual tokens survive each layer (for heatmaps). */
  recordKeptIndices?: boolean;
  /** Extra decoder hooks (statistics collectors); not combined with `pruning`. */
  hooks?: DecoderHooks | null;
}

export interface PruningResult extends PruningReport {
  /** Where each visual token of this image sits on a grid over the image (heatmaps); null without an image. */
  grid: VisualGrid | null;
  flops: {
    /** FitPrune's convention: visual tokens only, multiply-accumulates. */
    reference: { ratio: number; macs: number; baselineMacs: number };
    /** This prompt's whole prefill incl. text, vision tower and projector, FLOPs. */
    architecture: { ratio: number; flops: number; baselineFlops: number };
  };
}

export interface GenerateUsage {
  promptTokens: number;
  visualTokens: number;
  generatedTokens: number;
  imageEncodeMs: number;
  /** The image's features came from the engine's cache (same pixels seen before): no vision tower run. */
  imageFeaturesCached: boolean;
  prefillMs: number;
  timeToFirstTokenMs: number;
  decodeMs: number;
  decodeTokensPerSecond: number;
}

export type FinishReason = 'eos' | 'stop' | 'length' | 'abort';

export interface GenerateResult {
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  usage: GenerateUsage;
  /** f32 logits of the first generated position (tests and comparisons). */
  firstLogits?: Float32Array;
  pruning: PruningResult;
}

export interface TokenEvent {
  token: number;
  /** The answer decoded so far. */
  text: string;
  index: number;
}

/** A model source, a URL / Hugging Face id string (openSource), or in-memory files. In Node, open folders with openNodeSource. */
export type ModelRef = ModelSource | string | { files: ReadonlyMap<string, Uint8Array>; name?: string };

/** What loading a model would take, found from config.json and the safetensors headers only. */
export interface ModelInspection {
  source: string;
  family: string;
  modelType: string;
  /** Bytes the weights will take on the GPU (f16 matrices, f32 norms and biases). */
  gpuBytes: number;
  /** Bytes to download (the stored tensors the forward pass reads). */
  downloadBytes: number;
  largestTensor: { name: string; bytes: number };
  /** The adapter's largest buffer: a tensor above it cannot be loaded. */
  maxBufferSize: number;
  /** null when it fits; otherwise why it cannot be loaded on this adapter. */
  refusal: string | null;
}

export class EngineError extends Error {
  override readonly name = 'EngineError';
}

const now = () => performance.now();

/**
 * The public API: load a model, generate answers, report what the GPU and the model are.
 * Runs the same in Node and in a Web Worker (workers/engine.worker.ts exposes it via comlink).
 * Requests run one at a time; a failed load leaves the previous model usable.
 */
/** GPU memory for cached image features (a few LLaVA-1.5 images, hundreds of demo-model ones). */
const IMAGE_CACHE_BYTES = 64 * 1024 * 1024;

export class Engine {
  private model: VisionLanguageModel | null = null;
  private preprocessorInstance: Preprocessor | null = null;
  private sourceName = '';
  private busy: Promise<unknown> = Promise.resolve();
  /** Features of recently seen images for the loaded model (see image-cache.ts). */
  private readonly imageFeatures = new ImageFeatureCache(IMAGE_CACHE_BYTES);

  private constructor(readonly ctx: GpuContext) {}

  static async create(options: AcquireOptions = {}): Promise<Engine> {
    return new Engine(await acquireGpu(options));
  }

  get adapter(): AdapterSummary {
    return this.ctx.adapter;
  }

  info(): { adapter: AdapterSummary; model: ModelInfo | null } {
    return { adapter: this.ctx.adapter, model: this.model ? this.model.describe(this.sourceName) : null };
  }

  get loadedModel(): VisionLanguageModel | null {
    return this.model;
  }

  /** The loaded model's tokenizer, chat template and image processor. */
  get preprocessor(): Preprocessor | null {
    return this.preprocessorInstance;
  }

  /**
   * Reads config.json and the safetensors headers (a few kB with Range requests) and says what
   * loading would take on this adapter, before any weight is downloaded.
   */
  async inspect(ref: ModelRef, options: { signal?: AbortSignal } = {}): Promise<ModelInspection> {
    const source = await resolveSource(ref);
    const config = (await readJson(source, 'config.json', options)) as Record<string, unknown>;
    const family = familyFor(config);
    const checkpoint = await openCheckpoint(source, options);
    const plan = family.weightPlan(config, checkpoint.tensors.keys());
    checkpoint.require(plan.keys());
    checkTensorShapes(checkpoint.tensors, { dtypes: plan, shapes: family.expectedShapes(config, checkpoint.tensors.keys()) }, source.description);
    const { bytes, largest } = weightMemory(checkpoint, plan);
    let downloadBytes = 0;
    for (const name of plan.keys()) {
      const t = checkpoint.info(name);
      downloadBytes += t.end - t.begin;
    }
    const maxBufferSize = this.ctx.adapter.limits.maxBufferSize;
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    const refusal =
      largest.bytes > maxBufferSize
        ? `its largest tensor (${largest.name}, ${mib(largest.bytes)} as stored on the GPU) is over this adapter's largest buffer (${mib(maxBufferSize)}); the weights total ${mib(bytes)}`
        : null;
    return { source: source.description, family: family.name, modelType: String(config['model_type']), gpuBytes: bytes, downloadBytes, largestTensor: largest, maxBufferSize, refusal };
  }

  /** The model families this engine can load, with real Hub ids of each (for suggestions). */
  families(): { name: string; examples: string[] }[] {
    return FAMILIES.map((f) => ({ name: f.name, examples: [...f.examples] }));
  }

  /** Loads a model; the previous one stays in place until the new one is fully loaded. */
  load(ref: ModelRef, options: { signal?: AbortSignal; onProgress?: (p: LoadProgress) => void } = {}): Promise<ModelInfo> {
    return this.exclusive(async () => {
      const source = await resolveSource(ref);
      const config = await readJson(source, 'config.json', { signal: options.signal });
      const family = familyFor(config); // an unknown model_type is refused before anything else is read
      const preprocessor = await loadPreprocessor(source, { signal: options.signal });
      const model = await family.load(this.ctx, source, config as Record<string, unknown>, options);
      this.imageFeatures.clear();
      this.model?.dispose();
      this.model = model;
      this.preprocessorInstance = preprocessor;
      this.sourceName = source.description;
      this.ctx.pool.trim();
      return this.info().model!;
    });
  }

  /**
   * Compiles the GPU pipelines a request needs (vision tower, prefill, decode, and FitPrune's
   * statistics, ranking and gather) by answering a throw-away question about a blank image, so
   * the user's first question does not pay for it. Returns the milliseconds it took.
   */
  async warmup(): Promise<number> {
    const model = this.model;
    if (!model) throw new EngineError('no model loaded: call load() first');
    const t0 = now();
    const image = model.blankImage();
    const counts = new Array<number>(model.numLayers).fill(0);
    counts[0] = 1;
    const info = model.describe(this.sourceName);
    await this.generate({ prompt: 'warm-up', image, maxNewTokens: 2, pruning: { kind: 'fitprune', recipe: { counts, referenceVisualTokens: info.imageTokens } } });
    await this.generate({ prompt: 'warm-up', image, maxNewTokens: 2 });
    return now() - t0;
  }

  generate(request: GenerateRequest, onToken?: (e: TokenEvent) => void): Promise<GenerateResult> {
    return this.exclusive(() => this.run(request, onToken));
  }

  private async run(request: GenerateRequest, onToken?: (e: TokenEvent) => void): Promise<GenerateResult> {
    const model = this.model;
    const pre = this.preprocessorInstance;
    if (!model || !pre) throw new EngineError('no model loaded: call load() first');
    checkGenerateRequest(request);
    const { ctx } = this;
    const signal = request.signal;
    signal?.throwIfAborted();
    const maxNewTokens = request.maxNewTokens ?? 64;
    const sampler = new Sampler(request.sampling ?? {});

    const prompt = request.rawPrompt ? request.prompt : pre.buildPrompt(request.prompt, { hasImage: Boolean(request.image) });
    const placeholders = prompt.split(pre.imageToken).length - 1;
    if (request.image && placeholders !== 1) {
      throw new EngineError(`the prompt has ${placeholders} image placeholders; exactly one is needed with an image`);
    }
    if (!request.image && placeholders > 0) {
      throw new EngineError('the prompt contains an image placeholder but no image was given');
    }

    const t0 = now();
    // The family prepares the image (resize, tiles) and says what the placeholder becomes.
    const prepared = request.image ? await model.prepareImage(request.image, pre) : null;
    signal?.throwIfAborted();
    if (prepared && prepared.visualTokens + maxNewTokens > model.maxPositions) {
      // Refused before tokenizing millions of image tokens.
      throw new EngineError(`the image's ${prepared.visualTokens} visual tokens + ${maxNewTokens} new tokens exceed the model's ${model.maxPositions} positions`);
    }
    const text = prepared ? prompt.replace(pre.imageToken, () => prepared.promptText) : prompt;
    const { inputIds, imageRuns } = pre.tokenize(text);
    // The embedding has vocabSize rows: an id beyond it would read outside the table.
    const badId = inputIds.findIndex((id) => id >= model.vocabSize);
    if (badId >= 0) {
      throw new EngineError(`tokenizer.json gives the token id ${inputIds[badId]} (at position ${badId} of the prompt), but the model's embedding has ${model.vocabSize} rows (vocab_size in config.json): tokenizer and model do not match`);
    }
    let placements;
    try {
      placements = placeImages(imageRuns, prepared ? [prepared.visualTokens] : []);
    } catch (e) {
      throw new EngineError(`${e instanceof Error ? e.message : String(e)} (does the text contain the image token?)`);
    }
    const capacity = inputIds.length + maxNewTokens;
    if (capacity > model.maxPositions) {
      throw new EngineError(`prompt (${inputIds.length} tokens) + ${maxNewTokens} new tokens exceed the model's ${model.maxPositions} positions`);
    }
    // The policy is checked before any GPU work, so a refused one leaves nothing allocated.
    const visualTokens = prepared?.visualTokens ?? 0;
    const pruning = pruningSession(ctx, request.pruning ?? { kind: 'none' }, {
      numLayers: model.numLayers,
      visualTokens,
      fixedOffsets: placements[0]?.fixedOffsets ?? [],
      recordIndices: request.recordKeptIndices,
    });
    if (request.hooks && pruning.hooks) throw new EngineError('pass either `pruning` or `hooks`, not both');
    const images: Tensor[] = []; // features this request owns (disposed at the end)
    const cachedImages: Tensor[] = []; // owned by the cache
    let imageFeaturesCached = false;
    if (prepared) {
      const key = prepared.tiles.map(pixelKey).join('|');
      const hit = this.imageFeatures.get(key);
      if (hit) {
        cachedImages.push(hit);
        imageFeaturesCached = true;
      } else {
        const features = model.encodeImage(prepared);
        (this.imageFeatures.put(key, features) ? cachedImages : images).push(features);
        await ctx.sync();
      }
    }
    const t1 = now();
    if (signal?.aborted) {
      for (const img of images) img.dispose(); // an abort during the image encode frees its features
      signal.throwIfAborted();
    }
    const cache = model.newCache(capacity);
    const tokens: number[] = [];
    let finishReason: FinishReason = 'length';
    let firstLogits: Float32Array | undefined;
    let prefillMs = 0;
    let ttft = 0;
    let decodeStart = 0;
    try {
      const { logits, seq } = await model.prefill(inputIds, [...cachedImages, ...images], placements, cache, pruning.hooks ?? request.hooks ?? null);
      for (const img of images) img.dispose();
      let next = await this.pick(logits, sampler, true);
      firstLogits = next.logits;
      prefillMs = now() - t1;
      ttft = now() - t0;
      decodeStart = now();
      let position = seq.originalLength;
      let text = '';
      for (let i = 0; i < maxNewTokens; i++) {
        const token = next.token;
        if (pre.eosTokenIds.includes(token)) {
          finishReason = 'eos';
          break;
        }
        tokens.push(token);
        text = pre.decode(tokens);
        onToken?.({ token, text, index: i });
        // A stop string can end inside a multi-character token: cut at its first occurrence.
        const cut = truncateAtStop(text, request.stop);
        if (cut.stop !== null) {
          finishReason = 'stop';
          text = cut.text;
          break;
        }
        if (signal?.aborted) {
          finishReason = 'abort';
          break;
        }
        if (i === maxNewTokens - 1) break;
        next = await this.pick(await model.decodeStep(token, position++, cache), sampler, false);
      }
      const decodeMs = now() - decodeStart;
      const report = await pruning.report();
      const shape = model.flopsShape(prepared);
      const refFlops = referenceFlops(shape.text, report.visualTokens, report.deleted);
      const archFlops = architectureFlops(shape, inputIds.length, report.visualTokens, report.deleted);
      const pruningResult: PruningResult = {
        ...report,
        grid: prepared?.grid ?? null,
        flops: {
          reference: { ratio: refFlops.ratio, macs: refFlops.macs, baselineMacs: refFlops.baselineMacs },
          architecture: { ratio: archFlops.ratio, flops: archFlops.flops, baselineFlops: archFlops.baselineFlops },
        },
      };
      const finalText = finishReason === 'stop' ? text : pre.decode(tokens);
      const decoded = Math.max(0, tokens.length - 1);
      return {
        text: finalText,
        tokens,
        finishReason,
        firstLogits,
        pruning: pruningResult,
        usage: {
          promptTokens: inputIds.length,
          visualTokens,
          generatedTokens: tokens.length,
          imageEncodeMs: t1 - t0,
          imageFeaturesCached,
          prefillMs,
          timeToFirstTokenMs: ttft,
          decodeMs,
          decodeTokensPerSecond: decoded > 0 && decodeMs > 0 ? (decoded * 1000) / decodeMs : 0,
        },
      };
    } finally {
      cache.dispose();
      for (const img of images) if (!img.isDisposed) img.dispose();
    }
  }

  /**
   * The next token. Greedy decode steps take the argmax on the GPU and read back 4 bytes;
   * sampling (and the first token, whose logits the result reports) reads the logits row.
   */
  private async pick(logits: Tensor, sampler: Sampler, keepLogits: boolean): Promise<{ token: number; logits?: Float32Array }> {
    try {
      if (sampler.greedy && !keepLogits) {
        const index = ops.argmax(this.ctx, logits);
        const [token] = (await this.ctx.read(index)) as Uint32Array;
        index.dispose();
        return { token: token! };
      }
      const values = (await this.ctx.read(logits)) as Float32Array;
      return { token: sampler.next(values), logits: values };
    } finally {
      logits.dispose();
    }
  }

  dispose(): void {
    this.imageFeatures.clear();
    this.model?.dispose();
    this.model = null;
    this.ctx.destroy();
  }

  /** Runs tasks one at a time; a failure does not poison the queue. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.busy.then(task, task);
    this.busy = run.catch(() => undefined);
    return run;
  }
}

/** The source a ModelRef names. A source is recognised by its methods first: some sources
 * (FilesSource) also have a `files` field, which must not make them look like an in-memory map. */
export async function resolveSource(ref: ModelRef): Promise<ModelSource> {
  if (typeof ref === 'string') return openSource(ref);
  if (isModelSource(ref)) return ref;
  return new MemorySource(ref.files, ref.name ?? 'memory');
}

function isModelSource(ref: ModelSource | { files: ReadonlyMap<string, Uint8Array> }): ref is ModelSource {
  const s = ref as Partial<ModelSource>;
  return typeof s.read === 'function' && typeof s.stat === 'function';
}

