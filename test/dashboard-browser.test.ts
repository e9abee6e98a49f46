/**
 * The dashboard in a real browser (Debian chromium driven by playwright-core): counts with
 * the seed's emojis, task rows and the detail view, graph tasks, live instances, fact
 * search, the neighbourhood drawing, and a live update over server-sent events after a task
 * is submitted through the API. Screenshots go to test-artifacts/. Without chromium the test
 * fails in CI (CI=true) and is skipped with a message elsewhere.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { loadDemoData } from '../src/demo/load.js';
import { BACKENDS } from './helpers/db.js';
import { testServer, type TestServer } from './helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');
const TOKEN = 'browser-test-token';
const haveChromium = existsSync(CHROMIUM);
const skip = !haveChromium && process.env.CI !== 'true' ? `${CHROMIUM} is missing (apt-get install chromium); not in CI, so skipped` : false;

for (const kind of BACKENDS) {
  describe(`dashboard in chromium (${kind})`, { skip }, () => {
    let s: TestServer;
    let url: string;
    let context: BrowserContext;
    let page: Page;
    let profile: string;

    before(async () => {
      assert.ok(haveChromium, `${CHROMIUM} is required in CI`);
      s = await testServer(kind, { apiToken: TOKEN, eventsTickMs: 500 });
      await loadDemoData(s.core.db);
      await s.core.db.query(`SELECT set_current_epoch('33333333-3333-4333-8333-333333333333')`);
      await s.core.db.query(
        `SELECT register_instance('44444444-4444-4444-8444-444444444444', 'browser_organ', '33333333-3333-4333-8333-333333333333', NULL, NULL, 'node-b', '10.1.2.3', 77)`,
      );
      await s.core.db.query(`SELECT set_instance_status('44444444-4444-4444-8444-444444444444', 'alive')`);
      url = await s.app.listen({ port: 0, host: '127.0.0.1' });
      profile = mkdtempSync(join(tmpdir(), 'seedcore-chromium-'));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
        viewport: { width: 1280, height: 1000 },
      });
      page = await context.newPage();
      mkdirSync(ARTIFACTS, { recursive: true });
    });

    after(async () => {
      await context?.close();
      if (profile) rmSync(profile, { recursive: true, force: true });
      await s?.close();
    });

    it('shows counts, tasks with details, graph tasks, instances, facts and a neighbourhood, and updates live', { timeout: 60_000 }, async () => {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // Console errors include Content-Security-Policy violations: the page must cause none.
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`);
      });
      context.on('response', (r) => {
        if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
      });
      await page.goto(`${url}/?token=${TOKEN}`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
      assert.equal(new URL(page.url()).search, '', 'the token is removed from the address bar');

      const { rows } = await s.core.db.query<{ queued: number; created: number; total: number }>(
        `SELECT count(*) FILTER (WHERE status = 'queued')::int AS queued, count(*) FILTER (WHERE status = 'created')::int AS created, count(*)::int AS total FROM tasks`,
      );
      const { queued, created: waiting, total } = rows[0] as { queued: number; created: number; total: number };
      assert.ok(queued >= 4);
      assert.equal(waiting, 1, 'the demo RAG task waits for its dependency');
      assert.equal((await page.textContent('#count-created .n'))?.trim(), `📝 ${waiting}`);
      assert.equal((await page.textContent('#count-queued .n'))?.trim(), `⏳ ${queued}`);
      assert.equal((await page.textContent('#count-completed .n'))?.trim(), '✅ 0');

      // Locator waits only: the page's CSP forbids evaluating strings.
      await page
        .locator('#tasks-table tbody tr')
        .nth(total - 1)
        .waitFor();
      assert.equal(await page.locator('#tasks-table tbody tr').count(), total);
      assert.equal(await page.locator('#graph-tasks-table tbody tr').count(), 2);
      await page.waitForSelector('#instances-table tbody tr');
      assert.match((await page.textContent('#instances-table tbody tr')) ?? '', /browser_organ/);
      await page.waitForSelector('#live.on', { timeout: 5000 });

      // Filters: only the waiting (created) task, then all again.
      await page.selectOption('#filter-status', 'created');
      await page.click('#task-filters button');
      await page.locator('#tasks-table tbody tr', { hasText: 'echo' }).waitFor({ state: 'detached' });
      assert.equal(await page.locator('#tasks-table tbody tr').count(), 1);
      assert.match((await page.textContent('#tasks-table tbody tr')) ?? '', /graph_rag_query/);
      await page.selectOption('#filter-status', '');
      await page.click('#task-filters button');
      await page
        .locator('#tasks-table tbody tr')
        .nth(total - 1)
        .waitFor();

      // Detail view of the echo task.
      await page.locator('#tasks-table tbody tr', { hasText: 'echo' }).click();
      await page.waitForSelector('#detail-panel:not([hidden])');
      assert.match((await page.textContent('#detail-params')) ?? '', /hello from SeedCore/);
      assert.match((await page.textContent('#detail-fields')) ?? '', /attempts/);

      // Fact search with highlighted matches.
      await page.fill('#facts-q', 'planner');
      await page.click('#facts-form button');
      await page.waitForSelector('#facts-results li mark');
      assert.match((await page.textContent('#facts-results')) ?? '', /planner agent decomposes goals/i);

      // Neighbourhood drawing of the planner agent.
      const planner = await s.core.db.query<{ node_id: string }>(
        `SELECT node_id::text FROM graph_node_map WHERE node_type = 'agent' AND ext_text_id = 'planner'`,
      );
      await page.fill('#graph-node', planner.rows[0]?.node_id as string);
      await page.click('#graph-form button');
      await page.locator('#graph-svg g.node').nth(3).waitFor();
      assert.ok((await page.locator('#graph-svg line').count()) >= 3);
      assert.match((await page.textContent('#graph-stats')) ?? '', /agent 3/);
      // Clicking a neighbour centres the drawing on it.
      const organ = await s.core.db.query<{ node_id: string }>(
        `SELECT node_id::text FROM graph_node_map WHERE node_type = 'organ' AND ext_text_id = 'cognitive_organ_1'`,
      );
      const organId = organ.rows[0]?.node_id as string;
      await page.click(`#graph-svg g.node[data-node-id="${organId}"] circle`);
      await page.waitForSelector(`#graph-svg g.node[data-node-id="${organId}"] circle[r="11"]`);
      assert.equal(await page.inputValue('#graph-node'), organId);
      await page.screenshot({ path: join(ARTIFACTS, `dashboard-${kind}.png`), fullPage: true });

      // Live update: a task submitted through the API appears without a reload.
      const res = await fetch(`${url}/api/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ type: 'live_probe', params: { from: 'browser test' } }),
      });
      assert.equal(res.status, 201);
      const created = (await res.json()) as { id: string };
      await page.waitForSelector(`#tasks-table tbody tr[data-id="${created.id}"]`, { timeout: 5000 });
      assert.equal((await page.textContent('#count-queued .n'))?.trim(), `⏳ ${queued + 1}`);
      await page.screenshot({ path: join(ARTIFACTS, `dashboard-${kind}-live.png`), fullPage: true });
      assert.deepEqual(errors, []);
    });
  });
}
