/**
 * Calibration and evaluation data: JSONL, one object a line,
 *   {"image": "<path relative to the JSONL>", "question": "…", "answer": "…", "type": "<optional>"}
 * and exact-match scoring after lower-casing and trimming whitespace and trailing punctuation.
 * An image path stays inside the JSONL's folder (imagePathProblem): relative, "/"-separated,
 * no ".." above the folder, no scheme, drive or host; the CLI also checks the real path after
 * symlinks (tools/data.ts) and the page the resolved URL's origin and folder (src/app/data.ts).
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

/**
 * Cap of a data set's JSONL, on disk (tools/data.ts) and fetched by the page (src/app/data.ts):
 * the shipped ones are 8 and 44 KB; 32 MiB is a few hundred thousand lines. Its images are held
 * to MAX_ENCODED_IMAGE_BYTES (src/preprocess/image-input.ts). A larger file is refused before it
 * is read into memory.
 */
export const MAX_DATASET_JSONL_BYTES = 32 * 2 ** 20;

/**
 * A JSONL file's bytes as text: UTF-8 (a leading byte-order mark is dropped by parseJsonl).
 * Invalid UTF-8 is refused naming the line, not replaced by U+FFFD: a Latin-1 "é" in a question
 * or an answer would otherwise change what is asked or scored, silently.
 */
export function decodeJsonl(bytes: Uint8Array, file = 'data.jsonl'): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const strict = new TextDecoder('utf-8', { fatal: true });
    let line = 1;
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i === bytes.length || bytes[i] === 0x0a) {
        try {
          strict.decode(bytes.subarray(start, i));
        } catch {
          break;
        }
        line++;
        start = i + 1;
      }
    }
    throw new DatasetError(`${file}:${line}: not valid UTF-8 text (save the JSONL as UTF-8)`);
  }
}

export function parseJsonl(text: string, file = 'data.jsonl'): DataItem[] {
  const items: DataItem[] = [];
  // Editors on Windows save UTF-8 with a byte-order mark; it is not part of the first line's JSON.
  if (text.startsWith('\ufeff')) text = text.slice(1);
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new DatasetError(`${file}:${i + 1}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new DatasetError(`${file}:${i + 1}: each line must be a JSON object {"image": …, "question": …}; got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
    }
    const o = v as Record<string, unknown>;
    if (typeof o?.image !== 'string' || !o.image) throw new DatasetError(`${file}:${i + 1}: "image" must be a path string`);
    const problem = imagePathProblem(o.image);
    if (problem) throw new DatasetError(`${file}:${i + 1}: "image" ${JSON.stringify(o.image)} ${problem}`);
    if (typeof o.question !== 'string' || !o.question) throw new DatasetError(`${file}:${i + 1}: "question" must be a non-empty string`);
    if (o.answer !== undefined && typeof o.answer !== 'string') throw new DatasetError(`${file}:${i + 1}: "answer" must be a string`);
    if (o.type !== undefined && typeof o.type !== 'string') throw new DatasetError(`${file}:${i + 1}: "type" must be a string`);
    items.push({ image: o.image, question: o.question, answer: o.answer as string | undefined, type: o.type as string | undefined });
  });
  if (items.length === 0) throw new DatasetError(`${file}: no items`);
  return items;
}

/**
 * Why an image path of a data set may not be followed, or null: it must be relative to the
 * JSONL's folder and stay inside it. Refused: absolute paths ("/etc/passwd"), drives and
 * schemes ("C:", "file:", "https:", "data:"), hosts ("//evil.example/x"), backslashes (URLs
 * and Windows read them as "/"), NUL, and ".." (also "%2e%2e", which URLs decode) that climbs
 * above the folder. "a/../b.png" is fine.
 */
export function imagePathProblem(image: string): string | null {
  if (image.includes('\0')) return 'contains a NUL character';
  if (image.includes('\\')) return 'contains a backslash (use "/" between folders)';
  if (image.startsWith('/')) return 'is absolute (or names a host); image paths are relative to the JSONL\'s folder';
  if (/^[a-z][a-z0-9+.-]*:/i.test(image)) return 'has a scheme or drive (e.g. "https:", "file:", "C:"); image paths are relative to the JSONL\'s folder';
  let depth = 0;
  for (const seg of image.split('/')) {
    if (seg === '' || /^(\.|%2e)$/i.test(seg)) continue;
    if (/^(\.|%2e){2}$/i.test(seg)) {
      if (--depth < 0) return 'climbs out of the JSONL\'s folder with ".."; images must be inside it';
    } else depth++;
  }
  if (depth === 0) return 'names no file';
  return null;
}

export function normalizeAnswer(s: string): string {
  return s.toLowerCase().trim().replace(/[\s.,!?;:]+$/u, '').trim();
}

export function isCorrect(prediction: string, answer: string): boolean {
  return normalizeAnswer(prediction) === normalizeAnswer(answer);
}
