// Shared helpers: DOM building, SVG status icons, the API client (token, errors, connection
// state), formatting, and the confirmation dialog.

export const STATUSES = ['created', 'queued', 'running', 'retry', 'completed', 'failed', 'cancelled'];
const SVG_NS = 'http://www.w3.org/2000/svg';

// A token given once as ?token=… is kept for this tab only (sessionStorage) and removed from
// the address bar so it does not end up in bookmarks or screenshots.
export const auth = {
  token: (() => {
    const url = new URL(location.href);
    const fromUrl = url.searchParams.get('token');
    if (fromUrl) {
      sessionStorage.setItem('seedcore-token', fromUrl);
      url.searchParams.delete('token');
      history.replaceState(null, '', url.pathname + url.search + url.hash);
    }
    return sessionStorage.getItem('seedcore-token') || '';
  })(),
  set(t) {
    this.token = t;
    sessionStorage.setItem('seedcore-token', t);
  },
};

export const $ = (sel, root = document) => root.querySelector(sel);

export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'disabled') e[k] = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  append(e, children);
  return e;
}

function append(parent, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    parent.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  append(e, children);
  return e;
}

// One distinct 16×16 outline icon per status; always shown next to the status word.
const ICON_PATHS = {
  created: ['M3 13h10', 'M4 10.5 10.5 4 12 5.5 5.5 12H4z'],
  queued: ['M8 2.5a5.5 5.5 0 1 0 0 11 5.5 5.5 0 0 0 0-11z', 'M8 5v3.2l2 1.3'],
  running: ['M5.5 3.5v9l7-4.5z'],
  retry: ['M12.5 6A5 5 0 0 0 3.6 5', 'M3 2.5V5.5h3', 'M3.5 10a5 5 0 0 0 8.9 1', 'M13 13.5v-3h-3'],
  completed: ['M8 2.5a5.5 5.5 0 1 0 0 11 5.5 5.5 0 0 0 0-11z', 'M5.5 8.2 7.3 10l3.3-3.6'],
  failed: ['M8 2 14.5 13.5h-13z', 'M8 6.5v3', 'M8 11.5v.3'],
  cancelled: ['M8 2.5a5.5 5.5 0 1 0 0 11 5.5 5.5 0 0 0 0-11z', 'M4.2 11.8l7.6-7.6'],
  unknown: ['M8 2.5a5.5 5.5 0 1 0 0 11 5.5 5.5 0 0 0 0-11z', 'M6.3 6.3a1.8 1.8 0 1 1 2.4 1.7c-.5.2-.7.6-.7 1v.5', 'M8 11.3v.2'],
};

export function icon(name, cls = '') {
  const paths = ICON_PATHS[name] || ICON_PATHS.unknown;
  return svg(
    'svg',
    { class: `icon ${cls}`.trim(), viewBox: '0 0 16 16', width: 16, height: 16, 'aria-hidden': 'true', focusable: 'false', 'data-icon': name },
    ...paths.map((d) => svg('path', { d })),
  );
}

export function statusBadge(status) {
  const s = STATUSES.includes(status) ? status : 'unknown';
  return el('span', { class: `status s-${s}`, dataset: { status: String(status) } }, icon(s), el('span', {}, String(status)));
}

// ---- API -----------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(message, { status = 0, code = '', offline = false } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.offline = offline;
  }
}

const listeners = new Set();
export const connection = {
  online: true,
  authRequired: false,
  on(fn) {
    listeners.add(fn);
  },
  set(patch) {
    const before = `${this.online}|${this.authRequired}`;
    Object.assign(this, patch);
    if (`${this.online}|${this.authRequired}` !== before) for (const fn of listeners) fn(this);
  },
};

export async function api(path, init = {}) {
  const headers = { ...(init.headers || {}) };
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { ...init, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  } catch {
    connection.set({ online: false });
    throw new ApiError('Cannot reach the server. The page reconnects by itself when it is back.', { offline: true });
  }
  connection.set({ online: true, ...(res.status === 401 ? { authRequired: true } : {}) });
  if (res.status === 204) return {};
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    // Tolerate both {error: {code, message}} and a flat {code, message}.
    const err = body && typeof body.error === 'object' && body.error ? body.error : body || {};
    throw new ApiError(err.message || `HTTP ${res.status}`, { status: res.status, code: err.code || '' });
  }
  return body;
}

/** The array of a list response, whatever the envelope ({items}, {data}, or a bare array). */
export const itemsOf = (page) => (Array.isArray(page) ? page : (page?.items ?? page?.data ?? []));
export const cursorOf = (page) => page?.nextCursor ?? page?.next_cursor ?? page?.page?.nextCursor ?? null;

// ---- formatting --------------------------------------------------------------------------

export const shortId = (id) => String(id ?? '').slice(0, 8);

export function ago(ts) {
  if (!ts) return '—';
  const s = (Date.now() - new Date(ts).getTime()) / 1000;
  const f = Math.abs(s);
  const v = f < 60 ? `${Math.round(f)} s` : f < 3600 ? `${Math.round(f / 60)} min` : f < 172800 ? `${Math.round(f / 3600)} h` : `${Math.round(f / 86400)} d`;
  return s >= 0 ? `${v} ago` : `in ${v}`;
}

export const fmtTime = (ts) => (ts ? new Date(ts).toLocaleString() : '—');
export const json = (v) => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v, null, 2));

export function timeEl(ts) {
  return ts ? el('time', { datetime: ts, title: fmtTime(ts) }, ago(ts)) : el('span', { class: 'muted' }, '—');
}

// ---- states and notices ------------------------------------------------------------------

export function emptyState(text, ...extra) {
  return el('div', { class: 'empty', role: 'status' }, icon('unknown'), el('p', {}, text), ...extra);
}

export function errorState(err, retry) {
  const msg = err instanceof ApiError && err.offline ? err.message : `Could not load: ${err.message || err}`;
  return el(
    'div',
    { class: 'error-state', role: 'alert' },
    icon('failed'),
    el('p', {}, msg),
    retry ? el('button', { type: 'button', class: 'btn', onclick: retry }, 'Try again') : null,
  );
}

/** An inline message slot (role=status) next to a form or button. */
export function notice(node, text, kind = 'info') {
  node.className = `notice ${kind}`;
  node.textContent = text;
  node.hidden = !text;
}

// ---- confirmation dialog ------------------------------------------------------------------

/** Ask before a destructive action; resolves true when confirmed. Esc and Cancel say no. */
export function confirmAction({ title, body, confirm = 'Confirm', danger = true }) {
  return new Promise((resolve) => {
    const dlg = el(
      'dialog',
      { class: 'dialog', 'aria-labelledby': 'dlg-title', 'aria-describedby': 'dlg-body' },
      el('h2', { id: 'dlg-title' }, title),
      el('p', { id: 'dlg-body' }, body),
    );
    const done = (v) => {
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    const no = el('button', { type: 'button', class: 'btn', onclick: () => done(false) }, 'Cancel');
    const yes = el('button', { type: 'button', class: danger ? 'btn danger' : 'btn primary', id: 'dlg-confirm', onclick: () => done(true) }, confirm);
    dlg.append(el('div', { class: 'actions' }, no, yes));
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.append(dlg);
    dlg.showModal();
    no.focus();
  });
}

export function field(label, input, hint) {
  return el('label', { class: 'field' }, el('span', { class: 'label' }, label), input, hint ? el('span', { class: 'hint' }, hint) : null);
}

export function select(name, options, value) {
  return el('select', { name }, ...options.map(([v, text]) => el('option', { value: v, selected: v === value ? 'selected' : undefined }, text)));
}

/** Replace a node's children, skipping null/false ones (replaceChildren would print "null"). */
export function put(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

let openapi = null;
/** Whether the server documents a route (e.g. '/api/tasks/{id}/runs'), from /openapi.json. */
export async function apiHas(path) {
  openapi ??= fetch('/openapi.json')
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null);
  const doc = await openapi;
  if (!doc) openapi = null;
  return doc ? Boolean(doc.paths?.[path]) : true;
}
