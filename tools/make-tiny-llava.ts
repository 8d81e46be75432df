/**
 * Writes a tiny random LLaVA checkpoint (HF layout) to a folder.
 *   node scripts/run-ts.mjs tools/make-tiny-llava.ts --out <dir> [--seed N] [--preset tiny|tiny-mha|tiny-144]
 *     [--dtype f32|bf16] [--shards N] [--layout hub|new]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeTinyLlava, PRESETS, type PresetName } from './tiny-llava';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    seed: { type: 'string', default: '1' },
    preset: { type: 'string', default: 'tiny' },
    dtype: { type: 'string', default: 'f32' },
    shards: { type: 'string', default: '1' },
    layout: { type: 'string', default: 'hub' },
  },
});
if (!values.out) {
  console.error('usage: make-tiny-llava --out <dir> [--seed N] [--preset tiny|tiny-mha|tiny-144] [--dtype f32|bf16] [--shards N] [--layout hub|new]');
  process.exit(2);
}
if (!(values.preset! in PRESETS)) {
  console.error(`unknown preset "${values.preset}" (${Object.keys(PRESETS).join(', ')})`);
  process.exit(2);
}
const files = makeTinyLlava({
  seed: Number(values.seed),
  preset: values.preset as PresetName,
  dtype: values.dtype === 'bf16' ? 'bf16' : 'f32',
  shards: Number(values.shards),
  layout: values.layout === 'new' ? 'new' : 'hub',
});
mkdirSync(values.out, { recursive: true });
for (const [name, bytes] of files) writeFileSync(join(values.out, name), bytes);
console.log(`wrote ${files.size} files to ${values.out}`);
