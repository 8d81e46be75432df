/**
 * For the tiny-checkpoint unit tests: the tensors a checkpoint holds (read from the safetensors
 * headers), the tensors a Hugging Face checkpoint of a family holds (written out here, apart from
 * src/models and the makers, so a test catches either drifting), and the exact comparison.
 */
import { expect } from 'vitest';
import { headerLength, parseHeader } from '../../src/load/safetensors';

export interface StoredTensor {
  file: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** Every tensor of every safetensors file (single or sharded), with the file it is in. */
export function checkpointTensors(files: ReadonlyMap<string, Uint8Array>): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const [file, bytes] of files) {
    if (!file.endsWith('.safetensors')) continue;
    const n = headerLength(bytes.subarray(0, 8), bytes.byteLength, file);
    for (const t of parseHeader(bytes.subarray(8, 8 + n), bytes.byteLength, file).tensors.values()) {
      expect(out.has(t.name), `${t.name} in two files`).toBe(false);
      out.set(t.name, { file, dtype: t.dtype, shape: t.shape, bytes: bytes.subarray(t.begin, t.end) });
    }
  }
  return out;
}

/** The checkpoint holds exactly the `expected` tensors: the same names, each with its shape, all stored as `dtype`. */
export function expectExactTensors(files: ReadonlyMap<string, Uint8Array>, expected: ReadonlyMap<string, number[]>, dtype: string): void {
  const have = checkpointTensors(files);
  expect([...have.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [name, shape] of expected) {
    expect(have.get(name)!.shape, name).toEqual(shape);
    expect(have.get(name)!.dtype, name).toBe(dtype);
  }
}

export type Shapes = Map<string, number[]>;

/**
 * A CLIP or SigLIP vision tower under `vt`: embeddings (CLIP: class token, bias-free patch
 * convolution, patches + 1 positions, pre_layrnorm; SigLIP: convolution with bias, one position
 * per patch), encoder layers, post_layernorm.
 */
export function towerShapes(m: Shapes, vt: string, v: { hidden: number; intermediate: number; layers: number; imageSize: number; patchSize: number }, kind: 'clip' | 'siglip'): Shapes {
  const patches = Math.floor(v.imageSize / v.patchSize) ** 2;
  if (kind === 'clip') {
    m.set(`${vt}.embeddings.class_embedding`, [v.hidden]);
    m.set(`${vt}.embeddings.patch_embedding.weight`, [v.hidden, 3, v.patchSize, v.patchSize]);
    m.set(`${vt}.embeddings.position_embedding.weight`, [patches + 1, v.hidden]);
    for (const x of ['weight', 'bias']) m.set(`${vt}.pre_layrnorm.${x}`, [v.hidden]);
  } else {
    m.set(`${vt}.embeddings.patch_embedding.weight`, [v.hidden, 3, v.patchSize, v.patchSize]);
    m.set(`${vt}.embeddings.patch_embedding.bias`, [v.hidden]);
    m.set(`${vt}.embeddings.position_embedding.weight`, [patches, v.hidden]);
  }
  for (let i = 0; i < v.layers; i++) {
    const l = `${vt}.encoder.layers.${i}`;
    for (const x of ['q', 'k', 'v', 'out']) {
      m.set(`${l}.self_attn.${x}_proj.weight`, [v.hidden, v.hidden]);
      m.set(`${l}.self_attn.${x}_proj.bias`, [v.hidden]);
    }
    for (const n of ['layer_norm1', 'layer_norm2']) for (const x of ['weight', 'bias']) m.set(`${l}.${n}.${x}`, [v.hidden]);
    m.set(`${l}.mlp.fc1.weight`, [v.intermediate, v.hidden]);
    m.set(`${l}.mlp.fc1.bias`, [v.intermediate]);
    m.set(`${l}.mlp.fc2.weight`, [v.hidden, v.intermediate]);
    m.set(`${l}.mlp.fc2.bias`, [v.hidden]);
  }
  for (const x of ['weight', 'bias']) m.set(`${vt}.post_layernorm.${x}`, [v.hidden]);
  return m;
}

/** LLaVA's multi_modal_projector: linear_1 (vision → text hidden), linear_2, both with bias. */
export function llavaProjectorShapes(m: Shapes, pj: string, textHidden: number, visionHidden: number): Shapes {
  m.set(`${pj}.linear_1.weight`, [textHidden, visionHidden]);
  m.set(`${pj}.linear_1.bias`, [textHidden]);
  m.set(`${pj}.linear_2.weight`, [textHidden, textHidden]);
  m.set(`${pj}.linear_2.bias`, [textHidden]);
  return m;
}

/** A Llama / Mistral / Qwen2 decoder under `lm`; `lmHead` null when the embeddings are tied. */
export function decoderShapes(
  m: Shapes,
  lm: string,
  t: { hidden: number; intermediate: number; layers: number; heads: number; kvHeads: number },
  vocab: number,
  o: { qkvBias: boolean; lmHead: string | null },
): Shapes {
  const hd = t.hidden / t.heads;
  m.set(`${lm}.embed_tokens.weight`, [vocab, t.hidden]);
  for (let i = 0; i < t.layers; i++) {
    const l = `${lm}.layers.${i}`;
    m.set(`${l}.self_attn.q_proj.weight`, [t.heads * hd, t.hidden]);
    m.set(`${l}.self_attn.k_proj.weight`, [t.kvHeads * hd, t.hidden]);
    m.set(`${l}.self_attn.v_proj.weight`, [t.kvHeads * hd, t.hidden]);
    if (o.qkvBias) {
      m.set(`${l}.self_attn.q_proj.bias`, [t.heads * hd]);
      m.set(`${l}.self_attn.k_proj.bias`, [t.kvHeads * hd]);
      m.set(`${l}.self_attn.v_proj.bias`, [t.kvHeads * hd]);
    }
    m.set(`${l}.self_attn.o_proj.weight`, [t.hidden, t.heads * hd]);
    m.set(`${l}.mlp.gate_proj.weight`, [t.intermediate, t.hidden]);
    m.set(`${l}.mlp.up_proj.weight`, [t.intermediate, t.hidden]);
    m.set(`${l}.mlp.down_proj.weight`, [t.hidden, t.intermediate]);
    m.set(`${l}.input_layernorm.weight`, [t.hidden]);
    m.set(`${l}.post_attention_layernorm.weight`, [t.hidden]);
  }
  m.set(`${lm}.norm.weight`, [t.hidden]);
  if (o.lmHead) m.set(o.lmHead, [vocab, t.hidden]);
  return m;
}

/** The LLaVA families' names in either layout ('hub': as converted; 'new': transformers ≥ 4.52). */
export function llavaNames(layout: 'hub' | 'new'): { lm: string; vt: string; pj: string; lmHead: string; newline: string } {
  const hub = layout === 'hub';
  return {
    lm: hub ? 'language_model.model' : 'model.language_model',
    vt: hub ? 'vision_tower.vision_model' : 'model.vision_tower.vision_model',
    pj: hub ? 'multi_modal_projector' : 'model.multi_modal_projector',
    lmHead: hub ? 'language_model.lm_head.weight' : 'lm_head.weight',
    newline: hub ? 'image_newline' : 'model.image_newline',
  };
}
