// The list pages: the workspace feed and a record's timeline. Both show the
// filters, the activity chart, the table (Date, Done by, Event, Item, From, To,
// IP; newest first) and "Load more" by cursor; a row opens the event's detail.

import { ApiError, api, downloadExport, embedded } from './api.js';
import { activityChart, unitFor } from './chart.js';
import { actorBadge, h, isNarrow, replaceChildren, timeElement, timeZoneName, valueText, formatCount } from './dom.js';
import { FILTER_LABELS, FILTER_NAMES, apiParams, chipText, filterForm, filterSpan, routeHash } from './filters.js';

const PAGE_SIZE = 50;

function setState(state) {
  document.body.dataset.state = state;
}

/** The label of an action, from the catalog. */
export function actionLabel(ctx, action) {
  return ctx.labels.get(action)?.label || action;
}

/** A link to a record's timeline, unless the page may see only another record. */
export function recordLink(ctx, record, text, extra = {}) {
  const scope = ctx.session.record;
  if (scope && scope !== `${record.type}:${record.id}`) return null;
  return h('a', { href: routeHash({ record: { type: record.type, id: record.id }, filters: {} }), class: 'related-link', ...extra }, text);
}

function doneByCell(event) {
  const actor = event.actor || {};
  return h('td', { 'data-label': 'Done by', class: 'cell-actor' },
    h('div', { class: 'actor-line' }, h('span', { class: 'actor-name' }, actor.name || actor.id), actorBadge(actor.type)),
    actor.name ? h('div', { class: 'muted small' }, actor.id) : null);
}

function itemCell(ctx, event) {
  const target = event.target || {};
  return h('td', { 'data-label': 'Item', class: 'cell-item' },
    h('div', { class: 'item-line' }, h('span', { class: 'chip' }, (target.type || '').replaceAll('_', ' ')), h('span', { class: 'item-name' }, target.name || target.id)),
    h('div', { class: 'muted small item-id' }, target.id, ' ',
      recordLink(ctx, target, 'Related events', { title: 'View events related to this item', 'aria-label': `View events related to ${target.type} ${target.id}` })));
}

function valueCell(label, change, side, more) {
  if (!change) return h('td', { 'data-label': label, class: 'cell-value empty' }, h('span', { class: 'muted' }, '—'));
  const text = valueText(change[side]);
  return h('td', { 'data-label': label, class: `cell-value cell-${side}` },
    side === 'from' ? h('div', { class: 'muted small' }, change.field) : h('div', { class: 'muted small' }, more ? `+${more} more` : '\u00a0'),
    text ? h('div', { class: 'value-text', title: text.length > 60 ? text.slice(0, 500) : null }, text) : h('span', { class: 'muted' }, '(empty)'));
}

/** One row of the table. */
export function eventRow(ctx, event) {
  const change = event.changes?.[0];
  const more = (event.changes?.length || 0) - 1;
  return h('tr', {
    tabindex: '0', class: `event-row${event.outcome === 'failure' ? ' failure' : ''}`,
    dataset: {
      id: event.id, action: event.action, category: event.category, actorType: event.actor?.type, actorId: event.actor?.id,
      targetType: event.target?.type, targetId: event.target?.id, occurredAt: event.occurred_at, outcome: event.outcome,
    },
  },
  h('td', { 'data-label': 'Date', class: 'cell-date' }, timeElement(event.occurred_at)),
  doneByCell(event),
  h('td', { 'data-label': 'Event', class: 'cell-event' },
    h('div', { class: 'event-label' }, actionLabel(ctx, event.action)),
    h('div', { class: 'muted small' }, event.category === 'audit' ? h('span', { class: 'pill pill-audit' }, 'Audit') : null,
      event.outcome === 'failure' ? h('span', { class: 'pill pill-failure' }, 'Failed') : null, ' ', event.action)),
  itemCell(ctx, event),
  valueCell('From', change, 'from', more),
  valueCell('To', change, 'to', more),
  h('td', { 'data-label': 'IP', class: 'cell-ip' }, event.context?.ip || h('span', { class: 'muted' }, '—')));
}

function tableHead() {
  return h('thead', {}, h('tr', {}, ['Date', 'Done by', 'Event', 'Item', 'From', 'To', 'IP'].map((name) =>
    h('th', { scope: 'col', title: name === 'Date' ? `In your time zone (${timeZoneName()}); hover a date for UTC` : null }, name))));
}

function chips(filters, ctx, navigate, route) {
  const names = FILTER_NAMES.filter((name) => filters[name] && name !== 'category');
  if (!names.length) return null;
  return h('ul', { class: 'chips', 'aria-label': 'Active filters' }, names.map((name) => h('li', { class: 'filter-chip', dataset: { filter: name } },
    h('span', { class: 'chip-name' }, FILTER_LABELS[name]), ' ', h('span', { class: 'chip-value' }, chipText(name, filters[name], ctx.labels)),
    h('button', {
      type: 'button', class: 'chip-remove', 'aria-label': `Remove the ${FILTER_LABELS[name]} filter`,
      onclick: () => {
        const next = { ...filters };
        delete next[name];
        if (name === 'target_type') delete next.record;
        navigate({ ...route, filters: next, event: null });
      },
    }, '×'))));
}

function tabs(ctx, route, navigate) {
  if (ctx.session.categories.length < 2) return null;
  const current = route.filters.category || '';
  const tab = (value, label) => h('a', {
    href: routeHash({ ...route, filters: { ...route.filters, category: value || undefined }, event: null }),
    class: `tab${current === value ? ' active' : ''}`, 'aria-current': current === value ? 'page' : null, dataset: { category: value || 'all' },
  }, label);
  return h('nav', { class: 'tabs', 'aria-label': 'Logs' }, tab('', 'All events'), tab('activity', 'Activity log'), tab('audit', 'Audit log'));
}

function exportButtons(ctx, params) {
  if (!ctx.session.can_export) return null;
  const button = (format, label) => {
    const url = api.exportUrl(ctx.session.workspace, params, format);
    const filename = `${ctx.session.workspace}-events.${format}`;
    if (!embedded()) return h('a', { class: 'button', href: url, download: filename, dataset: { export: format } }, label);
    return h('button', {
      type: 'button', class: 'button', dataset: { export: format },
      onclick: () => downloadExport(url, filename).catch((error) => window.alert(error.message)),
    }, label);
  };
  return h('div', { class: 'export-buttons', role: 'group', 'aria-label': 'Export the filtered events' }, button('csv', 'Export CSV'), button('ndjson', 'Export NDJSON'));
}

function searchBar(route, navigate) {
  const box = h('input', {
    type: 'search', name: 'query', id: 'query-box', value: route.filters.query || '', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'Search: actor_type:system action:ticket.* -outcome:failure "refund"', 'aria-label': 'Search with the query language',
  });
  return h('form', {
    class: 'searchbar', role: 'search',
    onsubmit: (event) => {
      event.preventDefault();
      navigate({ ...route, filters: { ...route.filters, query: box.value.trim() || undefined }, event: null });
    },
  }, box, h('button', { type: 'submit', class: 'button primary', id: 'query-submit' }, 'Search'),
  h('details', { class: 'query-help' }, h('summary', {}, 'Syntax'),
    h('p', {}, 'Terms are key:value; -key:value excludes; "quoted words" search text. Keys: action, actor, actor_type, target (type:id), record, field, from, to, outcome, ip, category, after, before.')));
}

/** Shows a list page in `main` and returns a handle whose `focusRow` and `rows` the keyboard uses. */
export function renderList(main, ctx, route, navigate) {
  const filters = route.filters;
  const params = apiParams(filters);
  const record = route.record;
  const exportParams = record ? { ...params, record: `${record.type}:${record.id}` } : params;
  const table = h('table', { class: 'feed-table', id: 'feed-table' }, tableHead(), h('tbody', {}));
  const body = table.tBodies[0];
  const status = h('span', { class: 'muted', id: 'list-status', 'aria-live': 'polite' });
  const loadMore = h('button', { type: 'button', class: 'button', id: 'load-more', hidden: true }, 'Load more');
  const chartSlot = h('div', { class: 'chart-slot', id: 'chart-slot' });
  const errorSlot = h('div', { id: 'list-error-slot' });
  const titleName = h('span', { class: 'title-name' });
  const filterCount = FILTER_NAMES.filter((name) => filters[name] && !['category', 'query'].includes(name)).length;
  // The filters fold away until one is in use (and always on a phone), so that the events come first.
  const panel = h('details', { class: 'filters-panel', id: 'filters-panel', open: filterCount > 0 && !isNarrow() },
    h('summary', {}, 'Filters', filterCount ? h('span', { class: 'count' }, String(filterCount)) : null),
    filterForm({
      filters, catalog: ctx.visibleCatalog, record,
      onApply: (next) => navigate({ ...route, filters: next, event: null }),
      onActorFocus: (datalist) => api.stats(ctx.session.workspace, { group_by: 'actor' }).then((stats) => {
        replaceChildren(datalist, stats.groups.slice(0, 200).map((group) => h('option', { value: group.key })));
      }).catch(() => {}),
    }));
  const heading = record
    ? h('div', { class: 'page-title' },
      ctx.session.record ? null : h('a', { href: routeHash({ filters: {} }), class: 'back-link' }, '← All events'),
      h('h1', { id: 'page-title' }, 'Timeline'),
      h('p', { class: 'subtitle' }, h('span', { class: 'chip' }, record.type.replaceAll('_', ' ')), ' ', titleName, ' ', h('code', { class: 'record-id' }, record.id)))
    : h('div', { class: 'page-title' }, h('h1', { id: 'page-title' }, 'Activity'), h('p', { class: 'subtitle' }, 'Everything that happened in ', ctx.session.workspace_name, ', newest first.'));

  replaceChildren(main, h('section', { class: 'page', dataset: { view: route.view } },
    h('div', { class: 'page-head' }, heading, exportButtons(ctx, exportParams)),
    tabs(ctx, route, navigate),
    searchBar(route, navigate),
    panel,
    chips(filters, ctx, navigate, route),
    errorSlot,
    chartSlot,
    h('div', { class: 'table-wrap' }, table),
    h('div', { class: 'list-foot' }, loadMore, status)));

  let cursor = null;
  let shown = 0;
  const fetchPage = () => (record
    ? api.timeline(ctx.session.workspace, record, { ...params, limit: PAGE_SIZE, cursor })
    : api.feed(ctx.session.workspace, { ...params, limit: PAGE_SIZE, cursor }));
  const showError = (error) => {
    if (error instanceof ApiError && error.status === 401) {
      // The key was revoked or the viewer token expired: ask again.
      window.dispatchEvent(new CustomEvent('logbook:unauthenticated'));
      return;
    }
    replaceChildren(errorSlot, h('div', { class: 'error', role: 'alert', id: 'list-error' },
      error instanceof ApiError && error.status === 400 ? 'This filter cannot be used: ' : 'The events could not be loaded: ', error.message));
  };
  const load = async (first) => {
    setState('loading');
    loadMore.disabled = true;
    try {
      const page = await fetchPage();
      if (first && record) {
        const named = page.events.flatMap((event) => [event.target, ...(event.related || [])])
          .find((candidate) => candidate.type === record.type && candidate.id === record.id && candidate.name);
        titleName.textContent = named ? named.name : '';
      }
      body.append(...page.events.map((event) => eventRow(ctx, event)));
      shown += page.events.length;
      cursor = page.next_cursor;
      loadMore.hidden = !cursor;
      loadMore.disabled = false;
      if (!shown) {
        body.append(h('tr', { class: 'empty-row' }, h('td', { colspan: '7' }, 'No events match these filters.')));
      }
      status.textContent = `Showing ${formatCount(shown)}${cursor ? '' : ' (all)'}`;
      setState('ready');
    } catch (error) {
      showError(error);
      setState('error');
    } finally {
      document.body.dataset.loads = String(Number(document.body.dataset.loads || 0) + 1);
    }
  };
  loadMore.addEventListener('click', () => load(false));
  body.addEventListener('click', (event) => {
    if (event.target.closest('a, button')) return;
    const row = event.target.closest('tr.event-row');
    if (row) navigate({ ...route, event: row.dataset.id });
  });
  body.addEventListener('keydown', (event) => {
    const row = event.target.closest?.('tr.event-row');
    if (!row || event.target !== row) return;
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      navigate({ ...route, event: row.dataset.id });
    }
  });

  const statsParams = record ? { ...params, record: `${record.type}:${record.id}` } : params;
  const span = filterSpan(filters);
  const unit = unitFor(span);
  api.stats(ctx.session.workspace, { ...statsParams, group_by: unit }).then((stats) => {
    replaceChildren(chartSlot, activityChart(stats, unit, span, (start, end) => {
      const next = { ...filters, since: new Date(start).toISOString(), until: new Date(end).toISOString() };
      delete next.range;
      navigate({ ...route, filters: next, event: null });
    }));
  }).catch(() => replaceChildren(chartSlot));

  load(true);
  return {
    rows: () => [...body.querySelectorAll('tr.event-row')],
    focusRow(id) {
      const row = body.querySelector(`tr.event-row[data-id="${CSS.escape(id)}"]`);
      row?.focus();
    },
  };
}
