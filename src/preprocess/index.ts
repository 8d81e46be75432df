/**
 * Text and image preprocessing for LLaVA-style models with @huggingface/transformers: the
 * model's own tokenizer, chat template and image processor, constructed from files our loader
 * reads (any ModelSource: Hub, URL, folder, memory), so transformers.js never downloads
 * anything itself. Browser-, worker- and Node-safe (the Node file helper is in ./node).
 *
 * Behaviour follows Python transformers' LlavaProcessor, not transformers.js's where they
 * differ (see imageTokenCount and encode), and resizes like PIL (see ./resample).
 */
import * as transformers from '@huggingface/transformers';
import { PreTrainedTokenizer, RawImage, env } from '@huggingface/transformers';
import { readJsonIfPresent, readText, type ModelSource } from '../load/source';
import { centerCropPixels, resizePil, shortestEdgeSize, PIL_BICUBIC } from './resample';

/**
 * Where the page serves onnxruntime-web's wasm files. transformers.js would otherwise fetch
 * them from a CDN the first time anything touches onnxruntime; we never run ONNX models, but
 * the setting guarantees no third-party request. The dev/preview/build servers serve them here.
 */
export const ORT_WASM_PATH = '/ort/';

// Never let transformers.js fetch or read model files on its own: everything comes through a ModelSource.
env.allowRemoteModels = false;
env.allowLocalModels = false;
const onnxEnv = (env as { backends?: { onnx?: { wasm?: { wasmPaths?: unknown } } } }).backends?.onnx;
if (onnxEnv?.wasm && typeof location !== 'undefined') onnxEnv.wasm.wasmPaths = ORT_WASM_PATH;

/**
 * An image: a transformers.js RawImage, raw 8-bit pixels (what a canvas's getImageData gives:
 * RGBA; RGB and grey accepted too), or an encoded PNG/JPEG/WebP Blob.
 */
export type ImageInput = RawImage | { data: Uint8ClampedArray | Uint8Array; width: number; height: number; channels?: 1 | 3 | 4 } | Blob;

export interface EncodedPrompt {
  inputIds: Uint32Array;
  /** One [start, end) per image placeholder, in order, located from runs of the image token id. */
  imageSpans: { start: number; end: number }[];
}

export interface PreprocessedImage {
  /** CHW float32 [3, height, width], rescaled and normalised. */
  pixelValues: Float32Array;
  height: number;
  width: number;
}

export interface Preprocessor {
  /** The placeholder string in prompts ("<image>"). */
  readonly imageToken: string;
  readonly imageTokenId: number;
  readonly eosTokenIds: number[];
  readonly bosTokenId: number | null;
  readonly padTokenId: number | null;
  /** The processor's output size (crop size), or null when the model has no image processor. */
  readonly imageSize: { height: number; width: number } | null;
  /** Visual tokens per image as Python's LlavaProcessor counts them (see llavaImageTokenCount), or null. */
  readonly imageTokenCount: number | null;
  /** The chat template used by buildPrompt, or null (then a llava-1.5 style fallback is used). */
  readonly chatTemplate: string | null;
  /** The transformers.js tokenizer, for anything not wrapped here. */
  readonly tokenizer: PreTrainedTokenizer;
  /** The chat-templated prompt for one user turn (image first, then the question), with the generation prompt. */
  buildPrompt(question: string, o: { hasImage: boolean }): string;
  /**
   * Expands every image placeholder to `imageTokenCount` image tokens (default: this.imageTokenCount),
   * tokenizes (adding <s> as the tokenizer's post-processor says) and locates the image spans in the ids.
   */
  encode(prompt: string, o?: { imageTokenCount?: number }): EncodedPrompt;
  /**
   * Tokenizes text whose image placeholders a model family already expanded (image tokens and
   * any tile markers) and returns the runs of image-token ids in order; the engine assigns runs
   * to images.
   */
  tokenize(text: string): { inputIds: Uint32Array; imageRuns: { start: number; end: number }[] };
  /** Resize, crop, rescale and normalise like the model's (Python) image processor. */
  preprocessImage(image: ImageInput): Promise<PreprocessedImage>;
  /** Token ids → text; special tokens skipped unless asked. An empty list gives "". */
  decode(ids: readonly number[], o?: { skipSpecialTokens?: boolean }): string;
}

export interface PreprocessorOptions {
  signal?: AbortSignal;
  /**
   * 'pil' (default): resize and centre-crop in our own code exactly like Python's
   * CLIPImageProcessor (PIL), the same in Node and the browser, then let transformers.js
   * rescale and normalise. 'transformers': transformers.js's own resize and crop (sharp in Node,
   * canvas in the browser). Processors other than CLIP/SigLIP-style resize+crop always use
   * transformers.js.
   */
  resize?: 'pil' | 'transformers';
}

export class PreprocessError extends Error {
  override readonly name = 'PreprocessError';
}

/**
 * Visual tokens one image contributes, as Python transformers' LlavaProcessor computes them:
 * (H / patch) · (W / patch) + num_additional_image_tokens (1 for CLIP's CLS), minus 1 when
 * vision_feature_select_strategy is "default" (the model drops CLS). H, W are the processed
 * pixel sizes. Note: transformers.js 4.3.1's LlavaProcessor forgets the "default" subtraction
 * (and replaces only the first placeholder), so it would give 577 for llava-1.5 instead of 576.
 */
export function llavaImageTokenCount(o: {
  height: number;
  width: number;
  patchSize: number;
  numAdditionalImageTokens?: number;
  strategy?: 'default' | 'full' | string;
}): number {
  const n = Math.floor(o.height / o.patchSize) * Math.floor(o.width / o.patchSize) + (o.numAdditionalImageTokens ?? 1);
  return o.strategy === 'full' ? n : n - 1;
}

/**
 * Cuts generated text at the earliest occurrence of any stop string (which may have arrived in
 * the middle of a multi-character token). `stop` is the string that matched, or null.
 */
export function truncateAtStop(text: string, stops: readonly string[] | undefined): { text: string; stop: string | null } {
  let at = -1;
  let which: string | null = null;
  for (const s of stops ?? []) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) {
      at = i;
      which = s;
    }
  }
  return at < 0 ? { text, stop: null } : { text: text.slice(0, at), stop: which };
}

type Json = Record<string, unknown>;
type ImageProcessorInstance = (image: RawImage) => Promise<{ pixel_values: { data: ArrayLike<number>; dims: number[] } }>;

/** Token strings from tokenizer_config / special_tokens_map values ("<s>" or { content: "<s>", … }). */
function tokenString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}

const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token'] as const;

/**
 * tokenizer_config.json as transformers.js wants it: special tokens as plain strings
 * (transformers.js throws on { content } objects unless they carry "__type": "AddedToken"),
 * and missing ones filled from special_tokens_map.json as Python transformers does.
 */
function normaliseTokenizerConfig(config: Json, specialMap: Json | null): Json {
  const out: Json = { ...config };
  for (const key of SPECIAL_KEYS) {
    const own = tokenString(config[key]);
    const fallback = tokenString(specialMap?.[key]);
    if (own !== undefined) out[key] = own;
    else if (fallback !== undefined) out[key] = fallback;
    else delete out[key];
  }
  return out;
}

function tokenizerClass(name: unknown): typeof PreTrainedTokenizer {
  const n = typeof name === 'string' ? name.replace(/Fast$/, '') : '';
  const cls = (transformers as unknown as Record<string, unknown>)[n];
  return typeof cls === 'function' && (cls === PreTrainedTokenizer || cls.prototype instanceof PreTrainedTokenizer) ? (cls as typeof PreTrainedTokenizer) : PreTrainedTokenizer;
}

function imageProcessorClass(config: Json): { name: string; Cls: new (c: Json) => ImageProcessorInstance } {
  const name = String(config['image_processor_type'] ?? config['feature_extractor_type'] ?? 'ImageProcessor').replace(/Fast$/, '');
  const all = transformers as unknown as Record<string, new (c: Json) => ImageProcessorInstance>;
  return { name, Cls: all[name] ?? all['ImageProcessor']! };
}

/** { height, width } from an int or a dict with height/width, else null. */
function hw(value: unknown): { height: number; width: number } | null {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return { height: value, width: value };
  if (value && typeof value === 'object') {
    const { height, width } = value as { height?: unknown; width?: unknown };
    if (typeof height === 'number' && typeof width === 'number') return { height, width };
  }
  return null;
}

/**
 * How to resize before the crop in the PIL path: { shortestEdge } or { height, width }, or null
 * when the processor is not a plain resize(+crop) one (then transformers.js does everything).
 */
function pilPlan(config: Json): { resize: { shortestEdge: number } | { height: number; width: number } | null; crop: { height: number; width: number } | null; resample: number } | null {
  const type = String(config['image_processor_type'] ?? '').replace(/Fast$/, '');
  if (type !== 'CLIPImageProcessor' && type !== 'SiglipImageProcessor') return null;
  if (config['do_pad'] || config['do_thumbnail'] || config['keep_aspect_ratio'] || config['image_grid_pinpoints']) return null;
  let resize: { shortestEdge: number } | { height: number; width: number } | null = null;
  if (config['do_resize'] ?? config['size'] !== undefined) {
    const size = config['size'];
    if (typeof size === 'number' && type === 'CLIPImageProcessor') resize = { shortestEdge: size };
    else if (size && typeof size === 'object' && typeof (size as Json)['shortest_edge'] === 'number' && (size as Json)['longest_edge'] === undefined) {
      resize = { shortestEdge: (size as Json)['shortest_edge'] as number };
    } else resize = hw(size);
    if (!resize) return null;
  }
  const crop = config['do_center_crop'] ? hw(config['crop_size']) : null;
  if (config['do_center_crop'] && !crop) return null;
  const resample = typeof config['resample'] === 'number' ? (config['resample'] as number) : PIL_BICUBIC;
  return { resize, crop, resample };
}

/**
 * Any accepted image → a new 3-channel RawImage (the caller's image is never modified).
 * Families with their own image processors (tiling) start from this.
 */
export async function toRgb(image: ImageInput): Promise<RawImage> {
  let data: ArrayLike<number>;
  let width: number;
  let height: number;
  let channels: number;
  if (image instanceof RawImage) {
    ({ data, width, height, channels } = image);
  } else if (typeof Blob !== 'undefined' && image instanceof Blob) {
    ({ data, width, height, channels } = await RawImage.fromBlob(image));
  } else {
    const img = image as { data: Uint8ClampedArray | Uint8Array; width: number; height: number; channels?: 1 | 3 | 4 };
    ({ data, width, height } = img);
    const n = width * height;
    channels = img.channels ?? (data.length === n * 4 ? 4 : data.length === n * 3 ? 3 : 1);
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new PreprocessError(`image size ${width}×${height} is not a positive whole number of pixels`);
  }
  if (data.length !== width * height * channels) {
    throw new PreprocessError(`image data has ${data.length} values, expected ${width}×${height}×${channels}`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new PreprocessError(`images with ${channels} channels are not supported`);
  // Alpha is dropped (not composited), as PIL's convert("RGB") in Python transformers does.
  const rgb = new Uint8ClampedArray(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * channels + (channels === 1 ? 0 : c)]!;
  }
  return new RawImage(rgb, width, height, 3);
}

function countOccurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

export async function loadPreprocessor(source: ModelSource, options: PreprocessorOptions = {}): Promise<Preprocessor> {
  const { signal } = options;
  const read = { signal };
  const textIfPresent = async (file: string) => ((await source.stat(file, read)) ? readText(source, file, read) : null);
  const [tokenizerJson, tokenizerConfigRaw, specialMap, templateJson, templateJinja, imageConfig, processorConfigRaw, generationConfigRaw, modelConfigRaw] = await Promise.all([
    readJsonIfPresent<Json>(source, 'tokenizer.json', read),
    readJsonIfPresent<Json>(source, 'tokenizer_config.json', read),
    readJsonIfPresent<Json>(source, 'special_tokens_map.json', read),
    readJsonIfPresent<{ chat_template?: unknown }>(source, 'chat_template.json', read),
    textIfPresent('chat_template.jinja'),
    readJsonIfPresent<Json>(source, 'preprocessor_config.json', read),
    readJsonIfPresent<Json>(source, 'processor_config.json', read),
    readJsonIfPresent<Json>(source, 'generation_config.json', read),
    readJsonIfPresent<Json>(source, 'config.json', read),
  ]);
  if (!tokenizerJson) throw new PreprocessError(`${source.description} has no tokenizer.json (only "fast" tokenizers are supported)`);
  const processorConfig = processorConfigRaw ?? {};
  const generationConfig = generationConfigRaw ?? {};
  const modelConfig = modelConfigRaw ?? {};
  const tokenizerConfig = normaliseTokenizerConfig(tokenizerConfigRaw ?? {}, specialMap);

  const Tokenizer = tokenizerClass(tokenizerConfig['tokenizer_class']);
  const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);

  // The processor's template (chat_template.jinja, else chat_template.json) is the multimodal
  // one Python's processor.apply_chat_template uses; the tokenizer's is the fallback.
  const fromTokenizer = tokenizerConfig['chat_template'];
  const chatTemplate =
    templateJinja ?? (typeof templateJson?.chat_template === 'string' ? templateJson.chat_template : null) ?? (typeof fromTokenizer === 'string' ? fromTokenizer : null);
  // A list of named templates in tokenizer_config.json: transformers.js picks "default".
  const hasNamedTemplates = chatTemplate === null && typeof fromTokenizer === 'object' && fromTokenizer !== null;

  const imageToken = String(processorConfig['image_token'] ?? '<image>');
  const imageTokenId = tokenizer.convert_tokens_to_ids(imageToken) as number | null | undefined;
  if (typeof imageTokenId !== 'number' || imageTokenId === tokenizer.unk_token_id) {
    throw new PreprocessError(`${source.description}: tokenizer.json has no "${imageToken}" token`);
  }
  const configImageId = modelConfig['image_token_index'] ?? modelConfig['image_token_id'];
  if (typeof configImageId === 'number' && configImageId !== imageTokenId) {
    throw new PreprocessError(`${source.description}: config.json image_token_index ${configImageId} is not the tokenizer's "${imageToken}" (${imageTokenId})`);
  }
  const eos = generationConfig['eos_token_id'] ?? tokenizer.eos_token_id;
  const eosTokenIds = (Array.isArray(eos) ? eos : [eos]).filter((x): x is number => typeof x === 'number');
  const numberOr = (...values: unknown[]) => (values.find((v) => typeof v === 'number') as number | undefined) ?? null;
  const bosTokenId = numberOr(tokenizer.bos_token_id, generationConfig['bos_token_id']);
  const padTokenId = numberOr(generationConfig['pad_token_id'], tokenizer.pad_token_id, modelConfig['pad_token_id']);

  // Image side.
  let processor: ImageProcessorInstance | null = null;
  let plan: ReturnType<typeof pilPlan> = null;
  let imageSize: { height: number; width: number } | null = null;
  if (imageConfig) {
    plan = options.resize === 'transformers' ? null : pilPlan(imageConfig);
    const { Cls } = imageProcessorClass(imageConfig);
    processor = new Cls(plan ? { ...imageConfig, do_resize: false, do_center_crop: false } : imageConfig);
    imageSize = imageConfig['do_center_crop'] ? hw(imageConfig['crop_size']) : hw(imageConfig['size']);
  }
  const visionConfig = (modelConfig['vision_config'] ?? {}) as Json;
  const patchSize = numberOr(processorConfig['patch_size'], visionConfig['patch_size']);
  const strategy = String(processorConfig['vision_feature_select_strategy'] ?? modelConfig['vision_feature_select_strategy'] ?? 'default');
  const numAdditional = numberOr(processorConfig['num_additional_image_tokens']) ?? 1;
  const imageTokenCount =
    imageSize && patchSize ? llavaImageTokenCount({ height: imageSize.height, width: imageSize.width, patchSize, numAdditionalImageTokens: numAdditional, strategy }) : null;

  /** Token ids and the runs of image-token ids in them. */
  const tokenize = (text: string): { inputIds: Uint32Array; imageRuns: { start: number; end: number }[] } => {
    const ids = tokenizer.encode(text);
    const imageRuns: { start: number; end: number }[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] !== imageTokenId) continue;
      const start = i;
      while (i < ids.length && ids[i] === imageTokenId) i++;
      imageRuns.push({ start, end: i });
      i--;
    }
    return { inputIds: Uint32Array.from(ids), imageRuns };
  };

  return {
    imageToken,
    imageTokenId,
    eosTokenIds,
    bosTokenId,
    padTokenId,
    imageSize,
    imageTokenCount,
    chatTemplate,
    tokenizer,

    buildPrompt(question, o) {
      if (!chatTemplate && !hasNamedTemplates) return `USER: ${o.hasImage ? `${imageToken}\n` : ''}${question} ASSISTANT:`;
      const content = [...(o.hasImage ? [{ type: 'image' }] : []), { type: 'text', text: question }];
      return tokenizer.apply_chat_template([{ role: 'user', content }] as never, {
        tokenize: false,
        add_generation_prompt: true,
        ...(chatTemplate ? { chat_template: chatTemplate } : {}),
      }) as string;
    },

    encode(prompt, o = {}) {
      const placeholders = countOccurrences(prompt, imageToken);
      const n = o.imageTokenCount ?? imageTokenCount;
      let text = prompt;
      if (placeholders > 0) {
        if (n === null || !Number.isInteger(n) || n < 1) {
          throw new PreprocessError(`the prompt has ${placeholders} "${imageToken}" placeholder(s) but no valid image token count (${String(n)})`);
        }
        // Python's LlavaProcessor: replace every placeholder by n copies, then tokenize.
        text = prompt.split(imageToken).join(imageToken.repeat(n));
      }
      const { inputIds, imageRuns } = tokenize(text);
      const imageSpans: { start: number; end: number }[] = [];
      for (const { start, end } of imageRuns) {
        const run = end - start;
        if (!n || run % n !== 0) throw new PreprocessError(`a run of ${run} image tokens at position ${start} is not a whole number of images of ${String(n)} tokens`);
        // Adjacent placeholders make one run: split it per image.
        for (let s = start; s < end; s += n) imageSpans.push({ start: s, end: s + n });
      }
      if (imageSpans.length !== placeholders) {
        throw new PreprocessError(`the prompt has ${placeholders} image placeholder(s) but its tokens hold ${imageSpans.length} image(s)`);
      }
      return { inputIds, imageSpans };
    },

    tokenize,

    async preprocessImage(image) {
      if (!processor || !imageConfig) throw new PreprocessError(`${source.description} has no preprocessor_config.json: it cannot take images`);
      let img = await toRgb(image);
      if (plan) {
        let { data, width, height } = img;
        let pixels: Uint8ClampedArray = data as Uint8ClampedArray;
        if (plan.resize) {
          const target = 'shortestEdge' in plan.resize ? shortestEdgeSize(width, height, plan.resize.shortestEdge) : plan.resize;
          if (target.width !== width || target.height !== height) {
            pixels = resizePil(pixels, width, height, 3, target.width, target.height, plan.resample);
            ({ width, height } = target);
          }
        }
        if (plan.crop && (plan.crop.width !== width || plan.crop.height !== height)) {
          pixels = centerCropPixels(pixels, width, height, 3, plan.crop.width, plan.crop.height);
          ({ width, height } = plan.crop);
        }
        img = new RawImage(pixels, width, height, 3);
      }
      const { pixel_values } = await processor(img);
      const dims = pixel_values.dims;
      const [height, width] = dims.slice(-2) as [number, number];
      return { pixelValues: Float32Array.from(pixel_values.data), height, width };
    },

    decode(ids, o = {}) {
      if (ids.length === 0) return ''; // transformers.js throws on an empty list
      return tokenizer.decode([...ids], { skip_special_tokens: o.skipSpecialTokens ?? true });
    },
  };
}
