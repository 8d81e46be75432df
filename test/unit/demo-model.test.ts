// The shipped demo model (public/models/fitprune-demo) against the PyTorch trainer that made
// it (tools/train-demo): our float64 reference forward, fed by the runtime's own tokenizer,
// chat template and image preprocessing, must reproduce the logits the trainer computed for
// the same eval items (test/fixtures/demo-model-vectors.json, written by check.py). This pins
// tokenisation, pixels and every layer of the architecture to what was trained.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMBEDDED_MODEL } from '../../src/data/embedded';
import { MemorySource } from '../../src/load/source';
import { loadPreprocessor } from '../../src/preprocess';
import { readImageFile } from '../../src/preprocess/node';
import { referenceGenerate } from '../../src/reference/llava';
import { referenceWeights } from '../helpers/llava';

interface Vector {
  image: string;
  question: string;
  answer: string;
  promptTokens: number;
  answerTokenId: number;
  logits: number[];
}

const vectors = JSON.parse(readFileSync('test/fixtures/demo-model-vectors.json', 'utf8')) as { items: Vector[] };
const files = new Map(readdirSync(EMBEDDED_MODEL.dir).map((f) => [f, new Uint8Array(readFileSync(join(EMBEDDED_MODEL.dir, f)))]));

describe('demo model: runtime reference forward vs the trainer', () => {
  it('has test vectors for several eval items', () => {
    expect(vectors.items.length).toBeGreaterThanOrEqual(3);
  });

  // The float64 forward over 211 tokens takes a few seconds per item.
  const setup = Promise.all([referenceWeights(files), loadPreprocessor(new MemorySource(files, EMBEDDED_MODEL.name))]);
  for (const v of vectors.items) {
    it(`"${v.question}" (${v.image}): same prompt, same logits, same greedy answer`, { timeout: 60_000 }, async () => {
      const [weights, pre] = await setup;
      const { inputIds, imageSpans } = pre.encode(pre.buildPrompt(v.question, { hasImage: true }));
      expect(inputIds.length).toBe(v.promptTokens);
      expect(imageSpans).toEqual([{ start: imageSpans[0]!.start, end: imageSpans[0]!.start + weights.config.tileTokens }]);
      const { pixelValues } = await pre.preprocessImage(await readImageFile(join(EMBEDDED_MODEL.data.dir, v.image)));
      const out = referenceGenerate(weights, inputIds, imageSpans[0]!, pixelValues, 2, pre.eosTokenIds);
      const logits = out.logits[0]!;
      expect(logits.length).toBe(v.logits.length);
      // The trainer runs f32 with the same f16-rounded weights; the reference accumulates in
      // float64. Differences are rounding only: bound them relative to the largest logit.
      const scale = Math.max(...v.logits.map(Math.abs));
      let worst = 0;
      for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i]! - v.logits[i]!));
      expect(worst / scale).toBeLessThan(2e-3);
      expect(out.tokens[0]).toBe(v.answerTokenId);
    });
  }
});
