// Schedules: cron and time zone, next fire, the last task it made, enable/disable.
import { put, api, confirmAction, el, emptyState, errorState, itemsOf, notice, shortId, timeEl } from '../lib.js';

export const title = () => 'Schedules';

export function render(root) {
  const msg = el('p', { class: 'notice', role: 'status', hidden: true });
  const body = el('div', { id: 'schedules' });
  root.append(el('div', { class: 'view-head' }, el('h1', {}, 'Schedules')), msg, body);

  async function toggle(s) {
    if (
      s.enabled &&
      !(await confirmAction({
        title: `Disable schedule ${s.name}?`,
        body: 'It makes no tasks until enabled again; slots missed meanwhile do not fire.',
        confirm: 'Disable',
      }))
    )
      return;
    try {
      await api(`/api/schedules/${encodeURIComponent(s.name)}`, { method: 'PATCH', body: { enabled: !s.enabled } });
      notice(msg, `${s.name} ${s.enabled ? 'disabled' : 'enabled'}.`, 'ok');
      await load();
    } catch (e) {
      notice(msg, e.message, 'error');
    }
  }

  async function load() {
    try {
      const items = itemsOf(await api('/api/schedules'));
      if (items.length === 0) {
        put(body, emptyState('No schedules. Create one with PUT /api/schedules/<name> or `seedcore schedules set`.'));
        return;
      }
      put(
        body,
        el(
          'table',
          { class: 'data', id: 'schedules-table' },
          el('thead', {}, el('tr', {}, ...['Name', 'Cron', 'Task', 'Next fire', 'Last task', 'State'].map((h) => el('th', { scope: 'col' }, h)))),
          el(
            'tbody',
            {},
            ...items.map((s) =>
              el(
                'tr',
                { dataset: { name: s.name } },
                el('td', { 'data-label': 'Name' }, el('strong', {}, s.name)),
                el('td', { 'data-label': 'Cron' }, el('code', {}, s.cron), ' ', el('span', { class: 'muted' }, s.timezone)),
                el('td', { 'data-label': 'Task' }, s.type, ' ', el('span', { class: 'muted' }, `${s.queue} · ${s.priority}`)),
                el('td', { 'data-label': 'Next fire' }, s.enabled ? timeEl(s.next_slot) : el('span', { class: 'muted' }, 'disabled')),
                el(
                  'td',
                  { 'data-label': 'Last task' },
                  s.last_task_id
                    ? el('a', { href: `#/task/${s.last_task_id}` }, el('code', {}, shortId(s.last_task_id)))
                    : el('span', { class: 'muted' }, 'none yet'),
                ),
                el(
                  'td',
                  { 'data-label': 'State' },
                  el(
                    'button',
                    {
                      type: 'button',
                      class: s.enabled ? 'btn' : 'btn primary',
                      'aria-label': `${s.enabled ? 'Disable' : 'Enable'} schedule ${s.name}`,
                      onclick: () => toggle(s),
                    },
                    s.enabled ? 'Disable' : 'Enable',
                  ),
                ),
              ),
            ),
          ),
        ),
      );
    } catch (e) {
      put(body, errorState(e, load));
    }
  }

  return { ready: load(), refresh: load };
}
