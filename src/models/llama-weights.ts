/**
 * Tensor names of a Llama-family decoder (Llama, Mistral, Qwen2) under a checkpoint prefix, and
 * how each is stored on the GPU. The families give the prefix (e.g. "language_model.model." or
 * "model.text_model.") and the head's name; the layer structure is the same in all of them.
 */
import type { DecoderConfig } from './config';

export interface DecoderLayerNames {
  inputNorm: string;
  q: string;
  k: string;
  v: string;
  /** q/k/v bias names (Qwen2), or null. */
  qkvBias: { q: string; k: string; v: string } | null;
  o: string;
  postNorm: string;
  gate: string;
  up: string;
  down: string;
}

export interface DecoderWeightNames {
  embed: string;
  layers: DecoderLayerNames[];
  norm: string;
  /** null when the head is tied to the embedding table. */
  lmHead: string | null;
}

export function decoderWeightNames(config: DecoderConfig, prefix: string, lmHead: string): DecoderWeightNames {
  return {
    embed: `${prefix}embed_tokens.weight`,
    layers: Array.from({ length: config.numLayers }, (_, i) => {
      const p = `${prefix}layers.${i}.`;
      return {
        inputNorm: `${p}input_layernorm.weight`,
        q: `${p}self_attn.q_proj.weight`,
        k: `${p}self_attn.k_proj.weight`,
        v: `${p}self_attn.v_proj.weight`,
        qkvBias: config.qkvBias ? { q: `${p}self_attn.q_proj.bias`, k: `${p}self_attn.k_proj.bias`, v: `${p}self_attn.v_proj.bias` } : null,
        o: `${p}self_attn.o_proj.weight`,
        postNorm: `${p}post_attention_layernorm.weight`,
        gate: `${p}mlp.gate_proj.weight`,
        up: `${p}mlp.up_proj.weight`,
        down: `${p}mlp.down_proj.weight`,
      };
    }),
    norm: `${prefix}norm.weight`,
    lmHead: config.tieWordEmbeddings ? null : lmHead,
  };
}

/** Every tensor the decoder reads, with its GPU dtype: matmul weights and the embedding table f16, norms and biases f32. */
export function decoderTensorDtypes(n: DecoderWeightNames, into = new Map<string, 'f16' | 'f32'>()): Map<string, 'f16' | 'f32'> {
  into.set(n.embed, 'f16');
  into.set(n.norm, 'f32');
  if (n.lmHead) into.set(n.lmHead, 'f16');
  for (const l of n.layers) {
    for (const w of [l.q, l.k, l.v, l.o, l.gate, l.up, l.down]) into.set(w, 'f16');
    into.set(l.inputNorm, 'f32');
    into.set(l.postNorm, 'f32');
    if (l.qkvBias) for (const b of Object.values(l.qkvBias)) into.set(b, 'f32');
  }
  return into;
}

/** The shape each decoder tensor must have (HF Linear weights are [out, in]); the embedding and head have vocab_size rows. */
export function decoderTensorShapes(n: DecoderWeightNames, c: DecoderConfig, into = new Map<string, readonly number[]>()): Map<string, readonly number[]> {
  const d = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  into.set(n.embed, [c.vocabSize, d]);
  into.set(n.norm, [d]);
  if (n.lmHead) into.set(n.lmHead, [c.vocabSize, d]);
  for (const l of n.layers) {
    into.set(l.inputNorm, [d]);
    into.set(l.q, [q, d]);
    into.set(l.k, [kv, d]);
    into.set(l.v, [kv, d]);
    if (l.qkvBias) {
      into.set(l.qkvBias.q, [q]);
      into.set(l.qkvBias.k, [kv]);
      into.set(l.qkvBias.v, [kv]);
    }
    into.set(l.o, [d, q]);
    into.set(l.postNorm, [d]);
    into.set(l.gate, [c.intermediateSize, d]);
    into.set(l.up, [c.intermediateSize, d]);
    into.set(l.down, [d, c.intermediateSize]);
  }
  return into;
}
