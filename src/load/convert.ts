import { bf16BitsToFloat, floatToHalfBits, halfBitsToFloat } from '../util/half';
import type { SafetensorsDType } from './safetensors';

/** Copies bytes into a fresh, aligned buffer (a ranged read may start at any offset). */
function aligned(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

/** Raw tensor bytes → f32 values. */
export function toFloat32(bytes: Uint8Array, dtype: SafetensorsDType): Float32Array {
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned(bytes));
    case 'BF16':
      return bf16BitsToFloat(new Uint16Array(aligned(bytes)));
    case 'F16': {
      const h = new Uint16Array(aligned(bytes));
      const out = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) out[i] = halfBitsToFloat(h[i]!);
      return out;
    }
  }
}

/** Raw tensor bytes → f16 bits (round to nearest even from f32 / bf16; f16 passes through). */
export function toFloat16Bits(bytes: Uint8Array, dtype: SafetensorsDType): Uint16Array {
  if (dtype === 'F16') return new Uint16Array(aligned(bytes));
  const f = toFloat32(bytes, dtype);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = floatToHalfBits(f[i]!);
  return out;
}
