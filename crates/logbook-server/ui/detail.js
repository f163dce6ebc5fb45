// An event's detail, in a panel over the list: what happened, who did it, every
// change as a before/after diff, context, metadata, the records it concerns (each
// with "View events related to this item"), its integrity proof checked in the
// browser, and its raw JSON.

import { api } from './api.js';
import { changeView } from './diff.js';
import { actorBadge, h, replaceChildren, timeElement, utcTime, valueText } from './dom.js';
import { actionLabel, recordLink } from './feed.js';
import { checkInclusion } from './proof.js';

function section(title, id, ...children) {
  return h('section', { class: 'detail-section', id }, h('h3', {}, title), children);
}

function facts(rows) {
  return h('dl', { class: 'facts' }, rows.filter(([, value]) => value !== null && value !== undefined && value !== '').map(([name, value]) =>
    h('div', { class: 'fact' }, h('dt', {}, name), h('dd', {}, value))));
}

function recordRow(ctx, record, role) {
  return h('li', { class: 'record-row', dataset: { recordType: record.type, recordId: record.id } },
    h('span', { class: 'chip' }, record.type.replaceAll('_', ' ')), ' ',
    h('span', { class: 'item-name' }, record.name || record.id), ' ', h('code', { class: 'muted' }, record.id),
    h('span', { class: 'muted small' }, ` ${role}`), ' ',
    recordLink(ctx, record, 'View events related to this item', { class: 'related-link button small', dataset: { related: `${record.type}:${record.id}` } }));
}

function integritySection(ctx, event) {
  const status = h('div', { class: 'integrity', id: 'integrity', dataset: { status: 'checking' }, role: 'status' },
    h('span', { class: 'integrity-icon', 'aria-hidden': 'true' }, '…'), h('span', {}, 'Checking this event\u2019s inclusion proof against the latest checkpoint…'));
  checkInclusion(api, ctx.session.workspace, event).then((result) => {
    status.dataset.status = result.status;
    status.dataset.signature = result.signature;
    const signature = {
      valid: 'Checkpoint signature verified with the deployment\u2019s published key.',
      unchecked: 'This browser cannot check Ed25519 signatures; the checkpoint\u2019s signature was not checked here (logbook verify does).',
      invalid: 'The checkpoint\u2019s signature does not verify.',
    }[result.signature];
    replaceChildren(status,
      h('span', { class: 'integrity-icon', 'aria-hidden': 'true' }, result.status === 'verified' ? '✓' : '✗'),
      h('div', {}, h('strong', {}, result.status === 'verified' ? 'Verified: in the tamper-evident log' : 'Not verified'),
        h('p', {}, result.message), h('p', { class: 'muted small' }, signature),
        facts([['Checkpoint', `${result.origin}, size ${result.size}`], ['Root', h('code', {}, result.root)], ['Leaf hash', h('code', {}, event.leaf_hash)]])));
  }).catch((error) => {
    status.dataset.status = 'failed';
    replaceChildren(status, h('span', { class: 'integrity-icon', 'aria-hidden': 'true' }, '✗'), h('span', {}, `The proof could not be checked: ${error.message}`));
  });
  return section('Integrity', 'detail-integrity', status);
}

function detailBody(ctx, event) {
  const actor = event.actor || {};
  const context = event.context || {};
  const metadata = Object.entries(event.metadata || {});
  return [
    h('header', { class: 'detail-head' },
      h('p', { class: 'muted small' }, event.category === 'audit' ? 'Audit log' : 'Activity log', ' · ', h('code', {}, event.action)),
      h('h2', { id: 'detail-title' }, actionLabel(ctx, event.action)),
      event.description ? h('p', { class: 'description', id: 'detail-description' }, event.description) : null),
    facts([
      ['Date', h('span', {}, timeElement(event.occurred_at), h('span', { class: 'muted small' }, ` · ${utcTime(event.occurred_at)}`))],
      ['Done by', h('span', { class: 'actor-line' }, h('span', { class: 'actor-name' }, actor.name || actor.id), actorBadge(actor.type),
        h('span', { class: 'muted small' }, ` ${[actor.id, actor.email, actor.role].filter(Boolean).join(' · ')}`))],
      ['Outcome', event.outcome === 'failure' ? h('span', { class: 'pill pill-failure' }, 'Failed') : 'Succeeded'],
      ['Received', utcTime(event.received_at)],
    ]),
    section('Changes', 'detail-changes', event.changes?.length
      ? event.changes.map(changeView)
      : h('p', { class: 'muted' }, 'This event records no field changes.')),
    section('Items', 'detail-items', h('ul', { class: 'records' }, recordRow(ctx, event.target, 'target'),
      (event.related || []).map((record) => recordRow(ctx, record, 'related')))),
    section('Context', 'detail-context', facts([
      ['IP address', context.ip], ['User agent', context.user_agent], ['Request', context.request_id], ['Session', context.session_id],
    ]), Object.values(context).some(Boolean) ? null : h('p', { class: 'muted' }, 'No context was sent.')),
    section('Metadata', 'detail-metadata', metadata.length
      ? facts(metadata.map(([name, value]) => [name, h('code', {}, typeof value === 'string' ? value : JSON.stringify(value, null, 1))]))
      : h('p', { class: 'muted' }, 'No metadata.')),
    integritySection(ctx, event),
    section('Raw JSON', 'detail-raw', h('pre', { class: 'raw-json', id: 'raw-json', tabindex: '0' }, JSON.stringify(event, null, 2))),
    facts([['Event id', h('code', {}, event.id)], ['Position (seq)', String(event.seq)], ['Idempotency key', event.idempotency_key ? valueText(event.idempotency_key) : null]]),
  ];
}

/** Opens the detail of event `id` over the page; `onClose` is called when it is dismissed. Returns a close function. */
export function openDetail(ctx, id, onClose) {
  const previousFocus = document.activeElement;
  const closeButton = h('button', { type: 'button', class: 'button close', id: 'detail-close', 'aria-label': 'Close the event detail' }, '×');
  const content = h('div', { class: 'detail-content' }, h('p', { class: 'muted' }, 'Loading…'));
  const panel = h('aside', { class: 'detail', id: 'detail', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'detail-title', tabindex: '-1', dataset: { state: 'loading', id } },
    h('div', { class: 'detail-bar' }, h('span', { class: 'muted small' }, 'Event detail'), closeButton), content);
  const backdrop = h('div', { class: 'backdrop', id: 'detail-backdrop' });
  document.body.append(backdrop, panel);
  document.body.classList.add('has-detail');
  const dismiss = () => onClose();
  closeButton.addEventListener('click', dismiss);
  backdrop.addEventListener('click', dismiss);
  panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      dismiss();
    } else if (event.key === 'Tab') {
      // Keep the focus inside the dialog.
      const focusable = [...panel.querySelectorAll('a[href], button, [tabindex="0"]')];
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  panel.focus();
  api.event(ctx.session.workspace, id).then((event) => {
    replaceChildren(content, detailBody(ctx, event));
    panel.dataset.state = 'ready';
  }).catch((error) => {
    replaceChildren(content, h('div', { class: 'error', role: 'alert' }, `This event could not be shown: ${error.message}`));
    panel.dataset.state = 'error';
  });
  return () => {
    panel.remove();
    backdrop.remove();
    document.body.classList.remove('has-detail');
    if (previousFocus && document.contains(previousFocus)) previousFocus.focus();
  };
}
