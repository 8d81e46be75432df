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

describe('data-set image paths stay inside the data set (issue 25)', () => {
  it('parseJsonl refuses absolute paths, schemes, hosts, backslashes and ".." above the folder, naming the line', () => {
    const line = (image: string) => `{"image":${JSON.stringify(image)},"question":"q?"}`;
    const cases: [string, RegExp][] = [
      ['../../etc/passwd', /climbs out of the JSONL's folder with "\.\."/],
      ['a/../../b.png', /climbs out/],
      ['%2e%2e/%2E%2E/x.png', /climbs out/],
      ['/etc/passwd', /is absolute/],
      ['//evil.example/x.png', /is absolute \(or names a host\)/],
      ['https://evil.example/x.png', /has a scheme or drive/],
      ['file:///etc/passwd', /has a scheme or drive/],
      ['data:image/png;base64,AAAA', /has a scheme or drive/],
      ['C:/Windows/win.ini', /has a scheme or drive/],
      ['..\\..\\secret.png', /contains a backslash/],
      ['a.png\u0000.txt', /contains a NUL character/],
      ['./', /names no file/],
    ];
    for (const [image, why] of cases) {
      let message = '';
      try {
        parseJsonl(`${line('ok.png')}\n${line(image)}`, 'eval.jsonl');
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message.startsWith(`eval.jsonl:2: "image" ${JSON.stringify(image)} `), `${image}: ${message}`).toBe(true);
      expect(message, image).toMatch(why);
    }
    expect(parseJsonl(`${line('calib/0000.png')}\n${line('./a/../b.png')}`).map((i) => i.image)).toEqual(['calib/0000.png', './a/../b.png']);
  });
});

describe('the CLI reads images only inside the data set folder', () => {
  it('refuses ../../etc/passwd, an absolute path and a symlink out of the folder; reads the rest', async () => {
    const { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadDataset } = await import('../../tools/data');
    const { encodePng } = await import('../../tools/png');
    const root = mkdtempSync(join(tmpdir(), 'fitprune-data-'));
    const dir = join(root, 'set');
    mkdirSync(join(dir, 'img'), { recursive: true });
    // Real (1×1) PNGs: loadDataset reads each image's header and refuses non-images.
    const inside = encodePng(Uint8Array.from([1, 2, 3]), 1, 1);
    writeFileSync(join(root, 'secret.png'), encodePng(Uint8Array.from([9, 9, 9]), 1, 1));
    writeFileSync(join(dir, 'img', 'a.png'), inside);
    symlinkSync(join(root, 'secret.png'), join(dir, 'img', 'link.png'));
    symlinkSync(join(dir, 'img'), join(dir, 'alias')); // a link inside the folder is fine
    const write = (name: string, images: string[]) => {
      writeFileSync(join(dir, name), images.map((image) => JSON.stringify({ image, question: 'q?' })).join('\n'));
      return join(dir, name);
    };
    const ok = await loadDataset(write('ok.jsonl', ['img/a.png', './img/../img/a.png', 'alias/a.png']));
    for (const item of ok) expect(new Uint8Array(await item.blob.arrayBuffer())).toEqual(inside);
    await expect(loadDataset(write('up.jsonl', ['img/a.png', '../../etc/passwd']))).rejects.toThrow(/up\.jsonl:2: "image" "\.\.\/\.\.\/etc\/passwd" climbs out of the JSONL's folder/);
    await expect(loadDataset(write('abs.jsonl', ['/etc/passwd']))).rejects.toThrow(/abs\.jsonl:1: "image" "\/etc\/passwd" is absolute/);
    await expect(loadDataset(write('up1.jsonl', ['../secret.png']))).rejects.toThrow(/climbs out/);
    await expect(loadDataset(write('link.jsonl', ['img/link.png']))).rejects.toThrow(
      /link\.jsonl: image img\/link\.png resolves to .*secret\.png, outside the data set's folder .*set \(a symlink out of it\?\); images must be inside it/,
    );
    await expect(loadDataset(write('missing.jsonl', ['img/nope.png']))).rejects.toThrow(/missing\.jsonl: image img\/nope\.png not found/);
  });
});

describe('the page fetches data-set images only from the data set’s origin and folder', () => {
  it('datasetImageUrl keeps images under the JSONL’s folder on its origin, whatever the URL parser makes of the path', async () => {
    const { datasetImageUrl } = await import('../../src/app/data');
    const list = 'http://localhost:5173/data/shapes/eval.jsonl';
    expect(datasetImageUrl('eval/0001.png', list, 'eval.jsonl')).toBe('http://localhost:5173/data/shapes/eval/0001.png');
    expect(() => datasetImageUrl('https://evil.example/x.png', list, 'eval.jsonl')).toThrow(/eval\.jsonl: "image" "https:\/\/evil\.example\/x\.png" has a scheme/);
    // The URL parser drops leading spaces and tabs anywhere: caught on the resolved URL.
    expect(() => datasetImageUrl(' //evil.example/x.png', list, 'eval.jsonl')).toThrow(
      /eval\.jsonl: "image" " \/\/evil\.example\/x\.png" resolves to https?:\/\/evil\.example\/x\.png, outside the data set's folder http:\/\/localhost:5173\/data\/shapes\//,
    );
    expect(() => datasetImageUrl('.\t./.\t./models/m/config.json', list, 'eval.jsonl')).toThrow(/resolves to http:\/\/localhost:5173\/models\/m\/config\.json, outside the data set's folder/);
  });

  it('a served JSONL pointing elsewhere is refused before any image is fetched', async () => {
    const { loadUrlDataset } = await import('../../src/app/data');
    const fetched: string[] = [];
    const served: Record<string, string> = {
      'http://localhost:5173/data/shapes/evil.jsonl': `${JSON.stringify({ image: 'eval/0000.png', question: 'q?' })}\n${JSON.stringify({ image: 'https://evil.example/track.png', question: 'q?' })}`,
      'http://localhost:5173/data/shapes/sneaky.jsonl': JSON.stringify({ image: ' //evil.example/track.png', question: 'q?' }),
    };
    const { vi } = await import('vitest');
    vi.stubGlobal('location', { href: 'http://localhost:5173/', origin: 'http://localhost:5173' });
    vi.stubGlobal('fetch', async (url: string) => {
      fetched.push(String(url));
      const body = served[String(url)];
      return body !== undefined ? new Response(body) : new Response(new Blob([new Uint8Array(4)]));
    });
    try {
      await expect(loadUrlDataset('data/shapes/evil.jsonl', 10)).rejects.toThrow(/data\/shapes\/evil\.jsonl:2: "image" "https:\/\/evil\.example\/track\.png" has a scheme/);
      await expect(loadUrlDataset('data/shapes/sneaky.jsonl', 10)).rejects.toThrow(/data\/shapes\/sneaky\.jsonl item 1: "image" .* resolves to https?:\/\/evil\.example\/track\.png, outside the data set's folder/);
      expect(fetched.every((u) => u.startsWith('http://localhost:5173/data/shapes/'))).toBe(true);
      expect(fetched.some((u) => u.includes('evil.example'))).toBe(false);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('picked files: a JSONL path climbing out of the picked folder is refused, not matched by name', async () => {
    const { filesDataset } = await import('../../src/app/data');
    const jsonl = new File([JSON.stringify({ image: '../other/secret.png', question: 'q?' })], 'set.jsonl');
    const image = new File([new Uint8Array(4)], 'secret.png', { type: 'image/png' });
    await expect(filesDataset([jsonl, image], 10)).rejects.toThrow(/set\.jsonl:1: "image" "\.\.\/other\/secret\.png" climbs out of the JSONL's folder/);
  });
});

// Found by the fuzzer (issue 20, dataset family): each hostile file is refused naming the JSONL
// (and line) or the image file, and the harmless variations load.
describe('data sets: what the fuzzer found', () => {
  const line = (image: string, question = 'q?') => JSON.stringify({ image, question });

  it('a UTF-8 byte-order mark and CRLF line endings are harmless', () => {
    expect(parseJsonl(`\ufeff${line('a.png')}\r\n${line('b.png')}\r\n`).map((i) => i.image)).toEqual(['a.png', 'b.png']);
    expect(() => parseJsonl('\ufeff\n', 'e.jsonl')).toThrow(/e\.jsonl: no items/);
  });

  it('a line that is JSON but not an object is refused naming the line', () => {
    for (const [text, what] of [['["a.png", "q?"]', 'an array'], ['null', 'null'], ['42', 'number'], ['"a.png"', 'string']] as const) {
      expect(() => parseJsonl(`${line('a.png')}\n${text}`, 'e.jsonl')).toThrow(new RegExp(`e\\.jsonl:2: each line must be a JSON object \\{"image": …, "question": …\\}; got ${what}`));
    }
  });

  it('invalid UTF-8 is refused naming the line (a Latin-1 "é" was read as U+FFFD, changing the question)', async () => {
    const { decodeJsonl } = await import('../../src/data/dataset');
    const enc = new TextEncoder();
    const bytes = Uint8Array.from([...enc.encode(`${line('a.png')}\n{"image":"b.png","question":"caf`), 0xe9, ...enc.encode('?"}\n')]);
    expect(() => decodeJsonl(bytes, 'e.jsonl')).toThrow(/e\.jsonl:2: not valid UTF-8 text \(save the JSONL as UTF-8\)/);
    expect(decodeJsonl(enc.encode('{"question":"Qué? 🎨"}'))).toBe('{"question":"Qué? 🎨"}');
  });

  it('loadDataset refuses a bad limit, and images that are empty, not images, or claim 100000×100000 pixels, naming the file', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadDataset } = await import('../../tools/data');
    const { encodePng } = await import('../../tools/png');
    const dir = mkdtempSync(join(tmpdir(), 'fitprune-data-'));
    const png = encodePng(Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => i), 4, 3);
    const huge = png.slice();
    new DataView(huge.buffer).setUint32(16, 100000);
    new DataView(huge.buffer).setUint32(20, 100000);
    const files: Record<string, Uint8Array | string> = { 'ok.png': png, 'empty.png': new Uint8Array(0), 'notes.png': 'not a picture', 'huge.png': huge, 'cut.png': png.subarray(0, png.length - 20) };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
    const write = (images: string[]) => {
      writeFileSync(join(dir, 'set.jsonl'), images.map((image) => line(image)).join('\n'));
      return join(dir, 'set.jsonl');
    };
    const two = write(['ok.png', 'ok.png']);
    for (const bad of [-1, 0, 1.5, Number.NaN]) {
      await expect(loadDataset(two, bad)).rejects.toThrow(new RegExp(`the data set's item limit \\(--limit\\) must be a positive integer; got ${bad}`));
    }
    expect(await loadDataset(two, 1)).toHaveLength(1);
    await expect(loadDataset(write(['ok.png', 'empty.png']))).rejects.toThrow(/set\.jsonl: image empty\.png cannot be decoded: it is empty \(0 bytes\)/);
    await expect(loadDataset(write(['notes.png']))).rejects.toThrow(/set\.jsonl: image notes\.png cannot be decoded: it is not a PNG, JPEG, WebP, GIF or BMP file/);
    await expect(loadDataset(write(['huge.png']))).rejects.toThrow(/set\.jsonl: image huge\.png is a PNG whose header says it is 100000×100000 = 10000000000 pixels; at most 67108864 \(8192×8192\) are accepted \(refused before decoding\)/);
    await expect(loadDataset(join(dir, 'nope.jsonl'))).rejects.toThrow(/cannot read .*nope\.jsonl \(ENOENT\)/);
    // Files over the caps are refused before they are read (sparse files: no disk used).
    const { truncateSync } = await import('node:fs');
    writeFileSync(join(dir, 'big.png'), png);
    truncateSync(join(dir, 'big.png'), 64 * 2 ** 20 + 1);
    await expect(loadDataset(write(['big.png']))).rejects.toThrow(/set\.jsonl: image big\.png is 67108865 bytes; an image file may have at most 67108864 \(64 MiB\)/);
    truncateSync(join(dir, 'set.jsonl'), 32 * 2 ** 20 + 1);
    await expect(loadDataset(join(dir, 'set.jsonl'))).rejects.toThrow(/set\.jsonl is 33554433 bytes; a data set's JSONL may have at most 33554432 \(32 MiB\)/);
    // A truncated PNG has a good header: it loads, and decoding it names the file.
    const [cut] = await loadDataset(write(['cut.png']));
    const { toRgb } = await import('../../src/preprocess/image-input');
    await expect(toRgb(cut!.blob)).rejects.toThrow(/the image "cut\.png" \(a \d+-byte Blob\) cannot be decoded as the 4×3 PNG its header says/);
  });
});
