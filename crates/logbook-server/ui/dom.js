// Builds DOM nodes. Every string becomes a text node, never markup: the viewer
// never asks the browser to parse a string as HTML, so a value holding <script>
// or <img onerror=...> is shown as the text it is.

/** Makes an element: h('a', {href: '#/', class: 'link'}, 'text', childNode, [more]). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  setAttributes(element, attributes);
  append(element, children);
  return element;
}

/** Makes an SVG element with attributes and children. */
export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAttributes(element, attributes);
  append(element, children);
  return element;
}

function setAttributes(element, attributes) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'dataset') {
      for (const [key, data] of Object.entries(value)) {
        if (data !== undefined && data !== null) element.dataset[key] = String(data);
      }
    } else if (name === 'value' && 'value' in element) {
      element.value = value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

/** Appends children: nodes, strings (as text), arrays of either; skips empty ones. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces all of an element's children. */
export function replaceChildren(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** A value as the text the seeds' From and To columns show. */
export function valueText(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

const numberFormat = new Intl.NumberFormat();

/** A count with the viewer's digit grouping. */
export function formatCount(count) {
  return numberFormat.format(count);
}

const thisYearFormat = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const otherYearFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});

/** A timestamp in the viewer's time zone (with its year only when it is not this year's). */
export function localTime(iso) {
  const date = new Date(iso);
  const format = date.getFullYear() === new Date().getFullYear() ? thisYearFormat : otherYearFormat;
  return format.format(date);
}

/** A timestamp exactly, in UTC: 2026-01-31 14:02:03.123 UTC. */
export function utcTime(iso) {
  return new Date(iso).toISOString().replace('T', ' ').replace('Z', ' UTC');
}

/** A <time> element: local time shown, exact UTC on hover. */
export function timeElement(iso) {
  return h('time', { datetime: iso, title: utcTime(iso) }, localTime(iso));
}

/** The viewer's time zone name, for labels. */
export function timeZoneName() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
}

const actorTypeLabels = { user: 'User', system: 'System', api: 'API' };

/** The user / system / API badge of an actor type. */
export function actorBadge(type) {
  const known = Object.hasOwn(actorTypeLabels, type) ? type : 'user';
  return h('span', { class: `badge badge-${known}`, dataset: { actorType: known } }, actorTypeLabels[known]);
}

/** Whether the page is narrower than a laptop (the phone layout). */
export function isNarrow() {
  return window.matchMedia('(max-width: 760px)').matches;
}
