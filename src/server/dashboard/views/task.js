// One task: its fields, params/result/error, dependencies and graph edges, run history and
// steps/waits when the server records them, and cancel/retry.
import {
  put,
  api,
  apiHas,
  ApiError,
  confirmAction,
  el,
  emptyState,
  errorState,
  fmtTime,
  itemsOf,
  json,
  notice,
  shortId,
  statusBadge,
  timeEl,
  STATUSES,
} from '../lib.js';
import { unroutableBadge } from './tasks.js';

export const title = (r) => `Task ${shortId(r.rest[0])}`;

const ENDED = ['completed', 'failed', 'cancelled'];
const SHOWN = new Set(['id', 'status', 'type', 'params', 'result', 'error', 'runs', 'steps', 'waits', 'description', 'unroutable']);
const TIMES = new Set(['created_at', 'updated_at', 'run_after', 'locked_at', 'lease_expires_at', 'last_heartbeat', 'expires_at']);

export function render(root, route) {
  const id = route.rest[0] || '';
  const body = el('div', { id: 'task-detail' });
  root.append(el('p', { class: 'crumbs' }, el('a', { href: '#/tasks' }, 'Tasks'), ' / ', el('code', {}, shortId(id))), body);
  const msg = el('p', { class: 'notice', role: 'status', hidden: true });

  async function act(t, action) {
    const ok = await confirmAction(
      action === 'cancel'
        ? {
            title: `Cancel task ${shortId(t.id)}?`,
            body: `The ${t.type} task stops, and so do the tasks that depend on it. This cannot be undone.`,
            confirm: 'Cancel task',
          }
        : { title: `Retry task ${shortId(t.id)}?`, body: 'It runs again with a fresh attempt budget.', confirm: 'Retry task', danger: false },
    );
    if (!ok) return;
    try {
      await api(`/api/tasks/${t.id}/${action}`, { method: 'POST', body: {} });
      await load();
      notice(msg, action === 'cancel' ? 'Task cancelled.' : 'Task sent to retry.', 'ok');
    } catch (e) {
      notice(msg, e.message, 'error');
    }
  }

  function taskList(items, none) {
    if (!items.length) return el('p', { class: 'muted' }, none);
    return el(
      'ul',
      { class: 'links' },
      ...items.map((d) => el('li', {}, statusBadge(d.status), ' ', el('a', { href: `#/task/${d.id}` }, el('code', {}, shortId(d.id))), ' ', d.type)),
    );
  }

  // Run history, durable steps and the current wait: from the task route when it carries
  // them, else from the dashboard's links route (which reads task_runs and friends).
  function runsSection(t, runs, links) {
    const list = Array.isArray(runs) && runs.length ? runs : Array.isArray(t.runs) ? t.runs : links?.runs;
    const steps = Array.isArray(t.steps) ? t.steps : links?.steps;
    const wait = t.wait ?? t.waits ?? links?.wait;
    const parts = [el('h2', {}, 'Runs')];
    if (!Array.isArray(list)) parts.push(el('p', { class: 'muted' }, 'This server does not record run history.'));
    else if (list.length === 0) parts.push(el('p', { class: 'muted' }, t.status === 'running' ? 'The first run is under way.' : 'No run has ended yet.'));
    else {
      const ORDER = ['attempt', 'outcome', 'status', 'started_at', 'ended_at', 'duration_seconds', 'owner_id', 'error'];
      const rank = (k) => (ORDER.includes(k) ? ORDER.indexOf(k) : ORDER.length);
      const cols = [...new Set(list.flatMap((r) => Object.keys(r)))]
        .filter((k) => typeof list[0][k] !== 'object' || list[0][k] === null)
        .sort((a, b) => rank(a) - rank(b))
        .slice(0, 8);
      const cell = (c, v) =>
        (c === 'status' || c === 'outcome') && STATUSES.includes(v)
          ? statusBadge(v)
          : c === 'duration_seconds' && typeof v === 'number'
            ? `${v < 1 ? Math.round(v * 1000) + ' ms' : v.toFixed(1) + ' s'}`
            : c === 'owner_id' && /^[0-9a-f-]{36}$/i.test(String(v))
              ? el('code', { title: v }, shortId(v))
              : TIMES.has(c) || /_at$/.test(c)
                ? timeEl(v)
                : String(v ?? '—');
      parts.push(
        el(
          'table',
          { class: 'data compact', id: 'runs-table' },
          el('thead', {}, el('tr', {}, ...cols.map((c) => el('th', { scope: 'col' }, c.replaceAll('_', ' '))))),
          el('tbody', {}, ...list.map((r) => el('tr', {}, ...cols.map((c) => el('td', { 'data-label': c.replaceAll('_', ' ') }, cell(c, r[c])))))),
        ),
      );
    }
    if (wait) {
      const what =
        wait.kind === 'sleep'
          ? ['sleeping until ', timeEl(wait.wake_at)]
          : wait.kind === 'event'
            ? [`waiting for event “${wait.event_name}”`, wait.wake_at ? [' until ', timeEl(wait.wake_at)] : null]
            : [`waiting for ${(wait.child_ids || []).length} child task(s)`];
      parts.push(el('h3', {}, 'Waiting'), el('p', { id: 'task-wait' }, ...what.flat()));
      if (Array.isArray(wait.child_ids) && wait.child_ids.length)
        parts.push(el('ul', { class: 'links' }, ...wait.child_ids.map((c) => el('li', {}, el('a', { href: `#/task/${c}` }, el('code', {}, shortId(c)))))));
    }
    if (Array.isArray(steps) && steps.length)
      parts.push(
        el('h3', {}, `Steps (${steps.length})`),
        el(
          'ol',
          { class: 'links', id: 'task-steps' },
          ...steps.map((st) =>
            el(
              'li',
              {},
              el('strong', {}, st.name ?? '?'),
              st.attempt ? el('span', { class: 'muted' }, ` attempt ${st.attempt} · `) : ' ',
              timeEl(st.created_at),
            ),
          ),
        ),
      );
    return el('section', { class: 'panel', id: 'task-runs' }, ...parts);
  }

  function linksSection(links) {
    if (!links) return el('section', { class: 'panel' }, el('h2', {}, 'Dependencies and graph'), el('p', { class: 'muted' }, 'Links are not available.'));
    return el(
      'section',
      { class: 'panel', id: 'task-links' },
      el('h2', {}, 'Dependencies'),
      el('h3', {}, 'Waits for'),
      taskList(links.dependsOn, 'No dependencies.'),
      el('h3', {}, 'Needed by'),
      taskList(links.dependents, 'No task depends on this one.'),
      el('h2', {}, 'Graph edges'),
      links.edges.length
        ? el(
            'ul',
            { class: 'links', id: 'task-edges' },
            ...links.edges.map((e) =>
              el(
                'li',
                {},
                el(
                  'span',
                  { class: 'edge-type' },
                  e.edge_type.replace(/^task__|__/g, (m) => (m === 'task__' ? '' : ' ')),
                ),
                ' ',
                e.node_id ? el('a', { href: `#/graph?node=${e.node_id}` }, `${e.node_type} ${e.ext_id}`) : `${e.node_type} ${e.ext_id}`,
              ),
            ),
          )
        : el('p', { class: 'muted' }, 'No edges to agents, organs, facts, memory or artifacts.'),
      links.node_id ? el('p', {}, el('a', { href: `#/graph?node=${links.node_id}`, class: 'btn' }, 'Show in graph')) : null,
    );
  }

  async function load() {
    let t;
    try {
      t = await api(`/api/tasks/${encodeURIComponent(id)}`);
    } catch (e) {
      put(
        body,
        e instanceof ApiError && e.status === 404
          ? emptyState(`No task with id ${id}.`, el('a', { href: '#/tasks', class: 'btn' }, 'All tasks'))
          : errorState(e, load),
      );
      return;
    }
    const [links, runs, row] = await Promise.all([
      api(`/api/overview/tasks/${t.id}/links`).catch(() => null),
      // Run history is optional: ask only a server that documents it.
      apiHas('/api/tasks/{id}/runs').then((has) =>
        has ? api(`/api/tasks/${t.id}/runs`).then(itemsOf, (e) => (e instanceof ApiError && e.status === 404 ? null : undefined)) : null,
      ),
      api(`/api/overview/tasks?idPrefix=${t.id}&limit=1`).then(
        (p) => itemsOf(p)[0],
        () => undefined,
      ),
    ]);
    // The list row adds what the task route may leave out (queue, priority, agent, organ).
    for (const [k, v] of Object.entries(row || {})) if (!(k in t)) t[k] = v;
    const fields = Object.entries(t).filter(([k, v]) => !SHOWN.has(k) && (typeof v !== 'object' || v === null));
    const cancel = el(
      'button',
      { type: 'button', class: 'btn danger', id: 'task-cancel', disabled: ENDED.includes(t.status), onclick: () => act(t, 'cancel') },
      'Cancel',
    );
    const retry = el(
      'button',
      { type: 'button', class: 'btn', id: 'task-retry', disabled: !['failed', 'cancelled'].includes(t.status), onclick: () => act(t, 'retry') },
      'Retry',
    );
    put(
      body,
      el(
        'div',
        { class: 'view-head' },
        el('h1', {}, t.type, ' ', statusBadge(t.status), unroutableBadge(t.unroutable)),
        el('div', { class: 'actions' }, cancel, retry),
      ),
      msg,
      el('p', { class: 'mono wrap' }, t.id),
      t.description ? el('p', {}, t.description) : null,
      el(
        'div',
        { class: 'grid2' },
        el(
          'section',
          { class: 'panel' },
          el('h2', {}, 'Fields'),
          el(
            'dl',
            { class: 'fields', id: 'task-fields' },
            ...fields.flatMap(([k, v]) => [
              el('dt', {}, k.replaceAll('_', ' ')),
              el(
                'dd',
                { dataset: { field: k }, title: TIMES.has(k) && v ? fmtTime(v) : undefined },
                v === null || v === '' ? '—' : TIMES.has(k) ? `${fmtTime(v)} (${timeEl(v).textContent})` : String(v),
              ),
            ]),
          ),
        ),
        linksSection(links),
      ),
      el('section', { class: 'panel' }, el('h2', {}, 'Params'), el('pre', { class: 'code', id: 'task-params', tabindex: '0' }, json(t.params))),
      el('section', { class: 'panel' }, el('h2', {}, 'Result'), el('pre', { class: 'code', id: 'task-result', tabindex: '0' }, json(t.result))),
      t.error
        ? el('section', { class: 'panel err' }, el('h2', {}, 'Error'), el('pre', { class: 'code', id: 'task-error', tabindex: '0' }, json(t.error)))
        : null,
      runsSection(t, runs, links),
    );
  }

  return { ready: load(), refresh: load };
}
