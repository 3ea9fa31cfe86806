// The bench queue on the technicians' tablets: repairs handed over from the floor that nobody has
// taken yet, oldest first, live (the store's events: a hand-over adds one, a take removes it).
// Taking one is one tap; the technician lands on the device's record, where diagnostics are
// logged, with the customer's words and the repair already there.
import { t } from '../i18n.js';
import { h, fill, fmtTime, announce, errorText } from '../ui.js';
import { follow, debounce } from '../live.js';
import { bench, takeRepair } from './floor.js';
import { riskBadge, reasonList } from './forecast.js';

const enc = encodeURIComponent;

export async function render({ el, session, go, roles }) {
  const store = session.store;
  const canTake = roles.includes('technician') || roles.includes('manager');
  const liveDot = h('span', { class: 'live-dot', 'data-state': 'off' }, t('live.off'));
  const list = h('div', { class: 'card', id: 'bench' });
  el.append(h('div', { class: 'row' }, h('h1', { class: 'grow' }, t('bench.title')), liveDot), list);

  async function take(r) {
    try {
      await takeRepair(r.id);
      announce(t('bench.taken', { number: r.number }), 'ok');
      go('device/' + enc(r.device.serial));
    } catch (e) {
      announce(errorText(e), 'error');
      refresh();
    }
  }

  async function refresh() {
    try {
      const items = await bench(store.id);
      if (!items.length) {
        fill(list, h('p', { class: 'muted' }, t('bench.empty')));
        return;
      }
      fill(list, h('ol', { class: 'plain', 'aria-label': t('bench.title') }, items.map((r) => h('li', { class: 'queue-item', dataset: { repair: String(r.id) } },
        h('div', { class: 'grow' },
          h('div', { class: 'who' }, r.number, h('span', { class: 'muted' }, `  ${r.device.model || ''} ${r.device.serial}`)),
          h('blockquote', { style: 'margin:.3rem 0' }, r.problem),
          r.forecast && r.forecast.risk ? h('div', { class: 'fc-bench' }, riskBadge(r.forecast), reasonList(r.forecast, store.timezone)) : null,
          h('div', { class: 'muted' }, t('bench.since', { time: fmtTime(r.bench_since, store.timezone), who: r.opened_by || '' }))),
        canTake ? h('button', { type: 'button', 'data-needs-server': true, onclick: () => take(r), 'aria-label': `${t('bench.take')} ${r.number}` }, t('bench.take')) : null))));
    } catch (e) {
      announce(errorText(e), 'error');
    }
  }

  await refresh();
  const again = debounce(refresh);
  return follow(`/api/stores/${store.id}/events`, () => again(), {
    onState: (on) => { liveDot.dataset.state = on ? 'on' : 'off'; liveDot.textContent = t(on ? 'live.on' : 'live.off'); if (on) again(); },
  });
}
