import { describe, expect, it } from 'vitest';
import { firstNonFinite, openCheckpoint } from '../../src/load/checkpoint';
import { toFloat16Bits, toFloat32 } from '../../src/load/convert';
import { encodeSafetensors, headerLength, parseHeader } from '../../src/load/safetensors';
import { MemorySource } from '../../src/load/source';

const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

/** A safetensors file from a raw header object and a data section. */
function rawFile(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

async function open(file: Uint8Array) {
  return openCheckpoint(new MemorySource(new Map([['model.safetensors', file]])));
}

describe('safetensors validation', () => {
  const good = encodeSafetensors([
    { name: 'a', dtype: 'F32', shape: [2, 3], data: f32([1, 2, 3, 4, 5, 6]) },
    { name: 'b', dtype: 'F32', shape: [2], data: f32([7, 8]) },
  ]);

  it('reads a valid file and its tensors by range', async () => {
    const ck = await open(good);
    expect([...ck.tensors.keys()].sort()).toEqual(['a', 'b']);
    expect([...toFloat32(await ck.read('b'), 'F32')]).toEqual([7, 8]);
  });

  it('truncated file', async () => {
    await expect(open(good.subarray(0, good.length - 4))).rejects.toThrow(/model\.safetensors: tensor data needs 32 bytes but the file holds 28 after the header \(truncated\?\)/);
    await expect(open(good.subarray(0, 5))).rejects.toThrow(/file is 5 bytes, too short to be safetensors/);
  });

  it('header length over the limit, or past the end of the file', () => {
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 200_000_000n, true);
    expect(() => headerLength(huge, 1e9, 'x.safetensors')).toThrow(/x\.safetensors: header length 200000000 exceeds the 100000000-byte limit/);
    expect(() => headerLength(huge.subarray(0, 8).fill(0).map((_, i) => (i === 0 ? 64 : 0)), 40, 'x.safetensors')).toThrow(/header length 64 runs past the end of the 40-byte file/);
  });

  it('invalid JSON header', () => {
    expect(() => parseHeader(new TextEncoder().encode('{"a": '), 100, 'm.safetensors')).toThrow(/m\.safetensors: header is not valid UTF-8 JSON/);
  });

  it('overlapping offsets', async () => {
    const file = rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12));
    await expect(open(file)).rejects.toThrow(/tensor "b" overlaps "a"/);
  });

  it('a gap between tensors and bytes after the last one', async () => {
    const gap = rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, new Uint8Array(12));
    await expect(open(gap)).rejects.toThrow(/gap before tensor "b": data_offsets start at 8, expected 4/);
    const trailing = rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(9));
    await expect(open(trailing)).rejects.toThrow(/5 unexpected bytes after the last tensor/);
  });

  it('unsupported dtype and a shape that does not match its byte range', async () => {
    const i64 = rawFile({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8));
    await expect(open(i64)).rejects.toThrow(/tensor "ids": dtype "I64" is not supported \(F32, F16 or BF16\)/);
    const mismatch = rawFile({ w: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8));
    await expect(open(mismatch)).rejects.toThrow(/tensor "w": shape \[3\] F16 needs 6 bytes but data_offsets span 8/);
  });

  it('missing tensors are listed by require()', async () => {
    const ck = await open(good);
    expect(() => ck.require(['a', 'lm_head.weight', 'model.norm.weight'])).toThrow(/2 tensor\(s\) missing from the checkpoint: lm_head\.weight, model\.norm\.weight/);
  });

  it('sharded checkpoints: the index must match the shards', async () => {
    const s1 = encodeSafetensors([{ name: 'a', dtype: 'F32', shape: [1], data: f32([1]) }]);
    const s2 = encodeSafetensors([{ name: 'b', dtype: 'F32', shape: [1], data: f32([2]) }]);
    const index = (map: Record<string, string>) => new TextEncoder().encode(JSON.stringify({ weight_map: map }));
    const files = (map: Record<string, string>) =>
      new MemorySource(new Map([['model.safetensors.index.json', index(map)], ['s1.safetensors', s1], ['s2.safetensors', s2]]));
    const ck = await openCheckpoint(files({ a: 's1.safetensors', b: 's2.safetensors' }));
    expect(ck.info('b').file).toBe('s2.safetensors');
    await expect(openCheckpoint(files({ a: 's1.safetensors', c: 's2.safetensors' }))).rejects.toThrow(/maps "c" to s2\.safetensors, which does not contain it/);
    await expect(openCheckpoint(files({ a: 's1.safetensors', b: 's3.safetensors' }))).rejects.toThrow(/maps "b" to shard s3\.safetensors, which is not in memory/);
    await expect(openCheckpoint(new MemorySource(new Map()))).rejects.toThrow(/no weights found \(looked for model\.safetensors and model\.safetensors\.index\.json\)/);
  });

  it('converts F32, BF16 and F16 to f16 bits exactly on representable values', () => {
    const values = [1, -2, 0.5, 65504, 0];
    const halfBits = [0x3c00, 0xc000, 0x3800, 0x7bff, 0];
    expect([...toFloat16Bits(f32(values), 'F32')]).toEqual(halfBits);
    const bf16 = new Uint8Array(Uint16Array.from([0x3f80, 0xc000, 0x3f00, 0x477f, 0]).buffer);
    expect([...toFloat16Bits(bf16, 'BF16')]).toEqual([0x3c00, 0xc000, 0x3800, 0x7bf8, 0]);
    expect([...toFloat16Bits(new Uint8Array(Uint16Array.from(halfBits).buffer), 'F16')]).toEqual(halfBits);
    // Unaligned input (a ranged read can start anywhere).
    const shifted = new Uint8Array(9);
    shifted.set(f32([1, -2]), 1);
    expect([...toFloat32(shifted.subarray(1), 'F32')]).toEqual([1, -2]);
  });

  // Found by the seeded fuzzer (tools/fuzz/cases/safetensors.ts, issue 20).
  describe('hostile headers and indexes the fuzzer found', () => {
    const one = { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } };

    it('__metadata__ as an array ([] or ["pt"]) is refused like any non-object', async () => {
      for (const metadata of [[], ['pt'], null, 'pt']) {
        await expect(open(rawFile({ __metadata__: metadata, ...one }, new Uint8Array(4))), JSON.stringify(metadata)).rejects.toThrow(/model\.safetensors: __metadata__ must be an object mapping strings to strings/);
      }
    });

    it('a shape nested 100000 arrays deep is refused naming the tensor, not a stack overflow in the message', async () => {
      const depth = 100_000;
      const json = `{"a":{"dtype":"F32","shape":${'['.repeat(depth)}${']'.repeat(depth)},"data_offsets":[0,4]}}`;
      const bytes = new TextEncoder().encode(json);
      const file = new Uint8Array(8 + bytes.length + 4);
      new DataView(file.buffer).setBigUint64(0, BigInt(bytes.length), true);
      file.set(bytes, 8);
      await expect(open(file)).rejects.toThrow(/tensor "a": shape \[\[\[\[\[…\]\]\]\]\] must be a list of non-negative integers/);
    });

    it('an index that is null, an array or a number, an empty weight_map, an empty or missing shard name: named errors', async () => {
      const s1 = encodeSafetensors([{ name: 'a', dtype: 'F32', shape: [1], data: f32([1]) }]);
      const withIndex = (index: string) => openCheckpoint(new MemorySource(new Map([['model.safetensors.index.json', new TextEncoder().encode(index)], ['s1.safetensors', s1]])));
      for (const index of ['null', '[]', '42']) {
        await expect(withIndex(index), index).rejects.toThrow(/^model\.safetensors\.index\.json must be a JSON object with a "weight_map"/);
      }
      await expect(withIndex('{"weight_map": null}')).rejects.toThrow(/"weight_map" must be an object mapping tensor names to shard files, got null/);
      await expect(withIndex('{"weight_map": [["a", "s1.safetensors"]]}')).rejects.toThrow(/"weight_map" must be an object/);
      await expect(withIndex('{"weight_map": {}}')).rejects.toThrow(/"weight_map" is empty/);
      await expect(withIndex('{"weight_map": {"a": ""}}')).rejects.toThrow(/shard name "" is not a plain file name/);
      await expect(withIndex('{"weight_map": {"a": "s1.safetensors", "b": "s9.safetensors"}}')).rejects.toThrow(/model\.safetensors\.index\.json maps "b" to shard s9\.safetensors, which is not in/);
    });

    it('missing layer tensors name num_hidden_layers; a missing lm_head names tie_word_embeddings', async () => {
      const ck = await open(
        encodeSafetensors([
          { name: 'language_model.model.layers.0.mlp.up_proj.weight', dtype: 'F32', shape: [1], data: f32([1]) },
          { name: 'vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight', dtype: 'F32', shape: [1], data: f32([1]) },
        ]),
      );
      expect(() => ck.require(['language_model.model.layers.1.mlp.up_proj.weight'])).toThrow(/the checkpoint holds language_model\.model\.layers\.0…0: config\.json text_config\.num_hidden_layers asks for more layers than it has/);
      expect(() => ck.require(['vision_tower.vision_model.encoder.layers.3.mlp.fc1.weight'])).toThrow(/config\.json vision_config\.num_hidden_layers asks for more/);
      expect(() => ck.require(['language_model.lm_head.weight'])).toThrow(/config\.json tie_word_embeddings is false or absent, so a separate lm_head is needed/);
      // A tensor that is simply gone gets no guess.
      expect(() => ck.require(['multi_modal_projector.linear_1.weight'])).toThrow(/missing from the checkpoint: multi_modal_projector\.linear_1\.weight$/);
    });

    it('firstNonFinite finds NaN / ±Infinity in f32 values and f16 bits', () => {
      expect(firstNonFinite(Float32Array.from([1, -2, 3]))).toBe(-1);
      expect(firstNonFinite(Float32Array.from([1, NaN, 3]))).toBe(1);
      expect(firstNonFinite(Float32Array.from([1, 2, -Infinity]))).toBe(2);
      expect(firstNonFinite(Uint16Array.from([0x3c00, 0x7bff, 0xfbff]))).toBe(-1); // 1, ±65504
      expect(firstNonFinite(Uint16Array.from([0x3c00, 0x7c00]))).toBe(1); // +Inf
      expect(firstNonFinite(Uint16Array.from([0x7e00]))).toBe(0); // NaN
    });
  });
});
