// The day-and-time picker shared by booking and rescheduling: one availability call covers the
// whole bookable horizon (booking_max_days), so moving between days and months costs no round
// trip. Days are a month grid (Monday first, as the stores' countries write it) where only days
// with free times can be chosen; a day's times are grouped by part of the day in a compact grid,
// so a full day of 40 times fits in a few rows on a phone.
import { get } from './api.js';
import { t } from './i18n.js';
import { h, fill, fmtDay, fmtTime, localDate, addDays, weekdayName, locale } from './ui.js';

export const SPAN_DAYS = 42;


export async function loadDays(storeId, serviceId, tz) {
  const from = localDate(new Date(), tz);
  const to = addDays(from, SPAN_DAYS - 1);
  const r = await get(`/api/stores/${storeId}/availability?service=${serviceId}&from=${from}&to=${to}`);
  return r.days.filter((d) => d.slots.length > 0);
}

const ymd = (y, m, d) => `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;

/** Local hour (0-23) of an instant in the store's time zone. */
function hourIn(iso, tz) {
  return Number(new Intl.DateTimeFormat('en-GB', { hour: '2-digit', hourCycle: 'h23', timeZone: tz }).format(new Date(iso)));
}

/** Morning before noon, afternoon until 17:00, evening after. */
function partOfDay(hour) {
  return hour < 12 ? 'morning' : hour < 17 ? 'afternoon' : 'evening';
}

const PART_LABEL = { morning: 'book.part.morning', afternoon: 'book.part.afternoon', evening: 'book.part.evening' };

/**
 * Renders the month grid and the chosen day's times. onPick(slot) fires on a time tap.
 * Returns false when there is no free day at all.
 */
export function renderPicker({ days, tz, daysEl, slotsEl, headingEl, onPick }) {
  const byDate = new Map(days.map((d) => [d.date, d]));
  const today = localDate(new Date(), tz);
  // The horizon the grid may show: today to the last bookable day (or the last offered one).
  const last = days.reduce((m, d) => (d.date > m ? d.date : m), addDays(today, SPAN_DAYS - 1));
  let chosen = days[0] && days[0].date;
  let month = (chosen || today).slice(0, 7);

  function drawDays() {
    const [y, m] = month.split('-').map(Number);
    const first = new Date(Date.UTC(y, m - 1, 1, 12));
    const count = new Date(Date.UTC(y, m, 0, 12)).getUTCDate();
    const lead = (first.getUTCDay() + 6) % 7; // Monday first
    const prev = ymd(m === 1 ? y - 1 : y, m === 1 ? 12 : m - 1, 1).slice(0, 7);
    const next = ymd(m === 12 ? y + 1 : y, m === 12 ? 1 : m + 1, 1).slice(0, 7);
    const title = new Intl.DateTimeFormat(locale(), { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(first);
    const names = [1, 2, 3, 4, 5, 6, 7].map((d) => weekdayName(d, 'short'));
    const cells = [];
    for (let i = 0; i < lead; i++) cells.push(h('span', { class: 'blank', 'aria-hidden': 'true' }));
    for (let d = 1; d <= count; d++) {
      const date = ymd(y, m, d);
      const free = byDate.get(date);
      cells.push(free
        ? h('button', {
          type: 'button', class: 'day', 'aria-pressed': String(date === chosen), dataset: { date },
          'aria-label': `${fmtDay(date, tz)}, ${t('book.free', { n: free.slots.length })}`,
          onclick: () => { chosen = date; drawDays(); drawSlots(); },
        }, String(d))
        : h('button', { type: 'button', class: 'day', disabled: true, 'aria-label': `${fmtDay(date, tz)}, ${t('book.full')}` }, String(d)));
    }
    fill(daysEl,
      h('div', { class: 'month-nav' },
        h('button', {
          type: 'button', class: 'secondary', id: 'month-prev', 'aria-label': t('book.month.prev'),
          disabled: prev < today.slice(0, 7), onclick: () => { month = prev; drawDays(); },
        }, '‹'),
        h('h4', { class: 'grow', id: 'month-title', 'aria-live': 'polite' }, title),
        h('button', {
          type: 'button', class: 'secondary', id: 'month-next', 'aria-label': t('book.month.next'),
          disabled: next > last.slice(0, 7), onclick: () => { month = next; drawDays(); },
        }, '›')),
      h('div', { class: 'month', role: 'group', 'aria-labelledby': 'month-title' },
        names.map((n) => h('span', { class: 'wd', 'aria-hidden': 'true' }, n)), cells));
  }

  function drawSlots() {
    const day = byDate.get(chosen);
    if (!day) {
      headingEl.textContent = '';
      fill(slotsEl, h('p', { class: 'muted' }, t('book.nodays')));
      return;
    }
    headingEl.textContent = t('book.slots', { day: fmtDay(day.date, tz) });
    const groups = new Map();
    for (const s of day.slots) {
      const part = partOfDay(hourIn(s.starts_at, tz));
      if (!groups.has(part)) groups.set(part, []);
      groups.get(part).push(s);
    }
    fill(slotsEl, [...groups].map(([part, slots]) => h('div', { class: 'slot-group' },
      h('h4', { id: `part-${part}` }, t(PART_LABEL[part])),
      h('div', { class: 'slot-grid', role: 'group', 'aria-labelledby': `part-${part}` }, slots.map((s) => h('button', {
        type: 'button', 'aria-pressed': 'false', dataset: { start: s.starts_at },
        onclick: (e) => {
          slotsEl.querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', 'false'));
          e.currentTarget.setAttribute('aria-pressed', 'true');
          onPick(s);
        },
      }, fmtTime(s.starts_at, tz)))))));
  }
  drawDays();
  drawSlots();
  return days.length > 0;
}
