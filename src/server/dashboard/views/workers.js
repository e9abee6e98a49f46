// Workers: instances from the runtime registry with heartbeat age, the organ each serves (its
// agent, capabilities with versions and skills: an organ's instance has the organ id as its
// logical id), and the tasks each has in flight (running tasks grouped by the owner id that
// claimed them).
import { put, api, el, emptyState, errorState, itemsOf, shortId, timeEl } from '../lib.js';

export const title = () => 'Workers';

export function render(root, route, app) {
  const all = route.params.get('all') === '1';
  const body = el('div', { id: 'workers' });
  const owners = el('section', { class: 'panel', 'aria-labelledby': 'own-h' });
  root.append(
    el(
      'div',
      { class: 'view-head' },
      el('h1', {}, 'Workers'),
      el('a', { class: 'btn', href: all ? '#/workers' : '#/workers?all=1' }, all ? 'Show live only' : 'Include stopped and dead'),
    ),
    body,
    owners,
  );

  async function load() {
    try {
      const [inst, flight, organList] = await Promise.all([
        api(`/api/registry/instances${all ? '?all=true' : ''}`),
        api('/api/overview/in-flight').catch(() => ({ items: [] })),
        api('/api/overview/organs').catch(() => ({ items: [] })),
      ]);
      const items = itemsOf(inst);
      const organs = new Map(itemsOf(organList).map((o) => [o.organId, o]));
      const organCell = (i) => {
        const o = organs.get(i.logical_id);
        if (!o) return el('span', { class: 'muted' }, '—');
        const caps = o.capabilities.map((c) => (c.version ? `${c.name}@${c.version}` : c.name));
        return el(
          'div',
          { class: 'organ' },
          el('span', { class: 'tag organ-tag' }, 'organ'),
          o.agentId ? el('span', {}, ' agent ', el('strong', {}, o.agentId)) : null,
          caps.length ? el('div', { class: 'caps' }, ...caps.map((c) => el('code', { class: 'cap' }, c))) : el('div', { class: 'muted' }, 'no capabilities'),
          o.skills.length ? el('div', { class: 'muted' }, `skills: ${o.skills.join(', ')}`) : null,
        );
      };
      const running = new Map(itemsOf(flight).map((f) => [f.owner, f]));
      const matched = new Set();
      const inFlight = (i) => {
        let n = 0;
        for (const key of [i.instance_id, i.logical_id, i.actor_name].filter(Boolean)) {
          const f = running.get(key);
          if (f && !matched.has(key)) {
            n += f.running;
            matched.add(key);
          }
        }
        return n;
      };
      put(
        body,
        items.length === 0
          ? emptyState(all ? 'No instance has ever registered.' : 'No live instances. Workers appear here once they register and heartbeat.')
          : el(
              'table',
              { class: 'data', id: 'instances-table' },
              el(
                'thead',
                {},
                el(
                  'tr',
                  {},
                  ...['Logical id', 'Instance', 'Status', 'Organ and capabilities', 'Heartbeat', 'Node', 'In flight'].map((h) => el('th', { scope: 'col' }, h)),
                ),
              ),
              el(
                'tbody',
                {},
                ...items.map((i) => {
                  const age = Number(i.heartbeat_age_seconds);
                  return el(
                    'tr',
                    { dataset: { id: i.instance_id } },
                    el(
                      'td',
                      { 'data-label': 'Logical id' },
                      el('a', { href: `#/graph?q=${encodeURIComponent(i.logical_id)}`, title: 'Find in the graph' }, el('strong', {}, i.logical_id)),
                      i.actor_name ? el('span', { class: 'muted' }, ` ${i.actor_name}`) : null,
                    ),
                    el('td', { 'data-label': 'Instance' }, el('code', { title: i.instance_id }, shortId(i.instance_id))),
                    el('td', { 'data-label': 'Status' }, el('span', { class: `tag st-${i.status}` }, i.status)),
                    el('td', { 'data-label': 'Organ' }, organCell(i)),
                    el(
                      'td',
                      { 'data-label': 'Heartbeat' },
                      Number.isFinite(age) ? el('span', { class: age > 30 ? 'warn' : '' }, `${age.toFixed(1)} s ago`) : timeEl(i.last_heartbeat),
                    ),
                    el('td', { 'data-label': 'Node' }, [i.node_id, i.ip_address, i.pid ? `pid ${i.pid}` : null].filter(Boolean).join(' · ') || '—'),
                    el('td', { 'data-label': 'In flight' }, String(inFlight(i))),
                  );
                }),
              ),
            ),
      );
      const other = [...running.values()].filter((f) => !matched.has(f.owner));
      put(
        owners,
        el('h2', { id: 'own-h' }, 'Running tasks by owner'),
        running.size === 0
          ? emptyState('Nothing is running.')
          : el(
              'ul',
              { class: 'links', id: 'owners' },
              ...[...running.values()].map((f) =>
                el(
                  'li',
                  {},
                  el('code', { class: 'wrap' }, f.owner),
                  ` — ${f.running} running, oldest claimed `,
                  timeEl(f.oldest_locked_at),
                  other.includes(f) ? el('span', { class: 'muted' }, ' (not a registered instance)') : null,
                ),
              ),
            ),
        el('p', {}, el('a', { href: '#/tasks?status=running' }, 'All running tasks')),
      );
    } catch (e) {
      put(body, errorState(e, load));
    }
  }

  return { ready: load(), refresh: load, tick: load, onOverview: () => undefined, app };
}
