/**
 * Step 1 of training the demo model (see tools/train-demo/README.md): writes the model folder
 * in the exact Hugging Face LLaVA layout with placeholder random weights (config.json,
 * tokenizer.json with merges learned from the task's own questions, tokenizer_config.json,
 * chat_template.json, preprocessor_config.json, …), then tokenises every question and answer
 * the scene generator can produce **with the runtime's own preprocessor** (transformers.js,
 * the llava-1.5 chat template), so the trainer sees exactly the ids the engine will feed.
 *
 *   node scripts/run-ts.mjs tools/train-demo/prepare.ts --texts texts.json --out <model dir> --table token-table.json
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MemorySource } from '../../src/load/source';
import { loadPreprocessor } from '../../src/preprocess';
import { makeTinyLlava, type TinyLlavaPreset } from '../../test/fixtures/tiny/llava';

/**
 * The demo architecture: LLaVA-1.5 in miniature. CLIP-style tower (112 px, patch 8 → 14×14 =
 * 196 visual tokens, features from layer −2), 2-layer GELU projector, Llama decoder with GQA.
 */
export const DEMO_PRESET: TinyLlavaPreset = {
  // Heads 32 wide with a long RoPE wavelength (θ = 500 000, as Llama 3): more of each head can
  // match a question word to a patch by content, whatever the distance between them.
  text: { hidden: 128, intermediate: 320, layers: 6, heads: 4, kvHeads: 2, tieEmbeddings: false, ropeTheta: 500_000 },
  vision: { hidden: 96, intermediate: 256, layers: 4, heads: 4, imageSize: 112, patchSize: 8 },
  strategy: 'default',
};

const { values } = parseArgs({ options: { texts: { type: 'string' }, out: { type: 'string' }, table: { type: 'string' } } });
if (!values.texts || !values.out || !values.table) {
  console.error('usage: prepare.ts --texts texts.json --out <model dir> --table token-table.json');
  process.exit(2);
}
// questions: everything to tokenise for the table; corpus (optional): the sentences the merges
// are learnt from, kept fixed by scenes.py so that adding a question form keeps every token id.
const texts = JSON.parse(readFileSync(values.texts, 'utf8')) as { questions: string[]; answers: string[]; corpus?: string[] };

// Merges learned from the task's sentences (repeated so whole words win over fragments) on
// top of the generic corpus: answers become single tokens, questions a few word pieces.
const taskText = [...(texts.corpus ?? texts.questions), ...texts.answers.map((a) => `ASSISTANT: ${a}`)].join('\n');
const files = makeTinyLlava({ seed: 7, preset: DEMO_PRESET, tokenizerCorpus: { text: `${taskText}\n${taskText}`, merges: 420 } });
const pre = await loadPreprocessor(new MemorySource(files, values.out));

const prompts: Record<string, number[]> = {};
const answers: Record<string, number[]> = {};
for (const q of texts.questions) {
  const prompt = pre.buildPrompt(q, { hasImage: true });
  const ids = [...pre.encode(prompt).inputIds];
  prompts[q] = ids;
  for (const a of texts.answers) {
    // The answer's ids are what follows the prompt's ids when the whole turn is tokenised
    // ("… ASSISTANT: red"); check the prompt really is a prefix of that.
    const full = [...pre.encode(`${prompt} ${a}`).inputIds];
    if (full.slice(0, ids.length).join() !== ids.join()) throw new Error(`"${prompt} ${a}" does not start with the prompt's tokens`);
    const own = full.slice(ids.length);
    if (answers[a] && answers[a]!.join() !== own.join()) throw new Error(`answer "${a}" tokenises differently after "${q}"`);
    answers[a] = own;
    if (pre.decode(own).trim() !== a) throw new Error(`answer "${a}" decodes to "${pre.decode(own)}"`);
  }
}

// Later turns of a multi-turn training conversation ("… red</s>USER: <question> ASSISTANT:"):
// the piece after the special </s> is tokenised on its own, so its ids do not depend on what
// came before. Inference only ever sees the first turn; later turns give the trainer more
// answers per image for the same vision and prefix compute.
const turns: Record<string, number[]> = {};
const eosId = pre.eosTokenIds[0]!;
for (const q of texts.questions) {
  const ids = [...pre.encode(`</s>USER: ${q} ASSISTANT:`).inputIds];
  const at = ids.indexOf(eosId);
  if (at < 0) throw new Error('</s> did not tokenise to the EOS id');
  turns[q] = ids.slice(at + 1);
}

mkdirSync(values.out, { recursive: true });
for (const [name, data] of files) writeFileSync(join(values.out, name), data);
const eos = pre.eosTokenIds[0]!;
writeFileSync(
  values.table,
  JSON.stringify({ imageTokenId: pre.imageTokenId, imageTokens: pre.imageTokenCount, eosTokenId: eos, padTokenId: pre.padTokenId, prompts, answers, turns }),
);
const lengths = Object.values(prompts).map((p) => p.length);
const answerLengths = Object.values(answers).map((a) => a.length);
console.log(
  `wrote ${values.out} (${files.size} files) and ${values.table}: ${texts.questions.length} prompts of ${Math.min(...lengths)}–${Math.max(...lengths)} tokens ` +
    `(${pre.imageTokenCount} visual), answers of ${Math.min(...answerLengths)}–${Math.max(...answerLengths)} tokens, vocabulary ${JSON.parse(new TextDecoder().decode(files.get('config.json'))).text_config.vocab_size}`,
);
const example = prompts[texts.questions[0]!]!.filter((i) => i !== pre.imageTokenId);
console.log('example:', JSON.stringify(pre.buildPrompt(texts.questions[0]!, { hasImage: true })), '→', example.map((i) => JSON.stringify(pre.decode([i], { skipSpecialTokens: false }))).join(' '));
