// End to end: the production build served by `vite preview`, driven in headless Chromium on
// SwiftShader (software WebGPU). Loads the embedded demo model, asks about a shipped sample
// (unpruned and pruned answers), calibrates at 50 %, downloads and re-uploads the recipe,
// checks the heatmap and the metrics, stops a generation mid-way and asks again. Every
// request must stay on the page's own origin. Screenshots go to test/e2e/artifacts/.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isCorrect } from '../../src/prune/dataset';
import { chromiumArgs, chromiumPath } from '../../vitest.config';

/**
 * SWITCH ON WHEN THE TRAINED DEMO WEIGHTS LAND. public/models/fitprune-demo/ holds random
 * placeholder weights for now (same config and tokenizer), whose answers are noise; with the
 * trained weights the unpruned answer (and the pruned one at 50 %) must match the sample's
 * expected answer. Until then the test checks the answers are non-empty strings.
 */
const EXPECT_CORRECT_ANSWERS = false;

const ARTIFACTS = join(process.cwd(), 'test', 'e2e', 'artifacts');
// SwiftShader has no GPU watchdog: every wait below has its own timeout.
const STEP = 180_000;

describe('the page (production build, headless Chromium, software WebGPU)', () => {
  let browser: Browser;
  let page: Page;
  const baseUrl = inject('baseUrl');
  const origin = new URL(baseUrl).origin;
  const requests: string[] = [];
  const pageErrors: string[] = [];
  const t0 = Date.now();
  const log = (msg: string) => console.info(`[e2e ${((Date.now() - t0) / 1000).toFixed(1)} s] ${msg}`);

  /** A section's screenshot (or the viewport's), for a person to look at. */
  const shot = async (name: string, section?: string) => {
    const path = join(ARTIFACTS, `${name}.png`);
    if (section) await page.locator(section).screenshot({ path, timeout: 30_000 });
    else await page.screenshot({ path, timeout: 30_000 });
  };
  const metrics = (col: string) =>
    page.$$eval(`#${col} .metrics dd[data-metric]`, (dds) => Object.fromEntries(dds.map((d) => [(d as HTMLElement).dataset.metric!, Number((d as HTMLElement).dataset.value)])));
  const answer = (col: string) => page.$eval(`#${col} .answer-text`, (e) => e.textContent ?? '');
  const waitIdle = () => page.waitForFunction(() => !document.querySelector('#job-status')?.classList.contains('busy'), null, { timeout: STEP });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true, timeout: 60_000 });
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1366, height: 900 } });
    // Context-level events also see the worker's fetches (model files, wasm).
    context.on('request', (r) => void requests.push(r.url()));
    page = await context.newPage();
    page.setDefaultTimeout(STEP);
    page.on('pageerror', (e) => void pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('shows what to enable when the browser has no WebGPU', async () => {
    const bare = await page.context().newPage();
    try {
      // As in a browser without WebGPU: navigator.gpu does not exist.
      await bare.addInitScript(() => void delete (Navigator.prototype as { gpu?: unknown }).gpu);
      await bare.goto(baseUrl, { timeout: 60_000 });
      await bare.waitForSelector('#no-webgpu:not([hidden])', { timeout: 30_000 });
      expect(await bare.isHidden('#app')).toBe(true);
      const text = await bare.textContent('#no-webgpu', { timeout: 5_000 });
      expect(text).toMatch(/navigator\.gpu is missing/);
      expect(text).toMatch(/Chrome or Edge 113/);
      expect(text).toMatch(/enable-unsafe-webgpu/);
      await bare.screenshot({ path: join(ARTIFACTS, '00-no-webgpu.png'), timeout: 30_000 });
    } finally {
      await bare.close();
    }
  }, 90_000);

  it('loads the demo model, answers, calibrates, shows the heatmap, stops and answers again, all on its own origin', async () => {
    try {
      await flow();
    } catch (e) {
      // Leave evidence for whoever reads the log: the statuses and a picture of the page.
      const statuses = await page
        .$$eval('#job-status, #model-status, #model-error, #ask-error, #cal-progress-text, #cal-error, #recipe-error, #eval-progress-text, #eval-error', (els) => els.map((el) => `${el.id}: ${el.textContent}`))
        .catch(() => []);
      console.error(`e2e failed; page state:\n${statuses.join('\n')}\npage errors: ${pageErrors.join('; ')}`);
      await page.screenshot({ path: join(ARTIFACTS, '99-failure.png'), fullPage: true, timeout: 30_000 }).catch(() => undefined);
      throw e;
    }
  }, 480_000);

  async function flow(): Promise<void> {
    await page.goto(baseUrl, { timeout: 60_000 });
    await page.waitForSelector('[data-adapter-name]', { timeout: 60_000 });
    expect(await page.textContent('#adapter-info', { timeout: 5_000 })).toMatch(/shader-f16: (yes|no)/);
    await shot('01-start');
    log('page up, adapter shown');

    // 1. Load the embedded demo model (preselected).
    expect(await page.isChecked('#src-demo')).toBe(true);
    // Keyboard only: focus the button and press Enter (real buttons, no click handlers on divs).
    await page.focus('#load-btn', { timeout: 5_000 });
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /^Ready/.test(document.querySelector('#model-status')?.textContent ?? ''), null, { timeout: 180_000 });
    expect(await page.textContent('#model-info')).toMatch(/196 per image \(14×14 patches/);
    const overall = await page.$eval('#load-overall', (p) => (p as HTMLProgressElement).value);
    expect(overall).toBe(1);
    expect(await page.$$eval('#load-files tr', (rows) => rows.length)).toBeGreaterThan(0);
    await shot('02-model-loaded', '#model-section');
    log('model loaded and warmed up');

    // 2. Ask about a shipped sample: unpruned and FastV (no recipe yet).
    await page.click('[data-sample="samples/scene-1.png"]');
    await page.waitForSelector('#suggested button', { timeout: 30_000 });
    const first = page.locator('#suggested button').first();
    const expected = (await first.getAttribute('data-answer', { timeout: 5_000 })) ?? '';
    await first.click();
    await page.selectOption('#policy', 'fastv');
    await page.fill('#max-tokens', '8');
    await page.focus('#question', { timeout: 5_000 });
    await page.keyboard.press('Control+Enter'); // asks from the question field
    await page.waitForSelector('#answer-pruned[data-state="done"]', { timeout: STEP });
    await waitIdle();
    const checkAnswers = async (label: string) => {
      for (const col of ['answer-none', 'answer-pruned']) {
        const text = (await answer(col)).trim();
        expect(text.length, `${label} ${col} answer`).toBeGreaterThan(0);
        if (EXPECT_CORRECT_ANSWERS) expect(isCorrect(text, expected), `${label} ${col}: "${text}" vs "${expected}"`).toBe(true);
        const m = await metrics(col);
        for (const k of ['ttft', 'prefill', 'decode', 'kept', 'flops-ref', 'flops-arch']) expect(Number.isFinite(m[k]), `${label} ${col} ${k} = ${m[k]}`).toBe(true);
        expect(m.ttft).toBeGreaterThan(0);
        // The page scores a sample's suggested question against its expected answer.
        expect([0, 1], `${label} ${col} expected-answer row`).toContain(m.correct);
        if (EXPECT_CORRECT_ANSWERS) expect(m.correct, `${label} ${col} marked correct`).toBe(1);
      }
      const none = await metrics('answer-none');
      const pruned = await metrics('answer-pruned');
      expect(none['flops-ref']).toBe(1);
      expect(none.kept).toBe(196);
      expect(pruned['flops-ref']).toBeLessThan(1);
      expect(pruned.kept).toBeLessThan(196);
      log(`${label}: unpruned "${await answer('answer-none')}" / pruned "${await answer('answer-pruned')}" (expected "${expected}"); prefill ${none.prefill.toFixed(0)} vs ${pruned.prefill.toFixed(0)} ms`);
    };
    await checkAnswers('FastV');
    await shot('03-answers-fastv', '#ask-section');

    // 4. Calibrate at 50 % on two shipped images.
    await page.fill('#cal-limit', '2');
    expect(await page.inputValue('#cal-budget')).toBe('50');
    await page.click('#cal-run');
    await page.waitForSelector('#cal-progress:not([hidden])', { timeout: 10_000 });
    await page.waitForSelector('#recipe-facts', { timeout: 240_000 });
    await waitIdle();
    await shot('04-recipe', '#calibrate-section');
    log('calibrated');

    // Download the recipe and validate it.
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('#recipe-download')]);
    const recipePath = join(ARTIFACTS, download.suggestedFilename());
    await download.saveAs(recipePath);
    const recipe = JSON.parse(readFileSync(recipePath, 'utf8')) as Record<string, unknown> & {
      counts: number[];
      model: { fingerprint: string; layers: number };
      flops: { reference: { ratio: number }; architecture: { ratio: number } };
      budget: number;
      alpha: number;
      referenceVisualTokens: number;
    };
    expect(recipe.format).toBe('fitprune-web/recipe');
    expect(recipe.version).toBe(1);
    expect(recipe.model.layers).toBe(6);
    expect(recipe.counts).toHaveLength(6);
    expect(recipe.counts.every((k) => Number.isInteger(k) && k >= 0)).toBe(true);
    expect(recipe.referenceVisualTokens).toBe(196);
    expect(recipe.budget).toBeCloseTo(0.5);
    expect(recipe.flops.reference.ratio).toBeLessThanOrEqual(0.5 + 1e-9);
    expect(recipe.flops.architecture.ratio).toBeGreaterThan(0);
    expect(recipe.model.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    expect(Number.isFinite(recipe.alpha)).toBe(true);

    // Upload it back (accepted), and a recipe for another model (refused with the reason).
    const foreign = join(ARTIFACTS, 'foreign-recipe.json');
    writeFileSync(foreign, JSON.stringify({ ...recipe, model: { ...recipe.model, id: 'other/model', fingerprint: 'deadbeef' } }));
    await page.setInputFiles('#recipe-upload', foreign, { timeout: 10_000 });
    await page.waitForFunction(() => /Refused foreign-recipe\.json: .*another model/.test(document.querySelector('#recipe-error')?.textContent ?? ''), null, { timeout: 30_000 });
    await page.setInputFiles('#recipe-upload', recipePath, { timeout: 10_000 });
    await page.waitForFunction((name) => (document.querySelector('#recipe-facts')?.textContent ?? '').includes(`uploaded file ${name}`), download.suggestedFilename(), { timeout: 30_000 });
    expect(await page.textContent('#recipe-error')).toBe('');
    log('recipe downloaded, refused for another model, uploaded back');

    // 2 + 3. Ask with FitPrune (the uploaded recipe): answers, metrics, heatmap.
    await page.selectOption('#policy', 'fitprune');
    await page.click('#ask-btn');
    await page.waitForSelector('#answer-pruned[data-state="done"]', { timeout: STEP });
    await waitIdle();
    await checkAnswers('FitPrune');
    const pruned = await metrics('answer-pruned');
    expect(pruned['flops-ref']).toBeCloseTo(recipe.flops.reference.ratio, 6);
    const colours = await page.$eval('#heatmap', (c) => {
      const canvas = c as HTMLCanvasElement;
      const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < d.length; i += 4) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
      return seen.size;
    });
    expect(colours).toBeGreaterThan(8);
    expect(await page.$$eval('#kept-chart svg rect', (r) => r.length)).toBe(6);
    // The slider walks the layers: the last one shows the tokens the recipe leaves.
    await page.$eval('#layer-slider', (s) => {
      (s as HTMLInputElement).value = '6';
      s.dispatchEvent(new Event('input'));
    });
    expect(await page.textContent('#layer-text')).toMatch(/After layer 6 of 6: \d+ of 196/);
    await shot('05-answers-fitprune', '#ask-section');
    await shot('06-heatmap', '#see-section');
    log(`heatmap drawn (${colours} colours)`);

    // Stop a generation mid-way (while the unpruned side is still in its prefill: trained
    // answers are a word or two, too short to catch mid-decode), then ask again.
    await page.fill('#max-tokens', '64');
    await page.click('#ask-btn');
    await page.waitForSelector('#answer-none[data-state="pending"]', { timeout: 10_000 });
    await page.waitForTimeout(500); // let the request reach the worker
    await page.keyboard.press('Escape'); // the Stop button's shortcut
    await waitIdle();
    const states = await page.$$eval('.answer', (as) => as.map((a) => `${(a as HTMLElement).dataset.state}: ${a.querySelector('.answer-text')?.textContent}`));
    log(`after stop: ${states.join(' | ')}`);
    expect(states[0]).toMatch(/^stopped: |^error: Stopped before the first token\.$/);
    expect(states[1]).toBe('error: Not run: stopped.');
    if (states[0]!.startsWith('stopped')) expect(await page.textContent('#answer-none .metrics')).toMatch(/stopped by you/);
    await shot('07-stopped', '#ask-section');
    await page.fill('#max-tokens', '8');
    await page.click('#ask-btn');
    await page.waitForSelector('#answer-pruned[data-state="done"]', { timeout: STEP });
    await waitIdle();
    await checkAnswers('after stop');

    // 5. A small evaluation (no calibration: unpruned and FastV on two items), table, chart, CSV.
    await page.fill('#eval-limit', '2');
    await page.fill('#eval-budgets', '50');
    await page.fill('#eval-max-tokens', '4');
    await page.uncheck('#eval-fitprune');
    await page.uncheck('#eval-random');
    await page.click('#eval-run');
    await page.waitForFunction(() => /^Done/.test(document.querySelector('#eval-progress-text')?.textContent ?? ''), null, { timeout: STEP });
    await waitIdle();
    expect(await page.$$eval('#eval-table tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.kind))).toEqual(['none', 'fastv']);
    expect(await page.$$eval('#eval-chart svg circle', (c) => c.length)).toBe(2);
    const [csvDownload] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('#eval-csv')]);
    const csvPath = join(ARTIFACTS, csvDownload.suggestedFilename());
    await csvDownload.saveAs(csvPath);
    const [head, ...lines] = readFileSync(csvPath, 'utf8').trim().split('\n');
    expect(head).toMatch(/^policy,policy_detail,budget_flops_kept,items,accuracy,.*flops_kept_reference,flops_kept_architecture,mean_prefill_ms$/);
    expect(lines).toHaveLength(2);
    const cols = head!.split(',');
    for (const line of lines) {
      const cells = line.split(',');
      for (const c of ['accuracy', 'flops_kept_reference', 'flops_kept_architecture', 'mean_prefill_ms']) expect(Number.isFinite(Number(cells[cols.indexOf(c)])), `${c} in ${line}`).toBe(true);
    }
    expect(Number(lines[1]!.split(',')[cols.indexOf('flops_kept_reference')])).toBeLessThanOrEqual(0.5 + 1e-9);
    await shot('08-evaluate', '#evaluate-section');
    log('evaluation table, chart and CSV');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(ARTIFACTS, '09-full-page.png'), fullPage: true, timeout: 30_000 });

    // Nothing left the page's origin (data: and blob: URLs are local).
    const foreignRequests = requests.filter((u) => !/^(data|blob):/.test(u) && new URL(u).origin !== origin);
    expect(foreignRequests, 'requests outside the page origin').toEqual([]);
    expect(pageErrors, 'page errors').toEqual([]);
    log(`done: ${requests.length} requests, all on ${origin}`);
  }
});
