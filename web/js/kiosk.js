// The kiosk at a store's door (/kiosk/?store=CODE): a tablet anyone may use, with no staff
// session. A booked customer checks in with the confirmation code (typed, or the manage link's
// QR code: the camera where the browser has BarcodeDetector, or a scanner that types it), or
// with their name and phone; anyone else joins the walk-in line, saying what it is about. The
// server gives one answer to every miss and slows down an address that misses often (429).
// The screen starts over after RESET_S seconds without input, and after showing a ticket: the
// next person finds a clean screen, and nothing typed stays on it.
import { get, post } from './api.js';
import { initI18n, onLangChange, t } from './i18n.js';
import { $, $$, errorText, showFormError, clearFormErrors, fmtTime } from './ui.js';

const CODE_RE = /^[2-9A-HJKMNP-Z]{6}$/;
const RESET_DEFAULT_S = 30;
const RESET_MIN_S = 2;
const RESET_MAX_S = 120;
const SCAN_EVERY_MS = 250;
const SCREENS = ['k-setup', 'k-home', 'k-walkin', 'k-ticket'];
// What a kiosk says of a refused field, in the page's language.
const FIELD_ERRORS = {
  code: 'kiosk.err.code', name: 'kiosk.err.name', phone: 'kiosk.err.phone', serial: 'kiosk.err.serial',
};

// ?reset=N (seconds, bounded) shortens the idle reset for tests and demonstrations.
const RESET_S = Math.min(RESET_MAX_S, Math.max(RESET_MIN_S,
  Number(new URLSearchParams(location.search).get('reset')) || RESET_DEFAULT_S));

let store = null;
let shown = null; // what the ticket screen shows: {kind, name, place}
let deadline = 0;
let blockedUntil = 0;
let stopScan = () => {};

function show(id) {
  for (const s of SCREENS) $('#' + s).hidden = s !== id;
  const hd = $('#' + id + ' h1');
  if (hd) hd.focus();
}

/** A typed or scanned value: a manage link (its token), a confirmation code, or neither. */
export function parseScan(raw) {
  const v = String(raw || '').trim();
  const hash = v.indexOf('#');
  if (/^https?:\/\//.test(v) && hash > 0) return { token: decodeURIComponent(v.slice(hash + 1).replace(/^t=/, '')) };
  const m = /[?&]t=([A-Za-z0-9_-]{32,})/.exec(v);
  if (m) return { token: m[1] };
  if (/^[A-Za-z0-9_-]{40,}$/.test(v)) return { token: v };
  return { code: v.replace(/[\s-]/g, '').toUpperCase() };
}

// ---- starting over ----

function reset() {
  stopScan();
  for (const f of $$('form')) {
    f.reset();
    clearFormErrors(f);
  }
  $('#k-error').hidden = true;
  $('#k-code-form').hidden = false;
  $('#k-phone-form').hidden = true;
  shown = null;
  show('k-home');
  touch();
}

/** Any input: the screen starts over RESET_S seconds from now. */
function touch() {
  deadline = Date.now() + RESET_S * 1000;
}

function everySecond() {
  const left = Math.ceil((deadline - Date.now()) / 1000);
  if (left <= 0) {
    if (!$('#k-setup').hidden) return;
    if (shown || !$('#k-home').hidden || !$('#k-walkin').hidden) reset();
    return;
  }
  if (shown) $('#k-t-reset').textContent = t('kiosk.resets', { n: left });
  const wait = Math.ceil((blockedUntil - Date.now()) / 1000);
  if (wait > 0) showError(t('err.rate_limited', { n: wait }));
  else if (blockedUntil) {
    blockedUntil = 0;
    $('#k-error').hidden = true;
    for (const b of $$('#k-code-form [type=submit], #k-phone-form [type=submit]')) b.disabled = false;
  }
}

// ---- answers ----

function showError(text) {
  $('#k-error').textContent = text;
  $('#k-error').hidden = false;
}

function failed(form, err) {
  $('#k-error').hidden = true;
  if (err.code === 'rate_limited') {
    const n = Number(err.detail.retry_after) || RESET_MIN_S;
    blockedUntil = Date.now() + n * 1000;
    for (const b of $$('#k-code-form [type=submit], #k-phone-form [type=submit]')) b.disabled = true;
    showError(t('err.rate_limited', { n }));
    return;
  }
  if (err.code === 'too_early' && err.detail.opens_at && store) {
    showError(t('kiosk.opens', { time: fmtTime(err.detail.opens_at, store.timezone) }));
    return;
  }
  if (err.code === 'invalid' && FIELD_ERRORS[err.field]) {
    showFormError(form, { ...err, code: 'kiosk_invalid', message: t(FIELD_ERRORS[err.field]) });
    return;
  }
  if (err.field && form.querySelector(`[name="${CSS.escape(err.field)}"]`)) {
    showFormError(form, err);
    return;
  }
  showError(errorText(err));
}

function drawTicket() {
  if (!shown) return;
  const p = shown.place;
  $('#k-h-ticket').textContent = shown.kind === 'walkin'
    ? t('kiosk.joined', { name: shown.name })
    : t(p.already_checked_in ? 'kiosk.again' : 'kiosk.hello', { name: shown.name });
  $('#k-t-number').textContent = '#' + p.ticket;
  const parts = [];
  if (p.status === 'waiting' && p.ahead != null) {
    parts.push(p.ahead === 0 ? t('line.ahead.zero') : p.ahead === 1 ? t('line.ahead.one') : t('line.ahead', { n: p.ahead }));
    if (p.wait_s != null && p.ahead > 0) parts.push(t('line.minutes', { n: Math.max(1, Math.round(p.wait_s / 60)) }));
  } else if (p.status) {
    parts.push(t('status.' + p.status));
  }
  $('#k-t-wait').textContent = parts.join(' · ');
  $('#k-t-reset').textContent = t('kiosk.resets', { n: Math.max(0, Math.ceil((deadline - Date.now()) / 1000)) });
}

function showTicket(kind, name, place) {
  stopScan();
  shown = { kind, name, place };
  touch();
  drawTicket();
  show('k-ticket');
}

// ---- check-in ----

async function checkIn(form, body) {
  if (Date.now() < blockedUntil) return;
  clearFormErrors(form);
  $('#k-error').hidden = true;
  try {
    const r = await post(`/api/stores/${store.id}/kiosk/checkin`, body);
    showTicket('booked', r.first_name || '', r);
  } catch (err) {
    failed(form, err);
  }
}

function codeSubmitted(e) {
  e.preventDefault();
  const form = $('#k-code-form');
  const what = parseScan(form.elements.code.value);
  if (what.code !== undefined && !CODE_RE.test(what.code)) {
    showFormError(form, { code: 'kiosk_invalid', field: 'code', message: t('kiosk.err.code') });
    return;
  }
  checkIn(form, what);
}

function phoneSubmitted(e) {
  e.preventDefault();
  const form = $('#k-phone-form');
  checkIn(form, { name: form.elements.name.value.trim(), phone: form.elements.phone.value.trim() });
}

// The camera, where BarcodeDetector exists (Chromium on Android and ChromeOS); elsewhere the
// button stays hidden and the code is typed (or typed in by a handheld scanner).
function wireScanner() {
  if (!('BarcodeDetector' in window) || !navigator.mediaDevices) return;
  const btn = $('#k-scan');
  const video = $('#k-video');
  let stream = null;
  let timer = null;
  btn.hidden = false;
  stopScan = () => {
    clearInterval(timer);
    if (stream) stream.getTracks().forEach((tr) => tr.stop());
    stream = null;
    video.hidden = true;
    btn.textContent = t('kiosk.scan');
  };
  btn.addEventListener('click', async () => {
    if (stream) return stopScan();
    try {
      const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user' } });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      btn.textContent = t('kiosk.scan.stop');
      timer = setInterval(async () => {
        touch();
        const codes = await detector.detect(video).catch(() => []);
        if (codes.length && stream) {
          stopScan();
          checkIn($('#k-code-form'), parseScan(codes[0].rawValue));
        }
      }, SCAN_EVERY_MS);
    } catch {
      stopScan();
      btn.hidden = true;
      showError(t('kiosk.scan.none'));
    }
  });
}

// ---- the walk-in line ----

async function walkinSubmitted(e) {
  e.preventDefault();
  const form = $('#k-walkin-form');
  clearFormErrors(form);
  $('#k-error').hidden = true;
  const name = form.elements.name.value.trim();
  const body = { name };
  for (const k of ['problem', 'serial', 'contact']) {
    const v = form.elements[k].value.trim();
    if (v) body[k] = v;
  }
  try {
    const p = await post(`/api/stores/${store.id}/line`, body);
    // The private line link is not shown on a shared screen: the ticket number is enough here.
    delete p.token;
    showTicket('walkin', name.split(/\s+/)[0], p);
  } catch (err) {
    failed(form, err);
  }
}

// ---- start ----

async function start() {
  initI18n();
  onLangChange(drawTicket);
  const want = new URLSearchParams(location.search).get('store');
  try {
    const stores = want ? await get('/api/stores') : [];
    store = stores.find((s) => s.code === want || String(s.id) === want) || null;
  } catch (e) {
    showError(errorText(e));
  }
  if (!store) {
    show('k-setup');
    return;
  }
  $('#k-store').textContent = store.name;
  document.title = `${store.name} · Carnet`;
  for (const ev of ['pointerdown', 'keydown', 'input']) document.addEventListener(ev, touch, true);
  $('#k-code-form').addEventListener('submit', codeSubmitted);
  $('#k-phone-form').addEventListener('submit', phoneSubmitted);
  $('#k-walkin-form').addEventListener('submit', walkinSubmitted);
  $('#k-to-phone').addEventListener('click', () => {
    $('#k-code-form').hidden = true;
    $('#k-phone-form').hidden = false;
    $('#k-name').focus();
  });
  $('#k-to-code').addEventListener('click', () => {
    $('#k-phone-form').hidden = true;
    $('#k-code-form').hidden = false;
    $('#k-code').focus();
  });
  $('#k-to-walkin').addEventListener('click', () => {
    $('#k-error').hidden = true;
    show('k-walkin');
  });
  $('#k-walkin-back').addEventListener('click', reset);
  $('#k-t-done').addEventListener('click', reset);
  wireScanner();
  reset();
  setInterval(everySecond, 1000);
}

start();
