/**
 * Writes a tiny random LLaVA checkpoint (Hugging Face layout) to a folder.
 *   npm run make-tiny-llava -- --out <dir> [--seed N] [--preset tiny|tiny-mha|tiny-nonsquare|tiny-144|bench-576]
 *     [--dtype f32|bf16] [--sharded | --shards N] [--layout hub|new] [--vocab-pad M]
 * (or `node scripts/run-ts.mjs tools/make-tiny-llava.ts …`). Same seed and options → byte-identical files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTinyLlava, PRESETS, presetImageTokens, type PresetName } from '../test/fixtures/tiny/llava';

const USAGE = `usage: make-tiny-llava --out <dir> [--seed N] [--preset ${Object.keys(PRESETS).join('|')}] [--dtype f32|bf16] [--sharded | --shards N] [--layout hub|new] [--vocab-pad M]`;

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      out: { type: 'string' },
      seed: { type: 'string', default: '1' },
      preset: { type: 'string', default: 'tiny' },
      dtype: { type: 'string', default: 'f32' },
      sharded: { type: 'boolean', default: false },
      shards: { type: 'string' },
      layout: { type: 'string', default: 'hub' },
      'vocab-pad': { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (e) {
  fail(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!values.out) fail(USAGE);
if (!(values.preset in PRESETS)) fail(`unknown preset "${values.preset}" (${Object.keys(PRESETS).join(', ')})`);
if (values.dtype !== 'f32' && values.dtype !== 'bf16') fail(`--dtype must be f32 or bf16, got "${values.dtype}"`);
if (values.layout !== 'hub' && values.layout !== 'new') fail(`--layout must be hub or new, got "${values.layout}"`);
const int = (name: string, v: string, min: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, got "${v}"`);
  return n;
};
const preset = values.preset as PresetName;
const files = makeTinyLlava({
  seed: int('seed', values.seed, 0),
  preset,
  dtype: values.dtype,
  shards: values.shards !== undefined ? int('shards', values.shards, 1) : undefined,
  sharded: values.sharded,
  layout: values.layout,
  vocabPadMultiple: int('vocab-pad', values['vocab-pad'], 1),
});
mkdirSync(values.out, { recursive: true });
let bytes = 0;
for (const [name, data] of files) {
  writeFileSync(join(values.out, name), data);
  bytes += data.byteLength;
}
console.log(`wrote ${files.size} files (${(bytes / 1e6).toFixed(2)} MB) to ${values.out}: preset ${preset}, ${presetImageTokens(PRESETS[preset])} visual tokens per image`);
