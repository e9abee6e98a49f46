// SeedCore dashboard: plain ES modules, no build step. Hash routes give every view its own
// address (#/tasks?status=failed, #/task/<id>, #/graph?node=42) so deep links and the back
// button work; /api/events (server-sent events) drives live refreshes.
import { $, api, auth, connection } from './lib.js';
import * as overview from './views/overview.js';
import * as tasks from './views/tasks.js';
import * as task from './views/task.js';
import * as queues from './views/queues.js';
import * as schedules from './views/schedules.js';
import * as workers from './views/workers.js';
import * as graph from './views/graph.js';
import * as facts from './views/facts.js';

const VIEWS = { overview, tasks, task, queues, schedules, workers, graph, facts };
const NAV_OF = { task: 'tasks' };

const app = {
  overview: null,
  features: {},
  current: null,
  navigate(hash, { replace = false } = {}) {
    if (replace) history.replaceState(null, '', hash);
    else history.pushState(null, '', hash);
    void route();
  },
};

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const [name = '', ...rest] = path.split('/').map(decodeURIComponent);
  return { name: VIEWS[name] ? name : 'overview', rest, params: new URLSearchParams(query) };
}

let routed = null;
async function route({ force = false } = {}) {
  // hashchange and popstate both fire on a back step; render once per address.
  if (!force && routed === location.hash) return;
  const first = routed === null;
  routed = location.hash;
  const r = parseHash();
  app.current?.dispose?.();
  const root = $('#view');
  root.replaceChildren();
  root.setAttribute('aria-busy', 'true');
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.view === (NAV_OF[r.name] || r.name)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = VIEWS[r.name];
  document.title = `${view.title(r)} · SeedCore`;
  const controller = view.render(root, r, app) || {};
  app.current = controller;
  await Promise.resolve(controller.ready).catch(() => undefined);
  if (app.current === controller) {
    root.setAttribute('aria-busy', 'false');
    document.body.dataset.view = r.name;
    // A new view starts at its top, with keyboard focus on it (not on the link left behind).
    if (!first) {
      window.scrollTo(0, 0);
      root.focus({ preventScroll: true });
    }
  }
}

// Coalesce refreshes: at most one in flight, and one more queued behind it.
let refreshing = null;
let again = false;
function refreshView() {
  if (refreshing) {
    again = true;
    return;
  }
  const c = app.current;
  refreshing = Promise.resolve(c?.refresh?.())
    .catch(() => undefined)
    .finally(() => {
      refreshing = null;
      if (again) {
        again = false;
        refreshView();
      }
    });
}

function onOverview(ov) {
  const changed = ov.version !== app.overview?.version;
  app.overview = { ...app.overview, ...ov };
  overview.recordSample(ov);
  app.current?.onOverview?.(app.overview);
  if (changed) refreshView();
  else app.current?.tick?.();
}

let es = null;
let retryTimer = null;
function connectEvents() {
  es?.close();
  es = new EventSource(`/api/events${auth.token ? `?token=${encodeURIComponent(auth.token)}` : ''}`);
  es.addEventListener('open', () => {
    const wasOffline = !connection.online;
    connection.set({ online: true });
    setLive('live', 'on');
    // Whatever changed while we were away: redraw the current view.
    if (wasOffline) refreshView();
  });
  es.addEventListener('error', () => {
    setLive('reconnecting', 'off');
    connection.set({ online: false });
    // The browser retries by itself unless the stream was refused (e.g. a 5xx while the server
    // restarts); then start a new one.
    if (es.readyState === EventSource.CLOSED && !retryTimer) {
      retryTimer = setTimeout(() => {
        retryTimer = null;
        connectEvents();
      }, 2000);
    }
  });
  es.addEventListener('overview', (e) => {
    document.body.dataset.events = 'live';
    onOverview(JSON.parse(e.data));
  });
}

function setLive(text, cls) {
  const live = $('#live');
  live.textContent = text;
  live.className = `pill ${cls}`;
}

connection.on((c) => {
  const banner = $('#conn-banner');
  banner.hidden = c.online;
  banner.textContent = c.online ? '' : 'Connection to the server lost. Showing the last data received; reconnecting…';
  document.body.classList.toggle('offline', !c.online);
  $('#auth-form').hidden = !c.authRequired;
});

$('#auth-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  auth.set($('#auth-token').value.trim());
  connection.set({ authRequired: false });
  start();
});

window.addEventListener('popstate', () => void route());
window.addEventListener('hashchange', () => void route());

async function start() {
  try {
    const ov = await api('/api/overview');
    app.overview = ov;
    app.features = ov.features || {};
    $('#backend').textContent = `Backend: ${ov.backend}`;
  } catch {
    // The view shows its own error state; the event stream brings the page back.
  }
  await route({ force: true });
  connectEvents();
  document.body.dataset.ready = 'true';
}

start();
