// The "Services" tab of the set-up (setup.js): every service of the store, archived ones too
// (GET /api/stores/{store}/services/all), each edited in place (name, minutes, price in the
// store's currency, description) and archived or brought back; and a form to add one.
// Archiving only stops new bookings: appointments keep their service (the API says so too).
import { get, post, patch } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, announce, errorText, showFormError, clearFormErrors } from '../ui.js';
import { formatMoney, parseMoney, plainMoney } from '../money.js';

const SKILLS = ['repair', 'diagnostics', 'setup'];

/** The number of minor-unit digits of a currency (2 for EUR, 0 for JPY). */
function digitsOf(currency) {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
}

/** The editable fields of a service; `s` gives the values (empty for a new one). */
function serviceFields(prefix, s, currency) {
  const digits = digitsOf(currency);
  const skills = SKILLS.includes(s.skill) || !s.skill ? SKILLS : [...SKILLS, s.skill];
  return [
    h('div', { class: 'field' }, h('label', { for: `${prefix}-name` }, t('svc.name')),
      h('input', { id: `${prefix}-name`, name: 'name', required: true, maxlength: '100', value: s.name || '' })),
    h('div', { class: 'row svc-row' },
      h('div', { class: 'field grow' }, h('label', { for: `${prefix}-duration` }, t('svc.minutes')),
        h('input', { id: `${prefix}-duration`, name: 'duration_min', type: 'number', inputmode: 'numeric', min: '5', max: '480', step: '5', value: String(s.duration_min ?? 30) })),
      h('div', { class: 'field grow' }, h('label', { for: `${prefix}-price` }, t('svc.price', { currency })),
        h('input', { id: `${prefix}-price`, name: 'price_minor', inputmode: 'decimal', autocomplete: 'off', value: s.price_minor == null ? '' : plainMoney(s.price_minor, digits) }),
        h('p', { class: 'hint' }, t('svc.price_hint'))),
      h('div', { class: 'field grow' }, h('label', { for: `${prefix}-skill` }, t('svc.skill')),
        h('select', { id: `${prefix}-skill`, name: 'skill' }, skills.map((k) => h('option', { value: k, selected: k === s.skill }, k))))),
    h('div', { class: 'field' }, h('label', { for: `${prefix}-description` }, t('svc.description')),
      h('textarea', { id: `${prefix}-description`, name: 'description', maxlength: '500', rows: '2' }, s.description || '')),
  ];
}

/** The form's values as the API takes them, or null after showing why the price is unreadable. */
function serviceBody(form, currency) {
  const f = form.elements;
  const priceText = f.price_minor.value.trim();
  let price = null;
  if (priceText) {
    price = parseMoney(priceText, digitsOf(currency));
    if (price === null) {
      showFormError(form, { field: 'price_minor', code: 'invalid', message: t('svc.badprice') });
      return null;
    }
  }
  return {
    name: f.name.value.trim(), duration_min: Number(f.duration_min.value), skill: f.skill.value,
    price_minor: price, description: f.description.value.trim(),
  };
}

export async function render({ el, session }) {
  const store = session.store;
  const list = h('ul', { class: 'plain', id: 'service-list' });
  let currency = 'EUR';

  const load = async () => {
    const r = await get(`/api/stores/${store.id}/services/all`);
    currency = r.currency;
    fill(list, r.services.length ? r.services.map(item) : h('li', { class: 'hint' }, t('svc.none')));
  };

  const item = (s) => {
    const slot = h('div', { class: 'svc-slot' });
    const price = s.price_minor == null ? t('svc.noprice') : formatMoney(s.price_minor, s.currency);
    const edit = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-label': `${t('svc.edit')} · ${s.name}` }, t('svc.edit'));
    const toggle = h('button', { type: 'button', class: 'secondary', dataset: { action: s.active ? 'archive' : 'unarchive' }, 'aria-label': `${t(s.active ? 'svc.archive' : 'svc.unarchive')} · ${s.name}` },
      t(s.active ? 'svc.archive' : 'svc.unarchive'));
    toggle.addEventListener('click', async () => {
      toggle.disabled = true;
      try {
        await patch(`/api/stores/${store.id}/services/${s.id}`, { active: !s.active });
        announce(t('svc.saved'), 'ok');
        await load();
      } catch (err) {
        toggle.disabled = false;
        announce(errorText(err), 'error');
      }
    });
    edit.addEventListener('click', () => {
      if (slot.firstChild) { fill(slot); edit.setAttribute('aria-expanded', 'false'); return; }
      const form = h('form', { class: 'svc-edit', novalidate: true }, serviceFields(`sv${s.id}`, s, currency),
        h('div', { class: 'row' }, h('button', { type: 'submit' }, t('save')),
          h('button', { type: 'button', class: 'secondary', onclick: () => { fill(slot); edit.setAttribute('aria-expanded', 'false'); } }, t('cancel'))));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearFormErrors(form);
        const body = serviceBody(form, currency);
        if (!body) return;
        try {
          await patch(`/api/stores/${store.id}/services/${s.id}`, body);
          announce(t('svc.saved'), 'ok');
          await load();
        } catch (err) { showFormError(form, err); }
      });
      fill(slot, form);
      edit.setAttribute('aria-expanded', 'true');
      form.elements.name.focus();
    });
    return h('li', { class: `svc-item${s.active ? '' : ' archived'}`, dataset: { service: String(s.id) } },
      h('div', { class: 'svc-head' },
        h('div', { class: 'grow' },
          h('strong', null, s.name), s.active ? null : h('span', { class: 'badge warn' }, t('svc.archived')),
          h('div', { class: 'muted' }, `${t('book.min', { n: s.duration_min })} · `, h('span', { class: 'svc-price' }, price)),
          s.description ? h('div', { class: 'hint' }, s.description) : null),
        h('div', { class: 'row' }, edit, toggle)),
      slot);
  };

  await load();
  const add = h('form', { class: 'card', novalidate: true, id: 'add-service' },
    h('h2', null, t('svc.add')), serviceFields('sv', {}, currency),
    h('button', { type: 'submit' }, t('save')));
  add.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(add);
    const body = serviceBody(add, currency);
    if (!body) return;
    try {
      await post(`/api/stores/${store.id}/services`, body);
      announce(t('svc.saved'), 'ok');
      add.reset();
      await load();
    } catch (err) { showFormError(add, err); }
  });
  el.append(
    h('div', { class: 'cols' },
      h('section', { class: 'card' }, h('h2', null, t('svc.title')), h('p', { class: 'hint' }, t('svc.archived_hint')), list),
      add));
}
