/**
 * npm run fuzz -- [--cases N] [--seed S] [--only family,…] [--from K] [--timeout MS] [--json] [--verbose]
 *
 * A seeded fuzz campaign over what a user or a server can hand the runtime: safetensors files,
 * config.json, tokenizer / processor / chat-template files, recipes, JSONL data sets and
 * generate requests (tools/fuzz/cases/). Each case is judged clear / unclear / crash / hang /
 * silent / refused / accepted (tools/fuzz/classify.ts). Prints counts per family and class and
 * every finding (with the index to replay it: --from K --cases 1 --verbose); --json prints
 * the report as JSON. Exits 1 when any case crashed, hung, was silently accepted or wrongly refused.
 */
import { parseArgs } from 'node:util';
import { FUZZ_FAMILIES, type FuzzFamily } from './fuzz/case';
import { FAILING_CLASSES, OUTCOME_CLASSES } from './fuzz/classify';
import { failingCount, runFuzz, type FuzzReport } from './fuzz/supervisor';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000' },
    seed: { type: 'string' },
    from: { type: 'string', default: '0' },
    only: { type: 'string' },
    timeout: { type: 'string', default: '15000' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});

function int(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}

const cases = int('cases', values.cases, 1);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : int('seed', values.seed, 0);
const only = values.only?.split(',').map((f) => f.trim()) as FuzzFamily[] | undefined;
for (const f of only ?? []) {
  if (!FUZZ_FAMILIES.includes(f)) {
    console.error(`--only: unknown family "${f}" (${FUZZ_FAMILIES.join(', ')})`);
    process.exit(2);
  }
}

let done = 0;
const report = await runFuzz({
  cases,
  seed,
  from: int('from', values.from, 0),
  only,
  timeoutMs: int('timeout', values.timeout, 100),
  onCase(r) {
    done++;
    if (values.verbose) console.error(`#${r.index} ${r.family} ${r.class} (${r.ms.toFixed(0)} ms) ${r.name}${r.detail ? `\n    ${r.detail}` : ''}`);
    else if (!values.json && done % 100 === 0) console.error(`${done}/${cases} cases`);
  },
});

if (values.json) console.log(JSON.stringify(report, null, 2));
else console.log(table(report));
process.exit(failingCount(report) > 0 ? 1 : 0);

function table(r: FuzzReport): string {
  const head = ['family', ...OUTCOME_CLASSES, 'total'];
  const rows: string[][] = [];
  for (const f of FUZZ_FAMILIES) {
    const c = r.byFamily[f];
    if (!c) continue;
    rows.push([f, ...OUTCOME_CLASSES.map((k) => String(c[k])), String(OUTCOME_CLASSES.reduce((s, k) => s + c[k], 0))]);
  }
  rows.push(['total', ...OUTCOME_CLASSES.map((k) => String(r.counts[k])), String(r.cases)]);
  const lines = [`fuzz: seed ${r.seed}, cases ${r.from}..${r.from + r.cases - 1}, ${(r.ms / 1000).toFixed(1)} s, ${r.children} child process(es)`, '', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)];
  const shown = r.findings.slice(0, 40);
  if (shown.length) {
    lines.push('', `findings (${r.findings.length}; replay one with --seed ${r.seed} --from K --cases 1 --verbose):`);
    for (const f of shown) lines.push(`  #${f.index} [${f.class}] ${f.family}: ${f.name}\n      ${f.detail}`);
  }
  const failing = failingCount(r);
  lines.push('', failing ? `FAIL: ${failing} case(s) in ${FAILING_CLASSES.join('/')}` : `ok: 0 ${FAILING_CLASSES.join(', ')}`);
  return lines.join('\n');
}
