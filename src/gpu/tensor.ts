import type { GpuContext } from './context';

/** Element types a tensor can hold. f16 is stored packed, two per 32-bit word. */
export type DType = 'f32' | 'f16' | 'u32' | 'i32';

export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = { f32: 4, f16: 2, u32: 4, i32: 4 };

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid tensor shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

/** Bytes a buffer needs for `count` elements: rounded up to whole 32-bit words, at least 4. */
export function storageBytes(count: number, dtype: DType): number {
  return Math.max(4, Math.ceil((count * BYTES_PER_ELEMENT[dtype]) / 4) * 4);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join('×')}]`;
}

/**
 * A GPU storage buffer with a shape and an element type, row-major.
 * The buffer may be larger than the data (pooled buffers come in size buckets).
 * Call dispose() when done; the buffer goes back to the context's pool.
 */
export class Tensor {
  private disposed = false;

  constructor(
    readonly ctx: GpuContext,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly label = '',
  ) {}

  get size(): number {
    return elementCount(this.shape);
  }

  /** Bytes of actual data (f16: 2 per element, rounded up to a whole word). */
  get byteLength(): number {
    return storageBytes(this.size, this.dtype);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  protected markDisposed(): boolean {
    if (this.disposed) return false;
    this.disposed = true;
    return true;
  }

  describe(): string {
    return `${this.label || 'tensor'}${formatShape(this.shape)} ${this.dtype}`;
  }

  /**
   * The same buffer with another shape of the same element count (no copy). The view shares
   * ownership: disposing either the view or the original releases the buffer once.
   */
  reshape(shape: readonly number[]): Tensor {
    if (elementCount(shape) !== this.size) {
      throw new Error(`cannot reshape ${this.describe()} to ${formatShape(shape)}`);
    }
    return new TensorView(this, shape);
  }

  dispose(): void {
    if (this.markDisposed()) this.ctx.pool.release(this.buffer);
  }
}

/** A reshaped alias sharing its owner's buffer and lifetime. */
class TensorView extends Tensor {
  constructor(
    private readonly owner: Tensor,
    shape: readonly number[],
  ) {
    super(owner.ctx, owner.buffer, shape, owner.dtype, owner.label);
  }
  override get isDisposed(): boolean {
    return this.owner.isDisposed;
  }
  override dispose(): void {
    this.owner.dispose();
  }
}
