/**
 * The SigLIP vision tower on the CPU in float64 accumulation, built from the reference ops:
 * the oracle SiglipVisionTower is checked against. Weights come as plain Float32Arrays holding
 * exactly what the GPU holds (f16-rounded where the GPU stores f16).
 */
import type { SiglipHiddenAct, SiglipVisionConfig, SiglipWeightNames } from '../models/siglip';
import { activation, type ActivationOp } from './activation';
import { attention } from './attention';
import { matmul } from './matmul';
import { layernorm } from './layernorm';

function add(a: Float32Array, b: ArrayLike<number>): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/** The reference op of a SigLIP hidden_act (gelu_pytorch_tanh and gelu_new are both the tanh GELU). */
export function siglipActivationOp(a: SiglipHiddenAct): ActivationOp {
  return a === 'gelu_pytorch_tanh' || a === 'gelu_new' ? 'gelu_tanh' : a;
}

/**
 * pixels (CHW f32, imageSize²) → f32 [patches, hidden]: the hidden state after the last layer
 * in `names.layers`, through post_layernorm when `o.postLayernorm`.
 */
export function referenceSiglip(
  config: SiglipVisionConfig,
  get: (name: string) => Float32Array,
  names: SiglipWeightNames,
  pixels: Float32Array,
  o: { postLayernorm: boolean },
): Float32Array {
  const v = config;
  const S = v.imageSize;
  const p = v.patchSize;
  const C = v.numChannels;
  const g = Math.floor(S / p); // 'valid' convolution: a remainder of S / p is never read
  const T = g * g;
  const d = v.hiddenSize;
  if (pixels.length !== C * S * S) throw new Error(`referenceSiglip: expected ${C * S * S} pixels, got ${pixels.length}`);
  const convW = get(names.patchEmbedding.weight); // [d, C, p, p]
  const convB = get(names.patchEmbedding.bias);
  const pos = get(names.positionEmbedding); // [T, d]
  // Patch convolution written as the convolution it is (stride = kernel = patch size), plus
  // its bias and the learned position of each patch.
  let h: Float32Array = new Float32Array(T * d);
  for (let py = 0; py < g; py++) {
    for (let px = 0; px < g; px++) {
      const t = py * g + px;
      for (let j = 0; j < d; j++) {
        let s = convB[j]!;
        for (let ch = 0; ch < C; ch++) {
          for (let ky = 0; ky < p; ky++) {
            for (let kx = 0; kx < p; kx++) {
              s += pixels[ch * S * S + (py * p + ky) * S + px * p + kx]! * convW[((j * C + ch) * p + ky) * p + kx]!;
            }
          }
        }
        h[t * d + j] = s + pos[t * d + j]!;
      }
    }
  }
  const heads = v.numHeads;
  const hd = d / heads;
  const eps = v.layerNormEps;
  for (const l of names.layers) {
    const x1 = layernorm(h, get(l.norm1.weight), get(l.norm1.bias), T, d, eps);
    const q = matmul(x1, get(l.q.weight), T, d, d, get(l.q.bias));
    const k = matmul(x1, get(l.k.weight), T, d, d, get(l.k.bias));
    const vv = matmul(x1, get(l.v.weight), T, d, d, get(l.v.bias));
    const a = attention(q, k, vv, { Tq: T, Hq: heads, Hkv: heads, D: hd, kvLen: T, causal: false, scale: 1 / Math.sqrt(hd) }).out;
    h = add(h, matmul(a, get(l.out.weight), T, d, d, get(l.out.bias)));
    const x2 = layernorm(h, get(l.norm2.weight), get(l.norm2.bias), T, d, eps);
    const f1 = activation(matmul(x2, get(l.fc1.weight), T, v.intermediateSize, d, get(l.fc1.bias)), siglipActivationOp(v.hiddenAct));
    h = add(h, matmul(f1, get(l.fc2.weight), T, d, v.intermediateSize, get(l.fc2.bias)));
  }
  if (o.postLayernorm) h = layernorm(h, get(names.postLayernorm.weight), get(names.postLayernorm.bias), T, d, eps);
  return h;
}
