import { describe, expect, it } from 'vitest';
import { isCorrect, normalizeAnswer, parseJsonl } from '../../src/data/dataset';

describe('datasets', () => {
  it('parses JSONL and says which line is wrong', () => {
    const items = parseJsonl('{"image":"a.png","question":"q?","answer":"Red","type":"color"}\n\n{"image":"b.png","question":"n?"}\n');
    expect(items).toHaveLength(2);
    expect(items[1]!.answer).toBeUndefined();
    expect(() => parseJsonl('{"image":"a.png","question":"q"}\n{"question":"x"}', 'eval.jsonl')).toThrow(/eval\.jsonl:2: "image" must be a path string/);
    expect(() => parseJsonl('{oops', 'e.jsonl')).toThrow(/e\.jsonl:1: not valid JSON/);
  });

  it('scores exact match after lower-casing and trimming whitespace and trailing punctuation', () => {
    expect(normalizeAnswer('  Red.  ')).toBe('red');
    expect(isCorrect('Two!', 'two')).toBe(true);
    expect(isCorrect('two apples', 'two')).toBe(false);
  });
});
