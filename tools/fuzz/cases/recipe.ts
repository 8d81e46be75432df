/** Fuzz cases for the recipe family (stub: filled in by its generator's author). */
import type { CaseGenerator } from '../case';

export const recipeCases: CaseGenerator = {
  family: 'recipe',
  weight: 0,
  make() {
    throw new Error('fuzz: no recipe cases yet');
  },
};
