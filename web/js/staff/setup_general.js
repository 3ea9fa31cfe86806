// The "General" tab of the set-up (setup.js): the bookable services and adding one. Staff,
// hours and closures, the rota and the floor rules have their own tabs.
import { get, post } from '../api.js';
import { t } from '../i18n.js';
import { h, announce, showFormError, clearFormErrors } from '../ui.js';

export async function render({ el, session, go }) {
  const store = session.store;
  const services = await get(`/api/stores/${store.id}/services`);

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
      go('setup/general');
    } catch (err) { showFormError(addService, err); }
  });

  el.append(
    h('div', { class: 'cols' },
      h('section', { class: 'card' }, h('h2', null, t('setup.services')),
        h('ul', { class: 'plain', id: 'service-list' }, services.map((s) => h('li', { style: 'padding:.4rem 0;border-bottom:1px solid var(--line)' }, `${s.name} · ${t('book.min', { n: s.duration_min })}`)))),
      addService));
}
