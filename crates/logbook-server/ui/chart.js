// The small chart of activity over time above the feed: one bar per day (or per
// hour for short ranges) from the stats endpoint, under the same filters.
// Clicking a bar narrows the feed to that day or hour.

import { formatCount, h, svg } from './dom.js';

const DAY = 86400e3;
const HOUR = 3600e3;
const MOST_BARS = 400;

/** Whether a span is short enough to count by hour. */
export function unitFor(span, now = Date.now()) {
  if (span.since === null) return 'day';
  return (span.until ?? now) - span.since <= 3 * DAY ? 'hour' : 'day';
}

function bucketStart(key, unit) {
  return unit === 'day' ? Date.parse(`${key}T00:00:00Z`) : Date.parse(key.replace('Z', ':00Z'));
}

function bucketKey(millis, unit) {
  const iso = new Date(millis).toISOString();
  return unit === 'day' ? iso.slice(0, 10) : `${iso.slice(0, 13)}:00Z`;
}

/** The buckets to draw: every day or hour from the first to the last, gaps as zeros. */
export function buckets(groups, unit, span, now = Date.now()) {
  const step = unit === 'day' ? DAY : HOUR;
  const counts = new Map(groups.map((group) => [bucketStart(group.key, unit), group.count]));
  const known = [...counts.keys()].filter((start) => !Number.isNaN(start));
  const floor = (millis) => Math.floor(millis / step) * step;
  let first = span.since !== null ? floor(span.since) : Math.min(...known);
  let last = floor(span.until !== null ? Math.min(span.until, now) : Math.max(...known, first));
  if (!Number.isFinite(first) || !Number.isFinite(last)) return [];
  if ((last - first) / step > MOST_BARS) first = last - MOST_BARS * step;
  const result = [];
  for (let start = first; start <= last; start += step) {
    result.push({ start, end: start + step, key: bucketKey(start, unit), count: counts.get(start) || 0 });
  }
  return result;
}

/** The chart as an element; `onPick(start, end)` narrows the feed to a bar. */
export function activityChart(stats, unit, span, onPick) {
  const bars = buckets(stats.groups, unit, span);
  const width = 1000;
  const height = 120;
  const most = Math.max(1, ...bars.map((bar) => bar.count));
  const slot = bars.length ? width / bars.length : width;
  const gap = slot > 4 ? Math.min(2, slot * 0.2) : 0;
  const dateFormat = new Intl.DateTimeFormat(undefined, unit === 'day'
    ? { month: 'short', day: 'numeric', year: 'numeric' }
    : { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  const label = bars.length
    ? `${formatCount(stats.total)} events, by ${unit}, from ${dateFormat.format(bars[0].start)} to ${dateFormat.format(bars[bars.length - 1].start)}`
    : 'No events';
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', class: 'chart-svg', role: 'img', 'aria-label': label },
    bars.map((bar, index) => {
      const barHeight = bar.count ? Math.max(2, (bar.count / most) * (height - 4)) : 0;
      const rect = svg('rect', {
        x: (index * slot + gap / 2).toFixed(2), y: (height - barHeight).toFixed(2),
        width: Math.max(0.5, slot - gap).toFixed(2), height: barHeight.toFixed(2),
        class: 'chart-bar', dataset: { key: bar.key, count: bar.count },
      }, svg('title', {}, `${dateFormat.format(bar.start)}: ${formatCount(bar.count)} events`));
      rect.addEventListener('click', () => onPick(bar.start, bar.end));
      return rect;
    }));
  const first = bars[0];
  const last = bars[bars.length - 1];
  return h('figure', { class: 'chart', id: 'activity-chart', dataset: { total: stats.total, unit } },
    h('figcaption', { class: 'chart-caption' },
      h('strong', { id: 'match-count' }, formatCount(stats.total)), stats.total === 1 ? ' event' : ' events',
      h('span', { class: 'muted' }, ` · per ${unit} · most ${formatCount(most)}`)),
    h('div', { class: 'chart-plot' }, chart),
    bars.length ? h('div', { class: 'chart-axis muted' }, h('span', {}, dateFormat.format(first.start)), h('span', {}, dateFormat.format(last.start))) : null);
}
