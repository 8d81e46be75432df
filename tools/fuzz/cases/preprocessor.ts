/** Fuzz cases for the preprocessor family (stub: filled in by its generator's author). */
import type { CaseGenerator } from '../case';

export const preprocessorCases: CaseGenerator = {
  family: 'preprocessor',
  weight: 0,
  make() {
    throw new Error('fuzz: no preprocessor cases yet');
  },
};
