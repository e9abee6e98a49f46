// Graph: find a node by type and name or id, draw its neighbourhood (ring layout, edges
// coloured by type with a legend) and list the neighbours as links for keyboard users.
import { put, api, ApiError, el, emptyState, errorState, field, itemsOf, select, svg } from '../lib.js';

export const title = () => 'Graph';

const NODE_COLOURS = ['#2563eb', '#d97706', '#dc2626', '#0d9488', '#16a34a', '#ca8a04', '#9333ea', '#db2777', '#78716c', '#0891b2', '#65a30d'];
const EDGE_COLOURS = ['#1d4ed8', '#b45309', '#047857', '#7c3aed', '#be123c', '#0e7490', '#4d7c0f', '#a16207', '#6d28d9', '#9f1239'];
const colourOf = (palette, map, key) => {
  if (!map.has(key)) map.set(key, palette[map.size % palette.length]);
  return map.get(key);
};

export function render(root, route, app) {
  const nodeId = route.params.get('node') || '';
  const type = route.params.get('type') || '';
  const q = route.params.get('q') || '';
  const typeSel = select('type', [['', 'any type']], type);
  const form = el(
    'form',
    { class: 'filters', role: 'search', id: 'graph-find' },
    field('Node type', typeSel),
    field('Name or id', el('input', { name: 'q', value: q, required: true, id: 'graph-q', autocomplete: 'off', placeholder: 'e.g. planner or 42' })),
    el('div', { class: 'actions' }, el('button', { class: 'btn primary', type: 'submit' }, 'Find')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) p.set(k, String(v).trim());
    app.navigate(`#/graph?${p}`);
  });
  const stats = el('p', { class: 'muted', id: 'graph-stats' });
  const found = el('div', { id: 'graph-found' });
  const drawing = el('section', { class: 'panel', id: 'graph-view', 'aria-live': 'polite' });
  root.append(el('div', { class: 'view-head' }, el('h1', {}, 'Graph')), el('section', { class: 'panel' }, form, stats, found), drawing);

  async function loadStats() {
    try {
      const s = await api('/api/graph/stats');
      const types = Object.keys(s.nodes || {});
      for (const t of types) typeSel.append(el('option', { value: t, selected: t === type ? 'selected' : undefined }, t));
      const list = (o) =>
        Object.entries(o || {})
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${k} ${n}`)
          .join(' · ');
      stats.textContent = `Nodes: ${list(s.nodes) || 'none'}. Edges: ${list(s.edges) || 'none'}.`;
    } catch (e) {
      put(stats, errorState(e));
    }
  }

  async function find() {
    if (!q) return;
    try {
      const p = new URLSearchParams({ q });
      if (type) p.set('type', type);
      const items = itemsOf(await api(`/api/overview/graph/find?${p}`));
      put(
        found,
        items.length === 0
          ? emptyState(`No ${type || 'node'} matches “${q}”.`)
          : el(
              'ul',
              { class: 'links', id: 'graph-results' },
              ...items.map((n) =>
                el(
                  'li',
                  {},
                  el('a', { href: `#/graph?node=${n.node_id}` }, `${n.node_type} ${n.label ? `${n.label} (${n.ext_id})` : n.ext_id}`),
                  el('span', { class: 'muted' }, ` node ${n.node_id}`),
                ),
              ),
            ),
      );
      if (items.length === 1 && !nodeId) app.navigate(`#/graph?node=${items[0].node_id}`, { replace: true });
    } catch (e) {
      put(found, errorState(e, find));
    }
  }

  async function draw() {
    if (!nodeId) {
      put(drawing, emptyState('Find a node to see its neighbourhood.'));
      return;
    }
    let data;
    try {
      data = await api(`/api/graph/neighbors/${encodeURIComponent(nodeId)}?hops=1&limit=40`);
    } catch (e) {
      put(drawing, e instanceof ApiError && (e.status === 404 || e.status === 400) ? emptyState(`Graph node ${nodeId} does not exist.`) : errorState(e, draw));
      return;
    }
    const centre = data.node;
    const nodes = (data.neighbors || []).filter((n) => Number(n.node_id) !== Number(centre.node_id));
    const nodeCol = new Map();
    const edgeCol = new Map();
    // A phone gets a taller, narrower drawing so labels stay readable once scaled down.
    const narrow = (drawing.clientWidth || window.innerWidth) < 600;
    const [W, H, rx, ry, chars] = narrow ? [480, 560, 120, 200, 12] : [760, 420, 210, 160, 18];
    const pos = new Map([[Number(centre.node_id), [W / 2, H / 2]]]);
    nodes.forEach((n, i) => {
      const a = (2 * Math.PI * i) / Math.max(1, nodes.length) - Math.PI / 2;
      pos.set(Number(n.node_id), [W / 2 + rx * Math.cos(a), H / 2 + ry * Math.sin(a)]);
    });
    const pic = svg('svg', {
      viewBox: `0 0 ${W} ${H}`,
      class: narrow ? 'graph narrow' : 'graph',
      role: 'group',
      id: 'graph-svg',
      'aria-label': `${centre.node_type} ${centre.ext_id} and ${nodes.length} neighbours`,
    });
    for (const n of nodes) {
      const a = pos.get(Number(n.via.src_node_id));
      const b = pos.get(Number(n.via.dst_node_id));
      if (!a || !b) continue;
      const line = svg('line', { x1: a[0], y1: a[1], x2: b[0], y2: b[1], stroke: colourOf(EDGE_COLOURS, edgeCol, n.via.edge_type), class: 'edge' });
      line.append(svg('title', {}, n.via.edge_type));
      pic.append(line);
    }
    for (const n of [centre, ...nodes]) {
      const [x, y] = pos.get(Number(n.node_id));
      const isCentre = n === centre;
      const ext = String(n.ext_id);
      const shown = `${n.node_type}: ${ext.length > chars ? `${ext.slice(0, chars - 1)}…` : ext}`;
      // The accessible name starts with the visible label; a shortened one adds the full id.
      const name = ext.length > chars ? `${shown} ${n.node_type} ${ext}` : shown;
      const link = svg('a', { href: `#/graph?node=${n.node_id}`, class: 'node', 'data-node-id': n.node_id, 'aria-label': name });
      link.append(
        svg('title', {}, `${n.node_type} ${n.ext_id} (node ${n.node_id})${n.via ? ` via ${n.via.edge_type}` : ''}`),
        svg('circle', { cx: x, cy: y, r: isCentre ? 12 : 8, fill: colourOf(NODE_COLOURS, nodeCol, n.node_type) }),
      );
      const right = x >= W / 2;
      const label = svg('text', {
        x: x + (right ? 12 : -12),
        y: y + 4,
        'text-anchor': isCentre ? 'middle' : right ? 'start' : 'end',
        class: isCentre ? 'centre' : '',
      });
      if (isCentre) label.setAttribute('y', String(y - 18));
      label.textContent = shown;
      link.append(label);
      pic.append(link);
    }
    const legend = el(
      'div',
      { class: 'legend-box', id: 'graph-legend' },
      el('h3', {}, 'Edge types'),
      edgeCol.size
        ? el('ul', { class: 'legend-list' }, ...[...edgeCol].map(([t, c]) => el('li', {}, legendSwatch(c, 'line'), t)))
        : el('p', { class: 'muted' }, 'none'),
      el('h3', {}, 'Node types'),
      el('ul', { class: 'legend-list' }, ...[...nodeCol].map(([t, c]) => el('li', {}, legendSwatch(c, 'dot'), t))),
    );
    put(
      drawing,
      el('h2', {}, `${centre.node_type} ${centre.ext_id}`, el('span', { class: 'muted' }, ` node ${centre.node_id}`)),
      centre.node_type === 'task' ? el('p', {}, el('a', { href: `#/task/${centre.ext_id}` }, 'Open this task')) : null,
      nodes.length === 0 ? emptyState('This node has no neighbours.') : el('div', { class: 'graph-wrap' }, pic, legend),
      nodes.length
        ? el(
            'table',
            { class: 'data compact', id: 'neighbours-table' },
            el('caption', { class: 'sr-only' }, 'Neighbours'),
            el('thead', {}, el('tr', {}, ...['Neighbour', 'Edge'].map((h) => el('th', { scope: 'col' }, h)))),
            el(
              'tbody',
              {},
              ...nodes.map((n) =>
                el(
                  'tr',
                  {},
                  el('td', { 'data-label': 'Neighbour' }, el('a', { href: `#/graph?node=${n.node_id}` }, `${n.node_type} ${n.ext_id}`)),
                  el('td', { 'data-label': 'Edge' }, n.via.edge_type),
                ),
              ),
            ),
          )
        : null,
    );
    // Colours through the CSSOM: the page's CSP allows no inline style attributes.
    for (const s of drawing.querySelectorAll('[data-colour]')) s.style.background = s.dataset.colour;
  }

  function legendSwatch(colour, kind) {
    return el('span', { class: `swatch ${kind}`, dataset: { colour }, 'aria-hidden': 'true' });
  }

  return { ready: Promise.all([loadStats(), find(), draw()]) };
}
