import { visionLayersRun } from '../../src/models/config';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/models/config';
import {
  parseSiglipVision,
  siglipGridSize,
  siglipPatches,
  siglipTensorDtypes,
  siglipWeightNames,
} from '../../src/models/siglip';

// The vision_config of llava-hf/llava-interleave-qwen-0.5b-hf and
// llava-hf/llava-onevision-qwen2-0.5b-ov-hf, as transformers' conversion scripts write it
// (SigLIP so400m-patch14-384 with its last layer dropped, no head).
const LLAVA_SIGLIP = {
  model_type: 'siglip_vision_model',
  hidden_size: 1152,
  image_size: 384,
  intermediate_size: 4304,
  num_attention_heads: 16,
  num_hidden_layers: 26,
  patch_size: 14,
  vision_use_head: false,
};

describe('parseSiglipVision', () => {
  it('reads a LLaVA-OneVision / Interleave tower: 384 / 14 → 27 × 27 = 729 patches', () => {
    const c = parseSiglipVision(LLAVA_SIGLIP);
    expect(c).toEqual({
      modelType: 'siglip_vision_model',
      hiddenSize: 1152,
      intermediateSize: 4304,
      numLayers: 26,
      numHeads: 16,
      imageSize: 384,
      patchSize: 14,
      numChannels: 3,
      layerNormEps: 1e-6,
      hiddenAct: 'gelu_pytorch_tanh',
    });
    expect(siglipGridSize(c)).toBe(27);
    expect(siglipPatches(c)).toBe(729);
    expect(visionLayersRun(c.numLayers, -1)).toBe(26); // hidden_states[-1]: every layer, no post-layernorm
    expect(visionLayersRun(c.numLayers, -2)).toBe(25);
    expect(visionLayersRun(c.numLayers, 0)).toBe(0); // the embeddings
    expect(visionLayersRun(c.numLayers, 26)).toBe(26);
  });

  it("applies SiglipVisionConfig's defaults when model_type is siglip_vision_model or missing", () => {
    const expected = {
      modelType: 'siglip_vision_model',
      hiddenSize: 768,
      intermediateSize: 3072,
      numLayers: 12,
      numHeads: 12,
      imageSize: 224,
      patchSize: 16,
      numChannels: 3,
      layerNormEps: 1e-6,
      hiddenAct: 'gelu_pytorch_tanh',
    };
    expect(parseSiglipVision({})).toEqual(expected);
    expect(parseSiglipVision({ model_type: 'siglip_vision_model' })).toEqual(expected);
  });

  it("applies Idefics3VisionConfig's defaults for idefics3_vision (hidden 1152, 16 heads, patch 32)", () => {
    const c = parseSiglipVision({ model_type: 'idefics3_vision' });
    expect(c).toMatchObject({ modelType: 'idefics3_vision', hiddenSize: 1152, intermediateSize: 3072, numLayers: 12, numHeads: 16, imageSize: 224, patchSize: 32, layerNormEps: 1e-6, hiddenAct: 'gelu_pytorch_tanh' });
    // A SmolVLM-256M style tile: SigLIP base patch16 at 512 px → 32 × 32 patches.
    const smol = parseSiglipVision({ model_type: 'idefics3_vision', hidden_size: 768, num_attention_heads: 12, image_size: 512, patch_size: 16 });
    expect(siglipPatches(smol)).toBe(1024);
  });

  it('keeps explicit values, including other GELU variants and eps', () => {
    const c = parseSiglipVision({ hidden_act: 'gelu', layer_norm_eps: 1e-5, num_channels: 1 });
    expect(c.hiddenAct).toBe('gelu');
    expect(c.layerNormEps).toBe(1e-5);
    expect(c.numChannels).toBe(1);
    expect(parseSiglipVision({ hidden_act: 'gelu_new' }).hiddenAct).toBe('gelu_new');
    expect(parseSiglipVision({ hidden_act: 'quick_gelu' }).hiddenAct).toBe('quick_gelu');
  });

  it('refuses what it cannot run, naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [null, /^vision_config must be an object$/],
      [[1], /^vision_config must be an object$/],
      [{ model_type: 'clip_vision_model' }, /vision_config\.model_type "clip_vision_model" is not a SigLIP vision tower/],
      [{ hidden_act: 'relu' }, /vision_config\.hidden_act "relu" is not supported/],
      [{ hidden_act: 3 }, /vision_config\.hidden_act 3 is not supported/],
      [{ hidden_size: 100, num_attention_heads: 16 }, /hidden_size 100 is not a multiple of num_attention_heads 16/],
      [{ hidden_size: 0 }, /vision_config\.hidden_size must be a positive integer, got 0/],
      [{ num_hidden_layers: 2.5 }, /vision_config\.num_hidden_layers must be a positive integer, got 2\.5/],
      [{ image_size: '384' }, /vision_config\.image_size must be a number, got "384"/],
      [{ image_size: 10, patch_size: 14 }, /patch_size 14 is larger than image_size 10/],
      [{ layer_norm_eps: -1 }, /vision_config\.layer_norm_eps -1 is outside the allowed range \[1\.18e-38, 0\.1\]/],
    ];
    for (const [config, message] of bad) {
      expect(() => parseSiglipVision(config), JSON.stringify(config)).toThrow(ConfigError);
      expect(() => parseSiglipVision(config), JSON.stringify(config)).toThrow(message);
    }
    expect(() => parseSiglipVision({ model_type: 'x' }, 'config.vision_config')).toThrow(/^config\.vision_config\.model_type "x"/);
  });

  it('refuses a feature layer outside the hidden states', () => {
    const c = parseSiglipVision({ num_hidden_layers: 4 });
    expect(visionLayersRun(c.numLayers, -5)).toBe(0);
    expect(() => visionLayersRun(c.numLayers, -6)).toThrow(/vision_feature_layer -6 is outside the vision tower's 5 hidden states/);
    expect(() => visionLayersRun(c.numLayers, 5)).toThrow(ConfigError);
    expect(() => visionLayersRun(c.numLayers, 1.5)).toThrow(ConfigError);
  });
});

describe('siglipWeightNames', () => {
  it('names the HF tensors under a prefix; the post-layernorm only when asked for', () => {
    const n = siglipWeightNames('model.vision_model.', 2);
    expect(n.patchEmbedding).toEqual({ weight: 'model.vision_model.embeddings.patch_embedding.weight', bias: 'model.vision_model.embeddings.patch_embedding.bias' });
    expect(n.positionEmbedding).toBe('model.vision_model.embeddings.position_embedding.weight');
    expect(n.layers).toHaveLength(2);
    expect(n.layers[1]!.q.weight).toBe('model.vision_model.encoder.layers.1.self_attn.q_proj.weight');
    expect(n.layers[1]!.out.bias).toBe('model.vision_model.encoder.layers.1.self_attn.out_proj.bias');
    expect(n.layers[0]!.norm2.weight).toBe('model.vision_model.encoder.layers.0.layer_norm2.weight');
    expect(n.layers[0]!.fc2.bias).toBe('model.vision_model.encoder.layers.0.mlp.fc2.bias');
    expect(n.postLayernorm.weight).toBe('model.vision_model.post_layernorm.weight');
    const without = [...siglipTensorDtypes(n, { postLayernorm: false }).keys()];
    expect(without).toHaveLength(3 + 2 * 16);
    expect(new Set(without).size).toBe(without.length);
    expect(without.some((x) => x.includes('post_layernorm') || x.includes('head'))).toBe(false);
    const withPost = [...siglipTensorDtypes(n, { postLayernorm: true }).keys()];
    expect(new Set(withPost)).toEqual(new Set([...without, 'model.vision_model.post_layernorm.weight', 'model.vision_model.post_layernorm.bias']));
    const dtypes = siglipTensorDtypes(n, { postLayernorm: true });
    const half = [...dtypes].filter(([, t]) => t === 'f16').map(([name]) => name);
    expect(half).toHaveLength(1 + 2 * 6);
    expect(half).toContain('model.vision_model.embeddings.patch_embedding.weight');
    expect(dtypes.get('model.vision_model.embeddings.patch_embedding.bias')).toBe('f32');
    expect(dtypes.get('model.vision_model.encoder.layers.1.mlp.fc1.weight')).toBe('f16');
    expect(dtypes.get('model.vision_model.encoder.layers.1.layer_norm1.weight')).toBe('f32');
    expect(siglipWeightNames('vision_tower.vision_model.', 0).layers).toEqual([]);
  });
});
