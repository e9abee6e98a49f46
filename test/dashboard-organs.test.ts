/**
 * The agent layer in the dashboard, in a real browser (Debian chromium + playwright-core) at
 * 1440 and 390 px: the Workers view shows an organ worker's organ, agent, capabilities with
 * versions and skills; the tasks views mark a task no live organ can serve as unroutable
 * (naming the missing capability) and filter for such tasks; a plain task carries no badge.
 * axe-core finds no serious or critical violations; screenshots go to test-artifacts/dashboard/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { Worker } from '../src/worker/compose.js';
import { browserSkip as skip, checkPage, launchBrowser, watchPage } from './helpers/browser.js';
import { BACKENDS } from './helpers/db.js';
import { testServer, type TestServer } from './helpers/server.js';

const TOKEN = 'dashboard-organs-token';

// Browser globals used inside page.evaluate callbacks (the project compiles without the DOM lib).
declare const document: {
  querySelector(selector: string): { getAttribute(name: string): string | null } | null;
};
declare const location: { hash: string };

async function go(page: Page, base: string, hash: string): Promise<void> {
  await page.goto(`${base}/?token=${TOKEN}${hash}`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForFunction((h) => location.hash === h && document.querySelector('main')?.getAttribute('aria-busy') === 'false', hash);
}

for (const kind of BACKENDS) {
  describe(`dashboard: organs and unroutable tasks in chromium (${kind})`, { skip }, () => {
    let s: TestServer;
    let base: string;
    let browser: Browser;
    let worker: Worker;
    let stuck = '';
    let plain = '';

    before(async () => {
      s = await testServer(kind, { apiToken: TOKEN });
      worker = s.core.createDispatcher({
        handlers: { summarize: async () => ({ ok: true }) },
        pollIntervalMs: 100,
        organ: { id: 'summarizer-organ', agentId: 'agent-x', capabilities: [{ name: 'summarize', version: '2.1' }], skills: ['english'] },
      });
      await worker.start();
      // Nobody provides translate: unroutable. The plain task (no type handled here) is routable.
      stuck = (await s.core.tasks.submit({ type: 'translate_doc', params: {}, requires: ['translate>=1'] })).id;
      plain = (await s.core.tasks.submit({ type: 'plain_probe', params: {} })).id;
      base = await s.app.listen({ port: 0, host: '127.0.0.1' });
      browser = await launchBrowser();
    });

    after(async () => {
      await browser?.close();
      await worker?.stop({ graceMs: 0 });
      await s?.close();
    });

    for (const width of [1440, 390]) {
      it(`workers show organs and capabilities; tasks show and filter unroutable ones (${width} px)`, { timeout: 90_000 }, async () => {
        const context = await browser.newContext({ viewport: { width, height: 900 } });
        const page = await context.newPage();
        page.setDefaultTimeout(20_000);
        // Page errors and HTTP errors; console messages are not checked here.
        const errors = watchPage(page, { console: false });
        const label = (v: string) => `organs-${kind}-${width}-${v}`;

        await go(page, base, '#/workers');
        const row = page.locator(`#instances-table tr[data-id="${worker.instanceId}"]`);
        await row.waitFor();
        const organ = (await row.locator('.organ').textContent()) ?? '';
        assert.match(organ, /agent-x/);
        assert.match(organ, /summarize@2\.1/);
        assert.match(organ, /skills: english/);
        assert.match((await row.textContent()) ?? '', /summarizer-organ/);
        await checkPage(page, label('workers'));

        await go(page, base, '#/tasks?unroutable=1');
        const rows = page.locator('#tasks-table tbody tr');
        assert.equal(await rows.count(), 1);
        assert.equal(await rows.first().getAttribute('data-id'), stuck);
        assert.equal((await rows.first().locator('.tag.unroutable').textContent())?.trim(), 'unroutable: translate>=1');
        assert.equal(await page.isChecked('input[name="unroutable"]'), true);
        await checkPage(page, label('tasks-unroutable'));

        await go(page, base, '#/tasks');
        await page.locator(`#tasks-table tr[data-id="${plain}"]`).waitFor();
        assert.equal(await page.locator(`#tasks-table tr[data-id="${plain}"] .tag.unroutable`).count(), 0, 'a plain task is not unroutable');
        assert.equal(await page.locator(`#tasks-table tr[data-id="${stuck}"] .tag.unroutable`).count(), 1);

        await go(page, base, `#/task/${stuck}`);
        assert.match((await page.locator('.view-head h1 .tag.unroutable').textContent()) ?? '', /translate>=1/);
        await checkPage(page, label('task-unroutable'));
        assert.deepEqual(errors, []);
        await context.close();
      });
    }
  });
}
