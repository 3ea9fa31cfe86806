// The store's wall board (/board/?store=paris-opera or ?store=1): who is called to the desk and
// who waits, by ticket and initial only. Live: every event on the public board stream triggers
// one refetch. Language: the store's screen can be set with ?lang=fr.
import { get } from './api.js';
import { initI18n, setLang, onLangChange, t } from './i18n.js';
import { $, h, fill, errorText } from './ui.js';
import { follow, debounce } from './live.js';

let board = null;

function draw() {
  if (!board) return;
  $('#b-store').textContent = board.store_name;
  document.title = `${board.store_name} · Carnet`;
  const called = board.serving.filter((v) => v.status === 'called');
  fill($('#b-serving'), called.length
    ? called.map((v) => h('div', { class: 'called' }, h('span', { class: 'who' }, `#${v.ticket} ${v.initial}`)))
    : h('p', { style: 'opacity:.7' }, '—'));
  fill($('#b-waiting'), board.waiting.map((v) => h('li', null, `#${v.ticket} ${v.initial}`)));
  const last = board.waiting[board.waiting.length - 1];
  $('#b-wait').textContent = board.waiting.length ? t('board.wait', { n: Math.max(1, Math.round((last.wait_s || 0) / 60)) }) : t('board.empty');
}

async function start() {
  const q = new URLSearchParams(location.search);
  if (q.get('lang')) setLang(q.get('lang'));
  initI18n();
  onLangChange(draw);
  let id = q.get('store') || '1';
  try {
    if (!/^\d+$/.test(id)) {
      const s = (await get('/api/stores')).find((x) => x.code === id);
      if (!s) throw new Error('no such store');
      id = String(s.id);
    }
    const refresh = async () => { board = await get(`/api/stores/${id}/board`); draw(); };
    await refresh();
    const again = debounce(() => refresh().catch(() => {}), 100);
    const live = $('#live');
    follow(`/api/stores/${id}/board/events`, () => again(), {
      onState: (on) => { live.dataset.state = on ? 'on' : 'off'; live.textContent = t(on ? 'live.on' : 'live.off'); if (on) again(); },
    });
  } catch (e) {
    $('#error').textContent = e.code ? errorText(e) : t('err.generic');
    $('#error').hidden = false;
  }
}

start();
