// Tasks: filters in the address (#/tasks?status=failed&queue=emails), keyset paging that
// keeps every loaded row on live refreshes, rows new since the view opened marked, bulk
// cancel and retry behind a confirmation. A waiting task no live organ can serve carries an
// "unroutable" badge naming the missing capabilities; the unroutable filter lists only those.
import {
  put,
  api,
  ApiError,
  confirmAction,
  el,
  emptyState,
  errorState,
  field,
  itemsOf,
  cursorOf,
  notice,
  select,
  shortId,
  statusBadge,
  timeEl,
  STATUSES,
} from '../lib.js';

export const title = () => 'Tasks';

const PAGE = 25;
const FILTERS = ['status', 'type', 'queue', 'priority', 'agent', 'organ', 'idPrefix', 'waiting', 'unroutable'];
const FLAGS = new Set(['waiting', 'unroutable']);
const PRIORITIES = ['critical', 'high', 'normal', 'low'];

export function render(root, route, app) {
  const f = Object.fromEntries(FILTERS.map((k) => [k, route.params.get(k) || '']));
  const form = el(
    'form',
    { class: 'filters', 'aria-label': 'Filter tasks' },
    field('Status', select('status', [['', 'any'], ...STATUSES.map((s) => [s, s])], f.status)),
    field('Type', el('input', { name: 'type', value: f.type, placeholder: 'e.g. graph_embed', autocomplete: 'off' })),
    field('Queue', el('input', { name: 'queue', value: f.queue, placeholder: 'default', autocomplete: 'off' })),
    field('Priority', select('priority', [['', 'any'], ...PRIORITIES.map((p) => [p, p])], f.priority)),
    field('Agent', el('input', { name: 'agent', value: f.agent, autocomplete: 'off' })),
    field('Organ', el('input', { name: 'organ', value: f.organ, autocomplete: 'off' })),
    field('Id starts with', el('input', { name: 'idPrefix', value: f.idPrefix, pattern: '[0-9a-fA-F\\-]{1,36}', autocomplete: 'off', spellcheck: 'false' })),
    el('label', { class: 'check' }, el('input', { type: 'checkbox', name: 'waiting', value: '1', checked: f.waiting === '1' }), 'Not yet claimable'),
    el(
      'label',
      { class: 'check' },
      el('input', { type: 'checkbox', name: 'unroutable', value: '1', checked: f.unroutable === '1' }),
      'Unroutable (no live organ can serve)',
    ),
    el('div', { class: 'actions' }, el('button', { class: 'btn primary', type: 'submit' }, 'Apply'), el('a', { class: 'btn', href: '#/tasks' }, 'Reset')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) q.set(k, String(v).trim());
    app.navigate(`#/tasks${q.size ? `?${q}` : ''}`);
  });

  const bulkMsg = el('p', { class: 'notice', role: 'status', hidden: true });
  const count = el('span', { class: 'muted', id: 'selected-count' }, '0 selected');
  const cancelBtn = el('button', { type: 'button', class: 'btn danger', id: 'bulk-cancel', disabled: true, onclick: () => bulk('cancel') }, 'Cancel selected');
  const retryBtn = el('button', { type: 'button', class: 'btn', id: 'bulk-retry', disabled: true, onclick: () => bulk('retry') }, 'Retry selected');
  const list = el('div', { id: 'task-list' });
  const more = el('button', { type: 'button', class: 'btn', id: 'tasks-more', hidden: true, onclick: () => loadMore() }, 'Load more');
  const active = FILTERS.filter((k) => f[k]);
  root.append(
    el(
      'div',
      { class: 'view-head' },
      el('h1', {}, 'Tasks'),
      el('span', { class: 'muted' }, active.length ? `filtered by ${active.join(', ')}` : 'all tasks, newest first'),
    ),
    el('details', { class: 'panel filters-box', open: active.length || window.innerWidth > 720 ? true : undefined }, el('summary', {}, 'Filters'), form),
    el('div', { class: 'toolbar' }, count, cancelBtn, retryBtn),
    bulkMsg,
    list,
    more,
  );

  let rows = [];
  let cursor = null;
  const known = new Set();
  const fresh = new Set();
  const selected = new Set();

  function query(limit, after) {
    const q = new URLSearchParams({ limit: String(limit) });
    for (const k of FILTERS) if (f[k]) q.set(k, FLAGS.has(k) ? 'true' : f[k]);
    if (after) q.set('cursor', after);
    return `/api/overview/tasks?${q}`;
  }

  function updateToolbar() {
    count.textContent = `${selected.size} selected`;
    cancelBtn.disabled = selected.size === 0;
    retryBtn.disabled = selected.size === 0;
  }

  function draw() {
    const focusedId = document.activeElement?.closest?.('tr')?.dataset.id;
    const focusedKind = document.activeElement?.tagName;
    if (rows.length === 0) {
      put(
        list,
        emptyState(
          active.length ? 'No tasks match these filters.' : 'No tasks yet. Submit one with POST /api/tasks or `seedcore tasks submit`.',
          active.length ? el('a', { href: '#/tasks', class: 'btn' }, 'Clear filters') : null,
        ),
      );
      more.hidden = true;
      return;
    }
    const all = el('input', {
      type: 'checkbox',
      'aria-label': 'Select all shown tasks',
      checked: rows.every((t) => selected.has(t.id)),
      onchange: (e) => {
        for (const t of rows) e.target.checked ? selected.add(t.id) : selected.delete(t.id);
        draw();
        updateToolbar();
      },
    });
    const table = el(
      'table',
      { class: 'data tasks', id: 'tasks-table' },
      el('caption', { class: 'sr-only' }, `Tasks, ${rows.length} shown`),
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', { scope: 'col', class: 'sel' }, all),
          ...['Task', 'Status', 'Queue', 'Attempts', 'Agent / organ', 'Updated'].map((h) => el('th', { scope: 'col' }, h)),
        ),
      ),
      el(
        'tbody',
        {},
        ...rows.map((t) =>
          el(
            'tr',
            { dataset: { id: t.id }, class: fresh.has(t.id) ? 'fresh' : undefined },
            el(
              'td',
              { class: 'sel' },
              el('input', {
                type: 'checkbox',
                'aria-label': `Select task ${shortId(t.id)}`,
                checked: selected.has(t.id),
                onchange: (e) => {
                  e.target.checked ? selected.add(t.id) : selected.delete(t.id);
                  updateToolbar();
                },
              }),
            ),
            el(
              'td',
              { 'data-label': 'Task' },
              el('a', { href: `#/task/${t.id}`, class: 'id' }, el('code', {}, shortId(t.id))),
              ' ',
              el('span', { class: 'type' }, t.type),
            ),
            el('td', { 'data-label': 'Status' }, statusBadge(t.status), unroutableBadge(t.unroutable)),
            el(
              'td',
              { 'data-label': 'Queue' },
              t.queue ?? '—',
              t.priority && t.priority !== 'normal' ? el('span', { class: `prio p-${t.priority}` }, t.priority) : null,
            ),
            el('td', { 'data-label': 'Attempts' }, t.max_attempts ? `${t.attempts}/${t.max_attempts}` : String(t.attempts ?? 0)),
            el(
              'td',
              { 'data-label': 'Agent / organ', class: 'ellipsis', title: [t.agent, t.organ].filter(Boolean).join(' / ') || undefined },
              [t.agent, t.organ].filter(Boolean).join(' / ') || '—',
            ),
            el('td', { 'data-label': 'Updated' }, timeEl(t.updated_at)),
          ),
        ),
      ),
    );
    put(list, table);
    more.hidden = !cursor;
    if (focusedId) {
      const row = table.querySelector(`tr[data-id="${CSS.escape(focusedId)}"]`);
      (focusedKind === 'INPUT' ? row?.querySelector('input') : row?.querySelector('a'))?.focus();
    }
  }

  async function load() {
    try {
      const page = await api(query(PAGE));
      rows = itemsOf(page);
      cursor = cursorOf(page);
      for (const t of rows) known.add(t.id);
      draw();
    } catch (e) {
      put(list, errorState(e, load));
      more.hidden = true;
    }
  }

  async function loadMore() {
    if (!cursor) return;
    more.disabled = true;
    try {
      const page = await api(query(PAGE, cursor));
      const seen = new Set(rows.map((t) => t.id));
      const add = itemsOf(page).filter((t) => !seen.has(t.id));
      for (const t of add) known.add(t.id);
      rows = rows.concat(add);
      cursor = cursorOf(page);
      draw();
    } catch (e) {
      notice(bulkMsg, e.message, 'error');
    } finally {
      more.disabled = false;
    }
  }

  // A live refresh re-reads from the top down to the oldest loaded row: nothing collapses,
  // loaded rows get their new status, the cursor still continues after that row, and only
  // tasks never seen here are marked new.
  async function refresh() {
    const oldest = rows.at(-1)?.id;
    const page = await api(query(Math.min(1000, rows.length + PAGE)));
    let next = itemsOf(page);
    const at = oldest ? next.findIndex((t) => t.id === oldest) : -1;
    if (at >= 0) next = next.slice(0, at + 1);
    else cursor = cursorOf(page);
    for (const t of next) {
      if (!known.has(t.id)) fresh.add(t.id);
      known.add(t.id);
    }
    rows = next;
    draw();
  }

  async function bulk(action) {
    const ids = rows.filter((t) => selected.has(t.id)).map((t) => t.id);
    if (ids.length === 0) return;
    const ok = await confirmAction(
      action === 'cancel'
        ? {
            title: `Cancel ${ids.length} task${ids.length > 1 ? 's' : ''}?`,
            body: 'Tasks that have not ended stop, and so do the tasks that depend on them. This cannot be undone.',
            confirm: 'Cancel tasks',
          }
        : {
            title: `Retry ${ids.length} task${ids.length > 1 ? 's' : ''}?`,
            body: 'Failed or cancelled tasks run again with a fresh attempt budget.',
            confirm: 'Retry tasks',
            danger: false,
          },
    );
    if (!ok) return;
    const failures = [];
    let done = 0;
    for (const id of ids) {
      try {
        await api(`/api/tasks/${id}/${action}`, { method: 'POST', body: {} });
        done++;
        selected.delete(id);
      } catch (e) {
        failures.push(`${shortId(id)}: ${e.message}`);
        if (e instanceof ApiError && e.offline) break;
      }
    }
    const verb = action === 'cancel' ? 'cancelled' : 'sent to retry';
    notice(bulkMsg, `${done} ${verb}.${failures.length ? ` ${failures.length} not: ${failures.join('; ')}` : ''}`, failures.length ? 'error' : 'ok');
    updateToolbar();
    await refresh().catch(() => undefined);
  }

  return { ready: load(), refresh };
}

/** The badge of a waiting task no live organ can serve, naming what is missing (nothing otherwise). */
export function unroutableBadge(unroutable) {
  if (!unroutable || !Array.isArray(unroutable.missing)) return null;
  const missing = unroutable.missing.join(', ');
  return el('span', { class: 'tag unroutable', title: `No live organ provides: ${missing}`, dataset: { unroutable: missing } }, `unroutable: ${missing}`);
}
