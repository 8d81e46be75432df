/**
 * How a case's outcome is judged. The classes (issue 20):
 *   clear     refused with an error that names the problem (one of the case's `mentions`);
 *   unclear   refused, but the error does not say which file or field (or is a raw TypeError);
 *   crash     the process died, an exception escaped, or WebGPU reported an error / lost the device;
 *   hang      the case ran past its time limit;
 *   silent    wrong input accepted, or a harmless variation answered differently / with NaN logits;
 *   refused   a harmless variation was refused (a false alarm);
 *   accepted  valid input ran and answered sanely.
 * The targets: 0 crash, 0 hang, 0 silent, 0 refused; unclear fixed where found.
 */
import type { Accepted, FuzzCase } from './case';

export const OUTCOME_CLASSES = ['clear', 'unclear', 'crash', 'hang', 'silent', 'refused', 'accepted'] as const;
export type OutcomeClass = (typeof OUTCOME_CLASSES)[number];

/** The classes that fail a run (`unclear` is reported, and fixed where found). */
export const FAILING_CLASSES: readonly OutcomeClass[] = ['crash', 'hang', 'silent', 'refused'];

export interface Outcome {
  class: OutcomeClass;
  /** The error message, or what was wrong with an accepted answer. */
  detail: string;
}

/** Errors a JS engine raises on its own: a bug that leaked, never a message written for a user. */
const RAW_ERRORS = new Set(['TypeError', 'ReferenceError', 'InternalError']);

function errorText(e: unknown): { name: string; message: string } {
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: typeof e, message: String(e) };
}

export function classifyError(c: Pick<FuzzCase, 'expect' | 'mentions'>, error: unknown): Outcome {
  const { name, message } = errorText(error);
  const detail = `${name}: ${message}`.slice(0, 500);
  if (c.expect === 'accept') return { class: 'refused', detail };
  if (RAW_ERRORS.has(name)) return { class: 'unclear', detail };
  const lower = message.toLowerCase();
  const named = c.mentions.length === 0 || c.mentions.some((m) => lower.includes(m.toLowerCase()));
  return { class: named ? 'clear' : 'unclear', detail: named ? detail : `${detail} [names none of: ${c.mentions.join(', ')}]` };
}

export function classifyAccepted(c: Pick<FuzzCase, 'expect'>, accepted: Accepted): Outcome {
  if (c.expect === 'refuse') return { class: 'silent', detail: `accepted${accepted.result ? `; answered ${JSON.stringify(accepted.result.text.slice(0, 60))}` : ''}` };
  const logits = accepted.result?.firstLogits;
  if (logits && logits.some((v) => !Number.isFinite(v))) return { class: 'silent', detail: 'accepted, but the first logits hold NaN or Infinity' };
  if (c.expect === 'accept' && accepted.sameAs && accepted.result) {
    const got = accepted.result.tokens;
    const same = got.length === accepted.sameAs.length && got.every((t, i) => t === accepted.sameAs![i]);
    if (!same) return { class: 'silent', detail: `a harmless variation changed the answer: ${JSON.stringify(got)} instead of ${JSON.stringify(accepted.sameAs)}` };
  }
  return { class: 'accepted', detail: '' };
}
