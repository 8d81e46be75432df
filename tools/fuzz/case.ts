/**
 * What one fuzz case is, and the small tools case generators share. A case is made from a seed
 * and an index alone (tools/fuzz/cases/index.ts), so the supervisor, a child process and a
 * replay (`npm run fuzz -- --case K`) all build the same case.
 */
import type { Engine, GenerateRequest, GenerateResult } from '../../src/engine/engine';
import type { ModelSource } from '../../src/load/source';
import type { Rng } from '../../src/util/random';

/** The input families of issue 20; every case belongs to one. */
export const FUZZ_FAMILIES = ['safetensors', 'config', 'tokenizer', 'preprocessor', 'chat-template', 'recipe', 'dataset', 'request', 'source'] as const;
export type FuzzFamily = (typeof FUZZ_FAMILIES)[number];

/** The tiny checkpoints cases start from (keys of TINY_ARCHS). */
export const FUZZ_ARCHS = ['llava', 'llava-qwen2', 'llava-next', 'llava-onevision', 'idefics3'] as const;
export type FuzzArch = (typeof FUZZ_ARCHS)[number];

/**
 * What the input must lead to:
 *   'refuse'  it is wrong: a clear error is the only right outcome;
 *   'accept'  it is a harmless variation: it must load/run and (with `sameAs`) answer as the original;
 *   'either'  valid but unusual (an odd yet legal value): any clear error or a sane answer is fine.
 */
export type Expectation = 'refuse' | 'accept' | 'either';

/** What a case that was not refused returns, for the harness to judge. */
export interface Accepted {
  /** The answer the input led to (its first logits are checked for NaN / Infinity). */
  result?: GenerateResult;
  /** For 'accept': the tokens the unchanged input gives; a different answer is a silent accept. */
  sameAs?: readonly number[];
}

export interface FuzzCase {
  family: FuzzFamily;
  /** One line: what was done to which input ("config.json: text_config.hidden_size = -3"). */
  name: string;
  expect: Expectation;
  /** A clear error names at least one of these (a file, a field, a limit), case-insensitively. */
  mentions: readonly string[];
  run(env: FuzzEnv): Promise<Accepted>;
}

/** What a case generator can read while it builds a case (synchronous, no GPU). */
export interface GenContext {
  /** The unchanged tiny checkpoint of an arch: a fresh Map whose byte arrays are shared, so copy one before changing it. */
  baseFiles(arch: FuzzArch): Map<string, Uint8Array>;
}

/** What a case can do when it runs (in a child process, with a GPU). */
export interface FuzzEnv {
  engine: Engine;
  /** Aborted when the case runs past its time limit. */
  signal: AbortSignal;
  /** The default question (a short prompt, a small image, two new tokens) for an arch. */
  defaultRequest(arch: FuzzArch): GenerateRequest;
  /** Loads these files (or this source) as a model and asks `request` (default: the arch's default question). */
  loadAndAsk(files: ReadonlyMap<string, Uint8Array> | ModelSource, arch: FuzzArch, request?: GenerateRequest): Promise<GenerateResult>;
  /** Makes sure the unchanged model of `arch` is loaded, then asks `request`. */
  ask(arch: FuzzArch, request: GenerateRequest): Promise<GenerateResult>;
  /** The unchanged model's tokens for the default question (computed once per arch). */
  baseAnswer(arch: FuzzArch): Promise<readonly number[]>;
  /** A new empty folder for this case (data sets on disk); removed after the case. */
  tmpDir(): Promise<string>;
}

/** A family's case maker; `weight` is its share of the cases. */
export interface CaseGenerator {
  family: FuzzFamily;
  weight: number;
  make(rng: Rng, gen: GenContext): FuzzCase;
}

// ---- shared helpers for generators --------------------------------------------------------

export function pick<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick from an empty list');
  return items[rng.int(0, items.length)]!;
}

/** One of `items`, drawn with probability proportional to `weight(item)`. */
export function pickWeighted<T>(rng: Rng, items: readonly T[], weight: (item: T) => number): T {
  if (items.length === 0) throw new Error('pick from an empty list');
  let r = rng.next() * items.reduce((s, it) => s + weight(it), 0);
  for (const it of items) if ((r -= weight(it)) < 0) return it;
  return items[items.length - 1]!;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export function jsonBytes(value: unknown): Uint8Array {
  return utf8.encode(JSON.stringify(value, null, 2));
}

export function textBytes(text: string): Uint8Array {
  return utf8.encode(text);
}

/** A JSON file of a checkpoint, parsed (a fresh object each call). */
export function readJsonFile(files: ReadonlyMap<string, Uint8Array>, file: string): Record<string, unknown> {
  const bytes = files.get(file);
  if (!bytes) throw new Error(`fuzz: base checkpoint has no ${file}`);
  return JSON.parse(fromUtf8.decode(bytes)) as Record<string, unknown>;
}

/** Copy of `files` with one JSON file changed by `edit` (which may mutate and/or return a replacement). */
export function editJson(files: Map<string, Uint8Array>, file: string, edit: (json: Record<string, unknown>) => unknown): Map<string, Uint8Array> {
  const json = readJsonFile(files, file);
  const out = edit(json);
  const next = new Map(files);
  next.set(file, jsonBytes(out === undefined ? json : out));
  return next;
}

/** Sets `value` at a dotted path ("text_config.hidden_size"), creating objects on the way; `undefined` deletes. */
export function setPath(json: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node: Record<string, unknown> = json;
  for (const k of keys.slice(0, -1)) {
    const child = node[k];
    if (typeof child !== 'object' || child === null) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

export function getPath(json: Record<string, unknown>, path: string): unknown {
  let node: unknown = json;
  for (const k of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[k];
  }
  return node;
}

/** A case that loads `files` as a model of `arch` and asks the default question. */
export function loadCase(
  family: FuzzFamily,
  arch: FuzzArch,
  name: string,
  expect: Expectation,
  mentions: readonly string[],
  files: ReadonlyMap<string, Uint8Array>,
  request?: (env: FuzzEnv) => GenerateRequest,
): FuzzCase {
  return {
    family,
    name: `${arch}: ${name}`,
    expect,
    mentions,
    async run(env) {
      const result = await env.loadAndAsk(files, arch, request?.(env));
      return { result, sameAs: expect === 'accept' && !request ? await env.baseAnswer(arch) : undefined };
    },
  };
}
