/** Fuzz cases for the dataset family (stub: filled in by its generator's author). */
import type { CaseGenerator } from '../case';

export const datasetCases: CaseGenerator = {
  family: 'dataset',
  weight: 0,
  make() {
    throw new Error('fuzz: no dataset cases yet');
  },
};
