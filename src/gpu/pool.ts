/**
 * Reuses GPU buffers across tensors: a forward pass allocates and frees the same sizes over
 * and over, and createBuffer is slow in browsers.
 *
 * Sizes are rounded up to buckets (powers of two split in quarters above 4 KiB), so a buffer
 * can serve a slightly smaller request. A released buffer is not reused until the commands
 * recorded so far have been submitted: otherwise a queue.writeBuffer from its next owner could
 * land before earlier, still unsubmitted, reads of it.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly pendingRelease: GPUBuffer[] = [];
  private readonly owned = new Set<GPUBuffer>();
  private freeBytes = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Free buffers beyond this many bytes are destroyed instead of kept. */
    private readonly maxFreeBytes = 256 * 1024 * 1024,
  ) {}

  static bucketSize(bytes: number): number {
    const b = Math.max(16, bytes);
    if (b <= 4096) return Math.ceil(b / 256) * 256;
    const pow = 2 ** Math.floor(Math.log2(b));
    const quarter = pow / 4;
    return Math.ceil(b / quarter) * quarter;
  }

  acquire(bytes: number, usage: GPUBufferUsageFlags, label?: string): GPUBuffer {
    const size = BufferPool.bucketSize(bytes);
    const key = `${usage}:${size}`;
    const list = this.free.get(key);
    const reused = list?.pop();
    if (reused) {
      this.freeBytes -= size;
      return reused;
    }
    const buffer = this.device.createBuffer({ size, usage, label });
    this.owned.add(buffer);
    return buffer;
  }

  /** Give a buffer back. It becomes reusable after the next submit (see class comment). */
  release(buffer: GPUBuffer): void {
    if (!this.owned.has(buffer)) {
      buffer.destroy();
      return;
    }
    this.pendingRelease.push(buffer);
  }

  /** Called by the context right after it submits recorded commands. */
  onSubmitted(): void {
    for (const buffer of this.pendingRelease.splice(0)) {
      if (this.freeBytes + buffer.size > this.maxFreeBytes) {
        this.owned.delete(buffer);
        buffer.destroy();
        continue;
      }
      const key = `${buffer.usage}:${buffer.size}`;
      let list = this.free.get(key);
      if (!list) this.free.set(key, (list = []));
      list.push(buffer);
      this.freeBytes += buffer.size;
    }
  }

  /** Destroy every free buffer (e.g. after unloading a model). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.owned.delete(b);
        b.destroy();
      }
    }
    this.free.clear();
    this.freeBytes = 0;
  }

  get stats(): { freeBytes: number; liveBuffers: number } {
    return { freeBytes: this.freeBytes, liveBuffers: this.owned.size };
  }
}
