import { DeviceLostError, GpuOutOfMemoryError, KernelInputError } from './errors';
import { PipelineCache } from './pipelines';
import { BufferPool, type PoolStats } from './pool';
import { Profiler, type ProfilerMode } from './profiler';
import type { Defines } from './shader-defines';
import { BYTES_PER_ELEMENT, elementCount, formatShape, storageBytes, Tensor, type DType } from './tensor';

/** Optional WebGPU features the kernels can use. */
export interface GpuFeatures {
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
}

/** What a caller may want to show about the adapter. */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: GpuFeatures;
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupsPerDimension: number;
    maxStorageBuffersPerShaderStage: number;
  };
}

/** A storage binding: a whole buffer or a byte range of it. */
export type BufferBinding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

export interface DispatchSpec {
  kernel: string;
  pipeline: GPUComputePipeline;
  /**
   * binding index → buffer; must match the bindings the compiled variant actually uses.
   * Undefined entries are skipped (bindings a variant compiles out).
   */
  bindings: Readonly<Record<number, BufferBinding | undefined>>;
  /** Uniform bytes bound at `uniformBinding` (default 0). */
  uniforms?: ArrayBufferView;
  uniformBinding?: number;
  workgroups: readonly [number, number?, number?];
}

/** How long a failed readback waits for device.lost before reporting the map error itself. */
const MAP_FAILURE_GRACE_MS = 2000;

/** Usage of tensor buffers. A function: in Node, GPUBufferUsage exists only once `webgpu` is set up. */
export function storageUsage(): GPUBufferUsageFlags {
  return GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
}

type TypedArrayFor<D extends DType> = D extends 'f32'
  ? Float32Array
  : D extends 'u32'
    ? Uint32Array
    : D extends 'i32'
      ? Int32Array
      : Uint16Array;

/**
 * One WebGPU device and everything kernels need around it: buffer pool, pipeline cache,
 * command batching (dispatches are recorded into one encoder and submitted together on
 * flush(), so a whole forward pass is a handful of submits), readback, profiling and
 * device-lost detection. Works the same with navigator.gpu (page or worker) and with the
 * `webgpu` package in Node.
 */
export class GpuContext {
  readonly pipelines: PipelineCache;
  readonly pool: BufferPool;
  /** Uncaptured validation / out-of-memory errors, newest last (see assertNoErrors). */
  readonly uncapturedErrors: string[] = [];
  private lostError: DeviceLostError | null = null;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingUniforms: GPUBuffer[] = [];
  private recordedCommands = 0;
  private profiler: Profiler | null = null;
  private profilerReads: Promise<void>[] = [];
  /** Largest byte range bound to one storage binding (the device limit unless lowered for tests). */
  readonly maxBindingBytes: number;
  /** Largest buffer a tensor may have (the device's maxBufferSize unless lowered for tests). */
  readonly maxBufferBytes: number;
  /** Resolves when the device is lost (never rejects); `isLost` is true from then on. */
  readonly lost: Promise<DeviceLostError>;

  constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
    options: { maxBindingBytes?: number; maxBufferBytes?: number } = {},
  ) {
    this.pipelines = new PipelineCache(device);
    this.pool = new BufferPool(device);
    this.maxBindingBytes = Math.min(
      device.limits.maxStorageBufferBindingSize,
      options.maxBindingBytes ?? Number.POSITIVE_INFINITY,
    );
    this.maxBufferBytes = Math.min(device.limits.maxBufferSize, options.maxBufferBytes ?? Number.POSITIVE_INFINITY);
    this.lost = device.lost.then((info) => {
      this.lostError = new DeviceLostError(info.reason, info.message);
      return this.lostError;
    });
    device.addEventListener('uncapturederror', (event) => {
      const e = (event as GPUUncapturedErrorEvent).error;
      this.uncapturedErrors.push(e.message);
      if (this.uncapturedErrors.length > 100) this.uncapturedErrors.shift();
    });
  }

  get features(): GpuFeatures {
    return this.adapter.features;
  }

  get isLost(): boolean {
    return this.lostError !== null;
  }

  /** Throws DeviceLostError if the device is gone; call before work the caller could redo. */
  assertAlive(): void {
    if (this.lostError) throw this.lostError;
  }

  /**
   * The pool's bytes: handed out (live), released but not yet reusable (pending), and cached
   * for reuse (free). A leak shows as live bytes that grow from one request to the next.
   */
  get memory(): PoolStats {
    return this.pool.stats;
  }

  /**
   * Runs `task` inside an 'out-of-memory' error scope: WebGPU reports a failed allocation there
   * (createBuffer returns an unusable buffer rather than throwing), so without it a load could
   * "succeed" with weights that are not on the GPU. Throws GpuOutOfMemoryError after the task
   * when the scope caught one, also when the task itself failed (the allocation is the cause).
   * The caller frees what the task allocated. Do not nest with other scopes across awaits of
   * unrelated GPU work: scopes are per device, not per call chain (the Engine runs one task at
   * a time).
   */
  async outOfMemoryScope<T>(what: string, task: () => Promise<T>): Promise<T> {
    this.device.pushErrorScope('out-of-memory');
    let result: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      result = { ok: true, value: await task() };
    } catch (error) {
      result = { ok: false, error };
    }
    let oom: GPUError | null = null;
    try {
      oom = await this.device.popErrorScope();
    } catch {
      oom = null; // a lost device has no scopes left to pop; the loss is reported instead
    }
    if (oom) {
      throw new GpuOutOfMemoryError(
        `the GPU ran out of memory while ${what} (${oom.message || 'no detail'}): close other tabs or applications that use the GPU, or pick a smaller model`,
      );
    }
    if (!result.ok) throw result.error;
    return result.value;
  }

  /** Throws if WebGPU reported validation errors since the last call (tests and debugging). */
  assertNoErrors(): void {
    if (this.uncapturedErrors.length > 0) {
      const errors = this.uncapturedErrors.splice(0);
      throw new Error(`WebGPU reported ${errors.length} error(s): ${errors.join(' | ')}`);
    }
  }

  // ---- tensors ----------------------------------------------------------------------------

  /** A new tensor with undefined contents. */
  empty(shape: readonly number[], dtype: DType, label = ''): Tensor {
    this.assertAlive();
    const bytes = storageBytes(elementCount(shape), dtype);
    if (bytes > this.maxBufferBytes) {
      throw new KernelInputError(
        'alloc',
        `${label || 'tensor'}${formatShape(shape)} ${dtype} needs ${bytes} bytes, over maxBufferSize ${this.maxBufferBytes}`,
      );
    }
    return new Tensor(this, this.pool.acquire(bytes, storageUsage(), label), shape, dtype, label);
  }

  /** Upload data as a new tensor. f16 data is given as raw half bits (Uint16Array). */
  upload<D extends DType>(data: TypedArrayFor<D>, shape: readonly number[], dtype: D, label = ''): Tensor {
    const count = elementCount(shape);
    if (data.length !== count) {
      throw new KernelInputError('upload', `${label || 'tensor'}${formatShape(shape)} expects ${count} elements, got ${data.length}`);
    }
    const t = this.empty(shape, dtype, label);
    // No flush first: a new tensor's buffer is not read by any recorded, unsubmitted command
    // (the pool hands out a released buffer only after the commands that used it were
    // submitted, and queue.writeBuffer lands after all submitted work). So a decode step that
    // uploads its token id and position mid-way stays one submit.
    this.writeBytes(t, data, 0);
    return t;
  }

  /** Overwrite a tensor's contents from the CPU (flushes pending work first to keep order). */
  write(t: Tensor, data: ArrayBufferView, elementOffset = 0): void {
    this.assertAlive();
    if (this.recordedCommands > 0) this.flush();
    this.writeBytes(t, data, elementOffset);
  }

  private writeBytes(t: Tensor, data: ArrayBufferView, elementOffset: number): void {
    this.assertAlive();
    const byteOffset = elementOffset * BYTES_PER_ELEMENT[t.dtype];
    if (byteOffset % 4 !== 0) throw new Error(`write: offset ${byteOffset} bytes is not a multiple of 4`);
    if (byteOffset + data.byteLength > t.buffer.size) {
      throw new Error(`write: ${data.byteLength} bytes at ${byteOffset} overflow ${t.describe()}`);
    }
    let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4 !== 0) {
      // writeBuffer wants whole words: pad the odd f16 tail with zero.
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      bytes = padded;
    }
    this.device.queue.writeBuffer(t.buffer, byteOffset, bytes as Uint8Array<ArrayBuffer>, 0, bytes.byteLength);
  }

  /** Fill a tensor with a 32-bit pattern (e.g. NaN bits) so unwritten elements show up. */
  fill(t: Tensor, word: number): void {
    const words = new Uint32Array(t.byteLength / 4).fill(word >>> 0);
    this.write(t, words);
  }

  /** Read a tensor back to the CPU. f16 comes back as raw half bits (Uint16Array). */
  async read<D extends DType>(t: Tensor & { dtype: D }): Promise<TypedArrayFor<D>>;
  async read(t: Tensor): Promise<Float32Array | Uint32Array | Int32Array | Uint16Array>;
  async read(t: Tensor): Promise<Float32Array | Uint32Array | Int32Array | Uint16Array> {
    this.assertAlive();
    const bytes = t.byteLength;
    const staging = this.pool.acquire(bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback');
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(t.buffer, 0, staging, 0, bytes);
    this.recordedCommands++;
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      // A map fails (AbortError) when the device is lost, but device.lost can settle a moment
      // after it (Chromium): wait for it, briefly, so the caller gets the DeviceLostError.
      if (!this.lostError) await Promise.race([this.lost, new Promise((r) => setTimeout(r, MAP_FAILURE_GRACE_MS))]);
      this.assertAlive();
      throw e;
    }
    const copy = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    this.pool.release(staging);
    switch (t.dtype) {
      case 'f32':
        return new Float32Array(copy, 0, t.size);
      case 'u32':
        return new Uint32Array(copy, 0, t.size);
      case 'i32':
        return new Int32Array(copy, 0, t.size);
      case 'f16':
        return new Uint16Array(copy, 0, t.size);
    }
  }

  /** Copy `bytes` between buffers inside the current batch (e.g. appending K/V to a cache). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.assertAlive();
    if (bytes === 0) return;
    if (srcOffset % 4 || dstOffset % 4 || bytes % 4) {
      throw new Error(`copy: offsets and size must be multiples of 4 (got ${srcOffset}, ${dstOffset}, ${bytes})`);
    }
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.recordedCommands++;
  }

  // ---- dispatch and batching ----------------------------------------------------------------

  /**
   * The binding for a tensor's data (not the whole pooled buffer), checked against the
   * device's storage-binding limit so an oversized input fails with a clear message.
   */
  bind(kernel: string, t: Tensor): BufferBinding {
    if (t.isDisposed) throw new KernelInputError(kernel, `${t.describe()} was disposed`);
    if (t.ctx !== this) throw new KernelInputError(kernel, `${t.describe()} belongs to another device`);
    if (t.byteLength > this.maxBindingBytes) {
      throw new KernelInputError(
        kernel,
        `${t.describe()} is ${t.byteLength} bytes, over the device's storage binding limit of ${this.maxBindingBytes} bytes`,
      );
    }
    return { buffer: t.buffer, offset: 0, size: t.byteLength };
  }

  pipeline(kernel: string, source: string, defines: Defines = {}): GPUComputePipeline {
    this.assertAlive();
    return this.pipelines.get(kernel, source, defines);
  }

  /** Record one dispatch into the current batch. */
  dispatch(spec: DispatchSpec): void {
    this.assertAlive();
    const entries: GPUBindGroupEntry[] = [];
    if (spec.uniforms) {
      const u = this.pool.acquire(spec.uniforms.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'uniforms');
      const bytes = new Uint8Array(spec.uniforms.buffer, spec.uniforms.byteOffset, spec.uniforms.byteLength);
      this.device.queue.writeBuffer(u, 0, bytes as Uint8Array<ArrayBuffer>);
      this.pendingUniforms.push(u);
      entries.push({ binding: spec.uniformBinding ?? 0, resource: { buffer: u, size: spec.uniforms.byteLength } });
    }
    for (const [index, b] of Object.entries(spec.bindings)) {
      if (!b) continue;
      const resource = isGpuBuffer(b) ? { buffer: b } : b;
      entries.push({ binding: Number(index), resource });
    }
    const bindGroup = this.device.createBindGroup({
      layout: spec.pipeline.getBindGroupLayout(0),
      entries,
    });
    const [x, y = 1, z = 1] = spec.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxDim = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxDim || y > maxDim || z > maxDim) {
      throw new KernelInputError(spec.kernel, `dispatch ${x}×${y}×${z} exceeds maxComputeWorkgroupsPerDimension ${maxDim}`);
    }
    let pass: GPUComputePassEncoder;
    const timestamps = this.profiler?.nextPassTimestamps(spec.kernel);
    if (timestamps || this.profiler) {
      this.endPass();
      pass = this.commandEncoder().beginComputePass({ label: spec.kernel, timestampWrites: timestamps });
    } else {
      pass = this.computePass();
    }
    pass.setPipeline(spec.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.recordedCommands++;
    if (this.profiler) {
      pass.end();
      if (this.profiler.mode === 'wall') this.timeAlone(spec.kernel);
    }
  }

  /** Submit everything recorded so far. Cheap when nothing is pending. */
  flush(): void {
    this.assertAlive();
    if (!this.encoder) {
      // Nothing recorded and unsubmitted can still read released buffers: reuse them now.
      this.pool.onSubmitted();
      return;
    }
    this.endPass();
    const read = this.profiler?.resolve(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.recordedCommands = 0;
    for (const u of this.pendingUniforms.splice(0)) this.pool.release(u);
    this.pool.onSubmitted();
    if (read) this.profilerReads.push(read());
  }

  /** Submit and wait until the GPU has finished all of it. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.assertAlive();
  }

  // ---- profiling ------------------------------------------------------------------------------

  /** Start collecting per-kernel times; 'timestamp' needs the timestamp-query feature. */
  startProfiling(mode: ProfilerMode = this.features.timestampQuery ? 'timestamp' : 'wall'): void {
    this.flush();
    this.profiler?.destroy();
    this.profiler = new Profiler(this.device, mode);
    this.lastDone = 0;
  }

  /** Stop profiling and return per-kernel totals, slowest first. */
  async stopProfiling(): Promise<ReturnType<Profiler['report']>> {
    await this.sync();
    await Promise.all(this.profilerReads.splice(0));
    const report = this.profiler?.report() ?? [];
    this.profiler?.destroy();
    this.profiler = null;
    return report;
  }

  private lastDone = 0;

  /**
   * Wall-clock mode: submit this dispatch alone. The queue runs submissions in order, so a
   * dispatch's time is from when it could start (its submit, or the previous one finishing)
   * to when it finished.
   */
  private timeAlone(label: string): void {
    const submitted = performance.now();
    this.flush();
    const profiler = this.profiler!;
    this.profilerReads.push(
      this.device.queue.onSubmittedWorkDone().then(() => {
        const done = performance.now();
        profiler.add(label, done - Math.max(submitted, this.lastDone));
        this.lastDone = done;
      }),
    );
  }

  // ---- internals ----------------------------------------------------------------------------

  private commandEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.commandEncoder().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Release pooled buffers and pipelines' device. The context is unusable afterwards. */
  destroy(): void {
    this.encoder = null;
    this.pass = null;
    this.pool.trim();
    this.profiler?.destroy();
    this.device.destroy();
  }
}

function isGpuBuffer(b: unknown): b is GPUBuffer {
  return typeof b === 'object' && b !== null && 'mapAsync' in b;
}
