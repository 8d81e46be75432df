/**
 * The pre-norm transformer encoder layer CLIP and SigLIP towers share (LN → MHA → residual,
 * LN → MLP(act) → residual), its checkpoint names and GPU dtypes: one implementation, two
 * towers. The towers differ only in their embeddings and final norms.
 */
import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import { ops } from './ops';

export interface Linear {
  weight: Tensor;
  bias: Tensor;
}

export interface WeightBiasNames {
  weight: string;
  bias: string;
}

export interface EncoderLayerNames {
  norm1: WeightBiasNames;
  q: WeightBiasNames;
  k: WeightBiasNames;
  v: WeightBiasNames;
  out: WeightBiasNames;
  norm2: WeightBiasNames;
  fc1: WeightBiasNames;
  fc2: WeightBiasNames;
}

export interface EncoderLayerWeights {
  norm1: Linear;
  q: Linear;
  k: Linear;
  v: Linear;
  out: Linear;
  norm2: Linear;
  fc1: Linear;
  fc2: Linear;
}

export const weightBias = (p: string): WeightBiasNames => ({ weight: `${p}.weight`, bias: `${p}.bias` });

/** Names of layers 0..count−1 under `prefix` ("…vision_model."), as CLIP and SigLIP checkpoints spell them. */
export function encoderLayerNames(prefix: string, count: number): EncoderLayerNames[] {
  return Array.from({ length: count }, (_, i) => {
    const p = `${prefix}encoder.layers.${i}.`;
    return {
      norm1: weightBias(`${p}layer_norm1`),
      q: weightBias(`${p}self_attn.q_proj`),
      k: weightBias(`${p}self_attn.k_proj`),
      v: weightBias(`${p}self_attn.v_proj`),
      out: weightBias(`${p}self_attn.out_proj`),
      norm2: weightBias(`${p}layer_norm2`),
      fc1: weightBias(`${p}mlp.fc1`),
      fc2: weightBias(`${p}mlp.fc2`),
    };
  });
}

/** The layers' tensors with their GPU dtypes: the six matrices f16, norms and biases f32. */
export function encoderLayerDtypes(layers: readonly EncoderLayerNames[], into: Map<string, 'f16' | 'f32'>): Map<string, 'f16' | 'f32'> {
  for (const l of layers) {
    for (const p of Object.values(l)) {
      into.set(p.weight, 'f32');
      into.set(p.bias, 'f32');
    }
    for (const p of [l.q, l.k, l.v, l.out, l.fc1, l.fc2]) into.set(p.weight, 'f16');
  }
  return into;
}

/** The shape each layer tensor must have: q/k/v/out [d, d], fc1 [inter, d], fc2 [d, inter], norms and biases 1-D. */
export function encoderLayerShapes(layers: readonly EncoderLayerNames[], hidden: number, intermediate: number, into: Map<string, readonly number[]>): Map<string, readonly number[]> {
  const d = hidden;
  for (const l of layers) {
    for (const p of [l.norm1, l.norm2]) {
      into.set(p.weight, [d]);
      into.set(p.bias, [d]);
    }
    for (const p of [l.q, l.k, l.v, l.out]) {
      into.set(p.weight, [d, d]);
      into.set(p.bias, [d]);
    }
    into.set(l.fc1.weight, [intermediate, d]);
    into.set(l.fc1.bias, [intermediate]);
    into.set(l.fc2.weight, [d, intermediate]);
    into.set(l.fc2.bias, [d]);
  }
  return into;
}

/** Uploads one layer's tensors through any getter (the shared WeightUploader, or a test's). */
export async function loadEncoderLayer(l: EncoderLayerNames, linear: (p: WeightBiasNames) => Promise<Linear>): Promise<EncoderLayerWeights> {
  return {
    norm1: await linear(l.norm1),
    q: await linear(l.q),
    k: await linear(l.k),
    v: await linear(l.v),
    out: await linear(l.out),
    norm2: await linear(l.norm2),
    fc1: await linear(l.fc1),
    fc2: await linear(l.fc2),
  };
}

/**
 * Runs the layers over `h` (f32 [T, d], consumed) with bidirectional attention; returns the
 * last layer's output.
 */
export function runEncoderLayers(
  ctx: GpuContext,
  h: Tensor,
  layers: readonly EncoderLayerWeights[],
  c: { tokens: number; hidden: number; heads: number; eps: number; act: string },
): Tensor {
  const T = c.tokens;
  const d = c.hidden;
  const hd = d / c.heads;
  for (const layer of layers) {
    const x1 = ops.layernorm(ctx, h, layer.norm1.weight, layer.norm1.bias, c.eps);
    const q = ops.matmul(ctx, x1, layer.q.weight, layer.q.bias);
    const k = ops.matmul(ctx, x1, layer.k.weight, layer.k.bias);
    const v = ops.matmul(ctx, x1, layer.v.weight, layer.v.bias);
    x1.dispose();
    const attn = ops.attention(ctx, q.reshape([T, c.heads, hd]), k.reshape([T, c.heads, hd]), v.reshape([T, c.heads, hd]), {
      kvLen: T,
      causal: false,
      scale: 1 / Math.sqrt(hd),
      rowStats: null,
    });
    q.dispose();
    k.dispose();
    v.dispose();
    const o = ops.matmul(ctx, attn.reshape([T, d]), layer.out.weight, layer.out.bias);
    attn.dispose();
    const h2 = ops.add(ctx, h, o);
    h.dispose();
    o.dispose();
    const x2 = ops.layernorm(ctx, h2, layer.norm2.weight, layer.norm2.bias, c.eps);
    const f1 = ops.matmul(ctx, x2, layer.fc1.weight, layer.fc1.bias);
    x2.dispose();
    ops.activationInPlace(ctx, f1, c.act);
    const f2 = ops.matmul(ctx, f1, layer.fc2.weight, layer.fc2.bias);
    f1.dispose();
    h = ops.add(ctx, h2, f2);
    h2.dispose();
    f2.dispose();
  }
  return h;
}
