// Draws a node's 1-hop neighbourhood as a small SVG: the centre node in the middle, its
// neighbours on a circle, one line per edge. No layout library: a ring is readable for the
// few dozen nodes the dashboard asks for.
'use strict';

(function () {
  const NS = 'http://www.w3.org/2000/svg';
  const COLORS = {
    task: '#4e79a7',
    agent: '#f28e2b',
    organ: '#e15759',
    fact: '#76b7b2',
    skill: '#59a14f',
    service: '#edc948',
    model: '#b07aa1',
    policy: '#ff9da7',
    artifact: '#9c755f',
    capability: '#bab0ac',
    memory_cell: '#8cd17d',
  };
  const svgEl = (tag, attrs) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  };

  /** data: { node: {node_id, node_type, ext_id}, neighbors: [{node_id, node_type, ext_id, hop, via: {src_node_id, dst_node_id, edge_type}}] } */
  window.drawNeighbourhood = function (svg, centreId, data, onSelect) {
    svg.replaceChildren();
    const nodes = (data.neighbors || []).filter((n) => Number(n.node_id) !== centreId);
    const centre = data.node || { node_id: centreId, node_type: '?' };
    data = { edges: nodes.map((n) => n.via) };
    const W = 420,
      H = 300,
      cx = W / 2,
      cy = H / 2,
      r = Math.min(W, H) / 2 - 40;
    const pos = new Map([[centreId, [cx, cy]]]);
    nodes.forEach((n, i) => {
      const a = (2 * Math.PI * i) / Math.max(1, nodes.length) - Math.PI / 2;
      pos.set(Number(n.node_id), [cx + r * Math.cos(a), cy + r * Math.sin(a)]);
    });
    for (const e of data.edges || []) {
      const a = pos.get(Number(e.src_node_id ?? e.src)),
        b = pos.get(Number(e.dst_node_id ?? e.dst));
      if (!a || !b) continue;
      const line = svgEl('line', { x1: a[0], y1: a[1], x2: b[0], y2: b[1] });
      line.append(svgEl('title', {}));
      line.lastChild.textContent = e.edge_type || e.type || '';
      svg.append(line);
    }
    for (const n of [centre, ...nodes]) {
      const p = pos.get(Number(n.node_id));
      if (!p) continue;
      const g = svgEl('g', { class: 'node', 'data-node-id': n.node_id });
      const tip = svgEl('title', {});
      tip.textContent = `${n.node_type} ${n.ext_id ?? ''} (node ${n.node_id})${n.via ? ` via ${n.via.edge_type}` : ''} — click to centre`;
      g.append(tip);
      if (onSelect && Number(n.node_id) !== centreId) {
        g.style.cursor = 'pointer';
        g.addEventListener('click', () => onSelect(Number(n.node_id)));
      }
      g.append(svgEl('circle', { cx: p[0], cy: p[1], r: Number(n.node_id) === centreId ? 11 : 7, fill: COLORS[n.node_type] || '#999' }));
      const label = svgEl('text', { x: p[0] + 10, y: p[1] + 4 });
      label.textContent = `${n.node_type} ${String(n.ext_id ?? n.node_id).slice(0, 14)}`;
      g.append(label);
      svg.append(g);
    }
    if (nodes.length === 0) {
      const t = svgEl('text', { x: 10, y: 20 });
      t.textContent = 'no neighbours';
      svg.append(t);
    }
  };
})();
