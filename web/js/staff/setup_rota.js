// The "Rota" tab of the set-up (setup.js, #setup/rota/<Monday>): a week as a grid of staff by
// day. Tapping a day adds a shift (once, or every week from that day: a pattern the API turns
// into shifts); tapping a shift moves or deletes it, for that day only or, for a weekly one,
// every week from there (the pattern ends the day before and a new one starts). Times are the
// store's wall-clock; the API says when a booking relies on a shift, and the page shows it.
import { get, post, patch, api } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, announce, showFormError, clearFormErrors, fmtDay, localDate, addDays } from '../ui.js';
import { closuresCard } from './setup_hours.js';

/** A local date and time of day in a time zone as ISO 8601 with its offset (exact on DST days). */
export function zonedIso(ymd, hm, tz) {
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

/** The Monday on or before a YYYY-MM-DD date. */
function mondayOf(ymd) {
  const dow = new Date(ymd + 'T12:00:00Z').getUTCDay();
  return addDays(ymd, -((dow + 6) % 7));
}

export async function render({ el, session, args }) {
  const store = session.store;
  const detail = await get(`/api/stores/${store.id}`);
  const tz = detail.timezone;
  const week = /^\d{4}-\d{2}-\d{2}$/.test(args[0] || '') ? mondayOf(args[0]) : mondayOf(localDate(new Date(), tz));
  const base = `/api/stores/${store.id}`;
  let grid;

  const gridBox = h('div', { class: 'rota-scroll', id: 'rota-box' });
  const editor = h('form', { class: 'card rota-editor', id: 'shift-editor', novalidate: true, hidden: true });
  const weekLabel = h('strong', { id: 'rota-week' });

  async function load() {
    grid = await get(`${base}/rota?week=${week}`);
    const closed = new Map(grid.closures.map((c) => [c.date, c]));
    fill(weekLabel, t('rota.week_of', { day: fmtDay(week, tz, 'date') }));
    fill(gridBox, h('table', { id: 'rota-grid', class: 'rota' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('setup.person')),
        grid.days.map((d) => h('th', { scope: 'col', class: closed.has(d) ? 'closed' : null, dataset: { day: d } },
          fmtDay(d, tz, 'short'), closed.has(d) ? h('span', { class: 'badge warn' }, t('setup.closedday')) : null)))),
      h('tbody', null, grid.staff.map((s) => h('tr', { dataset: { staff: String(s.id) } },
        h('th', { scope: 'row' }, s.name),
        grid.days.map((d) => h('td', { dataset: { day: d } },
          s.shifts.filter((x) => x.date === d).map((x) => h('button', {
            type: 'button', class: 'shift' + (x.pattern_id ? ' weekly' : ''), dataset: { shift: String(x.id) },
            'aria-label': `${s.name} · ${fmtDay(d, tz, 'short')} · ${x.start}–${x.end}${x.pattern_id ? ' · ' + t('rota.weekly') : ''}`,
            onclick: () => openEditor(s, d, x),
          }, `${x.start}–${x.end}`, x.pattern_id ? h('span', { 'aria-hidden': 'true' }, ' ↻') : null)),
          h('button', {
            type: 'button', class: 'add-shift secondary',
            'aria-label': `${t('setup.addshift')} · ${s.name} · ${fmtDay(d, tz, 'short')}`,
            onclick: () => openEditor(s, d, null),
          }, '+'))))))));
  }

  function close() {
    editor.hidden = true;
    editor.replaceChildren();
  }

  async function done(msg, kind = 'ok') {
    close();
    await load();
    announce(msg, kind);
  }

  // One form for adding (shift null) and editing a shift of person s on day d.
  function openEditor(s, d, shift) {
    clearFormErrors(editor);
    const weekly = shift && shift.pattern_id;
    fill(editor,
      h('h3', null, `${shift ? t('rota.edit_shift') : t('setup.addshift')} · ${s.name} · ${fmtDay(d, tz)}`),
      h('div', { class: 'row' },
        h('div', { class: 'field grow' }, h('label', { for: 're-start' }, t('setup.starts')),
          h('input', { id: 're-start', name: 'starts', type: 'time', step: '900', value: shift ? shift.start : '10:00', dataset: { field: 'starts_at' }, required: true })),
        h('div', { class: 'field grow' }, h('label', { for: 're-end' }, t('setup.ends')),
          h('input', { id: 're-end', name: 'ends', type: 'time', step: '900', value: shift ? shift.end : '18:00', dataset: { field: 'ends_at' }, required: true }))),
      shift ? null : h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'repeat', id: 're-repeat' }), ' ', t('rota.repeat')),
      weekly ? h('fieldset', { class: 'scope' }, h('legend', null, t('rota.which')),
        h('label', { class: 'check' }, h('input', { type: 'radio', name: 'scope', value: 'one', checked: true }), ' ', t('rota.this_one')),
        h('label', { class: 'check' }, h('input', { type: 'radio', name: 'scope', value: 'following' }), ' ', t('rota.from_here'))) : null,
      h('div', { class: 'row' },
        h('button', { type: 'submit' }, t('save')),
        shift ? h('button', { type: 'button', class: 'danger', id: 're-delete', onclick: () => remove(s, d, shift) }, t('setup.delete')) : null,
        h('button', { type: 'button', class: 'secondary', onclick: close }, t('rota.cancel'))));
    editor.onsubmit = (e) => { e.preventDefault(); save(s, d, shift); };
    editor.hidden = false;
    editor.scrollIntoView({ block: 'nearest' });
    editor.querySelector('#re-start').focus();
  }

  const scope = () => (editor.elements.scope ? editor.elements.scope.value : 'one');

  async function save(s, d, shift) {
    clearFormErrors(editor);
    const f = editor.elements;
    const starts = f.starts.value;
    const ends = f.ends.value;
    // An end at or before the start is the next morning (a night shift); the API caps it at 24 h.
    const endDay = starts && ends && ends <= starts ? addDays(d, 1) : d;
    const times = { starts_at: starts ? zonedIso(d, starts, tz) : '', ends_at: ends ? zonedIso(endDay, ends, tz) : '' };
    try {
      if (!shift && f.repeat.checked) {
        const p = await post(`${base}/rota/patterns`, { staff_id: s.id, starts, ends, from: d });
        await done(t('rota.pattern_added', { n: p.created, skipped: p.skipped }));
      } else if (!shift) {
        await post(`${base}/shifts`, { staff_id: s.id, ...times });
        await done(t('setup.added'));
      } else if (scope() === 'following') {
        // One call: the old weekly shift ends the day before and the new one starts here.
        const r = await patch(`${base}/rota/patterns/${shift.pattern_id}`, { from: d, starts, ends });
        await done(t('rota.pattern_added', { n: r.pattern.created, skipped: r.pattern.skipped }));
      } else {
        await patch(`${base}/shifts/${shift.id}`, times);
        await done(t('setup.added'));
      }
    } catch (err) { showFormError(editor, err); }
  }

  async function remove(s, d, shift) {
    clearFormErrors(editor);
    const btn = editor.querySelector('#re-delete');
    btn.disabled = true;
    try {
      if (scope() === 'following') {
        const r = await patch(`${base}/rota/patterns/${shift.pattern_id}`, { until: addDays(d, -1) });
        await done(r.kept ? t('rota.kept', { n: r.kept }) : t('setup.shiftdeleted'), r.kept ? 'error' : 'ok');
      } else {
        await api(`${base}/shifts/${shift.id}`, { method: 'DELETE' });
        await done(t('setup.shiftdeleted'));
      }
    } catch (err) {
      // 409 has_appointments: a booking relies on it; shown at the top of the form.
      btn.disabled = false;
      showFormError(editor, err);
    }
  }

  const copy = h('button', {
    type: 'button', class: 'secondary', id: 'rota-copy',
    onclick: async (e) => {
      const btn = e.currentTarget;
      btn.disabled = true;
      try {
        const r = await post(`${base}/rota/copy-week`, { from: addDays(week, -7), to: week });
        await done(t('rota.copied', { n: r.copied, skipped: r.skipped }));
      } catch (err) { showFormError(editor.hidden ? toolbar : editor, err); }
      btn.disabled = false;
    },
  }, t('rota.copy'));
  const toolbar = h('div', { class: 'row rota-bar' },
    h('a', { class: 'button secondary', href: `#setup/rota/${addDays(week, -7)}`, id: 'rota-prev' }, '← ', t('rota.prev')),
    weekLabel,
    h('a', { class: 'button secondary', href: `#setup/rota/${addDays(week, 7)}`, id: 'rota-next' }, t('rota.next'), ' →'),
    copy);

  await load();
  el.append(
    h('section', { class: 'card', id: 'rota' }, h('h2', null, t('setup.shifts')), toolbar,
      h('p', { class: 'hint' }, t('rota.hint')), gridBox),
    editor,
    closuresCard(store, tz, detail.closures, () => load()));
}
