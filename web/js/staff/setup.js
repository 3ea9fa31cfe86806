// Store setup for managers: the staff of the store with their roles, adding someone, and the
// bookable services.
import { get, post, put } from '../api.js';
import { t } from '../i18n.js';
import { h, announce, errorText, showFormError, clearFormErrors } from '../ui.js';

const ROLES = ['specialist', 'technician', 'manager'];

export async function render({ el, session, go }) {
  const store = session.store;
  const [staff, services, rules] = await Promise.all([
    get(`/api/stores/${store.id}/staff`), get(`/api/stores/${store.id}/services`),
    get(`/api/stores/${store.id}/floor/settings`)]);
  const reload = () => go('setup');

  const staffTable = h('table', { id: 'staff-table' },
    h('thead', null, h('tr', null, h('th', null, t('setup.name')), h('th', null, t('staff.email')), ROLES.map((r) => h('th', null, t('role.' + r))))),
    h('tbody', null, staff.staff.map((s) => h('tr', { dataset: { staff: String(s.id) } },
      h('td', null, s.name, s.disabled ? h('span', { class: 'badge bad' }, ' ✗') : null),
      h('td', null, s.email),
      ROLES.map((r) => h('td', null, h('input', {
        type: 'checkbox', checked: s.roles.includes(r), 'aria-label': `${t('role.' + r)} · ${s.name}`, style: 'width:1.6rem;height:1.6rem;min-height:0',
        onchange: async (e) => {
          const roles = ROLES.filter((x) => (x === r ? e.currentTarget.checked : s.roles.includes(x)));
          try {
            const u = await put(`/api/stores/${store.id}/staff/${s.id}/roles`, { roles });
            s.roles = u.roles;
            announce(t('setup.added'), 'ok');
          } catch (err) {
            e.currentTarget.checked = !e.currentTarget.checked;
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
      reload();
    } catch (err) { showFormError(addStaff, err); }
  });

  const addService = h('form', { class: 'card', novalidate: true, id: 'add-service' },
    h('h3', null, t('setup.addservice')),
    h('div', { class: 'field' }, h('label', { for: 'sv-name' }, t('setup.name')), h('input', { id: 'sv-name', name: 'name', required: true })),
    h('div', { class: 'row' },
      h('div', { class: 'field grow' }, h('label', { for: 'sv-duration' }, t('setup.duration')), h('input', { id: 'sv-duration', name: 'duration_min', type: 'number', min: '5', step: '5', value: '30' })),
      h('div', { class: 'field grow' }, h('label', { for: 'sv-skill' }, t('setup.skill')),
        h('select', { id: 'sv-skill', name: 'skill' }, ['repair', 'diagnostics', 'setup'].map((s) => h('option', { value: s }, s))))),
    h('button', { type: 'submit' }, t('save')));
  addService.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(addService);
    const f = addService.elements;
    try {
      await post(`/api/stores/${store.id}/services`, { name: f.name.value.trim(), duration_min: Number(f.duration_min.value), skill: f.skill.value, buffer_min: 0 });
      announce(t('setup.added'), 'ok');
      reload();
    } catch (err) { showFormError(addService, err); }
  });

  // The floor rules: check-in window, assumed service time, how long the line may get.
  const RULES = [['checkin_early_min', 'setup.early'], ['checkin_late_min', 'setup.late'],
    ['default_service_s', 'setup.service_s'], ['line_max', 'setup.line_max']];
  const rulesForm = h('form', { class: 'card', novalidate: true, id: 'floor-rules' },
    h('h3', null, t('setup.rules')),
    RULES.map(([k, key]) => h('div', { class: 'field' }, h('label', { for: `fr-${k}` }, t(key)),
      h('input', { id: `fr-${k}`, name: k, type: 'number', inputmode: 'numeric', value: String(rules[k] ?? ''), required: true }))),
    h('button', { type: 'submit' }, t('save')));
  rulesForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(rulesForm);
    const body = {};
    for (const [k] of RULES) body[k] = Number(rulesForm.elements[k].value);
    try {
      await put(`/api/stores/${store.id}/floor/settings`, body);
      announce(t('setup.added'), 'ok');
    } catch (err) { showFormError(rulesForm, err); }
  });

  el.append(h('h1', null, `${t('setup.title')} · ${store.name}`),
    h('section', { class: 'card' }, h('h2', null, t('setup.staff')), h('div', { style: 'overflow-x:auto' }, staffTable)),
    h('div', { class: 'cols' },
      addStaff,
      h('div', null,
        h('section', { class: 'card' }, h('h2', null, t('setup.services')),
          h('ul', { class: 'plain', id: 'service-list' }, services.map((s) => h('li', { style: 'padding:.4rem 0;border-bottom:1px solid var(--line)' }, `${s.name} · ${t('book.min', { n: s.duration_min })}`)))),
        addService,
        rulesForm)));
}
