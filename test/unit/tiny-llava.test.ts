import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/load/checkpoint';
import { MemorySource, readJson } from '../../src/load/source';
import { parseLlavaConfig } from '../../src/models/config';
import { allLlavaWeightNames, detectLlavaLayout, llavaWeightNames } from '../../src/models/llava-weights';
import { makeTinyLlava, PRESETS, type PresetName } from '../../tools/tiny-llava';

describe('tiny LLaVA checkpoint generator', () => {
  it('is deterministic from its seed', () => {
    const a = makeTinyLlava({ seed: 5 });
    const b = makeTinyLlava({ seed: 5 });
    const c = makeTinyLlava({ seed: 6 });
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [name, bytes] of a) expect(Buffer.from(bytes).equals(Buffer.from(b.get(name)!)), name).toBe(true);
    expect(Buffer.from(a.get('model.safetensors')!).equals(Buffer.from(c.get('model.safetensors')!))).toBe(false);
  });

  for (const preset of Object.keys(PRESETS) as PresetName[]) {
    for (const variant of [{ dtype: 'f32', layout: 'hub', shards: 1 }, { dtype: 'bf16', layout: 'new', shards: 3 }] as const) {
      it(`${preset} ${variant.dtype} ${variant.layout} ×${variant.shards}: every weight the model reads, with the config's shapes`, async () => {
        const files = makeTinyLlava({ seed: 1, preset, ...variant });
        const source = new MemorySource(files);
        const config = parseLlavaConfig(await readJson(source, 'config.json'));
        const ck = await openCheckpoint(source);
        const layout = detectLlavaLayout(ck.tensors.keys());
        expect(layout).toBe(variant.layout);
        const names = llavaWeightNames(config, layout!);
        ck.require(allLlavaWeightNames(names));
        const t = config.text;
        expect(ck.info(names.text.layers[0]!.k).shape).toEqual([t.numKvHeads * t.headDim, t.hiddenSize]);
        expect(ck.info(names.text.embed).shape).toEqual([t.vocabSize, t.hiddenSize]);
        expect(ck.info(names.vision.positionEmbedding).shape[0]).toBe((config.vision.imageSize / config.vision.patchSize) ** 2 + 1);
        expect(ck.info(names.text.embed).dtype).toBe(variant.dtype === 'bf16' ? 'BF16' : 'F32');
        if (variant.shards > 1) expect(files.has('model.safetensors.index.json')).toBe(true);
      });
    }
  }
});
