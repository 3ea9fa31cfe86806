// The "Hours" tab of the set-up (setup.js): the weekly opening hours and the closures. The
// closures card is shared with the rota tab (setup_rota.js), which shows the same days.
import { get, post, put, patch, api } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, announce, errorText, showFormError, clearFormErrors, fmtDay, localDate, weekdayName } from '../ui.js';

/**
 * Closures from today: each with Edit (its day and reason, in place) and Delete, and a form to
 * add one. `onChange` runs after any change (the rota redraws its week).
 */
export function closuresCard(store, tz, closures, onChange = () => {}) {
  let list = [...closures];
  const ul = h('ul', { class: 'plain', id: 'closure-list' });
  const redraw = () => fill(ul, list.length ? list.map(item) : h('li', { class: 'hint' }, t('setup.noclosures')));
  const sort = () => list.sort((a, b) => (a.date < b.date ? -1 : 1));
  const saved = (c) => announce(c.booked ? t('setup.closure_booked', { n: c.booked }) : t('setup.added'), c.booked ? 'error' : 'ok');

  function item(c) {
    const what = fmtDay(c.date, tz);
    const li = h('li', { class: 'line-item closure', dataset: { closure: String(c.id) } },
      h('span', { class: 'grow' }, h('strong', null, what), c.reason ? ` · ${c.reason}` : ''),
      h('button', { type: 'button', class: 'secondary', 'aria-label': `${t('rota.edit')} · ${what}`, onclick: () => li.replaceWith(editor(c)) }, t('rota.edit')),
      h('button', {
        type: 'button', class: 'danger', 'aria-label': `${t('setup.delete')} · ${what}`,
        onclick: async (e) => {
          const btn = e.currentTarget;
          btn.disabled = true;
          try {
            await api(`/api/stores/${store.id}/closures/${c.id}`, { method: 'DELETE' });
            list = list.filter((x) => x.id !== c.id);
            redraw();
            announce(t('rota.closure_deleted'), 'ok');
            onChange();
          } catch (err) {
            btn.disabled = false;
            announce(errorText(err), 'error');
          }
        },
      }, t('setup.delete')));
    return li;
  }

  function editor(c) {
    const form = h('form', { class: 'closure-edit', novalidate: true, dataset: { closure: String(c.id) } },
      h('div', { class: 'row' },
        h('div', { class: 'field grow' }, h('label', { for: `ce-date-${c.id}` }, t('setup.date')),
          h('input', { id: `ce-date-${c.id}`, name: 'date', type: 'date', value: c.date, required: true })),
        h('div', { class: 'field grow' }, h('label', { for: `ce-reason-${c.id}` }, t('setup.reason')),
          h('input', { id: `ce-reason-${c.id}`, name: 'reason', maxlength: '200', value: c.reason || '' }))),
      h('div', { class: 'row' },
        h('button', { type: 'submit' }, t('save')),
        h('button', { type: 'button', class: 'secondary', onclick: () => redraw() }, t('rota.cancel'))));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearFormErrors(form);
      try {
        const u = await patch(`/api/stores/${store.id}/closures/${c.id}`, { date: form.elements.date.value, reason: form.elements.reason.value.trim() });
        list = list.map((x) => (x.id === c.id ? { id: u.id, date: u.date, reason: u.reason } : x));
        sort();
        redraw();
        saved(u);
        onChange();
      } catch (err) { showFormError(form, err); }
    });
    return form;
  }

  const addForm = h('form', { novalidate: true, id: 'add-closure' },
    h('div', { class: 'field' }, h('label', { for: 'cl-date' }, t('setup.date')),
      h('input', { id: 'cl-date', name: 'date', type: 'date', min: localDate(new Date(), tz), required: true })),
    h('div', { class: 'field' }, h('label', { for: 'cl-reason' }, t('setup.reason')),
      h('input', { id: 'cl-reason', name: 'reason', maxlength: '200' })),
    h('button', { type: 'submit' }, t('setup.addclosure')));
  addForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(addForm);
    const f = addForm.elements;
    try {
      const c = await post(`/api/stores/${store.id}/closures`, { date: f.date.value, reason: f.reason.value.trim() });
      list.push({ id: c.id, date: c.date, reason: c.reason });
      sort();
      redraw();
      f.date.value = '';
      f.reason.value = '';
      saved(c);
      onChange();
    } catch (err) { showFormError(addForm, err); }
  });
  redraw();
  return h('section', { class: 'card', id: 'closures' }, h('h3', null, t('setup.closures')), ul, addForm);
}

export async function render({ el, session }) {
  const store = session.store;
  const detail = await get(`/api/stores/${store.id}`);
  const tz = detail.timezone;

  // Weekly opening hours: one period a day (a day left empty is closed); further periods a day
  // the API may hold are kept as they are. A store with no hours at all starts from Monday to
  // Saturday, 10:00 to 20:00, to be saved.
  const noHours = !detail.hours.length;
  const firsts = {};
  const extra = [];
  for (const p of detail.hours) (firsts[p.weekday] ? extra.push(p) : (firsts[p.weekday] = p));
  const DAYS = [1, 2, 3, 4, 5, 6, 7];
  const timeInput = (d, k) => h('input', {
    id: `hr-${d}-${k}`, type: 'time', step: '900', 'aria-label': `${t('setup.' + k)} · ${weekdayName(d)}`,
    value: firsts[d] ? firsts[d][k] : (noHours && d < 7 ? (k === 'opens' ? '10:00' : '20:00') : ''),
  });
  const hoursForm = h('form', { class: 'card', novalidate: true, id: 'hours-form' },
    h('h3', null, t('setup.hours')),
    h('p', { class: 'hint' }, noHours ? t('setup.hours_default') : t('setup.hours_hint')),
    h('table', { class: 'hours' },
      h('thead', null, h('tr', null, h('th', null, t('setup.day')), h('th', null, t('setup.opens')), h('th', null, t('setup.closes')))),
      h('tbody', null, DAYS.map((d) => h('tr', { dataset: { weekday: String(d) } },
        h('th', { scope: 'row' }, weekdayName(d)),
        h('td', { class: 'field' }, timeInput(d, 'opens')),
        h('td', { class: 'field' }, timeInput(d, 'closes')))))),
    h('button', { type: 'submit' }, t('save')));
  hoursForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(hoursForm);
    const hours = [];
    for (const d of DAYS) {
      const o = hoursForm.querySelector(`#hr-${d}-opens`);
      const c = hoursForm.querySelector(`#hr-${d}-closes`);
      o.removeAttribute('name');
      c.removeAttribute('name');
      if (!o.value && !c.value) continue;
      // Named as the API names them, so its error lands under the right box.
      o.name = `hours[${hours.length}].opens`;
      c.name = `hours[${hours.length}].closes`;
      hours.push({ weekday: d, opens: o.value, closes: c.value });
    }
    for (const p of extra) if (hours.some((x) => x.weekday === p.weekday)) hours.push(p);
    try {
      await put(`/api/stores/${store.id}/hours`, { hours });
      announce(t('setup.added'), 'ok');
    } catch (err) { showFormError(hoursForm, err); }
  });

  el.append(h('div', { class: 'cols' }, hoursForm, closuresCard(store, tz, detail.closures)));
}
