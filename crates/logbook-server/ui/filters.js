// The filters and the route, both in the URL's hash so that any view can be
// bookmarked and shared: #/?action=ticket.status_changed&range=7d for the feed,
// #/record/ticket/T-42?... for a record's timeline, and &event=<id> on either for
// an open event detail. Filter names are the API's own, so the URL reads like
// the API call it makes; only `range` (a preset such as 7d) is the viewer's.

import { h } from './dom.js';

/** Every filter the URL may hold, in the order they are shown as chips. */
export const FILTER_NAMES = [
  'category', 'query', 'q', 'actor_id', 'actor_type', 'action', 'target_type', 'record', 'target_id',
  'field', 'from_value', 'to_value', 'outcome', 'range', 'since', 'until',
];

/** The date presets, with how far back each reaches. */
export const RANGES = [
  { value: '1h', label: 'Last hour', millis: 3600e3 },
  { value: '24h', label: 'Last 24 hours', millis: 86400e3 },
  { value: '7d', label: 'Last 7 days', millis: 7 * 86400e3 },
  { value: '30d', label: 'Last 30 days', millis: 30 * 86400e3 },
  { value: '90d', label: 'Last 90 days', millis: 90 * 86400e3 },
];

/** Human names of the filters, for chips and labels. */
export const FILTER_LABELS = {
  category: 'Log', query: 'Search', q: 'Text', actor_id: 'Done by', actor_type: 'Actor type', action: 'Event',
  target_type: 'Item type', record: 'Item', target_id: 'Item ID', field: 'Field', from_value: 'From',
  to_value: 'To', outcome: 'Outcome', range: 'Date', since: 'After', until: 'Before',
};

/** Reads the hash: the view, its record, its filters and the open event. */
export function parseRoute(hash) {
  const text = hash.replace(/^#/, '');
  const [path, search = ''] = splitOnce(text, '?');
  const params = new URLSearchParams(search);
  const filters = {};
  for (const name of FILTER_NAMES) {
    const value = params.get(name);
    if (value) filters[name] = value;
  }
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const record = parts[0] === 'record' && parts.length >= 3 ? { type: parts[1], id: parts.slice(2).join('/') } : null;
  return { view: record ? 'record' : 'feed', record, filters, event: params.get('event') || null };
}

function splitOnce(text, separator) {
  const index = text.indexOf(separator);
  return index < 0 ? [text, ''] : [text.slice(0, index), text.slice(index + 1)];
}

/** The hash of a route. */
export function routeHash({ record, filters, event }) {
  const path = record ? `/record/${encodeURIComponent(record.type)}/${encodeURIComponent(record.id)}` : '/';
  const params = new URLSearchParams();
  for (const name of FILTER_NAMES) {
    if (filters?.[name]) params.set(name, filters[name]);
  }
  if (event) params.set('event', event);
  const search = params.toString();
  return `#${path}${search ? `?${search}` : ''}`;
}

/** The key that says whether two routes show the same list (the open event aside). */
export function listKey(route) {
  return routeHash({ ...route, event: null });
}

/** The API parameters of the filters: a preset range becomes `since`. */
export function apiParams(filters, now = Date.now()) {
  const params = { ...filters };
  delete params.range;
  const range = RANGES.find((preset) => preset.value === filters.range);
  if (range) {
    params.since = new Date(now - range.millis).toISOString();
    delete params.until;
  }
  return params;
}

/** The span a filter covers, in milliseconds since the epoch (either end may be null). */
export function filterSpan(filters, now = Date.now()) {
  const params = apiParams(filters, now);
  const since = params.since ? Date.parse(params.since.length === 10 ? `${params.since}T00:00:00Z` : params.since) : null;
  const until = params.until ? Date.parse(params.until.length === 10 ? `${params.until}T00:00:00Z` : params.until) : null;
  return { since: Number.isNaN(since) ? null : since, until: Number.isNaN(until) ? null : until };
}

/** A chip's text for one filter. */
export function chipText(name, value, labels) {
  if (name === 'range') return RANGES.find((preset) => preset.value === value)?.label || value;
  if (name === 'action') return value.split(',').map((action) => labels.get(action)?.label || action).join(', ');
  if (name === 'since' || name === 'until') return new Date(value).toLocaleString();
  return value;
}

/** An ISO timestamp as the value of a datetime-local input, in the viewer's time zone. */
export function toLocalInput(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60e3);
  return local.toISOString().slice(0, 16);
}

/** A datetime-local input's value (the viewer's time) as an ISO timestamp in UTC. */
export function fromLocalInput(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

function field(label, control, extra = {}) {
  return h('label', { class: `field ${extra.class || ''}` }, h('span', { class: 'field-label' }, label), control);
}

function select(name, value, options, placeholder) {
  return h('select', { name, id: `filter-${name}` },
    h('option', { value: '' }, placeholder),
    options.map((option) => option.group
      ? h('optgroup', { label: option.group }, option.options.map((inner) => h('option', { value: inner.value, selected: inner.value === value }, inner.label)))
      : h('option', { value: option.value, selected: option.value === value }, option.label)));
}

function input(name, value, placeholder, type = 'text') {
  return h('input', { name, id: `filter-${name}`, type, value: value || '', placeholder, autocomplete: 'off', spellcheck: 'false' });
}

/**
 * The filter form. `catalog` lists the actions this page may see; `onApply` gets
 * the new filters. Selects apply at once; text fields apply on Enter or Apply.
 */
export function filterForm({ filters, catalog, record, onApply, onActorFocus }) {
  const itemTypes = [...new Set(catalog.map((entry) => entry.target_type))].sort();
  const byType = new Map();
  for (const entry of catalog) {
    if (!byType.has(entry.target_type)) byType.set(entry.target_type, []);
    byType.get(entry.target_type).push({ value: entry.action, label: entry.label });
  }
  const eventOptions = [...byType.keys()].sort().map((type) => ({
    group: type.replaceAll('_', ' '),
    options: byType.get(type).sort((a, b) => a.label.localeCompare(b.label)),
  }));
  const recordValue = filters.record || '';
  const recordType = recordValue.includes(':') ? recordValue.slice(0, recordValue.indexOf(':')) : '';
  const customRange = !filters.range && (filters.since || filters.until);
  const form = h('form', { class: 'filters', id: 'filters', role: 'search', 'aria-label': 'Filters' },
    h('div', { class: 'filter-grid' },
      field('Done by', h('span', {}, input('actor_id', filters.actor_id, 'Actor id, e.g. U-7', 'text'),
        h('datalist', { id: 'actor-suggestions' }))),
      field('Actor type', select('actor_type', filters.actor_type, [
        { value: 'user', label: 'User' }, { value: 'system', label: 'System' }, { value: 'api', label: 'API' }], 'Anyone')),
      field('Event', select('action', filters.action, eventOptions, 'Any event'), { class: 'wide' }),
      field('Item type', select('target_type', filters.target_type, itemTypes.map((type) => ({ value: type, label: type.replaceAll('_', ' ') })), 'Any item')),
      record ? null : field('Specific item', input('record_id', recordValue.slice(recordType.length + 1),
        filters.target_type ? `A ${filters.target_type.replaceAll('_', ' ')} id` : 'Choose an item type first')),
      field('Search by item ID', input('target_id', filters.target_id, 'e.g. T-42')),
      field('From', input('from_value', filters.from_value, 'Previous value')),
      field('To', input('to_value', filters.to_value, 'New value')),
      field('Field', input('field', filters.field, 'e.g. status')),
      field('Outcome', select('outcome', filters.outcome, [{ value: 'success', label: 'Success' }, { value: 'failure', label: 'Failure' }], 'Any outcome')),
      field('Date', select('range', filters.range || (customRange ? 'custom' : ''),
        [...RANGES, { value: 'custom', label: 'Custom range…' }], 'Any time')),
      field('After', input('since', toLocalInput(filters.since), '', 'datetime-local'), { class: 'custom-range' }),
      field('Before', input('until', toLocalInput(filters.until), '', 'datetime-local'), { class: 'custom-range' }),
      field('Free text', input('q', filters.q, 'Words in names, ids, values…'), { class: 'wide' })),
    h('div', { class: 'filter-actions' },
      h('button', { type: 'submit', class: 'button primary', id: 'apply-filters' }, 'Apply filters'),
      h('button', { type: 'button', class: 'button', id: 'clear-filters' }, 'Clear all')));
  form.dataset.customRange = customRange ? 'on' : 'off';
  const specific = form.elements.namedItem('record_id');
  if (specific) specific.disabled = !filters.target_type && !recordType;
  form.elements.namedItem('actor_id').setAttribute('list', 'actor-suggestions');
  form.elements.namedItem('actor_id').addEventListener('focus', () => onActorFocus?.(form.querySelector('#actor-suggestions')), { once: true });

  const read = () => {
    const elements = form.elements;
    const next = { category: filters.category, query: filters.query };
    for (const name of ['actor_id', 'actor_type', 'action', 'target_type', 'target_id', 'from_value', 'to_value', 'field', 'outcome', 'q']) {
      const value = elements.namedItem(name).value.trim();
      if (value) next[name] = value;
    }
    const range = elements.namedItem('range').value;
    if (range === 'custom') {
      next.since = fromLocalInput(elements.namedItem('since').value);
      next.until = fromLocalInput(elements.namedItem('until').value);
    } else if (range) {
      next.range = range;
    }
    const specificId = specific?.value.trim();
    if (specificId && next.target_type) next.record = `${next.target_type}:${specificId}`;
    return next;
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    onApply(read());
  });
  form.addEventListener('change', (event) => {
    const target = event.target;
    if (target.name === 'range') {
      form.dataset.customRange = target.value === 'custom' ? 'on' : 'off';
      if (target.value === 'custom') return;
    }
    if (target.name === 'target_type' && specific) {
      specific.disabled = !target.value;
      specific.placeholder = target.value ? `A ${target.value.replaceAll('_', ' ')} id` : 'Choose an item type first';
      if (!target.value) specific.value = '';
    }
    if (target.tagName === 'SELECT') onApply(read());
  });
  form.querySelector('#clear-filters').addEventListener('click', () => onApply({ category: filters.category }));
  return form;
}
