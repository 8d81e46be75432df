/**
 * Hostile config.json values and mis-shaped weights (issue 25, items 1, 5, 8 (rms_norm_eps), 9
 * and 10 (vision image_size)): each is refused by config parsing or by the shape check that
 * runs before any weight is read, with an error naming the field (or the tensor) and the
 * allowed range (or the expected shape). Configs and checkpoints are the tiny ones of
 * test/fixtures/tiny, edited.
 */
import { describe, expect, it } from 'vitest';
import { CONFIG_LIMITS, ConfigError, parseDecoderConfig } from '../../src/models/config';
import { ModelLoadError } from '../../src/models/family';
import { familyFor } from '../../src/models/registry';
import { checkDecoderFits, checkTensorShapes } from '../../src/models/vlm';
import { TINY_ARCHS } from '../fixtures/tiny';
import { checkpointTensors } from '../helpers/tensor-shapes';

type Json = Record<string, unknown>;

const ARCHS = Object.keys(TINY_ARCHS);

function tiny(arch: string, options: { vocabPadMultiple?: number } = {}) {
  const files = TINY_ARCHS[arch]!.make({ seed: 1, ...options });
  const config = JSON.parse(new TextDecoder().decode(files.get('config.json')!)) as Json;
  const tensors = checkpointTensors(files);
  return { config, tensors };
}

/** A deep copy of `config` with `path` ("text_config.vocab_size") set to `value` (undefined deletes it). */
function edited(config: Json, path: string, value: unknown): Json {
  const copy = structuredClone(config);
  const keys = path.split('.');
  let at = copy;
  for (const k of keys.slice(0, -1)) at = at[k] as Json;
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

/** What Engine.load does with config.json before reading a weight: pick the family, parse, plan. */
function plan(config: Json, names: Iterable<string>) {
  const family = familyFor(config);
  return { dtypes: family.weightPlan(config, names), shapes: family.expectedShapes(config, names) };
}

function expectRefused(config: Json, names: Iterable<string>, message: RegExp, label: string): void {
  let error: unknown = null;
  try {
    plan(config, names);
  } catch (e) {
    error = e;
  }
  expect(error, label).toBeInstanceOf(ConfigError);
  expect((error as Error).message, label).toMatch(message);
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('config.json booleans: only real JSON booleans', () => {
  const fields = ['tie_word_embeddings', 'attention_bias', 'use_sliding_window'];
  const hostile: unknown[] = ['false', 'no', 'true', 1e300, 0, 1, [], {}];

  for (const arch of ARCHS) {
    it(`${arch}: "false", "no", 1e300, … refused naming the field; absent → default; true / false accepted`, () => {
      const { config, tensors } = tiny(arch);
      const names = [...tensors.keys()];
      for (const field of fields) {
        for (const v of hostile) {
          expectRefused(edited(config, `text_config.${field}`, v), names, new RegExp(`^config\\.json text_config\\.${field} must be true or false, got ${esc(JSON.stringify(v))}$`), `${field} = ${JSON.stringify(v)}`);
        }
      }
      // The top-level flag (Idefics3 ties by it; LLaVA's must still be a boolean).
      expectRefused(edited(config, 'tie_word_embeddings', 'false'), names, /^config\.json tie_word_embeddings must be true or false, got "false"$/, 'top-level tie');
      // Absent: the transformers default (untied for every type here); the plan then wants an lm_head.
      const untied = edited(edited(config, 'text_config.tie_word_embeddings', undefined), 'tie_word_embeddings', undefined);
      const parsedPlan = plan(untied, [...names, 'lm_head.weight', 'language_model.lm_head.weight']);
      expect([...parsedPlan.dtypes.keys()].some((n) => n.endsWith('lm_head.weight')), arch).toBe(true);
    });
  }

  it('tie_word_embeddings "false" no longer ties the head (the demo answered garbage)', () => {
    const { config, tensors } = tiny('llava');
    const names = [...tensors.keys()];
    const real = plan(edited(config, 'text_config.tie_word_embeddings', false), names);
    expect([...real.dtypes.keys()].some((n) => n.endsWith('lm_head.weight'))).toBe(true);
    expectRefused(edited(config, 'text_config.tie_word_embeddings', 'false'), names, /text_config\.tie_word_embeddings must be true or false, got "false"/, 'string false');
  });

  it('parseDecoderConfig: absent booleans take the defaults, real ones are kept', () => {
    const base = { model_type: 'llama', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 128, vocab_size: 100 };
    expect(parseDecoderConfig(base).tieWordEmbeddings).toBe(false);
    expect(parseDecoderConfig(base).qkvBias).toBe(false);
    expect(parseDecoderConfig({ ...base, tie_word_embeddings: true, attention_bias: true }).tieWordEmbeddings).toBe(true);
    expect(parseDecoderConfig({ ...base, attention_bias: true }).qkvBias).toBe(true);
    expect(parseDecoderConfig({ ...base, tie_word_embeddings: null }).tieWordEmbeddings).toBe(false);
  });
});

describe('config.json sizes: upper bounds and ranges, naming the field', () => {
  /** [path, value, message]; every arch has these fields under these paths. */
  const L = CONFIG_LIMITS;
  const cases: [string, unknown, RegExp][] = [
    ['text_config.num_hidden_layers', 5_000_000, /^config\.json text_config\.num_hidden_layers 5000000 is over the maximum 1024 \(/],
    ['text_config.num_hidden_layers', 1e9, /^config\.json text_config\.num_hidden_layers 1000000000 is over the maximum 1024/],
    ['text_config.hidden_size', 1 << 20, /^config\.json text_config\.hidden_size 1048576 is over the maximum 65536/],
    ['text_config.intermediate_size', 1e7, /^config\.json text_config\.intermediate_size 10000000 is over the maximum 262144/],
    ['text_config.num_attention_heads', 4096, /^config\.json text_config\.num_attention_heads 4096 is over the maximum 1024/],
    ['text_config.num_key_value_heads', 2048, /^config\.json text_config\.num_key_value_heads 2048 is over the maximum 1024/],
    ['text_config.head_dim', 512, /^config\.json text_config\.head_dim 512 .*is over the maximum 256 \(the attention kernel/],
    ['text_config.vocab_size', 1e8, new RegExp(`^config\\.json text_config\\.vocab_size 100000000 is over the maximum ${L.vocab.max}`)],
    ['text_config.max_position_embeddings', 1e9, /^config\.json text_config\.max_position_embeddings 1000000000 is over the maximum 1048576 \(the RoPE table/],
    ['text_config.max_position_embeddings', 1.5, /^config\.json text_config\.max_position_embeddings must be a positive integer, got 1\.5/],
    ['text_config.rms_norm_eps', 1e9, /^config\.json text_config\.rms_norm_eps 1000000000 is outside the allowed range \[1\.18e-38, 0\.1\]/],
    ['text_config.rms_norm_eps', 0, /^config\.json text_config\.rms_norm_eps 0 is outside the allowed range \[1\.18e-38, 0\.1\]/],
    ['text_config.rms_norm_eps', -1e-6, /rms_norm_eps -0\.000001 is outside the allowed range/],
    ['text_config.rms_norm_eps', '1e-6', /^config\.json text_config\.rms_norm_eps must be a number, got "1e-6"$/],
    ['text_config.rope_theta', 0, /^config\.json text_config\.rope_theta 0 must be a finite number > 0$/],
    ['text_config.rope_theta', -10000, /^config\.json text_config\.rope_theta -10000 must be a finite number > 0$/],
    ['text_config.rope_theta', '1e4', /^config\.json text_config\.rope_theta must be a number, got "1e4"$/],
    ['text_config.sliding_window', '4096', /^config\.json text_config\.sliding_window must be a number, got "4096"$/],
    ['vision_config.image_size', 20000, /^config\.json vision_config\.image_size 20000 is over the maximum 4096/],
    ['vision_config.num_hidden_layers', 5_000_000, /^config\.json vision_config\.num_hidden_layers 5000000 is over the maximum 1024/],
    ['vision_config.hidden_size', 1 << 20, /^config\.json vision_config\.hidden_size 1048576 is over the maximum 65536/],
    ['vision_config.intermediate_size', 1e9, /^config\.json vision_config\.intermediate_size 1000000000 is over the maximum 262144/],
    ['vision_config.num_attention_heads', 2048, /^config\.json vision_config\.num_attention_heads 2048 is over the maximum 1024/],
    ['vision_config.num_channels', 1000, /^config\.json vision_config\.num_channels 1000 is over the maximum 4/],
    ['vision_config.layer_norm_eps', 1e9, /^config\.json vision_config\.layer_norm_eps 1000000000 is outside the allowed range \[1\.18e-38, 0\.1\]/],
    ['vision_config.layer_norm_eps', 0, /^config\.json vision_config\.layer_norm_eps 0 is outside the allowed range/],
  ];

  for (const arch of ARCHS) {
    it(`${arch}: each hostile size is refused at once with the field and the range`, () => {
      const { config, tensors } = tiny(arch);
      const names = [...tensors.keys()];
      for (const [path, value, message] of cases) {
        const t0 = performance.now();
        expectRefused(edited(config, path, value), names, message, `${arch} ${path} = ${JSON.stringify(value)}`);
        // No billion weight names, no hang: refused before anything is built.
        expect(performance.now() - t0, `${path} = ${value}`).toBeLessThan(1000);
      }
    });

    it(`${arch}: too many patches per tile, or a head too wide for the attention kernel`, () => {
      const { config, tensors } = tiny(arch);
      const names = [...tensors.keys()];
      // 4096 / 4 = 1024 per side: a million patches per tile.
      const many = edited(edited(config, 'vision_config.image_size', 4096), 'vision_config.patch_size', 4);
      expectRefused(many, names, /^config\.json vision_config\.image_size 4096 \/ patch_size 4 gives 1048576 patches per tile, over the maximum 65536/, 'patches');
      const wide = edited(edited(config, 'vision_config.hidden_size', 1024), 'vision_config.num_attention_heads', 1);
      expectRefused(wide, names, /^config\.json vision_config\.hidden_size 1024 \/ num_attention_heads 1 gives a head of 1024, over the maximum 256/, 'vision head');
    });
  }

  it('image token ids must index the vocabulary', () => {
    for (const arch of ['llava', 'llava-next', 'llava-onevision']) {
      const { config, tensors } = tiny(arch);
      expectRefused(edited(config, 'image_token_index', 1e300), tensors.keys(), /^config\.json image_token_index 1e\+300 is not a token id of the \d+-token vocabulary/, arch);
      expectRefused(edited(config, 'image_token_index', -1), tensors.keys(), /image_token_index -1 is not a token id/, arch);
      expectRefused(edited(config, 'image_token_index', '566'), tensors.keys(), /^config\.json image_token_index must be a number, got "566"$/, arch);
    }
    const { config, tensors } = tiny('idefics3');
    expectRefused(edited(config, 'image_token_id', 4294967282), tensors.keys(), /^config\.json image_token_id 4294967282 is not a token id of the 610-token vocabulary/, 'idefics3');
    expectRefused(edited(config, 'image_token_id', -14), tensors.keys(), /^config\.json image_token_id -14 is not a token id/, 'idefics3');
  });

  it('anyres pinpoints and the OneVision cap are bounded', () => {
    for (const arch of ['llava-next', 'llava-onevision']) {
      const { config, tensors } = tiny(arch);
      const tile = (config['vision_config'] as Json)['image_size'] as number;
      expectRefused(edited(config, 'image_grid_pinpoints', [[tile * 100, tile * 100]]), tensors.keys(), /^config\.json image_grid_pinpoints\[0\] .* is 10000 tiles .*over the maximum 64/, arch);
      expectRefused(edited(config, 'image_grid_pinpoints', Array.from({ length: 1000 }, () => [tile, tile])), tensors.keys(), /image_grid_pinpoints lists 1000 resolutions, over the maximum 256/, arch);
    }
    const { config, tensors } = tiny('llava-onevision');
    expectRefused(edited(config, 'vision_aspect_ratio', 'anyres_max_100000'), tensors.keys(), /^config\.json vision_aspect_ratio "anyres_max_100000": N must be in \[1, 64\]/, 'cap');
  });

  it('the real checkpoints we support stay inside every bound (their text_config as published)', () => {
    const llava15 = { model_type: 'llama', hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, max_position_embeddings: 4096, rms_norm_eps: 1e-5, rope_theta: 10000, vocab_size: 32064, tie_word_embeddings: false };
    const qwen05 = { model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 1000000, vocab_size: 152000, sliding_window: 32768, use_sliding_window: false, tie_word_embeddings: true };
    expect(parseDecoderConfig(llava15).vocabSize).toBe(32064);
    expect(parseDecoderConfig(qwen05).headDim).toBe(64);
  });
});

describe('weight shapes against config.json, before any weight is read', () => {
  const where = 'tiny';
  type Headers = Map<string, { shape: number[] }>;
  const withShape = (tensors: Headers, name: string, shape: number[]): Headers => new Map([...tensors].map(([n, t]) => [n, n === name ? { ...t, shape } : t]));

  function refusal(tensors: Headers, p: ReturnType<typeof plan>): Error {
    try {
      checkTensorShapes(tensors, p, where);
    } catch (e) {
      expect(e).toBeInstanceOf(ModelLoadError);
      return e as Error;
    }
    throw new Error('not refused');
  }

  for (const arch of ARCHS) {
    it(`${arch}: every planned tensor has an expected shape, and the untouched checkpoint matches them all`, () => {
      const { config, tensors } = tiny(arch);
      const p = plan(config, tensors.keys());
      expect([...p.shapes.keys()].sort(), arch).toEqual([...p.dtypes.keys()].sort());
      expect(() => checkTensorShapes(tensors, p, where)).not.toThrow();
    });

    it(`${arch}: a transposed, flattened or mis-sized tensor is refused naming it, its shape and the expected one`, () => {
      const { config, tensors } = tiny(arch);
      const p = plan(config, tensors.keys());
      const names = [...p.dtypes.keys()];
      const gate = names.find((n) => n.endsWith('layers.0.mlp.gate_proj.weight'))!;
      const [inter, hidden] = tensors.get(gate)!.shape as [number, number];
      expect(refusal(withShape(tensors, gate, [hidden, inter]), p).message).toBe(`${where}: tensor ${gate} has shape [${hidden}, ${inter}], config.json implies [${inter}, ${hidden}] (transposed?)`);

      const conv = names.find((n) => n.endsWith('embeddings.patch_embedding.weight'))!;
      const [d, c, k] = tensors.get(conv)!.shape as [number, number, number, number];
      expect(refusal(withShape(tensors, conv, [d, c * k * k]), p).message).toBe(
        `${where}: tensor ${conv} has shape [${d}, ${c * k * k}], config.json implies [${d}, ${c}, ${k}, ${k}] (a rank-4 tensor: vision_config.hidden_size × vision_config.num_channels × vision_config.patch_size × vision_config.patch_size)`,
      );

      const embed = names.find((n) => n.endsWith('embed_tokens.weight'))!;
      const [rows] = tensors.get(embed)!.shape as [number, number];
      expect(refusal(withShape(tensors, embed, [rows - 1, hidden]), p).message).toMatch(new RegExp(`tensor ${esc(embed)} has shape \\[${rows - 1}, ${hidden}\\], config\\.json implies \\[${rows}, ${hidden}\\]`));

      const norm = names.find((n) => n.endsWith('layers.0.input_layernorm.weight'))!;
      expect(refusal(withShape(tensors, norm, [hidden, 1]), p).message).toMatch(/config\.json implies \[\d+\] \(a rank-1 tensor: text_config\.hidden_size\)$/);
    });

    it(`${arch}: config widths that disagree with the weights (vocab, hidden, heads) are refused at load`, () => {
      const { config, tensors } = tiny(arch);
      const text = config['text_config'] as Json;
      const vocab = text['vocab_size'] as number;
      // vocab_size 64 rows more than the embedding holds (the image token id stays inside it).
      const moreVocab = edited(config, 'text_config.vocab_size', vocab + 64);
      if (arch === 'idefics3') moreVocab['vocab_size'] = vocab + 64;
      expect(refusal(tensors, plan(moreVocab, tensors.keys())).message).toMatch(new RegExp(`embed_tokens\\.weight has shape \\[${vocab}, \\d+\\], config\\.json implies \\[${vocab + 64}, \\d+\\] \\(dim 0 is text_config\\.vocab_size\\)`));
      // Fewer KV heads than the weights: k_proj is refused.
      const kv = text['num_key_value_heads'] as number;
      const heads = text['num_attention_heads'] as number;
      const fewerKv = edited(config, 'text_config.num_key_value_heads', kv === 1 ? heads : 1);
      expect(refusal(tensors, plan(fewerKv, tensors.keys())).message).toMatch(/self_attn\.k_proj\.(weight|bias) has shape/);
      // A different hidden size (heads adjusted so it still parses): every decoder matrix is wrong.
      const hidden = text['hidden_size'] as number;
      const wider = edited(edited(config, 'text_config.hidden_size', hidden * 2), 'text_config.head_dim', hidden / heads);
      const m = refusal(tensors, plan(wider, tensors.keys())).message;
      expect(m).toMatch(new RegExp(`, config\\.json implies \\[[^\\]]*${hidden * 2}[^\\]]*\\] \\(dim 1 is text_config\\.hidden_size\\) \\(and \\d+ more tensor\\(s\\) of the wrong shape\\)$`));
      // Vision width mismatch: the tower's tensors and the projector are refused.
      const v = config['vision_config'] as Json;
      const vWide = edited(config, 'vision_config.intermediate_size', (v['intermediate_size'] as number) + 8);
      expect(refusal(tensors, plan(vWide, tensors.keys())).message).toMatch(/mlp\.fc1\.weight has shape/);
    });
  }

  it('an embedding padded past the tokenizer (llava-1.5: 32064 rows) is accepted when vocab_size says so', () => {
    const { config, tensors } = tiny('llava', { vocabPadMultiple: 64 });
    const vocab = (config['text_config'] as Json)['vocab_size'] as number;
    expect(vocab % 64).toBe(0);
    expect(() => checkTensorShapes(tensors, plan(config, tensors.keys()), where)).not.toThrow();
  });

  it('a RoPE table over the adapter\'s storage binding is refused before any weight is read', () => {
    const text = parseDecoderConfig({ model_type: 'llama', hidden_size: 4096, num_attention_heads: 32, max_position_embeddings: 1 << 20 });
    const limits = { maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 256 * 2 ** 20 };
    expect(() => checkDecoderFits(limits, text, where)).toThrow(ModelLoadError);
    expect(() => checkDecoderFits(limits, text, where)).toThrow(
      /^tiny: config\.json text_config\.max_position_embeddings 1048576 needs a 512\.0 MiB RoPE table \(positions × head_dim 128 × 4 bytes\), over this adapter's largest storage binding \(128\.0 MiB\); at most 262144 positions fit$/,
    );
    expect(() => checkDecoderFits(limits, { ...text, maxPositions: 4096 }, where)).not.toThrow();
  });
});

// Found by the seeded fuzzer (tools/fuzz/cases/config.ts, issue 20).
describe('config.json cases the fuzzer found', () => {
  it('an epsilon f32 flushes to 0 (1e-320) is refused naming the field', () => {
    const { config, tensors } = tiny('llava');
    expectRefused(edited(config, 'text_config.rms_norm_eps', 1e-320), tensors.keys(), /text_config\.rms_norm_eps 1e-320 is outside the allowed range \[1\.18e-38, 0\.1\]/, 'rms 1e-320');
    expectRefused(edited(config, 'vision_config.layer_norm_eps', 1e-40), tensors.keys(), /vision_config\.layer_norm_eps 1e-40 is outside/, 'ln 1e-40');
  });

  it('familyFor checks the whole config, so a bad image_token_id is named before the tokenizer is read', () => {
    const { config } = tiny('idefics3');
    for (const id of [1e300, 2 ** 53, -(2 ** 31), 610]) {
      expect(() => familyFor(edited(config, 'image_token_id', id)), String(id)).toThrow(/config\.json image_token_id .* is not a token id of the 610-token vocabulary/);
    }
    const { config: llava } = tiny('llava');
    expect(() => familyFor(edited(llava, 'text_config.hidden_size', '64'))).toThrow(/text_config\.hidden_size must be a number, got "64"/);
  });

  it('an odd head_dim and a scale_factor that does not divide the patch grid name the fields behind them', () => {
    const { config, tensors } = tiny('llava');
    expectRefused(edited(config, 'text_config.head_dim', 15), tensors.keys(), /^config\.json text_config\.head_dim 15 \(hidden_size \/ num_attention_heads unless given\) must be an even integer/, 'head_dim 15');
    const { config: idefics, tensors: itensors } = tiny('idefics3');
    expectRefused(edited(idefics, 'vision_config.image_size', 36), itensors.keys(), /^config\.json scale_factor 2 does not divide the 9 patches per side of vision_config\.image_size 36 \/ patch_size 4/, 'image 36');
  });

  it('a shape mismatch names the config field behind the wrong dimension', () => {
    const refusalOf = (arch: string, path: string, value: unknown): string => {
      const { config, tensors } = tiny(arch);
      try {
        checkTensorShapes(tensors, plan(edited(config, path, value), tensors.keys()), 'tiny');
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error(`${arch} ${path} = ${String(value)} not refused`);
    };
    expect(refusalOf('llava-onevision', 'text_config.intermediate_size', 164)).toMatch(/gate_proj\.weight has shape \[160, 64\], config\.json implies \[164, 64\] \(dim 0 is text_config\.intermediate_size\)/);
    expect(refusalOf('llava-qwen2', 'vision_config.image_size', 68)).toMatch(/position_embedding\.weight has shape \[49, 48\], config\.json implies \[64, 48\] \(dim 0 is vision_config\.\(image_size \/ patch_size\)² patches/);
    expect(refusalOf('llava-next', 'vision_config.num_channels', 1)).toMatch(/patch_embedding\.weight .* \(dim 1 is vision_config\.num_channels\)/);
    expect(refusalOf('llava', 'vision_config.patch_size', 8)).toMatch(/\(dim 2 is vision_config\.patch_size, dim 3 is vision_config\.patch_size\)/);
    expect(refusalOf('idefics3', 'text_config.head_dim', 32)).toMatch(/q_proj\.weight .* \(dim 0 is text_config\.num_attention_heads × head_dim\)/);
    expect(refusalOf('llava-onevision', 'vision_config.hidden_size', 38)).toMatch(/\(dim 0 is vision_config\.hidden_size\)/);
  });
});
