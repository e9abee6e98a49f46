/**
 * The dashboard's browser tests share this set-up: Debian chromium driven by playwright-core,
 * axe-core for accessibility, screenshots under test-artifacts/dashboard/. Without chromium
 * a browser test fails in CI (CI=true) and is skipped elsewhere (`browserSkip`).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots of the browser tests (this file runs from dist/test/helpers/). */
export const ARTIFACTS = join(import.meta.dirname, '..', '..', '..', 'test-artifacts', 'dashboard');
export const haveChromium = existsSync(CHROMIUM);
/** The `skip` option of a browser test's describe(). */
export const browserSkip: string | false =
  !haveChromium && process.env.CI !== 'true' ? `${CHROMIUM} is missing (apt-get install chromium); not in CI, so skipped` : false;

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// Browser globals used inside page.evaluate callbacks (the project compiles without the DOM lib).
declare const document: { documentElement: { scrollWidth: number } };
declare const window: { innerWidth: number } & Record<string, unknown>;

interface AxeViolation {
  id: string;
  impact: string | null;
  nodes: Array<{ target: string[] }>;
}

/** Chromium for a test (headless, no sandbox: tests run as root); makes ARTIFACTS too. */
export async function launchBrowser(): Promise<Browser> {
  assert.ok(haveChromium, `${CHROMIUM} is required in CI`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'],
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  return browser;
}

/**
 * Collect a page's uncaught errors and HTTP error responses, and (unless `console` is false)
 * its console errors, CSP violations included. The test asserts the list is empty.
 */
export function watchPage(page: Page, { console = true }: { console?: boolean } = {}): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  if (console) {
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
    });
  }
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });
  return errors;
}

/**
 * The checks every view gets: no sideways scroll, no serious or critical axe-core violation;
 * then a full-page screenshot `label`.png in ARTIFACTS, whose path is returned.
 */
export async function checkPage(page: Page, label: string): Promise<string> {
  const [scrollWidth, innerWidth] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scrollWidth <= innerWidth, `${label}: the page scrolls sideways (${scrollWidth} > ${innerWidth})`);
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const w = window as unknown as { axe: { run(ctx: unknown, o: object): Promise<{ violations: AxeViolation[] }> } };
    return (await w.axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `${label}: serious or critical accessibility violations`,
  );
  const path = join(ARTIFACTS, `${label}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
