import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/models/config';
import { FAMILIES, exampleModelIds, familyFor } from '../../src/models/registry';
import { TINY_ARCHS } from '../fixtures/tiny';

/** Tensor names of a single-file checkpoint, from its safetensors header. */
function readTensorNames(files: Map<string, Uint8Array>): string[] {
  const f = files.get('model.safetensors')!;
  const n = Number(new DataView(f.buffer, f.byteOffset).getBigUint64(0, true));
  return Object.keys(JSON.parse(new TextDecoder().decode(f.subarray(8, 8 + n)))).filter((k) => k !== '__metadata__');
}

const configOf = (files: Map<string, Uint8Array>) => JSON.parse(new TextDecoder().decode(files.get('config.json')!)) as Record<string, unknown>;

describe('model-family registry', () => {
  it('picks the family of every tiny checkpoint from its config.json', () => {
    const expected: Record<string, string> = { llava: 'llava', 'llava-qwen2': 'llava', 'llava-next': 'llava_next', 'llava-onevision': 'llava_onevision', idefics3: 'idefics3' };
    for (const [arch, entry] of Object.entries(TINY_ARCHS)) {
      expect(familyFor(configOf(entry.make({ seed: 1 }))).name, arch).toBe(expected[arch]);
    }
  });

  it('refuses an unknown model_type, naming every supported family', () => {
    const names = FAMILIES.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['llava', 'llava_next', 'llava_onevision', 'idefics3']));
    const attempt = () => familyFor({ model_type: 'qwen2_vl' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(new RegExp(`model_type "qwen2_vl" is not supported; supported: ${names.join(', ')}`));
    expect(() => familyFor([])).toThrow(/must be a JSON object/);
    expect(() => familyFor({})).toThrow(/model_type "undefined" is not supported/);
  });

  it('gives each family a weight plan for the memory check, and real Hub ids to suggest', () => {
    for (const [arch, entry] of Object.entries(TINY_ARCHS)) {
      const files = entry.make({ seed: 1 });
      const config = configOf(files);
      const family = familyFor(config);
      const plan = family.weightPlan(config, [...new Set(readTensorNames(files))]);
      expect(plan.size, arch).toBeGreaterThan(0);
    }
    const ids = exampleModelIds();
    for (const id of ['llava-hf/llava-1.5-7b-hf', 'llava-hf/llava-v1.6-mistral-7b-hf', 'llava-hf/llava-onevision-qwen2-0.5b-ov-hf', 'HuggingFaceTB/SmolVLM-256M-Instruct']) {
      expect(ids).toContain(id);
    }
  });
});
