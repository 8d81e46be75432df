/**
 * Text and image preprocessing through @huggingface/transformers: the model's own tokenizer,
 * chat template and image processor, constructed from files our loader reads (any source:
 * Hub, URL, folder, memory), so transformers.js never downloads anything itself.
 */
import * as transformers from '@huggingface/transformers';
import { PreTrainedTokenizer, RawImage, env } from '@huggingface/transformers';
import { readJson, readJsonIfPresent, type ModelSource } from '../load/source';

/** Where the page serves onnxruntime-web's wasm files (transformers.js must not use a CDN). */
export const ORT_WASM_PATH = '/ort/';

env.allowRemoteModels = false;
env.allowLocalModels = false;
const onnxEnv = (env as { backends?: { onnx?: { wasm?: { wasmPaths?: string } } } }).backends?.onnx;
if (onnxEnv?.wasm && typeof location !== 'undefined') onnxEnv.wasm.wasmPaths = ORT_WASM_PATH;

/** An image as RGBA/RGB bytes (what a canvas gives), a transformers.js RawImage, or an encoded file. */
export type ImageInput = RawImage | { data: Uint8ClampedArray | Uint8Array; width: number; height: number; channels?: 1 | 3 | 4 } | Blob;

export interface EncodedPrompt {
  inputIds: Uint32Array;
  /** Runs of image tokens, located from the ids. */
  imageSpans: { start: number; end: number }[];
}

export interface Preprocessor {
  readonly imageTokenId: number;
  readonly eosTokenIds: number[];
  readonly bosTokenId: number | null;
  /** The chat-templated prompt for one user turn (image first, then the question). */
  buildPrompt(question: string, o: { hasImage: boolean }): string;
  /** Tokenize, expanding each image placeholder to `imageTokenCount` image tokens. */
  encode(prompt: string, o: { imageTokenCount: number }): EncodedPrompt;
  /** CHW f32 pixel values of the processor's output size. */
  preprocessImage(image: ImageInput): Promise<{ pixelValues: Float32Array; height: number; width: number }>;
  decode(ids: readonly number[]): string;
}

type Json = Record<string, unknown>;
type ImageProcessorLike = (image: RawImage) => Promise<{ pixel_values: { data: Float32Array; dims: number[] } }>;

function tokenizerClass(name: unknown): typeof PreTrainedTokenizer {
  const n = typeof name === 'string' ? name.replace(/Fast$/, '') : '';
  const cls = (transformers as unknown as Record<string, unknown>)[n];
  return typeof cls === 'function' && cls.prototype instanceof PreTrainedTokenizer ? (cls as typeof PreTrainedTokenizer) : PreTrainedTokenizer;
}

function imageProcessor(config: Json): ImageProcessorLike {
  const name = String(config['image_processor_type'] ?? 'CLIPImageProcessor').replace(/Fast$/, '');
  const all = transformers as unknown as Record<string, new (c: Json) => ImageProcessorLike>;
  const Cls = all[name] ?? all['ImageProcessor'];
  if (!Cls) throw new Error(`image processor "${name}" is not available in @huggingface/transformers`);
  return new Cls(config);
}

async function toRawImage(image: ImageInput): Promise<RawImage> {
  if (image instanceof RawImage) return image;
  if (typeof Blob !== 'undefined' && image instanceof Blob) return RawImage.fromBlob(image);
  const { data, width, height } = image as { data: Uint8ClampedArray | Uint8Array; width: number; height: number; channels?: 1 | 3 | 4 };
  const channels = (image as { channels?: 1 | 3 | 4 }).channels ?? (data.length === width * height * 4 ? 4 : data.length === width * height * 3 ? 3 : 1);
  if (data.length !== width * height * channels) {
    throw new Error(`image data has ${data.length} values, expected ${width}×${height}×${channels}`);
  }
  if (channels === 3) return new RawImage(Uint8ClampedArray.from(data), width, height, 3);
  // Drop alpha (or expand grey) ourselves: RawImage's own RGBA path gave shifted pixels here.
  const rgb = new Uint8ClampedArray(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * channels + (channels === 1 ? 0 : c)]!;
  }
  return new RawImage(rgb, width, height, 3);
}

export async function loadPreprocessor(source: ModelSource, options: { signal?: AbortSignal } = {}): Promise<Preprocessor> {
  const { signal } = options;
  const tokenizerJson = await readJson<Json>(source, 'tokenizer.json', { signal });
  const tokenizerConfig = (await readJsonIfPresent<Json>(source, 'tokenizer_config.json', { signal })) ?? {};
  const chatTemplateFile = await readJsonIfPresent<{ chat_template?: string }>(source, 'chat_template.json', { signal });
  if (chatTemplateFile?.chat_template && !tokenizerConfig['chat_template']) tokenizerConfig['chat_template'] = chatTemplateFile.chat_template;
  const imageConfig = await readJsonIfPresent<Json>(source, 'preprocessor_config.json', { signal });
  const processorConfig = (await readJsonIfPresent<Json>(source, 'processor_config.json', { signal })) ?? {};
  const generationConfig = (await readJsonIfPresent<Json>(source, 'generation_config.json', { signal })) ?? {};

  const Tokenizer = tokenizerClass(tokenizerConfig['tokenizer_class']);
  const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  const imageToken = String(processorConfig['image_token'] ?? '<image>');
  const imageTokenId = tokenizer.convert_tokens_to_ids(imageToken) as number | undefined;
  if (typeof imageTokenId !== 'number' || imageTokenId === tokenizer.unk_token_id) throw new Error(`tokenizer.json has no "${imageToken}" token`);
  const eos = generationConfig['eos_token_id'] ?? tokenizer.eos_token_id;
  const eosTokenIds = (Array.isArray(eos) ? eos : [eos]).filter((x): x is number => typeof x === 'number');
  const processor = imageConfig ? imageProcessor(imageConfig) : null;
  const hasTemplate = Boolean(tokenizer.chat_template);

  return {
    imageTokenId,
    eosTokenIds,
    bosTokenId: tokenizer.bos_token_id ?? null,
    buildPrompt(question, o) {
      if (!hasTemplate) return `${o.hasImage ? `${imageToken}\n` : ''}${question}`;
      const content = [...(o.hasImage ? [{ type: 'image' }] : []), { type: 'text', text: question }];
      return tokenizer.apply_chat_template([{ role: 'user', content }] as never, { tokenize: false, add_generation_prompt: true }) as string;
    },
    encode(prompt, o) {
      const raw = tokenizer.encode(prompt);
      const ids: number[] = [];
      for (const id of raw) {
        if (id === imageTokenId) for (let i = 0; i < o.imageTokenCount; i++) ids.push(id);
        else ids.push(id);
      }
      const imageSpans: { start: number; end: number }[] = [];
      for (let i = 0; i < ids.length; i++) {
        if (ids[i] !== imageTokenId) continue;
        const start = i;
        while (i < ids.length && ids[i] === imageTokenId) i++;
        // Adjacent placeholders would merge into one run: split it by the per-image count.
        for (let s = start; s < i; s += o.imageTokenCount) imageSpans.push({ start: s, end: Math.min(s + o.imageTokenCount, i) });
      }
      return { inputIds: Uint32Array.from(ids), imageSpans };
    },
    async preprocessImage(image) {
      if (!processor) throw new Error(`${source.description} has no preprocessor_config.json: it cannot take images`);
      const raw = await toRawImage(image);
      const { pixel_values } = await processor(raw.rgb());
      const [, , height, width] = pixel_values.dims as [number, number, number, number];
      return { pixelValues: Float32Array.from(pixel_values.data), height, width };
    },
    decode(ids) {
      // transformers.js refuses an empty list; an answer that starts with EOS is empty text.
      return ids.length === 0 ? '' : tokenizer.decode([...ids], { skip_special_tokens: true });
    },
  };
}
