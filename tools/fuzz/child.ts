/**
 * A fuzz child process: runs cases [from, to) of a seed on one engine and reports each outcome
 * to the supervisor over IPC. It exits after a hang (the case may still be running) or a crash;
 * the supervisor starts a new child at the next case. Usage (by tools/fuzz/supervisor.ts only):
 *   node scripts/run-ts.mjs tools/fuzz/child.ts --seed S --from A --to B [--only f,g] [--timeout MS]
 */
import { parseArgs } from 'node:util';
import { Engine } from '../../src/engine/engine';
import { nodeGpu } from '../../src/gpu/node';
import { FUZZ_FAMILIES, type FuzzFamily } from './case';
import { makeCase } from './cases/index';
import { classifyAccepted, classifyError, type Outcome } from './classify';
import { BaseModels, ChildEnv } from './env';
import { selfTestCase } from './selftest';
import type { ChildMessage } from './supervisor';

const { values } = parseArgs({
  options: { seed: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, only: { type: 'string' }, timeout: { type: 'string' } },
});
const seed = Number(values.seed);
const from = Number(values.from);
const to = Number(values.to);
const timeoutMs = Number(values.timeout ?? 15000);
const only = values.only ? (values.only.split(',') as FuzzFamily[]) : undefined;
for (const f of only ?? []) if (!FUZZ_FAMILIES.includes(f)) throw new Error(`unknown family ${f}`);

const send = (m: ChildMessage) => new Promise<void>((resolve) => (process.send ? process.send(m, () => resolve()) : resolve()));

let current = -1;
const die = (detail: string) => {
  void send({ type: 'crash', index: current, detail: detail.slice(0, 800) }).finally(() => process.exit(2));
};
process.on('uncaughtException', (e) => die(`uncaught exception: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
process.on('unhandledRejection', (e) => die(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));

const gpu = nodeGpu();
const bases = new BaseModels();
const env = new ChildEnv(await Engine.create({ gpu }), bases);
await send({ type: 'ready' });

for (let index = from; index < to; index++) {
  current = index;
  const c = process.env['FITPRUNE_FUZZ_SELFTEST'] ? selfTestCase(index) : makeCase(seed, index, bases, only);
  await send({ type: 'start', index, family: c.family, name: c.name });
  const controller = new AbortController();
  env.signal = controller.signal;
  const t0 = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const settled = c.run(env).then(
    (accepted) => classifyAccepted(c, accepted),
    (error: unknown) => classifyError(c, error),
  );
  const outcome: Outcome | 'timeout' = await Promise.race([settled, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    controller.abort();
    await send({ type: 'done', index, family: c.family, name: c.name, class: 'hang', detail: `still running after ${timeoutMs} ms`, ms: timeoutMs });
    process.exit(3);
  }
  let result = outcome;
  const ctx = env.engine.ctx;
  if (ctx.isLost || ctx.uncapturedErrors.length > 0) {
    const gpuErrors = ctx.uncapturedErrors.splice(0);
    result = { class: 'crash', detail: `${ctx.isLost ? 'the WebGPU device was lost' : `WebGPU reported ${gpuErrors.length} error(s): ${gpuErrors.join(' | ')}`} (after: ${outcome.class} ${outcome.detail})`.slice(0, 800) };
    if (ctx.isLost) env.replaceEngine(await Engine.create({ gpu }));
  }
  await env.afterCase();
  await send({ type: 'done', index, family: c.family, name: c.name, class: result.class, detail: result.detail, ms: performance.now() - t0 });
}
env.engine.dispose();
process.exit(0);
