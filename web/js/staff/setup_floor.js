// The "Floor" tab of the set-up (setup.js): the floor rules and which repair steps send the
// customer a message. Times are asked in minutes; the API keeps the assumed service time in
// seconds (default_service_s), so the page converts both ways.
import { get, put } from '../api.js';
import { t } from '../i18n.js';
import { h, announce, showFormError, clearFormErrors } from '../ui.js';
import { repairMessagesCard } from './repairs.js';

// [API key, label, factor from what the page shows to what the API keeps]
const RULES = [['checkin_early_min', 'setup.early', 1], ['checkin_late_min', 'setup.late', 1],
  ['default_service_s', 'setup.service_min', 60], ['line_max', 'setup.line_max', 1], ['max_skips', 'door.max_skips', 1]];

export async function render({ el, session }) {
  const store = session.store;
  const rules = await get(`/api/stores/${store.id}/floor/settings`);
  // The floor rules: check-in window, assumed service time, how long the line may get, how many
  // "not here" skips make a no-show. The input keeps the API's name so its errors land there.
  const shown = (k, f) => (rules[k] == null ? '' : String(Math.round(rules[k] / f)));
  const rulesForm = h('form', { class: 'card', novalidate: true, id: 'floor-rules' },
    h('h3', null, t('setup.rules')),
    RULES.map(([k, key, f]) => h('div', { class: 'field' }, h('label', { for: `fr-${k}` }, t(key)),
      h('input', { id: `fr-${k}`, name: k, type: 'number', inputmode: 'numeric', min: '0', step: '1', value: shown(k, f), required: true }))),
    h('button', { type: 'submit' }, t('save')));
  rulesForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(rulesForm);
    const body = {};
    for (const [k, , f] of RULES) body[k] = Math.round(Number(rulesForm.elements[k].value) * f);
    try {
      await put(`/api/stores/${store.id}/floor/settings`, body);
      announce(t('setup.added'), 'ok');
    } catch (err) { showFormError(rulesForm, err); }
  });
  el.append(h('div', { class: 'cols' }, rulesForm, await repairMessagesCard(store)));
}
