/**
 * Checks a generate request's own fields (not the model-dependent ones: image token count,
 * positions, vocabulary) before any work, so a wrong value is refused by name rather than
 * failing deep in the KV cache or the sampler.
 */
import type { GenerateRequest } from './engine';

export class RequestError extends Error {
  override readonly name = 'RequestError';
}

/** Most new tokens one request may ask for (the model's positions bound it further). */
export const MAX_NEW_TOKENS_LIMIT = 1 << 20;

export function checkGenerateRequest(request: GenerateRequest): void {
  if (typeof request !== 'object' || request === null) throw new RequestError(`a generate request must be an object, got ${request === null ? 'null' : typeof request}`);
  if (typeof request.prompt !== 'string') throw new RequestError(`request.prompt must be a string, got ${typeof request.prompt}`);
  const n = request.maxNewTokens;
  if (n !== undefined && (!Number.isSafeInteger(n) || n < 1 || n > MAX_NEW_TOKENS_LIMIT)) {
    throw new RequestError(`request.maxNewTokens must be an integer in [1, ${MAX_NEW_TOKENS_LIMIT}], got ${JSON.stringify(n) ?? String(n)}`);
  }
}
