// The chain view (#chain, admins only): every store with today's load in its own time zone
// (GET /api/chain), a form to create a store with its opening hours, and per store an edit
// form and a close/reopen button that asks first. The API decides who may do what; the nav
// link is only shown to admins (app.js, data-admin).
import { get, post, patch } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, announce, errorText, showFormError, clearFormErrors, weekdayName } from '../ui.js';

// Offered first in the currency select; the rest of the browser's list follows.
const COMMON_CURRENCIES = ['EUR', 'GBP', 'USD', 'CHF'];
const DAYS = [1, 2, 3, 4, 5, 6, 7];
const DEFAULT_DAYS = [1, 2, 3, 4, 5, 6];

function timezones() {
  try { return Intl.supportedValuesOf('timeZone'); } catch { return ['Europe/Paris', 'Europe/London', 'UTC']; }
}

function currencies() {
  let all = [];
  try { all = Intl.supportedValuesOf('currency'); } catch { /* the common ones only */ }
  return [...COMMON_CURRENCIES, ...all.filter((c) => !COMMON_CURRENCIES.includes(c))];
}

const field = (id, label, control, hint) => h('div', { class: 'field' },
  h('label', { for: id }, label), control, hint ? h('p', { class: 'hint' }, hint) : null);

function select(id, name, values, chosen) {
  return h('select', { id, name }, values.map((v) => h('option', { value: v, selected: v === chosen }, v)));
}

/** The store fields as form controls; `s` gives the values (empty for a new store). */
function storeFields(prefix, s) {
  return [
    field(`${prefix}-name`, t('chain.name'), h('input', { id: `${prefix}-name`, name: 'name', required: true, maxlength: '200', value: s.name || '' })),
    field(`${prefix}-code`, t('chain.code'), h('input', { id: `${prefix}-code`, name: 'code', required: true, maxlength: '32', pattern: '[a-z0-9-]{2,32}', autocapitalize: 'none', spellcheck: 'false', value: s.code || '' }), t('chain.code_hint')),
    h('div', { class: 'row' },
      h('div', { class: 'grow' }, field(`${prefix}-timezone`, t('chain.timezone'), select(`${prefix}-timezone`, 'timezone', timezones(), s.timezone || 'Europe/Paris'))),
      h('div', { class: 'grow' }, field(`${prefix}-currency`, t('chain.currency'), select(`${prefix}-currency`, 'currency', currencies(), s.currency || 'EUR'))),
      h('div', { class: 'grow' }, field(`${prefix}-lang`, t('chain.lang'), h('select', { id: `${prefix}-lang`, name: 'lang' },
        ['en', 'fr'].map((l) => h('option', { value: l, selected: l === (s.lang || 'en') }, l === 'fr' ? 'Français' : 'English')))))),
    field(`${prefix}-address`, t('chain.address'), h('input', { id: `${prefix}-address`, name: 'address', maxlength: '300', autocomplete: 'off', value: s.address || '' })),
    field(`${prefix}-phone`, t('chain.phone'), h('input', { id: `${prefix}-phone`, name: 'phone', type: 'tel', maxlength: '40', value: s.phone || '' })),
  ];
}

const FIELDS = ['name', 'code', 'timezone', 'currency', 'lang', 'address', 'phone'];

function formValues(form) {
  const v = {};
  for (const k of FIELDS) v[k] = form.elements[k].value.trim();
  return v;
}

/** The new store form: its fields and one opening period for the chosen days. */
function newStoreForm(reload) {
  const form = h('form', { class: 'card', novalidate: true, id: 'new-store' },
    h('h2', null, t('chain.new')),
    storeFields('ns', {}),
    h('fieldset', { class: 'chain-hours', dataset: { field: 'hours' } },
      h('legend', null, t('setup.hours')),
      h('div', { class: 'chain-days' }, DAYS.map((d) => h('label', { class: 'chain-day' },
        h('input', { type: 'checkbox', name: 'day', value: String(d), checked: DEFAULT_DAYS.includes(d) }), weekdayName(d, 'short')))),
      h('div', { class: 'row' },
        h('div', { class: 'grow' }, field('ns-opens', t('setup.opens'), h('input', { id: 'ns-opens', name: 'opens', type: 'time', step: '900', value: '10:00' }))),
        h('div', { class: 'grow' }, field('ns-closes', t('setup.closes'), h('input', { id: 'ns-closes', name: 'closes', type: 'time', step: '900', value: '19:00' }))))),
    h('button', { type: 'submit' }, t('chain.create')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const body = formValues(form);
    const days = [...form.querySelectorAll('input[name="day"]:checked')].map((x) => Number(x.value));
    const { opens, closes } = form.elements;
    if (days.length && opens.value && closes.value) {
      body.hours = days.map((d) => ({ weekday: d, opens: opens.value, closes: closes.value }));
    }
    try {
      await post('/api/stores', body);
      announce(t('chain.created'), 'ok');
      form.reset();
      await reload();
    } catch (err) { showFormError(form, err); }
  });
  return form;
}

function count(label, n, extra) {
  return h('div', { class: 'chain-count' }, h('span', { class: 'chain-n' }, String(n)), h('span', { class: 'muted' }, label), extra ? h('span', { class: 'hint' }, extra) : null);
}

function storeCard(s, reload) {
  const slot = h('div', { class: 'chain-slot' });
  const editBtn = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false' }, t('chain.edit'));
  const closeBtn = h('button', { type: 'button', class: s.closed ? 'secondary' : 'danger', dataset: { action: s.closed ? 'reopen' : 'close' } },
    s.closed ? t('chain.reopen') : t('chain.close'));

  editBtn.addEventListener('click', () => {
    if (slot.firstChild && slot.firstChild.tagName === 'FORM') { fill(slot); editBtn.setAttribute('aria-expanded', 'false'); return; }
    const form = h('form', { class: 'chain-edit', novalidate: true }, storeFields(`ed${s.id}`, s),
      h('div', { class: 'row' }, h('button', { type: 'submit' }, t('save')),
        h('button', { type: 'button', class: 'secondary', onclick: () => { fill(slot); editBtn.setAttribute('aria-expanded', 'false'); } }, t('cancel'))));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearFormErrors(form);
      const v = formValues(form);
      const body = {};
      for (const k of FIELDS) if (v[k] !== (s[k] ?? '')) body[k] = v[k];
      if (!Object.keys(body).length) { fill(slot); return; }
      try {
        await patch(`/api/stores/${s.id}`, body);
        announce(t('chain.saved'), 'ok');
        await reload();
      } catch (err) { showFormError(form, err); }
    });
    fill(slot, form);
    editBtn.setAttribute('aria-expanded', 'true');
    form.elements.name.focus();
  });

  // Closing ends a store's business: the button asks first, in place (no modal dialog). With
  // bookings still to come the API refuses (has_bookings, with their count): the admin is then
  // asked a second time whether to cancel them, each customer being told, and close.
  const ask = (text, yesLabel, body) => {
    const yes = h('button', { type: 'button', class: s.closed ? '' : 'danger', dataset: { confirm: body.cancel_bookings ? 'cancel-bookings' : 'yes' } }, yesLabel);
    const no = h('button', { type: 'button', class: 'secondary' }, body.cancel_bookings ? t('chain.keep_open') : t('cancel'));
    const box = h('div', { class: 'notice chain-confirm', role: 'alertdialog', 'aria-label': s.closed ? t('chain.reopen') : t('chain.close') },
      h('p', null, text), h('div', { class: 'row' }, yes, no));
    no.addEventListener('click', () => { fill(slot); closeBtn.focus(); });
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      try {
        const r = await patch(`/api/stores/${s.id}`, body);
        announce(r.cancelled_bookings ? t('chain.closed_cancelled', { n: r.cancelled_bookings }) : t('chain.saved'), 'ok');
        await reload();
      } catch (err) {
        yes.disabled = false;
        if (err.code === 'has_bookings' && !body.cancel_bookings) {
          ask(t('chain.confirm_cancel_bookings', { name: s.name, n: err.detail.bookings }),
            t('chain.cancel_bookings'), { closed: true, cancel_bookings: true });
          return;
        }
        announce(errorText(err), 'error');
      }
    });
    fill(slot, box);
    yes.focus();
  };
  closeBtn.addEventListener('click', () => ask(t(s.closed ? 'chain.confirm_reopen' : 'chain.confirm_close', { name: s.name }),
    t('chain.confirm'), { closed: !s.closed }));

  return h('section', { class: 'card chain-store', dataset: { store: String(s.id), code: s.code, closed: String(s.closed) } },
    h('div', { class: 'chain-head' },
      h('h2', null, s.name),
      h('span', { class: `badge ${s.closed ? 'bad' : 'ok'}` }, s.closed ? t('chain.closed') : t('chain.open'))),
    h('p', { class: 'muted' }, [s.code, s.timezone, s.currency].join(' · ')),
    s.address || s.phone ? h('p', null, [s.address, s.phone].filter(Boolean).join(' · ')) : null,
    h('div', { class: 'chain-counts' },
      count(t('chain.appointments'), s.appointments, t('chain.to_come', { n: s.appointments_to_come })),
      count(t('chain.waiting'), s.waiting),
      count(t('chain.served'), s.served),
      count(t('chain.repairs'), s.open_repairs)),
    h('div', { class: 'row' }, editBtn, closeBtn),
    slot);
}

export async function render({ el, start }) {
  const list = h('div', { class: 'chain-list', id: 'chain-list' });
  const load = async () => {
    const r = await get('/api/chain');
    fill(list, r.stores.length ? r.stores.map((s) => storeCard(s, reload)) : h('p', { class: 'hint' }, t('chain.none')));
  };
  // After a change the app starts again: its store picker lists the open stores by name, and a
  // new, renamed, closed or reopened store changes that list (start() draws this view again).
  const reload = async () => (start ? start() : load());
  await load();
  fill(el,
    h('h1', null, t('chain.title')),
    h('p', { class: 'muted' }, t('chain.lead')),
    list,
    newStoreForm(reload));
}
