/**
 * Defaults: the embedded demo model, its shipped eval set and (for --budgets) its calibration set.
 * npm run eval -- --model <m> --data eval.jsonl --policy none|fitprune|fastv|random [--recipe r.json]
 * npm run eval -- --model <m> --data eval.jsonl --budgets 0.5,0.3 [--calib calib.jsonl]
 *   Budgets are fractions of the reference-convention FLOPs KEPT. The second form calibrates a
 *   FitPrune recipe per budget (pass A once), gives random the same counts and FastV (K=2) the
 *   R that fits, and prints one table for all policies. --limit N, --json, --max-new-tokens N,
 *   --out rows.json (rewritten after every row).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../src/engine/engine';
import { EMBEDDED_MODEL } from '../src/data/embedded';
import { nodeGpu } from '../src/gpu/node';
import { openNodeSource } from '../src/load/node-dir-source';
import { Calibrator, type PassA } from '../src/prune/calibrate';
import { evaluate, fastvRatioForBudget, type EvalItem, type EvalRow } from '../src/prune/evaluate';
import type { PruningPolicy } from '../src/prune/policies';
import { parseRecipe, type Recipe } from '../src/prune/recipe';
import { loadDataset } from './data';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: EMBEDDED_MODEL.dir },
    data: { type: 'string', default: `${EMBEDDED_MODEL.data.dir}/${EMBEDDED_MODEL.data.eval}` },
    policy: { type: 'string', default: 'none' },
    recipe: { type: 'string' },
    budgets: { type: 'string' },
    calib: { type: 'string' },
    limit: { type: 'string' },
    'calib-limit': { type: 'string' },
    'fastv-layer': { type: 'string', default: '2' },
    'fastv-ratio': { type: 'string', default: '0.5' },
    seed: { type: 'string', default: '0' },
    'max-new-tokens': { type: 'string', default: '8' },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
if (!values.model || !values.data) fail('usage: npm run eval -- --model <m> --data eval.jsonl (--policy none|fitprune|fastv|random [--recipe r.json] | --budgets 0.5,0.3 [--calib calib.jsonl]) [--limit N] [--json]');

const controller = new AbortController();
process.on('SIGINT', () => controller.abort());
const engine = await Engine.create({ gpu: nodeGpu() });
const log = (s: string) => {
  if (!values.json) process.stderr.write(s);
};

function table(rows: EvalRow[]): string {
  const types = [...new Set(rows.flatMap((r) => Object.keys(r.byType)))].sort();
  const head = ['policy', 'budget', 'FLOPs kept (ref.)', 'FLOPs kept (arch.)', 'accuracy', ...types, 'prefill ms'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const r of rows) {
    lines.push(
      `| ${[
        r.policy,
        r.budget === null ? '—' : `${(r.budget * 100).toFixed(0)} %`,
        `${(r.meanReferenceRatio * 100).toFixed(1)} %`,
        `${(r.meanArchitectureRatio * 100).toFixed(1)} %`,
        `${(r.accuracy * 100).toFixed(1)} %`,
        ...types.map((t) => (r.byType[t] ? `${(r.byType[t]!.accuracy * 100).toFixed(1)} %` : '—')),
        r.meanPrefillMs.toFixed(1),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

try {
  const info = await engine.load(await openNodeSource(values.model!), { signal: controller.signal });
  const data = await loadDataset(values.data, values.limit ? Number(values.limit) : undefined);
  const items: EvalItem[] = data.map((d) => {
    if (d.answer === undefined) throw new Error(`${values.data}: every evaluation item needs an "answer"`);
    return { image: d.blob, question: d.question, answer: d.answer, type: d.type };
  });
  const maxNewTokens = Number(values['max-new-tokens']);
  const run = async (policy: PruningPolicy, budget: number | null) => {
    const row = await evaluate(engine, items, policy, {
      budget,
      maxNewTokens,
      signal: controller.signal,
      onProgress: (done, total) => log(`\r${policy.kind}${budget === null ? '' : ` @ ${(budget * 100).toFixed(0)} %`}: ${done}/${total}   `),
    });
    log(`  accuracy ${(row.accuracy * 100).toFixed(1)} %, FLOPs kept ${(row.meanReferenceRatio * 100).toFixed(1)} % (ref.) / ${(row.meanArchitectureRatio * 100).toFixed(1)} % (arch.), prefill ${row.meanPrefillMs.toFixed(1)} ms\n`);
    rows.push(row);
    // A long table is written as it grows, so an interrupted run keeps what it measured.
    if (values.out) await writeFile(values.out, `${JSON.stringify({ model: info.source, items: items.length, rows }, null, 1)}\n`);
    return row;
  };
  const rows: EvalRow[] = [];
  const model = info.flops.text;
  if (values.budgets) {
    const budgets = values.budgets.split(',').map(Number);
    if (budgets.some((b) => !(b > 0 && b < 1))) fail('--budgets are fractions of FLOPs kept, each in (0, 1)');
    const calibPath = values.calib ?? join(dirname(values.data), 'calib.jsonl');
    const calib = await loadDataset(calibPath, values['calib-limit'] ? Number(values['calib-limit']) : undefined);
    const samples = calib.map((c) => ({ image: c.blob, question: c.question }));
    await run({ kind: 'none' }, null);
    let passA: PassA | undefined;
    for (const keep of budgets) {
      log(`calibrating for ${(keep * 100).toFixed(0)} % on ${samples.length} samples …\n`);
      const result = await new Calibrator(engine, samples, { signal: controller.signal }).run(keep, info.source, { passA, source: calibPath });
      passA = result.passA;
      const recipe = result.recipe;
      await run({ kind: 'fitprune', recipe }, keep);
      await run({ kind: 'random', recipe, seed: Number(values.seed) }, keep);
      const K = Number(values['fastv-layer']);
      await run({ kind: 'fastv', layer: K, ratio: fastvRatioForBudget(model, info.imageTokens, keep, K) }, keep);
    }
  } else {
    let recipe: Recipe | undefined;
    if (values.recipe) {
      const path = values.recipe;
      try {
        recipe = parseRecipe(await readFile(path, 'utf8'), info);
      } catch (e) {
        throw new Error(`${path}: ${e instanceof Error ? e.message : String(e)}`); // say which file was refused
      }
    }
    const kind = values.policy;
    if ((kind === 'fitprune' || kind === 'random') && !recipe) fail(`--policy ${kind} needs --recipe`);
    const policy: PruningPolicy =
      kind === 'none'
        ? { kind: 'none' }
        : kind === 'fitprune'
          ? { kind: 'fitprune', recipe: recipe! }
          : kind === 'random'
            ? { kind: 'random', recipe: recipe!, seed: Number(values.seed) }
            : kind === 'fastv'
              ? { kind: 'fastv', layer: Number(values['fastv-layer']), ratio: Number(values['fastv-ratio']) }
              : fail(`unknown --policy ${kind} (none, fitprune, fastv, random)`);
    await run(policy, recipe ? recipe.flops.reference.ratio : null);
  }
  if (values.json) {
    console.log(JSON.stringify({ model: info.source, items: items.length, rows }, null, 2));
  } else {
    console.log(`${info.source}, ${items.length} items, greedy, max ${maxNewTokens} new tokens\n`);
    console.log(table(rows));
  }
} catch (e) {
  console.error(`\nerror: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  engine.dispose();
}
