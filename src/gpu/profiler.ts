/**
 * Per-kernel GPU time. With the timestamp-query feature every dispatch gets its own compute
 * pass with begin/end timestamps, resolved at each submit; without it, each dispatch is
 * submitted alone and timed by wall clock around onSubmittedWorkDone (slow, but honest).
 * Profiling changes how work is batched, so leave it off outside of measurements.
 */
export interface KernelTiming {
  label: string;
  count: number;
  totalMs: number;
}

export type ProfilerMode = 'timestamp' | 'wall';

export class Profiler {
  private readonly totals = new Map<string, KernelTiming>();
  private querySet: GPUQuerySet | null = null;
  private resolveBuffer: GPUBuffer | null = null;
  private pendingLabels: string[] = [];
  private readonly capacity = 1024; // dispatches between two submits

  constructor(
    private readonly device: GPUDevice,
    readonly mode: ProfilerMode,
  ) {
    if (mode === 'timestamp') {
      this.querySet = device.createQuerySet({ type: 'timestamp', count: this.capacity * 2 });
      this.resolveBuffer = device.createBuffer({
        size: this.capacity * 2 * 8,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
    }
  }

  /** Timestamp writes for the next pass, or undefined when the batch is full / wall mode. */
  nextPassTimestamps(label: string): GPUComputePassTimestampWrites | undefined {
    if (!this.querySet || this.pendingLabels.length >= this.capacity) return undefined;
    const i = this.pendingLabels.length;
    this.pendingLabels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Before finishing an encoder: copy the timestamps of this batch out. */
  resolve(encoder: GPUCommandEncoder): (() => Promise<void>) | null {
    const n = this.pendingLabels.length;
    if (!this.querySet || !this.resolveBuffer || n === 0) return null;
    const labels = this.pendingLabels.splice(0);
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuffer, 0);
    const staging = this.device.createBuffer({
      size: 2 * n * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, staging, 0, 2 * n * 8);
    return async () => {
      await staging.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(staging.getMappedRange().slice(0));
      staging.destroy();
      labels.forEach((label, i) => {
        const ns = Number(t[2 * i + 1]! - t[2 * i]!);
        this.add(label, ns > 0 ? ns / 1e6 : 0);
      });
    };
  }

  add(label: string, ms: number): void {
    const entry = this.totals.get(label) ?? { label, count: 0, totalMs: 0 };
    entry.count += 1;
    entry.totalMs += ms;
    this.totals.set(label, entry);
  }

  report(): KernelTiming[] {
    return [...this.totals.values()].sort((a, b) => b.totalMs - a.totalMs);
  }

  reset(): void {
    this.totals.clear();
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuffer?.destroy();
  }
}
