/** Fuzz cases for the tokenizer family (stub: filled in by its generator's author). */
import type { CaseGenerator } from '../case';

export const tokenizerCases: CaseGenerator = {
  family: 'tokenizer',
  weight: 0,
  make() {
    throw new Error('fuzz: no tokenizer cases yet');
  },
};
