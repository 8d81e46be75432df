/**
 * How error messages show the values they refuse, so every refusal reads the same way:
 * "missing" for an absent field, NaN and ±Infinity as such (JSON would print null), long values
 * cut with "…".
 */

/** A JSON-like value, quoted: `"x"`, `[1,2]`, `{"a":1}`, `NaN`; at most `max` characters. */
export function quoteValue(v: unknown, max = 60): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'number') return String(v);
  let s: string;
  try {
    s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? `<${x}>` : x)) ?? String(v);
    s = s.replace(/"<(NaN|-?Infinity)>"/g, '$1');
  } catch {
    // Too deep to stringify (a hostile file can nest 10^5 levels) or cyclic: say what it is.
    s = Array.isArray(v) ? 'a deeply nested array' : typeof v === 'object' && v !== null ? 'a deeply nested object' : typeof v;
  }
  return s.length > max ? `${s.slice(0, max - 3)}…` : s;
}

/** What kind of value a field got, for fields whose type is wrong: `"x"`, `3`, `an array of 2`, `a Blob`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}…` : v);
  if (typeof v === 'function') return 'a function';
  const tag = Object.prototype.toString.call(v).slice(8, -1);
  return Array.isArray(v) ? `an array of ${v.length}` : tag === 'Object' ? 'an object' : `a ${tag}`;
}
