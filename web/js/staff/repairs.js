// Repair orders: the store's list (by state, late ones flagged), open one (intake checklist,
// problem, promised date, owner), then the ticket: the customer it was opened for, current
// values in every field, only the moves the server allows now (allowed_transitions), live over
// SSE; write the estimate, the promised date, parts and notes. The customer's links are never
// shown as text: only their hashes are stored, and a link made on this tablet can be copied.
import { get, post, put } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, fmtDateTime, announce, errorText, showFormError, clearFormErrors } from '../ui.js';
import { money, searchForm } from './device.js';
import { forecastView, riskBadge } from './forecast.js';
import { follow, debounce } from '../live.js';
import { observationCard } from './callbacks.js';
import { mountIntake } from './intake.js';
import { mountEstimate } from './estimate.js';
import { write } from './offline.js';

const enc = encodeURIComponent;
const CHECKLIST = ['screen', 'back glass', 'buttons', 'camera', 'water damage indicator'];
// Kinds of work offered at intake (any other a-z word may be typed): each kind's history
// predicts how long its repairs take (promise.sql).
const KINDS = ['screen', 'battery', 'back_glass', 'camera', 'port', 'water_damage', 'diagnosis'];
const LINKS_KEY = 'carnet.repair-links';

// Links made in this tab, so that going back to a repair still shows them (sessionStorage: gone
// when the tab closes).
function links(id, add) {
  let all = {};
  try { all = JSON.parse(sessionStorage.getItem(LINKS_KEY) || '{}'); } catch { all = {}; }
  if (add) {
    all[id] = { ...(all[id] || {}), ...add };
    try { sessionStorage.setItem(LINKS_KEY, JSON.stringify(all)); } catch { /* shown this once */ }
  }
  return all[id] || {};
}

const abs = (p) => new URL(p, location.origin).href;
const field = (id, label, input, hint) => h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null);
/** datetime-local value -> ISO 8601 with offset (the tablet's clock is the store's). */
const isoLocal = (v) => (v ? new Date(v).toISOString() : null);

function openForm(session, go, serial) {
  const form = h('form', { class: 'card', id: 'repair-open', novalidate: true },
    h('h2', null, t('repairs.open')),
    field('ro-serial', t('device.serial'), h('input', { id: 'ro-serial', name: 'serial', value: serial || '', required: true, autocapitalize: 'characters', autocomplete: 'off' })),
    field('ro-problem', t('repairs.problem'), h('textarea', { id: 'ro-problem', name: 'problem', required: true, maxlength: '2000' })),
    h('fieldset', { class: 'choices', style: 'margin-bottom:1rem' },
      h('legend', null, t('repairs.condition')),
      CHECKLIST.map((item, i) => h('label', { class: 'choice', for: `ro-c${i}` },
        h('input', { type: 'checkbox', id: `ro-c${i}`, name: `check-${i}`, checked: true }), h('span', null, `${item}: ${t('repairs.ok')}`)))),
    field('ro-acc', t('repairs.accessories'), h('input', { id: 'ro-acc', name: 'accessories', maxlength: '500' })),
    field('ro-promised', t('repairs.promised'), h('input', { id: 'ro-promised', name: 'promised_at', type: 'datetime-local' })),
    field('ro-kind', t('fc.kind'), h('input', { id: 'ro-kind', name: 'kind', list: 'ro-kinds', pattern: '[a-z][a-z0-9_]{1,31}', maxlength: '32', autocapitalize: 'none', autocomplete: 'off' })),
    h('datalist', { id: 'ro-kinds' }, KINDS.map((k) => h('option', { value: k }))),
    field('ro-name', t('repairs.customer'), h('input', { id: 'ro-name', name: 'owner_name', maxlength: '200', autocomplete: 'off' })),
    field('ro-email', t('repairs.email'), h('input', { id: 'ro-email', name: 'owner_email', type: 'email', autocomplete: 'off' })),
    field('ro-phone', t('repairs.phone'), h('input', { id: 'ro-phone', name: 'owner_phone', type: 'tel', autocomplete: 'off' })),
    h('button', { type: 'submit', class: 'wide' }, t('repairs.open')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const f = form.elements;
    const body = {
      serial: f.serial.value.trim(),
      problem: f.problem.value.trim(),
      intake: { checklist: CHECKLIST.map((item, i) => ({ item, ok: f[`check-${i}`].checked })) },
    };
    if (f.accessories.value.trim()) body.intake.accessories = f.accessories.value.trim();
    if (f.promised_at.value) body.promised_at = isoLocal(f.promised_at.value);
    if (f.kind.value.trim()) body.kind = f.kind.value.trim();
    if (f.owner_name.value.trim()) {
      body.owner = { name: f.owner_name.value.trim() };
      if (f.owner_email.value.trim()) body.owner.email = f.owner_email.value.trim();
      if (f.owner_phone.value.trim()) body.owner.phone = f.owner_phone.value.trim();
    }
    try {
      const r = await post(`/api/stores/${session.store.id}/repairs`, body);
      links(r.id, { status: abs('/repair/#' + r.status_token) });
      announce(t('repairs.created'), 'ok');
      go('repair/' + r.id);
    } catch (err) {
      const map = { 'owner.name': 'owner_name', 'owner.email': 'owner_email', 'owner.phone': 'owner_phone', owner: 'owner_name' };
      showFormError(form, { ...err, field: map[err.field] || (err.field || '').replace(/^intake\.checklist.*/, 'check-0').replace(/^intake\./, '') });
    }
  });
  return form;
}

function smallForm(id, title, fields, submitLabel, onSubmit) {
  const form = h('form', { class: 'card', id, novalidate: true }, h('h3', null, title), fields, h('button', { type: 'submit' }, submitLabel));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    try { await onSubmit(form.elements); } catch (err) { showFormError(form, err); }
  });
  return form;
}

/** A datetime-local value for an ISO time, on the tablet's clock (the store's, see isoLocal). */
function localInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}


async function copyLink(url) {
  try {
    await navigator.clipboard.writeText(url);
    announce(t('ticket.copied'), 'ok');
  } catch { announce(t('err.generic'), 'error'); }
}

/** The ticket's facts, customer, moves, parts, notes and history: redrawn on every change. */
function ticketView(r, session, moveTo) {
  const tz = session.store.timezone;
  const lk = links(r.id);
  const c = r.customer;
  const e = r.estimate;
  const moves = r.allowed_transitions || [];
  const waiting = e && (e.state === 'pending' || e.state === 'declined') && (r.allowed_moves || []).some((m) => !moves.includes(m));
  return [
    h('section', { class: 'card' },
      h('p', null, h('span', { class: 'badge', id: 'rp-state', style: 'font-size:1.1rem' }, t('rs.' + r.state))),
      h('dl', { class: 'facts' },
        h('dt', null, t('repair.device')), h('dd', null, h('a', { href: '#device/' + enc(r.device.serial) }, `${r.device.model || ''} ${r.device.serial}`)),
        h('dt', null, t('repairs.problem')), h('dd', { id: 'rp-problem' }, r.problem),
        h('dt', null, t('repairs.promised')), h('dd', { id: 'rp-promised' }, r.promised_at ? fmtDateTime(r.promised_at, tz) : '—'),
        h('dt', null, t('fc.title')), h('dd', null, forecastView(r.forecast, tz)),
        h('dt', null, t('ticket.overnight')), h('dd', { id: 'rp-overnight' }, t(r.kept_overnight ? 'ticket.yes' : 'ticket.no')),
        h('dt', null, t('repair.estimate')), h('dd', { id: 'rp-estimate' }, e ? `${money(e.amount_cents, e.currency)} · ${t(`ticket.estimate.${e.state}`)}` : '—')),
      h('h2', null, t('repairs.move')),
      moves.length
        ? h('div', { class: 'row', id: 'rp-moves' }, moves.map((to) => h('button', { type: 'button', class: ['cancelled', 'returned_unrepaired'].includes(to) ? 'danger' : '', dataset: { to }, 'data-needs-server': true, onclick: () => moveTo(to) }, t('rs.' + to))))
        : h('p', { class: 'muted', id: 'rp-moves' }, t('ticket.nomoves')),
      waiting ? h('p', { class: 'hint', id: 'rp-waiting' }, t(e.state === 'declined' ? 'ticket.declined_hint' : 'ticket.approval_hint')) : null),
    h('section', { class: 'card', id: 'rp-customer', 'aria-labelledby': 'rp-customer-h' },
      h('h2', { id: 'rp-customer-h' }, t('ticket.customer')),
      c ? h('dl', { class: 'facts' },
        h('dt', null, t('setup.name')), h('dd', { id: 'rp-customer-name' }, c.name),
        c.email ? [h('dt', null, t('repairs.email')), h('dd', { id: 'rp-customer-email' }, h('a', { href: 'mailto:' + c.email }, c.email))] : null,
        c.phone ? [h('dt', null, t('repairs.phone')), h('dd', { id: 'rp-customer-phone' }, h('a', { href: 'tel:' + c.phone }, c.phone))] : null,
        h('dt', null, t('ticket.channel')), h('dd', { id: 'rp-customer-channel' }, t(`ticket.channel.${c.channel}`)),
        h('dt', null, t('ticket.lang')), h('dd', { id: 'rp-customer-lang' }, t(`ticket.lang.${r.lang}`)))
        : h('p', { class: 'muted' }, t('ticket.nocustomer')),
      // Tokens are shown once: never as text, only a button that copies the link made here.
      (lk.status || lk.estimate) ? h('div', { class: 'row', id: 'rp-links' },
        lk.status ? h('button', { type: 'button', class: 'secondary', id: 'rp-copy-status', onclick: () => copyLink(lk.status) }, t('ticket.copylink')) : null,
        lk.estimate ? h('button', { type: 'button', class: 'secondary', id: 'rp-copy-estimate', onclick: () => copyLink(lk.estimate) }, t('ticket.copyestimate')) : null) : null),
    h('section', { class: 'card', id: 'rp-parts' }, h('h2', null, t('ticket.parts')),
      r.parts.length ? h('ul', { class: 'plain' }, r.parts.map((p) => h('li', null, `${p.part_number}${p.serial ? ' · ' + p.serial : ''}${p.quantity > 1 ? ' × ' + p.quantity : ''}`, p.description ? h('div', { class: 'muted' }, p.description) : null)))
        : h('p', { class: 'muted' }, t('ticket.noparts'))),
    h('section', { class: 'card', id: 'rp-notes' }, h('h2', null, t('ticket.notes')),
      r.notes.length ? h('ul', { class: 'plain' }, r.notes.slice().reverse().map((n) => h('li', null, h('div', { class: 'when muted' }, fmtDateTime(n.at, tz)), n.text)))
        : h('p', { class: 'muted' }, t('ticket.nonotes'))),
    h('section', { class: 'card' }, h('h2', null, t('repair.history')),
      h('ol', { class: 'timeline' }, r.moves.slice().reverse().map((m) => h('li', { dataset: { kind: 'repair' } },
        h('div', { class: 'when' }, fmtDateTime(m.at, tz), m.actor ? ` · ${m.actor.name}` : ''),
        h('strong', null, t('rs.' + m.to)), m.note ? h('div', null, m.note) : null)))),
  ];
}

async function detail({ el, session, go, id }) {
  let r = await get(`/api/repairs/${enc(id)}`);
  const view = h('div', { id: 'rp-view' });
  const refresh = async () => {
    try {
      r = await get(`/api/repairs/${enc(id)}`);
      fill(view, ticketView(r, session, moveTo));
      fillForms();
    } catch (e) { announce(errorText(e), 'error'); }
  };
  const reload = refresh;
  // A refused move (another tablet moved it, the customer has not approved) is explained in
  // the store's words; the buttons then show what is possible now.
  async function moveTo(to) {
    try {
      r = await post(`/api/repairs/${r.id}/transition`, { to });
      announce(t('repairs.moved', { state: t('rs.' + to) }), 'ok');
    } catch (e) { announce(errorText(e), 'error'); }
    await refresh();
  }
  fill(view, ticketView(r, session, moveTo));

  const estimateSlot = h('div', { id: 'repair-estimate' });
  const intakeSlot = h('div', { id: 'repair-intake' });
  const observationSlot = h('div', { id: 'repair-observation' });
  // Technicians and managers of the repair's store (and admins) record at the bench.
  const atBench = session.me.admin || (session.me.stores.find((s) => s.store_id === r.store_id)?.roles || []).some((x) => x === 'technician' || x === 'manager');
  const promiseForm = smallForm('rp-promise-form', t('repairs.promised'),
    [field('pr-at', t('repairs.promised'), h('input', { id: 'pr-at', name: 'promised_at', type: 'datetime-local' })),
      h('label', { class: 'choice', for: 'pr-overnight', style: 'margin-bottom:1rem' }, h('input', { type: 'checkbox', id: 'pr-overnight', name: 'kept_overnight' }), h('span', null, t('ticket.overnight')))],
    t('save'), async (f) => {
      const b = { kept_overnight: f.kept_overnight.checked };
      if (f.promised_at.value) b.promised_at = isoLocal(f.promised_at.value);
      await put(`/api/repairs/${r.id}/promise`, b);
      announce(t('setup.added'), 'ok');
      await reload();
    });
  const partForm = smallForm('rp-part-form', t('repairs.part'),
    [field('pa-number', t('repairs.partnumber'), h('input', { id: 'pa-number', name: 'part_number', required: true })),
      field('pa-serial', t('repairs.partserial'), h('input', { id: 'pa-serial', name: 'serial' })),
      field('pa-expected', t('fc.expected'), h('input', { id: 'pa-expected', name: 'expected_at', type: 'datetime-local' }))],
    t('save'), async (f) => {
      const b = { part_number: f.part_number.value.trim() };
      if (f.serial.value.trim()) b.serial = f.serial.value.trim();
      if (f.expected_at.value) b.expected_at = isoLocal(f.expected_at.value);
      await post(`/api/repairs/${r.id}/parts`, b);
      partForm.reset();
      await reload();
    });
  const noteForm = smallForm('rp-note-form', t('tl.note'),
    field('no-text', t('tl.note'), h('textarea', { id: 'no-text', name: 'text', required: true, maxlength: '4000' })),
    t('save'), async (f) => {
      // Kept in the outbox when offline (offline.js), sent with its Idempotency-Key later.
      const res = await write(`/api/repairs/${r.id}/notes`, { text: f.text.value.trim() }, { kind: 'repair_note', name: r.number });
      noteForm.reset();
      if (res.queued) announce(t('outbox.kept.note'), 'ok');
      else await reload();
    });

  // The forms show the current values; a field someone is typing in is left alone.
  function fillForms() {
    const typing = (input) => document.activeElement === input;
    const at = promiseForm.elements.promised_at;
    if (!typing(at)) at.value = localInput(r.promised_at);
    promiseForm.elements.kept_overnight.checked = r.kept_overnight;
    // A closed repair keeps its notes open (a later call about it), not its promise or parts.
    const closed = ['collected', 'returned_unrepaired', 'cancelled'].includes(r.state);
    promiseForm.hidden = closed;
    partForm.hidden = closed;
    // The estimate (estimate.js) is drawn again only when it or the repair's state changed, so
    // an event (a note, a part) never wipes an estimate being written.
    const e = r.estimate;
    const estimateKey = JSON.stringify([r.state, e && e.version, e && e.state, e && e.callback]);
    if (estimateKey !== estimateSlot.dataset.key) {
      estimateSlot.dataset.key = estimateKey;
      mountEstimate(estimateSlot, { r, session, onSent: (res) => { links(r.id, { estimate: abs('/estimate/#' + res.approval_token) }); reload(); } });
    }
    // The observation card (callbacks.js) is drawn again with the ticket, unless someone is
    // typing in it.
    const focus = document.activeElement;
    if (!(observationSlot.contains(focus) && focus.matches('input, textarea, select'))) fill(observationSlot, observationCard(r, session, atBench, reload));
  }
  fillForms();

  el.append(h('h1', null, r.number),
    h('p', null, h('span', { class: 'live-dot', id: 'rp-live', dataset: { state: 'off' } }, t('live.off'))),
    h('div', { class: 'cols' },
      view,
      h('div', null, intakeSlot, estimateSlot, promiseForm, partForm, noteForm)),
    observationSlot);

  // The intake record (intake.js) draws itself once and again after its own changes.
  mountIntake(intakeSlot, { rid: r.id, timezone: session.store.timezone, canWrite: atBench });

  // Live: another tablet's move, the customer's approval, a part or a note shows at once.
  const again = debounce(refresh);
  const live = el.querySelector('#rp-live');
  return follow(`/api/repairs/${enc(id)}/events`, () => again(), {
    onState: (on) => { live.dataset.state = on ? 'on' : 'off'; live.textContent = t(on ? 'live.on' : 'live.off'); },
  });
}

/** The setup page's card: which repair moves send the customer a message, and the store's
 * language (managers). */
export async function repairMessagesCard(store) {
  const s = await get(`/api/stores/${store.id}/repair-settings`);
  const form = h('form', { class: 'card', id: 'repair-messages', novalidate: true },
    h('h3', null, t('ticket.settings')),
    h('p', { class: 'hint' }, t('ticket.settings.hint')),
    h('fieldset', { class: 'choices' }, h('legend', null, t('ticket.settings.moves')),
      s.choices.map((m) => h('label', { class: 'choice', for: 'rm-' + m },
        h('input', { type: 'checkbox', id: 'rm-' + m, name: 'notify', value: m, checked: s.notify.includes(m) }),
        h('span', null, m === 'delayed' ? t('ticket.delayed') : t('rs.' + m))))),
    field('rm-lang', t('ticket.settings.lang'), h('select', { id: 'rm-lang', name: 'lang' },
      ['en', 'fr'].map((l) => h('option', { value: l, selected: s.lang === l }, t(`ticket.lang.${l}`))))),
    h('button', { type: 'submit' }, t('save')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const notify = [...form.querySelectorAll('input[name="notify"]:checked')].map((x) => x.value);
    try {
      await put(`/api/stores/${store.id}/repair-settings`, { notify, lang: form.elements.lang.value });
      announce(t('setup.added'), 'ok');
    } catch (err) { showFormError(form, { ...err, field: (err.field || '').replace(/\[\d+\]$/, '') }); }
  });
  return form;
}

const STATES = ['intake', 'diagnosing', 'awaiting_approval', 'awaiting_parts', 'repairing', 'testing', 'ready', 'collected', 'returned_unrepaired', 'cancelled'];
const OPEN = 'open';

/** The store's repairs, newest first, with a state filter (open ones by default); the filter is
 * in the URL (#repairs/state/ready) so going back keeps it. */
function storeList(session, go, state) {
  const tz = session.store.timezone;
  const list = h('div', { id: 'repair-list', 'aria-live': 'polite' }, h('p', { class: 'muted' }, t('loading')));
  const select = h('select', { id: 'rl-state', style: 'width:auto;margin:0', onchange: (e) => go('repairs/state/' + (e.target.value || 'all')) },
    h('option', { value: OPEN }, t('repairs.openonly')),
    h('option', { value: '' }, t('repairs.all')),
    STATES.map((s) => h('option', { value: s }, t('rs.' + s))));
  select.value = state;
  const card = h('section', { class: 'card' },
    h('div', { class: 'row' }, h('h2', { class: 'grow' }, t('repairs.list')),
      h('label', { for: 'rl-state' }, t('repairs.filter')), select),
    list);
  get(`/api/stores/${session.store.id}/repairs?state=${enc(state)}`).then((r) => {
    if (!r.repairs.length) {
      fill(list, h('p', { class: 'muted' }, t(state === OPEN ? 'repairs.none' : 'repairs.nomatch')));
      return;
    }
    // Inside its own scroller: long dates and badges never widen a phone's page.
    fill(list, h('div', { class: 'table-scroll' }, h('table', null,
      h('thead', null, h('tr', null, [t('repairs.number'), t('repair.device'), t('repair.state'), t('repairs.promised'), t('repairs.opened')].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, r.repairs.map((x) => h('tr', { dataset: { id: String(x.id), number: x.number } },
        h('td', { style: 'white-space:nowrap' }, h('a', { href: '#repair/' + x.id }, x.number)),
        h('td', null, `${x.model || ''} ${x.serial}`.trim()),
        h('td', null, h('span', { class: 'badge' }, t('rs.' + x.state))),
        h('td', null, x.promised_at ? fmtDateTime(x.promised_at, tz) : '—',
          // The bench's forecast when there is one; the state rule's flag otherwise.
          x.forecast && x.forecast.risk ? [' ', riskBadge(x.forecast)]
            : x.at_risk ? [' ', h('span', { class: 'badge bad at-risk' }, t('repairs.atrisk'))] : null),
        h('td', null, fmtDateTime(x.opened_at, tz))))))));
  }).catch((e) => fill(list, h('p', { class: 'error' }, errorText(e))));
  return card;
}

export async function render(ctx) {
  const { el, session, args, go, name } = ctx;
  if (name === 'repair' && args[0]) return detail({ el, session, go, id: args[0] });
  el.append(h('h1', null, t('repairs.title')));
  // Finding a repair: by its number, the device's serial, or the owner's email or phone.
  el.append(searchForm(go));
  const state = args[0] === 'state' ? (args[1] === 'all' ? '' : (STATES.includes(args[1]) ? args[1] : OPEN)) : OPEN;
  el.append(storeList(session, go, state));
  el.append(openForm(session, go, args[0] === 'new' ? args[1] : ''));
}
