// The "General" tab of the set-up (setup.js): the staff of the store with their roles, adding
// someone, the weekly opening hours, closures and the staff's shifts (services have their own
// tab: setup_services.js).
import { get, post, put, api } from '../api.js';
import { t, lang } from '../i18n.js';
import { h, fill, announce, errorText, showFormError, clearFormErrors, fmtDay, fmtTime, localDate, addDays } from '../ui.js';
import { repairMessagesCard } from './repairs.js';

const ROLES = ['specialist', 'technician', 'manager'];
const SHIFT_DAYS = 7; // the rota shows a week from the chosen day

/** The weekday's name, 1 = Monday (1 January 2024 was a Monday). */
function weekdayName(d) {
  return new Intl.DateTimeFormat(lang() === 'fr' ? 'fr-FR' : 'en-GB', { weekday: 'long', timeZone: 'UTC' })
    .format(new Date(Date.UTC(2024, 0, d)));
}

/** A local date and time of day in a time zone as ISO 8601 with its offset (exact on DST days). */
function zonedIso(ymd, hm, tz) {
  const [y, m, d] = ymd.split('-').map(Number);
  const [H, M] = hm.split(':').map(Number);
  const wall = Date.UTC(y, m - 1, d, H, M);
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
  const offset = (at) => {
    const p = fmt.formatToParts(new Date(at));
    const g = (k) => Number(p.find((x) => x.type === k).value);
    return Date.UTC(g('year'), g('month') - 1, g('day'), g('hour'), g('minute')) - at;
  };
  const off = Math.round(offset(wall - offset(wall)) / 60000);
  const a = Math.abs(off);
  return `${ymd}T${hm}:00${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

export async function render({ el, session, go }) {
  const store = session.store;
  const [staff, rules, detail] = await Promise.all([
    get(`/api/stores/${store.id}/staff`),
    get(`/api/stores/${store.id}/floor/settings`), get(`/api/stores/${store.id}`)]);
  const tz = detail.timezone;
  const reload = () => go('setup/general');

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

  // The floor rules: check-in window, assumed service time, how long the line may get, how many
  // "not here" skips make a no-show.
  const RULES = [['checkin_early_min', 'setup.early'], ['checkin_late_min', 'setup.late'],
    ['default_service_s', 'setup.service_s'], ['line_max', 'setup.line_max'], ['max_skips', 'door.max_skips']];
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

  // Closures: the days from today the store is shut, and a form to add one.
  const closureItem = (c) => h('li', { class: 'line-item' },
    h('strong', null, fmtDay(c.date, tz)), c.reason ? ` · ${c.reason}` : '');
  const closureList = h('ul', { class: 'plain', id: 'closure-list' },
    detail.closures.length ? detail.closures.map(closureItem) : h('li', { class: 'hint' }, t('setup.noclosures')));
  const closureForm = h('form', { class: 'card', novalidate: true, id: 'add-closure' },
    h('h3', null, t('setup.closures')),
    closureList,
    h('div', { class: 'field' }, h('label', { for: 'cl-date' }, t('setup.date')),
      h('input', { id: 'cl-date', name: 'date', type: 'date', min: localDate(new Date(), tz), required: true })),
    h('div', { class: 'field' }, h('label', { for: 'cl-reason' }, t('setup.reason')),
      h('input', { id: 'cl-reason', name: 'reason', maxlength: '200' })),
    h('button', { type: 'submit' }, t('setup.addclosure')));
  closureForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(closureForm);
    const f = closureForm.elements;
    try {
      const c = await post(`/api/stores/${store.id}/closures`, { date: f.date.value, reason: f.reason.value.trim() });
      detail.closures = [...detail.closures, c].sort((a, b) => (a.date < b.date ? -1 : 1));
      fill(closureList, detail.closures.map(closureItem));
      f.date.value = '';
      f.reason.value = '';
      announce(c.booked ? t('setup.closure_booked', { n: c.booked }) : t('setup.added'), c.booked ? 'error' : 'ok');
    } catch (err) { showFormError(closureForm, err); }
  });

  // Shifts: a week of the rota from a chosen day, each removable, and a form to add one.
  const today = localDate(new Date(), tz);
  const shiftFrom = h('input', { id: 'sh-from', type: 'date', value: today });
  const shiftList = h('ul', { class: 'plain', id: 'shift-list' });
  const loadShifts = async () => {
    const from = shiftFrom.value || today;
    try {
      const r = await get(`/api/stores/${store.id}/shifts?from=${from}&to=${addDays(from, SHIFT_DAYS - 1)}`);
      fill(shiftList, r.shifts.length ? r.shifts.map(shiftItem) : h('li', { class: 'hint' }, t('setup.noshifts')));
    } catch (err) { announce(errorText(err), 'error'); }
  };
  const shiftItem = (sh) => {
    const what = `${fmtDay(sh.starts_at, tz, 'short')}, ${fmtTime(sh.starts_at, tz)}–${fmtTime(sh.ends_at, tz)} · ${sh.staff_name}`;
    const li = h('li', { class: 'line-item', dataset: { shift: String(sh.id) } },
      h('span', { class: 'grow' }, what,
        detail.closures.some((c) => c.date === localDate(new Date(sh.starts_at), tz)) ? h('span', { class: 'badge warn' }, ' ' + t('setup.closedday')) : null),
      h('button', {
        type: 'button', class: 'danger', 'aria-label': `${t('setup.deleteshift')} · ${what}`,
        onclick: async (e) => {
          const btn = e.currentTarget;
          li.querySelector('.field-error')?.remove();
          btn.disabled = true;
          try {
            await api(`/api/stores/${store.id}/shifts/${sh.id}`, { method: 'DELETE' });
            announce(t('setup.shiftdeleted'), 'ok');
            await loadShifts();
          } catch (err) {
            btn.disabled = false;
            // 409: a booking relies on it; the API says how many and what to do.
            const msg = err.message || errorText(err);
            li.append(h('p', { class: 'field-error', style: 'flex-basis:100%' }, msg));
            announce(msg, 'error');
          }
        },
      }, t('setup.delete')));
    return li;
  };
  shiftFrom.addEventListener('change', loadShifts);
  const shiftForm = h('form', { class: 'card', novalidate: true, id: 'add-shift' },
    h('h3', null, t('setup.addshift')),
    h('div', { class: 'field' }, h('label', { for: 'sh-staff' }, t('setup.person')),
      h('select', { id: 'sh-staff', name: 'staff_id' }, staff.staff.filter((s) => !s.disabled).map((s) =>
        h('option', { value: String(s.id) }, `${s.name} (${s.roles.map((r) => t('role.' + r)).join(', ')})`)))),
    h('div', { class: 'field' }, h('label', { for: 'sh-date' }, t('setup.date')),
      h('input', { id: 'sh-date', name: 'date', type: 'date', value: today, required: true })),
    h('div', { class: 'row' },
      h('div', { class: 'field grow' }, h('label', { for: 'sh-start' }, t('setup.starts')),
        h('input', { id: 'sh-start', name: 'starts_at', type: 'time', step: '900', value: '10:00', required: true })),
      h('div', { class: 'field grow' }, h('label', { for: 'sh-end' }, t('setup.ends')),
        h('input', { id: 'sh-end', name: 'ends_at', type: 'time', step: '900', value: '20:00', required: true }))),
    h('button', { type: 'submit' }, t('setup.addshift')));
  shiftForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(shiftForm);
    const f = shiftForm.elements;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(f.date.value)) {
      showFormError(shiftForm, { field: 'date', code: 'invalid', message: t('setup.needdate') });
      return;
    }
    // An end at or before the start is the next morning (a night shift); the API caps it at 24 h.
    const endDay = f.ends_at.value && f.starts_at.value && f.ends_at.value <= f.starts_at.value ? addDays(f.date.value, 1) : f.date.value;
    try {
      await post(`/api/stores/${store.id}/shifts`, {
        staff_id: Number(f.staff_id.value),
        starts_at: f.starts_at.value ? zonedIso(f.date.value, f.starts_at.value, tz) : '',
        ends_at: f.ends_at.value ? zonedIso(endDay, f.ends_at.value, tz) : '',
      });
      announce(t('setup.added'), 'ok');
      shiftFrom.value = f.date.value;
      await loadShifts();
    } catch (err) { showFormError(shiftForm, err); }
  });
  await loadShifts();

  el.append(
    h('section', { class: 'card' }, h('h2', null, t('setup.staff')), h('div', { style: 'overflow-x:auto' }, staffTable)),
    h('div', { class: 'cols' },
      addStaff,
      h('div', null,
        rulesForm,
        await repairMessagesCard(store))),
    h('h2', null, t('setup.week')),
    h('div', { class: 'cols' }, hoursForm, closureForm),
    h('div', { class: 'cols' },
      h('section', { class: 'card', id: 'shifts' }, h('h2', null, t('setup.shifts')),
        h('div', { class: 'field' }, h('label', { for: 'sh-from' }, t('setup.shiftsfrom')), shiftFrom),
        shiftList),
      h('div', null, shiftForm)));
}
