/**
 * Hostile and broken model files on the preprocessing side (issue 25, items 3, 4, 6, 8, 10 and
 * eos_token_id): each is built by mutating a tiny checkpoint and must be refused by
 * loadPreprocessor (or the call that meets it) with an error naming the file and the field,
 * in bounded time, before any large allocation.
 */
import { describe, expect, it } from 'vitest';
import { MemorySource } from '../../src/load/source';
import { preprocessAnyres } from '../../src/models/llava-next/image-processor';
import { preprocessIdefics3 } from '../../src/models/idefics3/image-processor';
import { loadPreprocessor, MAX_RANGE, PreprocessError, toRgb, type Preprocessor } from '../../src/preprocess';
import { ImageConfigError } from '../../src/preprocess/image-config';
import { TINY_ARCHS } from '../fixtures/tiny/index';

type Files = Map<string, Uint8Array>;
type Json = Record<string, unknown>;

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const text = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array): Json => JSON.parse(new TextDecoder().decode(b)) as Json;

function tiny(arch = 'llava'): Files {
  return TINY_ARCHS[arch]!.make({ seed: 3 });
}

/** A tiny checkpoint with one JSON file changed by `edit`. */
function withJson(file: string, edit: (j: Json) => void, arch = 'llava'): Files {
  const files = tiny(arch);
  const j = dec(files.get(file)!);
  edit(j);
  files.set(file, enc(j));
  return files;
}

const load = (files: Files) => loadPreprocessor(new MemorySource(files, 'tiny'));

async function refused(files: Files, pattern: RegExp, maxMs = 10_000): Promise<string> {
  const t0 = performance.now();
  let error: unknown = null;
  try {
    await load(files);
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - t0;
  expect(error, 'loadPreprocessor should have refused').toBeInstanceOf(PreprocessError);
  expect((error as Error).message).toMatch(pattern);
  expect(ms).toBeLessThan(maxMs);
  return (error as Error).message;
}

describe('preprocessor_config.json values are range-checked at load', () => {
  const cases: [string, (c: Json) => void, RegExp][] = [
    ['shortest_edge 1e6', (c) => (c['size'] = { shortest_edge: 1e6 }), /preprocessor_config\.json: size\.shortest_edge is 1000000; it must be an integer from 1 to 4096/],
    ['size 1e9×1e9', (c) => (c['size'] = { height: 1e9, width: 1e9 }), /preprocessor_config\.json: size\.height is 1000000000; it must be an integer from 1 to 4096/],
    ['crop_size 1e5²', (c) => (c['crop_size'] = { height: 1e5, width: 1e5 }), /preprocessor_config\.json: crop_size\.height is 100000/],
    ['crop_size −1', (c) => (c['crop_size'] = -1), /preprocessor_config\.json: crop_size is -1; it must be an integer from 1 to 4096/],
    ['crop_size 112.5', (c) => (c['crop_size'] = { height: 112.5, width: 112.5 }), /preprocessor_config\.json: crop_size\.height is 112\.5/],
    ['size "336"', (c) => (c['size'] = '336'), /preprocessor_config\.json: size is "336"; it must be a number or an object/],
    ['crop_size with height only', (c) => (c['crop_size'] = { height: 8 }), /crop_size .*both height and width/],
    ['image_std 0', (c) => (c['image_std'] = 0), /preprocessor_config\.json: image_std is 0; it must be a number from 0\.001 to 1000 or a list of 3/],
    ['image_std [0.2, 0, 0.2]', (c) => (c['image_std'] = [0.2, 0, 0.2]), /image_std is \[0\.2,0,0\.2\]/],
    ['image_std null', (c) => (c['image_std'] = null), /image_std is null/],
    ['image_std 1e999 (Infinity)', (c) => (c['image_std'] = 'INF'), /image_std is/],
    ['image_mean as strings', (c) => (c['image_mean'] = ['0.5', '0.5', '0.5']), /preprocessor_config\.json: image_mean is \["0\.5","0\.5","0\.5"\]; it must be a number from -1000 to 1000 or a list of 3/],
    ['image_mean of 2 values', (c) => (c['image_mean'] = [0.5, 0.5]), /image_mean is \[0\.5,0\.5\]/],
    ['rescale_factor "x"', (c) => (c['rescale_factor'] = 'x'), /preprocessor_config\.json: rescale_factor is "x"; it must be a number in \(0, 1\]/],
    ['rescale_factor 0', (c) => (c['rescale_factor'] = 0), /rescale_factor is 0/],
    ['rescale_factor null', (c) => (c['rescale_factor'] = null), /rescale_factor is null/],
    ['resample 9', (c) => (c['resample'] = 9), /resample is 9; it must be a PIL filter code 0–5/],
    ['do_normalize "false"', (c) => (c['do_normalize'] = 'false'), /do_normalize is "false"; it must be true or false/],
  ];
  for (const [name, edit, pattern] of cases) {
    it(`llava: ${name}`, async () => {
      const files = withJson('preprocessor_config.json', edit);
      if (name.includes('Infinity')) {
        // JSON has no Infinity; 1e999 parses to it.
        const raw = new TextDecoder().decode(files.get('preprocessor_config.json')!).replace('"INF"', '1e999');
        files.set('preprocessor_config.json', text(raw));
      }
      await refused(files, pattern);
    });
  }

  it('the same checks apply to the anyres and Idefics3 processors (at load and when called directly)', async () => {
    await refused(withJson('preprocessor_config.json', (c) => (c['size'] = { shortest_edge: 1e6 }), 'llava-next'), /size\.shortest_edge is 1000000/);
    await refused(withJson('preprocessor_config.json', (c) => (c['image_grid_pinpoints'] = [[1e5, 1e5]]), 'llava-onevision'), /image_grid_pinpoints\[0\]\[0\] is 100000/);
    await refused(withJson('preprocessor_config.json', (c) => (c['size'] = { longest_edge: 1e9 }), 'idefics3'), /size\.longest_edge is 1000000000/);
    await refused(withJson('preprocessor_config.json', (c) => (c['max_image_size'] = { longest_edge: -1 }), 'idefics3'), /max_image_size\.longest_edge is -1/);
    await refused(withJson('preprocessor_config.json', (c) => (c['image_std'] = [0.5, 0, 0.5]), 'idefics3'), /image_std is \[0\.5,0,0\.5\]/);
    const px = new Uint8ClampedArray(3 * 4 * 4);
    expect(() => preprocessAnyres(px, 4, 4, { size: { shortest_edge: 28 }, image_std: 0 }, 'llava_next')).toThrow(ImageConfigError);
    expect(() => preprocessAnyres(px, 4, 4, { size: { shortest_edge: 1e6 } }, 'llava_next')).toThrow(/size\.shortest_edge is 1000000/);
    expect(() => preprocessIdefics3(px, 4, 4, { rescale_factor: 'x' as never })).toThrow(/rescale_factor is "x"/);
    expect(() => preprocessIdefics3(px, 4, 4, { max_image_size: { longest_edge: 1e5 } })).toThrow(/max_image_size\.longest_edge is 100000/);
  });

  it('processor_config.json patch_size and image_token are checked', async () => {
    await refused(withJson('processor_config.json', (c) => (c['patch_size'] = 0)), /processor_config\.json patch_size is 0; it must be an integer from 1 to 1024/);
    await refused(withJson('processor_config.json', (c) => (c['image_token'] = 5)), /processor_config\.json image_token is 5; it must be a non-empty string/);
  });

  it('every tiny checkpoint still loads, and gives finite pixels', async () => {
    for (const arch of Object.keys(TINY_ARCHS)) {
      const pre = await load(tiny(arch));
      expect(pre.maxTokenId).toBeGreaterThan(0);
    }
    const pre = await load(tiny('llava'));
    const img = { data: new Uint8ClampedArray(9 * 5 * 3).fill(200), width: 9, height: 5, channels: 3 as const };
    const { pixelValues } = await pre.preprocessImage(img);
    expect(pixelValues.every(Number.isFinite)).toBe(true);
  });
});

describe('chat templates are compiled and probed at load, and rendered with a budget', () => {
  const withJinja = (t: string, arch = 'llava') => {
    const files = tiny(arch);
    files.set('chat_template.jinja', text(t));
    return files;
  };
  const GOOD = "{% for m in messages %}{% for c in m['content'] %}{{ '<image>' if c['type'] == 'image' else c['text'] }}{% endfor %}{% endfor %}";

  it('a syntax error is refused at load naming the file (chat_template.jinja / .json / tokenizer_config.json)', async () => {
    await refused(withJinja('{% for m in messages %}{{ m.role }}'), /tiny: the chat template in chat_template\.jinja does not compile: /);
    await refused(withJson('chat_template.json', (j) => (j['chat_template'] = '{{ messages[0] ')), /the chat template in chat_template\.json does not compile/);
    const files = withJson('tokenizer_config.json', (j) => (j['chat_template'] = '{% if %}'));
    files.delete('chat_template.json');
    await refused(files, /the chat template in tokenizer_config\.json does not compile/);
    await refused(withJson('chat_template.json', (j) => (j['chat_template'] = 42)), /chat_template\.json chat_template must be a string/);
  });

  it('range(1e8) is refused at load in well under 10 s', async () => {
    const msg = await refused(withJinja(`{% for i in range(100000000) %}x{% endfor %}${GOOD}`), /chat_template\.jinja failed: range\(\) of 100000000 values \(at most 10000 allowed\)/, 5_000);
    expect(msg).toContain(String(MAX_RANGE));
  });

  it('deeply nested loops stop at the step limit in well under 10 s', async () => {
    await refused(withJinja(`{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{{ a }}{% endfor %}{% endfor %}{% endfor %}${GOOD}`), /chat_template\.jinja failed: rendering took more than (200000 steps|2000 ms)/, 8_000);
  });

  it('a macro calling itself is refused at load (the interpreter has no recursion)', async () => {
    await refused(withJinja(`{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}${GOOD}`), /tiny: the chat template in chat_template\.jinja failed: /);
  });

  it('raise_exception and a template that drops the image are refused at load', async () => {
    await refused(withJinja("{{ raise_exception('only text') }}"), /chat_template\.jinja failed: only text/);
    await refused(withJinja("{% for m in messages %}{{ m['role'] }}{% endfor %}"), /chat template in chat_template\.jinja drops the image/);
  });

  it('a template that only runs away for some questions fails that question quickly, with a clear error', async () => {
    const t = `{% if messages[0]['content']|length == 1 %}{% for a in range(9000) %}{% for b in range(9000) %}{% endfor %}{% endfor %}{% endif %}${GOOD}`;
    const pre = await load(withJinja(t));
    const t0 = performance.now();
    expect(() => pre.buildPrompt('hello', { hasImage: false })).toThrow(/tiny: the chat template in chat_template\.jinja failed: rendering took more than/);
    expect(performance.now() - t0).toBeLessThan(8_000);
    expect(pre.buildPrompt('hello', { hasImage: true })).toBe('<image>hello');
  });

  it("renders every tiny checkpoint's template exactly as transformers.js does", async () => {
    for (const arch of Object.keys(TINY_ARCHS)) {
      const pre: Preprocessor = await load(tiny(arch));
      expect(pre.chatTemplate, arch).not.toBeNull();
      expect(pre.chatTemplateFile, arch).toBe('chat_template.json');
      for (const hasImage of [true, false]) {
        const content = [...(hasImage ? [{ type: 'image' }] : []), { type: 'text', text: 'What is this?' }];
        const theirs = pre.tokenizer.apply_chat_template([{ role: 'user', content }] as never, { tokenize: false, add_generation_prompt: true, chat_template: pre.chatTemplate! });
        expect(pre.buildPrompt('What is this?', { hasImage }), `${arch} hasImage=${hasImage}`).toBe(theirs);
      }
    }
  });

  it('named templates in tokenizer_config.json: "default" is used; none named "default" is refused', async () => {
    const ok = withJson('tokenizer_config.json', (j) => (j['chat_template'] = [{ name: 'tool_use', template: 'x' }, { name: 'default', template: GOOD }]));
    ok.delete('chat_template.json');
    expect((await load(ok)).buildPrompt('hi', { hasImage: true })).toBe('<image>hi');
    const bad = withJson('tokenizer_config.json', (j) => (j['chat_template'] = [{ name: 'tool_use', template: GOOD }]));
    bad.delete('chat_template.json');
    await refused(bad, /tokenizer_config\.json chat_template is a list of named templates without a "default" one/);
  });
});

describe('tokenizer.json: ids, malformed parts, eos_token_id', () => {
  const editVocab = (edit: (vocab: Record<string, number>, t: Json) => void) =>
    withJson('tokenizer.json', (t) => edit((t['model'] as Json)['vocab'] as Record<string, number>, t));

  it('a negative, fractional or huge vocabulary id is refused at load (it would wrap in the Uint32 ids)', async () => {
    await refused(editVocab((v) => (v[Object.keys(v)[10]!] = -14)), /tokenizer\.json model\.vocab\[".*"\] is -14: token ids must be integers from 0 to 2³¹ − 1/);
    await refused(editVocab((v) => (v[Object.keys(v)[10]!] = 1.5)), /tokenizer\.json model\.vocab\[".*"\] is 1\.5/);
    await refused(withJson('tokenizer.json', (t) => ((t['added_tokens'] as Json[])[0]!['id'] = 4294967282)), /tokenizer\.json added_tokens\[0\]\.id is 4294967282/);
  });

  it('exposes the largest id, which the engine checks against the embedding', async () => {
    const files = withJson('tokenizer.json', (t) => (t['added_tokens'] as Json[]).push({ id: 1_000_000, content: '<far>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
    const pre = await load(files);
    expect(pre.maxTokenId).toBe(1_000_000);
    // The prompt's ids are checked against the model's vocab_size in Engine.run (GPU test).
    expect([...pre.tokenize('a <far> b').inputIds]).toContain(1_000_000);
  });

  it('malformed parts give an error naming tokenizer.json, not a raw TypeError / SyntaxError', async () => {
    await refused(withJson('tokenizer.json', (t) => (t['pre_tokenizer'] = { type: 'Split', pattern: { Regex: '([' }, behavior: 'Isolated', invert: false })), /tiny: tokenizer\.json.*(cannot be used|failed on the prompt)/);
    await refused(withJson('tokenizer.json', (t) => ((t['model'] as Json)['merges'] = [1, 2])), /tiny: tokenizer\.json model\.merges\[0\] is 1: each merge must be a "a b" string or an \[a, b\] pair of strings/);
    await refused(withJson('tokenizer.json', (t) => (t['model'] = null)), /tokenizer\.json model is null/);
    await refused(withJson('tokenizer.json', (t) => ((t['model'] as Json)['vocab'] = 'abc')), /tokenizer\.json model\.vocab is "abc"/);
    await refused(withJson('tokenizer.json', (t) => (t['added_tokens'] = [{ id: 3 }])), /tokenizer\.json added_tokens\[0\] is \{"id":3\}/);
    const files = tiny();
    files.set('tokenizer.json', enc([1, 2]));
    await refused(files, /tokenizer\.json must hold a JSON object, not an array/);
    const nul = tiny();
    nul.set('preprocessor_config.json', enc(null));
    await load(nul); // null is "absent" like Python's processor: then the model takes no images
  });

  it('eos_token_id "2", [], -1 or an id the tokenizer cannot produce is refused naming generation_config.json', async () => {
    for (const bad of ['2', [], -1, 2.5, [2, 99_999_999]]) {
      await refused(withJson('generation_config.json', (g) => (g['eos_token_id'] = bad)), /tiny: generation_config\.json eos_token_id is .*; it must be a token id \(an integer from 0 to \d+\) or a non-empty list of them, or generation would never stop at EOS/);
    }
    expect((await load(withJson('generation_config.json', (g) => (g['eos_token_id'] = [2, 2, 1])))).eosTokenIds).toEqual([2, 1]);
    const noGen = tiny();
    noGen.delete('generation_config.json');
    expect((await load(noGen)).eosTokenIds).toEqual([2]); // the tokenizer's eos token
  });

  it('decode refuses ids that are not integers ≥ 0 with a clear error', async () => {
    const pre = await load(tiny());
    expect(() => pre.decode([-1])).toThrow(/decode: token id -1 at index 0 is not an integer ≥ 0/);
    expect(() => pre.decode([1.5])).toThrow(PreprocessError);
    expect(() => pre.decode(null as never)).toThrow(/decode takes a list of token ids, got null/);
  });
});

describe('images that are not images', () => {
  let pre: Preprocessor;
  it('null, a number, a string, bad data: a PreprocessError naming what an image must be', async () => {
    pre = await load(tiny());
    await expect(pre.preprocessImage(null as never)).rejects.toThrow(/the image must be a RawImage, a Blob .*; got null/);
    await expect(pre.preprocessImage(42 as never)).rejects.toThrow(/the image must be .*; got number/);
    await expect(pre.preprocessImage('photo.png' as never)).rejects.toThrow(/got string/);
    await expect(toRgb(undefined as never)).rejects.toThrow(/got undefined/);
    await expect(pre.preprocessImage({ data: null, width: 2, height: 2 } as never)).rejects.toThrow(/the image's data must be a Uint8Array or Uint8ClampedArray of 8-bit pixels; got null/);
    await expect(pre.preprocessImage({ data: [1, 2, 3], width: 1, height: 1 } as never)).rejects.toThrow(/got an array/);
    await expect(pre.preprocessImage({ data: new Float32Array(3), width: 1, height: 1 } as never)).rejects.toThrow(/got Float32Array/);
    await expect(pre.preprocessImage({ data: new Uint8Array(12), width: '2', height: 2 } as never)).rejects.toThrow(/image size 2×2 is not a positive whole number/);
    await expect(pre.preprocessImage({ data: new Uint8Array(12), width: 2, height: 2, channels: 7 } as never)).rejects.toThrow(/channels must be 1, 3 or 4; got 7/);
    await expect(pre.preprocessImage(new Blob([new Uint8Array([1, 2, 3, 4])], { type: 'image/png' }))).rejects.toThrow(/the image \(a 4-byte image\/png\) cannot be decoded/);
  });

  it('a huge image, or an aspect ratio whose resize would be huge, is refused before allocating', async () => {
    pre ??= await load(tiny());
    await expect(pre.preprocessImage({ data: new Uint8Array(3 * 60_000), width: 60_000, height: 1, channels: 3 })).rejects.toThrow(/resized to preprocessor_config\.json's shortest edge \d+ would be \d+×\d+ pixels .* aspect ratio is too extreme/);
    // 9000 × 9000 > 8192²: refused by size alone (the data check comes after).
    await expect(pre.preprocessImage({ data: new Uint8Array(3), width: 9000, height: 9000, channels: 3 })).rejects.toThrow(/the image is 9000×9000 = 81000000 pixels; at most 67108864/);
  });
});

describe('the resampler refuses absurd outputs itself', () => {
  it('resizePil and centerCropPixels: over 8192² pixels, negative or fractional crops', async () => {
    const { resizePil, centerCropPixels, MAX_RESIZE_PIXELS } = await import('../../src/preprocess/resample');
    const px = new Uint8ClampedArray(3 * 4);
    expect(() => resizePil(px, 2, 2, 3, 1e6, 1e6)).toThrow(/resizePil: a 1000000×1000000 output is over 67108864 pixels/);
    expect(() => centerCropPixels(px, 2, 2, 3, -1, -1)).toThrow(/crop width must be a positive integer, got -1/);
    expect(() => centerCropPixels(px, 2, 2, 3, 112.5, 112.5)).toThrow(/crop width must be a positive integer, got 112\.5/);
    expect(() => centerCropPixels(px, 2, 2, 3, 1e5, 1e5)).toThrow(/over 67108864 pixels/);
    expect(MAX_RESIZE_PIXELS).toBe(8192 * 8192);
  });
});

// ---- found by the fuzzer (npm run fuzz -- --only tokenizer,preprocessor,chat-template) ------------

describe('tokenizer.json parts, special tokens and generation ids (fuzz findings)', () => {
  it('a catastrophic regex in pre_tokenizer or normalizer is refused at load, naming the field; real patterns pass', async () => {
    const split = (p: string) => ({ type: 'Split', pattern: { Regex: p }, behavior: 'Isolated', invert: false });
    for (const p of ['(\\w+\\s?)+$', '(a|aa)+$', '([a-zA-Z]+)*!', '((\\w)+)+\\u0000', '(.*a){30}']) {
      await refused(withJson('tokenizer.json', (t) => (t['pre_tokenizer'] = split(p))), /tiny: tokenizer\.json pre_tokenizer\.pattern\.Regex is .*: it repeats a group that repeats or alternates/, 2_000);
    }
    await refused(withJson('tokenizer.json', (t) => (t['normalizer'] = { type: 'Replace', pattern: { Regex: '(\\s*\\w*)*\\d' }, content: 'x' })), /tokenizer\.json normalizer\.pattern\.Regex is/);
    const { nestedRepetition } = await import('../../src/preprocess/index');
    // GPT-2, Llama 3 and Qwen2 split patterns repeat character classes only.
    expect(nestedRepetition("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+")).toBe(false);
    expect(nestedRepetition("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")).toBe(false);
    expect(nestedRepetition('[(+)]+(ab)?(?:cd){2}')).toBe(false);
    const pre = await load(withJson('tokenizer.json', (t) => (t['pre_tokenizer'] = split("'s|'t| ?\\p{L}+| ?\\p{N}+|\\s+(?!\\S)|\\s+"))));
    expect(pre.tokenize('What is in the picture?').inputIds.length).toBeGreaterThan(0);
  });

  it('wrong-typed parts name the part instead of "x.split is not a function"', async () => {
    const cases: [(t: Json) => void, RegExp][] = [
      [(t) => ((t['model'] as Json)['merges'] = 42), /tokenizer\.json model\.merges is 42: it must be a list/],
      [(t) => ((t['model'] as Json)['merges'] = [['▁']]), /tokenizer\.json model\.merges\[0\] is \["▁"\]/],
      [(t) => ((t['model'] as Json)['type'] = 42), /tokenizer\.json model\.type is 42: it must be one of BPE, WordPiece, Unigram, WordLevel/],
      [(t) => ((t['model'] as Json)['type'] = 'Foo'), /model\.type is "Foo"/],
      [(t) => (t['pre_tokenizer'] = 42), /tokenizer\.json pre_tokenizer is 42: it must be an object with a string "type"/],
      [(t) => (t['pre_tokenizer'] = { type: 'Split', pattern: { Regex: null }, behavior: 'Isolated' }), /tokenizer\.json pre_tokenizer\.pattern is \{"Regex":null\}/],
      [(t) => (t['normalizer'] = { type: 'Sequence', normalizers: [null] }), /tokenizer\.json normalizer\.normalizers\[0\] is null/],
      [(t) => (t['normalizer'] = { type: 'Replace', pattern: { String: ' ' }, content: 3 }), /tokenizer\.json normalizer\.content is 3: it must be a string/],
      [(t) => (t['decoder'] = { type: 'Sequence', decoders: 'x' }), /tokenizer\.json decoder\.decoders is "x": a Sequence needs a list/],
      [(t) => (t['post_processor'] = { type: 'TemplateProcessing', single: 'x', pair: [], special_tokens: {} }), /tokenizer\.json post_processor\.single is "x": it must be a list/],
      [(t) => (t['post_processor'] = { type: 'Foo' }), /Unknown PostProcessor type: Foo \(tokenizer\.json post_processor\.type\)/],
      [(t) => (t['pre_tokenizer'] = { type: 'Split', pattern: { Regex: '([' }, behavior: 'Isolated', invert: false }), /in a regular expression of tokenizer\.json: pre_tokenizer\.pattern\.Regex "\(\["/],
    ];
    for (const [edit, pattern] of cases) await refused(withJson('tokenizer.json', edit), pattern);
    let nested = '{"type":"Lowercase"}';
    for (let i = 0; i < 5000; i++) nested = `{"type":"Sequence","normalizers":[${nested}]}`;
    // Spliced in as text (JSON.stringify of 5000 levels would overflow the stack itself).
    const files = withJson('tokenizer.json', (t) => (t['normalizer'] = '__NESTED__'));
    files.set('tokenizer.json', text(new TextDecoder().decode(files.get('tokenizer.json')!).replace('"__NESTED__"', nested)));
    await refused(files, /tokenizer\.json normalizer(\.normalizers\[0\])+ is "…": it is nested more than 32 deep/);
  });

  it('an image token that does not stay one token per copy is refused at load', async () => {
    // normalized: true matches it in the normalised text, where the runs of copies break up (Idefics3's 80-copy run gave 5 image ids).
    const files = withJson('tokenizer.json', (t) => {
      for (const e of t['added_tokens'] as Json[]) if (e['content'] === '<image>') e['normalized'] = true;
    }, 'idefics3');
    await refused(files, /tiny: tokenizer\.json does not keep "<image>" as one token per copy: .* 8 copies in a row give \d+ \(check its added_tokens entry: normalized, single_word, lstrip, rstrip\)/);
  });

  it('an added token with empty content is refused (it can never match text)', async () => {
    await refused(
      withJson('tokenizer.json', (t) => (t['added_tokens'] as Json[]).push({ id: 900, content: '', special: true })),
      /tiny: tokenizer\.json added_tokens\[5\] is \{"id":900,"content":"","special":true\}: added tokens need a non-empty string "content"/,
    );
  });

  it('merges as [a, b] pairs (the newer tokenizers format) load and tokenize as the strings do', async () => {
    const pairs = await load(withJson('tokenizer.json', (t) => ((t['model'] as Json)['merges'] = ((t['model'] as Json)['merges'] as string[]).map((m) => m.split(' ')))));
    const strings = await load(tiny());
    expect([...pairs.tokenize('What is in the picture?').inputIds]).toEqual([...strings.tokenize('What is in the picture?').inputIds]);
  });

  it('special tokens of a wrong type in tokenizer_config.json or special_tokens_map.json are refused, not replaced from the other file', async () => {
    await refused(withJson('tokenizer_config.json', (t) => (t['bos_token'] = [])), /tiny: tokenizer_config\.json bos_token is \[\]; it must be a token string, an \{ "content": string \} object, or null/);
    await refused(withJson('tokenizer_config.json', (t) => (t['unk_token'] = { content: 7 })), /tokenizer_config\.json unk_token is \{"content":7\}/);
    await refused(withJson('special_tokens_map.json', (m) => (m['eos_token'] = 2)), /tiny: special_tokens_map\.json eos_token is 2/);
    await refused(withJson('tokenizer_config.json', (t) => (t['chat_template'] = [1, 2])), /tiny: tokenizer_config\.json chat_template is \[1,2\]; it must be a template string or a list of \{ "name": string, "template": string \}/);
  });

  it('tokenizer_config.json switches given as strings or numbers are refused ("false" would read as true)', async () => {
    await refused(withJson('tokenizer_config.json', (t) => (t['add_bos_token'] = 'false')), /tiny: tokenizer_config\.json add_bos_token is "false"; it must be true or false/);
    await refused(withJson('tokenizer_config.json', (t) => (t['legacy'] = 1)), /tokenizer_config\.json legacy is 1; it must be true or false/);
    await load(withJson('tokenizer_config.json', (t) => (t['add_bos_token'] = null)));
  });

  it('generation_config.json bos / pad ids that are not token ids are refused', async () => {
    for (const [field, bad] of [['bos_token_id', '1'], ['bos_token_id', 1e9], ['bos_token_id', []], ['pad_token_id', 2.5], ['pad_token_id', [0]], ['pad_token_id', -1]] as const) {
      await refused(withJson('generation_config.json', (g) => (g[field] = bad)), new RegExp(`tiny: generation_config\\.json ${field} is .*; it must be a token id \\(an integer from 0 to \\d+\\) or null`));
    }
    expect((await load(withJson('generation_config.json', (g) => (g['pad_token_id'] = null)))).padTokenId).not.toBeUndefined();
  });

  it('an image_token from processor_config.json that tokenizer.json lacks names processor_config.json', async () => {
    await refused(withJson('processor_config.json', (c) => (c['image_token'] = ',image>')), /tokenizer\.json has no ",image>" token \(processor_config\.json image_token ",image>"\)/);
  });
});

describe('image processor settings the tower cannot take (fuzz findings)', () => {
  it('image_mean 1e30 or image_std 1e-30 (finite pixels, NaN logits) are refused with the allowed range', async () => {
    await refused(withJson('preprocessor_config.json', (c) => (c['image_mean'] = [1e20, 0, 0])), /preprocessor_config\.json: image_mean is \[100000000000000000000,0,0\]; it must be a number from -1000 to 1000/);
    await refused(withJson('preprocessor_config.json', (c) => (c['image_std'] = 1e-30), 'llava-onevision'), /image_std is 1e-30; it must be a number from 0\.001 to 1000/);
    // 0–255-scale settings (mean 123.675, std 58.395, no rescale) stay legal.
    await load(withJson('preprocessor_config.json', (c) => Object.assign(c, { image_mean: [123.675, 116.28, 103.53], image_std: [58.395, 57.12, 57.375], do_rescale: false })));
  });

  it('an image_processor_type that names no image processor is refused; the "Fast" suffix is accepted', async () => {
    for (const bad of ['FooImageProcessor', 42, null, 'ImageProcessor', 'AutoImageProcessor']) {
      await refused(withJson('preprocessor_config.json', (c) => (c['image_processor_type'] = bad)), /preprocessor_config\.json image_processor_type is .*; it must name an image processor class/);
    }
    await load(withJson('preprocessor_config.json', (c) => (c['image_processor_type'] = 'CLIPImageProcessorFast')));
    await load(tiny('llava-next')); // LlavaNextImageProcessor: ours, not transformers.js's
  });

  it("LLaVA: a processor output that is not the tower's input is refused at load (it failed in encodeImage before)", async () => {
    await refused(withJson('preprocessor_config.json', (c) => (c['crop_size'] = { height: 28, width: 28 })), /tiny: preprocessor_config\.json crop_size makes 28×28 images, but the vision tower takes 56×56 \(config\.json vision_config\.image_size\)/);
    await refused(withJson('preprocessor_config.json', (c) => (c['do_center_crop'] = false)), /preprocessor_config\.json size makes images of varying size \(size \{"shortest_edge":56\} without a centre crop\)/);
    await refused(withJson('preprocessor_config.json', (c) => (c['size'] = { height: 64, width: 64 }), 'llava-qwen2'), /size makes 64×64 images, but the vision tower takes 60×60/);
    await refused(withJson('preprocessor_config.json', (c) => (c['do_resize'] = false), 'llava-qwen2'), /preprocessor_config\.json do_resize makes images of varying size \(do_resize false without a centre crop\)/);
    const pre = await load(withJson('preprocessor_config.json', (c) => (c['size'] = 56))); // a plain number: the shortest edge
    const img = { data: new Uint8ClampedArray(40 * 32 * 3).fill(90), width: 40, height: 32, channels: 3 as const };
    expect((await pre.preprocessImage(img)).width).toBe(56);
  });

  it('image_grid_pinpoints: too many are refused by their count, an empty list as itself', async () => {
    const many = Array.from({ length: 1000 }, () => [28, 28]);
    await refused(withJson('preprocessor_config.json', (c) => (c['image_grid_pinpoints'] = many), 'llava-next'), /preprocessor_config\.json: image_grid_pinpoints has 1000 pinpoints; it must be a list of 1 to 256 \[height, width\] pairs/);
    await refused(withJson('preprocessor_config.json', (c) => (c['image_grid_pinpoints'] = []), 'llava-next'), /preprocessor_config\.json: image_grid_pinpoints is \[\]; it must be a list of 1 to 256/);
  });

  it('Idefics3: max_image_size as a number, a size without longest_edge, or more tiles than <row_i_col_j> tags are refused at load', async () => {
    await refused(withJson('preprocessor_config.json', (c) => (c['max_image_size'] = 32), 'idefics3'), /preprocessor_config\.json: max_image_size is 32; it must be an object with longest_edge/);
    await refused(withJson('preprocessor_config.json', (c) => (c['size'] = { unknown_edge: 56 }), 'idefics3'), /preprocessor_config\.json size is \{"unknown_edge":56\}; Idefics3ImageProcessor needs \{ "longest_edge": pixels \}/);
    const msg = await refused(withJson('preprocessor_config.json', (c) => (c['size'] = { longest_edge: 4096 }), 'idefics3'), /preprocessor_config\.json size\.longest_edge 4096 splits images into up to 128×128 tiles of 32 px .* tokenizer\.json has no "<row_1_col_7>" token/, 2_000);
    expect(msg).toContain('must be at most 192');
    await load(withJson('preprocessor_config.json', (c) => (c['size'] = { longest_edge: 192 }), 'idefics3'));
    await load(withJson('preprocessor_config.json', (c) => Object.assign(c, { size: { longest_edge: 4096 }, do_image_splitting: false }), 'idefics3'));
  });

  it('processor_config.json image_seq_len that is not a positive integer is refused', async () => {
    for (const bad of ['16', 0, -1, 2.5, 1e9, true]) {
      await refused(withJson('processor_config.json', (c) => (c['image_seq_len'] = bad), 'idefics3'), /processor_config\.json image_seq_len is .*; it must be an integer from 1 to 65536/);
    }
  });
});

describe('chat templates: the question, one image, and memory (fuzz findings)', () => {
  const withJinja = (t: string, arch = 'llava') => {
    const files = tiny(arch);
    files.set('chat_template.jinja', text(t));
    return files;
  };
  const ORIGINAL = dec(tiny().get('chat_template.json')!)['chat_template'] as string;

  it('a template that drops the question, or writes the image twice, is refused at load', async () => {
    await refused(withJinja("{% for m in messages %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% endif %}{% endfor %}{% endfor %}ASSISTANT:"), /tiny: the chat template in chat_template\.jinja drops the question/);
    await refused(withJinja('<image>'), /drops the question/);
    await refused(withJinja("{% for m in messages %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image><image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endfor %}"), /chat_template\.jinja writes the image 2 times: its prompt for one image and a question must hold "<image>" exactly once/);
  });

  it('strings and lists that grow without bound stop at the limit before memory runs out', async () => {
    const bombs = [
      "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}",
      "{% set ns = namespace(s='xy') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
      // This one made the process abort (out of memory) before the limits.
      "{% set ns = namespace(s='xxxxxxxxxx') %}{% for i in range(8) %}{% set ns.s = ns.s.replace('x', ns.s) %}{% endfor %}{{ ns.s|length }}",
      "{{ 'a\nb' | indent(500000000) }}",
      '{{ messages | tojson(indent=500000000) }}',
      "{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(16) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ range(10000)|join(ns.s) }}",
      '{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}{% endfor %}',
      `{% for i in range(9000) %}{{ '${'y'.repeat(999)}' }}{% endfor %}`,
    ];
    for (const bomb of bombs) {
      const before = process.memoryUsage().rss;
      await refused(withJinja(`${bomb}${ORIGINAL}`), /tiny: the chat template in chat_template\.jinja failed: .*(\d+ characters|items).*(at most|in its blocks)/, 3_000);
      expect(process.memoryUsage().rss - before, bomb).toBeLessThan(300 * 2 ** 20);
    }
    // The builders are restored afterwards.
    expect(' '.repeat(3)).toBe('   ');
    expect([1, 2].join('-')).toBe('1-2');
  });

  it('a template whose one-question prompt already fills the context is refused at load', async () => {
    // 10,000 copies of the messages as JSON: under MAX_OUTPUT characters, but ~500,000 tokens for 1,024 positions.
    await refused(
      withJinja(`{% for m in messages %}{% for i in range(10000) %}{{ m['content'] | tojson }}{% endfor %}{% endfor %}${ORIGINAL}`),
      /tiny: the chat template in chat_template\.jinja renders \d+ characters \(far more than 1024 tokens hold\) for a one-line question, but the model has 1024 positions \(config\.json max_position_embeddings\)/,
      2_000,
    );
    // Just over the context: tokenized, then refused by its token count.
    await refused(withJinja(`${'z '.repeat(1100)}${ORIGINAL}`), /renders \d{4} tokens for a one-line question, but the model has 1024 positions/);
  });

  it('harmless variations render exactly as the original', async () => {
    const base = (await load(tiny())).buildPrompt('What is this?', { hasImage: true });
    for (const t of [`{# note #}${ORIGINAL}`, `{% if true %}${ORIGINAL}{% endif %}`, `{{ no_such_variable }}${ORIGINAL}`, `{% for i in range(1000) %}{% endfor %}${ORIGINAL}`]) {
      expect((await load(withJinja(t))).buildPrompt('What is this?', { hasImage: true })).toBe(base);
    }
  });
});
