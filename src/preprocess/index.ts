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
      if (!t || typeof t !== 'object' || typeof (t as Json)['content'] !== 'string') fail(`added_tokens[${i}]`, t, 'added tokens need a string "content"');
      max = Math.max(max, checkId(`added_tokens[${i}].id`, (t as Json)['id']));
    });
  }
  if (max < 0) fail('model.vocab', vocab, 'the vocabulary is empty');
  return max;
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

  const Tokenizer = tokenizerClass(tokenizerConfig['tokenizer_class']);
  let tokenizer: PreTrainedTokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  } catch (e) {
    throw new PreprocessError(`${where}: tokenizer.json (with tokenizer_config.json) cannot be used: ${errorText(e)}`);
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
    throw new PreprocessError(`${where}: tokenizer.json has no "${imageToken}" token`);
  }
  const configImageId = modelConfig['image_token_index'] ?? modelConfig['image_token_id'];
  if (typeof configImageId === 'number' && configImageId !== imageTokenId) {
    throw new PreprocessError(`${where}: config.json image_token_index ${configImageId} is not the tokenizer's "${imageToken}" (${imageTokenId})`);
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
    plan = options.resize === 'transformers' ? null : pilPlan(imageConfig);
    const { Cls } = imageProcessorClass(imageConfig);
    try {
      processor = new Cls(plan ? { ...imageConfig, do_resize: false, do_center_crop: false } : imageConfig);
    } catch (e) {
      throw new PreprocessError(`${where}: preprocessor_config.json cannot be used: ${errorText(e)}`);
    }
    imageSize = imageConfig['do_center_crop'] ? hw(imageConfig['crop_size']) : hw(imageConfig['size']);
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
  const probe = render('Describe the image.', true);
  if (!probe.includes(imageToken)) {
    throw new PreprocessError(`${where}: the chat template in ${template?.file} drops the image: its prompt for an image and a question has no "${imageToken}"`);
  }
  // Same for the tokenizer: encode and decode a prompt like a real one.
  tokenize(probe);
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
