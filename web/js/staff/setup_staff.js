// The "Staff" tab of the set-up (setup.js): the store's staff with their roles (a tap on a box
// grants or takes one away at once), and adding someone.
import { get, post, put } from '../api.js';
import { t } from '../i18n.js';
import { h, announce, errorText, showFormError, clearFormErrors } from '../ui.js';

const ROLES = ['specialist', 'technician', 'manager'];

export async function render({ el, session, go }) {
  const store = session.store;
  const staff = await get(`/api/stores/${store.id}/staff`);

  const staffTable = h('table', { id: 'staff-table' },
    h('thead', null, h('tr', null, h('th', null, t('setup.name')), h('th', null, t('staff.email')), ROLES.map((r) => h('th', null, t('role.' + r))))),
    h('tbody', null, staff.staff.map((s) => h('tr', { dataset: { staff: String(s.id) } },
      h('td', null, s.name, s.disabled ? h('span', { class: 'badge bad' }, ' ✗') : null),
      h('td', null, s.email),
      ROLES.map((r) => h('td', null, h('input', {
        type: 'checkbox', checked: s.roles.includes(r), 'aria-label': `${t('role.' + r)} · ${s.name}`, style: 'width:1.6rem;height:1.6rem;min-height:0',
        onchange: async (e) => {
          const box = e.currentTarget;
          const roles = ROLES.filter((x) => (x === r ? box.checked : s.roles.includes(x)));
          try {
            const u = await put(`/api/stores/${store.id}/staff/${s.id}/roles`, { roles });
            s.roles = u.roles;
            announce(t('setup.added'), 'ok');
          } catch (err) {
            box.checked = !box.checked;
            announce(errorText(err), 'error');
          }
        },
      })))))));

  const addStaff = h('form', { class: 'card', novalidate: true, id: 'add-staff' },
    h('h3', null, t('setup.addstaff')),
    h('div', { class: 'field' }, h('label', { for: 'st-name' }, t('setup.name')), h('input', { id: 'st-name', name: 'name', required: true, maxlength: '200' })),
    h('div', { class: 'field' }, h('label', { for: 'st-email' }, t('staff.email')), h('input', { id: 'st-email', name: 'email', type: 'email', required: true })),
    h('div', { class: 'field' }, h('label', { for: 'st-password' }, t('staff.password')), h('input', { id: 'st-password', name: 'password', type: 'password', minlength: '10', autocomplete: 'new-password', required: true })),
    h('div', { class: 'field' }, h('label', { for: 'st-role' }, t('setup.role')),
      h('select', { id: 'st-role', name: 'roles' }, ROLES.map((r) => h('option', { value: r }, t('role.' + r))))),
    h('button', { type: 'submit' }, t('save')));
  addStaff.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(addStaff);
    const f = addStaff.elements;
    try {
      await post(`/api/stores/${store.id}/staff`, { name: f.name.value.trim(), email: f.email.value.trim(), password: f.password.value, roles: [f.roles.value] });
      announce(t('setup.added'), 'ok');
      go('setup/staff');
    } catch (err) { showFormError(addStaff, err); }
  });

  el.append(
    h('section', { class: 'card' }, h('h2', null, t('setup.staff')), h('div', { style: 'overflow-x:auto' }, staffTable)),
    h('div', { class: 'cols' }, addStaff));
}
