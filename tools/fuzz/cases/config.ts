/**
 * Fuzz cases for config.json: wrong-typed, missing, zero, negative, fractional, overflowing and
 * absurd values of the fields the loaders read (text_config, vision_config and the top level),
 * cross-field inconsistencies (heads vs hidden, kv heads vs heads, vocab vs the embedding,
 * image size vs patch size, the image token vs the vocabulary), unknown model types, broken
 * JSON, and harmless variations that must give the unchanged answer.
 *
 * Labels: 'refuse' for values no model can have or that contradict the weights; 'accept' for
 * edits that do not change the model (extra keys, order, whitespace, architectures, torch_dtype,
 * transformers_version); 'either' for legal values that change the model (rope_theta 500,
 * rms_norm_eps 1e-3, a removed field whose default then applies).
 */
import { FUZZ_ARCHS, editJson, getPath, loadCase, pick, pickWeighted, readJsonFile, setPath, textBytes, type CaseGenerator, type Expectation, type FuzzArch, type FuzzCase, type GenContext } from '../case';
import type { Rng } from '../../../src/util/random';

const FILE = 'config.json';

/** The text_config fields that are positive integer sizes. */
const TEXT_SIZES = ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'vocab_size', 'max_position_embeddings'] as const;
const VISION_SIZES = ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'image_size', 'patch_size', 'num_channels'] as const;

/** The image token's key per arch. */
function imageTokenKey(arch: FuzzArch): string {
  return arch === 'idefics3' ? 'image_token_id' : 'image_token_index';
}

type Make = (rng: Rng, arch: FuzzArch, gen: GenContext) => FuzzCase;

function edited(arch: FuzzArch, gen: GenContext, name: string, expect: Expectation, mentions: readonly string[], edit: (json: Record<string, unknown>) => unknown): FuzzCase {
  return loadCase('config', arch, `${FILE}: ${name}`, expect, mentions, editJson(gen.baseFiles(arch), FILE, edit));
}

function setField(arch: FuzzArch, gen: GenContext, path: string, value: unknown, expect: Expectation, mentions: readonly string[]): FuzzCase {
  const shown = value === undefined ? 'removed' : `= ${JSON.stringify(value)?.slice(0, 60)}`;
  return edited(arch, gen, `${path} ${shown}`, expect, mentions, (j) => setPath(j, path, value));
}

/** The last key of a dotted path: what a clear error names. */
function leaf(path: string): string {
  return path.split('.').pop()!;
}

/** A wrong-typed or impossible value for a positive integer field. */
function badSize(rng: Rng, current: number): { value: unknown; what: string } {
  return pick(rng, [
    { value: String(current), what: 'string' },
    { value: 'false', what: 'string' },
    { value: true, what: 'boolean' },
    { value: [current], what: 'array' },
    { value: { value: current }, what: 'object' },
    { value: 0, what: 'zero' },
    { value: -current, what: 'negative' },
    { value: -1, what: 'negative' },
    { value: current + 0.5, what: 'fractional' },
    { value: 1e300, what: 'absurd' },
    { value: 1e9, what: 'absurd' },
    { value: 5e6, what: 'absurd' },
    { value: 2 ** 53, what: 'absurd' },
    { value: 2 ** 32 + current, what: 'absurd' },
  ]);
}

const sizeCases: Make = (rng, arch, gen) => {
  const json = readJsonFile(gen.baseFiles(arch), FILE);
  const text = rng.next() < 0.6;
  const path = `${text ? 'text_config' : 'vision_config'}.${pick(rng, text ? TEXT_SIZES : VISION_SIZES)}`;
  const current = getPath(json, path);
  const base = typeof current === 'number' ? current : 64;
  const { value } = badSize(rng, base);
  return setField(arch, gen, path, value, 'refuse', [leaf(path)]);
};

/** A valid positive integer that disagrees with the weights (or makes the model impossible). */
const mismatchCases: Make = (rng, arch, gen) => {
  const json = readJsonFile(gen.baseFiles(arch), FILE);
  const kind = pick(rng, ['text-hidden', 'text-intermediate', 'text-layers-more', 'text-layers-fewer', 'vocab', 'heads-not-dividing', 'kv-not-dividing', 'kv-more', 'vision-hidden', 'vision-heads', 'vision-layers-more', 'vision-layers-fewer', 'image-size', 'patch-size', 'channels', 'head-dim'] as const);
  const t = (k: string) => getPath(json, `text_config.${k}`) as number;
  const v = (k: string) => getPath(json, `vision_config.${k}`) as number;
  switch (kind) {
    case 'text-hidden':
      return setField(arch, gen, 'text_config.hidden_size', t('hidden_size') * 2, 'refuse', ['hidden_size']);
    case 'text-intermediate':
      return setField(arch, gen, 'text_config.intermediate_size', t('intermediate_size') + 4, 'refuse', ['intermediate_size']);
    case 'text-layers-more':
      return setField(arch, gen, 'text_config.num_hidden_layers', t('num_hidden_layers') + rng.int(1, 4), 'refuse', ['num_hidden_layers']);
    case 'text-layers-fewer':
      // Fewer layers than the checkpoint holds: transformers loads and warns about unused weights. Legal, different model.
      return setField(arch, gen, 'text_config.num_hidden_layers', 1, 'either', ['num_hidden_layers']);
    case 'vocab': {
      const d = pick(rng, [-1, 1, 100]);
      return setField(arch, gen, 'text_config.vocab_size', t('vocab_size') + d, 'refuse', ['vocab_size', 'embed_tokens']);
    }
    case 'heads-not-dividing':
      return setField(arch, gen, 'text_config.num_attention_heads', pick(rng, [3, 5, 6, 7]), 'refuse', ['num_attention_heads', 'hidden_size', 'head_dim', 'head dim']);
    case 'kv-not-dividing':
      return setField(arch, gen, 'text_config.num_key_value_heads', 3, 'refuse', ['num_key_value_heads']);
    case 'kv-more':
      return setField(arch, gen, 'text_config.num_key_value_heads', t('num_attention_heads') * 2, 'refuse', ['num_key_value_heads']);
    case 'vision-hidden':
      return setField(arch, gen, 'vision_config.hidden_size', v('hidden_size') + 6, 'refuse', ['hidden_size']);
    case 'vision-heads':
      return setField(arch, gen, 'vision_config.num_attention_heads', pick(rng, [5, 7, 9]), 'refuse', ['num_attention_heads', 'hidden_size']);
    case 'vision-layers-more':
      return setField(arch, gen, 'vision_config.num_hidden_layers', v('num_hidden_layers') + 3, 'refuse', ['num_hidden_layers']);
    case 'vision-layers-fewer':
      return setField(arch, gen, 'vision_config.num_hidden_layers', 1, 'either', ['num_hidden_layers', 'vision_feature_layer']);
    case 'image-size': {
      // Not a multiple of the patch, or a different grid than the position table holds.
      const p = v('patch_size');
      const value = pick(rng, [v('image_size') + 1, v('image_size') + p, p - 1, 20000]);
      return setField(arch, gen, 'vision_config.image_size', value, 'refuse', ['image_size', 'patch_size']);
    }
    case 'patch-size': {
      const value = pick(rng, [v('patch_size') + 1, v('image_size') * 2, v('image_size') + 1]);
      return setField(arch, gen, 'vision_config.patch_size', value, 'refuse', ['patch_size', 'image_size']);
    }
    case 'channels':
      return setField(arch, gen, 'vision_config.num_channels', pick(rng, [1, 4, 5]), 'refuse', ['num_channels']);
    case 'head-dim': {
      const value = pick(rng, [0, -16, 15, 17, 32, 1024, 'x', 16.5]);
      return setField(arch, gen, 'text_config.head_dim', value, 'refuse', ['head_dim']);
    }
  }
};

const floatCases: Make = (rng, arch, gen) => {
  const kind = pick(rng, ['theta-bad', 'theta-ok', 'eps-bad', 'eps-ok', 'vision-eps-bad', 'positions-bad', 'positions-small', 'overflow'] as const);
  switch (kind) {
    case 'theta-bad':
      return setField(arch, gen, 'text_config.rope_theta', pick(rng, [0, -10000, '10000', 'x', [10000], -1e-300]), 'refuse', ['rope_theta']);
    case 'theta-ok':
      return setField(arch, gen, 'text_config.rope_theta', pick(rng, [500, 1e6, 123456.5]), 'either', ['rope_theta']);
    case 'eps-bad':
      return setField(arch, gen, 'text_config.rms_norm_eps', pick(rng, [0, -1e-5, 1e9, 1, '1e-5', 1e-320]), 'refuse', ['rms_norm_eps']);
    case 'eps-ok':
      return setField(arch, gen, 'text_config.rms_norm_eps', pick(rng, [1e-3, 1e-8, 1e-6]), 'either', ['rms_norm_eps']);
    case 'vision-eps-bad':
      return setField(arch, gen, 'vision_config.layer_norm_eps', pick(rng, [0, -1, 1e9, 'x', [1e-5]]), 'refuse', ['layer_norm_eps']);
    case 'positions-bad':
      return setField(arch, gen, 'text_config.max_position_embeddings', pick(rng, [0, -1, 1e12, 1e9, 2 ** 21, 1.5]), 'refuse', ['max_position_embeddings']);
    case 'positions-small':
      // Too few positions for the default question: refusing the request, naming the limit, is right; answering is too if it fits.
      return setField(arch, gen, 'text_config.max_position_embeddings', pick(rng, [8, 16, 64, 200]), 'either', ['max_position_embeddings', 'positions', 'position']);
    case 'overflow': {
      // 1e400 parses to Infinity in JavaScript (and inf in Python): not a size.
      const path = `text_config.${pick(rng, ['hidden_size', 'vocab_size', 'rope_theta', 'rms_norm_eps', 'num_hidden_layers'])}`;
      return overflowCase(arch, gen, path);
    }
  }
};

/** Writes `1e400` as the raw JSON value of `path` (JSON.stringify cannot). */
function overflowCase(arch: FuzzArch, gen: GenContext, path: string): FuzzCase {
  const files = gen.baseFiles(arch);
  const json = readJsonFile(files, FILE);
  setPath(json, path, '__OVERFLOW__');
  files.set(FILE, textBytes(JSON.stringify(json, null, 2).replace('"__OVERFLOW__"', '1e400')));
  return loadCase('config', arch, `${FILE}: ${path} = 1e400`, 'refuse', [leaf(path)], files);
}

const boolCases: Make = (rng, arch, gen) => {
  const json = readJsonFile(gen.baseFiles(arch), FILE);
  const where = pick(rng, ['text_config.tie_word_embeddings', 'tie_word_embeddings', 'text_config.attention_bias']);
  const kind = pick(rng, ['bad', 'flip', 'null'] as const);
  if (kind === 'bad') return setField(arch, gen, where, pick(rng, ['false', 'true', 'no', 1, 0, 1e300, [], {}, 'False']), 'refuse', [leaf(where)]);
  if (kind === 'null') return setField(arch, gen, where, null, 'either', [leaf(where), 'lm_head']);
  const cur = getPath(json, where);
  // Flipping a real boolean changes the model: with the head untied a tied checkpoint has no lm_head.
  return setField(arch, gen, where, !(cur === true), 'either', [leaf(where), 'lm_head', 'bias', 'q_proj']);
};

const tokenCases: Make = (rng, arch, gen) => {
  const json = readJsonFile(gen.baseFiles(arch), FILE);
  const key = imageTokenKey(arch);
  const vocab = getPath(json, 'text_config.vocab_size') as number;
  const kind = pick(rng, ['out', 'negative', 'fraction', 'string', 'huge', 'normal', 'bos', 'array', 'null'] as const);
  switch (kind) {
    case 'out':
      return setField(arch, gen, key, vocab + rng.int(0, 100), 'refuse', [key]);
    case 'negative':
      return setField(arch, gen, key, pick(rng, [-1, -100, -(2 ** 31)]), 'refuse', [key]);
    case 'fraction':
      return setField(arch, gen, key, (getPath(json, key) as number) + 0.5, 'refuse', [key]);
    case 'string':
      return setField(arch, gen, key, String(getPath(json, key)), 'refuse', [key]);
    case 'huge':
      return setField(arch, gen, key, pick(rng, [2 ** 32, 1e300, 2 ** 53]), 'refuse', [key]);
    case 'array':
      return setField(arch, gen, key, [getPath(json, key)], 'refuse', [key]);
    case 'normal':
    case 'bos': {
      // An id of an ordinary token (not the tokenizer's image token): the prompt's image placeholder
      // then holds no image-token ids, so features cannot be placed. The config contradicts the tokenizer.
      const id = kind === 'bos' ? 1 : rng.int(5, 400);
      return setField(arch, gen, key, id, 'refuse', [key]);
    }
    case 'null':
      // null falls back to the config class default (32000 / 128257): out of this tiny vocabulary.
      return setField(arch, gen, key, null, 'refuse', [key, 'image_token']);
  }
};

const typeCases: Make = (rng, arch, gen) => {
  const kind = pick(rng, ['top', 'top-missing', 'text', 'vision', 'no-text', 'no-vision', 'text-wrong', 'vision-wrong', 'act', 'projector-act', 'vision-act', 'strategy', 'rope-scaling', 'sliding'] as const);
  switch (kind) {
    case 'top':
      return setField(arch, gen, 'model_type', pick(rng, ['llava2', 'LLAVA', 'gpt2', '', 42, null, ['llava']]), 'refuse', ['model_type']);
    case 'top-missing':
      return setField(arch, gen, 'model_type', undefined, 'refuse', ['model_type']);
    case 'text':
      return setField(arch, gen, 'text_config.model_type', pick(rng, ['gpt2', 'gemma', 'LLAMA', 7, ['llama']]), 'refuse', ['model_type']);
    case 'vision':
      return setField(arch, gen, 'vision_config.model_type', pick(rng, ['vit', 'clip', 'siglip2_vision_model', 3]), 'refuse', ['model_type']);
    case 'no-text':
      return setField(arch, gen, 'text_config', undefined, 'refuse', ['text_config']);
    case 'no-vision':
      return setField(arch, gen, 'vision_config', undefined, 'refuse', ['vision_config']);
    case 'text-wrong':
      return setField(arch, gen, 'text_config', pick(rng, [null, 'llama', [], 5]), 'refuse', ['text_config']);
    case 'vision-wrong':
      return setField(arch, gen, 'vision_config', pick(rng, [null, 'clip', [{}], 5]), 'refuse', ['vision_config']);
    case 'act':
      return setField(arch, gen, 'text_config.hidden_act', pick(rng, ['gelu', 'relu', '', 1]), 'refuse', ['hidden_act']);
    case 'projector-act':
      if (arch === 'idefics3') return setField(arch, gen, 'scale_factor', pick(rng, [0, 3, 5, -2, '2', 2.5, 1e9]), 'refuse', ['scale_factor']);
      return setField(arch, gen, 'projector_hidden_act', pick(rng, ['relu', 'GELU', 2]), 'refuse', ['projector_hidden_act']);
    case 'vision-act':
      return setField(arch, gen, 'vision_config.hidden_act', pick(rng, ['relu', 'swish', 'tanh']), 'refuse', ['hidden_act']);
    case 'strategy':
      if (arch === 'idefics3') return setField(arch, gen, 'image_token_id', 'image', 'refuse', ['image_token_id']);
      return setField(arch, gen, 'vision_feature_select_strategy', pick(rng, ['cls', 'Default', 1, '']), 'refuse', ['vision_feature_select_strategy']);
    case 'rope-scaling':
      return setField(arch, gen, 'text_config.rope_scaling', pick(rng, [{ type: 'linear', factor: 2 }, { rope_type: 'dynamic', factor: 4 }, 'linear']), 'refuse', ['rope_scaling']);
    case 'sliding': {
      // A short sliding window that is on: we run full attention, so the answer would differ.
      return edited(arch, gen, 'text_config sliding window 8, on', 'refuse', ['sliding_window'], (j) => {
        setPath(j, 'text_config.sliding_window', 8);
        setPath(j, 'text_config.use_sliding_window', true);
        if (getPath(j, 'text_config.model_type') === 'llama') setPath(j, 'text_config.model_type', 'mistral');
      });
    }
  }
};

const featureLayerCases: Make = (rng, arch, gen) => {
  if (arch === 'idefics3') {
    // Idefics3 has no feature layer: scale_factor is its connector knob.
    return setField(arch, gen, 'scale_factor', pick(rng, [0, 3, 16, -1, 'two', 1.5]), 'refuse', ['scale_factor']);
  }
  const json = readJsonFile(gen.baseFiles(arch), FILE);
  const layers = getPath(json, 'vision_config.num_hidden_layers') as number;
  const kind = pick(rng, ['out', 'neg-out', 'fraction', 'string', 'list-two', 'list-empty', 'ok'] as const);
  switch (kind) {
    case 'out':
      return setField(arch, gen, 'vision_feature_layer', layers + rng.int(1, 100), 'refuse', ['vision_feature_layer']);
    case 'neg-out':
      return setField(arch, gen, 'vision_feature_layer', -(layers + rng.int(2, 100)), 'refuse', ['vision_feature_layer']);
    case 'fraction':
      return setField(arch, gen, 'vision_feature_layer', -1.5, 'refuse', ['vision_feature_layer']);
    case 'string':
      return setField(arch, gen, 'vision_feature_layer', pick(rng, ['-2', 'last']), 'refuse', ['vision_feature_layer']);
    case 'list-two':
      return setField(arch, gen, 'vision_feature_layer', [-2, -1], 'refuse', ['vision_feature_layer']);
    case 'list-empty':
      return setField(arch, gen, 'vision_feature_layer', [], 'refuse', ['vision_feature_layer']);
    case 'ok': {
      const value = pick(rng, [-1, 0, 1, [-1], layers]);
      return setField(arch, gen, 'vision_feature_layer', value, 'either', ['vision_feature_layer']);
    }
  }
};

const anyresCases: Make = (rng, arch, gen) => {
  if (arch !== 'llava-next' && arch !== 'llava-onevision') return sizeCases(rng, arch, gen);
  const kind = pick(rng, ['pinpoints', 'pinpoints-ok', 'aspect'] as const);
  if (kind === 'pinpoints') {
    return setField(arch, gen, 'image_grid_pinpoints', pick(rng, [[], [[]], [[28, 30]], [[28]], 'anyres', [[0, 28]], [[-28, 28]], [['28', '28']], [[28 * 100, 28 * 100]]]), 'refuse', ['image_grid_pinpoints']);
  }
  if (kind === 'pinpoints-ok') return setField(arch, gen, 'image_grid_pinpoints', [[28, 28], [56, 56]], 'either', ['image_grid_pinpoints']);
  if (arch === 'llava-next') return setField(arch, gen, 'use_image_newline_parameter', pick(rng, ['true', 1]), 'either', ['use_image_newline_parameter', 'image_newline']);
  return setField(arch, gen, 'vision_aspect_ratio', pick(rng, ['anyres_max_x', 'anyres', 9, 'anyres_max_0', 'anyres_max_100000', 'anyres_max_-1']), 'refuse', ['vision_aspect_ratio']);
};

/** config.json that is not a JSON object at all. */
const fileCases: Make = (rng, arch, gen) => {
  const files = gen.baseFiles(arch);
  const text = new TextDecoder().decode(files.get(FILE)!);
  const kind = pick(rng, ['cut', 'empty', 'array', 'null', 'string', 'nan', 'non-utf8', 'deep', 'missing', 'comment', 'bom'] as const);
  let name: string;
  let expect: Expectation = 'refuse';
  let bytes: Uint8Array | null;
  switch (kind) {
    case 'cut': {
      const at = rng.int(1, text.length - 2);
      bytes = textBytes(text.slice(0, at));
      name = `cut at ${at} of ${text.length}`;
      break;
    }
    case 'empty':
      bytes = new Uint8Array(0);
      name = 'empty file';
      break;
    case 'array':
      bytes = textBytes(`[${text}]`);
      name = 'an array holding the config';
      break;
    case 'null':
      bytes = textBytes('null');
      name = 'null';
      break;
    case 'string':
      bytes = textBytes('"llava"');
      name = 'a string';
      break;
    case 'nan':
      // Python's json reads NaN; a JSON parser refuses it. Either way it is not a size.
      bytes = textBytes(text.replace(/"hidden_size": \d+/, '"hidden_size": NaN'));
      name = 'hidden_size NaN (a Python-only literal)';
      break;
    case 'non-utf8': {
      const b = textBytes(text).slice();
      const at = text.indexOf('"model_type"') + 2;
      b[at] = 0xff;
      bytes = b;
      name = 'byte 0xff inside "model_type"';
      break;
    }
    case 'deep': {
      const depth = pick(rng, [1000, 100_000]);
      bytes = textBytes(text.replace(/^\{/, `{"deep": ${'['.repeat(depth)}${']'.repeat(depth)},`));
      // An unknown key is ignored by transformers whatever it holds: a harmless (if odd) extra key.
      expect = 'either';
      name = `an extra key nested ${depth} arrays deep`;
      break;
    }
    case 'missing':
      bytes = null;
      name = 'missing';
      break;
    case 'comment':
      bytes = textBytes(`// exported\n${text}`);
      name = 'a // comment line first';
      break;
    case 'bom':
      // Python's json.loads refuses a str with a BOM; a decoder may strip it. Either is fine.
      bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...textBytes(text)]);
      expect = 'either';
      name = 'starts with a UTF-8 BOM';
      break;
  }
  if (bytes) files.set(FILE, bytes);
  else files.delete(FILE);
  return loadCase('config', arch, `${FILE}: ${name}`, expect, kind === 'nan' ? [FILE, 'hidden_size'] : [FILE], files);
};

function shuffleKeys(rng: Rng, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(rng, v));
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(value);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = shuffleKeys(rng, (value as Record<string, unknown>)[k]);
  return out;
}

const harmlessCases: Make = (rng, arch, gen) => {
  const kind = pick(rng, ['extra-top', 'extra-text', 'extra-vision', 'shuffle', 'compact', 'tabs', 'crlf', 'architectures', 'no-architectures', 'torch-dtype', 'no-torch-dtype', 'version', 'name-or-path', 'escaped', 'duplicate-key', 'int-as-float', 'nulls', 'big-extra'] as const);
  const files = gen.baseFiles(arch);
  const json = readJsonFile(files, FILE);
  let name: string;
  let bytes: Uint8Array;
  const dump = (v: unknown, indent: string | number = 2) => textBytes(JSON.stringify(v, null, indent));
  switch (kind) {
    case 'extra-top':
      json[pick(rng, ['fuzz_unknown', 'use_cache', 'multimodal_projector_bias', '_commit_hash'])] = pick(rng, [1, 'x', null, { a: [1, 2] }, true]);
      bytes = dump(json);
      name = 'an extra unknown top-level key';
      break;
    case 'extra-text':
      setPath(json, `text_config.${pick(rng, ['fuzz_unknown', 'pretraining_tp', 'use_cache', 'initializer_range'])}`, pick(rng, [1, 0.02, 'x', false]));
      bytes = dump(json);
      name = 'an extra unknown text_config key';
      break;
    case 'extra-vision':
      setPath(json, `vision_config.${pick(rng, ['fuzz_unknown', 'dropout', 'initializer_factor'])}`, pick(rng, [0, 1.0, 'x']));
      bytes = dump(json);
      name = 'an extra unknown vision_config key';
      break;
    case 'shuffle':
      bytes = dump(shuffleKeys(rng, json));
      name = 'every object\'s keys shuffled';
      break;
    case 'compact':
      bytes = textBytes(JSON.stringify(json));
      name = 'written on one line';
      break;
    case 'tabs':
      bytes = dump(json, '\t');
      name = 'indented with tabs';
      break;
    case 'crlf':
      bytes = textBytes(JSON.stringify(json, null, 4).replace(/\n/g, '\r\n') + '\r\n');
      name = 'CRLF line ends, 4-space indent';
      break;
    case 'architectures':
      json['architectures'] = pick(rng, [['SomethingElseForConditionalGeneration'], [], 'LlavaForConditionalGeneration', null]);
      bytes = dump(json);
      name = `architectures = ${JSON.stringify(json['architectures'])}`;
      break;
    case 'no-architectures':
      delete json['architectures'];
      bytes = dump(json);
      name = 'architectures removed';
      break;
    case 'torch-dtype':
      json['torch_dtype'] = pick(rng, ['bfloat16', 'float16', 'auto', 'int8']);
      setPath(json, 'text_config.torch_dtype', json['torch_dtype']);
      bytes = dump(json);
      name = `torch_dtype = ${String(json['torch_dtype'])}`;
      break;
    case 'no-torch-dtype':
      delete json['torch_dtype'];
      bytes = dump(json);
      name = 'torch_dtype removed';
      break;
    case 'version':
      json['transformers_version'] = pick(rng, ['4.99.0.dev0', '3.0.0', '', 'x']);
      bytes = dump(json);
      name = `transformers_version = ${JSON.stringify(json['transformers_version'])}`;
      break;
    case 'name-or-path':
      json['_name_or_path'] = pick(rng, ['/home/user/model', 'llava-hf/llava-1.5-7b-hf', '']);
      bytes = dump(json);
      name = '_name_or_path set';
      break;
    case 'escaped':
      bytes = textBytes(JSON.stringify(json, null, 2).replace(/"model_type": "([a-z])/g, (_, c: string) => `"model_type": "\\u00${c.charCodeAt(0).toString(16)}`));
      name = 'model_type values with \\u-escaped first letters';
      break;
    case 'duplicate-key': {
      // A key written twice with the same value: Python's json and JSON.parse both keep the last.
      const text = JSON.stringify(json, null, 2);
      bytes = textBytes(text.replace(/^\{/, `{\n  "model_type": ${JSON.stringify(json['model_type'])},`));
      name = 'model_type written twice (same value)';
      break;
    }
    case 'nulls': {
      // Null where transformers reads null as "unset" (its own default: no scaling, derived head_dim).
      const path = pick(rng, ['text_config.rope_scaling', 'text_config.head_dim', 'text_config.sliding_window']);
      if (path.endsWith('sliding_window')) setPath(json, 'text_config.use_sliding_window', false);
      setPath(json, path, null);
      bytes = dump(json);
      name = `${path} = null`;
      break;
    }
    case 'big-extra':
      json['fuzz_blob'] = 'x'.repeat(pick(rng, [100_000, 4_000_000]));
      bytes = dump(json);
      name = `an extra ${(json['fuzz_blob'] as string).length}-character string key`;
      break;
    case 'int-as-float': {
      // 64.0 is the integer 64 in JSON (Python reads a float and transformers uses it as int after checks).
      const text = JSON.stringify(json, null, 2);
      bytes = textBytes(text.replace(/"num_hidden_layers": (\d+)/, '"num_hidden_layers": $1.0'));
      name = 'num_hidden_layers written as N.0';
      break;
    }
  }
  files.set(FILE, bytes);
  return loadCase('config', arch, `${FILE}: ${name}`, 'accept', [FILE], files);
};

/** Removing a field: the config class default applies, which may or may not match the weights. */
const missingCases: Make = (rng, arch, gen) => {
  const text = rng.next() < 0.6;
  const field = pick(rng, text ? [...TEXT_SIZES, 'rms_norm_eps', 'rope_theta', 'tie_word_embeddings', 'hidden_act'] : [...VISION_SIZES, 'layer_norm_eps', 'hidden_act']);
  const path = `${text ? 'text_config' : 'vision_config'}.${field}`;
  return setField(arch, gen, path, rng.next() < 0.5 ? undefined : null, 'either', [field, 'config.json']);
};

const KINDS: { w: number; make: Make }[] = [
  { w: 4, make: sizeCases },
  { w: 4, make: mismatchCases },
  { w: 3, make: floatCases },
  { w: 2, make: boolCases },
  { w: 2, make: tokenCases },
  { w: 3, make: typeCases },
  { w: 2, make: featureLayerCases },
  { w: 1, make: anyresCases },
  { w: 2, make: fileCases },
  { w: 3, make: harmlessCases },
  { w: 2, make: missingCases },
];

export const configCases: CaseGenerator = {
  family: 'config',
  weight: 3,
  make(rng, gen) {
    const arch = pick(rng, FUZZ_ARCHS);
    return pickWeighted(rng, KINDS, (k) => k.w).make(rng, arch, gen);
  },
};
