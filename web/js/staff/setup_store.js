// The "Store" tab of the set-up (setup.js): the store's own details. A manager changes its
// name, address and phone; the code, time zone and currency are shown read-only (only an admin
// changes them, in the chain view or here), as PATCH /api/stores/{store} decides.
import { get, patch } from '../api.js';
import { t } from '../i18n.js';
import { h, announce, showFormError, clearFormErrors } from '../ui.js';

const MANAGER_FIELDS = ['name', 'address', 'phone'];
const ADMIN_FIELDS = ['code', 'timezone', 'currency'];

export async function render({ el, session }) {
  const store = session.store;
  const detail = await get(`/api/stores/${store.id}`);
  const admin = !!(session.me && session.me.admin);
  const input = (k, attrs = {}) => h('div', { class: 'field' },
    h('label', { for: `ss-${k}` }, t('chain.' + k)),
    h('input', { id: `ss-${k}`, name: k, value: detail[k] || '', ...attrs }));
  const form = h('form', { class: 'card', novalidate: true, id: 'store-form' },
    h('h2', null, t('store.title')),
    input('name', { required: true, maxlength: '200' }),
    input('address', { maxlength: '300' }),
    input('phone', { type: 'tel', maxlength: '40' }),
    h('div', { class: 'row' }, ADMIN_FIELDS.map((k) => h('div', { class: 'grow' },
      input(k, admin ? {} : { readonly: true, 'aria-readonly': 'true', class: 'readonly' })))),
    admin ? null : h('p', { class: 'hint' }, t('store.readonly')),
    h('button', { type: 'submit' }, t('save')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const body = {};
    for (const k of admin ? [...MANAGER_FIELDS, ...ADMIN_FIELDS] : MANAGER_FIELDS) {
      const v = form.elements[k].value.trim();
      if (v !== (detail[k] || '')) body[k] = v;
    }
    if (!Object.keys(body).length) { announce(t('store.saved'), 'ok'); return; }
    try {
      const s = await patch(`/api/stores/${store.id}`, body);
      Object.assign(detail, s);
      if (body.name) store.name = s.name;
      announce(t('store.saved'), 'ok');
    } catch (err) { showFormError(form, err); }
  });
  el.append(form);
}
