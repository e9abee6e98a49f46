// Facts: full-text search with highlighted snippets, tags and metadata; add a fact.
import { put, api, el, emptyState, errorState, field, itemsOf, cursorOf, notice, shortId, timeEl } from '../lib.js';

export const title = () => 'Facts';

// Snippets arrive HTML-escaped with matches wrapped in <b>…</b>. Build DOM nodes from the
// pieces (decoding entities through a textarea, which never runs markup), never innerHTML.
function snippetNode(snippet) {
  const span = el('span', { class: 'snippet' });
  const decode = (s) => {
    const ta = document.createElement('textarea');
    ta.innerHTML = s;
    return ta.value;
  };
  for (const piece of snippet.split(/(<b>.*?<\/b>)/g)) {
    const m = /^<b>(.*)<\/b>$/.exec(piece);
    if (m) span.append(el('mark', {}, decode(m[1])));
    else if (piece) span.append(decode(piece));
  }
  return span;
}

export function render(root, route, app) {
  const q = route.params.get('q') || '';
  const tag = route.params.get('tag') || '';
  const search = el(
    'form',
    { class: 'filters', role: 'search', id: 'facts-search' },
    field('Search', el('input', { name: 'q', type: 'search', value: q, placeholder: 'words, "a phrase", -exclude', id: 'facts-q' })),
    field('Tag', el('input', { name: 'tag', value: tag, id: 'facts-tag', autocomplete: 'off' })),
    el('div', { class: 'actions' }, el('button', { class: 'btn primary', type: 'submit' }, 'Search')),
  );
  search.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(search)) if (String(v).trim()) p.set(k, String(v).trim());
    app.navigate(`#/facts${p.size ? `?${p}` : ''}`);
  });
  const addMsg = el('p', { class: 'notice', role: 'status', hidden: true });
  const add = el(
    'form',
    { class: 'stack', id: 'fact-add' },
    field('Text', el('textarea', { name: 'text', rows: '3', required: true, maxlength: '100000', id: 'fact-text' })),
    field('Tags', el('input', { name: 'tags', placeholder: 'comma separated', id: 'fact-tags', autocomplete: 'off' })),
    field('Metadata (JSON object)', el('textarea', { name: 'meta', rows: '2', placeholder: '{"source": "ops"}', id: 'fact-meta', spellcheck: 'false' })),
    el('div', { class: 'actions' }, el('button', { class: 'btn primary', type: 'submit' }, 'Add fact')),
    addMsg,
  );
  add.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = new FormData(add);
    const body = { text: String(data.get('text') || '').trim() };
    const tags = String(data.get('tags') || '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    if (tags.length) body.tags = tags;
    const meta = String(data.get('meta') || '').trim();
    if (meta) {
      try {
        body.meta_data = JSON.parse(meta);
      } catch {
        notice(addMsg, 'Metadata is not valid JSON.', 'error');
        return;
      }
    }
    try {
      const f = await api('/api/facts', { method: 'POST', body });
      notice(addMsg, `Added fact ${shortId(f.id)}.`, 'ok');
      add.reset();
      await load();
    } catch (e) {
      notice(addMsg, e.message, 'error');
    }
  });

  const results = el('ol', { class: 'facts', id: 'facts-results' });
  const status = el('div');
  const more = el('button', { type: 'button', class: 'btn', hidden: true, onclick: () => load(true) }, 'Load more');
  root.append(
    el('div', { class: 'view-head' }, el('h1', {}, 'Facts')),
    el('section', { class: 'panel' }, search),
    el(
      'div',
      { class: 'grid2 facts-grid' },
      el('section', { class: 'panel', 'aria-label': 'Search results' }, status, results, more),
      el('section', { class: 'panel', 'aria-labelledby': 'add-h' }, el('h2', { id: 'add-h' }, 'Add a fact'), add),
    ),
  );
  let cursor = null;

  function item(f) {
    const meta = Object.entries(f.meta_data || {});
    return el(
      'li',
      { dataset: { id: f.id } },
      f.snippet ? snippetNode(f.snippet) : el('span', {}, f.text),
      el(
        'div',
        { class: 'meta' },
        ...(f.tags || []).map((t) => el('a', { class: 'tag', href: `#/facts?tag=${encodeURIComponent(t)}` }, t)),
        el('code', { class: 'muted' }, shortId(f.id)),
        timeEl(f.created_at),
      ),
      meta.length
        ? el('dl', { class: 'fields small' }, ...meta.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))]))
        : null,
    );
  }

  async function load(append = false) {
    if (app.features && app.features.facts === false) {
      put(status, emptyState('The facts API is not available on this server.'));
      return;
    }
    const p = new URLSearchParams({ limit: '20' });
    if (q) p.set('q', q);
    if (tag) p.set('tag', tag);
    if (append && cursor) p.set('cursor', cursor);
    try {
      const page = await api(`/api/facts?${p}`);
      const items = itemsOf(page);
      cursor = cursorOf(page);
      if (append) results.append(...items.map(item));
      else put(results, ...items.map(item));
      put(
        status,
        results.children.length === 0
          ? emptyState(q || tag ? 'No facts match.' : 'No facts yet: add one.')
          : el('p', { class: 'muted' }, q || tag ? 'Best matches first' : 'Newest first'),
      );
      more.hidden = !cursor;
    } catch (e) {
      put(
        status,
        errorState(e, () => load()),
      );
    }
  }

  return { ready: load() };
}
