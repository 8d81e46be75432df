/**
 * Projected image features kept on the GPU by pixel content, so several questions or several
 * pruning policies about one image (the page's side-by-side answers, an evaluation across
 * policies, calibration passes over the same set) run the vision tower once. Keyed by a hash of
 * the preprocessed pixels, not by object identity, because images reach the worker as fresh
 * structured clones. Bounded by bytes (a LLaVA-1.5-7B image is 9 MB of features, the demo
 * model's 75 kB); least recently used entries are disposed first.
 */
import type { Tensor } from '../gpu/tensor';

/** 64-bit FNV-1a over the float bits (two 32-bit lanes) plus the length: collisions are negligible here. */
export function pixelKey(pixels: Float32Array): string {
  const words = new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.length);
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ words.length;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    a = Math.imul(a ^ w, 0x01000193);
    b = Math.imul(b ^ ((w >>> 16) | (w << 16)), 0x01000193) ^ (a >>> 7);
  }
  return `${words.length}:${(a >>> 0).toString(16)}:${(b >>> 0).toString(16)}`;
}

export class ImageFeatureCache {
  private readonly entries = new Map<string, Tensor>(); // insertion order = recency
  private bytes = 0;

  constructor(readonly maxBytes: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Tensor | undefined {
    const t = this.entries.get(key);
    if (t) {
      this.entries.delete(key);
      this.entries.set(key, t);
    }
    return t;
  }

  /** Takes ownership of `t` and returns true, or returns false (caller keeps it) when it can never fit. */
  put(key: string, t: Tensor): boolean {
    if (t.byteLength > this.maxBytes) return false;
    const old = this.entries.get(key);
    if (old) this.remove(key, old);
    while (this.bytes + t.byteLength > this.maxBytes) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, Tensor];
      this.remove(oldestKey, oldest);
    }
    this.entries.set(key, t);
    this.bytes += t.byteLength;
    return true;
  }

  clear(): void {
    for (const [k, t] of [...this.entries]) this.remove(k, t);
  }

  private remove(key: string, t: Tensor): void {
    this.entries.delete(key);
    this.bytes -= t.byteLength;
    t.dispose();
  }
}
