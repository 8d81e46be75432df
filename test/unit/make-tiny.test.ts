// The arch table behind `npm run make-tiny`: every arch writes a checkpoint the runtime's
// registry accepts, options an arch cannot vary are refused, and cutting a single file into
// shards keeps every tensor byte for byte.
import { describe, expect, it } from 'vitest';
import { headerLength, parseHeader } from '../../src/load/safetensors';
import { familyFor } from '../../src/models/registry';
import { shardCheckpoint, TINY_ARCHS, TinyOptionError } from '../fixtures/tiny';
import { makeTinyLlava } from '../fixtures/tiny/llava';

const json = (files: Map<string, Uint8Array>, name: string): Record<string, unknown> => JSON.parse(new TextDecoder().decode(files.get(name)!));

/** name → raw bytes of every tensor in every safetensors file. */
function tensorBytes(files: Map<string, Uint8Array>): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const [file, bytes] of files) {
    if (!file.endsWith('.safetensors')) continue;
    const h = parseHeader(bytes.subarray(8, 8 + headerLength(bytes.subarray(0, 8), bytes.byteLength, file)), bytes.byteLength, file);
    for (const t of h.tensors.values()) out.set(t.name, bytes.subarray(t.begin, t.end));
  }
  return out;
}

describe('TINY_ARCHS (npm run make-tiny)', () => {
  it('lists the five archs of issue 17, each with its default preset among its presets', () => {
    expect(Object.keys(TINY_ARCHS)).toEqual(['llava', 'llava-qwen2', 'llava-next', 'llava-onevision', 'idefics3']);
    for (const [name, a] of Object.entries(TINY_ARCHS)) {
      expect(a.presets, name).toContain(a.defaultPreset);
      expect(a.describe.length, name).toBeGreaterThan(20);
    }
    expect(TINY_ARCHS['llava']!.presets).not.toContain('tiny-qwen2-siglip');
    expect(TINY_ARCHS['llava-qwen2']!.presets).toEqual(['tiny-qwen2-siglip', 'tiny-qwen2-siglip-121']);
  });

  for (const [name, a] of Object.entries(TINY_ARCHS)) {
    it(`${name}: the default checkpoint is recognised by the registry and is deterministic`, () => {
      const files = a.make({ seed: 2 });
      const config = json(files, 'config.json');
      expect(familyFor(config).accepts(config)).toBe(true);
      const again = a.make({ seed: 2 });
      for (const [file, bytes] of files) expect(Buffer.from(bytes).equals(Buffer.from(again.get(file)!)), file).toBe(true);
    });
  }

  it('llava is makeTinyLlava with the same options; llava-qwen2 writes the SigLIP + Qwen2 config', () => {
    const viaTable = TINY_ARCHS['llava']!.make({ seed: 3, dtype: 'bf16', layout: 'new', shards: 2, vocabPadMultiple: 64 });
    const direct = makeTinyLlava({ seed: 3, dtype: 'bf16', layout: 'new', shards: 2, vocabPadMultiple: 64 });
    expect([...viaTable.keys()]).toEqual([...direct.keys()]);
    for (const [file, bytes] of direct) expect(Buffer.from(bytes).equals(Buffer.from(viaTable.get(file)!)), file).toBe(true);
    const qwen = json(TINY_ARCHS['llava-qwen2']!.make({}), 'config.json') as { text_config: { model_type: string }; vision_config: { model_type: string } };
    expect([qwen.text_config.model_type, qwen.vision_config.model_type]).toEqual(['qwen2', 'siglip_vision_model']);
  });

  it('refuses a preset of another arch and options an arch cannot vary, naming them', () => {
    expect(() => TINY_ARCHS['llava-qwen2']!.make({ preset: 'tiny' })).toThrow(TinyOptionError);
    expect(() => TINY_ARCHS['llava-qwen2']!.make({ preset: 'tiny' })).toThrow(/tiny-qwen2-siglip, tiny-qwen2-siglip-121/);
    const fixed = Object.entries(TINY_ARCHS).find(([, a]) => !a.supports.includes('dtype'));
    if (fixed) {
      expect(() => fixed[1].make({ dtype: 'bf16' })).toThrow(/cannot vary dtype/);
      expect(() => fixed[1].make({ dtype: 'f32' })).not.toThrow(); // what it writes anyway
    }
  });

  it('shardCheckpoint: every tensor once, in the file the index names, byte for byte, other files untouched', () => {
    const single = makeTinyLlava({ seed: 5, preset: 'tiny-qwen2-siglip' });
    const sharded = shardCheckpoint(single, 3);
    expect(sharded.has('model.safetensors')).toBe(false);
    const index = json(sharded, 'model.safetensors.index.json') as { metadata: { total_size: number }; weight_map: Record<string, string> };
    const before = tensorBytes(single);
    const after = tensorBytes(sharded);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, bytes] of before) expect(Buffer.from(after.get(name)!).equals(Buffer.from(bytes)), name).toBe(true);
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']));
    expect(index.metadata.total_size).toBe([...before.values()].reduce((s, b) => s + b.byteLength, 0));
    for (const file of single.keys()) if (file !== 'model.safetensors') expect(sharded.get(file)).toBe(single.get(file));
    // The same split as the maker's own sharding.
    const native = makeTinyLlava({ seed: 5, preset: 'tiny-qwen2-siglip', shards: 3 });
    expect(json(native, 'model.safetensors.index.json')).toEqual(index);
    expect(shardCheckpoint(single, 1)).toBe(single);
  });
});
