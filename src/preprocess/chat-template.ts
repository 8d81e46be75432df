/**
 * Chat templates, compiled at load and rendered with a budget.
 *
 * transformers.js renders templates with @huggingface/jinja's `Template.render`, which has no
 * step, time or size limit: a template with `range(100000000)` allocates a hundred million
 * values before its loop starts, and three nested `range(1000)` loops run for hours, blocking
 * the worker with no way to abort. Template syntax errors appear only at the first question.
 * So we compile with the same parser (same lexer options as `Template`) when the model loads
 * and render with the same interpreter, but:
 *  - `range()` refuses to make more than MAX_RANGE values;
 *  - every interpreter step (`Interpreter.evaluate`, which every statement and expression goes
 *    through, and `evaluateBlock`, which every loop iteration goes through) is counted: more
 *    than MAX_STEPS steps, or more than MAX_MS milliseconds (checked every 8 steps), stop the
 *    render with a TemplateLimitError. One step does at most one MAX_RANGE-long native loop
 *    (building a loop's items), so the time limit is overshot by milliseconds, not seconds;
 *  - memory is bounded as well as time (issue 25 item 4: a doubling loop or `indent(500000000)`
 *    made the process run out of memory before any time limit): every value a step produces is
 *    checked (a string over MAX_OUTPUT characters, a list over MAX_ITEMS items), the text all
 *    blocks and loop bodies render is counted (at most MAX_RENDERED characters in total, so a
 *    loop cannot accumulate an unbounded prompt from small pieces), and the native string
 *    builders the interpreter calls inside a single step (String#repeat for indent / tojson,
 *    String#replaceAll for replace, Array#join for join and indent) refuse, while a render
 *    runs, to build a result over MAX_OUTPUT characters before allocating it;
 *  - a result longer than MAX_OUTPUT characters is refused.
 * A one-turn prompt of a real chat template (LLaVA, ChatML, SmolVLM, Llama 3, Mistral) takes
 * well under a thousand steps; 200,000 steps take about half a second.
 */
import { Environment, Interpreter, Template } from '@huggingface/jinja';

/** Largest `range()` a template may build. */
export const MAX_RANGE = 10_000;
/** Interpreter steps one render may take. */
export const MAX_STEPS = 200_000;
/** Wall-clock milliseconds one render may take (a backstop for steps that are slow natively). */
export const MAX_MS = 2_000;
/** Characters a rendered prompt may have. */
export const MAX_OUTPUT = 1_000_000;

/** Items a list value may have (range() is capped at MAX_RANGE; concatenation could double it). */
export const MAX_ITEMS = 100_000;
/** Characters all blocks of one render may produce in total (loop bodies included). */
export const MAX_RENDERED = 8 * MAX_OUTPUT;

export class TemplateLimitError extends Error {
  override readonly name = 'TemplateLimitError';
}

export interface CompiledTemplate {
  readonly source: string;
  readonly program: Template['parsed'];
}

/** Parses a template (throws the parser's error on a syntax error). */
export function compileTemplate(source: string): CompiledTemplate {
  return { source, program: new Template(source).parsed };
}

function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  for (const v of [start, stop, step]) if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`range() takes finite numbers, got ${String(v)}`);
  if (step === 0) throw new Error('range() step must not be zero');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > MAX_RANGE) throw new TemplateLimitError(`range() of ${n} values (at most ${MAX_RANGE} allowed)`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(start + i * step);
  return out;
}

/** A runtime value a step produced, refused when it is a string or list over the limits. */
function checkValue<T>(value: T): T {
  const v = (value as { type?: unknown; value?: unknown } | null)?.value;
  if (typeof v === 'string' && v.length > MAX_OUTPUT) throw new TemplateLimitError(`the template built a string of ${v.length} characters (at most ${MAX_OUTPUT})`);
  if (Array.isArray(v) && v.length > MAX_ITEMS) throw new TemplateLimitError(`the template built a list of ${v.length} items (at most ${MAX_ITEMS})`);
  return value;
}

const tooLong = (what: string, n: number) => new TemplateLimitError(`${what} would build a string of ${n} characters (at most ${MAX_OUTPUT})`);

/**
 * Swaps in length-checked versions of the three native builders the interpreter uses to make
 * large strings within one step, and returns the function that puts the originals back. Safe
 * because rendering is synchronous: no other code runs until `restore` (called in a finally).
 */
function boundNativeBuilders(): () => void {
  const { repeat, replaceAll } = String.prototype;
  const { join } = Array.prototype;
  String.prototype.repeat = function (this: string, count: number): string {
    const n = String(this).length * Number(count);
    if (n > MAX_OUTPUT) throw tooLong('repeat', n);
    return repeat.call(this, count);
  };
  String.prototype.replaceAll = function (this: string, pattern: string | RegExp, replacement: unknown): string {
    const source = String(this);
    if (typeof replacement !== 'function') return replaceAll.call(source, pattern, replacement as never);
    let length = source.length;
    const bounded = (...args: unknown[]): string => {
      const out = String((replacement as (...a: unknown[]) => unknown)(...args));
      length += out.length - String(args[0]).length;
      if (length > MAX_OUTPUT) throw tooLong('replace', length);
      return out;
    };
    return replaceAll.call(source, pattern, bounded);
  } as typeof String.prototype.replaceAll;
  Array.prototype.join = function (this: unknown[], separator?: string): string {
    const sep = separator === undefined ? 1 : String(separator).length;
    let n = Math.max(0, this.length - 1) * sep;
    for (let i = 0; i < this.length && n <= MAX_OUTPUT; i++) {
      const x = this[i];
      if (x !== null && x !== undefined) n += String(x).length;
    }
    if (n > MAX_OUTPUT) throw tooLong('join', n);
    return join.call(this, separator);
  };
  return () => {
    String.prototype.repeat = repeat;
    String.prototype.replaceAll = replaceAll;
    Array.prototype.join = join;
  };
}

/** Python strftime for the codes @huggingface/jinja supports (%Y %m %d %b %B %H %M %%). */
function strftimeNow(format: string): string {
  const date = new Date();
  const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));
  return String(format).replace(/%[YmdbBHM%]/g, (t) => {
    switch (t) {
      case '%Y': return String(date.getFullYear());
      case '%m': return pad2(date.getMonth() + 1);
      case '%d': return pad2(date.getDate());
      case '%b': return new Intl.DateTimeFormat(undefined, { month: 'short' }).format(date);
      case '%B': return new Intl.DateTimeFormat(undefined, { month: 'long' }).format(date);
      case '%H': return pad2(date.getHours());
      case '%M': return pad2(date.getMinutes());
      default: return '%';
    }
  });
}

/**
 * Renders like `Template.render(variables)` (the same globals: true/false/none in both cases,
 * raise_exception, range, strftime_now) within the limits above. Throws TemplateLimitError when
 * a limit is hit, and the interpreter's own errors otherwise.
 */
export function renderTemplate(t: CompiledTemplate, variables: Record<string, unknown>, limits: { maxSteps?: number; maxMs?: number } = {}): string {
  const maxSteps = limits.maxSteps ?? MAX_STEPS;
  const maxMs = limits.maxMs ?? MAX_MS;
  const env = new Environment();
  const globals: Record<string, unknown> = {
    false: false, true: true, none: null, False: false, True: true, None: null,
    raise_exception: (message: string) => {
      throw new Error(String(message));
    },
    range: boundedRange,
    strftime_now: strftimeNow,
  };
  for (const [k, v] of Object.entries(globals)) env.set(k, v);
  for (const [k, v] of Object.entries(variables)) if (!(k in globals)) env.set(k, v);
  const interpreter = new Interpreter(env);
  const evaluate = interpreter.evaluate.bind(interpreter);
  const deadline = performance.now() + maxMs;
  let steps = 0;
  const step = () => {
    if (++steps > maxSteps) throw new TemplateLimitError(`rendering took more than ${maxSteps} steps`);
    if ((steps & 7) === 0 && performance.now() > deadline) throw new TemplateLimitError(`rendering took more than ${maxMs} ms`);
  };
  // Every statement and expression the interpreter visits goes through `this.evaluate`, and
  // every loop iteration and if / macro body through `this.evaluateBlock` (private, hence the
  // cast; an empty loop body makes no `evaluate` call, so iterations are counted here).
  interpreter.evaluate = (statement, environment) => {
    step();
    return checkValue(evaluate(statement, environment));
  };
  let rendered = 0;
  const inner = interpreter as unknown as { evaluateBlock?: (...args: unknown[]) => unknown };
  if (typeof inner.evaluateBlock === 'function') {
    const evaluateBlock = inner.evaluateBlock.bind(interpreter);
    inner.evaluateBlock = (...args: unknown[]) => {
      step();
      const block = checkValue(evaluateBlock(...args));
      const text = (block as { value?: unknown } | null)?.value;
      if (typeof text === 'string' && (rendered += text.length) > MAX_RENDERED) {
        throw new TemplateLimitError(`rendering produced more than ${MAX_RENDERED} characters in its blocks and loops`);
      }
      return block;
    };
  }
  let out: unknown;
  const restore = boundNativeBuilders();
  try {
    out = (interpreter.run(t.program) as { value: unknown }).value;
  } catch (e) {
    if (e instanceof RangeError && /call stack/i.test(e.message)) throw new TemplateLimitError('rendering recursed too deeply');
    // V8's own limit (2²⁹ characters) reached by a builder not bounded above.
    if (e instanceof RangeError && /string length/i.test(e.message)) throw new TemplateLimitError(`rendering built a string over ${MAX_OUTPUT} characters`);
    throw e;
  } finally {
    restore();
  }
  if (typeof out !== 'string') throw new Error(`the template rendered a ${typeof out}, not text`);
  if (out.length > MAX_OUTPUT) throw new TemplateLimitError(`the rendered prompt has ${out.length} characters (at most ${MAX_OUTPUT})`);
  return out;
}
