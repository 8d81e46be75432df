/**
 * Fuzz cases for JSONL data sets on disk, as the Node CLIs (calibrate, eval) read them: a JSONL
 * and its images are written into a fresh folder, loaded with tools/data.ts `loadDataset`,
 * every item's image is decoded (toRgb, as a request would) and one item's question is asked.
 * A clear refusal names the JSONL (and its line) or the image file it is about.
 */
import { mkdir, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toRgb } from '../../../src/preprocess/image-input';
import { Rng } from '../../../src/util/random';
import { encodePng } from '../../png';
import { loadDataset } from '../../data';
import { FUZZ_ARCHS, pick, type CaseGenerator, type Expectation, type FuzzArch, type FuzzCase } from '../case';

const JSONL = 'data.jsonl';
const utf8 = new TextEncoder();

/** What a case writes: the JSONL's bytes, image files (name → bytes) and symlinks (name → target). */
interface Layout {
  jsonl: Uint8Array | string;
  files?: Record<string, Uint8Array | string>;
  /** Link name → target; a target starting with "@out/" is a file outside the data set's folder. */
  links?: Record<string, string>;
  /** Make this name a folder instead of a file. */
  dirs?: string[];
  /** Files grown (sparsely: NUL bytes, no disk used) to this many bytes after writing. */
  sizes?: Record<string, number>;
  /** loadDataset's limit. */
  limit?: number;
}

function png(rng: Rng, width = 24, height = 20): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = rng.int(0, 256);
  return encodePng(rgb, width, height);
}

/** A 1×1 PNG whose IHDR is rewritten to claim width×height (the CRC fixed so only the size is wrong). */
function pngClaiming(width: number, height: number): Uint8Array {
  const out = encodePng(new Uint8Array(3), 1, 1).slice();
  const view = new DataView(out.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  let c = 0xffffffff;
  for (const b of out.subarray(12, 29)) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  view.setUint32(29, (c ^ 0xffffffff) >>> 0);
  return out;
}

const line = (o: unknown) => JSON.stringify(o);
const item = (image: unknown, question: unknown = 'What color is it?', extra: Record<string, unknown> = {}) => line({ image, question, ...extra });

function datasetCase(arch: FuzzArch, name: string, expect: Expectation, mentions: readonly string[], layout: Layout): FuzzCase {
  return {
    family: 'dataset',
    name: `${arch}: ${name}`,
    expect,
    mentions,
    async run(env) {
      const root = await env.tmpDir();
      const dir = join(root, 'set');
      await mkdir(dir, { recursive: true });
      await writeFile(join(root, 'secret.png'), png(new Rng(1)));
      for (const [file, bytes] of Object.entries(layout.files ?? {})) {
        await mkdir(join(dir, file, '..'), { recursive: true });
        await writeFile(join(dir, file), bytes);
      }
      for (const d of layout.dirs ?? []) await mkdir(join(dir, d), { recursive: true });
      for (const [link, target] of Object.entries(layout.links ?? {})) {
        await symlink(target.startsWith('@out/') ? join(root, target.slice(5)) : target, join(dir, link));
      }
      if (!layout.dirs?.includes(JSONL)) await writeFile(join(dir, JSONL), layout.jsonl);
      for (const [file, size] of Object.entries(layout.sizes ?? {})) await truncate(join(dir, file), size);
      const items = await loadDataset(join(dir, JSONL), layout.limit);
      if (items.length === 0) throw new Error('fuzz: loadDataset returned no items');
      for (const it of items) await toRgb(it.blob);
      const first = items[0]!;
      const result = await env.ask(arch, { ...env.defaultRequest(arch), prompt: first.question, image: first.blob });
      return { result };
    },
  };
}

export const datasetCases: CaseGenerator = {
  family: 'dataset',
  weight: 1.5,
  make(rng) {
    const arch = pick(rng, FUZZ_ARCHS);
    const img = png(rng);
    const ok = { 'a.png': img, 'img/b.png': png(rng, 8, 30) };
    const two = `${item('a.png', 'What is it?', { answer: 'red' })}\n${item('img/b.png', 'And this?')}\n`;
    const c = (name: string, expect: Expectation, mentions: readonly string[], layout: Layout) => () => datasetCase(arch, name, expect, mentions, layout);
    const bad = (name: string, mentions: readonly string[], layout: Layout) => c(name, 'refuse', mentions, layout);
    /** A refusal of line 2's image path, which must name the JSONL and the line. */
    const badPath = (name: string, image: string) => bad(`image path ${name}`, [`${JSONL}:2`], { jsonl: `${item('a.png')}\n${item(image)}\n`, files: ok });
    const variants: (() => FuzzCase)[] = [
      // Harmless variations.
      c('two items, trailing newline', 'accept', [], { jsonl: two, files: ok }),
      c('no trailing newline', 'accept', [], { jsonl: two.trimEnd(), files: ok }),
      c('CRLF line endings', 'accept', [], { jsonl: two.replace(/\n/g, '\r\n'), files: ok }),
      c('blank and whitespace-only lines between items', 'accept', [], { jsonl: `\n  \n${item('a.png')}\n\t\n\r\n${item('img/b.png')}\n\n`, files: ok }),
      c('a UTF-8 byte-order mark', 'accept', [], { jsonl: `\ufeff${two}`, files: ok }),
      c('extra fields', 'accept', [], { jsonl: `${item('a.png', 'q?', { id: 7, meta: { x: [1, 2] }, answer: 'x', type: 'color' })}\n`, files: ok }),
      c('unicode question and file name', 'accept', [], { jsonl: `${item('图 ünï.png', 'Qué color tiene? 🎨')}\n`, files: { '图 ünï.png': img } }),
      c('"./a.png" and "img/../a.png"', 'accept', [], { jsonl: `${item('./a.png')}\n${item('img/../a.png')}\n`, files: ok }),
      c('a symlink inside the folder', 'accept', [], { jsonl: `${item('alias/b.png')}\n`, files: ok, links: { alias: 'img' } }),
      c('an upper-case .PNG, a .jpg name holding a PNG', 'accept', [], { jsonl: `${item('A.PNG')}\n${item('x.jpg')}\n`, files: { 'A.PNG': img, 'x.jpg': img } }),
      c('a 1×1 image', 'accept', [], { jsonl: `${item('one.png')}\n`, files: { 'one.png': png(rng, 1, 1) } }),
      c('limit 1 of two items', 'accept', [], { jsonl: two, files: ok, limit: 1 }),
      c('a 200,000-character question', 'either', ['question', 'prompt', 'positions'], { jsonl: `${item('a.png', 'why '.repeat(50_000))}\n`, files: ok }),
      c('a 2,000,000-character line (extra field)', 'either', [JSONL], { jsonl: `${item('a.png', 'q?', { pad: 'x'.repeat(2_000_000) })}\n`, files: ok }),
      // The JSONL itself.
      bad('an empty file', [JSONL], { jsonl: '' }),
      bad('only blank lines', [JSONL], { jsonl: '\n \n\t\n\r\n' }),
      bad('a byte-order mark only', [JSONL], { jsonl: '\ufeff\n' }),
      bad('invalid JSON on line 2', [`${JSONL}:2`], { jsonl: `${item('a.png')}\n{"image": "a.png", "question": \n`, files: ok }),
      bad('a truncated last line', [`${JSONL}:2`], { jsonl: `${item('a.png')}\n${item('a.png').slice(0, 20)}`, files: ok }),
      bad('a JSON array line', [`${JSONL}:1`], { jsonl: '["a.png", "q?"]\n', files: ok }),
      bad('a JSON null line', [`${JSONL}:1`], { jsonl: 'null\n', files: ok }),
      bad('a JSON number line', [`${JSONL}:1`], { jsonl: '42\n', files: ok }),
      bad('a JSON string line', [`${JSONL}:1`], { jsonl: '"a.png"\n', files: ok }),
      bad('a JSON array of items on one line', [`${JSONL}:1`], { jsonl: `[${item('a.png')}]\n`, files: ok }),
      bad('non-UTF-8 bytes (Latin-1 é)', [JSONL, 'utf-8'], { jsonl: Uint8Array.from([...utf8.encode('{"image":"a.png","question":"caf'), 0xe9, ...utf8.encode('?"}\n')]), files: ok }),
      bad('UTF-16 text', [JSONL, 'utf-8', 'json'], { jsonl: new Uint8Array(Uint16Array.from(`\ufeff${item('a.png')}\n`, (ch) => ch.charCodeAt(0)).buffer), files: ok }),
      bad('random bytes', [JSONL], { jsonl: Uint8Array.from({ length: 300 }, () => rng.int(0, 256)), files: ok }),
      bad('"image" missing', [`${JSONL}:1`, 'image'], { jsonl: `${line({ question: 'q?' })}\n`, files: ok }),
      bad('"image" a number', [`${JSONL}:1`, 'image'], { jsonl: `${item(7)}\n`, files: ok }),
      bad('"image" empty', [`${JSONL}:1`, 'image'], { jsonl: `${item('')}\n`, files: ok }),
      bad('"image" a list', [`${JSONL}:1`, 'image'], { jsonl: `${item(['a.png'])}\n`, files: ok }),
      bad('"question" missing', [`${JSONL}:1`, 'question'], { jsonl: `${line({ image: 'a.png' })}\n`, files: ok }),
      bad('"question" a number', [`${JSONL}:1`, 'question'], { jsonl: `${item('a.png', 3)}\n`, files: ok }),
      bad('"question" empty', [`${JSONL}:1`, 'question'], { jsonl: `${item('a.png', '')}\n`, files: ok }),
      bad('"question" null', [`${JSONL}:1`, 'question'], { jsonl: `${item('a.png', null)}\n`, files: ok }),
      bad('"answer" a number', [`${JSONL}:1`, 'answer'], { jsonl: `${item('a.png', 'q?', { answer: 2 })}\n`, files: ok }),
      bad('"type" an object', [`${JSONL}:1`, 'type'], { jsonl: `${item('a.png', 'q?', { type: { a: 1 } })}\n`, files: ok }),
      bad('the JSONL is a folder', [JSONL], { jsonl: '', dirs: [JSONL] }),
      bad('limit -1', ['limit'], { jsonl: two, files: ok, limit: -1 }),
      bad('limit NaN (from --limit abc)', ['limit'], { jsonl: two, files: ok, limit: Number.NaN }),
      bad('limit 1.5', ['limit'], { jsonl: two, files: ok, limit: 1.5 }),
      c('limit 0', 'either', ['limit'], { jsonl: two, files: ok, limit: 0 }),
      // Image paths.
      badPath('absolute', '/etc/passwd'),
      badPath('"../secret.png"', '../secret.png'),
      badPath('"img/../../secret.png"', 'img/../../secret.png'),
      badPath('"%2e%2e/secret.png"', '%2e%2e/secret.png'),
      badPath('"%2E%2e/%2e%2E/x.png"', '%2E%2e/%2e%2E/x.png'),
      badPath('with backslashes', '..\\secret.png'),
      badPath('with a NUL', 'a.png\u0000.txt'),
      badPath('"file:///etc/passwd"', 'file:///etc/passwd'),
      badPath('"https://evil.example/x.png"', 'https://evil.example/x.png'),
      badPath('"data:image/png;base64,AAAA"', 'data:image/png;base64,AAAA'),
      badPath('"//evil.example/x.png"', '//evil.example/x.png'),
      badPath('"C:/Windows/win.ini"', 'C:/Windows/win.ini'),
      badPath('"./" (no file)', './'),
      badPath('"img/.." (the folder itself)', 'img/..'),
      bad('a symlink out of the folder', ['link.png', 'outside'], { jsonl: `${item('link.png')}\n`, files: ok, links: { 'link.png': '@out/secret.png' } }),
      bad('a symlinked folder out of the folder', ['up/secret.png', 'outside'], { jsonl: `${item('up/secret.png')}\n`, files: ok, links: { up: '..' } }),
      bad('a dangling symlink', ['gone.png'], { jsonl: `${item('gone.png')}\n`, files: ok, links: { 'gone.png': '@out/nothing.png' } }),
      // Image files.
      bad('a missing image', ['nope.png'], { jsonl: `${item('a.png')}\n${item('nope.png')}\n`, files: ok }),
      bad('an image that is a folder', ['img'], { jsonl: `${item('img')}\n`, files: ok }),
      bad('a 0-byte image', ['empty.png'], { jsonl: `${item('empty.png')}\n`, files: { 'empty.png': new Uint8Array(0) } }),
      bad('a text file as image', ['notes.png'], { jsonl: `${item('notes.png')}\n`, files: { 'notes.png': 'this is not a picture' } }),
      bad('random bytes as image', ['noise.png'], { jsonl: `${item('noise.png')}\n`, files: { 'noise.png': Uint8Array.from({ length: 500 }, () => rng.int(0, 256)) } }),
      bad('the JSONL itself as image', [JSONL], { jsonl: `${item(JSONL)}\n` }),
      bad('a truncated PNG', ['cut.png'], { jsonl: `${item('cut.png')}\n`, files: { 'cut.png': img.subarray(0, rng.int(8, img.length - 12)) } }),
      bad('a PNG signature only', ['sig.png'], { jsonl: `${item('sig.png')}\n`, files: { 'sig.png': img.subarray(0, 8) } }),
      bad('a PNG header claiming 100000×100000', ['huge.png'], { jsonl: `${item('huge.png')}\n`, files: { 'huge.png': pngClaiming(100000, 100000) } }),
      bad('a PNG header claiming 16000×16000', ['big.png'], { jsonl: `${item('big.png')}\n`, files: { 'big.png': pngClaiming(16000, 16000) } }),
      bad('a PNG header claiming 0×20', ['zero.png'], { jsonl: `${item('zero.png')}\n`, files: { 'zero.png': pngClaiming(0, 20) } }),
      bad('a PNG with a corrupt IDAT', ['bad.png'], {
        jsonl: `${item('bad.png')}\n`,
        files: {
          'bad.png': ((): Uint8Array => {
            const b = img.slice();
            for (let i = 41; i < b.length - 16; i += 3) b[i] ^= 0x5a;
            return b;
          })(),
        },
      }),
      bad('a JPEG header claiming 65535×65535', ['huge.jpg'], {
        jsonl: `${item('huge.jpg')}\n`,
        files: { 'huge.jpg': Uint8Array.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0xff, 0xff, 0xff, 0xff, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xd9]) },
      }),
      bad('a 65 MiB image file', ['big.png', 'bytes'], { jsonl: `${item('big.png')}\n`, files: { 'big.png': img }, sizes: { 'big.png': 65 * 2 ** 20 } }),
      bad('a 33 MiB JSONL', [JSONL, 'bytes'], { jsonl: `${item('a.png')}\n`, files: ok, sizes: { [JSONL]: 33 * 2 ** 20 } }),
      bad('the second of three images missing', ['c.png'], { jsonl: `${item('a.png')}\n${item('c.png')}\n${item('img/b.png')}\n`, files: ok }),
    ];
    return pick(rng, variants)();
  },
};
