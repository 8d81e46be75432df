/**
 * Checks a generate request's own fields (not the model-dependent ones: image token count,
 * positions, vocabulary, FastV's K below the layer count) before any work, so a wrong value is
 * refused by name and range rather than failing deep in the KV cache, the sampler or a hook, or
 * (worse) being read as something else: `stop: "x"` iterated as characters, `rawPrompt: "yes"`
 * taken as true, `image: null` answered as a text-only question, a NaN temperature as greedy.
 */
import { checkPruningPolicy } from '../prune/policies';
import type { GenerateRequest } from './engine';
import { checkSamplingOptions } from './sampler';
import { describeValue } from '../util/quote';

export class RequestError extends Error {
  override readonly name = 'RequestError';
}

/** Most new tokens one request may ask for (the model's positions bound it further). */
export const MAX_NEW_TOKENS_LIMIT = 1 << 20;
/**
 * Longest prompt, in characters. No model has more than 2^20 positions (config.json is refused
 * above that) and tokenizing many megabytes takes seconds that cannot be aborted, so a prompt
 * this long could never run and is refused before it is tokenized.
 */
export const MAX_PROMPT_CHARS = 1 << 22;
/** Most stop strings, and the longest one (each is searched for after every token). */
export const MAX_STOP_STRINGS = 1024;
export const MAX_STOP_CHARS = 1 << 16;

const HOOK_METHODS = ['wantsRowStats', 'afterAttention', 'afterLayer'] as const;


function optionalBoolean(request: GenerateRequest, field: 'rawPrompt' | 'recordKeptIndices'): void {
  const v: unknown = request[field];
  if (v !== undefined && typeof v !== 'boolean') throw new RequestError(`request.${field} must be true, false or left out; got ${describeValue(v)}`);
}

export function checkGenerateRequest(request: GenerateRequest): void {
  if (typeof request !== 'object' || request === null) throw new RequestError(`a generate request must be an object, got ${request === null ? 'null' : typeof request}`);
  const prompt: unknown = request.prompt;
  if (typeof prompt !== 'string') throw new RequestError(`request.prompt must be a string, got ${describeValue(prompt)}`);
  if (prompt.length > MAX_PROMPT_CHARS) {
    throw new RequestError(`request.prompt is ${prompt.length} characters long; at most ${MAX_PROMPT_CHARS} are accepted (no model has positions for more)`);
  }
  optionalBoolean(request, 'rawPrompt');
  optionalBoolean(request, 'recordKeptIndices');
  const n = request.maxNewTokens;
  if (n !== undefined && (!Number.isSafeInteger(n) || n < 1 || n > MAX_NEW_TOKENS_LIMIT)) {
    throw new RequestError(`request.maxNewTokens must be an integer in [1, ${MAX_NEW_TOKENS_LIMIT}], got ${JSON.stringify(n) ?? String(n)}`);
  }
  // null is not "no image": a caller whose image failed to load must not get a text-only answer.
  const image: unknown = request.image;
  if (image !== undefined && (typeof image !== 'object' || image === null)) {
    throw new RequestError(`request.image must be an image (a RawImage, a Blob or { data, width, height, channels? }) or left out for a text-only question; got ${describeValue(image)}`);
  }
  if (request.sampling !== undefined) checkSamplingOptions(request.sampling, 'request.sampling');
  checkStop(request.stop);
  checkSignal(request.signal);
  checkHooks(request.hooks);
  if (request.pruning !== undefined) checkPruningPolicy(request.pruning);
  if (request.hooks && request.pruning && request.pruning.kind !== 'none') {
    throw new RequestError('pass either request.pruning or request.hooks, not both (a pruning policy is itself a set of decoder hooks)');
  }
}

function checkStop(stop: unknown): void {
  if (stop === undefined) return;
  if (!Array.isArray(stop)) throw new RequestError(`request.stop must be a list of strings; got ${describeValue(stop)}`);
  if (stop.length > MAX_STOP_STRINGS) throw new RequestError(`request.stop has ${stop.length} strings; at most ${MAX_STOP_STRINGS} are accepted`);
  stop.forEach((s: unknown, i) => {
    if (typeof s !== 'string') throw new RequestError(`request.stop[${i}] must be a string; got ${describeValue(s)}`);
    if (s.length > MAX_STOP_CHARS) throw new RequestError(`request.stop[${i}] is ${s.length} characters long; at most ${MAX_STOP_CHARS} are accepted`);
  });
}

function checkSignal(signal: unknown): void {
  if (signal === undefined || signal === null) return;
  const s = signal as Partial<AbortSignal>;
  if (typeof signal !== 'object' || typeof s.aborted !== 'boolean' || typeof s.throwIfAborted !== 'function') {
    throw new RequestError(`request.signal must be an AbortSignal (AbortController().signal) or left out; got ${describeValue(signal)}`);
  }
}

function checkHooks(hooks: unknown): void {
  if (hooks === undefined || hooks === null) return;
  if (typeof hooks !== 'object') throw new RequestError(`request.hooks must be an object of decoder hooks (${HOOK_METHODS.join(', ')}) or null; got ${describeValue(hooks)}`);
  const h = hooks as Record<string, unknown>;
  for (const m of HOOK_METHODS) {
    if (h[m] !== undefined && typeof h[m] !== 'function') throw new RequestError(`request.hooks.${m} must be a function or left out; got ${describeValue(h[m])}`);
  }
}
