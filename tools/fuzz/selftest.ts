/**
 * Cases that misbehave on purpose, so the fuzz test can check the supervisor counts a crash,
 * a hang (async and a synchronous loop) and an escaped rejection rather than dying with them.
 * Used only when FITPRUNE_FUZZ_SELFTEST is set in a child's environment.
 */
import type { FuzzCase } from './case';

const KINDS = ['exit', 'async-hang', 'sync-hang', 'escaped-rejection', 'clear'] as const;

export function selfTestCase(index: number): FuzzCase {
  const kind = KINDS[index % KINDS.length]!;
  return {
    family: 'request',
    name: `self-test: ${kind}`,
    expect: 'refuse',
    mentions: ['self-test'],
    async run() {
      if (kind === 'exit') process.exit(9);
      if (kind === 'async-hang') await new Promise(() => undefined);
      if (kind === 'sync-hang') for (;;);
      if (kind === 'escaped-rejection') void Promise.reject(new Error('escaped'));
      await new Promise((r) => setTimeout(r, 50));
      throw new Error('self-test: a clear refusal');
    },
  };
}
