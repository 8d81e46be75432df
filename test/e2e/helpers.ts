// Shared by the e2e files: one headless Chromium on SwiftShader with every request and page error
// recorded, the page's answer metrics, screenshots into test/e2e/artifacts/, and the evidence
// (statuses, errors, last requests, a full-page picture) a failed flow leaves in the log.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { chromiumArgs, chromiumPath } from '../../vitest.config';

export const ARTIFACTS = join(process.cwd(), 'test', 'e2e', 'artifacts');

// SwiftShader has no GPU watchdog: every wait has its own timeout.
export const STEP = 180_000;

export interface E2eBrowser {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Every request URL the context made, the engine worker's fetches included. */
  requests: string[];
  /** Uncaught page errors and console errors. */
  pageErrors: string[];
}

export async function openBrowser(): Promise<E2eBrowser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true, timeout: 60_000 });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1366, height: 900 } });
  const requests: string[] = [];
  const pageErrors: string[] = [];
  // Context-level events also see the worker's fetches (model files, wasm).
  context.on('request', (r) => void requests.push(r.url()));
  const page = await context.newPage();
  page.setDefaultTimeout(STEP);
  page.on('pageerror', (e) => void pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
  });
  return { browser, context, page, requests, pageErrors };
}

/** Requests that left the page's origin (data: and blob: URLs are local). */
export function foreignRequests(requests: readonly string[], origin: string): string[] {
  return requests.filter((u) => !/^(data|blob):/.test(u) && new URL(u).origin !== origin);
}

export function pageHelpers(page: Page) {
  return {
    /** A section's screenshot (or the viewport's), for a person to look at. */
    shot: async (name: string, section?: string) => {
      const path = join(ARTIFACTS, `${name}.png`);
      if (section) await page.locator(section).screenshot({ path, timeout: 30_000 });
      else await page.screenshot({ path, timeout: 30_000 });
    },
    /** An answer column's metrics, by data-metric, as numbers. */
    metrics: (col: string) =>
      page.$$eval(`#${col} .metrics dd[data-metric]`, (dds) => Object.fromEntries(dds.map((d) => [(d as HTMLElement).dataset.metric!, Number((d as HTMLElement).dataset.value)]))) as Promise<Record<string, number>>,
    answer: (col: string) => page.$eval(`#${col} .answer-text`, (e) => e.textContent ?? ''),
    waitIdle: () => page.waitForFunction(() => !document.querySelector('#job-status')?.classList.contains('busy'), null, { timeout: STEP }),
  };
}

/** Runs a flow; if it fails, leaves evidence for whoever reads the log: the statuses and a picture. */
export async function withEvidence(b: Pick<E2eBrowser, 'page' | 'requests' | 'pageErrors'>, name: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (e) {
    const statuses = await b.page
      .$$eval('#job-status, #model-status, #model-error, #ask-error, #cal-progress-text, #cal-error, #recipe-error, #eval-progress-text, #eval-error', (els) => els.map((el) => `${el.id}: ${el.textContent}`))
      .catch(() => []);
    console.error(`e2e failed; page state:\n${statuses.join('\n')}\npage errors: ${b.pageErrors.join('; ')}\nlast requests: ${b.requests.slice(-8).join(' ')}`);
    await b.page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true, timeout: 30_000 }).catch(() => undefined);
    throw e;
  }
}
