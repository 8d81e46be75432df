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
