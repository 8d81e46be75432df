import { describe, expect, it } from 'vitest';
import { MemorySource } from '../../src/load/source';
import { ConfigError } from '../../src/models/config';
import { parseIdefics3Config } from '../../src/models/idefics3/config';
import { expandIdefics3Image } from '../../src/models/idefics3/prompt';
import type { Idefics3PreprocessorConfig } from '../../src/models/idefics3/image-processor';
import { Idefics3Facts, idefics3VisualGrid } from '../../src/models/idefics3/model';
import { idefics3TensorDtypes, idefics3WeightNames } from '../../src/models/idefics3/weights';
import { familyFor } from '../../src/models/registry';
import { placeImages } from '../../src/models/vlm';
import { loadPreprocessor } from '../../src/preprocess';
import { IDEFICS3_PRESETS, idefics3PresetSeqLen, makeTinyIdefics3, SMOLVLM_CHAT_TEMPLATE, type TinyIdefics3Preset } from '../fixtures/tiny/idefics3';
import { decoderShapes, expectExactTensors, towerShapes, type Shapes } from '../helpers/tensor-shapes';

type Json = Record<string, unknown>;
const json = (files: Map<string, Uint8Array>, name: string): Json => JSON.parse(new TextDecoder().decode(files.get(name)!)) as Json;

/** The tensors an HF Idefics3ForConditionalGeneration checkpoint of this preset holds, written out independently of src/models. */
function expectedShapes(p: TinyIdefics3Preset, vocab: number): Shapes {
  const m = towerShapes(new Map(), 'model.vision_model', p.vision, 'siglip');
  m.set('model.connector.modality_projection.proj.weight', [p.text.hidden, p.vision.hidden * p.scaleFactor ** 2]);
  return decoderShapes(m, 'model.text_model', p.text, vocab, { qkvBias: false, lmHead: p.text.tieEmbeddings ? null : 'lm_head.weight' });
}

describe('tiny Idefics3 checkpoint (SmolVLM layout)', () => {
  it('holds exactly the tensors of the HF layout, and the family reads every one of them', () => {
    for (const tie of [false, true]) {
      const preset = { ...IDEFICS3_PRESETS.tiny, text: { ...IDEFICS3_PRESETS.tiny.text, tieEmbeddings: tie } };
      const files = makeTinyIdefics3({ seed: 4, preset });
      const config = json(files, 'config.json');
      const vocab = (config['text_config'] as Json)['vocab_size'] as number;
      expect(config['vocab_size']).toBe(vocab);
      const expected = expectedShapes(preset, vocab);
      expectExactTensors(files, expected, 'F32');
      const parsed = parseIdefics3Config(config);
      expect(parsed.text.tieWordEmbeddings).toBe(tie);
      expect([...idefics3TensorDtypes(idefics3WeightNames(parsed)).keys()].sort()).toEqual([...expected.keys()].sort());
    }
  });

  it('writes config.json, preprocessor and processor configs like SmolVLM, with a consistent image_seq_len', () => {
    const files = makeTinyIdefics3({ seed: 2 });
    const config = json(files, 'config.json');
    expect(config['model_type']).toBe('idefics3');
    expect(config['architectures']).toEqual(['Idefics3ForConditionalGeneration']);
    expect((config['vision_config'] as Json)['model_type']).toBe('idefics3_vision');
    expect((config['text_config'] as Json)['model_type']).toBe('llama');
    const parsed = parseIdefics3Config(config);
    expect([parsed.scaleFactor, parsed.imageSeqLen, parsed.vision.imageSize, parsed.vision.patchSize]).toEqual([2, 16, 32, 4]);
    expect(parsed.text.ropeTheta).toBe(100000);
    expect(json(files, 'processor_config.json')).toEqual({ image_seq_len: 16, processor_class: 'Idefics3Processor' });
    const pp = json(files, 'preprocessor_config.json');
    expect(pp['image_processor_type']).toBe('Idefics3ImageProcessor');
    expect([pp['resample'], pp['size'], pp['max_image_size'], pp['do_image_splitting']]).toEqual([1, { longest_edge: 64 }, { longest_edge: 32 }, true]);
    expect(json(files, 'chat_template.json')).toEqual({ chat_template: SMOLVLM_CHAT_TEMPLATE });
    expect(idefics3PresetSeqLen(IDEFICS3_PRESETS['bench-1088'])).toBe(64);
  });

  it('the normal Preprocessor gives SmolVLM\'s prompt, <image>, <end_of_utterance> as eos and no BOS', async () => {
    const files = makeTinyIdefics3({ seed: 3 });
    const pre = await loadPreprocessor(new MemorySource(files));
    const prompt = pre.buildPrompt('What is this?', { hasImage: true });
    expect(prompt).toBe('<|im_start|>User:<image>What is this?<end_of_utterance>\nAssistant:');
    expect(pre.buildPrompt('Hi', { hasImage: false })).toBe('<|im_start|>User: Hi<end_of_utterance>\nAssistant:');
    expect(pre.imageToken).toBe('<image>');
    expect(pre.imageTokenId).toBe(json(files, 'config.json')['image_token_id']);
    const id = (t: string) => pre.tokenizer.convert_tokens_to_ids(t) as number;
    expect(pre.eosTokenIds).toEqual([id('<end_of_utterance>')]);
    // Every marker is one added token, and the template's <|im_start|> is the first id (nothing prepended).
    const expanded = prompt.replace('<image>', expandIdefics3Image(2, 2, 16));
    const { inputIds, imageRuns } = pre.tokenize(expanded);
    expect(inputIds[0]).toBe(id('<|im_start|>'));
    expect(imageRuns.map((r) => r.end - r.start)).toEqual([16, 16, 16, 16, 16]);
    for (const t of ['<fake_token_around_image>', '<global-img>', '<row_1_col_1>', '<row_6_col_6>', '<end_of_utterance>']) {
      expect([...pre.tokenize(t).inputIds], t).toEqual([id(t)]);
    }
    // The engine's placement: one image over five runs; the markers between them are fixed offsets.
    const [placement] = placeImages(imageRuns, [80]);
    const region = placement!.region;
    const nonImage: number[] = [];
    for (let p = region.start; p < region.end; p++) if (inputIds[p] !== pre.imageTokenId) nonImage.push(p - region.start);
    expect(placement!.fixedOffsets).toEqual(nonImage);
    expect(nonImage.length).toBeGreaterThanOrEqual(8); // four <fake><tag> pairs at least, plus the newlines
  });

  it('describes reference images, FLOPs and grids from the configs (tiny 80, bench-1088 1,088, unsplit 16 visual tokens)', () => {
    const facts = (preset: TinyIdefics3Preset, imageSplitting = true) => {
      const files = makeTinyIdefics3({ preset, imageSplitting });
      return new Idefics3Facts(parseIdefics3Config(json(files, 'config.json')), json(files, 'preprocessor_config.json') as Idefics3PreprocessorConfig);
    };
    const tiny = facts(IDEFICS3_PRESETS.tiny);
    expect(tiny.referenceImageTokens()).toBe(80);
    expect(tiny.variableImageTokens).toBe(true);
    const bench = facts(IDEFICS3_PRESETS['bench-1088']);
    expect([bench.referenceFrames(), bench.referenceImageTokens()]).toEqual([17, 1088]);
    const unsplit = facts(IDEFICS3_PRESETS.tiny, false);
    expect([unsplit.referenceImageTokens(), unsplit.variableImageTokens]).toEqual([16, false]);
    const shape = tiny.flopsShape(5);
    expect(shape.connector).toEqual({ tokens: 80, linears: [[32 * 4, 64]] });
    expect(shape.vision).toMatchObject({ tokens: 64, patches: 64, tiles: 5, layersRun: 2, patchInputs: 48 });
    const info = tiny.describe('memory');
    expect([info.family, info.modelType, info.visionModelType, info.imageTokens, info.visionFeatureLayer]).toEqual(['idefics3', 'idefics3', 'idefics3_vision', 80, null]);
    expect(unsplit.fingerprint()).not.toBe(tiny.fingerprint());

    // 2×2 tiles of 4×4 tokens → an 8×8 mosaic; token 0 of tile (0,1) is cell 4, token 5 of tile (1,0) is (row 5, col 1).
    const grid = idefics3VisualGrid({ rows: 2, cols: 2 }, 4);
    expect([grid.rows, grid.cols, grid.cell.length]).toEqual([8, 8, 80]);
    expect([grid.cell[0], grid.cell[16], grid.cell[32 + 5], grid.cell[48 + 15], grid.cell[64]]).toEqual([0, 4, 41, 63, -1]);
    expect(idefics3VisualGrid({ rows: 0, cols: 0 }, 4).cell).toEqual(Int32Array.from({ length: 16 }, (_, i) => i));
  });

  it('is chosen by the registry from config.json, and bad configs are refused by field', () => {
    const config = json(makeTinyIdefics3(), 'config.json');
    expect(familyFor(config).name).toBe('idefics3');
    expect(() => familyFor({ model_type: 'nope' })).toThrow(/idefics3/);
    expect(() => parseIdefics3Config({ ...config, scale_factor: 3 })).toThrow(ConfigError);
    expect(() => parseIdefics3Config({ ...config, text_config: { ...(config['text_config'] as Json), model_type: 'qwen2' } })).toThrow(/text_config.model_type/);
    // Absent vision keys take Idefics3VisionConfig's defaults (patch 32, hidden 1152), not SigLIP's.
    const bare = parseIdefics3Config({ model_type: 'idefics3', text_config: { model_type: 'llama' }, vision_config: { image_size: 512 }, image_token_id: 5 });
    expect([bare.vision.patchSize, bare.vision.hiddenSize, bare.scaleFactor, bare.imageSeqLen]).toEqual([32, 1152, 2, 64]);
    // With every default (224 px, patch 32 → 7×7) scale 2 cannot shuffle: refused, naming scale_factor.
    expect(() => parseIdefics3Config({ model_type: 'idefics3', text_config: {}, vision_config: {} })).toThrow(/scale_factor/);
  });
});
