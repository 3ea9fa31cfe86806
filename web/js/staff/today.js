// Today's schedule: the store's appointments for a day, in its time zone, who serves each one,
// with check-in at hand.
import { get } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, fmtTime, fmtDay, localDate, addDays, announce, errorText } from '../ui.js';
import { checkIn } from './floor.js';
import { checkinWaiting } from './offline.js';

const KIND = { booked: '', checked_in: 'ok', in_service: 'ok', done: 'ok', cancelled: 'bad', no_show: 'warn' };

export async function render({ el, session, args, go }) {
  const store = session.store;
  const tz = store.timezone;
  const today = localDate(new Date(), tz);
  const date = /^\d{4}-\d{2}-\d{2}$/.test(args[0] || '') ? args[0] : today;
  const list = h('div', { class: 'card', 'aria-live': 'polite' }, h('p', { class: 'muted' }, t('loading')));
  el.append(
    h('div', { class: 'row' },
      h('h1', { class: 'grow' }, t('today.title')),
      h('button', { type: 'button', class: 'secondary', 'aria-label': t('today.prev'), onclick: () => go('today/' + addDays(date, -1)) }, '‹'),
      h('strong', { id: 'today-date' }, fmtDay(date, tz)),
      h('button', { type: 'button', class: 'secondary', 'aria-label': t('today.next'), onclick: () => go('today/' + addDays(date, 1)) }, '›')),
    list);
  const r = await get(`/api/stores/${store.id}/appointments?date=${date}`);
  const appts = r.appointments;
  if (!appts.length) {
    fill(list, h('p', { class: 'muted' }, t('today.none')));
    return;
  }
  // A kept check-in that was sent (or refused) meanwhile: the schedule is fetched again.
  const onOutbox = () => {
    const settled = [...list.querySelectorAll('[data-kept]')].some((b) => {
      const a = appts.find((x) => x.code === b.dataset.kept);
      return a && !checkinWaiting(a.id);
    });
    if (settled) go('today/' + date);
  };
  window.addEventListener('carnet:outbox', onOutbox);
  fill(list, appts.map((a) => {
    const actions = h('div', { class: 'row' });
    // A check-in kept in the outbox (offline) shows as waiting, not as a button to press twice.
    const kept = () => h('span', { class: 'badge warn', 'data-kept': a.code }, t('outbox.state.waiting'));
    if (a.status === 'booked' && date === today && checkinWaiting(a.id)) actions.append(kept());
    else if (a.status === 'booked' && date === today) {
      actions.append(h('button', {
        type: 'button', 'data-code': a.code,
        onclick: async (e) => {
          const b = e.currentTarget;
          b.disabled = true;
          try {
            const r = await checkIn(store.id, a);
            if (r.queued) {
              announce(t('outbox.kept.checkin', { name: a.customer.name }), 'ok');
              b.replaceWith(kept());
              return;
            }
            announce(t('checkin.done', { name: a.customer.name }), 'ok');
            go('today/' + date);
          } catch (err) {
            announce(errorText(err), 'error');
            b.disabled = false;
          }
        },
      }, t('checkin.do')));
    }
    if (a.device_serial) {
      actions.append(h('a', { class: 'button secondary', href: '#device/' + encodeURIComponent(a.device_serial) }, t('device.record')));
    }
    return h('div', { class: 'appt', dataset: { id: String(a.id), code: a.code } },
      h('span', { class: 'time' }, fmtTime(a.starts_at, tz)),
      h('div', null,
        h('div', { class: 'who' }, a.customer.name || '—'),
        h('div', { class: 'muted' }, `${a.service.name} · ${a.code}`),
        a.staff_name ? h('div', { class: 'staff' }, t('today.with', { name: a.staff_name })) : null,
        a.problem ? h('div', { class: 'muted' }, a.problem) : null,
        h('span', { class: 'badge ' + (KIND[a.status] || '') }, t('status.' + a.status))),
      actions);
  }));
  return () => window.removeEventListener('carnet:outbox', onOutbox);
}
