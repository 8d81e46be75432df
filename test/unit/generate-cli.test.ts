// `npm run generate -- --json` end to end: the CLI (through scripts/with-gpu.mjs, as the npm
// script runs it, so it works on lavapipe) on a tiny SigLIP + Qwen2 LLaVA in a temporary folder
// prints exactly one JSON object on stdout, whose greedy tokens are the CPU reference's.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySource } from '../../src/load/source';
import { loadPreprocessor } from '../../src/preprocess';
import { referenceGenerate } from '../../src/reference/llava';
import { chooseAdapter } from '../../scripts/with-gpu.mjs';
import { encodePng } from '../../tools/png';
import { makeTinyLlava } from '../fixtures/tiny/llava';
import { referenceWeights } from '../helpers/llava';

const root = fileURLToPath(new URL('../..', import.meta.url));
// Decided once here (the probe spawns a process) and handed to the wrapper, which then does not probe again.
const adapter = chooseAdapter({ env: process.env });
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('npm run generate -- --json', () => {
  it.skipIf(Boolean(adapter.error))('prints one JSON object with text and tokens, the reference greedy answer (tiny-qwen2-siglip, 45×71 PNG)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fitprune-generate-'));
    dirs.push(dir);
    const files = makeTinyLlava({ seed: 11, preset: 'tiny-qwen2-siglip' });
    for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
    // An odd, non-square picture: horizontal and vertical ramps in two channels, a square in the third.
    const [w, h] = [45, 71];
    const rgb = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([(x * 255) / (w - 1), (y * 255) / (h - 1), x > 10 && x < 30 && y > 20 && y < 40 ? 230 : 20], (y * w + x) * 3);
    const png = encodePng(rgb, w, h);
    const imagePath = join(dir, 'picture.png');
    writeFileSync(imagePath, png);
    const question = 'What is the color of the square?';

    const r = spawnSync(
      process.execPath,
      ['scripts/with-gpu.mjs', process.execPath, 'scripts/run-ts.mjs', 'tools/generate.ts', '--model', dir, '--image', imagePath, '--prompt', question, '--json', '--max-new-tokens', '5'],
      { cwd: root, encoding: 'utf8', timeout: 150_000, env: { ...process.env, ...adapter.env, FITPRUNE_ADAPTER: adapter.adapter } },
    );
    expect(r.status, r.stderr).toBe(0);
    // The whole of stdout is one JSON value, and it is an object.
    const out: unknown = JSON.parse(r.stdout);
    expect(typeof out === 'object' && out !== null && !Array.isArray(out)).toBe(true);
    const result = out as { text: unknown; tokens: unknown; finishReason: unknown; usage: { visualTokens: number; promptTokens: number }; pruning: { grid: { cell: unknown } } };
    expect(typeof result.text).toBe('string');
    expect(Array.isArray(result.tokens) && result.tokens.every((t) => Number.isInteger(t))).toBe(true);
    expect(result.usage.visualTokens).toBe(49);
    expect(result.pruning.grid.cell).toEqual(Array.from({ length: 49 }, (_, i) => i)); // typed arrays come out as arrays

    // The same answer from the float64 reference on the same checkpoint, prompt and pixels.
    const pre = await loadPreprocessor(new MemorySource(files));
    const { pixelValues } = await pre.preprocessImage(new Blob([new Uint8Array(png)]));
    const prompt = pre.encode(pre.buildPrompt(question, { hasImage: true }), { imageTokenCount: 49 });
    expect(result.usage.promptTokens).toBe(prompt.inputIds.length);
    const ref = referenceGenerate(await referenceWeights(files), prompt.inputIds, prompt.imageSpans[0]!, pixelValues, 5, pre.eosTokenIds);
    expect(result.tokens).toEqual(ref.tokens);
    expect(result.text).toBe(pre.decode(ref.tokens));
    expect(result.finishReason).toBe(ref.tokens.length < 5 ? 'eos' : 'length');
  }, 180_000);
});
