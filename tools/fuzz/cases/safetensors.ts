/**
 * Fuzz cases for safetensors weights: the 8-byte header length, the header JSON, each entry's
 * dtype / shape / data_offsets, the data section (truncated, trailing bytes, non-finite values),
 * tensor names (missing, renamed, extra) and, for sharded checkpoints, the shard index.
 *
 * Labels: 'refuse' where the file breaks the format or the model (the reference implementation
 * or transformers would refuse it too), 'accept' where the bytes mean the same model (extra
 * tensors, extra metadata, header padding), 'either' where the file is legal but unusual (a BOM,
 * duplicate identical keys, another float dtype).
 *
 * Non-finite weights: the loader refuses a weight holding NaN or ±Infinity (after conversion, so
 * an F32 value too large for f16 counts too), naming the tensor. A NaN weight can only give NaN
 * logits, which no user wants; the check is one pass over bytes the conversion already walks,
 * small next to the download. So these cases are 'refuse'.
 */
import { TINY_ARCHS } from '../../../test/fixtures/tiny/index';
import { familyFor } from '../../../src/models/registry';
import { FUZZ_ARCHS, getPath, jsonBytes, loadCase, pick, pickWeighted, readJsonFile, textBytes, type CaseGenerator, type Expectation, type FuzzArch, type FuzzCase, type GenContext } from '../case';
import type { Rng } from '../../../src/util/random';

const FILE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** A safetensors file taken apart: its header entries (in file order) and its data section. */
interface Parsed {
  header: Record<string, unknown>;
  data: Uint8Array;
}

const parsedCache = new WeakMap<Uint8Array, Parsed>();

function parse(bytes: Uint8Array): Parsed {
  let p = parsedCache.get(bytes);
  if (!p) {
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
    p = { header, data: bytes.subarray(8 + n) };
    parsedCache.set(bytes, p);
  }
  // A fresh header object per use: cases mutate it.
  return { header: structuredClone(p.header), data: p.data };
}

/** Header length prefix + header bytes + data; `length` overrides the prefix. */
function assemble(header: Uint8Array, data: Uint8Array, length?: bigint): Uint8Array {
  const out = new Uint8Array(8 + header.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(header.byteLength), true);
  out.set(header, 8);
  out.set(data, 8 + header.byteLength);
  return out;
}

function encodeHeader(header: unknown): Uint8Array {
  return textBytes(JSON.stringify(header));
}

function tensorNames(header: Record<string, unknown>): string[] {
  return Object.keys(header).filter((k) => k !== '__metadata__');
}

function entry(header: Record<string, unknown>, name: string): Entry {
  return header[name] as Entry;
}

/** Rebuilds a file from (name, entry-without-offsets, bytes) triples, offsets contiguous in order. */
function rebuild(tensors: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[], metadata?: unknown): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header['__metadata__'] = metadata;
  let at = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.bytes.byteLength] };
    at += t.bytes.byteLength;
  }
  const data = new Uint8Array(at);
  at = 0;
  for (const t of tensors) {
    data.set(t.bytes, at);
    at += t.bytes.byteLength;
  }
  return assemble(encodeHeader(header), data);
}

function tensorsOf(p: Parsed): { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[] {
  return tensorNames(p.header)
    .map((name) => ({ name, e: entry(p.header, name) }))
    .sort((a, b) => a.e.data_offsets[0] - b.e.data_offsets[0])
    .map(({ name, e }) => ({ name, dtype: e.dtype, shape: [...e.shape], bytes: p.data.subarray(e.data_offsets[0], e.data_offsets[1]) }));
}

/** Tiny sharded checkpoints (2 shards), made once per process per arch. */
const shardedCache = new Map<FuzzArch, Map<string, Uint8Array>>();
function shardedFiles(arch: FuzzArch): Map<string, Uint8Array> {
  let files = shardedCache.get(arch);
  if (!files) {
    files = TINY_ARCHS[arch]!.make({ seed: 7, shards: 2 });
    shardedCache.set(arch, files);
  }
  return new Map(files);
}

/** A tensor the model needs, for missing / renamed / value cases (any tensor of the tiny checkpoints is read). */
function someTensor(rng: Rng, header: Record<string, unknown>): string {
  return pick(rng, tensorNames(header));
}

/** A tensor of rank ≥ 2, for reshaping cases. */
function matrixTensor(rng: Rng, header: Record<string, unknown>): string {
  return pick(rng, tensorNames(header).filter((n) => entry(header, n).shape.length >= 2 && entry(header, n).shape[0]! !== entry(header, n).shape[1]!));
}

type Make = (rng: Rng, arch: FuzzArch, gen: GenContext) => FuzzCase;

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The tensors the model of `arch` reads (its family's weight plan); the rest (a tower layer past the feature layer) are unused. */
const neededCache = new Map<FuzzArch, ReadonlySet<string>>();
function neededTensors(arch: FuzzArch, gen: GenContext): ReadonlySet<string> {
  let set = neededCache.get(arch);
  if (!set) {
    const files = gen.baseFiles(arch);
    const config = readJsonFile(files, 'config.json');
    set = new Set(familyFor(config).weightPlan(config, tensorNames(parse(files.get(FILE)!).header)).keys());
    neededCache.set(arch, set);
  }
  return set;
}

/**
 * `expect` for a change to a tensor the model reads; 'either' for one it never reads (transformers
 * would still load it into its module and may complain, we may ignore it: both are fine).
 */
function neededOr(arch: FuzzArch, gen: GenContext, name: string, expect: Expectation): Expectation {
  return neededTensors(arch, gen).has(name) ? expect : 'either';
}

function withFile(arch: FuzzArch, gen: GenContext, bytes: Uint8Array, name: string, expect: Expectation, mentions: readonly string[]): FuzzCase {
  const files = gen.baseFiles(arch);
  files.set(FILE, bytes);
  return loadCase('safetensors', arch, `${FILE}: ${name}`, expect, mentions, files);
}

const HEADER = ['model.safetensors', 'header'];

const headerLengthCases: Make = (rng, arch, gen) => {
  const base = gen.baseFiles(arch).get(FILE)!;
  const { header, data } = parse(base);
  const json = encodeHeader(header);
  const size = 8 + json.byteLength + data.byteLength;
  const choice = pick(rng, [
    ['0', 0n],
    ['7', 7n],
    ['one less', BigInt(json.byteLength - 1)],
    ['one more', BigInt(json.byteLength + 1)],
    ['the file size', BigInt(size)],
    ['file size + 1', BigInt(size + 1)],
    ['100 MB + 1', 100_000_001n],
    ['2^40', 1n << 40n],
    ['2^53', 1n << 53n],
    ['2^53 + 1', (1n << 53n) + 1n],
    ['2^63', 1n << 63n],
    ['2^64 - 1', (1n << 64n) - 1n],
  ] as const);
  return withFile(arch, gen, assemble(json, data, choice[1]), `header length ${choice[0]}`, 'refuse', HEADER);
};

const shortFileCases: Make = (rng, arch, gen) => {
  const n = pick(rng, [0, 1, 7, 8]);
  const base = gen.baseFiles(arch).get(FILE)!;
  const bytes = n === 8 ? new Uint8Array(8) : base.slice(0, n);
  return withFile(arch, gen, bytes, n === 8 ? '8 zero bytes' : `only ${n} byte(s)`, 'refuse', ['model.safetensors']);
};

const headerJsonCases: Make = (rng, arch, gen) => {
  const { header, data } = parse(gen.baseFiles(arch).get(FILE)!);
  const text = JSON.stringify(header);
  const kind = pick(rng, ['truncated', 'garbage', 'number', 'string', 'null', 'array', 'array-of-entries', 'deep-object', 'deep-array', 'non-utf8', 'lone-surrogate', 'nul', 'empty', 'spaces', 'trailing-comma', 'nan', 'duplicate-different'] as const);
  const bad = (json: string | Uint8Array, name: string) => withFile(arch, gen, assemble(typeof json === 'string' ? textBytes(json) : json, data), `header JSON ${name}`, 'refuse', HEADER);
  switch (kind) {
    case 'truncated': {
      const cut = rng.int(1, text.length - 1);
      return bad(text.slice(0, cut), `cut at ${cut} of ${text.length}`);
    }
    case 'garbage': {
      // Retry until the insertion breaks the JSON (inside a name it would only rename a tensor).
      for (;;) {
        const at = rng.int(0, text.length);
        const c = pick(rng, ['}', ']', '"', ':', ',', 'x', '\\']);
        const out = text.slice(0, at) + c + text.slice(at);
        if (!parsesAsJson(out)) return bad(out, `"${c}" inserted at ${at}`);
      }
    }
    case 'number':
      return bad(String(rng.int(0, 1000)), 'a number');
    case 'string':
      return bad('"model"', 'a string');
    case 'null':
      return bad('null', 'null');
    case 'array':
      return bad('[]', 'an empty array');
    case 'array-of-entries':
      return bad(JSON.stringify(Object.entries(header)), 'an array of [name, entry] pairs');
    case 'deep-object': {
      const depth = pick(rng, [1000, 100_000]);
      return bad(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`, `objects nested ${depth} deep`);
    }
    case 'deep-array': {
      const depth = pick(rng, [1000, 100_000]);
      // Nested inside a tensor entry's shape, so the top level is an object.
      const name = someTensor(rng, header);
      return bad(text.replace(`"${name}":{"dtype":"F32","shape":`, `"${name}":{"dtype":"F32","shape":${'['.repeat(depth)}${']'.repeat(depth)},"x":`), `shape of "${name}" nested ${depth} arrays deep`);
    }
    case 'non-utf8': {
      const bytes = textBytes(text);
      const name = someTensor(rng, header);
      const at = text.indexOf(`"${name}"`) + 2; // inside the name's quotes
      const out = new Uint8Array(bytes);
      out[at] = pick(rng, [0xff, 0xc3, 0x80, 0xfe]);
      return bad(out, `byte 0x${out[at]!.toString(16)} inside the name "${name}"`);
    }
    case 'lone-surrogate': {
      // A lone surrogate escape is valid JSON but not a Unicode string: the tensor is then missing by its name.
      const name = someTensor(rng, header);
      const out = textBytes(text.replace(`"${name}"`, '"\\ud800"'));
      return withFile(arch, gen, assemble(out, data), `header JSON: tensor "${name}" renamed to a lone surrogate "\\ud800"`, neededOr(arch, gen, name, 'refuse'), [name]);
    }
    case 'nul': {
      const out = new Uint8Array(textBytes(text));
      out[rng.int(1, out.length - 1)] = 0;
      return bad(out, 'a NUL byte inside');
    }
    case 'empty':
      return bad('', 'empty (length 0 over an empty header)');
    case 'spaces':
      return bad('        ', 'only spaces');
    case 'trailing-comma':
      return bad(text.replace(/}$/, ',}'), 'with a trailing comma');
    case 'duplicate-different': {
      // The name again at the end with another tensor's entry: JSON.parse (and serde) keep the last,
      // so its own bytes are left unclaimed and the other's are claimed twice.
      const names = tensorNames(header);
      const name = pick(rng, names);
      const other = pick(rng, names.filter((n) => n !== name));
      return bad(text.replace(/\}$/, `,${JSON.stringify(name)}:${JSON.stringify(header[other])}}`), `"${name}" listed again with the entry of "${other}"`);
    }
    case 'nan': {
      const name = someTensor(rng, header);
      return bad(text.replace(`"${name}":{"dtype":"F32","shape":[`, `"${name}":{"dtype":"F32","shape":[NaN,`), `NaN in the shape of "${name}"`);
    }
  }
};

const headerHarmlessCases: Make = (rng, arch, gen) => {
  const { header, data } = parse(gen.baseFiles(arch).get(FILE)!);
  const kind = pick(rng, ['pad', 'pretty', 'reorder', 'metadata-extra', 'no-metadata', 'bom', 'duplicate-same', 'escaped-names', 'extra-tensor', 'many-empty', 'nul-pad'] as const);
  const ok = (json: Uint8Array, name: string, expect: Expectation = 'accept', d: Uint8Array = data) => withFile(arch, gen, assemble(json, d), name, expect, HEADER);
  switch (kind) {
    case 'pad': {
      // The reference writer pads the header with spaces to 8 bytes; any amount of trailing space is legal JSON.
      const n = rng.int(1, 64);
      return ok(textBytes(JSON.stringify(header) + ' '.repeat(n)), `header padded with ${n} spaces`);
    }
    case 'pretty':
      return ok(textBytes(JSON.stringify(header, null, pick(rng, [1, 2, '\t']))), 'header pretty-printed');
    case 'reorder': {
      const keys = Object.keys(header);
      for (let i = keys.length - 1; i > 0; i--) {
        const j = rng.int(0, i + 1);
        [keys[i], keys[j]] = [keys[j]!, keys[i]!];
      }
      const shuffled: Record<string, unknown> = {};
      for (const k of keys) shuffled[k] = header[k];
      return ok(encodeHeader(shuffled), 'header keys shuffled (offsets unchanged)');
    }
    case 'metadata-extra':
      header['__metadata__'] = { format: 'pt', note: 'fuzz', 'x-y': '' };
      return ok(encodeHeader(header), '__metadata__ with extra string entries');
    case 'no-metadata':
      delete header['__metadata__'];
      return ok(encodeHeader(header), 'no __metadata__');
    case 'bom':
      // The reference parser wants the header to start with "{"; a decoder may strip the BOM. Either is fine.
      return ok(new Uint8Array([0xef, 0xbb, 0xbf, ...encodeHeader(header)]), 'header starts with a UTF-8 BOM', 'either');
    case 'duplicate-same': {
      const name = someTensor(rng, header);
      const text = JSON.stringify(header);
      const e = JSON.stringify(header[name]);
      return ok(textBytes(text.replace(/^\{/, `{${JSON.stringify(name)}:${e},`)), `tensor "${name}" listed twice with the same entry`, 'either');
    }
    case 'escaped-names': {
      // \u escapes of ASCII letters decode to the same names.
      const text = JSON.stringify(header).replace(/"(model|vision_tower|lm_head)/g, (_, w: string) => `"\\u00${w.charCodeAt(0).toString(16)}${w.slice(1)}`);
      return ok(textBytes(text), 'tensor names with \\u-escaped first letters');
    }
    case 'many-empty': {
      // Thousands of zero-element tensors (legal: shape [0], empty byte range) the model never reads.
      const n = pick(rng, [1000, 20_000]);
      const end = data.byteLength;
      for (let k = 0; k < n; k++) header[`unused.empty.${k}`] = { dtype: 'F32', shape: [0, 4], data_offsets: [end, end] };
      return ok(encodeHeader(header), `${n} extra zero-size tensors`);
    }
    case 'nul-pad': {
      // NUL is not JSON whitespace: the reference parser refuses NUL padding, so do we.
      const json = encodeHeader(header);
      const out = new Uint8Array(json.byteLength + 8);
      out.set(json);
      return withFile(arch, gen, assemble(out, data), 'header padded with NUL bytes instead of spaces', 'refuse', HEADER);
    }
    case 'extra-tensor': {
      const tensors = tensorsOf({ header, data });
      const n = rng.int(1, 64);
      const extraName = pick(rng, ['unused.weight', 'model.extra_head.bias', 'vision_tower.vision_model.post_layernorm.unused', '']);
      const at = rng.int(0, tensors.length + 1);
      tensors.splice(at, 0, { name: extraName, dtype: pick(rng, ['F32', 'F16', 'BF16']), shape: [n], bytes: new Uint8Array(n * 4) });
      const t = tensors[at]!;
      t.bytes = new Uint8Array(n * (t.dtype === 'F32' ? 4 : 2));
      const file = rebuild(tensors, header['__metadata__']);
      return withFile(arch, gen, file, `extra unknown tensor "${extraName}" [${n}] ${t.dtype}`, 'accept', HEADER);
    }
  }
};

const dtypeCases: Make = (rng, arch, gen) => {
  const { header, data } = parse(gen.baseFiles(arch).get(FILE)!);
  const name = someTensor(rng, header);
  const e = entry(header, name);
  const kind = pick(rng, ['unknown', 'integer', 'wide', 'lower', 'type', 'missing'] as const);
  let dtype: unknown;
  switch (kind) {
    case 'unknown':
      dtype = pick(rng, ['F8', 'Q4_0', 'FP32', 'float32', 'F32 ', '', 'F8_E4M3']);
      break;
    case 'integer':
      // Same width as F32, so the byte count still matches: only the dtype is wrong.
      dtype = pick(rng, ['I32', 'U32']);
      break;
    case 'wide': {
      // F64 / I64 of half as many elements: byte counts match, but a float32-sized weight is needed.
      dtype = pick(rng, ['F64', 'I64', 'BOOL', 'U8', 'I8', 'I16']);
      break;
    }
    case 'lower':
      dtype = pick(rng, ['f32', 'bf16', 'f16', 'F32'.toLowerCase()]);
      break;
    case 'type':
      dtype = pick(rng, [32, null, ['F32'], { F32: true }, true]);
      break;
    case 'missing':
      dtype = undefined;
      break;
  }
  if (dtype === undefined) delete (e as Partial<Entry>).dtype;
  else (e as { dtype: unknown }).dtype = dtype;
  return withFile(arch, gen, assemble(encodeHeader(header), data), `"${name}" dtype ${dtype === undefined ? 'missing' : JSON.stringify(dtype)}`, 'refuse', ['dtype']);
};

/** Converts an F32 tensor's bytes to F16 or BF16 (truncating BF16, round-to-nearest for F16 is not needed here). */
function toHalf(bytes: Uint8Array, dtype: 'F16' | 'BF16'): Uint8Array {
  const f = new Float32Array(bytes.slice().buffer);
  const out = new Uint16Array(f.length);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < f.length; i++) {
    if (dtype === 'BF16') out[i] = u[i]! >>> 16;
    else {
      const x = u[i]!;
      const sign = (x >>> 16) & 0x8000;
      const exp = ((x >>> 23) & 0xff) - 127 + 15;
      const mant = (x >>> 13) & 0x3ff;
      out[i] = exp <= 0 ? sign : exp >= 31 ? sign | 0x7bff : sign | (exp << 10) | mant;
    }
  }
  return new Uint8Array(out.buffer);
}

const validDtypeCases: Make = (rng, arch, gen) => {
  const p = parse(gen.baseFiles(arch).get(FILE)!);
  const tensors = tensorsOf(p);
  const dtype = pick(rng, ['F16', 'BF16'] as const);
  const all = rng.next() < 0.5;
  const one = pick(rng, tensors).name;
  for (const t of tensors) {
    if (all || t.name === one) {
      t.bytes = toHalf(t.bytes, dtype);
      t.dtype = dtype;
    }
  }
  return withFile(arch, gen, rebuild(tensors, p.header['__metadata__']), all ? `every tensor stored as ${dtype}` : `"${one}" stored as ${dtype}`, 'either', ['dtype']);
};

const shapeCases: Make = (rng, arch, gen) => {
  const { header, data } = parse(gen.baseFiles(arch).get(FILE)!);
  const kind = pick(rng, ['negative', 'fractional', 'string', 'null', 'not-list', 'flatten', 'transpose', 'extra-dim', 'scalar', 'size', 'zero', 'huge', 'missing', 'nan-like'] as const);
  const name = kind === 'transpose' || kind === 'flatten' ? matrixTensor(rng, header) : someTensor(rng, header);
  const e = entry(header, name);
  const s = e.shape;
  const prod = s.reduce((a, b) => a * b, 1);
  let shape: unknown;
  let mentions: string[] = ['shape', name];
  switch (kind) {
    case 'negative':
      shape = s.map((d, i) => (i === 0 ? -d : d));
      break;
    case 'fractional':
      shape = [s[0]! + 0.5, ...s.slice(1)];
      break;
    case 'string':
      shape = s.map((d, i) => (i === 0 ? String(d) : d));
      break;
    case 'null':
      shape = null;
      break;
    case 'not-list':
      shape = pick(rng, [prod, String(prod), { 0: s[0] }]);
      break;
    case 'flatten':
      // Same element count, so the offsets still agree: only the config-implied shape can catch it.
      shape = [prod];
      break;
    case 'transpose':
      shape = [s[1], s[0], ...s.slice(2)];
      break;
    case 'extra-dim':
      shape = [1, ...s];
      break;
    case 'scalar':
      shape = [];
      break;
    case 'size':
      shape = [s[0]! + 1, ...s.slice(1)];
      break;
    case 'zero':
      shape = [0, ...s.slice(1)];
      break;
    case 'huge':
      shape = pick(rng, [[2 ** 53, 1], [2 ** 31, 2 ** 31], [1e300], [Number.MAX_SAFE_INTEGER, 8]]);
      break;
    case 'missing':
      shape = undefined;
      break;
    case 'nan-like':
      shape = [1e400 as number]; // JSON.stringify writes [null]
      break;
  }
  if (kind === 'extra-dim' || kind === 'flatten' || kind === 'transpose') mentions = [name, 'shape'];
  if (shape === undefined) delete (e as Partial<Entry>).shape;
  else (e as { shape: unknown }).shape = shape;
  // Malformed shapes break the file; a well-formed but wrong one only matters if the model reads the tensor.
  const wellFormed = kind === 'flatten' || kind === 'transpose' || kind === 'extra-dim';
  return withFile(arch, gen, assemble(encodeHeader(header), data), `"${name}" shape ${shape === undefined ? 'missing' : JSON.stringify(shape)} (was [${s.join(', ')}])`, wellFormed ? neededOr(arch, gen, name, 'refuse') : 'refuse', mentions);
};

const offsetCases: Make = (rng, arch, gen) => {
  const { header, data } = parse(gen.baseFiles(arch).get(FILE)!);
  const names = tensorNames(header).sort((a, b) => entry(header, a).data_offsets[0] - entry(header, b).data_offsets[0]);
  const i = rng.int(1, names.length - 1);
  const name = names[i]!;
  const e = entry(header, name);
  const [b, en] = e.data_offsets;
  const kind = pick(rng, ['overlap', 'reversed', 'negative', 'beyond-2^53', 'beyond-file', 'gap', 'float', 'string', 'three', 'one', 'null', 'same-as-other', 'shifted', 'missing'] as const);
  let offsets: unknown;
  let d = data;
  switch (kind) {
    case 'overlap': {
      // Grow this tensor back into the previous one (and its shape with it, so only the overlap is wrong).
      offsets = [b - 4 * e.shape.slice(1).reduce((x, y) => x * y, 1), en];
      e.shape = [e.shape[0]! + 1, ...e.shape.slice(1)];
      break;
    }
    case 'reversed':
      offsets = [en, b];
      break;
    case 'negative':
      offsets = [-(en - b), 0];
      break;
    case 'beyond-2^53':
      offsets = [b, pick(rng, [2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e300])];
      break;
    case 'beyond-file':
      offsets = [data.byteLength, data.byteLength + (en - b)];
      break;
    case 'gap': {
      // Shift this and every later tensor by 4 bytes, and make the file 4 bytes longer: a hole before it.
      for (const n of names.slice(i)) {
        const o = entry(header, n).data_offsets;
        entry(header, n).data_offsets = [o[0] + 4, o[1] + 4];
      }
      offsets = entry(header, name).data_offsets;
      const nd = new Uint8Array(data.byteLength + 4);
      nd.set(data.subarray(0, b));
      nd.set(data.subarray(b), b + 4);
      d = nd;
      break;
    }
    case 'float':
      offsets = [b + 0.5, en + 0.5];
      break;
    case 'string':
      offsets = [String(b), String(en)];
      break;
    case 'three':
      offsets = [b, en, en];
      break;
    case 'one':
      offsets = [b];
      break;
    case 'null':
      offsets = null;
      break;
    case 'same-as-other': {
      // Points at another tensor's bytes of the same size, if any; else at the previous one's.
      const prev = entry(header, names[i - 1]!).data_offsets;
      offsets = [prev[0], prev[0] + (en - b)];
      break;
    }
    case 'shifted':
      offsets = [b + 4, en + 4];
      break;
    case 'missing':
      offsets = undefined;
      break;
  }
  if (offsets === undefined) delete (e as Partial<Entry>).data_offsets;
  else (e as { data_offsets: unknown }).data_offsets = offsets;
  return withFile(arch, gen, assemble(encodeHeader(header), d), `"${name}" data_offsets ${offsets === undefined ? 'missing' : JSON.stringify(offsets)} (${kind})`, 'refuse', ['data_offsets', name, 'overlap', 'gap']);
};

const dataCases: Make = (rng, arch, gen) => {
  const base = gen.baseFiles(arch).get(FILE)!;
  const { header, data } = parse(base);
  const headerEnd = base.byteLength - data.byteLength;
  const kind = pick(rng, ['truncated', 'truncated-in-header', 'trailing', 'trailing-one'] as const);
  switch (kind) {
    case 'truncated': {
      const cut = rng.int(headerEnd, base.byteLength);
      return withFile(arch, gen, base.slice(0, cut), `truncated to ${cut} of ${base.byteLength} bytes`, 'refuse', ['model.safetensors', 'truncated']);
    }
    case 'truncated-in-header': {
      const cut = rng.int(9, headerEnd);
      return withFile(arch, gen, base.slice(0, cut), `truncated inside the header, at ${cut} of ${base.byteLength} bytes`, 'refuse', ['model.safetensors', 'truncated']);
    }
    case 'trailing':
    case 'trailing-one': {
      const n = kind === 'trailing-one' ? 1 : rng.int(2, 4096);
      const out = new Uint8Array(base.byteLength + n);
      out.set(base);
      if (rng.next() < 0.5) for (let k = base.byteLength; k < out.length; k++) out[k] = rng.int(0, 256);
      void header;
      return withFile(arch, gen, out, `${n} trailing byte(s) after the data`, 'refuse', ['model.safetensors', 'bytes after']);
    }
  }
};

const metadataCases: Make = (rng, arch, gen) => {
  const { header, data } = parse(gen.baseFiles(arch).get(FILE)!);
  const value = pick(rng, [null, 1, 'pt', [], ['pt'], { format: 1 }, { format: null }, { format: ['pt'] }, { nested: { a: 'b' } }, true]);
  header['__metadata__'] = value;
  return withFile(arch, gen, assemble(encodeHeader(header), data), `__metadata__ = ${JSON.stringify(value)}`, 'refuse', ['__metadata__']);
};

const nameCases: Make = (rng, arch, gen) => {
  const p = parse(gen.baseFiles(arch).get(FILE)!);
  const tensors = tensorsOf(p);
  const i = rng.int(0, tensors.length);
  const name = tensors[i]!.name;
  const kind = pick(rng, ['missing', 'renamed', 'upper', 'prefix', 'space'] as const);
  let what: string;
  switch (kind) {
    case 'missing':
      tensors.splice(i, 1);
      what = `needed tensor "${name}" removed`;
      break;
    case 'renamed':
      tensors[i]!.name = `${name}_old`;
      what = `needed tensor "${name}" renamed "${name}_old"`;
      break;
    case 'upper':
      tensors[i]!.name = name.toUpperCase();
      what = `needed tensor "${name}" upper-cased`;
      break;
    case 'prefix':
      tensors[i]!.name = `module.${name}`;
      what = `needed tensor "${name}" prefixed "module."`;
      break;
    case 'space':
      tensors[i]!.name = `${name} `;
      what = `needed tensor "${name}" with a trailing space`;
      break;
  }
  return withFile(arch, gen, rebuild(tensors, p.header['__metadata__']), what, neededOr(arch, gen, name, 'refuse'), [name]);
};

const valueCases: Make = (rng, arch, gen) => {
  const base = gen.baseFiles(arch).get(FILE)!;
  const { header, data } = parse(base);
  const name = someTensor(rng, header);
  const e = entry(header, name);
  const count = (e.data_offsets[1] - e.data_offsets[0]) / 4;
  const kind = pick(rng, ['NaN', 'Infinity', '-Infinity', 'all-NaN', 'f16-overflow'] as const);
  const out = base.slice();
  const view = new DataView(out.buffer, base.byteLength - data.byteLength + e.data_offsets[0], count * 4);
  const value = kind === 'all-NaN' || kind === 'NaN' ? NaN : kind === 'Infinity' ? Infinity : kind === '-Infinity' ? -Infinity : 1e6;
  if (kind === 'all-NaN') for (let k = 0; k < count; k++) view.setFloat32(k * 4, NaN, true);
  else view.setFloat32(rng.int(0, count) * 4, value, true);
  // 1e6 is a finite F32 but too large for the f16 matmul weights (and harmless in an f32 norm or bias): legal, unusual.
  const expect: Expectation = kind === 'f16-overflow' ? 'either' : neededOr(arch, gen, name, 'refuse');
  return withFile(arch, gen, out, kind === 'all-NaN' ? `every value of "${name}" NaN` : `one value of "${name}" set to ${value}`, expect, [name]);
};

/** Cases on a sharded checkpoint: the index and the shards. */
const shardCases: Make = (rng, arch) => {
  const files = shardedFiles(arch);
  const index = JSON.parse(new TextDecoder().decode(files.get(INDEX)!)) as { metadata?: unknown; weight_map: Record<string, string> };
  const shards = [...new Set(Object.values(index.weight_map))].sort();
  const names = Object.keys(index.weight_map);
  const kind = pick(rng, [
    'missing-shard-file',
    'map-to-missing',
    'map-to-other',
    'map-null',
    'map-array',
    'map-string',
    'no-map',
    'index-null',
    'index-array',
    'index-number',
    'index-invalid',
    'shard-path',
    'shard-number',
    'map-omits',
    'map-extra',
    'metadata-extra',
    'shard-truncated',
    'shard-bad-header',
    'both-files',
    'index-empty-map',
  ] as const);
  const setIndex = (value: unknown) => files.set(INDEX, jsonBytes(value));
  let name: string;
  let expect: Expectation = 'refuse';
  let mentions: string[] = [INDEX, 'weight_map'];
  const t = pick(rng, names);
  switch (kind) {
    case 'missing-shard-file': {
      const s = pick(rng, shards);
      files.delete(s);
      name = `shard ${s} missing`;
      mentions = [s];
      break;
    }
    case 'map-to-missing':
      index.weight_map[t] = 'model-00009-of-00009.safetensors';
      setIndex(index);
      name = `"${t}" mapped to a shard that does not exist`;
      mentions = ['model-00009-of-00009.safetensors'];
      break;
    case 'map-to-other': {
      const other = shards.find((s) => s !== index.weight_map[t])!;
      index.weight_map[t] = other;
      setIndex(index);
      name = `"${t}" mapped to the other shard`;
      mentions = [t, INDEX];
      break;
    }
    case 'map-null':
      setIndex({ ...index, weight_map: null });
      name = 'weight_map null';
      break;
    case 'map-array':
      setIndex({ ...index, weight_map: Object.entries(index.weight_map) });
      name = 'weight_map an array of pairs';
      break;
    case 'map-string':
      setIndex({ ...index, weight_map: shards[0] });
      name = 'weight_map a string';
      break;
    case 'no-map':
      setIndex({ metadata: index.metadata });
      name = 'no weight_map';
      break;
    case 'index-null':
      files.set(INDEX, textBytes('null'));
      name = 'index is null';
      mentions = [INDEX];
      break;
    case 'index-array':
      setIndex([index]);
      name = 'index is an array';
      mentions = [INDEX];
      break;
    case 'index-number':
      files.set(INDEX, textBytes('42'));
      name = 'index is a number';
      mentions = [INDEX];
      break;
    case 'index-invalid':
      files.set(INDEX, textBytes(JSON.stringify(index).slice(0, 40)));
      name = 'index is cut-off JSON';
      mentions = [INDEX];
      break;
    case 'shard-path': {
      const bad = pick(rng, ['../model.safetensors', 'sub/model.safetensors', '/etc/passwd', '..', 'C:\\x.safetensors', '']);
      index.weight_map[t] = bad;
      setIndex(index);
      name = `"${t}" mapped to ${JSON.stringify(bad)}`;
      mentions = [INDEX, 'shard'];
      break;
    }
    case 'shard-number':
      (index.weight_map as Record<string, unknown>)[t] = pick(rng, [1, null, true, ['a'], { f: 1 }]);
      setIndex(index);
      name = `"${t}" mapped to ${JSON.stringify(index.weight_map[t])}`;
      mentions = [INDEX, 'shard'];
      break;
    case 'map-omits':
      // transformers reads only what the map lists; we open every listed shard. Still the same weights are there.
      delete index.weight_map[t];
      setIndex(index);
      name = `"${t}" left out of weight_map (its shard still listed)`;
      expect = 'either';
      mentions = [t, INDEX];
      break;
    case 'map-extra':
      index.weight_map['model.not_there.weight'] = shards[0]!;
      setIndex(index);
      name = 'weight_map lists a tensor no shard holds';
      mentions = ['model.not_there.weight'];
      break;
    case 'metadata-extra':
      setIndex({ metadata: { total_size: pick(rng, [0, -1, 'x', 1e300]), format: 'pt' }, weight_map: index.weight_map, extra: { a: 1 } });
      name = 'index metadata odd (total_size not the real size) and an extra key';
      expect = 'accept';
      mentions = [INDEX];
      break;
    case 'shard-truncated': {
      const s = pick(rng, shards);
      const b = files.get(s)!;
      files.set(s, b.slice(0, rng.int(8, b.byteLength)));
      name = `shard ${s} truncated`;
      mentions = [s];
      break;
    }
    case 'shard-bad-header': {
      const s = pick(rng, shards);
      const b = files.get(s)!.slice();
      b[8] = 0x5b; // '[' instead of '{'
      files.set(s, b);
      name = `shard ${s} header starts with "["`;
      mentions = [s];
      break;
    }
    case 'both-files': {
      // An index and a stray single file: transformers prefers the index (as we do).
      files.set(FILE, textBytes('not a safetensors file'));
      name = 'index plus a broken stray model.safetensors';
      expect = 'either';
      mentions = [FILE];
      break;
    }
    case 'index-empty-map':
      setIndex({ metadata: index.metadata, weight_map: {} });
      name = 'weight_map empty';
      mentions = [INDEX, 'weight_map', 'no weights', 'missing'];
      break;
  }
  void getPath;
  return loadCase('safetensors', arch, `sharded: ${name}`, expect, mentions, files);
};

const KINDS: { w: number; make: Make }[] = [
  { w: 2, make: headerLengthCases },
  { w: 1, make: shortFileCases },
  { w: 3, make: headerJsonCases },
  { w: 2, make: headerHarmlessCases },
  { w: 2, make: dtypeCases },
  { w: 1, make: validDtypeCases },
  { w: 3, make: shapeCases },
  { w: 3, make: offsetCases },
  { w: 2, make: dataCases },
  { w: 1, make: metadataCases },
  { w: 2, make: nameCases },
  { w: 2, make: valueCases },
  { w: 3, make: shardCases },
];

export const safetensorsCases: CaseGenerator = {
  family: 'safetensors',
  weight: 3,
  make(rng, gen) {
    const arch = pick(rng, FUZZ_ARCHS);
    return pickWeighted(rng, KINDS, (k) => k.w).make(rng, arch, gen);
  },
};
