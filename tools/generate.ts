/**
 * `npm run generate -- [--model <dir|url|owner/name>] [--image <png|jpg>] [--prompt "…"]`
 * Answers one question about one image with the same Engine the browser worker uses, on Node's
 * WebGPU (Dawn), streaming tokens to stdout, then prints the usage stats. With --json, stdout
 * holds exactly one JSON object (text, tokens, finishReason, usage, pruning, model, loadMs) and
 * nothing else; progress and errors go to stderr (an error leaves stdout empty, exit code 1). Without --model it
 * uses the embedded demo model; with neither --image nor --prompt, a shipped sample scene and
 * its first question.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Engine } from '../src/engine/engine';
import { EMBEDDED_MODEL } from '../src/data/embedded';
import { describeAdapter } from '../src/gpu/device';
import { nodeGpu } from '../src/gpu/node';
import { openNodeSource } from '../src/load/node-dir-source';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: EMBEDDED_MODEL.dir },
    image: { type: 'string' },
    prompt: { type: 'string' },
    'max-new-tokens': { type: 'string', default: '32' },
    temperature: { type: 'string', default: '0' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const USAGE = 'usage: npm run generate -- [--model <folder|url|owner/name>] [--image <png|jpg>] [--prompt "…"] [--max-new-tokens N] [--temperature T --top-k K --top-p P --seed S] [--json]';
if (!values.prompt && (values.image || values.model !== EMBEDDED_MODEL.dir)) fail(`--prompt is required\n${USAGE}`);
if (!values.prompt) {
  // The embedded model's first sample scene and question: `npm run generate` alone shows it working.
  const samples = JSON.parse(await readFile(`${EMBEDDED_MODEL.data.dir}/${EMBEDDED_MODEL.data.samples}`, 'utf8')) as { image: string; questions: { question: string; answer: string }[] }[];
  values.image = `${EMBEDDED_MODEL.data.dir}/${samples[0]!.image}`;
  values.prompt = samples[0]!.questions[0]!.question;
  if (!values.json) console.error(`image: ${values.image}\nquestion: ${values.prompt} (expected: ${samples[0]!.questions[0]!.answer})`);
}

const controller = new AbortController();
process.on('SIGINT', () => controller.abort());

const engine = await Engine.create({ gpu: nodeGpu() });
try {
  if (!values.json) console.error(`adapter: ${describeAdapter(engine.adapter)}`);
  const t0 = performance.now();
  const info = await engine.load(await openNodeSource(values.model!), { signal: controller.signal });
  const loadMs = performance.now() - t0;
  if (!values.json) console.error(`model: ${info.source} (${info.textLayers} layers, ${info.imageTokens} visual tokens) loaded in ${loadMs.toFixed(0)} ms`);
  let image: Blob | undefined;
  if (values.image) {
    const bytes = await readFile(values.image).catch(() => fail(`cannot read image ${values.image}`));
    image = new Blob([new Uint8Array(bytes)]);
  }
  let printed = '';
  const result = await engine.generate(
    {
      prompt: values.prompt,
      image,
      maxNewTokens: Number(values['max-new-tokens']),
      sampling: {
        temperature: Number(values.temperature),
        topK: values['top-k'] ? Number(values['top-k']) : undefined,
        topP: values['top-p'] ? Number(values['top-p']) : undefined,
        seed: values.seed ? Number(values.seed) : undefined,
      },
      signal: controller.signal,
    },
    (t) => {
      if (values.json) return;
      process.stdout.write(t.text.slice(printed.length));
      printed = t.text;
    },
  );
  const { firstLogits: _omit, ...rest } = result;
  void _omit;
  if (values.json) {
    // Typed arrays (the heatmap grid's cells) as JSON arrays, not as {"0": …} objects.
    const plain = (_key: string, v: unknown) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v);
    console.log(JSON.stringify({ model: info.source, loadMs, ...rest }, plain, 2));
  } else {
    const u = result.usage;
    console.log(`\n\nfinish: ${result.finishReason}; prompt ${u.promptTokens} tokens (${u.visualTokens} visual), ${u.generatedTokens} generated`);
    console.log(
      `image encode ${u.imageEncodeMs.toFixed(1)} ms, prefill ${u.prefillMs.toFixed(1)} ms, time to first token ${u.timeToFirstTokenMs.toFixed(1)} ms, decode ${u.decodeTokensPerSecond.toFixed(1)} tokens/s`,
    );
  }
} catch (e) {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  engine.dispose();
}
