// The customer's estimate, by its private approval link: /estimate/#TOKEN. Phone first: what
// was found (the diagnosis), each line, the VAT per rate and the total in the store's currency
// and the page's language, the terms; then three answers: approve, "call me", or decline with a
// reason. The link is bound to one version of the estimate: the answer names the version shown,
// and a newer version makes the server refuse it (409 estimate_changed), so nobody approves
// what they have not read.
import { get, post, linkToken } from './api.js';
import { initI18n, onLangChange, t } from './i18n.js';
import { $, h, fill, announce, errorText, fmtDateTime, showFormError, clearFormErrors, showPageError } from './ui.js';
import { formatMoney, formatRate, formatQuantity } from './money.js';

const token = linkToken();
const base = `/api/estimates/${encodeURIComponent(token)}`;
let rep = null;
// Which answer form is open: null, 'decline' or 'callback'.
let open = null;

/** datetime-local value -> ISO 8601 with the phone's offset. */
const isoLocal = (v) => (v ? new Date(v).toISOString() : null);

function lines(e) {
  const m = (v) => formatMoney(v, e.currency);
  return h('table', { class: 'est-lines', id: 'e-lines' },
    h('caption', { class: 'visually-hidden' }, t('est.lines')),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, t('est.item')),
      h('th', { scope: 'col', class: 'num' }, t('est.amount')))),
    h('tbody', null, e.lines.map((l) => h('tr', null,
      h('td', null,
        h('span', { class: 'badge' }, t(`est.kind.${l.kind}`)), ' ', h('strong', null, l.description),
        h('div', { class: 'muted' }, `${formatQuantity(l.quantity)} × ${m(l.unit_price)} · ${t('est.vat')} ${formatRate(l.vat_rate)}`)),
      h('td', { class: 'num' }, m(l.net))))),
    h('tfoot', null,
      h('tr', null, h('th', { scope: 'row' }, t('est.net')), h('td', { class: 'num', id: 'e-net' }, m(e.net_total))),
      e.vat.map((v) => h('tr', { class: 'e-vat' },
        h('th', { scope: 'row' }, t('est.vatof', { rate: formatRate(v.rate), base: m(v.base) })),
        h('td', { class: 'num' }, m(v.vat)))),
      h('tr', { class: 'est-total' }, h('th', { scope: 'row' }, t('est.gross')),
        h('td', { class: 'num', id: 'e-gross' }, m(e.gross_total)))));
}

function answers(e) {
  if (e.state === 'superseded') return h('p', { class: 'notice warn', id: 'e-superseded' }, t('est.superseded'));
  if (e.state === 'approved') return h('p', { class: 'notice ok', id: 'e-decided' }, t('est.approved'));
  if (e.state === 'declined') return h('p', { class: 'notice', id: 'e-decided' }, t('est.declined'));
  if (['cancelled', 'returned_unrepaired', 'collected'].includes(rep.state)) return null;
  const cb = e.callback;
  const decline = h('form', { id: 'e-decline', class: 'stack', novalidate: true, hidden: open !== 'decline' },
    h('div', { class: 'field' }, h('label', { for: 'e-reason' }, t('est.reason')),
      h('textarea', { id: 'e-reason', name: 'reason', maxlength: '1000', required: true })),
    h('button', { type: 'submit', class: 'danger wide' }, t('est.decline.send')));
  decline.addEventListener('submit', (ev) => { ev.preventDefault(); answer('decline', decline, { reason: decline.elements.reason.value.trim() }); });
  const callback = h('form', { id: 'e-callback', class: 'stack', novalidate: true, hidden: open !== 'callback' },
    h('div', { class: 'field' }, h('label', { for: 'e-when' }, t('est.when'), ' ', h('span', { class: 'muted' }, `(${t('optional')})`)),
      h('input', { id: 'e-when', name: 'when', type: 'datetime-local' })),
    h('div', { class: 'field' }, h('label', { for: 'e-note' }, t('est.note'), ' ', h('span', { class: 'muted' }, `(${t('optional')})`)),
      h('textarea', { id: 'e-note', name: 'note', maxlength: '500' })),
    h('button', { type: 'submit', class: 'secondary wide' }, t('est.callback.send')));
  callback.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = callback.elements;
    const b = {};
    if (f.when.value) b.when = isoLocal(f.when.value);
    if (f.note.value.trim()) b.note = f.note.value.trim();
    answer('callback', callback, b);
  });
  const toggle = (which) => { open = open === which ? null : which; draw(); $(open === 'decline' ? '#e-reason' : '#e-when')?.focus(); };
  return h('section', { class: 'stack', id: 'e-answers', 'aria-label': t('est.answer') },
    cb ? h('p', { class: 'notice', id: 'e-callback-done' }, cb.at ? t('est.callback.at', { when: fmtDateTime(cb.at, rep.store.timezone) }) : t('est.callback.asap')) : null,
    h('button', { type: 'button', class: 'wide', id: 'e-approve', onclick: () => answer('approve', null, {}) }, t('est.approve', { total: formatMoney(e.gross_total, e.currency) })),
    h('button', { type: 'button', class: 'secondary wide', id: 'e-call', 'aria-expanded': String(open === 'callback'), onclick: () => toggle('callback') }, t('est.callme')),
    callback,
    h('button', { type: 'button', class: 'danger wide', id: 'e-no', 'aria-expanded': String(open === 'decline'), onclick: () => toggle('decline') }, t('est.decline')),
    decline);
}

function draw() {
  if (!rep) return;
  const e = rep.estimate;
  $('#loading').hidden = true;
  const box = $('#est');
  box.hidden = false;
  fill(box,
    h('section', { class: 'card' },
      h('p', { class: 'muted' }, `${rep.number} · ${rep.store.name}`),
      h('p', null, `${rep.device.model || t('repair.device')} ··${rep.device.serial_end}`),
      h('h2', null, t('est.diagnosis')),
      h('p', { id: 'e-diagnosis', style: 'white-space:pre-line' }, e.diagnosis)),
    h('section', { class: 'card', 'aria-live': 'polite' },
      h('h2', null, t('est.version', { n: e.version })),
      lines(e),
      h('p', { class: 'muted' }, t('est.prices'))),
    e.terms ? h('section', { class: 'card' }, h('h2', null, t('est.terms')), h('p', { id: 'e-terms', style: 'white-space:pre-line' }, e.terms)) : null,
    h('section', { class: 'card' }, answers(e)));
}

async function answer(verb, form, body) {
  if (form) clearFormErrors(form);
  try {
    rep = await post(`${base}/${verb}`, { ...body, version: rep.estimate.version });
    open = null;
    draw();
    announce(t(verb === 'approve' ? 'est.approved' : verb === 'decline' ? 'est.declined' : 'est.callback.asap'), 'ok');
  } catch (err) {
    if (err.code === 'estimate_changed' || err.code === 'already_decided') {
      // What is on screen is no longer what the store holds: show the link's version as it is now.
      announce(errorText(err), 'error');
      try { rep = await get(base); draw(); } catch { /* the message above stands */ }
      return;
    }
    if (form) showFormError(form, err);
    else announce(errorText(err), 'error');
  }
}

async function start() {
  initI18n();
  onLangChange(draw);
  try {
    if (!token) throw new Error(t('manage.nolink'));
    rep = await get(base);
    draw();
  } catch (e) {
    showPageError(e);
  }
}

start();
