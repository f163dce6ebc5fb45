// The viewer's entry point: finds out who the page is signed in as (session
// cookie or embedded viewer token), shows the sign-in form when nobody is, and
// otherwise routes the URL's hash to the feed, a record's timeline and the
// event detail.

import { ApiError, adoptViewerToken, api, embedded, forgetViewerToken } from './api.js';
import { openDetail } from './detail.js';
import { h, replaceChildren } from './dom.js';
import { renderList } from './feed.js';
import { listKey, parseRoute, routeHash } from './filters.js';

const main = document.getElementById('main');
const account = document.getElementById('account');

function setState(state) {
  document.body.dataset.state = state;
}

function showSignIn(message) {
  setState('signin');
  replaceChildren(account);
  const token = h('input', { type: 'password', id: 'sign-in-key', name: 'token', autocomplete: 'off', required: true, placeholder: 'lbk_…', 'aria-describedby': 'sign-in-help' });
  const error = h('p', { class: 'error', id: 'sign-in-error', role: 'alert', hidden: !message }, message || '');
  const form = h('form', { class: 'sign-in card', id: 'sign-in' },
    h('h1', {}, 'Sign in to Logbook'),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Workspace API key'), token),
    h('p', { class: 'muted small', id: 'sign-in-help' },
      'Use a key with a reading role: supervisor, setup, auditor or admin. The key is kept in a browser cookie that scripts cannot read, until you sign out or close the browser. ',
      h('code', {}, 'logbook demo'), ' prints one for each role.'),
    error,
    h('button', { type: 'submit', class: 'button primary', id: 'sign-in-submit' }, 'Sign in'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      await api.signIn(token.value.trim());
      token.value = '';
      start();
    } catch (failure) {
      error.textContent = failure.status === 401 ? 'This key is not valid (or was revoked).' : failure.message;
      error.hidden = false;
    }
  });
  replaceChildren(main, h('div', { class: 'sign-in-wrap' }, form));
  token.focus();
}

function showAccount(session) {
  const roles = session.roles.join(', ');
  replaceChildren(account,
    h('span', { class: 'workspace-name', title: session.workspace }, session.workspace_name),
    h('span', { class: 'who', id: 'who', dataset: { kind: session.kind } }, session.name, h('span', { class: 'muted small' }, ` · ${roles}`)),
    session.kind === 'api_key'
      ? h('button', {
        type: 'button', class: 'button small', id: 'sign-out',
        onclick: async () => {
          await api.signOut().catch(() => {});
          window.location.hash = '';
          showSignIn();
        },
      }, 'Sign out')
      : null);
}

let ctx = null;
let list = null;
let shownListKey = null;
let closeDetail = null;
let shownEvent = null;

function navigate(route) {
  window.location.hash = routeHash(route);
}

function currentRoute() {
  const route = parseRoute(window.location.hash);
  const scope = ctx.session.record;
  if (scope) {
    // A token scoped to one record sees that record's timeline and nothing else.
    const [type, ...rest] = scope.split(':');
    const id = rest.join(':');
    if (!route.record || route.record.type !== type || route.record.id !== id) {
      return { view: 'record', record: { type, id }, filters: route.filters, event: route.event };
    }
  }
  return route;
}

function render() {
  const route = currentRoute();
  const key = listKey(route);
  if (key !== shownListKey) {
    closeDetail?.();
    closeDetail = null;
    shownEvent = null;
    shownListKey = key;
    list = renderList(main, ctx, route, navigate);
  }
  if (route.event !== shownEvent) {
    closeDetail?.();
    closeDetail = null;
    shownEvent = route.event;
    if (route.event) {
      const id = route.event;
      closeDetail = openDetail(ctx, id, () => navigate({ ...currentRoute(), event: null }));
    }
  }
}

function keyboard(event) {
  if (!ctx || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
  const typing = event.target.closest?.('input, select, textarea');
  if (typing || document.body.classList.contains('has-detail')) return;
  if (event.key === '/') {
    event.preventDefault();
    document.getElementById('query-box')?.focus();
  } else if ((event.key === 'j' || event.key === 'k') && list) {
    const rows = list.rows();
    if (!rows.length) return;
    const index = rows.indexOf(document.activeElement);
    const next = event.key === 'j' ? Math.min(rows.length - 1, index + 1) : Math.max(0, index - 1);
    rows[next].focus();
    event.preventDefault();
  }
}

async function start() {
  setState('starting');
  let session;
  try {
    session = await api.session();
  } catch (error) {
    if (embedded()) {
      forgetViewerToken();
      replaceChildren(main, h('div', { class: 'error card', role: 'alert', id: 'embed-error' },
        error instanceof ApiError && error.status === 401 ? 'This link has expired. Reload the page in your product to see the log again.' : error.message));
      setState('error');
      return;
    }
    showSignIn(error instanceof ApiError && error.status === 403 ? error.message : '');
    return;
  }
  const catalog = await api.catalog(session.workspace).catch(() => ({ actions: [] }));
  const labels = new Map(catalog.actions.map((entry) => [entry.action, entry]));
  const visibleCatalog = catalog.actions.filter((entry) => session.categories.includes(entry.category));
  ctx = { session, labels, visibleCatalog };
  document.body.classList.toggle('embedded', session.kind === 'viewer');
  showAccount(session);
  shownListKey = null;
  shownEvent = null;
  render();
}

window.addEventListener('hashchange', () => ctx && render());
window.addEventListener('logbook:unauthenticated', () => {
  ctx = null;
  closeDetail?.();
  closeDetail = null;
  start();
});
document.addEventListener('keydown', keyboard);
adoptViewerToken();
start();
