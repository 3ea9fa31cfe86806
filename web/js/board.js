// The store's wall board (/board/?store=paris-opera or ?store=1), for a screen read from across
// the room: who is called to which desk (the desk the caller named for their session, else their
// first name), who was called before, who waits (ticket and initial only), a clock in the
// store's time zone and a QR code to join the line. Live: every event on the public board stream
// triggers one refetch; a call that was not on the board before plays a chime.
//
// Sound: a short WebAudio tone, no file. Browsers start audio only after a user gesture, so while
// sound is on and not yet allowed, one "Tap to enable sound" button covers the board until tapped.
// The on/off choice is remembered in localStorage. window.carnetBoard counts the chimes for tests.
// Language: the store's screen can be set with ?lang=fr.
import { get } from './api.js';
import { initI18n, setLang, onLangChange, t } from './i18n.js';
import { $, h, fill, errorText } from './ui.js';
import { follow, debounce } from './live.js';
import { qrSvg } from './qr.js';

const SOUND_KEY = 'carnet.board.sound';
const MAX_CALLED = 4;   // the called tickets the screen holds at their full size
const MAX_WAITING = 8;  // the waiting tickets listed; the rest are counted
const CLOCK_MS = 1000;

let board = null;
let seen = null; // visit id -> called_at of the calls already shown (null until the first load)
let audio = null;
const hook = { chimes: 0, lastCall: null, sound: true, audio: 'none' };
window.carnetBoard = hook;

function soundOn() {
  try { return localStorage.getItem(SOUND_KEY) !== 'off'; } catch { return true; }
}

function drawSound() {
  const on = soundOn();
  hook.sound = on;
  const b = $('#b-sound');
  b.setAttribute('aria-pressed', String(on));
  b.textContent = t(on ? 'board.sound.on' : 'board.sound.off');
  // Sound is wanted but the browser has not allowed it yet: ask for the one tap it needs.
  $('#b-unmute').hidden = !on || (audio && audio.state === 'running');
}

function audioContext() {
  if (!audio) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    audio = new Ctx();
    audio.onstatechange = () => { hook.audio = audio.state; drawSound(); };
  }
  hook.audio = audio.state;
  return audio;
}

// Two notes, falling, soft at both ends so they do not click.
function chime(call) {
  hook.lastCall = call;
  const ctx = soundOn() ? audioContext() : null;
  if (!ctx || ctx.state !== 'running') return;
  const now = ctx.currentTime;
  [[880, 0], [660, 0.28]].forEach(([f, at]) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.value = f;
    gain.gain.setValueAtTime(0.0001, now + at);
    gain.gain.exponentialRampToValueAtTime(0.4, now + at + 0.03);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.6);
    osc.connect(gain).connect(ctx.destination);
    osc.start(now + at);
    osc.stop(now + at + 0.65);
  });
  hook.chimes += 1;
}

const ticket = (v) => `#${v.ticket} ${v.initial || ''}`.trim();

function drawClock() {
  if (!board) return;
  const now = new Date();
  const el = $('#b-clock');
  try {
    el.textContent = new Intl.DateTimeFormat(document.documentElement.lang || 'en',
      { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: board.timezone }).format(now);
    el.dateTime = now.toISOString();
  } catch { el.textContent = ''; }
}

function draw() {
  if (!board) return;
  $('#b-store').textContent = board.store_name;
  document.title = `${board.store_name} · Carnet`;
  const called = board.serving.filter((v) => v.status === 'called')
    .sort((a, b) => String(b.called_at).localeCompare(String(a.called_at)));
  const shown = called.slice(0, MAX_CALLED);
  const serving = $('#b-serving');
  serving.dataset.n = String(shown.length);
  fill(serving, shown.length
    ? shown.map((v) => h('div', { class: 'called', 'data-ticket': String(v.ticket) },
      h('span', { class: 'who' }, ticket(v)),
      h('span', { class: 'arrow', 'aria-hidden': 'true' }, '→'),
      h('span', { class: 'visually-hidden' }, t('board.to')),
      h('span', { class: 'desk' }, v.desk || t('board.desk.any'))))
    : h('p', { class: 'bd-none' }, '—'));
  const recent = [...called.slice(MAX_CALLED), ...(board.recent || [])].slice(0, 4);
  $('#h-recent').hidden = recent.length === 0;
  fill($('#b-recent'), recent.map((v) => h('li', null, ticket(v), ' → ', v.desk || t('board.desk.any'))));
  const waiting = board.waiting;
  fill($('#b-waiting'), waiting.slice(0, MAX_WAITING).map((v) => h('li', null, ticket(v))),
    waiting.length > MAX_WAITING ? h('li', { class: 'more' }, t('board.more', { n: waiting.length - MAX_WAITING })) : null);
  // The wait of someone joining now: the same figure the join form and the line page give.
  $('#b-wait').textContent = waiting.length
    ? t('board.wait', { n: Math.max(1, Math.round((board.join_wait_s || 0) / 60)) })
    : t('board.empty');
  drawClock();
  drawSound();
}

function noteCalls() {
  const called = board.serving.filter((v) => v.status === 'called');
  // A call is new when its visit was not called before, or was called again since (a recall).
  const fresh = seen ? called.filter((v) => seen.get(v.id) !== v.called_at) : [];
  seen = new Map(called.map((v) => [v.id, v.called_at]));
  // One chime per refetch that brings new calls, naming the newest for the test hook.
  if (fresh.length) {
    const v = fresh.reduce((a, b) => (String(a.called_at) > String(b.called_at) ? a : b));
    chime({ ticket: v.ticket, desk: v.desk });
  }
}

async function start() {
  const q = new URLSearchParams(location.search);
  if (q.get('lang')) setLang(q.get('lang'));
  initI18n();
  onLangChange(draw);
  $('#b-sound').addEventListener('click', () => {
    try { localStorage.setItem(SOUND_KEY, soundOn() ? 'off' : 'on'); } catch { /* this load only */ }
    if (soundOn()) { const c = audioContext(); if (c) c.resume(); }
    drawSound();
  });
  $('#b-unmute').addEventListener('click', () => {
    const c = audioContext();
    if (c) c.resume().then(drawSound, drawSound);
    $('#b-unmute').hidden = true;
  });
  if (soundOn()) audioContext(); // running already when the browser allows it without a tap
  drawSound();
  let id = q.get('store') || '1';
  try {
    if (!/^\d+$/.test(id)) {
      const s = (await get('/api/stores')).find((x) => x.code === id);
      if (!s) throw new Error('no such store');
      id = String(s.id);
    }
    // The newest event heard: the refetch after it is answered by a database that has applied
    // it (a standby that lags is passed over), so a call is never missed.
    let after = 0;
    const refresh = async () => {
      board = await get(`/api/stores/${id}/board${after ? `?after=${after}` : ''}`);
      noteCalls();
      draw();
    };
    await refresh();
    const url = `${location.origin}/line/?store=${encodeURIComponent(board.store_code)}`;
    qrSvg(url, t('board.join')).then((svg) => fill($('#b-qr'), svg)).catch(() => {});
    setInterval(drawClock, CLOCK_MS);
    const again = debounce(() => refresh().catch(() => {}), 100);
    const live = $('#live');
    follow(`/api/stores/${id}/board/events`, (type, data, eventId) => {
      if (/^\d+$/.test(eventId || '') && Number(eventId) > after) after = Number(eventId);
      again();
    }, {
      onState: (on) => { live.dataset.state = on ? 'on' : 'off'; live.textContent = t(on ? 'live.on' : 'live.off'); if (on) again(); },
    });
  } catch (e) {
    $('#error').textContent = e.code ? errorText(e) : t('err.generic');
    $('#error').hidden = false;
  }
}

start();
