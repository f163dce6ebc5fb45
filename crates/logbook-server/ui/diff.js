// Before/after views of one change: short values side by side, long text and
// JSON documents diffed line by line (longest common subsequence).

import { h, valueText } from './dom.js';

const LONG_TEXT = 80;
const MOST_CELLS = 4_000_000;

/** The lines of a value for a line diff: text as it is, JSON pretty-printed. */
function lines(value) {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') return value.split('\n');
  return JSON.stringify(value, null, 2).split('\n');
}

/** Whether a change deserves a line diff rather than two short values. */
export function wantsLineDiff(from, to) {
  const long = (value) => (typeof value === 'string' && (value.includes('\n') || value.length > LONG_TEXT))
    || (value !== null && typeof value === 'object');
  return long(from) || long(to);
}

/** The line diff of two texts: [{kind: 'same'|'removed'|'added', text}]. */
export function lineDiff(before, after) {
  const n = before.length;
  const m = after.length;
  if (n * m > MOST_CELLS) {
    return [...before.map((text) => ({ kind: 'removed', text })), ...after.map((text) => ({ kind: 'added', text }))];
  }
  // lengths[i][j]: the longest common subsequence of before[i..] and after[j..].
  const lengths = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      lengths[i][j] = before[i] === after[j] ? lengths[i + 1][j + 1] + 1 : Math.max(lengths[i + 1][j], lengths[i][j + 1]);
    }
  }
  const result = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (before[i] === after[j]) {
      result.push({ kind: 'same', text: before[i] });
      i += 1;
      j += 1;
    } else if (lengths[i + 1][j] >= lengths[i][j + 1]) {
      result.push({ kind: 'removed', text: before[i] });
      i += 1;
    } else {
      result.push({ kind: 'added', text: after[j] });
      j += 1;
    }
  }
  while (i < n) result.push({ kind: 'removed', text: before[i++] });
  while (j < m) result.push({ kind: 'added', text: after[j++] });
  return result;
}

const SIGNS = { same: ' ', removed: '−', added: '+' };

function valueBlock(kind, value) {
  const empty = value === null || value === undefined || value === '';
  return h('div', { class: `diff-value diff-${kind}` },
    h('span', { class: 'diff-caption' }, kind === 'removed' ? 'Before' : 'After'),
    empty ? h('span', { class: 'muted' }, '(empty)') : h('code', {}, valueText(value)));
}

/** One change as an element. */
export function changeView(change) {
  const body = wantsLineDiff(change.from, change.to)
    ? h('div', { class: 'diff-lines', role: 'table', 'aria-label': `Changes to ${change.field}` },
      lineDiff(lines(change.from), lines(change.to)).map((line) => h('div', { class: `diff-line diff-${line.kind}`, role: 'row', dataset: { kind: line.kind } },
        h('span', { class: 'diff-sign', 'aria-hidden': 'true' }, SIGNS[line.kind]),
        h('span', { class: 'diff-text', role: 'cell' }, line.text || ' '))))
    : h('div', { class: 'diff-pair' }, valueBlock('removed', change.from), h('span', { class: 'diff-arrow', 'aria-hidden': 'true' }, '→'), valueBlock('added', change.to));
  return h('div', { class: 'change', dataset: { field: change.field } }, h('div', { class: 'change-field' }, change.field), body);
}
