/**
 * Every dashboard view and action in a real browser (Debian chromium driven by
 * playwright-core), at 1440 and 390 px: content, no sideways scroll, axe-core with no serious
 * or critical violations, deep links and the back button, keyboard use of the confirmation
 * dialog, cancel/retry (one and bulk), queue limits, schedule enable/disable, fact search and
 * add, graph find and a missing node. Screenshots go to test-artifacts/dashboard/ (the path is
 * printed). Without chromium the test fails in CI (CI=true) and is skipped elsewhere.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { loadDemoData } from '../src/demo/load.js';
import { Dispatcher } from '../src/tasks/index.js';
import { ARTIFACTS, browserSkip as skip, checkPage, launchBrowser, watchPage } from './helpers/browser.js';
import { BACKENDS } from './helpers/db.js';
import { testServer, type TestServer } from './helpers/server.js';

const TOKEN = 'dashboard-views-token';
const WIDTHS = [1440, 390] as const;

// Browser globals used inside page.evaluate callbacks (the project compiles without the DOM lib).
declare const document: {
  activeElement: { textContent: string | null } | null;
  querySelector(selector: string): { getAttribute(name: string): string | null } | null;
  querySelectorAll(selector: string): { length: number };
};
declare const location: { hash: string };

async function open(page: Page, base: string, hash: string): Promise<void> {
  await page.goto(`${base}/${hash}`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForSelector('main[aria-busy="false"]');
}

async function go(page: Page, hash: string): Promise<void> {
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
  await page.waitForFunction((h) => location.hash === h && document.querySelector('main')?.getAttribute('aria-busy') === 'false', hash);
}

/**
 * Click a link and wait for its view. A live refresh may re-render the list between the
 * moment the link is found and the click, so a click that led elsewhere is tried again
 * from the list (at most twice); the view must then load.
 */
async function follow(page: Page, selector: string, hash: string): Promise<void> {
  const from = await page.evaluate(() => location.hash);
  for (let attempt = 1; ; attempt++) {
    await page.click(selector);
    const arrived = await page
      .waitForFunction((h) => location.hash === h, hash, { timeout: 5_000 })
      .then(() => true)
      .catch(() => false);
    if (arrived) break;
    if (attempt === 3) assert.fail(`clicking ${selector} did not lead to ${hash} (at ${await page.evaluate(() => location.hash)})`);
    await go(page, from);
  }
  await page.waitForFunction((h) => location.hash === h && document.querySelector('main')?.getAttribute('aria-busy') === 'false', hash);
}

async function check(page: Page, label: string, shots: string[]): Promise<void> {
  shots.push(await checkPage(page, label));
}

for (const kind of BACKENDS) {
  describe(`dashboard views in chromium (${kind})`, { skip }, () => {
    let s: TestServer;
    let base: string;
    let browser: Browser;
    const shots: string[] = [];
    const ids: string[] = [];
    let runProbe = '';
    let beating: NodeJS.Timeout | undefined;

    before(async () => {
      s = await testServer(kind, { apiToken: TOKEN, eventsTickMs: 500 });
      await loadDemoData(s.core.db);
      // One task run to its end by a real dispatcher, for the run history (before the
      // registry instance below: a dispatcher's start may move the cluster epoch on).
      runProbe = (await s.core.tasks.submit({ type: 'run_probe', params: { n: 1 } })).id;
      let ran!: () => void;
      const done = new Promise<void>((r) => (ran = r));
      const d = new Dispatcher(s.core.db, {
        handlers: { run_probe: async () => ({ ok: true }) },
        types: ['run_probe'],
        pollIntervalMs: 50,
        onEvent: (e) => {
          if (e.kind === 'completed') ran();
        },
      });
      await d.start();
      await done;
      await d.stop();
      await s.core.db.query(`SELECT set_current_epoch('33333333-3333-4333-8333-333333333333')`);
      await s.core.db.query(
        `SELECT register_instance('44444444-4444-4444-8444-444444444444', 'browser_organ', '33333333-3333-4333-8333-333333333333', NULL, NULL, 'node-b', '10.1.2.3', 77)`,
      );
      await s.core.db.query(`SELECT set_instance_status('44444444-4444-4444-8444-444444444444', 'alive')`);
      // Keep it alive as a worker would: an instance whose heartbeat lapsed is never revived.
      beating = setInterval(() => void s.core.db.query(`SELECT beat('44444444-4444-4444-8444-444444444444')`).catch(() => undefined), 3000);
      // Tasks for the actions: two per width to cancel one by one and in bulk, one failed.
      for (let i = 0; i < 6; i++) ids.push((await s.core.tasks.submit({ type: 'action_probe', params: { i }, queue: 'mail' })).id);
      await s.core.db.query(`UPDATE tasks SET status = 'failed', error = 'boom: probe failure', attempts = 1 WHERE id = $1`, [ids[5]]);
      await s.core.schedules.set({ name: 'nightly-report', cron: '0 3 * * *', type: 'report', timezone: 'UTC' });
      base = await s.app.listen({ port: 0, host: '127.0.0.1' });
      browser = await launchBrowser();
    });

    after(async () => {
      clearInterval(beating);
      await browser?.close();
      await s?.close();
      if (shots.length) console.log(`dashboard screenshots (${shots.length}) in ${ARTIFACTS}`);
    });

    for (const width of WIDTHS) {
      it(`every view and action at ${width} px`, { timeout: 90_000 }, async () => {
        const context = await browser.newContext({ viewport: { width, height: 900 } });
        const page = await context.newPage();
        page.setDefaultTimeout(20_000);
        const errors = watchPage(page);
        const label = (v: string) => `${kind}-${width}-${v}`;
        const [mine, bulkA, bulkB] = width === 1440 ? [ids[0], ids[1], ids[2]] : [ids[3], ids[4], ids[4]];

        if (width === 1440) {
          // Without a token the page asks for one and then loads.
          await page.goto(`${base}/#/overview`);
          await page.waitForSelector('#auth-form:not([hidden])');
          await page.fill('#auth-token', TOKEN);
          await page.click('#auth-form button');
          await page.waitForSelector('#count-queued');
          await page.waitForSelector('#auth-form', { state: 'hidden' });
          errors.splice(0, errors.length, ...errors.filter((e) => !/^401 |status of 401/.test(e)));
        }

        // Overview: counts with an icon per status, charts, queue depth; the token leaves the URL.
        await open(page, base, `?token=${TOKEN}#/overview`);
        assert.equal(new URL(page.url()).search, '', 'the token is removed from the address bar');
        const counts = await s.core.db.query<{ status: string; n: number }>(`SELECT status::text AS status, count(*)::int AS n FROM tasks GROUP BY 1`);
        const queued = counts.rows.find((r) => r.status === 'queued')?.n ?? 0;
        assert.equal((await page.textContent('#count-queued .n'))?.trim(), String(queued));
        const icons = await page.locator('.cards svg.icon').evaluateAll((els) => els.map((e) => e.getAttribute('data-icon')));
        assert.equal(new Set(icons).size, 7, 'seven distinct status icons');
        await page.locator('figure.chart-box svg.chart').first().waitFor();
        assert.match((await page.textContent('.depth')) ?? '', /mail/);
        await page.waitForSelector('#live.on');
        await check(page, label('overview'), shots);

        // Tasks: a filter from the address, an empty filter with its own message, then all.
        await go(page, '#/tasks?status=created');
        assert.equal(await page.locator('#tasks-table tbody tr').count(), 1);
        assert.match((await page.textContent('#tasks-table tbody tr')) ?? '', /graph_rag_query/);
        await go(page, '#/tasks?type=no_such_type');
        assert.match((await page.textContent('#task-list')) ?? '', /No tasks match these filters/);
        await go(page, '#/tasks?queue=mail&agent=&status=queued');
        assert.equal(await page.locator('#tasks-table tbody tr').count(), width === 1440 ? 5 : 3);
        await go(page, '#/tasks?agent=planner');
        assert.equal(await page.locator('#tasks-table tbody tr').count(), 1);
        await go(page, `#/tasks?idPrefix=${(mine as string).slice(0, 6)}`);
        assert.equal(await page.locator(`#tasks-table tbody tr[data-id="${mine}"]`).count(), 1);
        await go(page, '#/tasks?queue=mail');
        await check(page, label('tasks'), shots);

        // Bulk cancel through the confirmation dialog; Escape first says no.
        for (const id of new Set([bulkA, bulkB])) await page.check(`#tasks-table tr[data-id="${id}"] input[type=checkbox]`);
        await page.click('#bulk-cancel');
        await page.waitForSelector('dialog[open]');
        await check(page, label('confirm-dialog'), shots);
        await page.keyboard.press('Escape');
        await page.waitForSelector('dialog', { state: 'detached' });
        assert.equal((await s.core.tasks.get(bulkA as string)).status, 'queued', 'Escape cancels nothing');
        await page.click('#bulk-cancel');
        await page.click('#dlg-confirm');
        await page.waitForSelector('.notice.ok');
        for (const id of new Set([bulkA, bulkB])) assert.equal((await s.core.tasks.get(id as string)).status, 'cancelled');
        await page.waitForSelector(`#tasks-table tr[data-id="${bulkA}"] [data-status="cancelled"]`);

        // Task view by deep link: fields, params, dependencies/edges, cancel then retry.
        await follow(page, `#tasks-table tr[data-id="${mine}"] a.id`, `#/task/${mine as string}`);
        assert.match((await page.textContent('#task-params')) ?? '', /"i"/);
        await page.click('#task-cancel');
        await page.click('#dlg-confirm');
        await page.waitForSelector('#task-detail [data-status="cancelled"]');
        assert.equal((await s.core.tasks.get(mine as string)).status, 'cancelled');
        await page.click('#task-retry');
        await page.click('#dlg-confirm');
        await page.waitForSelector('#task-detail h1 [data-status="queued"]');
        assert.equal((await s.core.tasks.get(mine as string)).status, 'queued');
        await check(page, label('task'), shots);
        // Back returns to the filtered list.
        await page.goBack();
        await page.waitForFunction(() => location.hash === '#/tasks?queue=mail' && document.querySelector('#tasks-table') !== null);

        // The failed task shows its error; the RAG task its dependency and graph edges.
        await go(page, `#/task/${ids[5]}`);
        assert.match((await page.textContent('#task-error')) ?? '', /boom: probe failure/);
        const rag = await s.core.db.query<{ id: string }>(`SELECT id::text FROM tasks WHERE type = 'graph_rag_query'`);
        await go(page, `#/task/${rag.rows[0]?.id}`);
        assert.match((await page.textContent('#task-links')) ?? '', /graph_embed/);
        assert.match((await page.textContent('#task-edges')) ?? '', /agent planner/);
        await go(page, `#/task/${runProbe}`);
        assert.match((await page.textContent('#runs-table')) ?? '', /completed/);
        assert.match((await page.textContent('#task-result')) ?? '', /"ok": true/);
        await go(page, '#/task/00000000-0000-4000-8000-000000000000');
        assert.match((await page.textContent('#task-detail')) ?? '', /No task with id/);
        errors.splice(0, errors.length, ...errors.filter((e) => !/404 .*\/api\/tasks\/00000000/.test(e) && !/status of 404/.test(e)));

        // Queues: edit the limit of "mail", then pause it after confirming.
        await go(page, '#/queues');
        const limit = page.locator('#queues-table tr[data-queue="mail"] input');
        await limit.fill('3');
        await page.locator('#queues-table tr[data-queue="mail"] button').click();
        await page.waitForSelector('#queues-msg.ok');
        assert.equal((await s.core.queues.list()).items.find((q) => q.queue === 'mail')?.max_running, 3);
        await page.locator('#queues-table tr[data-queue="mail"] input').fill('0');
        await page.locator('#queues-table tr[data-queue="mail"] button').click();
        await page.click('#dlg-confirm');
        await page.waitForSelector('#queues-table tr[data-queue="mail"] .prio');
        assert.equal((await s.core.queues.list()).items.find((q) => q.queue === 'mail')?.max_running, 0);
        await check(page, label('queues'), shots);
        await s.core.queues.setLimit('mail', null);

        // Schedules: disable (confirmed), then enable again.
        await go(page, '#/schedules');
        assert.match((await page.textContent('#schedules-table')) ?? '', /0 3 \* \* \*/);
        await page.click('#schedules-table tr[data-name="nightly-report"] button');
        await page.click('#dlg-confirm');
        await page.waitForSelector('#schedules-table tr[data-name="nightly-report"] button.primary');
        assert.equal((await s.core.schedules.get('nightly-report')).enabled, false);
        await page.click('#schedules-table tr[data-name="nightly-report"] button');
        await page.waitForSelector('#schedules-table tr[data-name="nightly-report"] time');
        assert.equal((await s.core.schedules.get('nightly-report')).enabled, true);
        await check(page, label('schedules'), shots);

        // Workers: the registered instance with its heartbeat age.
        await go(page, '#/workers');
        if ((await page.locator('#instances-table').count()) === 0) assert.fail(`workers view without instances: ${await page.textContent('#workers')}`);
        assert.match((await page.textContent('#instances-table')) ?? '', /browser_organ[\s\S]*s ago/);
        await check(page, label('workers'), shots);

        // Graph: find by name, the neighbourhood with labels and a legend, then a missing node.
        // One match: the view moves on to that node by itself (replacing the address).
        await page.evaluate(() => {
          location.hash = '#/graph?type=agent&q=plann';
        });
        await page.waitForFunction(() => location.hash.startsWith('#/graph?node=') && document.querySelectorAll('#graph-svg a.node').length >= 4);
        assert.match((await page.textContent('#graph-legend')) ?? '', /agent__member_of__organ/);
        assert.match((await page.textContent('#graph-svg')) ?? '', /organ cognitive_organ_1 \(node \d+\)[\s\S]*organ: cognitive_/);
        await check(page, label('graph'), shots);
        await go(page, '#/graph?node=999999');
        assert.match((await page.textContent('#graph-view')) ?? '', /does not exist/);
        assert.equal(await page.locator('#graph-svg').count(), 0, 'the old drawing is gone');
        errors.splice(0, errors.length, ...errors.filter((e) => !/404 .*\/api\/graph\/neighbors\/999999/.test(e) && !/status of 404/.test(e)));

        // Facts: search with highlighted matches, add one with tags and metadata, bad JSON refused.
        await go(page, '#/facts?q=planner');
        await page.waitForSelector('#facts-results li mark');
        assert.match((await page.textContent('#facts-results')) ?? '', /planner agent decomposes goals/i);
        await page.fill('#fact-text', `Dashboard fact at ${width}`);
        await page.fill('#fact-tags', 'ops, dash');
        await page.fill('#fact-meta', '{not json');
        await page.click('#fact-add button[type=submit]');
        await page.waitForSelector('#fact-add .notice.error');
        await page.fill('#fact-meta', '{"source": "browser"}');
        await page.click('#fact-add button[type=submit]');
        await page.waitForSelector('#fact-add .notice.ok');
        const added = await s.core.db.query<{ tags: string[]; meta_data: Record<string, unknown> }>(`SELECT tags, meta_data FROM facts WHERE text = $1`, [
          `Dashboard fact at ${width}`,
        ]);
        assert.deepEqual(added.rows[0]?.tags, ['ops', 'dash']);
        assert.deepEqual(added.rows[0]?.meta_data, { source: 'browser' });
        await check(page, label('facts'), shots);

        // Keyboard: the skip link comes first and the nav is reachable by Tab.
        await page.reload();
        await page.waitForSelector('main[aria-busy="false"]');
        await page.keyboard.press('Tab');
        assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
        let reached = false;
        for (let i = 0; i < 6 && !reached; i++) {
          await page.keyboard.press('Tab');
          reached = (await page.evaluate(() => document.activeElement?.textContent)) === 'Tasks';
        }
        assert.ok(reached, 'the Tasks nav link is reachable by Tab');
        await page.keyboard.press('Enter');
        await page.waitForFunction(() => location.hash === '#/tasks');

        assert.deepEqual(errors, []);
        await context.close();
      });
    }
  });
}
