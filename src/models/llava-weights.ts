import type { LlavaConfig } from './config';

/**
 * Where each LLaVA weight lives in a checkpoint. Two layouts exist on the Hub:
 * - 'hub' (checkpoints converted before transformers 4.52, e.g. llava-hf/llava-1.5-7b-hf):
 *   language_model.model.* / language_model.lm_head.weight / vision_tower.* / multi_modal_projector.*
 * - 'new' (saved by transformers ≥ 4.52): model.language_model.* / lm_head.weight /
 *   model.vision_tower.* / model.multi_modal_projector.*
 * We detect the layout from the names present, never from the file name.
 */
export type LlavaLayout = 'hub' | 'new';

export interface LlamaLayerNames {
  inputNorm: string;
  q: string;
  k: string;
  v: string;
  o: string;
  postNorm: string;
  gate: string;
  up: string;
  down: string;
}

export interface ClipLayerNames {
  norm1: { weight: string; bias: string };
  q: { weight: string; bias: string };
  k: { weight: string; bias: string };
  v: { weight: string; bias: string };
  out: { weight: string; bias: string };
  norm2: { weight: string; bias: string };
  fc1: { weight: string; bias: string };
  fc2: { weight: string; bias: string };
}

export interface LlavaWeightNames {
  layout: LlavaLayout;
  text: {
    embed: string;
    layers: LlamaLayerNames[];
    norm: string;
    /** null when the head is tied to the embedding table. */
    lmHead: string | null;
  };
  vision: {
    classEmbedding: string;
    patchEmbedding: string;
    positionEmbedding: string;
    preNorm: { weight: string; bias: string };
    /** Only the layers up to vision_feature_layer: later ones are never run (nor downloaded). */
    layers: ClipLayerNames[];
  };
  projector: { linear1: { weight: string; bias: string }; linear2: { weight: string; bias: string } };
}

export function detectLlavaLayout(names: Iterable<string>): LlavaLayout | null {
  for (const n of names) {
    if (n.startsWith('model.language_model.')) return 'new';
    if (n.startsWith('language_model.model.')) return 'hub';
  }
  return null;
}

/** Vision encoder layers whose output LLaVA uses (HF hidden_states index semantics). */
export function visionLayersNeeded(config: LlavaConfig): number {
  const n = config.vision.numLayers;
  const idx = config.visionFeatureLayer < 0 ? n + 1 + config.visionFeatureLayer : config.visionFeatureLayer;
  return idx; // hidden_states[0] is the embeddings, hidden_states[i] the output of layer i
}

export function llavaWeightNames(config: LlavaConfig, layout: LlavaLayout): LlavaWeightNames {
  const lm = layout === 'hub' ? 'language_model.model.' : 'model.language_model.';
  const head = layout === 'hub' ? 'language_model.lm_head.weight' : 'lm_head.weight';
  const vt = layout === 'hub' ? 'vision_tower.vision_model.' : 'model.vision_tower.vision_model.';
  const pj = layout === 'hub' ? 'multi_modal_projector.' : 'model.multi_modal_projector.';
  const wb = (p: string) => ({ weight: `${p}.weight`, bias: `${p}.bias` });
  return {
    layout,
    text: {
      embed: `${lm}embed_tokens.weight`,
      layers: Array.from({ length: config.text.numLayers }, (_, i) => {
        const p = `${lm}layers.${i}.`;
        return {
          inputNorm: `${p}input_layernorm.weight`,
          q: `${p}self_attn.q_proj.weight`,
          k: `${p}self_attn.k_proj.weight`,
          v: `${p}self_attn.v_proj.weight`,
          o: `${p}self_attn.o_proj.weight`,
          postNorm: `${p}post_attention_layernorm.weight`,
          gate: `${p}mlp.gate_proj.weight`,
          up: `${p}mlp.up_proj.weight`,
          down: `${p}mlp.down_proj.weight`,
        };
      }),
      norm: `${lm}norm.weight`,
      lmHead: config.text.tieWordEmbeddings ? null : head,
    },
    vision: {
      classEmbedding: `${vt}embeddings.class_embedding`,
      patchEmbedding: `${vt}embeddings.patch_embedding.weight`,
      positionEmbedding: `${vt}embeddings.position_embedding.weight`,
      preNorm: wb(`${vt}pre_layrnorm`),
      layers: Array.from({ length: visionLayersNeeded(config) }, (_, i) => {
        const p = `${vt}encoder.layers.${i}.`;
        return {
          norm1: wb(`${p}layer_norm1`),
          q: wb(`${p}self_attn.q_proj`),
          k: wb(`${p}self_attn.k_proj`),
          v: wb(`${p}self_attn.v_proj`),
          out: wb(`${p}self_attn.out_proj`),
          norm2: wb(`${p}layer_norm2`),
          fc1: wb(`${p}mlp.fc1`),
          fc2: wb(`${p}mlp.fc2`),
        };
      }),
    },
    projector: { linear1: wb(`${pj}linear_1`), linear2: wb(`${pj}linear_2`) },
  };
}

/** Every tensor name the forward pass reads (for checkpoint.require and ranged downloads). */
export function allLlavaWeightNames(n: LlavaWeightNames): string[] {
  const out = [n.text.embed, n.text.norm, ...(n.text.lmHead ? [n.text.lmHead] : [])];
  for (const l of n.text.layers) out.push(...Object.values(l));
  out.push(n.vision.classEmbedding, n.vision.patchEmbedding, n.vision.positionEmbedding, n.vision.preNorm.weight, n.vision.preNorm.bias);
  for (const l of n.vision.layers) for (const p of Object.values(l)) out.push(p.weight, p.bias);
  out.push(n.projector.linear1.weight, n.projector.linear1.bias, n.projector.linear2.weight, n.projector.linear2.bias);
  return out;
}

/**
 * How each tensor is stored on the GPU: matmul weights, the patch convolution and the
 * embedding table as f16 (half the memory and bandwidth; bf16/f32 checkpoints are rounded at
 * load), norms, biases and the small position / class embeddings as f32.
 */
export function llavaTensorDtypes(n: LlavaWeightNames): Map<string, 'f16' | 'f32'> {
  const m = new Map<string, 'f16' | 'f32'>();
  for (const name of allLlavaWeightNames(n)) m.set(name, 'f32');
  const half = [n.text.embed, ...(n.text.lmHead ? [n.text.lmHead] : []), n.vision.patchEmbedding, n.projector.linear1.weight, n.projector.linear2.weight];
  for (const l of n.text.layers) half.push(l.q, l.k, l.v, l.o, l.gate, l.up, l.down);
  for (const l of n.vision.layers) half.push(l.q.weight, l.k.weight, l.v.weight, l.out.weight, l.fc1.weight, l.fc2.weight);
  for (const name of half) m.set(name, 'f16');
  return m;
}
