// The fuzzer (issue 20): its supervisor survives cases that kill, hang or leak from their
// process, and a CI-sized seeded campaign over every input family finds no crash, hang,
// silent accept, false refusal or unclear error. `npm run fuzz` runs the full-size campaign.
import { describe, expect, it } from 'vitest';
import { failingCount, runFuzz, type FuzzReport } from '../../tools/fuzz/supervisor';

/** The findings as lines, so a failure shows what to replay. */
function findings(r: FuzzReport): string {
  return r.findings.map((f) => `#${f.index} [${f.class}] ${f.family}: ${f.name}\n    ${f.detail}`).join('\n');
}

describe('fuzz supervisor', () => {
  it('counts a process exit and an escaped rejection as crashes, async and synchronous loops as hangs, and carries on', async () => {
    const r = await runFuzz({ cases: 5, seed: 1, timeoutMs: 1000, hardMarginMs: 3000, env: { FITPRUNE_FUZZ_SELFTEST: '1' } });
    expect(r.findings.map((f) => [f.name, f.class])).toEqual([
      ['self-test: exit', 'crash'],
      ['self-test: async-hang', 'hang'],
      ['self-test: sync-hang', 'hang'],
      ['self-test: escaped-rejection', 'crash'],
    ]);
    expect(r.counts.clear).toBe(1);
    expect(r.children).toBe(5);
  }, 90_000);
});

describe('seeded fuzz campaign', () => {
  // A fixed seed keeps CI reproducible; `npm run fuzz -- --cases 1000 --seed <any>` tries others.
  const seed = Number(process.env['FITPRUNE_FUZZ_SEED'] ?? 20261204);
  it(`300 cases (seed ${seed}): 0 crash, hang, silent accept, false refusal or unclear error`, async () => {
    const r = await runFuzz({ cases: 300, seed });
    const msg = `seed ${seed}: ${JSON.stringify(r.counts)}\n${findings(r)}`;
    expect(failingCount(r), msg).toBe(0);
    expect(r.counts.unclear, msg).toBe(0);
    // The campaign really exercised refusals and acceptances both.
    expect(r.counts.clear, msg).toBeGreaterThan(0);
    expect(r.counts.accepted, msg).toBeGreaterThan(0);
  }, 600_000);
});
