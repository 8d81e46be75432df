/**
 * Reuses GPU buffers across tensors: a forward pass allocates and frees the same sizes over
 * and over, and createBuffer is slow in browsers.
 *
 * Sizes are rounded up to buckets (powers of two split in quarters above 4 KiB), so a buffer
 * can serve a slightly smaller request. A released buffer is not reused until the commands
 * recorded so far have been submitted: otherwise a queue.writeBuffer from its next owner could
 * land before earlier, still unsubmitted, reads of it.
 *
 * Every buffer the pool created is tracked with its state (live: handed out; pending: released,
 * waiting for a submit; free: reusable), so `stats` can say how many bytes are in use and
 * cached (the long-run leak test samples it), and a failed model load can destroy exactly the
 * buffers it created and never handed back (`mark` / `destroyLiveSince`).
 */
type BufferState = 'live' | 'pending' | 'free';

interface Owned {
  /** When it was last handed out (a counter): what mark / destroyLiveSince compare. */
  serial: number;
  state: BufferState;
}

export interface PoolStats {
  /** Buffers the pool created and has not destroyed (live, pending and free). */
  liveBuffers: number;
  /** Bytes of buffers handed out and not released (tensors, caches, weights). */
  liveBytes: number;
  /** Bytes released but not reusable until the next submit. */
  pendingBytes: number;
  /** Bytes of free buffers kept for reuse. */
  freeBytes: number;
}

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly pendingRelease: GPUBuffer[] = [];
  private readonly owned = new Map<GPUBuffer, Owned>();
  private freeBytes = 0;
  private liveBytes = 0;
  private pendingBytes = 0;
  private nextSerial = 0;

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
      this.liveBytes += size;
      const entry = this.owned.get(reused)!;
      entry.state = 'live';
      entry.serial = this.nextSerial++; // handed out again: it belongs to whoever asked now
      return reused;
    }
    const buffer = this.device.createBuffer({ size, usage, label });
    this.owned.set(buffer, { serial: this.nextSerial++, state: 'live' });
    this.liveBytes += buffer.size;
    return buffer;
  }

  /** Give a buffer back. It becomes reusable after the next submit (see class comment). */
  release(buffer: GPUBuffer): void {
    const entry = this.owned.get(buffer);
    if (!entry || entry.state !== 'live') {
      // Not ours (or already destroyed by destroyLiveSince): destroy it, never reuse it. A
      // second release of one buffer is ignored rather than queued twice.
      if (!entry) buffer.destroy();
      return;
    }
    entry.state = 'pending';
    this.liveBytes -= buffer.size;
    this.pendingBytes += buffer.size;
    this.pendingRelease.push(buffer);
  }

  /** Called by the context right after it submits recorded commands. */
  onSubmitted(): void {
    for (const buffer of this.pendingRelease.splice(0)) {
      this.pendingBytes -= buffer.size;
      if (this.freeBytes + buffer.size > this.maxFreeBytes) {
        this.owned.delete(buffer);
        buffer.destroy();
        continue;
      }
      const key = `${buffer.usage}:${buffer.size}`;
      let list = this.free.get(key);
      if (!list) this.free.set(key, (list = []));
      list.push(buffer);
      this.owned.get(buffer)!.state = 'free';
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

  /** A point in the pool's history: buffers handed out after it (new or reused) have a serial ≥ the mark. */
  mark(): number {
    return this.nextSerial;
  }

  /**
   * Destroys the buffers handed out since `mark` (created or reused from the free list) that are
   * still held, and returns how many
   * bytes that freed. For a failed load: whatever it allocated and did not give back is
   * unreachable (the half-built model is dropped), so it must not stay on the GPU. Tensors
   * that still point at such a buffer release it later as a no-op.
   */
  destroyLiveSince(mark: number): number {
    let bytes = 0;
    for (const [buffer, entry] of [...this.owned]) {
      if (entry.serial < mark || entry.state !== 'live') continue;
      this.owned.delete(buffer);
      this.liveBytes -= buffer.size;
      bytes += buffer.size;
      buffer.destroy();
    }
    return bytes;
  }

  get stats(): PoolStats {
    return { liveBuffers: this.owned.size, liveBytes: this.liveBytes, pendingBytes: this.pendingBytes, freeBytes: this.freeBytes };
  }
}
