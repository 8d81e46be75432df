/**
 * Writes a tiny random checkpoint of one model family, in its exact Hugging Face layout, to a folder.
 *   npm run make-tiny -- --arch <arch> --out <dir> [--seed N] [--preset P] [--dtype f32|bf16]
 *     [--layout hub|new] [--shards N | --sharded] [--vocab-pad M]
 *   npm run make-tiny -- --list          the archs, what each is and its presets
 * `npm run make-tiny-llava -- …` is `--arch llava`. Same arch, seed and options → byte-identical
 * files. The makers are test fixtures (test/fixtures/tiny/), listed in TINY_ARCHS.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TINY_ARCHS, TinyOptionError, type TinyMakeOptions } from '../test/fixtures/tiny';

const ARCHS = Object.keys(TINY_ARCHS);
const USAGE =
  `usage: make-tiny --arch ${ARCHS.join('|')} --out <dir> [--seed N] [--preset P] [--dtype f32|bf16] [--layout hub|new] [--shards N | --sharded] [--vocab-pad M]\n` +
  '       make-tiny --list';

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      // Repeatable so that `make-tiny-llava -- --arch x` (the alias already passes --arch llava) is caught, not silently overridden.
      arch: { type: 'string', multiple: true },
      out: { type: 'string' },
      seed: { type: 'string', default: '1' },
      preset: { type: 'string' },
      dtype: { type: 'string' },
      layout: { type: 'string' },
      shards: { type: 'string' },
      sharded: { type: 'boolean', default: false },
      'vocab-pad': { type: 'string' },
      list: { type: 'boolean', default: false },
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
if (values.list) {
  for (const [name, a] of Object.entries(TINY_ARCHS)) {
    console.log(`${name}\n  ${a.describe}\n  presets: ${a.presets.map((p) => (p === a.defaultPreset ? `${p} (default)` : p)).join(', ')}\n  varies: seed, preset${a.supports.length ? `, ${a.supports.join(', ')}` : ''}`);
  }
  process.exit(0);
}
const archs = [...new Set(values.arch ?? [])];
if (archs.length !== 1) fail(archs.length ? `give one --arch, got ${archs.join(', ')}` : USAGE);
const archName = archs[0]!;
const arch = TINY_ARCHS[archName];
if (!arch) fail(`unknown --arch "${archName}" (${ARCHS.join(', ')})`);
if (!values.out) fail(USAGE);
const int = (name: string, v: string, min: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, got "${v}"`);
  return n;
};
if (values.dtype !== undefined && values.dtype !== 'f32' && values.dtype !== 'bf16') fail(`--dtype must be f32 or bf16, got "${values.dtype}"`);
if (values.layout !== undefined && values.layout !== 'hub' && values.layout !== 'new') fail(`--layout must be hub or new, got "${values.layout}"`);
if (values.sharded && values.shards !== undefined) fail('give --shards N or --sharded (= --shards 3), not both');
const options: TinyMakeOptions = {
  seed: int('seed', values.seed, 0),
  preset: values.preset,
  dtype: values.dtype as TinyMakeOptions['dtype'],
  layout: values.layout as TinyMakeOptions['layout'],
  shards: values.shards !== undefined ? int('shards', values.shards, 1) : values.sharded ? 3 : undefined,
  vocabPadMultiple: values['vocab-pad'] !== undefined ? int('vocab-pad', values['vocab-pad'], 1) : undefined,
};
let files: Map<string, Uint8Array>;
try {
  files = arch.make(options);
} catch (e) {
  if (e instanceof TinyOptionError) fail(e.message);
  throw e;
}

mkdirSync(values.out, { recursive: true });
// Weights left from an earlier run with other sharding would make the folder ambiguous to loaders.
const stale = readdirSync(values.out).filter((n) => /^model.*\.safetensors(\.index\.json)?$/.test(n) && !files.has(n));
let bytes = 0;
for (const [name, data] of files) {
  writeFileSync(join(values.out, name), data);
  bytes += data.byteLength;
}
const preset = options.preset ?? arch.defaultPreset;
const tokens = arch.imageTokens ? `, ${arch.imageTokens(preset)} visual tokens per image` : '';
console.log(`wrote ${files.size} files (${(bytes / 1e6).toFixed(2)} MB) to ${values.out}: ${archName}, preset ${preset}${tokens}`);
if (stale.length && existsSync(values.out)) console.error(`warning: ${values.out} also holds ${stale.join(', ')} from an earlier run; delete them before loading this checkpoint`);
