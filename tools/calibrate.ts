/**
 * npm run calibrate -- [--model <dir|url|id>] [--data calib.jsonl] --budget 0.5 --out recipe.json [--limit N]
 * --budget is the fraction of the reference-convention FLOPs to KEEP (0.5: half the compute).
 * Defaults: the embedded demo model and its shipped calibration set.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Engine } from '../src/engine/engine';
import { EMBEDDED_MODEL } from '../src/data/embedded';
import { nodeGpu } from '../src/gpu/node';
import { openNodeSource } from '../src/load/node-dir-source';
import { Calibrator } from '../src/prune/calibrate';
import { loadDataset } from './data';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: EMBEDDED_MODEL.dir },
    data: { type: 'string', default: `${EMBEDDED_MODEL.data.dir}/${EMBEDDED_MODEL.data.calib}` },
    budget: { type: 'string', default: '0.5' },
    out: { type: 'string', default: 'recipe.json' },
    limit: { type: 'string' },
  },
});
const keep = Number(values.budget);
if (!(keep > 0 && keep < 1)) {
  console.error(`--budget is the fraction of FLOPs to keep, in (0, 1); got ${values.budget}`);
  process.exit(2);
}
const controller = new AbortController();
process.on('SIGINT', () => controller.abort());
const engine = await Engine.create({ gpu: nodeGpu() });
try {
  const info = await engine.load(await openNodeSource(values.model!), { signal: controller.signal });
  const items = await loadDataset(values.data, values.limit ? Number(values.limit) : undefined);
  console.error(`calibrating ${info.source} on ${items.length} samples for ${(keep * 100).toFixed(0)} % of the FLOPs …`);
  const calibrator = new Calibrator(
    engine,
    items.map((i) => ({ image: i.blob, question: i.question })),
    {
      signal: controller.signal,
      onProgress: (p) =>
        process.stderr.write(
          `\r${p.phase === 'statistics' ? 'statistics' : `fit step ${p.step}/${p.steps} alpha ${p.alpha?.toFixed(3)}`} — sample ${p.sample}/${p.samples}, ETA ${p.etaSeconds.toFixed(0)} s   `,
        ),
    },
  );
  const result = await calibrator.run(keep, info.source, { source: values.data });
  process.stderr.write('\n');
  await writeFile(values.out, `${JSON.stringify(result.recipe, null, 2)}\n`);
  const r = result.recipe;
  console.log(`recipe: ${values.out}${result.feasible ? '' : '  (WARNING: the budget was not reachable; this is the most pruning found)'}`);
  console.log(`alpha ${r.alpha?.toFixed(4)}; deletions per layer ${r.counts.join(',')}`);
  console.log(`FLOPs kept: ${(r.flops.reference.ratio * 100).toFixed(1)} % (reference convention: visual tokens, MACs), ${(r.flops.architecture!.ratio * 100).toFixed(1)} % (whole prefill, FLOPs)`);
  console.log(`${items.length} samples, ${result.steps.length} search steps, ${result.seconds.toFixed(1)} s`);
} catch (e) {
  console.error(`\nerror: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  engine.dispose();
}
