/**
 * Calibration and evaluation data: JSONL, one object a line,
 *   {"image": "<path relative to the JSONL>", "question": "…", "answer": "…", "type": "<optional>"}
 * and exact-match scoring after lower-casing and trimming whitespace and trailing punctuation.
 */
export interface DataItem {
  image: string;
  question: string;
  answer?: string;
  type?: string;
}

export class DatasetError extends Error {
  override readonly name = 'DatasetError';
}

export function parseJsonl(text: string, file = 'data.jsonl'): DataItem[] {
  const items: DataItem[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new DatasetError(`${file}:${i + 1}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    const o = v as Record<string, unknown>;
    if (typeof o?.image !== 'string' || !o.image) throw new DatasetError(`${file}:${i + 1}: "image" must be a path string`);
    if (typeof o.question !== 'string' || !o.question) throw new DatasetError(`${file}:${i + 1}: "question" must be a non-empty string`);
    if (o.answer !== undefined && typeof o.answer !== 'string') throw new DatasetError(`${file}:${i + 1}: "answer" must be a string`);
    if (o.type !== undefined && typeof o.type !== 'string') throw new DatasetError(`${file}:${i + 1}: "type" must be a string`);
    items.push({ image: o.image, question: o.question, answer: o.answer as string | undefined, type: o.type as string | undefined });
  });
  if (items.length === 0) throw new DatasetError(`${file}: no items`);
  return items;
}

export function normalizeAnswer(s: string): string {
  return s.toLowerCase().trim().replace(/[\s.,!?;:]+$/u, '').trim();
}

export function isCorrect(prediction: string, answer: string): boolean {
  return normalizeAnswer(prediction) === normalizeAnswer(answer);
}
