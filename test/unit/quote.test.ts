// How refusals quote values (src/util/quote.ts): the same everywhere, never a crash.
import { describe, expect, it } from 'vitest';
import { describeValue, quoteValue } from '../../src/util/quote';

describe('quoteValue', () => {
  it('shows NaN and Infinity as such (JSON would say null), undefined as missing, strings quoted', () => {
    expect(quoteValue([1, NaN, -Infinity])).toBe('[1,NaN,-Infinity]');
    expect(quoteValue(undefined)).toBe('missing');
    expect(quoteValue('half')).toBe('"half"');
    expect(quoteValue(Infinity)).toBe('Infinity');
  });

  it('cuts long values to the given length and survives 10^5 levels of nesting', () => {
    expect(quoteValue('x'.repeat(500), 20)).toBe(`"${'x'.repeat(16)}…`);
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(quoteValue(deep)).toBe('a deeply nested array');
  });
});

describe('describeValue', () => {
  it('names the kind of a wrongly typed value', () => {
    expect([describeValue([1, 2]), describeValue({}), describeValue(new Uint8Array(2)), describeValue(() => 0), describeValue(null), describeValue('3')]).toEqual([
      'an array of 2',
      'an object',
      'a Uint8Array',
      'a function',
      'null',
      '"3"',
    ]);
  });
});
