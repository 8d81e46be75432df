/** Fuzz cases for the safetensors family (stub: filled in by its generator's author). */
import type { CaseGenerator } from '../case';

export const safetensorsCases: CaseGenerator = {
  family: 'safetensors',
  weight: 0,
  make() {
    throw new Error('fuzz: no safetensors cases yet');
  },
};
