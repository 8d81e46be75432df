/**
 * Fuzz cases for generate requests: prompts, images and options a caller can pass. Each case
 * edits the arch's default question (a short prompt, a 40×32 RGB image, two new tokens) in one
 * way. Harmless variations of the same pixels (RGBA, a PNG Blob, a RawImage) must give the
 * default answer exactly; odd but legal values ('either') may run or be refused clearly.
 */
import { RawImage } from '@huggingface/transformers';
import type { GenerateRequest } from '../../../src/engine/engine';
import type { Rng } from '../../../src/util/random';
import { encodePng } from '../../png';
import { FUZZ_ARCHS, pick, type CaseGenerator, type Expectation, type FuzzArch, type FuzzCase, type FuzzEnv } from '../case';

type RawPixels = { data: Uint8ClampedArray; width: number; height: number; channels: 3 };
type Edit = (r: GenerateRequest, env: FuzzEnv) => GenerateRequest | Promise<GenerateRequest>;

/** The request is deliberately ill-typed in many cases: this is how they say so. */
const hostile = (v: unknown) => v as never;

function requestCase(arch: FuzzArch, name: string, expect: Expectation, mentions: readonly string[], edit: Edit, o: { sameAs?: boolean } = {}): FuzzCase {
  return {
    family: 'request',
    name: `${arch}: ${name}`,
    expect,
    mentions,
    async run(env) {
      // Edits may read the loaded model (its layers, its image token): load the arch's first.
      await env.ask(arch, { ...env.defaultRequest(arch), maxNewTokens: 1 });
      const request = await edit(env.defaultRequest(arch), env);
      const result = await env.ask(arch, request);
      return { result, sameAs: o.sameAs ? await env.baseAnswer(arch) : undefined };
    },
  };
}

const rawOf = (r: GenerateRequest) => r.image as RawPixels;

function withChannels(img: RawPixels, channels: 1 | 4): Uint8ClampedArray {
  const n = img.width * img.height;
  const out = new Uint8ClampedArray(n * channels);
  for (let i = 0; i < n; i++) {
    if (channels === 1) out[i] = img.data[i * 3]!;
    else {
      out.set(img.data.subarray(i * 3, i * 3 + 3), i * 4);
      out[i * 4 + 3] = (i * 37) & 255; // any alpha: it is dropped, not composited
    }
  }
  return out;
}

function solid(width: number, height: number, channels: 1 | 3 | 4, rng: Rng): { data: Uint8ClampedArray; width: number; height: number; channels: 1 | 3 | 4 } {
  const data = new Uint8ClampedArray(width * height * channels);
  const v = rng.int(0, 256);
  data.fill(v);
  // A few varied pixels so the image is not flat (cheap even for big images).
  for (let i = 0; i < Math.min(data.length, 4096); i++) data[i] = rng.int(0, 256);
  return { data, width, height, channels };
}

/** A PNG file's bytes whose IHDR says width×height, with a tiny (wrong) IDAT. */
function pngClaiming(width: number, height: number): Uint8Array {
  const png = encodePng(new Uint8Array(3), 1, 1);
  // Rewrite IHDR's width and height (bytes 16..24) and its CRC (bytes 29..33).
  const out = png.slice();
  const view = new DataView(out.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  view.setUint32(29, crc32(out.subarray(12, 29)));
  return out;
}

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

const blob = (bytes: Uint8Array, type = 'image/png') => new Blob([new Uint8Array(bytes)], { type });
const pngOf = (img: RawPixels) => encodePng(new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height);

/** Prompt variations: [name, expectation, mentions, prompt maker]. */
function promptCases(arch: FuzzArch, rng: Rng): (() => FuzzCase)[] {
  const p = (name: string, expect: Expectation, mentions: readonly string[], prompt: (env: FuzzEnv) => string, extra: Partial<GenerateRequest> = {}) => () =>
    requestCase(arch, `prompt: ${name}`, expect, mentions, (r, env) => ({ ...r, ...extra, prompt: prompt(env) }));
  const imageToken = (env: FuzzEnv) => env.engine.preprocessor?.imageToken ?? '<image>';
  return [
    p('empty', 'either', ['prompt'], () => ''),
    p('50,000 characters', 'either', ['prompt', 'positions', 'tokens'], () => 'a'.repeat(50_000)),
    p('50,000 characters of words', 'either', ['prompt', 'positions', 'tokens'], () => 'the cat sat on the mat. '.repeat(2100)),
    p('5,000,000 characters', 'refuse', ['prompt', 'characters', 'positions'], () => 'ab '.repeat(1_700_000)),
    p('contains the literal image token', 'either', ['placeholder', 'image token'], (env) => `what is ${imageToken(env)} here?`),
    p('contains the image token twice, no image', 'either', ['placeholder', 'image token'], (env) => `${imageToken(env)}${imageToken(env)}`, { image: undefined }),
    p('control characters', 'either', ['prompt'], () => 'a\u0000b\u0001c\u001b[31m\u007f\r\n\t\u2028\u2029?'),
    p('lone surrogates', 'either', ['prompt'], () => '\ud800 what \udfff is it \ud83d'),
    p('emoji and combining marks', 'either', ['prompt'], () => '👩‍👩‍👧‍👦 🏳️‍🌈 é̀́̂ what is this? 🤔'.repeat(rng.int(1, 20))),
    p('right-to-left and zero-width', 'either', ['prompt'], () => '\u202e?siht si tahw\u200b\u200d\ufeff'),
    p('special-token text', 'either', ['prompt', 'placeholder', 'image token'], () => '</s><s>[INST]<|im_start|>system\n<|endoftext|><fake_token_around_image><global-img>'),
    p('a number instead of a string', 'refuse', ['prompt'], () => hostile(42)),
    p('null', 'refuse', ['prompt'], () => hostile(null)),
    p('an object', 'refuse', ['prompt'], () => hostile({ text: 'hi' })),
    () => requestCase(arch, 'request: text only, no image', 'accept', [], (r) => ({ ...r, image: undefined })),
    () => requestCase(arch, 'rawPrompt with no image token and an image', 'refuse', ['placeholder', 'image token'], (r) => ({ ...r, rawPrompt: true, prompt: 'USER: what is it? ASSISTANT:' })),
    () => requestCase(arch, 'rawPrompt with no image token, no image', 'accept', [], (r) => ({ ...r, rawPrompt: true, image: undefined, prompt: 'USER: hello ASSISTANT:' })),
    () => requestCase(arch, 'rawPrompt with the image token and an image', 'accept', [], (r, env) => ({ ...r, rawPrompt: true, prompt: `USER: ${imageToken(env)}\nwhat? ASSISTANT:` })),
    () => requestCase(arch, 'rawPrompt "yes" (a string)', 'refuse', ['rawPrompt'], (r) => ({ ...r, rawPrompt: hostile('yes') })),
    () => requestCase(arch, 'rawPrompt 1 (a number)', 'refuse', ['rawPrompt'], (r) => ({ ...r, rawPrompt: hostile(1) })),
  ];
}

function imageCases(arch: FuzzArch, rng: Rng): (() => FuzzCase)[] {
  const img = (name: string, expect: Expectation, mentions: readonly string[], image: (r: GenerateRequest) => unknown, o: { sameAs?: boolean } = {}) => () =>
    requestCase(arch, `image: ${name}`, expect, mentions, (r) => ({ ...r, image: hostile(image(r)) }), o);
  const cases = [
    img('1×1 RGB', 'accept', [], () => solid(1, 1, 3, rng)),
    img('1×1 grey', 'accept', [], () => solid(1, 1, 1, rng)),
    img('1×4000 strip', 'either', ['image', 'aspect'], () => solid(1, 4000, 3, rng)),
    img('grey (1 channel) of the default image', 'accept', [], (r) => ({ ...rawOf(r), data: withChannels(rawOf(r), 1), channels: 1 })),
    img('RGBA of the default pixels (alpha dropped)', 'accept', [], (r) => ({ ...rawOf(r), data: withChannels(rawOf(r), 4), channels: 4 }), { sameAs: true }),
    img('RGBA, channels left out', 'accept', [], (r) => ({ data: withChannels(rawOf(r), 4), width: rawOf(r).width, height: rawOf(r).height }), { sameAs: true }),
    img('RGB as a Uint8Array', 'accept', [], (r) => ({ ...rawOf(r), data: new Uint8Array(rawOf(r).data) }), { sameAs: true }),
    img('RGB as a RawImage', 'accept', [], (r) => new RawImage(new Uint8ClampedArray(rawOf(r).data), rawOf(r).width, rawOf(r).height, 3), { sameAs: true }),
    img('a RawImage of floats (0-1)', 'refuse', ['image', 'data', 'Float32Array'], (r) => new RawImage(Float32Array.from(rawOf(r).data, (v) => v / 255) as never, rawOf(r).width, rawOf(r).height, 3)),
    img('a RawImage with 2 channels', 'refuse', ['image', 'channels'], (r) => new RawImage(new Uint8ClampedArray(rawOf(r).width * rawOf(r).height * 2), rawOf(r).width, rawOf(r).height, 2 as never)),
    img('a PNG Blob of the default pixels', 'accept', [], (r) => blob(pngOf(rawOf(r))), { sameAs: true }),
    img('a PNG Blob with no type', 'accept', [], (r) => new Blob([new Uint8Array(pngOf(rawOf(r)))]), { sameAs: true }),
    img('data one value short', 'refuse', ['image', 'data'], (r) => ({ ...rawOf(r), data: rawOf(r).data.subarray(1) })),
    img('data one value long', 'refuse', ['image', 'data'], (r) => ({ ...rawOf(r), data: new Uint8ClampedArray(rawOf(r).data.length + 1) })),
    img('data of 2 channels per pixel, channels unset', 'refuse', ['image', 'data', 'channels'], (r) => ({ data: new Uint8ClampedArray(rawOf(r).width * rawOf(r).height * 2), width: rawOf(r).width, height: rawOf(r).height })),
    img('width 0', 'refuse', ['image', 'width', 'size'], (r) => ({ ...rawOf(r), width: 0 })),
    img('width -1', 'refuse', ['image', 'width', 'size'], (r) => ({ ...rawOf(r), width: -1 })),
    img('width NaN', 'refuse', ['image', 'width', 'size'], (r) => ({ ...rawOf(r), width: NaN })),
    img('width 40.5', 'refuse', ['image', 'width', 'size'], (r) => ({ ...rawOf(r), width: 40.5 })),
    img('width "40"', 'refuse', ['image', 'width', 'size'], (r) => ({ ...rawOf(r), width: '40' })),
    img('width 1e9 (data unchanged)', 'refuse', ['image', 'width', 'size', 'pixels'], (r) => ({ ...rawOf(r), width: 1e9 })),
    img('width 1e9, height 1e9', 'refuse', ['image', 'pixels'], (r) => ({ ...rawOf(r), width: 1e9, height: 1e9 })),
    img('width missing', 'refuse', ['image', 'width', 'size'], (r) => ({ data: rawOf(r).data, height: rawOf(r).height, channels: 3 })),
    img('channels 2', 'refuse', ['image', 'channels'], (r) => ({ ...rawOf(r), channels: 2 })),
    img('channels 4 on RGB data', 'refuse', ['image', 'data', 'channels'], (r) => ({ ...rawOf(r), channels: 4 })),
    img('channels "3"', 'refuse', ['image', 'channels'], (r) => ({ ...rawOf(r), channels: '3' })),
    img('data a plain array', 'refuse', ['image', 'data'], (r) => ({ ...rawOf(r), data: Array.from(rawOf(r).data) })),
    img('data a Float32Array', 'refuse', ['image', 'data'], (r) => ({ ...rawOf(r), data: new Float32Array(rawOf(r).data) })),
    img('data null', 'refuse', ['image', 'data'], (r) => ({ ...rawOf(r), data: null })),
    img('data missing', 'refuse', ['image', 'data'], (r) => ({ width: rawOf(r).width, height: rawOf(r).height })),
    img('null', 'refuse', ['image'], () => null),
    img('a number', 'refuse', ['image'], () => 7),
    img('a string (a URL)', 'refuse', ['image'], () => 'https://example.com/cat.png'),
    img('an empty object', 'refuse', ['image', 'data'], () => ({})),
    img('an array', 'refuse', ['image', 'data'], () => [1, 2, 3]),
    img('a Blob of garbage', 'refuse', ['image', 'decode', 'png', 'jpeg'], () => blob(Uint8Array.from({ length: 200 }, () => rng.int(0, 256)))),
    img('a Blob of text', 'refuse', ['image', 'decode', 'png', 'jpeg'], () => new Blob(['hello, I am not a picture'], { type: 'text/plain' })),
    img('an empty Blob', 'refuse', ['image', 'empty', 'decode', '0-byte'], () => new Blob([])),
    img('a truncated PNG Blob', 'refuse', ['image', 'decode', 'png', 'truncated'], (r) => {
      const png = pngOf(rawOf(r));
      return blob(png.subarray(0, rng.int(8, png.length - 12)));
    }),
    img('a PNG signature only', 'refuse', ['image', 'decode', 'png', 'truncated'], () => blob(encodePng(new Uint8Array(3), 1, 1).subarray(0, 8))),
    img('a PNG header claiming 100000×100000', 'refuse', ['image', 'pixels', '100000'], () => blob(pngClaiming(100000, 100000))),
    img('a PNG header claiming 12000×12000', 'refuse', ['image', 'pixels', '12000'], () => blob(pngClaiming(12000, 12000))),
    img('a PNG header claiming 0×0', 'refuse', ['image', 'png', 'size', 'decode'], () => blob(pngClaiming(0, 0))),
    img('a JPEG header claiming 65535×65535', 'refuse', ['image', 'pixels', '65535', 'decode', 'jpeg'], () =>
      blob(Uint8Array.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0xff, 0xff, 0xff, 0xff, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xd9]), 'image/jpeg'),
    ),
    img('a PNG with a corrupted CRC', 'refuse', ['image', 'decode', 'png', 'crc'], (r) => {
      const png = pngOf(rawOf(r)).slice();
      png[30] ^= 0xff;
      return blob(png);
    }),
  ];
  return cases;
}

function optionCases(arch: FuzzArch): (() => FuzzCase)[] {
  const opt = (name: string, expect: Expectation, mentions: readonly string[], extra: Record<string, unknown>, o: { sameAs?: boolean } = {}) => () =>
    requestCase(arch, name, expect, mentions, (r) => ({ ...r, ...(extra as Partial<GenerateRequest>) }), o);
  const sampling = (name: string, expect: Expectation, mentions: readonly string[], s: unknown) => opt(`sampling ${name}`, expect, ['sampling', ...mentions], { sampling: s });
  return [
    opt('maxNewTokens 0', 'either', ['maxNewTokens'], { maxNewTokens: 0 }),
    opt('maxNewTokens -1', 'refuse', ['maxNewTokens'], { maxNewTokens: -1 }),
    opt('maxNewTokens NaN', 'refuse', ['maxNewTokens'], { maxNewTokens: NaN }),
    opt('maxNewTokens 1.5', 'refuse', ['maxNewTokens'], { maxNewTokens: 1.5 }),
    opt('maxNewTokens 1e12', 'refuse', ['maxNewTokens'], { maxNewTokens: 1e12 }),
    opt('maxNewTokens "3"', 'refuse', ['maxNewTokens'], { maxNewTokens: '3' }),
    opt('maxNewTokens null', 'refuse', ['maxNewTokens'], { maxNewTokens: null }),
    opt('maxNewTokens 100000 (over the positions)', 'refuse', ['maxNewTokens', 'positions'], { maxNewTokens: 100_000 }),
    opt('maxNewTokens 1', 'accept', [], { maxNewTokens: 1 }),
    sampling('temperature NaN', 'refuse', ['temperature'], { temperature: NaN }),
    sampling('temperature -1', 'refuse', ['temperature'], { temperature: -1 }),
    sampling('temperature Infinity', 'refuse', ['temperature'], { temperature: Infinity }),
    sampling('temperature "0.7"', 'refuse', ['temperature'], { temperature: '0.7' }),
    sampling('temperature 1e9', 'either', ['temperature'], { temperature: 1e9, seed: 3 }),
    sampling('temperature 1e-30', 'either', ['temperature'], { temperature: 1e-30, seed: 3 }),
    sampling('temperature 0 (greedy)', 'accept', [], { temperature: 0 }),
    sampling('temperature 0.7, topK 5, topP 0.9, seed 1', 'accept', [], { temperature: 0.7, topK: 5, topP: 0.9, seed: 1 }),
    sampling('topK -3', 'refuse', ['topK'], { temperature: 1, topK: -3, seed: 1 }),
    sampling('topK 2.5', 'refuse', ['topK'], { temperature: 1, topK: 2.5, seed: 1 }),
    sampling('topK NaN', 'refuse', ['topK'], { temperature: 1, topK: NaN, seed: 1 }),
    sampling('topK 1e9', 'either', ['topK'], { temperature: 1, topK: 1e9, seed: 1 }),
    sampling('topK 1', 'accept', [], { temperature: 1, topK: 1, seed: 1 }),
    sampling('topP 0', 'either', ['topP'], { temperature: 1, topP: 0, seed: 1 }),
    sampling('topP 1.5', 'refuse', ['topP'], { temperature: 1, topP: 1.5, seed: 1 }),
    sampling('topP -0.1', 'refuse', ['topP'], { temperature: 1, topP: -0.1, seed: 1 }),
    sampling('topP NaN', 'refuse', ['topP'], { temperature: 1, topP: NaN, seed: 1 }),
    sampling('topP "0.9"', 'refuse', ['topP'], { temperature: 1, topP: '0.9', seed: 1 }),
    sampling('seed 1.5', 'refuse', ['seed'], { temperature: 1, seed: 1.5 }),
    sampling('seed -1', 'refuse', ['seed'], { temperature: 1, seed: -1 }),
    sampling('seed NaN', 'refuse', ['seed'], { temperature: 1, seed: NaN }),
    sampling('seed 2^53', 'refuse', ['seed'], { temperature: 1, seed: 2 ** 53 }),
    sampling('seed "7"', 'refuse', ['seed'], { temperature: 1, seed: '7' }),
    sampling('seed 4294967295', 'accept', [], { temperature: 1, seed: 4294967295 }),
    sampling('a string', 'refuse', [], 'greedy'),
    sampling('null', 'refuse', [], null),
    sampling('an array', 'refuse', [], [1]),
    sampling('an empty object (greedy)', 'accept', [], {}),
    opt('stop "x" (a string, not a list)', 'refuse', ['stop'], { stop: 'x' }),
    opt('stop 42', 'refuse', ['stop'], { stop: 42 }),
    opt('stop [1, 2]', 'refuse', ['stop'], { stop: [1, 2] }),
    opt('stop [null]', 'refuse', ['stop'], { stop: [null] }),
    opt('stop [""] (an empty string never matches)', 'either', ['stop'], { stop: [''] }),
    opt('stop ["", "zzz"]', 'either', ['stop'], { stop: ['', 'zzz'] }),
    opt('stop [] (none)', 'accept', [], { stop: [] }, { sameAs: true }),
    opt('stop a 100,000-character string', 'either', ['stop'], { stop: ['q'.repeat(100_000)] }),
    opt('stop 100,000 strings', 'either', ['stop'], { stop: Array.from({ length: 100_000 }, (_, i) => `s${i}`) }),
    opt('stop ["never-said"]', 'accept', [], { stop: ['never-said'] }, { sameAs: true }),
    opt('recordKeptIndices "yes"', 'refuse', ['recordKeptIndices'], { recordKeptIndices: 'yes' }),
    opt('recordKeptIndices true, no pruning', 'accept', [], { recordKeptIndices: true }, { sameAs: true }),
    opt('hooks {} (no callbacks)', 'accept', [], { hooks: {} }, { sameAs: true }),
    opt('hooks null', 'accept', [], { hooks: null }, { sameAs: true }),
    opt('hooks "x"', 'refuse', ['hooks'], { hooks: 'x' }),
    opt('hooks { afterAttention: 5 }', 'refuse', ['hooks', 'afterAttention'], { hooks: { afterAttention: 5 } }),
    opt('hooks { wantsRowStats: "yes" }', 'refuse', ['hooks', 'wantsRowStats'], { hooks: { wantsRowStats: 'yes' } }),
    opt('signal "abort" (not an AbortSignal)', 'refuse', ['signal'], { signal: 'abort' }),
    () => requestCase(arch, 'an already-aborted signal', 'refuse', ['abort'], (r) => ({ ...r, signal: AbortSignal.abort() })),
    () => requestCase(arch, 'signal aborted with a reason', 'refuse', ['abort', 'user left'], (r) => ({ ...r, signal: AbortSignal.abort(new DOMException('user left', 'AbortError')) })),
  ];
}

function pruningCases(arch: FuzzArch): (() => FuzzCase)[] {
  const pr = (name: string, expect: Expectation, mentions: readonly string[], policy: (env: FuzzEnv) => unknown, extra: Record<string, unknown> = {}) => () =>
    requestCase(arch, `pruning ${name}`, expect, mentions, (r, env) => ({ ...r, ...(extra as Partial<GenerateRequest>), pruning: hostile(policy(env)) }));
  const info = (env: FuzzEnv) => {
    const m = env.engine.info().model;
    if (!m) throw new Error('fuzz: no model loaded');
    return m;
  };
  const zeros = (env: FuzzEnv) => new Array<number>(info(env).textLayers).fill(0);
  const counts = (env: FuzzEnv, first: number) => {
    const c = zeros(env);
    c[0] = first;
    return c;
  };
  const recipe = (env: FuzzEnv, c: unknown, n?: unknown) => ({ counts: c, referenceVisualTokens: n ?? info(env).imageTokens });
  return [
    pr('none', 'accept', [], () => ({ kind: 'none' })),
    pr('unknown kind "topk"', 'refuse', ['pruning', 'kind'], () => ({ kind: 'topk', k: 3 })),
    pr('kind missing', 'refuse', ['pruning', 'kind'], () => ({ layer: 1, ratio: 0.5 })),
    pr('a string', 'refuse', ['pruning'], () => 'fastv'),
    pr('null', 'refuse', ['pruning'], () => null),
    pr('fastv K 1 R 0.5', 'accept', [], () => ({ kind: 'fastv', layer: 1, ratio: 0.5 })),
    pr('fastv K 0', 'refuse', ['fastv', 'layer'], () => ({ kind: 'fastv', layer: 0, ratio: 0.5 })),
    pr('fastv K -1', 'refuse', ['fastv', 'layer'], () => ({ kind: 'fastv', layer: -1, ratio: 0.5 })),
    pr('fastv K = layers', 'refuse', ['fastv', 'layer'], (env) => ({ kind: 'fastv', layer: info(env).textLayers, ratio: 0.5 })),
    pr('fastv K 1.5', 'refuse', ['fastv', 'layer'], () => ({ kind: 'fastv', layer: 1.5, ratio: 0.5 })),
    pr('fastv K "1"', 'refuse', ['fastv', 'layer'], () => ({ kind: 'fastv', layer: '1', ratio: 0.5 })),
    pr('fastv K missing', 'refuse', ['fastv', 'layer'], () => ({ kind: 'fastv', ratio: 0.5 })),
    pr('fastv R NaN', 'refuse', ['fastv', 'ratio'], () => ({ kind: 'fastv', layer: 1, ratio: NaN })),
    pr('fastv R 1.5', 'refuse', ['fastv', 'ratio'], () => ({ kind: 'fastv', layer: 1, ratio: 1.5 })),
    pr('fastv R -0.5', 'refuse', ['fastv', 'ratio'], () => ({ kind: 'fastv', layer: 1, ratio: -0.5 })),
    pr('fastv R "half"', 'refuse', ['fastv', 'ratio'], () => ({ kind: 'fastv', layer: 1, ratio: 'half' })),
    pr('fastv R 1 (every visual token)', 'either', ['fastv', 'ratio'], () => ({ kind: 'fastv', layer: 1, ratio: 1 })),
    pr('fastv R 0', 'accept', [], () => ({ kind: 'fastv', layer: 1, ratio: 0 })),
    pr('random fraction-like counts [0.5, …]', 'refuse', ['counts'], (env) => ({ kind: 'random', seed: 1, recipe: recipe(env, counts(env, 0.5)) })),
    pr('random seed NaN', 'refuse', ['random', 'seed'], (env) => ({ kind: 'random', seed: NaN, recipe: recipe(env, counts(env, 2)) })),
    pr('random seed "1"', 'refuse', ['random', 'seed'], (env) => ({ kind: 'random', seed: '1', recipe: recipe(env, counts(env, 2)) })),
    pr('random seed missing', 'refuse', ['random', 'seed'], (env) => ({ kind: 'random', recipe: recipe(env, counts(env, 2)) })),
    pr('random recipe missing', 'refuse', ['recipe'], () => ({ kind: 'random', seed: 1 })),
    pr('random counts [2, 0, …] seed 9', 'accept', [], (env) => ({ kind: 'random', seed: 9, recipe: recipe(env, counts(env, 2)) })),
    pr('random with a fraction field instead of a recipe', 'refuse', ['recipe'], () => ({ kind: 'random', seed: 1, fraction: 0.5 })),
    pr('fitprune recipe null', 'refuse', ['recipe'], () => ({ kind: 'fitprune', recipe: null })),
    pr('fitprune counts a string', 'refuse', ['counts'], (env) => ({ kind: 'fitprune', recipe: recipe(env, '1,2') })),
    pr('fitprune counts too short', 'refuse', ['counts', 'layers'], (env) => ({ kind: 'fitprune', recipe: recipe(env, [1]) })),
    pr('fitprune counts too long', 'refuse', ['counts', 'layers'], (env) => ({ kind: 'fitprune', recipe: recipe(env, [...zeros(env), 1]) })),
    pr('fitprune counts [-1, …]', 'refuse', ['counts'], (env) => ({ kind: 'fitprune', recipe: recipe(env, counts(env, -1)) })),
    pr('fitprune counts [NaN, …]', 'refuse', ['counts'], (env) => ({ kind: 'fitprune', recipe: recipe(env, counts(env, NaN)) })),
    pr('fitprune counts [1e300, …] (code-built: clamped to what is left)', 'either', ['counts'], (env) => ({ kind: 'fitprune', recipe: recipe(env, counts(env, 1e300)) })),
    pr('fitprune counts [N+5, …] (code-built: clamped)', 'either', ['counts'], (env) => ({ kind: 'fitprune', recipe: recipe(env, counts(env, info(env).imageTokens + 5)) })),
    pr('fitprune referenceVisualTokens 0', 'refuse', ['referenceVisualTokens'], (env) => ({ kind: 'fitprune', recipe: recipe(env, counts(env, 1), 0) })),
    pr('fitprune referenceVisualTokens "576"', 'refuse', ['referenceVisualTokens'], (env) => ({ kind: 'fitprune', recipe: recipe(env, counts(env, 1), '576') })),
    pr('fitprune referenceVisualTokens 1e300', 'refuse', ['referenceVisualTokens'], (env) => ({ kind: 'fitprune', recipe: recipe(env, counts(env, 1), 1e300) })),
    pr('fitprune counts [1, …]', 'accept', [], (env) => ({ kind: 'fitprune', recipe: recipe(env, counts(env, 1)) })),
    pr('fitprune counts [1, …] and recordKeptIndices', 'accept', [], (env) => ({ kind: 'fitprune', recipe: recipe(env, counts(env, 1)) }), { recordKeptIndices: true }),
    pr('fitprune and hooks together', 'refuse', ['pruning', 'hooks'], (env) => ({ kind: 'fitprune', recipe: recipe(env, counts(env, 1)) }), { hooks: {} }),
    pr('fastv and hooks together', 'refuse', ['pruning', 'hooks'], () => ({ kind: 'fastv', layer: 1, ratio: 0.5 }), { hooks: { afterLayer: () => undefined } }),
    pr('fitprune with no image', 'either', ['pruning', 'image'], (env) => ({ kind: 'fitprune', recipe: recipe(env, counts(env, 1)) }), { image: undefined }),
  ];
}

export const requestCases: CaseGenerator = {
  family: 'request',
  weight: 2.5,
  make(rng) {
    const arch = pick(rng, FUZZ_ARCHS);
    const groups = [promptCases, imageCases, optionCases, pruningCases] as const;
    const group = pick(rng, groups);
    // A 12-megapixel photo is slow to resize on the CPU (about a second): 1 image case in 25.
    if (group === imageCases && rng.next() < 0.04) {
      return requestCase(arch, 'image: 4000×3000 RGB', 'accept', [], (r) => ({ ...r, image: solid(4000, 3000, 3, rng) }));
    }
    return pick(rng, group(arch, rng))();
  },
};
