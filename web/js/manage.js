// A booking by its private link (/manage/#TOKEN): see it, move it, cancel it, add it to a
// calendar. One request shows the page.
import { get, post, linkToken, ApiError } from './api.js';
import { initI18n, onLangChange, t } from './i18n.js';
import { $, h, fill, announce, errorText, fmtDateTime, focusHeading, icsDownload, localDate, showFormError, clearFormErrors } from './ui.js';
import { loadDays, renderPicker } from './slots.js';
import { qrSvg } from './qr.js';

const token = linkToken();
const base = `/api/manage/${encodeURIComponent(token)}`;
let appt = null;
let picked = null;
// The booking's conversation with the store (the manage link opens it too).
let thread = null;
const threadUrl = `/api/messages/${encodeURIComponent(token)}`;

function drawThread() {
  $('#m-messages').hidden = !thread;
  if (!thread) return;
  const tz = appt.store.timezone;
  fill($('#m-list'), thread.messages.length ? thread.messages.map((m) => h('li', { class: m.author === 'customer' ? 'mine' : '' }, m.body,
    h('span', { class: 'meta' }, `${m.author === 'staff' ? (m.staff_name || thread.store) + ' · ' : ''}${fmtDateTime(m.created_at, tz)}`)))
    : h('li', { class: 'muted' }, t('repair.nomessages')));
}

const STATUS_KIND = { booked: '', checked_in: 'ok', in_service: 'ok', done: 'ok', cancelled: 'bad', no_show: 'warn' };

function draw() {
  const tz = appt.store.timezone;
  $('#m-status').textContent = t('status.' + appt.status);
  $('#m-status').className = 'badge ' + (STATUS_KIND[appt.status] || '');
  $('#m-what').textContent = appt.service.name;
  $('#m-when').textContent = fmtDateTime(appt.starts_at, tz);
  $('#m-where').textContent = appt.store.name;
  $('#m-code').textContent = appt.code;
  const active = appt.status === 'booked';
  // Self check-in is offered on the day; the API enforces the exact window.
  $('#m-checkin-box').hidden = !(active && localDate(new Date(), tz) === localDate(new Date(appt.starts_at), tz));
  $('#m-move').hidden = !active;
  $('#m-cancel').hidden = !active;
  $('#m-ics').hidden = !active;
  if (active) {
    $('#m-ics').href = icsDownload({
      uid: `appointment-${appt.id}@carnet`, start: appt.starts_at, end: appt.ends_at,
      summary: `${appt.service.name} · ${appt.store.name}`, location: appt.store.name,
      description: `${t('book.code')}: ${appt.code}`,
    });
  }
  $('#m-card').hidden = false;
  const qrBox = $('#m-qr');
  if (!active) qrBox.replaceChildren();
  else if (!qrBox.firstChild) qrSvg(location.href, t('book.qr')).then((svg) => qrBox.replaceChildren(svg)).catch(() => {});
}

function fail(e) {
  $('#m-loading').hidden = true;
  $('#m-card').hidden = true;
  $('#m-error').textContent = e instanceof ApiError ? errorText(e) : String(e);
  $('#m-error').hidden = false;
}

async function openPicker() {
  picked = null;
  $('#m-pick-ok').disabled = true;
  $('#m-picker').hidden = false;
  $('#slots').textContent = t('loading');
  focusHeading($('#m-picker'));
  try {
    const days = await loadDays(appt.store.id, appt.service.id, appt.store.timezone);
    renderPicker({
      days, tz: appt.store.timezone, daysEl: $('#days'), slotsEl: $('#slots'), headingEl: $('#h-slots'),
      onPick: (s) => { picked = s; $('#m-pick-ok').disabled = false; },
    });
  } catch (e) {
    announce(errorText(e), 'error');
  }
}

async function confirmMove() {
  if (!picked) return;
  $('#m-pick-ok').disabled = true;
  try {
    const r = await post(base + '/reschedule', { starts_at: picked.starts_at });
    appt = { ...appt, ...r, store: appt.store };
    draw();
    $('#m-picker').hidden = true;
    announce(t('manage.moved', { when: fmtDateTime(appt.starts_at, appt.store.timezone) }), 'ok');
    $('#m-move').focus();
  } catch (e) {
    announce(errorText(e), 'error');
    if (e.code === 'slot_taken') openPicker();
  } finally {
    $('#m-pick-ok').disabled = !picked;
  }
}

async function cancel() {
  if (!confirm(t('manage.cancel.confirm'))) return;
  try {
    const r = await post(base + '/cancel', {});
    appt = { ...appt, ...r, store: appt.store };
    draw();
    $('#m-picker').hidden = true;
    announce(t('manage.cancelled'), 'ok');
  } catch (e) {
    announce(errorText(e), 'error');
  }
}

async function selfCheckIn() {
  try {
    const place = await post(`/api/checkin/${encodeURIComponent(token)}`, {});
    location.assign('/line/#' + encodeURIComponent(place.token));
  } catch (e) {
    announce(errorText(e), 'error');
  }
}

async function start() {
  initI18n();
  onLangChange(() => { if (appt) { draw(); drawThread(); } });
  if (!token) {
    fail(t('manage.nolink'));
    return;
  }
  $('#m-move').addEventListener('click', openPicker);
  $('#m-checkin').addEventListener('click', selfCheckIn);
  $('#m-cancel').addEventListener('click', cancel);
  $('#m-pick-cancel').addEventListener('click', () => { $('#m-picker').hidden = true; $('#m-move').focus(); });
  $('#m-pick-ok').addEventListener('click', confirmMove);
  try {
    // Both at once: the page costs one round trip.
    [appt, thread] = await Promise.all([get(base), get(threadUrl).catch(() => null)]);
  } catch (e) {
    fail(e);
    return;
  }
  $('#m-loading').hidden = true;
  draw();
  drawThread();
  $('#m-write').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    clearFormErrors(form);
    try {
      await post(threadUrl, { body: form.elements.body.value.trim() });
      form.reset();
      thread = await get(threadUrl);
      drawThread();
      announce(t('repair.sent'), 'ok');
    } catch (err) {
      showFormError(form, err);
    }
  });
}

start();
