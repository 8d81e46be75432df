/**
 * Fuzz cases for the tokenizer family: tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json and generation_config.json of the tiny checkpoints, mutated one way
 * per case (issue 20; issue 25 items 6 and 10 and the eos_token_id note). Also the small
 * helpers the preprocessor and chat-template families share (stagedCase, corruptBytes, …).
 */
import type { Rng } from '../../../src/util/random';
import {
  FUZZ_ARCHS,
  editJson,
  getPath,
  jsonBytes,
  loadCase,
  pick,
  readJsonFile,
  textBytes,
  type CaseGenerator,
  type Expectation,
  type FuzzArch,
  type FuzzCase,
  type FuzzFamily,
  type GenContext,
} from '../case';

type Json = Record<string, unknown>;
type Files = Map<string, Uint8Array>;

// ---- helpers shared with preprocessor.ts and chat-template.ts ------------------------------

/** A JSON file's bytes spoiled one way: cut short, a stray byte, not UTF-8, empty, a BOM, or trailing junk. */
export function corruptBytes(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; how: string; expect: Expectation } {
  const kind = rng.int(0, 7);
  switch (kind) {
    case 0: {
      const at = rng.int(1, Math.max(2, bytes.length - 1));
      return { bytes: bytes.slice(0, at), how: `truncated at byte ${at} of ${bytes.length}`, expect: 'refuse' };
    }
    case 1: {
      const out = bytes.slice();
      const at = rng.int(0, out.length);
      out[at] = pick(rng, [0x7b, 0x5d, 0x22, 0x2c, 0x3a]); // { ] " , :
      // A stray structural character can, rarely, leave valid JSON of another meaning: 'either'.
      return { bytes: out, how: `byte ${at} replaced by ${JSON.stringify(String.fromCharCode(out[at]!))}`, expect: 'either' };
    }
    case 2: {
      const out = new Uint8Array(bytes.length + 2);
      out.set(bytes.subarray(0, 1));
      out.set([0xff, 0xfe], 1);
      out.set(bytes.subarray(1), 3);
      return { bytes: out, how: 'bytes 0xff 0xfe (not UTF-8) after the first byte', expect: 'refuse' };
    }
    case 3:
      return { bytes: new Uint8Array(0), how: 'empty (0 bytes)', expect: 'refuse' };
    case 4: {
      const text = pick(rng, ['null', '[]', '42', '"tokenizer"', 'true']);
      // `null` is read as "no such file", as Python's processors read it: legal for optional files.
      return { bytes: textBytes(text), how: `the JSON value ${text} (not an object)`, expect: text === 'null' ? 'either' : 'refuse' };
    }
    case 5: {
      const out = new Uint8Array(bytes.length + 3);
      out.set([0xef, 0xbb, 0xbf]);
      out.set(bytes, 3);
      // Python's json.load refuses a BOM; some loaders skip it: legal enough to accept either way.
      return { bytes: out, how: 'a UTF-8 byte-order mark in front', expect: 'either' };
    }
    default: {
      const tail = textBytes(pick(rng, ['}', ' {"x": 1}', ',', 'garbage']));
      const out = new Uint8Array(bytes.length + tail.length);
      out.set(bytes);
      out.set(tail, bytes.length);
      return { bytes: out, how: `trailing ${JSON.stringify(new TextDecoder().decode(tail))}`, expect: 'refuse' };
    }
  }
}

/** A copy of the files with `file` replaced by raw bytes. */
export function withBytes(files: Files, file: string, bytes: Uint8Array): Files {
  const next = new Map(files);
  next.set(file, bytes);
  return next;
}

export function without(files: Files, ...names: string[]): Files {
  const next = new Map(files);
  for (const n of names) next.delete(n);
  return next;
}

/**
 * A case whose refusal must come from Engine.load (template syntax, out-of-range settings),
 * not from the first question: a refusal that only comes at generate is reported as unclear
 * (the error is re-thrown with its mentions masked), since the bad file was accepted at load.
 */
export function loadStageCase(family: FuzzFamily, arch: FuzzArch, name: string, mentions: readonly string[], files: ReadonlyMap<string, Uint8Array>): FuzzCase {
  return {
    family,
    name: `${arch}: ${name}`,
    expect: 'refuse',
    mentions,
    async run(env) {
      await env.engine.load({ files, name: `fuzz:${arch}` }, { signal: env.signal });
      let result;
      try {
        result = await env.engine.generate({ ...env.defaultRequest(arch), signal: env.signal });
      } catch (e) {
        let message = e instanceof Error ? e.message : String(e);
        for (const m of mentions) message = message.split(m).join('<…>');
        const late = new Error(`accepted at load, refused only at the first question: ${message}`);
        late.name = 'LateRefusal';
        throw late;
      }
      return { result };
    },
  };
}

/** A random value of a JSON type other than the one a field should have. */
export function wrongValue(rng: Rng, not: 'string' | 'number' | 'array' | 'object' | 'boolean'): unknown {
  const all: [string, unknown][] = [
    ['string', pick(rng, ['', 'x', '2', 'true', '<s>'])],
    ['number', pick(rng, [0, -1, 2.5, 1e9, 1e300])],
    ['array', pick(rng, [[], [1, 2], ['a']])],
    ['object', pick(rng, [{}, { a: 1 }])],
    ['boolean', pick(rng, [true, false])],
    ['null', null],
  ];
  return pick(rng, all.filter(([t]) => t !== not))[1];
}

// ---- what the tiny checkpoints hold --------------------------------------------------------

/** The image placeholder of every tiny arch. */
const IMAGE_TOKEN = '<image>';
/** Added tokens that the default question's prompt contains, per arch (template text or the post-processor's BOS). */
const PROMPT_SPECIALS: Record<FuzzArch, readonly string[]> = {
  llava: ['<s>'],
  'llava-qwen2': ['<|im_start|>', '<|im_end|>'],
  'llava-next': ['<s>'],
  'llava-onevision': ['<|im_start|>', '<|im_end|>'],
  idefics3: ['<|im_start|>', '<end_of_utterance>', '<fake_token_around_image>', '<global-img>'],
};

function vocabSize(files: Files): number {
  const config = readJsonFile(files, 'config.json');
  const n = getPath(config, 'text_config.vocab_size') ?? config['vocab_size'];
  if (typeof n !== 'number') throw new Error('fuzz: tiny config.json has no vocab_size');
  return n;
}

const vocabOf = (t: Json): Record<string, number> => (t['model'] as Json)['vocab'] as Record<string, number>;
const addedOf = (t: Json): Json[] => t['added_tokens'] as Json[];

/** A catastrophic-backtracking pattern and text it fails on slowly (the prompt has words and spaces). */
const REDOS: readonly string[] = ['(\\w+\\s?)+$', '(a|aa)+$', '([a-zA-Z]+)*!', '(\\s*\\w*)*\\d', '((\\w)+)+\\u0000', '(.*a){30}'];
/** Real, linear-time splitting patterns (GPT-2 / Llama 3 style): harmless when valid. */
const GOOD_SPLITS: readonly string[] = [
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
];
const BAD_REGEXES: readonly string[] = ['([', '(?<', '[z-a]', 'a{2,1}', '\\', '(?P<x'];

function splitPreTokenizer(pattern: unknown): Json {
  return { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false };
}

/** A normalizer Sequence nested `depth` deep, as JSON text (issue 20: deep nesting). */
function nestedNormalizerText(depth: number): string {
  return `${'{"type":"Sequence","normalizers":['.repeat(depth)}{"type":"Lowercase"}${']}'.repeat(depth)}`;
}

/** Every key of a JSON object in reverse order, recursively (a harmless reordering). */
function reorder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reorder);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v as Json).reverse().map(([k, x]) => [k, reorder(x)]));
  return v;
}

type Variant = () => FuzzCase;

function tokenizerJsonVariants(rng: Rng, arch: FuzzArch, base: Files): Variant[] {
  const T = 'tokenizer.json';
  // A broken tokenizer.json must be refused at load (the loader tokenizes a probe prompt).
  const tok = (name: string, expect: Expectation, mentions: readonly string[], edit: (t: Json) => unknown) =>
    expect === 'refuse' ? loadStageCase('tokenizer', arch, `${T}: ${name}`, mentions, editJson(base, T, edit)) : loadCase('tokenizer', arch, `${T}: ${name}`, expect, mentions, editJson(base, T, edit));
  // Ids beyond the embedding are found when a prompt holds them (Engine.run), not at load.
  const tokAtRun = (name: string, mentions: readonly string[], edit: (t: Json) => unknown) => loadCase('tokenizer', arch, `${T}: ${name}`, 'refuse', mentions, editJson(base, T, edit));
  const vsize = vocabSize(base);
  return [
    () => {
      const c = corruptBytes(rng, base.get(T)!);
      return loadCase('tokenizer', arch, `${T}: ${c.how}`, c.expect, [T], withBytes(base, T, c.bytes));
    },
    () => loadCase('tokenizer', arch, `${T} missing`, 'refuse', [T], without(base, T)),
    () => tok('model.vocab as a list of strings', 'refuse', ['model.vocab'], (t) => void ((t['model'] as Json)['vocab'] = Object.keys(vocabOf(t)))),
    () => {
      const v = pick(rng, ['abc', 42, null, true, [[1, 'x']]]);
      return tok(`model.vocab = ${JSON.stringify(v)}`, 'refuse', ['model.vocab'], (t) => void ((t['model'] as Json)['vocab'] = v));
    },
    () => tok('model.vocab missing', 'refuse', ['model.vocab'], (t) => void delete (t['model'] as Json)['vocab']),
    () => {
      const v = pick(rng, [null, 'x', 42, { a: 1 }, [1, 2]]);
      return tok(`model = ${JSON.stringify(v)}`, 'refuse', ['tokenizer.json model'], (t) => void (t['model'] = v));
    },
    () => {
      const v = pick<unknown>(rng, ['▁ t', 42, { '▁': 't' }, [1, 2], [['▁']], [['▁', 't', 'x']], [[1, 2]], [null]]);
      return tok(`model.merges = ${JSON.stringify(v)}`, 'refuse', ['model.merges'], (t) => void ((t['model'] as Json)['merges'] = v));
    },
    () => tok('model.merges as [a, b] pairs (the newer tokenizers format)', 'accept', [], (t) => {
      const m = t['model'] as Json;
      m['merges'] = (m['merges'] as string[]).map((s) => s.split(' '));
    }),
    () => tok('model.merges naming pieces not in the vocabulary', 'either', ['model.merges'], (t) => void ((t['model'] as Json)['merges'] = ['q9 z9', ...((t['model'] as Json)['merges'] as string[])])),
    () => {
      const type = pick(rng, ['Foo', '', 42, null]);
      return tok(`model.type = ${JSON.stringify(type)}`, 'refuse', ['model.type', 'tokenizer.json model'], (t) => void ((t['model'] as Json)['type'] = type));
    },
    () => {
      const v = pick<unknown>(rng, [{ a: 1 }, 'x', 42, true]);
      return tok(`added_tokens = ${JSON.stringify(v)}`, 'refuse', ['added_tokens'], (t) => void (t['added_tokens'] = v));
    },
    () => {
      const broken = pick<(e: Json) => void>(rng, [(e) => delete e['content'], (e) => (e['content'] = 5), (e) => (e['id'] = String(e['id'])), (e) => delete e['id'], (e) => (e['id'] = null)]);
      return tok('an added_tokens entry without a string content or an integer id', 'refuse', ['added_tokens'], (t) => {
        const list = addedOf(t);
        broken(list[rng.int(0, list.length)]!);
      });
    },
    () => {
      const id = pick(rng, [-1, -14, 1.5, 2 ** 32 - 14, 2 ** 53, 1e300]);
      return tok(`a model.vocab id = ${id}`, 'refuse', ['model.vocab'], (t) => {
        const v = vocabOf(t);
        const keys = Object.keys(v);
        v[keys[rng.int(0, keys.length)]!] = id;
      });
    },
    () => {
      const id = pick(rng, [-1, 1.5, 4294967282]);
      return tok(`an added_tokens id = ${id}`, 'refuse', ['added_tokens'], (t) => {
        const list = addedOf(t);
        list[rng.int(0, list.length)]!['id'] = id;
      });
    },
    // Issue 25 #6: ids at or beyond the embedding's rows.
    () => {
      const shift = pick(rng, [vsize, vsize + 7, 100_000]);
      return tokAtRun(`every model.vocab id + ${shift} (beyond vocab_size ${vsize})`, [T, 'vocab_size'], (t) => {
        const v = vocabOf(t);
        for (const k of Object.keys(v)) v[k] = v[k]! + shift;
      });
    },
    () => {
      const special = pick(rng, PROMPT_SPECIALS[arch]);
      const id = pick(rng, [vsize, vsize + 1, 65_000]);
      return tokAtRun(`${special} (in the prompt) moved to id ${id} ≥ vocab_size ${vsize}`, [T, 'vocab_size', special], (t) => {
        for (const e of addedOf(t)) if (e['content'] === special) e['id'] = id;
        // Keep the post-processor's copy of the id consistent, so only the range is wrong.
        const st = getPath(t, `post_processor.special_tokens.${special}`) as Json | undefined;
        if (st) st['ids'] = [id];
      });
    },
    () => {
      const content = `<extra_${rng.int(0, 1000)}>`;
      const id = pick(rng, [vsize, vsize + 3, 1 << 20]);
      // A token the prompt never holds: a mismatch, but one no id of this question reaches.
      return tok(`an extra added token ${content} at id ${id} ≥ vocab_size ${vsize}`, 'either', [T, 'vocab_size'], (t) => void addedOf(t).push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
    },
    () => tok('two model.vocab pieces share an id', 'either', [T, 'duplicate'], (t) => {
      const v = vocabOf(t);
      const keys = Object.keys(v);
      v[keys[rng.int(3, keys.length)]!] = v[keys[rng.int(3, keys.length)]!]!;
    }),
    () => tok(`a model.vocab piece takes the image token's id`, 'either', [T, IMAGE_TOKEN, 'duplicate'], (t) => {
      const imageId = addedOf(t).find((e) => e['content'] === IMAGE_TOKEN)!['id'] as number;
      const v = vocabOf(t);
      const keys = Object.keys(v);
      v[keys[rng.int(3, keys.length)]!] = imageId;
    }),
    () => tok(`${IMAGE_TOKEN} removed from added_tokens`, 'refuse', [IMAGE_TOKEN], (t) => void (t['added_tokens'] = addedOf(t).filter((e) => e['content'] !== IMAGE_TOKEN))),
    () => {
      const to = pick(rng, [3, 10, 0]);
      return tok(`${IMAGE_TOKEN} mapped to id ${to} (config.json says otherwise)`, 'refuse', [IMAGE_TOKEN, 'image_token'], (t) => {
        for (const e of addedOf(t)) if (e['content'] === IMAGE_TOKEN) e['id'] = to;
      });
    },
    () => tok(`${IMAGE_TOKEN} renamed in added_tokens`, 'refuse', [IMAGE_TOKEN], (t) => {
      for (const e of addedOf(t)) if (e['content'] === IMAGE_TOKEN) e['content'] = '<img>';
    }),
    () => {
      const p = pick(rng, BAD_REGEXES);
      return tok(`pre_tokenizer Split with the invalid regex ${JSON.stringify(p)}`, 'refuse', ['pre_tokenizer', 'regex', 'regular expression'], (t) => void (t['pre_tokenizer'] = splitPreTokenizer(p)));
    },
    () => {
      const p = pick(rng, REDOS);
      // Exponential backtracking on the prompt's words: must be refused, not hang the worker.
      return tok(`pre_tokenizer Split with the catastrophic regex ${JSON.stringify(p)}`, 'refuse', ['pre_tokenizer'], (t) => void (t['pre_tokenizer'] = splitPreTokenizer(p)));
    },
    () => {
      const p = pick(rng, REDOS);
      return tok(`normalizer Replace with the catastrophic regex ${JSON.stringify(p)}`, 'refuse', ['normalizer'], (t) => void (t['normalizer'] = { type: 'Replace', pattern: { Regex: p }, content: 'x' }));
    },
    () => {
      const v = pick<unknown>(rng, [42, { String: 5 }, { Regex: 7 }, { Regex: null }, {}]);
      return tok(`pre_tokenizer Split pattern = ${JSON.stringify(v)}`, 'refuse', ['pre_tokenizer'], (t) => void (t['pre_tokenizer'] = { type: 'Split', pattern: v, behavior: 'Isolated', invert: false }));
    },
    () => {
      const p = pick(rng, GOOD_SPLITS);
      // A real model's pre-tokenizer: legal; it changes the tokens, so not 'accept'.
      return tok(`pre_tokenizer Split with a GPT-style regex`, 'either', ['pre_tokenizer'], (t) => void (t['pre_tokenizer'] = splitPreTokenizer(p)));
    },
    () => {
      const v = pick<unknown>(rng, ['Lowercase', 42, [1, 2], { type: 'Foo' }, { type: 7 }, { type: 'Sequence', normalizers: 'x' }, { type: 'Sequence', normalizers: [null] }, { type: 'Prepend', prepend: 5 }, { type: 'Replace', pattern: { String: ' ' }, content: 3 }]);
      return tok(`normalizer = ${JSON.stringify(v)}`, 'refuse', ['normalizer'], (t) => void (t['normalizer'] = v));
    },
    () => {
      const v = pick<unknown>(rng, ['ByteLevel', 42, { type: 'Foo' }, { type: 'Sequence', pretokenizers: 'x' }, { type: 'Sequence', pretokenizers: [7] }]);
      return tok(`pre_tokenizer = ${JSON.stringify(v)}`, 'refuse', ['pre_tokenizer'], (t) => void (t['pre_tokenizer'] = v));
    },
    () => {
      const v = pick<unknown>(rng, ['Fuse', 42, { type: 'Foo' }, { type: 'Sequence', decoders: 'x' }, { type: 'Sequence', decoders: [null] }]);
      return tok(`decoder = ${JSON.stringify(v)}`, 'refuse', ['decoder'], (t) => void (t['decoder'] = v));
    },
    () => {
      const v = pick<unknown>(rng, ['TemplateProcessing', 42, { type: 'Foo' }, { type: 'TemplateProcessing', single: 'x', pair: [], special_tokens: {} }]);
      return tok(`post_processor = ${JSON.stringify(v)}`, 'refuse', ['post_processor'], (t) => void (t['post_processor'] = v));
    },
    () => {
      const depth = pick(rng, [50, 2_000, 8_000]);
      // 50 levels is legal (if silly); thousands are only there to overflow a recursive loader.
      // Written as text: JSON.stringify itself recurses and would overflow on thousands of levels.
      const json = readJsonFile(base, T);
      json['normalizer'] = '__FUZZ_NEST__';
      const text = new TextDecoder().decode(jsonBytes(json)).replace('"__FUZZ_NEST__"', nestedNormalizerText(depth));
      return loadCase('tokenizer', arch, `${T}: normalizer Sequence nested ${depth} deep`, depth <= 50 ? 'either' : 'refuse', ['normalizer', 'nested', T], withBytes(base, T, textBytes(text)));
    },
    () => tok('normalizer null (no normalizer)', 'either', ['normalizer'], (t) => void (t['normalizer'] = null)),
    () => tok('an added token with empty content', 'refuse', ['added_tokens'], (t) => void addedOf(t).push({ id: 900, content: '', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    () => {
      const content = pick(rng, ['e', ' ', 'a', 'the']);
      return tok(`a special added token ${JSON.stringify(content)} (a common substring)`, 'either', ['added_tokens'], (t) => void addedOf(t).push({ id: vsize - 1, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
    },
    () => {
      const n = pick(rng, [10_000, 100_000]);
      return tok(`${n} extra added tokens`, 'either', ['added_tokens', T], (t) => {
        const list = addedOf(t);
        for (let i = 0; i < n; i++) list.push({ id: 1000 + i, content: `<x${i}>`, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
      });
    },
    () => {
      const n = pick(rng, [50_000, 200_000]);
      return tok(`${n} extra model.vocab pieces`, 'either', ['model.vocab', T], (t) => {
        const v = vocabOf(t);
        for (let i = 0; i < n; i++) v[`q${i}z`] = 1000 + i;
      });
    },
    () => tok('a 100,000-character model.vocab piece', 'either', ['model.vocab', T], (t) => void (vocabOf(t)['w'.repeat(100_000)] = 999)),
    () => {
      const p = pick(rng, ['(?:)', '\\b', '(?=a)', 'x*']);
      // Patterns that match the empty string: legal; splitting on them must still end.
      return tok(`pre_tokenizer Split on ${JSON.stringify(p)} (matches the empty string)`, 'either', ['pre_tokenizer'], (t) => void (t['pre_tokenizer'] = splitPreTokenizer(p)));
    },
    () => {
      const n = pick(rng, [10_000, 100_000]);
      // A normalizer that inflates every space: absurd but legal; the prompt grows n-fold and must be refused by its length, quickly.
      return tok(`normalizer Replace " " by ${n} characters`, 'either', ['positions', 'tokens', 'normalizer', T], (t) => void (t['normalizer'] = { type: 'Replace', pattern: { String: ' ' }, content: 'y'.repeat(n) }));
    },
    () => {
      const v = pick<unknown>(rng, [{ max_length: 3, strategy: 'LongestFirst', stride: 0, direction: 'Right' }, { max_length: 0 }, 'x', 42]);
      // Python's tokenizer truncates every encoding so: legal, but the image tokens may be cut off.
      return tok(`truncation = ${JSON.stringify(v)}`, 'either', ['truncation', T, 'image'], (t) => void (t['truncation'] = v));
    },
    () => {
      const v = pick<unknown>(rng, [{ strategy: { Fixed: 2000 }, direction: 'Left', pad_to_multiple_of: null, pad_id: 0, pad_type_id: 0, pad_token: '<unk>' }, { strategy: 'BatchLongest', direction: 'Right', pad_id: 1e9, pad_token: '<x>' }, 'x']);
      return tok(`padding = ${JSON.stringify(v).slice(0, 50)}`, 'either', ['padding', T, 'positions'], (t) => void (t['padding'] = v));
    },
    () => {
      const flag = pick(rng, ['lstrip', 'rstrip', 'normalized', 'single_word']);
      return tok(`${IMAGE_TOKEN} with ${flag} true`, 'either', [IMAGE_TOKEN], (t) => {
        for (const e of addedOf(t)) if (e['content'] === IMAGE_TOKEN) e[flag] = true;
      });
    },
    () => tok('version = 42', 'accept', [], (t) => void (t['version'] = 42)),
    () => tok('keys of every object in reverse order', 'accept', [], (t) => reorder(t)),
    () => tok('an unknown top-level field', 'accept', [], (t) => void (t['x_fuzz'] = { anything: [1, 2, 3] })),
    () => tok('model.unk_token not in the vocabulary', 'either', ['unk_token'], (t) => void ((t['model'] as Json)['unk_token'] = '<nope>')),
    () => tok('added_tokens marked not special', 'either', ['added_tokens'], (t) => {
      for (const e of addedOf(t)) e['special'] = false;
    }),
  ];
}

function tokenizerConfigVariants(rng: Rng, arch: FuzzArch, base: Files): Variant[] {
  const TC = 'tokenizer_config.json';
  const cfg = (name: string, expect: Expectation, mentions: readonly string[], edit: (t: Json) => unknown, files = base) =>
    loadCase('tokenizer', arch, `${TC}: ${name}`, expect, mentions, editJson(files, TC, edit));
  const tokenField = pick(rng, ['eos_token', 'bos_token', 'pad_token', 'unk_token'] as const);
  return [
    () => {
      const c = corruptBytes(rng, base.get(TC)!);
      return loadCase('tokenizer', arch, `${TC}: ${c.how}`, c.expect, [TC], withBytes(base, TC, c.bytes));
    },
    () => loadCase('tokenizer', arch, `${TC} missing`, 'either', [TC], without(base, TC)),
    () => {
      const v = pick<unknown>(rng, [42, true, { a: 1 }, [1, 2]]);
      // chat_template.json comes first, so this one is never rendered; a wrong type is still wrong.
      return cfg(`chat_template = ${JSON.stringify(v)} (chat_template.json present)`, 'either', ['chat_template'], (t) => void (t['chat_template'] = v));
    },
    () => {
      const v = pick<unknown>(rng, [42, true, { a: 1 }, [1, 2], [{ name: 'default', template: 7 }]]);
      return cfg(`chat_template = ${JSON.stringify(v)} (no chat_template.json)`, 'refuse', ['chat_template'], (t) => void (t['chat_template'] = v), without(base, 'chat_template.json'));
    },
    () => {
      const v = pick<unknown>(rng, [2, 2.5, true, [], ['</s>'], { id: 2 }, { content: 7 }]);
      return loadStageCase('tokenizer', arch, `${TC}: ${tokenField} = ${JSON.stringify(v)}`, [tokenField], editJson(base, TC, (t) => void (t[tokenField] = v)));
    },
    () => cfg(`${tokenField} = "<nope>" (not a token of tokenizer.json)`, 'either', [tokenField], (t) => void (t[tokenField] = '<nope>')),
    () => cfg(`${tokenField} as an AddedToken object`, 'either', [tokenField], (t) => {
      const cur = t[tokenField];
      if (typeof cur === 'string') t[tokenField] = { __type: 'AddedToken', content: cur, lstrip: false, normalized: false, rstrip: false, single_word: false };
    }),
    () => {
      const v = pick<unknown>(rng, [0, -1, 1, 1e30, 'x', null, 2.5]);
      return cfg(`model_max_length = ${JSON.stringify(v)}`, 'either', ['model_max_length'], (t) => void (t['model_max_length'] = v));
    },
    () => {
      const v = pick<unknown>(rng, ['x', 42, [1, 2], { abc: { content: '<s>' } }, { '0': 'x' }, { '-1': { content: 5 } }]);
      // tokenizer.json's added_tokens is what fast tokenizers read; this copy is informational.
      return cfg(`added_tokens_decoder = ${JSON.stringify(v)}`, 'either', ['added_tokens_decoder'], (t) => void (t['added_tokens_decoder'] = v));
    },
    () => {
      const v = pick<unknown>(rng, ['FooTokenizer', 42, '', 'PreTrainedTokenizerFast']);
      return cfg(`tokenizer_class = ${JSON.stringify(v)}`, 'either', ['tokenizer_class'], (t) => void (t['tokenizer_class'] = v));
    },
    () => {
      const field = pick(rng, ['add_bos_token', 'add_eos_token', 'add_prefix_space', 'legacy', 'clean_up_tokenization_spaces', 'split_special_tokens']);
      const v = pick<unknown>(rng, ['false', 'true', 1, 0, [], {}]);
      // "false" is truthy: read as a switch it would do the opposite of what it says.
      return loadStageCase('tokenizer', arch, `${TC}: ${field} = ${JSON.stringify(v)}`, [field], editJson(base, TC, (t) => void (t[field] = v)));
    },
    () => cfg('add_bos_token = null', 'either', ['add_bos_token'], (t) => void (t['add_bos_token'] = null)),
    () => cfg('keys in reverse order and an unknown field', 'accept', [], (t) => ({ x_fuzz: 1, ...(reorder(t) as Json) })),
    () => {
      const v = pick<unknown>(rng, [42, 'x', [null], [{ content: 5 }]]);
      return cfg(`additional_special_tokens = ${JSON.stringify(v)}`, 'either', ['additional_special_tokens'], (t) => void (t['additional_special_tokens'] = v));
    },
  ];
}

function specialMapVariants(rng: Rng, arch: FuzzArch, base: Files): Variant[] {
  const SM = 'special_tokens_map.json';
  const field = pick(rng, ['eos_token', 'pad_token', 'bos_token']);
  return [
    () => {
      const c = corruptBytes(rng, base.get(SM)!);
      return loadCase('tokenizer', arch, `${SM}: ${c.how}`, c.expect, [SM], withBytes(base, SM, c.bytes));
    },
    () => loadCase('tokenizer', arch, `${SM} missing`, 'either', [SM], without(base, SM)),
    () => {
      const v = pick<unknown>(rng, [2, [], { content: 7 }, true]);
      // tokenizer_config.json names these tokens itself; the map is a fallback it does not need.
      return loadCase('tokenizer', arch, `${SM}: ${field} = ${JSON.stringify(v)}`, 'either', [SM, field], editJson(base, SM, (m) => void (m[field] = v)));
    },
    () => {
      const v = pick<unknown>(rng, [2, [], { content: 7 }, true]);
      // Without the tokenizer_config.json entry the map is where the token comes from: a wrong type there is wrong.
      const files = editJson(editJson(base, SM, (m) => void (m['eos_token'] = v)), 'tokenizer_config.json', (t) => void delete t['eos_token']);
      return loadCase('tokenizer', arch, `${SM}: eos_token = ${JSON.stringify(v)}, none in tokenizer_config.json`, 'refuse', [SM, 'eos_token'], files);
    },
    () => {
      const v = pick<unknown>(rng, ['x', 42, { a: 1 }]);
      return loadCase('tokenizer', arch, `${SM}: additional_special_tokens = ${JSON.stringify(v)}`, 'either', [SM, 'additional_special_tokens'], editJson(base, SM, (m) => void (m['additional_special_tokens'] = v)));
    },
  ];
}

function generationVariants(rng: Rng, arch: FuzzArch, base: Files): Variant[] {
  const G = 'generation_config.json';
  const vsize = vocabSize(base);
  const gen = (name: string, expect: Expectation, mentions: readonly string[], edit: (g: Json) => unknown) => loadCase('tokenizer', arch, `${G}: ${name}`, expect, mentions, editJson(base, G, edit));
  const eos = readJsonFile(base, G)['eos_token_id'] as number;
  return [
    () => {
      const c = corruptBytes(rng, base.get(G)!);
      return loadCase('tokenizer', arch, `${G}: ${c.how}`, c.expect, [G], withBytes(base, G, c.bytes));
    },
    () => loadCase('tokenizer', arch, `${G} missing`, 'either', [G], without(base, G)),
    () => {
      const v = pick<unknown>(rng, [String(eos), [], -1, 2.5, vsize, vsize + 1, 1e9, [eos, 'x'], [eos, -3], true, { id: eos }, [[eos]]]);
      return loadStageCase('tokenizer', arch, `${G}: eos_token_id = ${JSON.stringify(v)}`, ['eos_token_id', 'eos'], editJson(base, G, (g) => void (g['eos_token_id'] = v)));
    },
    () => gen('eos_token_id = null', 'either', ['eos_token_id'], (g) => void (g['eos_token_id'] = null)),
    () => gen(`eos_token_id = [${eos}, ${eos}, 0]`, 'either', ['eos_token_id'], (g) => void (g['eos_token_id'] = [eos, eos, 0])),
    () => gen(`eos_token_id = [${eos}] (a list of one)`, 'accept', [], (g) => void (g['eos_token_id'] = [eos])),
    () => {
      const v = pick<unknown>(rng, ['1', [], -1, 2.5, vsize + 5, 1e9, true]);
      return gen(`bos_token_id = ${JSON.stringify(v)}`, 'refuse', ['bos_token_id'], (g) => void (g['bos_token_id'] = v));
    },
    () => {
      const v = pick<unknown>(rng, ['0', -1, 2.5, vsize + 5, [0]]);
      return gen(`pad_token_id = ${JSON.stringify(v)}`, 'refuse', ['pad_token_id'], (g) => void (g['pad_token_id'] = v));
    },
    () => {
      const v = pick<unknown>(rng, [-1, 0, 'x', 1e12]);
      // The engine takes maxNewTokens from the request, not from here.
      return gen(`max_new_tokens = ${JSON.stringify(v)}`, 'either', ['max_new_tokens'], (g) => void (g['max_new_tokens'] = v));
    },
    () => gen('an unknown field and keys reversed', 'accept', [], (g) => ({ ...(reorder(g) as Json), x_fuzz: [1] })),
    () => gen(`eos_token_id = a list of 5,000 ids with ${eos} in it`, 'either', ['eos_token_id'], (g) => void (g['eos_token_id'] = Array.from({ length: 5000 }, (_, i) => (i === 2500 ? eos : i % vsize)))),
  ];
}

export const tokenizerCases: CaseGenerator = {
  family: 'tokenizer',
  weight: 2,
  make(rng: Rng, gen: GenContext) {
    const arch = pick(rng, FUZZ_ARCHS);
    const base = gen.baseFiles(arch);
    // tokenizer.json is the largest surface; the others share the rest.
    const groups: [number, (rng: Rng, arch: FuzzArch, base: Files) => Variant[]][] = [
      [5, tokenizerJsonVariants],
      [2, tokenizerConfigVariants],
      [1, specialMapVariants],
      [2, generationVariants],
    ];
    let r = rng.next() * groups.reduce((s, [w]) => s + w, 0);
    let chosen = groups[0]![1];
    for (const [w, g] of groups) {
      if ((r -= w) < 0) {
        chosen = g;
        break;
      }
    }
    return pick(rng, chosen(rng, arch, base))();
  },
};
