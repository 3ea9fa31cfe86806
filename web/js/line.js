// The walk-in line on the customer's phone: join, then watch the place and the estimated wait
// change live (SSE on /api/line/{token}/events) without reloading. The private link is the URL
// fragment, so it can be bookmarked and never reaches a server log.
import { get, post, linkToken } from './api.js';
import { initI18n, onLangChange, t } from './i18n.js';
import { $, h, fill, announce, errorText, showFormError, clearFormErrors } from './ui.js';
import { follow } from './live.js';

let token = linkToken();
let place = null;
let stop = null;
let lastStatus = null;

/** The SQL estimate (floor_wait_s) as words: 0 only when nobody is ahead. */
function waitText(s) {
  return s > 0 ? t('line.minutes', { n: Math.max(1, Math.round(s / 60)) }) : t('line.next');
}

function draw() {
  if (!place) return;
  $('#place').hidden = false;
  $('#join').hidden = true;
  $('#p-store').textContent = place.store_name || '';
  $('#p-ticket').textContent = '#' + place.ticket;
  $('#p-status').textContent = t('status.' + place.status);
  const waiting = place.status === 'waiting';
  $('#p-position').textContent = waiting && place.position ? String(place.position) : (place.status === 'called' ? '✓' : '—');
  const ahead = waiting ? (place.ahead ?? (place.position - 1)) : null;
  $('#p-ahead').textContent = ahead === null ? '' : ahead === 0 ? t('line.ahead.zero') : ahead === 1 ? t('line.ahead.one') : t('line.ahead', { n: ahead });
  $('#p-wait').textContent = waiting && place.wait_s != null ? waitText(place.wait_s) : '—';
  const called = place.status === 'called' || place.status === 'in_service';
  $('#p-called').hidden = !(called || place.status === 'done' || place.status === 'left');
  $('#p-called').textContent = called ? t('line.called') : place.status === 'done' ? t('line.done') : t('line.left');
  $('#p-leave').hidden = !(place.status === 'waiting' || place.status === 'called');
  if (called && lastStatus !== place.status && navigator.vibrate) navigator.vibrate([200, 100, 200]);
  lastStatus = place.status;
}

function fail(e) {
  $('#error').textContent = errorText(e);
  $('#error').hidden = false;
}

async function watch() {
  place = await get(`/api/line/${encodeURIComponent(token)}`);
  draw();
  if (stop) stop();
  const live = $('#live');
  stop = follow(`/api/line/${encodeURIComponent(token)}/events`, (type, data) => {
    if (type !== 'place' || !data) return;
    place = { ...place, ...data, ahead: data.position != null ? data.position - 1 : null };
    draw();
  }, {
    onState: (on) => {
      live.dataset.state = on ? 'on' : 'off';
      live.textContent = t(on ? 'live.on' : 'live.off');
    },
  });
}

async function showJoin() {
  $('#join').hidden = false;
  const stores = await get('/api/stores');
  const pre = new URLSearchParams(location.search).get('store');
  fill($('#j-store'), stores.map((s) => h('option', { value: String(s.id), selected: s.code === pre || String(s.id) === pre }, s.name)));
  // How long the line is right now, from the store's public board (tickets and initials only):
  // join_wait_s is what the line page will say right after joining (everyone waiting is ahead).
  const now = async () => {
    try {
      const b = await get(`/api/stores/${$('#j-store').value}/board`);
      $('#j-now').textContent = b.waiting.length
        ? t('line.now', { n: b.waiting.length, m: Math.max(1, Math.round(b.join_wait_s / 60)) }) : t('board.empty');
      $('#j-now').hidden = false;
    } catch { $('#j-now').hidden = true; }
  };
  $('#j-store').addEventListener('change', now);
  now();
  $('#join-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    clearFormErrors(form);
    const body = { name: form.elements.name.value.trim() };
    const c = form.elements.contact.value.trim();
    if (c) body.contact = c;
    const problem = form.elements.problem.value.trim();
    if (problem) body.problem = problem;
    const serial = form.elements.serial.value.trim();
    if (serial) body.serial = serial;
    try {
      const p = await post(`/api/stores/${form.elements.store.value}/line`, body);
      token = p.token;
      history.replaceState(null, '', '/line/#' + encodeURIComponent(token));
      await watch();
      $('#h-place').focus();
    } catch (err) {
      showFormError(form, err);
    }
  });
}

async function start() {
  initI18n();
  onLangChange(draw);
  $('#p-leave').addEventListener('click', async () => {
    try {
      place = { ...place, ...(await post(`/api/line/${encodeURIComponent(token)}/leave`, {})) };
      draw();
      announce(t('line.left'), 'ok');
    } catch (e) {
      announce(errorText(e), 'error');
    }
  });
  try {
    if (token) await watch();
    else await showJoin();
  } catch (e) {
    fail(e);
  }
}

start();
