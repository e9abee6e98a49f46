// Queues: depth, running and the running-task limit, editable (0 pauses, empty removes).
import { put, api, confirmAction, el, emptyState, errorState, itemsOf, notice } from '../lib.js';

export const title = () => 'Queues';

export function render(root) {
  const body = el('div', { id: 'queues' });
  const msg = el('p', { class: 'notice', role: 'status', id: 'queues-msg', hidden: true });
  root.append(
    el('div', { class: 'view-head' }, el('h1', {}, 'Queues'), el('span', { class: 'muted' }, 'queues with waiting or running tasks, or a limit')),
    msg,
    body,
  );
  let editing = false;

  async function save(q, input) {
    const raw = input.value.trim();
    const limit = raw === '' ? null : Number(raw);
    if (limit !== null && (!Number.isInteger(limit) || limit < 0)) {
      notice(msg, 'The limit is a whole number ≥ 0, or empty for no limit.', 'error');
      input.focus();
      return;
    }
    if (
      limit === 0 &&
      !(await confirmAction({
        title: `Pause queue ${q.queue}?`,
        body: 'A limit of 0 stops workers from claiming its tasks until the limit is raised.',
        confirm: 'Pause queue',
      }))
    )
      return;
    try {
      const r = await api(`/api/queues/${encodeURIComponent(q.queue)}/limit`, { method: 'PUT', body: { max_running: limit } });
      notice(msg, `Saved ${q.queue}: ${r.max_running === null ? 'no limit' : `limit ${r.max_running}`}.`, 'ok');
      editing = false;
      await load(false);
    } catch (e) {
      notice(msg, e.message, 'error');
    }
  }

  async function load(clear = true) {
    try {
      const items = itemsOf(await api('/api/queues'));
      if (items.length === 0) {
        put(body, emptyState('No queues yet: a queue appears once it has waiting or running tasks, or a limit.'));
        return;
      }
      put(
        body,
        el(
          'table',
          { class: 'data', id: 'queues-table' },
          el('thead', {}, el('tr', {}, ...['Queue', 'Waiting', 'Running', 'Limit'].map((h) => el('th', { scope: 'col' }, h)))),
          el(
            'tbody',
            {},
            ...items.map((q) => {
              const input = el('input', {
                type: 'number',
                min: '0',
                step: '1',
                inputmode: 'numeric',
                value: q.max_running ?? '',
                placeholder: 'none',
                'aria-label': `Limit of queue ${q.queue}`,
                class: 'narrow',
                onfocus: () => (editing = true),
              });
              const form = el(
                'form',
                { class: 'inline', onsubmit: (e) => (e.preventDefault(), save(q, input)) },
                input,
                el('button', { class: 'btn', type: 'submit' }, 'Save'),
              );
              return el(
                'tr',
                { dataset: { queue: q.queue } },
                el(
                  'td',
                  { 'data-label': 'Queue' },
                  el('a', { href: `#/tasks?queue=${encodeURIComponent(q.queue)}` }, q.queue),
                  q.max_running === 0 ? el('span', { class: 'prio p-high' }, 'paused') : null,
                ),
                el('td', { 'data-label': 'Waiting' }, String(q.waiting)),
                el('td', { 'data-label': 'Running' }, String(q.running)),
                el('td', { 'data-label': 'Limit' }, form),
              );
            }),
          ),
        ),
      );
    } catch (e) {
      if (clear || !body.firstChild) put(body, errorState(e, load));
    }
  }

  return {
    ready: load(),
    // Do not redraw under someone typing a limit.
    refresh: () => (editing ? undefined : load(false)),
  };
}
