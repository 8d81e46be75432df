/** Fuzz cases for the chat-template family (stub: filled in by its generator's author). */
import type { CaseGenerator } from '../case';

export const chatTemplateCases: CaseGenerator = {
  family: 'chat-template',
  weight: 0,
  make() {
    throw new Error('fuzz: no chat-template cases yet');
  },
};
