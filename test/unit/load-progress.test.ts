import { describe, expect, it } from 'vitest';
import { LoadProgressTracker, type LoadProgress } from '../../src/load/progress';

describe('load progress', () => {
  it('aggregates per file and always reports the final event of each file', () => {
    const events: LoadProgress[] = [];
    const t = new LoadProgressTracker(new Map([['a.safetensors', 300], ['b.safetensors', 100]]), 800, (p) => void events.push(p));
    for (let i = 0; i < 3; i++) t.downloaded('a.safetensors', 100);
    t.downloaded('b.safetensors', 100);
    t.uploadedBytes(800);
    const last = (file: string) => events.filter((e) => e.file === file).at(-1)!;
    expect(last('a.safetensors')).toEqual({ phase: 'download', file: 'a.safetensors', bytesDone: 300, bytesTotal: 300 });
    expect(last('b.safetensors').bytesDone).toBe(100);
    expect(last('weights')).toEqual({ phase: 'upload-to-gpu', file: 'weights', bytesDone: 800, bytesTotal: 800 });
    expect(events.length).toBeLessThan(6); // throttled: the middle events of a.safetensors were dropped
  });
});
