// SeedCore dashboard: plain JS, no framework. Reads the JSON API, listens to /api/events
// (server-sent events) and refreshes what changed.
'use strict';

const STATUSES = ['created', 'queued', 'running', 'retry', 'completed', 'failed', 'cancelled'];
const EMOJI = { completed: '✅', running: '🔄', queued: '⏳', failed: '❌', retry: '🔄', created: '📝', cancelled: '❌' };

// A token given once as ?token=… is kept for this tab only (sessionStorage) and removed
// from the address bar so it does not end up in bookmarks or screenshots.
const token = (() => {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem('seedcore-token', fromUrl);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem('seedcore-token') || '';
})();

const $ = (sel) => document.querySelector(sel);
const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return e;
};

async function api(path, init = {}) {
  const headers = { ...(init.headers || {}) };
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.body) headers['content-type'] = 'application/json';
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401) $('#auth-error').hidden = false;
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`);
  return body;
}

const shortId = (id) => String(id).slice(0, 8);
function ago(ts) {
  if (!ts) return '';
  const s = Math.max(0, (Date.now() - new Date(ts).getTime()) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}
const json = (v) => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v, null, 2));

// ---- state ---------------------------------------------------------------------------
const state = { features: {}, version: null, filters: { status: '', type: '' }, cursor: null, selected: null, known: new Set() };

// ---- counts --------------------------------------------------------------------------
function renderCounts(overview) {
  const box = $('#counts');
  box.replaceChildren(
    ...STATUSES.map((s) =>
      el(
        'div',
        { class: 'card', id: `count-${s}`, title: `show ${s} tasks`, onclick: () => setStatusFilter(s) },
        el('div', { class: 'n' }, `${EMOJI[s]} ${overview.counts[s] ?? 0}`),
        el('div', { class: 'muted' }, s),
      ),
    ),
    el('div', { class: 'card total', id: 'count-total' }, el('div', { class: 'n' }, overview.total), el('div', { class: 'muted' }, 'total')),
  );
  $('#instances-count').textContent = `(${overview.instancesAlive} alive)`;
}

function setStatusFilter(s) {
  $('#filter-status').value = s;
  state.filters.status = s;
  loadTasks();
}

// ---- tasks ---------------------------------------------------------------------------
function taskRow(t, fresh) {
  return el(
    'tr',
    { dataset: { id: t.id }, class: fresh ? 'fresh' : '', onclick: () => showTask(t.id) },
    el('td', {}, EMOJI[t.status] || '❓'),
    el('td', {}, el('code', {}, shortId(t.id))),
    el('td', {}, t.type),
    el('td', { class: 'status' }, t.status),
    el('td', {}, t.max_attempts ? `${t.attempts}/${t.max_attempts}` : t.attempts),
    el('td', {}, t.owner_id || t.locked_by || ''),
    el('td', { title: t.updated_at }, ago(t.updated_at)),
  );
}

async function loadTasks(append = false) {
  if (!state.features.tasks) return;
  const q = new URLSearchParams({ limit: '25' });
  if (state.filters.status) q.set('status', state.filters.status);
  if (state.filters.type) q.set('type', state.filters.type);
  if (append && state.cursor) q.set('cursor', state.cursor);
  const page = await api(`/api/tasks?${q}`);
  const body = $('#tasks-table tbody');
  const first = state.known.size === 0;
  const rows = page.items.map((t) => {
    const fresh = !first && !state.known.has(t.id);
    state.known.add(t.id);
    return taskRow(t, fresh);
  });
  if (append) body.append(...rows);
  else body.replaceChildren(...rows);
  state.cursor = page.nextCursor || null;
  $('#tasks-more').hidden = !state.cursor;
}

async function showTask(id) {
  const t = await api(`/api/tasks/${encodeURIComponent(id)}`);
  state.selected = t.id;
  $('#detail-panel').hidden = false;
  $('#detail-id').textContent = t.id;
  const fields = [
    ['type', t.type],
    ['status', `${EMOJI[t.status] || ''} ${t.status}`],
    ['attempts', t.max_attempts ? `${t.attempts} of ${t.max_attempts}` : t.attempts],
    ['owner', t.owner_id || t.locked_by || '—'],
    ['lease expires', t.lease_expires_at || '—'],
    ['last heartbeat', t.last_heartbeat || '—'],
    ['run after', t.run_after || '—'],
    ['description', t.description || '—'],
    ['domain', t.domain || '—'],
    ['created', t.created_at],
    ['updated', t.updated_at],
  ];
  $('#detail-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { dataset: { field: k } }, v)]));
  $('#detail-params').textContent = json(t.params);
  $('#detail-result').textContent = json(t.result);
  $('#detail-error').textContent = json(t.error);
}

// ---- graph tasks, instances ------------------------------------------------------------
async function loadGraphTasks() {
  const page = await api('/api/graph-tasks?limit=20');
  // First impression: draw the neighbourhood of a graph task's first start node.
  const start = page.items.map((t) => t.params && Array.isArray(t.params.start_ids) && t.params.start_ids[0]).find(Boolean);
  if (start && state.features.graph && !$('#graph-node').value) {
    $('#graph-node').value = String(start);
    showNeighbourhood().catch(() => undefined);
  }
  $('#graph-tasks-table tbody').replaceChildren(
    ...page.items.map((t) =>
      el(
        'tr',
        { dataset: { id: t.id } },
        el('td', {}, t.status_emoji),
        el('td', {}, el('code', {}, shortId(t.id))),
        el('td', {}, t.type),
        el('td', { class: 'status' }, t.status),
        el('td', {}, t.attempts),
        el('td', { title: t.updated_at }, ago(t.updated_at)),
      ),
    ),
  );
}

async function loadInstances() {
  const page = await api('/api/registry/instances');
  $('#instances-table tbody').replaceChildren(
    ...page.items.map((i) =>
      el(
        'tr',
        {},
        el('td', {}, i.logical_id),
        el('td', {}, el('code', {}, shortId(i.instance_id))),
        el('td', {}, i.status),
        el('td', {}, `${Number(i.heartbeat_age_seconds).toFixed(1)} s`),
        el('td', {}, i.pid ?? ''),
      ),
    ),
  );
}

// ---- facts ---------------------------------------------------------------------------
// Snippets arrive HTML-escaped with matches wrapped in <b>…</b>. Build DOM nodes from the
// pieces (decoding entities through a textarea, which never runs markup) instead of innerHTML.
function snippetNode(snippet) {
  const span = el('span');
  const decode = (s) => {
    const ta = document.createElement('textarea');
    ta.innerHTML = s;
    return ta.value;
  };
  snippet.split(/(<b>.*?<\/b>)/g).forEach((piece) => {
    const m = /^<b>(.*)<\/b>$/.exec(piece);
    if (m) span.append(el('mark', {}, decode(m[1])));
    else if (piece) span.append(decode(piece));
  });
  return span;
}

async function searchFacts(ev) {
  if (ev) ev.preventDefault();
  if (!state.features.facts) return;
  const q = new URLSearchParams({ limit: '10' });
  const text = $('#facts-q').value.trim();
  const tag = $('#facts-tag').value.trim();
  if (text) q.set('q', text);
  if (tag) q.set('tag', tag);
  const page = await api(`/api/facts?${q}`);
  $('#facts-results').replaceChildren(
    ...page.items.map((f) =>
      el(
        'li',
        { dataset: { id: f.id } },
        f.snippet ? snippetNode(f.snippet) : el('span', {}, f.text),
        el('div', {}, ...(f.tags || []).map((t) => el('span', { class: 'tag' }, t))),
      ),
    ),
  );
  if (page.items.length === 0) $('#facts-results').append(el('li', { class: 'muted' }, 'no matching facts'));
}

// ---- graph ---------------------------------------------------------------------------
async function loadGraphStats() {
  if (!state.features.graph) return;
  const stats = await api('/api/graph/stats');
  const list = (obj) =>
    Object.entries(obj || {})
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(' · ');
  $('#graph-stats').replaceChildren(
    el('p', {}, el('b', {}, 'nodes: '), list(stats.nodes) || 'none'),
    el('p', {}, el('b', {}, 'edges: '), list(stats.edges) || 'none'),
  );
}

async function showNeighbourhood(ev) {
  if (ev) ev.preventDefault();
  const id = $('#graph-node').value;
  if (!id) return;
  const data = await api(`/api/graph/neighbors/${encodeURIComponent(id)}?hops=1&limit=30`);
  window.drawNeighbourhood($('#graph-svg'), Number(id), data, (nodeId) => {
    $('#graph-node').value = String(nodeId);
    showNeighbourhood();
  });
}

// ---- live updates ----------------------------------------------------------------------
async function refreshAll() {
  await Promise.allSettled([loadTasks(), loadGraphTasks(), loadInstances(), loadGraphStats()]);
  if (state.selected) showTask(state.selected).catch(() => undefined);
}

function onOverview(overview) {
  renderCounts(overview);
  if (overview.version !== state.version) {
    state.version = overview.version;
    refreshAll();
  } else {
    loadInstances().catch(() => undefined); // heartbeat ages move on every tick
  }
}

function connectEvents() {
  const es = new EventSource(`/api/events${token ? `?token=${encodeURIComponent(token)}` : ''}`);
  es.addEventListener('open', () => {
    $('#live').textContent = 'live';
    $('#live').className = 'pill on';
  });
  es.addEventListener('error', () => {
    $('#live').textContent = 'reconnecting';
    $('#live').className = 'pill off';
  });
  es.addEventListener('overview', (e) => onOverview(JSON.parse(e.data)));
}

// ---- start ---------------------------------------------------------------------------
async function start() {
  for (const s of STATUSES) $('#filter-status').append(el('option', { value: s }, `${EMOJI[s]} ${s}`));
  $('#task-filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.filters = { status: $('#filter-status').value, type: $('#filter-type').value.trim() };
    loadTasks();
  });
  $('#tasks-more').addEventListener('click', () => loadTasks(true));
  $('#detail-close').addEventListener('click', () => {
    state.selected = null;
    $('#detail-panel').hidden = true;
  });
  $('#facts-form').addEventListener('submit', searchFacts);
  $('#graph-form').addEventListener('submit', showNeighbourhood);

  const overview = await api('/api/overview');
  state.features = overview.features;
  $('#backend').textContent = `backend: ${overview.backend}`;
  $('#tasks-unavailable').hidden = !!overview.features.tasks;
  $('#tasks-table').hidden = !overview.features.tasks;
  $('#facts-unavailable').hidden = !!overview.features.facts;
  $('#facts-form').hidden = !overview.features.facts;
  $('#graph-unavailable').hidden = !!overview.features.graph;
  $('#graph-form').hidden = !overview.features.graph;
  onOverview(overview);
  searchFacts().catch(() => undefined);
  connectEvents();
  document.body.dataset.ready = 'true';
}

start().catch((e) => {
  document.body.dataset.ready = 'error';
  console.error(e);
});
