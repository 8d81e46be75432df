/** Fuzz cases for generate requests: prompts, images and options a caller can pass. */
import type { GenerateRequest } from '../../../src/engine/engine';
import { FUZZ_ARCHS, pick, type CaseGenerator, type FuzzArch, type FuzzCase, type Expectation } from '../case';

function requestCase(arch: FuzzArch, name: string, expect: Expectation, mentions: readonly string[], edit: (r: GenerateRequest) => GenerateRequest): FuzzCase {
  return {
    family: 'request',
    name: `${arch}: ${name}`,
    expect,
    mentions,
    async run(env) {
      const result = await env.ask(arch, edit(env.defaultRequest(arch)));
      return { result };
    },
  };
}

export const requestCases: CaseGenerator = {
  family: 'request',
  weight: 1,
  make(rng) {
    const arch = pick(rng, FUZZ_ARCHS);
    const variants: (() => FuzzCase)[] = [
      () => requestCase(arch, 'empty prompt', 'either', ['prompt'], (r) => ({ ...r, prompt: '' })),
      () => requestCase(arch, 'maxNewTokens -1', 'refuse', ['maxNewTokens'], (r) => ({ ...r, maxNewTokens: -1 })),
    ];
    return pick(rng, variants)();
  },
};
