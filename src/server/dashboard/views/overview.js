// Overview: counts by status, live instances, activity over time (throughput, failures,
// pickup latency) and queue depth (per queue now, and sampled from the live counts while
// the page is open).
import { put, api, el, emptyState, errorState, icon, itemsOf, STATUSES } from '../lib.js';
import { barChart, lineChart } from '../charts.js';

export const title = () => 'Overview';

const WINDOWS = [
  ['15', '15 min'],
  ['60', '1 hour'],
  ['360', '6 hours'],
  ['1440', '24 hours'],
];
// Waiting-task samples from the event stream survive view changes (kept per page load).
const depthSamples = [];

/** Called for every live overview event, whichever view is open. */
export function recordSample(ov) {
  const now = Date.now();
  if (now - (depthSamples.at(-1)?.ms ?? 0) < 1000) return;
  depthSamples.push({ ms: now, t: new Date(now).toISOString(), v: (ov.counts?.queued ?? 0) + (ov.counts?.retry ?? 0) });
  if (depthSamples.length > 300) depthSamples.shift();
}

export function render(root, route, app) {
  const minutes = WINDOWS.some(([m]) => m === route.params.get('window')) ? route.params.get('window') : '60';
  const cards = el('section', { class: 'cards', 'aria-label': 'Tasks by status' });
  const charts = el('section', { class: 'charts', 'aria-label': 'Activity over time' });
  const queues = el('section', { class: 'panel', 'aria-labelledby': 'q-h' });
  const picker = el(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'Time window' },
    ...WINDOWS.map(([m, label]) => el('a', { href: `#/overview?window=${m}`, class: 'seg', 'aria-current': m === minutes ? 'true' : undefined }, label)),
  );
  root.append(el('div', { class: 'view-head' }, el('h1', {}, 'Overview'), picker), cards, charts, queues);

  function drawCounts(ov) {
    if (!ov) {
      put(cards, errorState(new Error('no overview from the server yet')));
      return;
    }
    put(
      cards,
      ...STATUSES.map((s) =>
        el(
          'a',
          { class: `card s-${s}`, href: `#/tasks?status=${s}`, id: `count-${s}` },
          el('span', { class: 'card-label' }, icon(s), s),
          el('span', { class: 'n' }, String(ov.counts?.[s] ?? 0)),
        ),
      ),
      el(
        'a',
        { class: 'card', href: '#/tasks', id: 'count-total' },
        el('span', { class: 'card-label' }, 'total'),
        el('span', { class: 'n' }, String(ov.total ?? 0)),
      ),
      el(
        'a',
        { class: 'card', href: '#/workers', id: 'count-instances' },
        el('span', { class: 'card-label' }, 'live instances'),
        el('span', { class: 'n' }, String(ov.instancesAlive ?? 0)),
      ),
    );
  }

  async function drawCharts() {
    try {
      const s = await api(`/api/overview/series?minutes=${minutes}&buckets=30`);
      const times = s.buckets.map((b) => b.t);
      const per = `per ${s.bucketSeconds >= 60 ? `${+(s.bucketSeconds / 60).toFixed(1)} min` : `${s.bucketSeconds} s`}`;
      put(
        charts,
        barChart({
          label: `Throughput (${per})`,
          times,
          series: [
            { name: 'created', values: s.buckets.map((b) => b.created), cls: 'c-created' },
            { name: 'completed', values: s.buckets.map((b) => b.completed), cls: 'c-completed' },
          ],
        }),
        barChart({
          label: `Failures and retries (${per})`,
          times,
          series: [
            { name: 'failed', values: s.buckets.map((b) => b.failed), cls: 'c-failed' },
            { name: 'retry', values: s.buckets.map((b) => b.retried), cls: 'c-retry' },
          ],
        }),
        lineChart({
          label: 'Pickup latency of running tasks (ms)',
          times,
          unit: '',
          series: [
            { name: 'average', values: s.buckets.map((b) => (b.pickup_avg_ms === null ? null : Math.round(b.pickup_avg_ms))), cls: 'c-running' },
            { name: 'max', values: s.buckets.map((b) => (b.pickup_max_ms === null ? null : Math.round(b.pickup_max_ms))), cls: 'c-queued' },
          ],
        }),
        depthSamples.length > 1
          ? lineChart({
              label: 'Waiting tasks (queued + retry), sampled while this page is open',
              times: depthSamples.map((d) => d.t),
              series: [{ name: 'waiting', values: depthSamples.map((d) => d.v), cls: 'c-queued' }],
            })
          : el(
              'figure',
              { class: 'chart-box' },
              el('figcaption', {}, 'Waiting tasks over time'),
              emptyState('Sampled from live updates; a line appears after a few seconds.'),
            ),
      );
    } catch (e) {
      put(charts, errorState(e, drawCharts));
    }
  }

  async function drawQueues() {
    try {
      const items = itemsOf(await api('/api/queues'));
      const max = Math.max(1, ...items.map((q) => q.waiting + q.running));
      put(
        queues,
        el('h2', { id: 'q-h' }, 'Queue depth now'),
        items.length === 0
          ? emptyState('No queue has waiting or running tasks, or a limit.')
          : el(
              'ul',
              { class: 'depth' },
              ...items.map((q) =>
                el(
                  'li',
                  {},
                  el('a', { href: `#/tasks?queue=${encodeURIComponent(q.queue)}` }, q.queue),
                  el(
                    'span',
                    { class: 'depth-bar', 'aria-hidden': 'true' },
                    el('span', { class: 'seg-running', dataset: { w: String(Math.round((q.running / max) * 100)) } }),
                    el('span', { class: 'seg-waiting', dataset: { w: String(Math.round((q.waiting / max) * 100)) } }),
                  ),
                  el('span', { class: 'depth-n' }, `${q.waiting} waiting · ${q.running} running${q.max_running === null ? '' : ` · limit ${q.max_running}`}`),
                ),
              ),
            ),
      );
      // Widths through the CSSOM: the page's CSP allows no inline style attributes.
      for (const s of queues.querySelectorAll('[data-w]')) s.style.width = `${s.dataset.w}%`;
    } catch (e) {
      put(queues, el('h2', { id: 'q-h' }, 'Queue depth now'), errorState(e, drawQueues));
    }
  }

  drawCounts(app.overview);
  const ready = Promise.all([drawCharts(), drawQueues()]);
  let last = 0;
  return {
    ready,
    onOverview(ov) {
      drawCounts(ov);
    },
    refresh() {
      // Charts aggregate the whole window; redraw at most every 3 s under a busy stream.
      if (Date.now() - last < 3000) return drawQueues();
      last = Date.now();
      return Promise.all([drawCharts(), drawQueues()]);
    },
  };
}
