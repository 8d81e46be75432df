// End to end, one model family after another: every tiny checkpoint of test/fixtures/tiny (each
// family's exact Hugging Face layout, default preset) is written to a folder in Node, picked in
// the page as a user picks a model folder, loaded (the status shows the GPU memory estimate
// first), and asked about an own odd-sized non-square PNG unpruned and pruned side by side; the
// heatmap then shows the pruned answer's kept tokens. A folder with an unknown model_type is
// refused with the supported families. The random tiny models answer noise: the test checks the
// flow, the counts and the absence of errors, not the words. Every request stays on the page's
// origin. Screenshots go to test/e2e/artifacts/ (20-… onwards).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TINY_ARCHS } from '../fixtures/tiny';
import { encodePng } from '../../tools/png';
import { foreignRequests, openBrowser, pageHelpers, STEP, withEvidence } from './helpers';

/** An own picture: odd-sized and not square (so tiling, resizing and cropping all matter). */
const IMAGE_W = 97;
const IMAGE_H = 61;
const QUESTION = 'What is in this picture?';
const UNKNOWN_TYPE = 'mystery_vlm';

/** A colourful picture: a gradient with a dark disc and a bright bar, so the heatmap has detail. */
function picture(w: number, h: number): Uint8Array {
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const disc = (x - w * 0.3) ** 2 + (y - h * 0.5) ** 2 < (h * 0.3) ** 2;
      const bar = x > w * 0.6 && x < w * 0.8;
      rgb[i] = disc ? 20 : bar ? 250 : Math.round((255 * x) / w);
      rgb[i + 1] = disc ? 40 : bar ? 220 : Math.round((255 * y) / h);
      rgb[i + 2] = disc ? 160 : bar ? 30 : 128;
    }
  }
  return encodePng(rgb, w, h);
}

function writeFolder(dir: string, files: Map<string, Uint8Array>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
}

interface Family {
  arch: string;
  /** config.json's model_type, and the family the engine picks for it. */
  modelType: string;
  family: string;
  folder: string;
  image: string;
  /** Visual tokens of any image, when the family has a fixed count. */
  imageTokens?: number;
}

declare global {
  interface Window {
    /** Every text #model-status showed since the test last cleared it. */
    __statusLog?: string[];
  }
}

describe('every model family in the page (tiny checkpoints from a picked folder, headless Chromium, software WebGPU)', () => {
  let browser: Browser;
  let page: Page;
  let requests: string[] = [];
  let pageErrors: string[] = [];
  let helpers: ReturnType<typeof pageHelpers>;
  const baseUrl = inject('baseUrl');
  const origin = new URL(baseUrl).origin;
  const root = mkdtempSync(join(tmpdir(), 'fitprune-families-'));
  const t0 = Date.now();
  const log = (msg: string) => console.info(`[e2e families ${((Date.now() - t0) / 1000).toFixed(1)} s] ${msg}`);

  const families: Family[] = Object.entries(TINY_ARCHS).map(([arch, a]) => {
    const files = a.make({});
    const modelType = String((JSON.parse(new TextDecoder().decode(files.get('config.json')!)) as { model_type: unknown }).model_type);
    const folder = join(root, `tiny-${arch}`);
    writeFolder(folder, files);
    const image = join(root, `photo-${arch}.png`);
    writeFileSync(image, picture(IMAGE_W, IMAGE_H));
    // Each family is named by the model_type it accepts (src/models/registry.ts).
    return { arch, modelType, family: modelType, folder, image, imageTokens: a.imageTokens?.(a.defaultPreset) };
  });

  const kv = (dl: string) =>
    page.$$eval(`${dl} dt`, (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent ?? '', (dt.nextElementSibling as HTMLElement | null)?.textContent ?? ''])));

  /** Picks a folder in the model section and loads it; resolves when it is ready or refused. */
  const loadFolder = async (folder: string) => {
    await page.check('#src-folder');
    await page.setInputFiles('#folder-input', folder, { timeout: 10_000 });
    await page.evaluate(() => void (window.__statusLog = []));
    await page.click('#load-btn');
    // Loading also compiles the pipelines (the warm-up answer): slow on SwiftShader.
    await page.waitForFunction(
      () => /^Ready/.test(document.querySelector('#model-status')?.textContent ?? '') || (document.querySelector('#model-error')?.textContent ?? '') !== '',
      null,
      { timeout: 2 * STEP },
    );
    await helpers.waitIdle();
  };

  beforeAll(async () => {
    ({ browser, page, requests, pageErrors } = await openBrowser());
    helpers = pageHelpers(page);
    await page.goto(baseUrl, { timeout: 60_000 });
    await page.waitForSelector('[data-adapter-name]', { timeout: 60_000 });
    // The memory estimate is shown while loading, then replaced by "Ready": keep every text.
    await page.evaluate(() => {
      const status = document.querySelector('#model-status')!;
      window.__statusLog = [];
      new MutationObserver(() => window.__statusLog?.push(status.textContent ?? '')).observe(status, { childList: true, characterData: true, subtree: true });
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses a folder whose config.json has an unknown model_type, naming the supported families', async () => {
    await withEvidence({ page, requests, pageErrors }, '29-failure-unknown', async () => {
      const files = new Map(TINY_ARCHS['llava']!.make({}));
      const config = JSON.parse(new TextDecoder().decode(files.get('config.json')!)) as Record<string, unknown>;
      files.set('config.json', new TextEncoder().encode(JSON.stringify({ ...config, model_type: UNKNOWN_TYPE })));
      const folder = join(root, 'tiny-mystery');
      writeFolder(folder, files);
      await loadFolder(folder);
      const error = (await page.textContent('#model-error')) ?? '';
      expect(error).toMatch(new RegExp(`^Could not load folder tiny-mystery: .*"${UNKNOWN_TYPE}" is not supported`));
      expect(error).toMatch(/supported: llava, llava_next, llava_onevision, idefics3/);
      expect(await page.textContent('#model-status')).not.toMatch(/^Ready/);
      expect(await page.$$eval('#model-info dt', (d) => d.length), 'no model shown').toBe(0);
      await helpers.shot('20-unknown-model-type', '#model-section');
      log(`refused: ${error}`);
    });
  }, 60_000);

  for (const f of families) {
    it(`${f.arch}: loads from a folder, answers an own ${IMAGE_W}×${IMAGE_H} image unpruned and pruned, shows the kept tokens`, async () => {
      await withEvidence({ page, requests, pageErrors }, `29-failure-${f.arch}`, async () => {
        const name = `tiny-${f.arch}`;
        const tLoad = Date.now();
        await loadFolder(f.folder);
        expect(await page.textContent('#model-error')).toBe('');
        expect(await page.textContent('#model-status')).toMatch(new RegExp(`^Ready: .*${name}`));
        // Before any weight was read: the family and what the GPU will hold.
        const statuses = (await page.evaluate(() => window.__statusLog ?? [])).filter((s) => s.startsWith(`Loading folder ${name}: `));
        expect(statuses.join('\n'), 'memory estimate shown while loading').toMatch(
          new RegExp(`^Loading folder ${name}: ${f.family} model, [\\d.]+ [KMG]?i?B of weights on the GPU \\([\\d.]+ [KMG]?i?B to read; largest tensor [\\d.]+ [KMG]?i?B, adapter limit [\\d.]+ [KMG]?i?B per buffer\\)`, 'm'),
        );
        const info = await kv('#model-info');
        expect(info['type']).toMatch(new RegExp(`^${f.modelType} \\(\\w+ decoder, \\w+ tower\\)$`));
        if (f.imageTokens) expect(info['visual tokens']).toMatch(new RegExp(`^${f.imageTokens} per image`));
        else expect(info['visual tokens']).toMatch(/more or fewer with the image's size and shape \(tiles\)/);
        const layers = Number(/^(\d+) layers/.exec(info['language model'] ?? '')?.[1]);
        expect(layers).toBeGreaterThan(0);
        await helpers.shot(`2${families.indexOf(f) + 1}-${f.arch}-model`, '#model-section');
        log(`${f.arch}: loaded and warmed up in ${((Date.now() - tLoad) / 1000).toFixed(1)} s (${info['type']}; ${info['visual tokens']})`);

        // An own image, picked as a file.
        const imageName = `photo-${f.arch}.png`;
        await page.setInputFiles('#image-file', f.image, { timeout: 10_000 });
        await page.waitForFunction((n) => (document.querySelector('#grid-caption')?.textContent ?? '').startsWith(n), `${imageName}: ${IMAGE_W}×${IMAGE_H} px`, { timeout: 10_000 });
        await page.fill('#question', QUESTION);
        await page.fill('#max-tokens', '4');

        // The pruned side: FastV (no recipe). A model with too few layers for FastV at K = 2
        // (LLaVA's tiny preset has 2) gets a FitPrune recipe calibrated in the page instead.
        await page.selectOption('#policy', 'fastv');
        let policy = 'FastV';
        if (layers <= 2) {
          expect(await page.textContent('#policy-note')).toMatch(/FastV at K = 2 needs a model with more than 2 layers/);
          await page.fill('#cal-limit', '1');
          await page.click('#cal-run');
          await page.waitForFunction(() => /^Done in/.test(document.querySelector('#cal-progress-text')?.textContent ?? '') || (document.querySelector('#cal-error')?.textContent ?? '') !== '', null, { timeout: STEP });
          await helpers.waitIdle();
          expect(await page.textContent('#cal-error')).toBe('');
          await page.selectOption('#policy', 'fitprune');
          policy = 'FitPrune';
          log(`${f.arch}: ${layers} layers, too few for FastV at K = 2: calibrated a FitPrune recipe on one shipped image`);
        }
        expect(await page.textContent('#policy-note')).toMatch(new RegExp(`^Pruned side: ${policy} `));

        const tAsk = Date.now();
        await page.click('#ask-btn');
        await page.waitForFunction(
          (n) =>
            (document.querySelector('#answer-pruned')?.getAttribute('data-state') === 'done' && (document.querySelector('#see-empty')?.textContent ?? '').includes(`“${n}”`)) ||
            [...document.querySelectorAll('.answer')].some((a) => a.getAttribute('data-state') === 'error') ||
            (document.querySelector('#ask-error')?.textContent ?? '') !== '',
          imageName,
          { timeout: STEP },
        );
        await helpers.waitIdle();
        expect(await page.textContent('#ask-error')).toBe('');
        const states = await page.$$eval('.answer', (as) => as.map((a) => `${(a as HTMLElement).dataset.state}: ${a.querySelector('.answer-text')?.textContent}`));
        expect(states[0], 'unpruned column').toMatch(/^done: /);
        expect(states[1], 'pruned column').toMatch(/^done: /);
        expect(await page.textContent('#answer-pruned .policy-label')).toMatch(new RegExp(`^${policy} `));
        const none = await helpers.metrics('answer-none');
        const pruned = await helpers.metrics('answer-pruned');
        for (const [col, m] of [['unpruned', none], ['pruned', pruned]] as const) {
          for (const k of ['ttft', 'prefill', 'decode', 'kept', 'flops-ref', 'flops-arch']) expect(Number.isFinite(m[k]), `${col} ${k} = ${m[k]}`).toBe(true);
          expect(m.ttft, `${col} time to first token`).toBeGreaterThan(0);
        }
        if (f.imageTokens) expect(none.kept).toBe(f.imageTokens);
        expect(none.kept).toBeGreaterThan(0);
        expect(none['flops-ref']).toBe(1);
        expect(pruned.kept, 'pruned keeps fewer visual tokens').toBeLessThan(none.kept!);
        expect(pruned['flops-ref'], 'pruned FLOPs ratio').toBeLessThan(1);
        expect(pruned['flops-ref']).toBeGreaterThan(0);
        expect(pruned['flops-arch']).toBeLessThan(1);
        expect(await page.textContent('#answer-none .metrics')).toMatch(new RegExp(`${none.kept} of ${none.kept} after the last layer`));
        expect(await page.textContent('#answer-pruned .metrics')).toMatch(new RegExp(`${pruned.kept} of ${none.kept} after the last layer`));
        await helpers.shot(`2${families.indexOf(f) + 1}-${f.arch}-answers`, '#ask-section');
        log(`${f.arch}: answered in ${((Date.now() - tAsk) / 1000).toFixed(1)} s; ${none.kept} → ${pruned.kept} visual tokens, ${(pruned['flops-ref']! * 100).toFixed(1)} % of FLOPs (${states.join(' | ')})`);

        // The heatmap: this answer's tokens, one bar per layer, pruned patches dimmed.
        expect(await page.isVisible('#see-body')).toBe(true);
        expect(await page.textContent('#see-empty')).toMatch(new RegExp(`^Kept tokens of the last pruned answer \\(${policy === 'FastV' ? 'fastv' : 'fitprune'}.*\\) to “${imageName}”`));
        expect(await page.$$eval('#kept-chart svg rect', (r) => r.length)).toBe(layers);
        const heatmapAt = async (layer: number) => {
          await page.$eval('#layer-slider', (s, l) => {
            (s as HTMLInputElement).value = String(l);
            s.dispatchEvent(new Event('input'));
          }, layer);
          const pixels = await page.$eval('#heatmap', (c) => {
            const canvas = c as HTMLCanvasElement;
            return Array.from(canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data);
          });
          return { text: (await page.textContent('#layer-text')) ?? '', pixels };
        };
        const input = await heatmapAt(0);
        expect(input.text).toMatch(new RegExp(`^Input to layer 1: ${none.kept} of ${none.kept} visual tokens kept`));
        const last = await heatmapAt(layers);
        expect(last.text).toMatch(new RegExp(`^After layer ${layers} of ${layers}: ${pruned.kept} of ${none.kept} visual tokens kept`));
        const colours = new Set<number>();
        let changed = 0;
        for (let i = 0; i < last.pixels.length; i += 4) {
          colours.add((last.pixels[i]! << 16) | (last.pixels[i + 1]! << 8) | last.pixels[i + 2]!);
          if (last.pixels[i] !== input.pixels[i] || last.pixels[i + 1] !== input.pixels[i + 1] || last.pixels[i + 2] !== input.pixels[i + 2]) changed++;
        }
        expect(colours.size, 'heatmap drawn').toBeGreaterThan(8);
        expect(changed, 'pruned patches dimmed on the heatmap').toBeGreaterThan(0);
        await helpers.shot(`2${families.indexOf(f) + 1}-${f.arch}-heatmap`, '#see-section');
        log(`${f.arch}: heatmap ${last.text}`);

        expect(foreignRequests(requests, origin), 'requests outside the page origin').toEqual([]);
        expect(pageErrors, 'page errors').toEqual([]);
      });
    }, 300_000);
  }
});
