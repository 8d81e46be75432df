/** Fuzz cases for the config family (stub: filled in by its generator's author). */
import type { CaseGenerator } from '../case';

export const configCases: CaseGenerator = {
  family: 'config',
  weight: 0,
  make() {
    throw new Error('fuzz: no config cases yet');
  },
};
