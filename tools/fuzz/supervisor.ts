/**
 * Runs a seeded fuzz campaign in child processes (tools/fuzz/child.ts) and counts outcomes per
 * class and family. Children, not the supervisor, touch the inputs: a case that kills its
 * process is a crash, one that stops answering (even in a synchronous loop) is a hang, and the
 * next child carries on at the following case.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FUZZ_FAMILIES, type FuzzFamily } from './case';
import { FAILING_CLASSES, OUTCOME_CLASSES, type OutcomeClass } from './classify';

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'start'; index: number; family: FuzzFamily; name: string }
  | { type: 'done'; index: number; family: FuzzFamily; name: string; class: OutcomeClass; detail: string; ms: number }
  | { type: 'crash'; index: number; detail: string };

export interface CaseRecord {
  index: number;
  family: FuzzFamily;
  name: string;
  class: OutcomeClass;
  detail: string;
  ms: number;
}

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** First case index (default 0): replays run `--from K --cases 1`. */
  from?: number;
  only?: readonly FuzzFamily[];
  /** A case's time limit in its child (default 15 s); the supervisor waits hardMarginMs more before killing it. */
  timeoutMs?: number;
  onCase?: (record: CaseRecord) => void;
  /** Extra environment for the children (the fuzz test's FITPRUNE_FUZZ_SELFTEST). */
  env?: Record<string, string>;
  /** How long past a case's own limit a silent child is given before it is killed (default 10 s). */
  hardMarginMs?: number;
}

export type ClassCounts = Record<OutcomeClass, number>;

export interface FuzzReport {
  seed: number;
  cases: number;
  from: number;
  ms: number;
  counts: ClassCounts;
  byFamily: Partial<Record<FuzzFamily, ClassCounts>>;
  /** Every case whose outcome is not clear or accepted. */
  findings: CaseRecord[];
  /** Child processes started (1 + one per crash or hang). */
  children: number;
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const RUN_TS = `${root}scripts/run-ts.mjs`;
const CHILD = `${root}tools/fuzz/child.ts`;

const zero = (): ClassCounts => Object.fromEntries(OUTCOME_CLASSES.map((c) => [c, 0])) as ClassCounts;

export function failingCount(report: Pick<FuzzReport, 'counts'>): number {
  return FAILING_CLASSES.reduce((s, c) => s + report.counts[c], 0);
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const from = o.from ?? 0;
  const end = from + o.cases;
  const timeoutMs = o.timeoutMs ?? 15000;
  const report: FuzzReport = { seed: o.seed, cases: o.cases, from, ms: 0, counts: zero(), byFamily: {}, findings: [], children: 0 };
  const t0 = performance.now();
  const record = (r: CaseRecord) => {
    report.counts[r.class]++;
    (report.byFamily[r.family] ??= zero())[r.class]++;
    if (r.class !== 'clear' && r.class !== 'accepted') report.findings.push(r);
    o.onCase?.(r);
  };
  let next = from;
  while (next < end) {
    report.children++;
    next = await runChild(next, end, o, timeoutMs, record);
  }
  report.ms = performance.now() - t0;
  return report;
}

/** One child from case `start`; resolves with the index to continue at. */
function runChild(start: number, end: number, o: FuzzOptions, timeoutMs: number, record: (r: CaseRecord) => void): Promise<number> {
  const margin = o.hardMarginMs ?? 10000;
  const args = [CHILD, '--seed', String(o.seed), '--from', String(start), '--to', String(end), '--timeout', String(timeoutMs)];
  if (o.only?.length) args.push('--only', o.only.join(','));
  const child: ChildProcess = fork(RUN_TS, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], cwd: root, env: { ...process.env, ...o.env } });
  let stderrTail = '';
  child.stderr?.on('data', (d: Buffer) => {
    // Dawn's notes about limits it lowers are printed by every process: not news about a case.
    const text = d.toString().split('\n').filter((l) => !/artificially reduced/.test(l)).join('\n');
    stderrTail = (stderrTail + text).slice(-2000);
  });
  child.stdout?.on('data', () => undefined);
  let running: { index: number; family: FuzzFamily; name: string; t0: number } | null = null;
  let next = start;
  let ready = false;
  let killedForHang = false;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      killedForHang = true;
      child.kill('SIGKILL');
    }, timeoutMs + margin + (ready ? 0 : 60000));
  };
  arm();
  return new Promise((resolve, reject) => {
    child.on('message', (m: ChildMessage) => {
      arm();
      if (m.type === 'ready') ready = true;
      else if (m.type === 'start') running = { index: m.index, family: m.family, name: m.name, t0: performance.now() };
      else if (m.type === 'done') {
        running = null;
        next = m.index + 1;
        record({ index: m.index, family: m.family, name: m.name, class: m.class, detail: m.detail, ms: m.ms });
      } else if (m.type === 'crash' && running) {
        const r: { index: number; family: FuzzFamily; name: string; t0: number } = running;
        running = null;
        next = r.index + 1;
        record({ index: r.index, family: r.family, name: r.name, class: 'crash', detail: m.detail, ms: performance.now() - r.t0 });
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (running) {
        const r: { index: number; family: FuzzFamily; name: string; t0: number } = running;
        next = r.index + 1;
        const how = killedForHang ? `no answer for ${timeoutMs + margin} ms: killed` : `the process exited (${signal ?? `code ${code}`})`;
        record({ index: r.index, family: r.family, name: r.name, class: killedForHang ? 'hang' : 'crash', detail: `${how}; stderr: ${stderrTail.slice(-600)}`, ms: performance.now() - r.t0 });
        resolve(next);
      } else if (next === start && code !== 0) {
        // No case finished: the child cannot start (or dies between cases); retrying would loop.
        reject(new Error(`the fuzz child ${ready ? 'died before its first case' : 'did not start'} (${signal ?? `code ${code}`}): ${stderrTail.slice(-1500)}`));
      } else if (next < end && code === 0) {
        reject(new Error(`the fuzz child stopped at case ${next} of ${end} without saying why`));
      } else resolve(next);
    });
  });
}

export { FUZZ_FAMILIES };
