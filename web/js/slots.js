// The day-and-time picker shared by booking and rescheduling: one availability call covers the
// next two weeks, so switching days costs no round trip.
import { get } from './api.js';
import { t } from './i18n.js';
import { h, fill, fmtDay, fmtTime, localDate, addDays } from './ui.js';

export const SPAN_DAYS = 14;

export async function loadDays(storeId, serviceId, tz) {
  const from = localDate(new Date(), tz);
  const to = addDays(from, SPAN_DAYS - 1);
  const r = await get(`/api/stores/${storeId}/availability?service=${serviceId}&from=${from}&to=${to}`);
  return r.days.filter((d) => d.slots.length > 0);
}

/**
 * Renders day buttons and the chosen day's slot buttons. onPick(slot) fires on a slot tap.
 * Returns false when there is no free day at all.
 */
export function renderPicker({ days, tz, daysEl, slotsEl, headingEl, onPick }) {
  let chosen = days[0] && days[0].date;
  function drawDays() {
    fill(daysEl, days.map((d) => h('button', {
      type: 'button', 'aria-pressed': String(d.date === chosen), dataset: { date: d.date },
      onclick: () => { chosen = d.date; drawDays(); drawSlots(); },
    }, fmtDay(d.date, tz, 'short'), h('span', { class: 'n' }, t('book.free', { n: d.slots.length })))));
  }
  function drawSlots() {
    const day = days.find((d) => d.date === chosen);
    if (!day) {
      headingEl.textContent = '';
      fill(slotsEl, h('p', { class: 'muted' }, t('book.nodays')));
      return;
    }
    headingEl.textContent = t('book.slots', { day: fmtDay(day.date, tz) });
    fill(slotsEl, day.slots.map((s) => h('button', {
      type: 'button', 'aria-pressed': 'false', dataset: { start: s.starts_at },
      onclick: (e) => {
        slotsEl.querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', 'false'));
        e.currentTarget.setAttribute('aria-pressed', 'true');
        onPick(s);
      },
    }, fmtTime(s.starts_at, tz))));
  }
  drawDays();
  drawSlots();
  return days.length > 0;
}
