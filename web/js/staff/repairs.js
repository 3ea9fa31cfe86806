// Repair orders: the store's list (by state, late ones flagged), open one (intake checklist,
// problem, promised date, owner), then move it through its states with the moves the API
// allows, write the estimate, the promised date, parts and notes. The customer's status link (and the estimate's approval link) are shown
// once, when made: only their hashes are stored.
import { get, post, put } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, fmtDateTime, announce, errorText, showFormError, clearFormErrors } from '../ui.js';
import { money, searchForm } from './device.js';
import { mountEstimate } from './estimate.js';

const enc = encodeURIComponent;
const CHECKLIST = ['screen', 'back glass', 'buttons', 'camera', 'water damage indicator'];
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

async function detail({ el, session, go, id }) {
  const r = await get(`/api/repairs/${enc(id)}`);
  const tz = session.store.timezone;
  const lk = links(r.id);
  const reload = () => go('repair/' + r.id);
  const moveTo = async (to) => {
    try {
      await post(`/api/repairs/${r.id}/transition`, { to });
      announce(t('repairs.moved', { state: t('rs.' + to) }), 'ok');
      reload();
    } catch (e) { announce(errorText(e), 'error'); }
  };
  el.append(h('h1', null, `${r.number}`),
    h('div', { class: 'cols' },
      h('div', null,
        h('section', { class: 'card' },
          h('p', null, h('span', { class: 'badge', id: 'rp-state', style: 'font-size:1.1rem' }, t('rs.' + r.state))),
          h('dl', { class: 'facts' },
            h('dt', null, t('repair.device')), h('dd', null, h('a', { href: '#device/' + enc(r.device.serial) }, `${r.device.model || ''} ${r.device.serial}`)),
            h('dt', null, t('repairs.problem')), h('dd', null, r.problem),
            h('dt', null, t('repairs.promised')), h('dd', { id: 'rp-promised' }, r.promised_at ? fmtDateTime(r.promised_at, tz) : '—'),
            h('dt', null, t('repair.estimate')), h('dd', { id: 'rp-estimate' }, r.estimate ? `${money(r.estimate.amount_cents, r.estimate.currency)} (${r.estimate.state})` : '—')),
          r.allowed_moves.length ? h('div', null, h('h2', null, t('repairs.move')),
            h('div', { class: 'row', id: 'rp-moves' }, r.allowed_moves.map((to) => h('button', { type: 'button', class: ['cancelled', 'returned_unrepaired'].includes(to) ? 'danger' : '', dataset: { to }, onclick: () => moveTo(to) }, t('rs.' + to))))) : null),
        (lk.status || lk.estimate) ? h('section', { class: 'card notice', id: 'rp-links' },
          h('h2', null, t('repairs.link')),
          lk.status ? h('p', null, h('a', { href: lk.status, id: 'rp-status-link', target: '_blank', rel: 'noreferrer' }, lk.status)) : null,
          lk.estimate ? h('p', null, t('repair.estimate'), ': ', h('a', { href: lk.estimate, id: 'rp-estimate-link', target: '_blank', rel: 'noreferrer' }, lk.estimate)) : null) : null,
        h('section', { class: 'card' }, h('h2', null, t('repair.history')),
          h('ol', { class: 'timeline' }, r.moves.slice().reverse().map((m) => h('li', { dataset: { kind: 'repair' } },
            h('div', { class: 'when' }, fmtDateTime(m.at, tz), m.actor ? ` · ${m.actor.name}` : ''),
            h('strong', null, t('rs.' + m.to)), m.note ? h('div', null, m.note) : null))))),
      h('div', null,
        h('div', { id: 'repair-estimate' }),
        smallForm('rp-promise-form', t('repairs.promised'),
          field('pr-at', t('repairs.promised'), h('input', { id: 'pr-at', name: 'promised_at', type: 'datetime-local', required: true })),
          t('save'), async (f) => { await put(`/api/repairs/${r.id}/promise`, { promised_at: isoLocal(f.promised_at.value) }); reload(); }),
        smallForm('rp-part-form', t('repairs.part'),
          [field('pa-number', t('repairs.partnumber'), h('input', { id: 'pa-number', name: 'part_number', required: true })),
            field('pa-serial', t('repairs.partserial'), h('input', { id: 'pa-serial', name: 'serial' }))],
          t('save'), async (f) => {
            const b = { part_number: f.part_number.value.trim() };
            if (f.serial.value.trim()) b.serial = f.serial.value.trim();
            await post(`/api/repairs/${r.id}/parts`, b);
            reload();
          }),
        smallForm('rp-note-form', t('tl.note'),
          field('no-text', t('tl.note'), h('textarea', { id: 'no-text', name: 'text', required: true, maxlength: '4000' })),
          t('save'), async (f) => { await post(`/api/repairs/${r.id}/notes`, { text: f.text.value.trim() }); reload(); }))));
  mountEstimate(el.querySelector('#repair-estimate'), { r, session, onSent: (res) => { links(r.id, { estimate: abs('/estimate/#' + res.approval_token) }); reload(); } });
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
    fill(list, h('table', null,
      h('thead', null, h('tr', null, [t('repairs.number'), t('repair.device'), t('repair.state'), t('repairs.promised'), t('repairs.opened')].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, r.repairs.map((x) => h('tr', { dataset: { id: String(x.id), number: x.number } },
        h('td', { style: 'white-space:nowrap' }, h('a', { href: '#repair/' + x.id }, x.number)),
        h('td', null, `${x.model || ''} ${x.serial}`.trim()),
        h('td', null, h('span', { class: 'badge' }, t('rs.' + x.state))),
        h('td', null, x.promised_at ? fmtDateTime(x.promised_at, tz) : '—',
          x.at_risk ? [' ', h('span', { class: 'badge bad at-risk' }, t('repairs.atrisk'))] : null),
        h('td', null, fmtDateTime(x.opened_at, tz)))))));
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
