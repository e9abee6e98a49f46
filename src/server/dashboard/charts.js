// Small SVG charts: bars per time bucket (one or two series side by side) and a line. A few
// dozen points do not need a charting library; each chart carries a text summary for
// screen readers and a <title> per bar for pointer users.
import { svg, el } from './lib.js';

const W = 600;
const H = 170;
const PAD = { l: 40, r: 8, t: 10, b: 22 };

function axis(max, unit) {
  const g = svg('g', { class: 'axis' });
  for (const f of [0, 0.5, 1]) {
    const y = PAD.t + (1 - f) * (H - PAD.t - PAD.b);
    g.append(svg('line', { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, class: 'grid' }));
    const label = svg('text', { x: PAD.l - 4, y: y + 4, 'text-anchor': 'end' });
    label.textContent = `${+(max * f).toFixed(max * f < 10 && f > 0 ? 1 : 0)}${unit}`;
    g.append(label);
  }
  return g;
}

function timeLabels(times) {
  const g = svg('g', { class: 'axis' });
  if (times.length === 0) return g;
  const iw = (W - PAD.l - PAD.r) / times.length;
  for (const i of [0, Math.floor(times.length / 2), times.length - 1]) {
    const t = svg('text', { x: PAD.l + i * iw + iw / 2, y: H - 6, 'text-anchor': 'middle' });
    t.textContent = new Date(times[i]).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    g.append(t);
  }
  return g;
}

/** series: [{ name, values: number[], cls }]; times: bucket start ISO strings. */
export function barChart({ label, times, series, unit = '' }) {
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const n = times.length;
  const iw = (W - PAD.l - PAD.r) / Math.max(1, n);
  const bw = Math.max(1, (iw - 2) / series.length);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': summary(label, series, unit) });
  root.append(axis(max, unit), timeLabels(times));
  series.forEach((s, si) => {
    s.values.forEach((v, i) => {
      if (!v) return;
      const h = (v / max) * (H - PAD.t - PAD.b);
      const r = svg('rect', { x: PAD.l + i * iw + 1 + si * bw, y: H - PAD.b - h, width: bw, height: h, class: `bar ${s.cls}` });
      r.append(svg('title', {}, `${s.name}: ${v}${unit} at ${new Date(times[i]).toLocaleTimeString()}`));
      root.append(r);
    });
  });
  return wrap(label, root, series);
}

/** A line for values that may be missing (null = no data in that bucket). */
export function lineChart({ label, times, series, unit = '' }) {
  const max = Math.max(1, ...series.flatMap((s) => s.values.filter((v) => v !== null)));
  const n = Math.max(1, times.length);
  const iw = (W - PAD.l - PAD.r) / n;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': summary(label, series, unit) });
  root.append(axis(max, unit), timeLabels(times));
  for (const s of series) {
    const pts = s.values.map((v, i) => (v === null ? null : [PAD.l + i * iw + iw / 2, H - PAD.b - (v / max) * (H - PAD.t - PAD.b)])).filter(Boolean);
    if (pts.length > 1) root.append(svg('polyline', { points: pts.map((p) => p.join(',')).join(' '), class: `line ${s.cls}` }));
    for (const [x, y] of pts) root.append(svg('circle', { cx: x, cy: y, r: 2.5, class: `dot ${s.cls}` }));
  }
  return wrap(label, root, series);
}

function summary(label, series, unit) {
  const parts = series.map((s) => {
    const vals = s.values.filter((v) => v !== null);
    const total = vals.reduce((a, b) => a + b, 0);
    return `${s.name}: total ${+total.toFixed(1)}${unit}, peak ${+Math.max(0, ...vals).toFixed(1)}${unit}`;
  });
  return `${label}. ${parts.join('; ')}`;
}

function wrap(label, chart, series) {
  return el(
    'figure',
    { class: 'chart-box' },
    el('figcaption', {}, label, el('span', { class: 'legend' }, ...series.map((s) => el('span', { class: `key ${s.cls}` }, s.name)))),
    chart,
  );
}
