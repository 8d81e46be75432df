import type { GpuContext } from '../gpu/context';
import { KernelInputError } from '../gpu/errors';
import weightReader from './weight-reader.wgsl?raw';
import { BYTES_PER_ELEMENT, formatShape, type DType, type Tensor } from '../gpu/tensor';

/**
 * Packs a kernel's uniform struct. WGSL uniform structs of 4-byte scalars are laid out in
 * declaration order; the total is padded to 16 bytes as uniform buffers require.
 */
export class Uniforms {
  private readonly words: number[] = [];
  private readonly kinds: ('u32' | 'i32' | 'f32')[] = [];

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`u32 uniform out of range: ${v}`);
    this.words.push(v);
    this.kinds.push('u32');
    return this;
  }

  i32(v: number): this {
    this.words.push(v | 0);
    this.kinds.push('i32');
    return this;
  }

  f32(v: number): this {
    this.words.push(v);
    this.kinds.push('f32');
    return this;
  }

  bytes(): Uint8Array {
    const n = Math.max(4, Math.ceil(this.words.length / 4) * 4);
    const buf = new ArrayBuffer(n * 4);
    const u = new Uint32Array(buf);
    const i = new Int32Array(buf);
    const f = new Float32Array(buf);
    this.words.forEach((v, k) => {
      if (this.kinds[k] === 'f32') f[k] = v;
      else if (this.kinds[k] === 'i32') i[k] = v;
      else u[k] = v;
    });
    return new Uint8Array(buf);
  }
}

/**
 * Spread a linear workgroup count over x and y so neither exceeds the per-dimension limit.
 * Kernels recover the linear index as `wid.x + wid.y * nwg.x` and skip ids past the count.
 */
export function workgroupGrid(ctx: GpuContext, count: number): [number, number] {
  const max = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  if (count <= max) return [count, 1];
  const y = Math.ceil(count / max);
  return [Math.ceil(count / y), y];
}

export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

/** Shape and dtype checks that name the kernel and the offending tensor. */
export function expectDtype(kernel: string, name: string, t: Tensor, allowed: readonly DType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new KernelInputError(kernel, `${name} must be ${allowed.join(' or ')}, got ${t.dtype} ${formatShape(t.shape)}`);
  }
}

export function expectShape(kernel: string, name: string, t: Tensor, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new KernelInputError(kernel, `${name} must be ${formatShape(shape)}, got ${formatShape(t.shape)}`);
  }
}

export function check(kernel: string, condition: boolean, detail: () => string): void {
  if (!condition) throw new KernelInputError(kernel, detail());
}

/** An output tensor: the caller's (checked) or a new one. */
export function outputTensor(
  ctx: GpuContext,
  kernel: string,
  shape: readonly number[],
  dtype: DType,
  out?: Tensor,
): Tensor {
  if (!out) return ctx.empty(shape, dtype, `${kernel}.out`);
  expectShape(kernel, 'out', out, shape);
  expectDtype(kernel, 'out', out, [dtype]);
  return out;
}

/** One slice of a 2-D tensor's rows, bound at an offset the device accepts. */
export interface RowSlice {
  firstRow: number;
  rows: number;
  binding: { buffer: GPUBuffer; offset: number; size: number };
}

/**
 * Row slices of a 2-D tensor [rows, cols] (a weight or an embedding table) such that each fits
 * one storage binding and starts at a multiple of minStorageBufferOffsetAlignment. Most tensors
 * are one slice; a 128k-vocabulary embedding on a 128 MiB-binding adapter is several.
 */
export function rowSlices(ctx: GpuContext, kernel: string, t: Tensor): RowSlice[] {
  if (t.isDisposed) throw new KernelInputError(kernel, `${t.describe()} was disposed`);
  check(kernel, t.shape.length === 2, () => `${t.describe()} must be 2-D to be sliced by rows`);
  const [rows, cols] = t.shape as [number, number];
  const rowBytes = cols * BYTES_PER_ELEMENT[t.dtype];
  if (t.byteLength <= ctx.maxBindingBytes) {
    return [{ firstRow: 0, rows, binding: { buffer: t.buffer, offset: 0, size: t.byteLength } }];
  }
  const align = ctx.device.limits.minStorageBufferOffsetAlignment;
  const step = align / gcd(rowBytes, align); // rows per aligned offset
  const rowsPerSlice = Math.floor(ctx.maxBindingBytes / rowBytes / step) * step;
  if (rowsPerSlice === 0) {
    throw new KernelInputError(
      kernel,
      `${t.describe()}: one aligned group of ${step} rows (${step * rowBytes} bytes) exceeds the storage binding limit of ${ctx.maxBindingBytes} bytes`,
    );
  }
  const slices: RowSlice[] = [];
  for (let first = 0; first < rows; first += rowsPerSlice) {
    const n = Math.min(rowsPerSlice, rows - first);
    const offset = first * rowBytes;
    const size = Math.min(Math.ceil((n * rowBytes) / 4) * 4, t.byteLength - offset);
    slices.push({ firstRow: first, rows: n, binding: { buffer: t.buffer, offset, size } });
  }
  return slices;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** A kernel source with the shared weight-reading prelude (binding 2 = W, loadW()) in front. */
export function withWeightReader(source: string): string {
  return `${weightReader}\n${source}`;
}
