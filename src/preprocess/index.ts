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
import { compileTemplate, renderTemplate, type CompiledTemplate } from './chat-template';
import { checkImageProcessorConfig, MAX_INPUT_PIXELS } from './image-config';
import { PreprocessError } from './errors';
import { quoteValue } from '../util/quote';
import { toRgb, type ImageInput } from './image-input';

export { MAX_IMAGE_SIDE, MAX_INPUT_PIXELS, checkImageProcessorConfig, ImageConfigError } from './image-config';
export { toRgb, type ImageInput } from './image-input';
export { PreprocessError } from './errors';
export { MAX_RANGE, MAX_STEPS, MAX_MS, MAX_OUTPUT, TemplateLimitError } from './chat-template';

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
  /** The file the chat template came from (chat_template.jinja / chat_template.json / tokenizer_config.json), or null. */
  readonly chatTemplateFile: string | null;
  /** The largest token id tokenizer.json can produce (its vocabulary and added tokens). */
  readonly maxTokenId: number;
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

const isSide = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** { height, width } from a positive int or a dict with positive int height/width, else null. */
function hw(value: unknown): { height: number; width: number } | null {
  if (isSide(value)) return { height: value, width: value };
  if (value && typeof value === 'object') {
    const { height, width } = value as { height?: unknown; width?: unknown };
    if (isSide(height) && isSide(width)) return { height, width };
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
    if (isSide(size) && type === 'CLIPImageProcessor') resize = { shortestEdge: size };
    else if (size && typeof size === 'object' && isSide((size as Json)['shortest_edge']) && (size as Json)['longest_edge'] === undefined) {
      resize = { shortestEdge: (size as Json)['shortest_edge'] as number };
    } else resize = hw(size);
    if (!resize) return null;
  }
  const crop = config['do_center_crop'] ? hw(config['crop_size']) : null;
  if (config['do_center_crop'] && !crop) return null;
  const resample = typeof config['resample'] === 'number' ? (config['resample'] as number) : PIL_BICUBIC;
  return { resize, crop, resample };
}


/** Image processors our own code implements (transformers.js has no LlavaNextImageProcessor). */
const OWN_PROCESSORS = new Set(['LlavaNextImageProcessor']);

/**
 * image_processor_type, when given, must name a real image processor class: an unknown one
 * ("Foo", 42, null, the base "ImageProcessor") would silently get transformers.js's generic
 * processor, whose resize is not the model's, as Python's AutoImageProcessor would refuse it.
 */
function checkProcessorType(value: unknown, where: string): void {
  if (value === undefined) return;
  const name = typeof value === 'string' ? value.replace(/Fast$/, '') : '';
  const Base = transformers.ImageProcessor as unknown as abstract new (...args: never[]) => unknown;
  const cls = (transformers as unknown as Record<string, unknown>)[name];
  const known = OWN_PROCESSORS.has(name) || (typeof cls === 'function' && cls.prototype instanceof Base);
  if (!known) throw new PreprocessError(`${where}: preprocessor_config.json image_processor_type is ${quoteValue(value, 120)}; it must name an image processor class (CLIPImageProcessor, SiglipImageProcessor, LlavaNextImageProcessor, LlavaOnevisionImageProcessor, Idefics3ImageProcessor, …)`);
}

/**
 * LLaVA (model_type "llava") feeds the processor's output to the tower as it is: it must be
 * exactly vision_config.image_size square, or the patch count would not match the position
 * embeddings (the tiling families check their tile against the tower themselves).
 */
function checkTowerInput(c: Json, imageSize: { height: number; width: number } | null, modelConfig: Json, where: string): void {
  if (modelConfig['model_type'] !== 'llava') return;
  const side = (modelConfig['vision_config'] as Json | undefined)?.['image_size'];
  if (typeof side !== 'number') return;
  if (imageSize && imageSize.height === side && imageSize.width === side) return;
  const field = c['do_center_crop'] ? 'crop_size' : c['do_resize'] === false ? 'do_resize' : 'size';
  const why = field === 'do_resize' ? 'do_resize false without a centre crop' : `${field} ${quoteValue(c[field], 120)}${c['do_center_crop'] ? '' : ' without a centre crop'}`;
  const got = imageSize ? `${imageSize.width}×${imageSize.height} images` : `images of varying size (${why})`;
  throw new PreprocessError(`${where}: preprocessor_config.json ${field} makes ${got}, but the vision tower takes ${side}×${side} (config.json vision_config.image_size)`);
}

/**
 * Idefics3 / SmolVLM: `size` must give longest_edge (Python refuses a size without it), and the
 * tile grid the largest image can be split into must have its <row_i_col_j> tags in the
 * tokenizer; otherwise (size.longest_edge 4096 with 32-px tiles: 128 × 128 tiles) the first
 * image would be resized and cut into thousands of tiles before failing on a missing tag.
 */
function checkIdefics3Tiles(c: Json, modelConfig: Json, hasToken: (t: string) => boolean, where: string): void {
  const type = String(c['image_processor_type'] ?? '').replace(/Fast$/, '');
  if (type !== 'Idefics3ImageProcessor' && modelConfig['model_type'] !== 'idefics3') return;
  const size = c['size'] as Json | undefined;
  if (size !== undefined && size !== null && (typeof size !== 'object' || size['longest_edge'] === undefined)) {
    throw new PreprocessError(`${where}: preprocessor_config.json size is ${quoteValue(size, 120)}; Idefics3ImageProcessor needs { "longest_edge": pixels }`);
  }
  if (c['do_image_splitting'] === false) return;
  const tower = (modelConfig['vision_config'] as Json | undefined)?.['image_size'];
  const tile = ((c['max_image_size'] as Json | undefined)?.['longest_edge'] ?? tower ?? 364) as number;
  const longest = Math.min((size?.['longest_edge'] ?? 4 * 364) as number, 4096);
  const grid = Math.ceil(longest / tile);
  if (grid <= 1) return;
  for (let r = 1; r <= grid; r++) {
    for (let col = 1; col <= grid; col++) {
      const tag = `<row_${r}_col_${col}>`;
      if (!hasToken(tag)) {
        throw new PreprocessError(
          `${where}: preprocessor_config.json size.longest_edge ${longest} splits images into up to ${grid}×${grid} tiles of ${tile} px (max_image_size.longest_edge), but tokenizer.json has no "${tag}" token for them; size.longest_edge must be at most ${(Math.max(r, col) - 1) * tile} here`,
        );
      }
    }
  }
}

function countOccurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Largest id in a tokenizer.json vocabulary and added_tokens; refuses ids that are not integers ≥ 0. */
function tokenizerIdRange(json: Json, where: string): number {
  const fail = (field: string, value: unknown, why: string): never => {
    const shown = JSON.stringify(value) ?? String(value);
    throw new PreprocessError(`${where}: tokenizer.json ${field} is ${shown.length > 120 ? `${shown.slice(0, 120)}…` : shown}: ${why}`);
  };
  const checkId = (field: string, id: unknown): number => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= 2 ** 31) fail(field, id, 'token ids must be integers from 0 to 2³¹ − 1');
    return id as number;
  };
  let max = -1;
  const model = json['model'];
  if (!model || typeof model !== 'object' || Array.isArray(model)) fail('model', model, 'it must be an object with the vocabulary');
  const vocab = (model as Json)['vocab'];
  if (Array.isArray(vocab)) {
    // Unigram: [[piece, score], …], the id is the index.
    vocab.forEach((entry, i) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') fail(`model.vocab[${i}]`, entry, 'Unigram vocabulary entries must be [piece, score]');
    });
    max = vocab.length - 1;
  } else if (vocab && typeof vocab === 'object') {
    for (const [token, id] of Object.entries(vocab as Json)) max = Math.max(max, checkId(`model.vocab[${JSON.stringify(token)}]`, id));
  } else fail('model.vocab', vocab, 'it must be an object of token → id (or a Unigram list)');
  const added = json['added_tokens'];
  if (added !== undefined && added !== null) {
    if (!Array.isArray(added)) fail('added_tokens', added, 'it must be a list');
    (added as unknown[]).forEach((t, i) => {
      // An empty content can never be matched in text, and splitting on it is ill-defined.
      if (!t || typeof t !== 'object' || typeof (t as Json)['content'] !== 'string' || (t as Json)['content'] === '') fail(`added_tokens[${i}]`, t, 'added tokens need a non-empty string "content"');
      max = Math.max(max, checkId(`added_tokens[${i}].id`, (t as Json)['id']));
    });
  }
  if (max < 0) fail('model.vocab', vocab, 'the vocabulary is empty');
  return max;
}


/** The tokenizer.json parts transformers.js builds from a `type`, and the list each Sequence of them keeps its children in. */
const TOKENIZER_PARTS = { normalizer: 'normalizers', pre_tokenizer: 'pretokenizers', decoder: 'decoders', post_processor: 'processors' } as const;
/** How deep a part may nest Sequences (real tokenizers nest two or three). */
const MAX_PART_DEPTH = 32;
/** Fields of the parts that hold text; anything else there is a broken file. */
const TEXT_FIELDS = ['content', 'prepend', 'replacement', 'String', 'Regex', 'behavior', 'type'] as const;
/** Model types transformers.js (and Python tokenizers) build; absent means "infer from the vocabulary". */
const MODEL_TYPES = ['BPE', 'WordPiece', 'Unigram', 'WordLevel'];

/**
 * Whether a regular expression repeats a group that itself repeats or alternates ((x+)+, (a|aa)*,
 * (.*a){30}): the shapes that make a backtracking engine take exponential (or huge polynomial)
 * time on a prompt that does not match. JavaScript has no regex time limit, so a tokenizer with
 * one would hang the worker on the first long prompt; real pre-tokenizer patterns (GPT-2, Llama 3,
 * Qwen2) only repeat character classes. Scans the source without compiling it: escapes and
 * character classes are skipped, groups tracked on a stack.
 */
export function nestedRepetition(pattern: string): boolean {
  // Per open group: whether its body repeats or alternates.
  const stack: boolean[] = [];
  let lastGroupRisky = false; // the group that just closed (a quantifier right after applies to it)
  let afterGroup = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    const quantifier = (): { max: number } | null => {
      if (ch === '*' || ch === '+') return { max: Infinity };
      if (ch === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
        if (m) return { max: m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]) };
      }
      return null;
    };
    const q = quantifier();
    if (q) {
      if (afterGroup && lastGroupRisky && q.max > 1) return true;
      if (q.max === Infinity && stack.length) stack[stack.length - 1] = true;
      // A repeated group makes the enclosing group's body repeat too.
      if (afterGroup && q.max > 1 && stack.length) stack[stack.length - 1] = true;
      afterGroup = false;
      continue;
    }
    afterGroup = false;
    if (ch === '\\') {
      // \p{L}, \u{…}, \x41: the braces belong to the escape, not a quantifier.
      if ((pattern[i + 1] === 'p' || pattern[i + 1] === 'P' || pattern[i + 1] === 'u') && pattern[i + 2] === '{') i = Math.max(i + 1, pattern.indexOf('}', i));
      else i++;
    } else if (ch === '[') {
      // Skip the class: ']' right after '[' or '[^' is literal.
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      for (; j < pattern.length && pattern[j] !== ']'; j++) if (pattern[j] === '\\') j++;
      i = j;
    } else if (ch === '(') {
      stack.push(false);
    } else if (ch === ')') {
      lastGroupRisky = stack.pop() ?? false;
      afterGroup = true;
      // The group's repetition inside counts for the enclosing group as well.
      if (lastGroupRisky && stack.length) stack[stack.length - 1] = true;
    } else if (ch === '|' && stack.length) {
      stack[stack.length - 1] = true;
    }
  }
  return false;
}

/**
 * The shape of tokenizer.json beyond its ids (issue 25 item 10): model.type and model.merges,
 * and the normalizer / pre_tokenizer / decoder / post_processor trees (objects with a string
 * `type`, Sequences of them as lists, text fields as strings, patterns as { String } or
 * { Regex } without nested repetition, at most MAX_PART_DEPTH deep). transformers.js would
 * otherwise fail with "x.split is not a function", skip a null part, or hang on a pattern.
 */
function checkTokenizerShape(json: Json, where: string): string[] {
  const regexes: string[] = [];
  const fail = (field: string, value: unknown, why: string): never => {
    throw new PreprocessError(`${where}: tokenizer.json ${field} is ${quoteValue(value, 120)}: ${why}`);
  };
  const model = json['model'] as Json;
  const type = model['type'];
  if (type !== undefined && (typeof type !== 'string' || !MODEL_TYPES.includes(type))) fail('model.type', type, `it must be one of ${MODEL_TYPES.join(', ')} (or absent)`);
  const merges = model['merges'];
  if (merges !== undefined && merges !== null) {
    if (!Array.isArray(merges)) fail('model.merges', merges, 'it must be a list of "a b" strings or [a, b] pairs');
    (merges as unknown[]).forEach((m, i) => {
      const ok = typeof m === 'string' ? m.includes(' ') : Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string';
      if (!ok) fail(`model.merges[${i}]`, m, 'each merge must be a "a b" string or an [a, b] pair of strings');
    });
  }
  const walk = (node: unknown, path: string, list: string, depth: number): void => {
    if (depth > MAX_PART_DEPTH) fail(path, '…', `it is nested more than ${MAX_PART_DEPTH} deep`);
    if (!node || typeof node !== 'object' || Array.isArray(node)) fail(path, node, 'it must be an object with a string "type" (or null for none at the top)');
    const n = node as Json;
    if (typeof n['type'] !== 'string') fail(`${path}.type`, n['type'], 'it must be a string');
    for (const key of TEXT_FIELDS) if (n[key] !== undefined && typeof n[key] !== 'string') fail(`${path}.${key}`, n[key], 'it must be a string');
    const pattern = n['pattern'];
    if (pattern !== undefined) {
      const p = pattern as Json;
      const ok = p && typeof p === 'object' && !Array.isArray(p) && (typeof p['String'] === 'string' || typeof p['Regex'] === 'string');
      if (!ok) fail(`${path}.pattern`, pattern, 'it must be { "String": text } or { "Regex": pattern }');
      if (typeof p['Regex'] === 'string' && nestedRepetition(p['Regex'])) {
        fail(`${path}.pattern.Regex`, p['Regex'], 'it repeats a group that repeats or alternates ((x+)+, (a|aa)*), which can take exponential time on a prompt');
      }
      if (typeof p['Regex'] === 'string') regexes.push(`${path}.pattern.Regex ${quoteValue(p['Regex'], 120)}`);
    }
    for (const key of ['single', 'pair'] as const) if (n[key] !== undefined && !Array.isArray(n[key])) fail(`${path}.${key}`, n[key], 'it must be a list');
    const children = n[list];
    if (n['type'] === 'Sequence' || children !== undefined) {
      if (!Array.isArray(children)) fail(`${path}.${list}`, children, 'a Sequence needs a list');
      (children as unknown[]).forEach((c, i) => walk(c, `${path}.${list}[${i}]`, list, depth + 1));
    }
  };
  for (const [part, list] of Object.entries(TOKENIZER_PARTS)) {
    const node = json[part];
    if (node !== undefined && node !== null) walk(node, part, list, 1);
  }
  return regexes;
}

/** Special-token fields (tokenizer_config.json, special_tokens_map.json): a string, { content: string }, or null. */
function checkSpecialTokens(config: Json | null, file: string, where: string): void {
  if (!config) return;
  for (const key of SPECIAL_KEYS) {
    const v = config[key];
    if (v === undefined || v === null || tokenString(v) !== undefined) continue;
    throw new PreprocessError(`${where}: ${file} ${key} is ${quoteValue(v, 120)}; it must be a token string, an { "content": string } object, or null`);
  }
}

/** tokenizer_config.json switches: JSON booleans (or null), since "false" would read as true. */
const TOKENIZER_SWITCHES = ['add_bos_token', 'add_eos_token', 'add_prefix_space', 'legacy', 'clean_up_tokenization_spaces', 'split_special_tokens', 'do_lower_case'] as const;

function checkTokenizerSwitches(config: Json | null, where: string): void {
  for (const key of TOKENIZER_SWITCHES) {
    const v = config?.[key];
    if (v !== undefined && v !== null && typeof v !== 'boolean') throw new PreprocessError(`${where}: tokenizer_config.json ${key} is ${quoteValue(v, 120)}; it must be true or false`);
  }
}

/** A chat_template of tokenizer_config.json: a string or a list of { name, template } strings (checked even when chat_template.* wins). */
function checkTokenizerConfigTemplate(value: unknown, where: string): void {
  if (value === undefined || value === null || typeof value === 'string') return;
  const ok = Array.isArray(value) && value.every((x) => x && typeof x === 'object' && typeof (x as Json)['name'] === 'string' && typeof (x as Json)['template'] === 'string');
  if (!ok) throw new PreprocessError(`${where}: tokenizer_config.json chat_template is ${quoteValue(value, 120)}; it must be a template string or a list of { "name": string, "template": string }`);
}

/** generation_config.json's single token ids: an integer the tokenizer can produce, or null/absent. */
function checkGenerationIds(config: Json, maxTokenId: number, where: string): void {
  for (const key of ['bos_token_id', 'pad_token_id', 'decoder_start_token_id'] as const) {
    const v = config[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > maxTokenId) {
      throw new PreprocessError(`${where}: generation_config.json ${key} is ${quoteValue(v, 120)}; it must be a token id (an integer from 0 to ${maxTokenId}) or null`);
    }
  }
}

/**
 * transformers.js's "Unknown X type" errors name its class, and its regex errors ("Unterminated
 * character class at index 1") name no field: say which part of tokenizer.json it is.
 */
function tokenizerPartHint(message: string, regexes: readonly string[]): string {
  if (regexes.length && /regular expression|character class|at index \d|group|quantifier|escape|lookbehind|range out of order/i.test(message)) {
    return ` (in a regular expression of tokenizer.json: ${regexes.join('; ')})`;
  }
  const m = /Unknown (Normalizer|PreTokenizer|PostProcessor|Decoder|TokenizerModel) type/.exec(message);
  if (!m) return '';
  const part = { Normalizer: 'normalizer', PreTokenizer: 'pre_tokenizer', PostProcessor: 'post_processor', Decoder: 'decoder', TokenizerModel: 'model' }[m[1] as 'Normalizer'];
  return ` (tokenizer.json ${part}.type)`;
}

/** The longest piece of tokenizer.json (vocabulary and added tokens), in characters: no token covers more text (bar a normalizer that shrinks it). */
function longestPiece(json: Json): number {
  let n = 1;
  const vocab = (json['model'] as Json)['vocab'];
  if (Array.isArray(vocab)) for (const e of vocab) n = Math.max(n, String((e as unknown[])[0]).length);
  else for (const k of Object.keys(vocab as Json)) n = Math.max(n, k.length);
  for (const t of (json['added_tokens'] as Json[] | undefined) ?? []) n = Math.max(n, String(t['content']).length);
  return n;
}

/**
 * The ids that end generation: generation_config.json's eos_token_id (an id or a non-empty list
 * of ids), else the tokenizer's eos token. A string ("2"), an empty list, a negative or
 * fractional id, or an id the tokenizer cannot produce is refused: generation would never stop
 * at EOS. With neither (no EOS anywhere) the list is empty and generation runs to its token
 * limit or a stop string.
 */
function eosIds(fromGeneration: unknown, fromTokenizer: unknown, maxTokenId: number, where: string): number[] {
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= maxTokenId;
  if (fromGeneration !== undefined && fromGeneration !== null) {
    const list = Array.isArray(fromGeneration) ? fromGeneration : [fromGeneration];
    if (list.length === 0 || !list.every(ok)) {
      throw new PreprocessError(
        `${where}: generation_config.json eos_token_id is ${JSON.stringify(fromGeneration)}; it must be a token id (an integer from 0 to ${maxTokenId}) or a non-empty list of them, or generation would never stop at EOS`,
      );
    }
    return [...new Set(list)];
  }
  return ok(fromTokenizer) ? [fromTokenizer] : [];
}

/**
 * The chat template and the file it came from: chat_template.jinja, else chat_template.json's
 * chat_template, else tokenizer_config.json's chat_template (a string, or a list of named
 * templates, of which transformers.js uses "default"). Compiled here, so a syntax error is
 * refused at load naming the file.
 */
function pickChatTemplate(
  jinja: string | null,
  json: { chat_template?: unknown } | null,
  tokenizerConfig: Json,
  where: string,
): { source: string; file: string; compiled: CompiledTemplate } | null {
  let source: string | null = null;
  let file = '';
  if (jinja !== null) {
    source = jinja;
    file = 'chat_template.jinja';
  } else if (json && json.chat_template !== undefined && json.chat_template !== null) {
    if (typeof json.chat_template !== 'string') throw new PreprocessError(`${where}: chat_template.json chat_template must be a string, got ${typeof json.chat_template}`);
    source = json.chat_template;
    file = 'chat_template.json';
  } else {
    const t = tokenizerConfig['chat_template'];
    file = 'tokenizer_config.json';
    if (typeof t === 'string') source = t;
    else if (Array.isArray(t)) {
      const named = t.find((x) => x && typeof x === 'object' && (x as Json)['name'] === 'default');
      const template = named ? (named as Json)['template'] : undefined;
      if (typeof template !== 'string') throw new PreprocessError(`${where}: tokenizer_config.json chat_template is a list of named templates without a "default" one (a string "template")`);
      source = template;
    } else if (t !== undefined && t !== null) {
      throw new PreprocessError(`${where}: tokenizer_config.json chat_template must be a string or a list of { name, template }, got ${typeof t}`);
    }
  }
  if (source === null) return null;
  try {
    return { source, file, compiled: compileTemplate(source) };
  } catch (e) {
    throw new PreprocessError(`${where}: the chat template in ${file} does not compile: ${errorText(e)}`);
  }
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
  const where = source.description;
  const files: Record<string, unknown> = {
    'tokenizer.json': tokenizerJson, 'tokenizer_config.json': tokenizerConfigRaw, 'special_tokens_map.json': specialMap,
    'chat_template.json': templateJson, 'preprocessor_config.json': imageConfig, 'processor_config.json': processorConfigRaw,
    'generation_config.json': generationConfigRaw, 'config.json': modelConfigRaw,
  };
  for (const [file, value] of Object.entries(files)) {
    if (value !== null && (typeof value !== 'object' || Array.isArray(value))) {
      throw new PreprocessError(`${where}: ${file} must hold a JSON object, not ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
    }
  }
  if (!tokenizerJson) throw new PreprocessError(`${where} has no tokenizer.json (only "fast" tokenizers are supported)`);
  const processorConfig = processorConfigRaw ?? {};
  const generationConfig = generationConfigRaw ?? {};
  const modelConfig = modelConfigRaw ?? {};
  const tokenizerConfig = normaliseTokenizerConfig(tokenizerConfigRaw ?? {}, specialMap);
  const maxTokenId = tokenizerIdRange(tokenizerJson, where);
  const regexes = checkTokenizerShape(tokenizerJson, where);
  checkSpecialTokens(tokenizerConfigRaw, 'tokenizer_config.json', where);
  checkTokenizerSwitches(tokenizerConfigRaw, where);
  checkSpecialTokens(specialMap, 'special_tokens_map.json', where);
  checkTokenizerConfigTemplate(tokenizerConfigRaw?.['chat_template'], where);
  checkGenerationIds(generationConfig, maxTokenId, where);

  const Tokenizer = tokenizerClass(tokenizerConfig['tokenizer_class']);
  let tokenizer: PreTrainedTokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  } catch (e) {
    throw new PreprocessError(`${where}: tokenizer.json (with tokenizer_config.json) cannot be used: ${errorText(e)}${tokenizerPartHint(errorText(e), regexes)}`);
  }

  // The processor's template (chat_template.jinja, else chat_template.json) is the multimodal
  // one Python's processor.apply_chat_template uses; the tokenizer's is the fallback.
  const template = pickChatTemplate(templateJinja, templateJson, tokenizerConfigRaw ?? {}, where);
  const chatTemplate = template?.source ?? null;
  const chatTemplateFile = template?.file ?? null;
  // The variables transformers.js's apply_chat_template gives the template: the special tokens as strings.
  const templateVariables: Record<string, unknown> = { tools: null, documents: null };
  for (const key of SPECIAL_KEYS) {
    const value = tokenizerConfig[key];
    if (typeof value === 'string' && value) templateVariables[key] = value;
  }

  const imageTokenRaw = processorConfig['image_token'] ?? '<image>';
  if (typeof imageTokenRaw !== 'string' || !imageTokenRaw) throw new PreprocessError(`${where}: processor_config.json image_token is ${JSON.stringify(imageTokenRaw)}; it must be a non-empty string`);
  const imageToken = imageTokenRaw;
  const imageTokenId = tokenizer.convert_tokens_to_ids(imageToken) as number | null | undefined;
  if (typeof imageTokenId !== 'number' || imageTokenId === tokenizer.unk_token_id) {
    const from = processorConfig['image_token'] !== undefined ? ` (processor_config.json image_token ${quoteValue(imageToken, 120)})` : '';
    throw new PreprocessError(`${where}: tokenizer.json has no "${imageToken}" token${from}`);
  }
  const configImageId = modelConfig['image_token_index'] ?? modelConfig['image_token_id'];
  if (typeof configImageId === 'number' && configImageId !== imageTokenId) {
    // LLaVA-style configs say image_token_index, Idefics3's image_token_id: name the one it has.
    const key = 'image_token_index' in modelConfig ? 'image_token_index' : 'image_token_id';
    throw new PreprocessError(`${where}: config.json ${key} ${configImageId} is not the tokenizer's "${imageToken}" (${imageTokenId})`);
  }
  const eosTokenIds = eosIds(generationConfig['eos_token_id'], tokenizer.eos_token_id, maxTokenId, where);
  const numberOr = (...values: unknown[]) => (values.find((v) => typeof v === 'number') as number | undefined) ?? null;
  const bosTokenId = numberOr(tokenizer.bos_token_id, generationConfig['bos_token_id']);
  const padTokenId = numberOr(generationConfig['pad_token_id'], tokenizer.pad_token_id, modelConfig['pad_token_id']);

  // Image side.
  let processor: ImageProcessorInstance | null = null;
  let plan: ReturnType<typeof pilPlan> = null;
  let imageSize: { height: number; width: number } | null = null;
  if (imageConfig) {
    try {
      checkImageProcessorConfig(imageConfig);
    } catch (e) {
      throw new PreprocessError(`${where}: ${errorText(e)}`);
    }
    checkProcessorType(imageConfig['image_processor_type'], where);
    plan = options.resize === 'transformers' ? null : pilPlan(imageConfig);
    const { Cls } = imageProcessorClass(imageConfig);
    try {
      processor = new Cls(plan ? { ...imageConfig, do_resize: false, do_center_crop: false } : imageConfig);
    } catch (e) {
      throw new PreprocessError(`${where}: preprocessor_config.json cannot be used: ${errorText(e)}`);
    }
    // Without a crop and without a resize, every image keeps its own size.
    imageSize = imageConfig['do_center_crop'] ? hw(imageConfig['crop_size']) : imageConfig['do_resize'] === false ? null : hw(imageConfig['size']);
    checkTowerInput(imageConfig, imageSize, modelConfig, where);
    checkIdefics3Tiles(imageConfig, modelConfig, (t) => {
      const id = tokenizer.convert_tokens_to_ids(t) as number | null | undefined;
      return typeof id === 'number' && id !== tokenizer.unk_token_id;
    }, where);
  }
  const seqLen = processorConfig['image_seq_len'];
  if (seqLen !== undefined && seqLen !== null && (typeof seqLen !== 'number' || !Number.isInteger(seqLen) || seqLen < 1 || seqLen > 1 << 16)) {
    throw new PreprocessError(`${where}: processor_config.json image_seq_len is ${quoteValue(seqLen, 120)}; it must be an integer from 1 to ${1 << 16} (tokens per image frame)`);
  }
  for (const field of ['patch_size', 'num_additional_image_tokens'] as const) {
    const v = processorConfig[field];
    const min = field === 'patch_size' ? 1 : 0;
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 1024)) {
      throw new PreprocessError(`${where}: processor_config.json ${field} is ${JSON.stringify(v)}; it must be an integer from ${min} to 1024`);
    }
  }
  const visionConfig = (modelConfig['vision_config'] ?? {}) as Json;
  const patchSize = numberOr(processorConfig['patch_size'], visionConfig['patch_size']);
  const strategy = String(processorConfig['vision_feature_select_strategy'] ?? modelConfig['vision_feature_select_strategy'] ?? 'default');
  const numAdditional = numberOr(processorConfig['num_additional_image_tokens']) ?? 1;
  const imageTokenCount =
    imageSize && patchSize && Number.isInteger(patchSize) && patchSize > 0
      ? llavaImageTokenCount({ height: imageSize.height, width: imageSize.width, patchSize, numAdditionalImageTokens: numAdditional, strategy })
      : null;

  /** Token ids and the runs of image-token ids in them. */
  const tokenize = (text: string): { inputIds: Uint32Array; imageRuns: { start: number; end: number }[] } => {
    if (typeof text !== 'string') throw new PreprocessError(`the text to tokenize must be a string, got ${text === null ? 'null' : typeof text}`);
    let ids: number[];
    try {
      ids = tokenizer.encode(text);
    } catch (e) {
      throw new PreprocessError(`${where}: tokenizer.json failed on the prompt: ${errorText(e)}`);
    }
    const imageRuns: { start: number; end: number }[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id > maxTokenId) {
        throw new PreprocessError(`${where}: tokenizer.json produced the token id ${String(id)} at position ${i}; ids must be integers from 0 to ${maxTokenId}`);
      }
      if (id !== imageTokenId) continue;
      const start = i;
      while (i < ids.length && ids[i] === imageTokenId) i++;
      imageRuns.push({ start, end: i });
      i--;
    }
    return { inputIds: Uint32Array.from(ids), imageRuns };
  };

  const render = (question: string, hasImage: boolean): string => {
    if (!template) return `USER: ${hasImage ? `${imageToken}\n` : ''}${question} ASSISTANT:`;
    const content = [...(hasImage ? [{ type: 'image' }] : []), { type: 'text', text: question }];
    try {
      return renderTemplate(template.compiled, { ...templateVariables, messages: [{ role: 'user', content }], add_generation_prompt: true });
    } catch (e) {
      throw new PreprocessError(`${where}: the chat template in ${template.file} failed: ${errorText(e)}`);
    }
  };
  // Render once now, so a template that fails or runs away is refused at load, not at the first question.
  const PROBE_QUESTION = 'Describe the image.';
  const probe = render(PROBE_QUESTION, true);
  const probeImages = countOccurrences(probe, imageToken);
  if (probeImages !== 1) {
    const what = probeImages === 0 ? 'drops the image' : `writes the image ${probeImages} times`;
    throw new PreprocessError(`${where}: the chat template in ${template?.file} ${what}: its prompt for one image and a question must hold "${imageToken}" exactly once`);
  }
  // A template that leaves out the user's text would answer every question alike.
  if (!probe.includes(PROBE_QUESTION)) {
    throw new PreprocessError(`${where}: the chat template in ${template?.file} drops the question: its prompt for an image and the question ${JSON.stringify(PROBE_QUESTION)} does not contain the question`);
  }
  // Same for the tokenizer: encode and decode a prompt like a real one.
  // A template whose one-question prompt (before the image is expanded) already fills the
  // context can never answer; say so now, naming the template, not at every question. A prompt
  // far longer than the context could hold even in the longest pieces is refused before
  // tokenizing it (hundreds of thousands of characters take seconds).
  const textConfig = (modelConfig['text_config'] ?? modelConfig) as Json;
  const positions = textConfig['max_position_embeddings'] ?? modelConfig['max_position_embeddings'];
  const tooLong = (what: string) =>
    new PreprocessError(`${where}: the chat template in ${template?.file ?? '(the built-in fallback)'} renders ${what} for a one-line question, but the model has ${positions} positions (config.json max_position_embeddings)`);
  if (typeof positions === 'number' && probe.length > 4 * positions * longestPiece(tokenizerJson)) throw tooLong(`${probe.length} characters (far more than ${positions} tokens hold)`);
  const probed = tokenize(probe);
  const probeTokens = probed.inputIds.length;
  if (typeof positions === 'number' && probeTokens >= positions) throw tooLong(`${probeTokens} tokens`);
  // The image placeholder must stay one token per copy, alone or in the runs the families
  // expand it to; an added_tokens entry with normalized / single_word / strip flags can merge
  // or drop copies, and the image's features would then not fit its tokens.
  const RUN = 8;
  const inProbe = probed.imageRuns.reduce((n, r) => n + r.end - r.start, 0);
  const inRun = tokenize(`a${imageToken.repeat(RUN)}b`).imageRuns.reduce((n, r) => n + r.end - r.start, 0);
  if (inProbe !== 1 || inRun !== RUN) {
    throw new PreprocessError(
      `${where}: tokenizer.json does not keep "${imageToken}" as one token per copy: the template's one "${imageToken}" gives ${inProbe} image token(s) and ${RUN} copies in a row give ${inRun} (check its added_tokens entry: normalized, single_word, lstrip, rstrip)`,
    );
  }
  try {
    tokenizer.decode(tokenizer.encode('Describe the image.'), { skip_special_tokens: true });
  } catch (e) {
    throw new PreprocessError(`${where}: tokenizer.json cannot decode: ${errorText(e)}`);
  }

  return {
    imageToken,
    imageTokenId,
    eosTokenIds,
    bosTokenId,
    padTokenId,
    imageSize,
    imageTokenCount,
    chatTemplate,
    chatTemplateFile,
    maxTokenId,
    tokenizer,

    buildPrompt(question, o) {
      if (typeof question !== 'string') throw new PreprocessError(`the question must be a string, got ${question === null ? 'null' : typeof question}`);
      return render(question, Boolean(o?.hasImage));
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
      const given = `${img.width}×${img.height}`;
      if (plan) {
        let { data, width, height } = img;
        let pixels: Uint8ClampedArray = data as Uint8ClampedArray;
        if (plan.resize) {
          const target = 'shortestEdge' in plan.resize ? shortestEdgeSize(width, height, plan.resize.shortestEdge) : plan.resize;
          if (target.width * target.height > MAX_INPUT_PIXELS) {
            throw new PreprocessError(`a ${width}×${height} image resized to preprocessor_config.json's shortest edge ${(plan.resize as { shortestEdge: number }).shortestEdge} would be ${target.width}×${target.height} pixels (at most ${MAX_INPUT_PIXELS}): its aspect ratio is too extreme`);
          }
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
      // The load-time checks fix the output size for LLaVA; anything else is the processor's own doing, named here rather than as a buffer-size error in the tower.
      if (imageSize && (height !== imageSize.height || width !== imageSize.width)) {
        throw new PreprocessError(`${where}: preprocessor_config.json made a ${width}×${height} image from a ${given} one; its settings promise ${imageSize.width}×${imageSize.height}`);
      }
      return { pixelValues: Float32Array.from(pixel_values.data), height, width };
    },

    decode(ids, o = {}) {
      if (!ids || typeof ids.length !== 'number') throw new PreprocessError(`decode takes a list of token ids, got ${ids === null ? 'null' : typeof ids}`);
      if (ids.length === 0) return ''; // transformers.js throws on an empty list
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new PreprocessError(`decode: token id ${String(id)} at index ${i} is not an integer ≥ 0`);
      }
      try {
        return tokenizer.decode([...ids], { skip_special_tokens: o.skipSpecialTokens ?? true });
      } catch (e) {
        throw new PreprocessError(`${where}: tokenizer.json cannot decode [${ids.slice(0, 8).join(', ')}${ids.length > 8 ? ', …' : ''}]: ${errorText(e)}`);
      }
    },
  };
}
