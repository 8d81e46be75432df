/** Progress of a model load, per file and phase. */
export interface LoadProgress {
  phase: 'download' | 'upload-to-gpu';
  file: string;
  bytesDone: number;
  bytesTotal: number;
}

/**
 * Rate-limits progress callbacks to one per `intervalMs` per (phase, file), always passing the
 * last event of each file (bytesDone === bytesTotal) so a UI never stalls below 100 %.
 */
export function throttleProgress(onProgress: ((p: LoadProgress) => void) | undefined, intervalMs = 100): (p: LoadProgress) => void {
  if (!onProgress) return () => {};
  const last = new Map<string, number>();
  return (p) => {
    const key = `${p.phase}:${p.file}`;
    const now = Date.now();
    if (p.bytesDone >= p.bytesTotal || now - (last.get(key) ?? 0) >= intervalMs) {
      last.set(key, now);
      onProgress(p);
    }
  };
}

/**
 * Aggregates a model load into per-file download progress (bytes of the tensors the model
 * needs from each file, so a ranged load reaches 100 %) and one 'upload-to-gpu' stream over all
 * weights, throttled.
 */
export class LoadProgressTracker {
  private readonly done = new Map<string, number>();
  private uploaded = 0;
  private readonly emit: (p: LoadProgress) => void;

  constructor(
    private readonly downloadTotals: ReadonlyMap<string, number>,
    private readonly uploadTotal: number,
    onProgress: ((p: LoadProgress) => void) | undefined,
  ) {
    this.emit = throttleProgress(onProgress);
  }

  downloaded(file: string, bytes: number): void {
    const d = (this.done.get(file) ?? 0) + bytes;
    this.done.set(file, d);
    this.emit({ phase: 'download', file, bytesDone: d, bytesTotal: this.downloadTotals.get(file) ?? d });
  }

  uploadedBytes(bytes: number): void {
    this.uploaded += bytes;
    this.emit({ phase: 'upload-to-gpu', file: 'weights', bytesDone: this.uploaded, bytesTotal: this.uploadTotal });
  }
}
