// The live queue: who waits (booked customers due now first, then walk-ins), who is being served,
// and "call next". Every floor event on the store's stream triggers one refetch of the queue.
import { t } from '../i18n.js';
import { h, fill, fmtTime, announce, errorText } from '../ui.js';
import { follow, debounce } from '../live.js';
import { queue, callNext, visitMove } from './floor.js';

const minutes = (s) => Math.max(0, Math.round((s || 0) / 60));

export async function render({ el, session }) {
  const store = session.store;
  const tz = store.timezone;
  const me = session.me.staff_id;
  const liveDot = h('span', { class: 'live-dot', 'data-state': 'off' }, t('live.off'));
  const serving = h('div', { id: 'serving' });
  const waiting = h('div', { class: 'card', id: 'waiting' });
  const callBtn = h('button', { type: 'button', class: 'huge', id: 'call-next' }, t('queue.callnext'));
  el.append(
    h('div', { class: 'row' }, h('h1', { class: 'grow' }, t('queue.title')), liveDot),
    h('p', null, callBtn),
    serving, waiting);

  function drawServing(list) {
    const mine = list.filter((v) => v.specialist_id === me);
    const others = list.filter((v) => v.specialist_id !== me);
    fill(serving,
      mine.map((v) => h('div', { class: 'card notice ok', dataset: { visit: String(v.id) } },
        h('div', { class: 'row' },
          h('span', { class: 'big-number', style: 'font-size:2.6rem' }, `#${v.ticket}`),
          h('div', { class: 'grow' }, h('div', { class: 'who', style: 'font-size:1.4rem;font-weight:800' }, v.name),
            h('span', { class: 'badge ok' }, t('status.' + v.status))),
          v.status === 'called' ? h('button', { type: 'button', onclick: () => move(v, 'start') }, t('queue.start')) : null,
          v.status === 'called' ? h('button', { type: 'button', class: 'secondary', onclick: () => move(v, 'skip') }, t('queue.noshow')) : null,
          v.status === 'in_service' ? h('button', { type: 'button', onclick: () => move(v, 'done') }, t('queue.finish')) : null))),
      others.length ? h('p', { class: 'muted' }, others.map((v) => `#${v.ticket} ${v.name} (${t('status.' + v.status)})`).join(' · ')) : null);
  }

  function drawWaiting(list) {
    if (!list.length) {
      fill(waiting, h('p', { class: 'muted' }, t('queue.empty')));
      return;
    }
    fill(waiting, h('ol', { class: 'plain', 'aria-label': t('queue.title') }, list.map((v) => h('li', { class: 'queue-item', dataset: { visit: String(v.visit_id) } },
      h('span', { class: 'pos' }, String(v.position)),
      h('div', { class: 'grow' },
        h('div', { class: 'who' }, `${v.name}`, h('span', { class: 'muted' }, `  #${v.ticket}`)),
        h('div', { class: 'muted' },
          v.kind === 'booked' && v.due_at ? t('queue.booked', { time: fmtTime(v.due_at, tz) }) : t('queue.walkin'),
          ' · ', t('queue.waited', { n: minutes((Date.now() - new Date(v.arrived_at)) / 1000) })))))));
  }

  async function refresh() {
    try {
      const q = await queue(store.id);
      drawServing(q.serving);
      drawWaiting(q.waiting);
      callBtn.disabled = q.waiting.length === 0;
    } catch (e) {
      announce(errorText(e), 'error');
    }
  }

  async function move(v, action) {
    try {
      await visitMove(v.id, action);
      await refresh();
    } catch (e) {
      announce(errorText(e), 'error');
    }
  }

  callBtn.addEventListener('click', async () => {
    callBtn.disabled = true;
    try {
      const v = await callNext(store.id);
      announce(t('queue.called', { name: v.name }), 'ok');
      await refresh();
    } catch (e) {
      announce(errorText(e), 'error');
      callBtn.disabled = false;
    }
  });

  await refresh();
  const again = debounce(refresh);
  return follow(`/api/stores/${store.id}/events`, () => again(), {
    onState: (on) => { liveDot.dataset.state = on ? 'on' : 'off'; liveDot.textContent = t(on ? 'live.on' : 'live.off'); if (on) again(); },
  });
}
