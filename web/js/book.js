// Booking journey: store -> service -> day and slot -> details -> confirmation. One page, each
// step a section; focus moves to each new step's heading. The store list is the only request
// before the first useful paint; each later step costs one request.
import { get, post, randomKey, ApiError } from './api.js';
import { initI18n, onLangChange, t } from './i18n.js';
import { h, $, $$, fill, announce, showFormError, clearFormErrors, errorText, fmtDateTime, focusHeading, icsDownload } from './ui.js';
import { loadDays, renderPicker } from './slots.js';
import { qrSvg } from './qr.js';
import { formatMoney } from './money.js';

const state = { stores: [], store: null, services: [], service: null, days: [], slot: null, idemKey: null, result: null };
const steps = ['step-store', 'step-service', 'step-when', 'step-details', 'step-done'];

function show(id, focus = true) {
  for (const s of steps) $('#' + s).hidden = steps.indexOf(s) > steps.indexOf(id);
  // Only the current step stays interactive; earlier ones remain visible as a summary.
  const sec = $('#' + id);
  if (id === 'step-done') for (const s of steps.slice(0, -1)) $('#' + s).hidden = true;
  if (focus) {
    focusHeading(sec);
    sec.scrollIntoView({ block: 'start', behavior: 'smooth' });
  }
}

function stepLabels() {
  $$('[data-step]').forEach((p) => { p.textContent = t('book.step', { n: p.dataset.step }); });
}

function radio(name, value, label, sub, onchange) {
  const id = `${name}-${value}`;
  return h('label', { class: 'choice', for: id },
    h('input', { type: 'radio', name, id, value: String(value), onchange }),
    h('span', null, label, sub ? h('span', { class: 'sub' }, sub) : null));
}

function drawStores() {
  const fs = $('#stores');
  fill(fs, h('legend', { id: 'h-store' }, t('book.store')),
    state.stores.map((s) => radio('store', s.id, s.name, null, () => pickStore(s))));
}

function drawServices() {
  fill($('#services'), h('legend', { id: 'h-service' }, t('book.service')),
    state.services.map((s) => radio('service', s.id, s.name,
      t('book.min', { n: s.duration_min }) + (s.price_minor == null ? '' : ` · ${formatMoney(s.price_minor, s.currency)}`), () => pickService(s))));
}

async function pickStore(s) {
  state.store = s;
  state.service = null;
  try {
    state.services = await get(`/api/stores/${s.id}/services`);
  } catch (e) {
    announce(errorText(e), 'error');
    return;
  }
  drawServices();
  show('step-service');
}

async function pickService(sv) {
  state.service = sv;
  state.slot = null;
  fill($('#slots'), h('p', { class: 'muted' }, t('loading')));
  fill($('#days'));
  show('step-when');
  try {
    state.days = await loadDays(state.store.id, sv.id, state.store.timezone);
  } catch (e) {
    announce(errorText(e), 'error');
    return;
  }
  drawPicker();
}

function drawPicker() {
  renderPicker({
    days: state.days, tz: state.store.timezone, daysEl: $('#days'), slotsEl: $('#slots'), headingEl: $('#h-slots'),
    onPick: pickSlot,
  });
}

function summary() {
  return t('book.summary', {
    service: state.service.name, store: state.store.name, when: fmtDateTime(state.slot.starts_at, state.store.timezone),
  });
}

function pickSlot(slot) {
  state.slot = slot;
  // A new key per chosen slot: a retry of the same submission replays, a new choice books anew.
  state.idemKey = randomKey();
  $('#summary').textContent = summary();
  show('step-details');
}

/** After a 409 the API sends the nearest free slots: offer them in place of the taken one. */
function offerNearest(nearest) {
  const byDay = new Map();
  for (const s of nearest) {
    const d = s.starts_at.slice(0, 10);
    if (!byDay.has(d)) byDay.set(d, []);
    byDay.get(d).push(s);
  }
  state.days = [...byDay].map(([date, slots]) => ({ date, slots }));
  drawPicker();
  show('step-when');
  announce(t('err.slot_taken'), 'error');
}

async function submit(e) {
  e.preventDefault();
  const form = e.currentTarget;
  clearFormErrors(form);
  const fd = new FormData(form);
  const body = { service_id: state.service.id, starts_at: state.slot.starts_at };
  for (const k of ['name', 'email', 'phone', 'serial', 'problem']) {
    const v = String(fd.get(k) || '').trim();
    if (v) body[k] = v;
  }
  const btn = $('#book-submit');
  btn.disabled = true;
  try {
    const r = await post(`/api/stores/${state.store.id}/appointments`, body, { headers: { 'Idempotency-Key': state.idemKey } });
    state.result = r;
    done(r);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'slot_taken' && err.detail.nearest && err.detail.nearest.length) {
      offerNearest(err.detail.nearest);
    } else if (err instanceof ApiError && err.field === 'starts_at') {
      announce(errorText(err), 'error');
      show('step-when');
    } else {
      showFormError(form, err);
    }
  } finally {
    btn.disabled = false;
  }
}

function done(r) {
  const a = r.appointment;
  $('#done-summary').textContent = summary();
  $('#done-code').textContent = r.code;
  // The link's token goes in the fragment: it never reaches a server log or a Referer header.
  $('#done-manage').href = '/manage/#' + encodeURIComponent(r.manage_token);
  $('#done-ics').href = icsDownload({
    uid: `appointment-${a.id}@carnet`, start: a.starts_at, end: a.ends_at,
    summary: `${a.service.name} · ${state.store.name}`, location: state.store.name,
    description: `${t('book.code')}: ${r.code}`,
  });
  show('step-done');
  // The QR code the store's tablet scans at check-in: the manage link itself.
  qrSvg(new URL($('#done-manage').getAttribute('href'), location.href).href, t('book.qr'))
    .then((svg) => fill($('#done-qr'), svg)).catch(() => {});
  announce(t('book.done'), 'ok');
}

/** A full day: join its standby list; a freed slot of this service is then offered to us. */
async function joinStandby(e) {
  e.preventDefault();
  const form = e.currentTarget;
  clearFormErrors(form);
  const f = form.elements;
  try {
    const r = await post(`/api/stores/${state.store.id}/standby`, {
      service_id: state.service.id, date: f.date.value, name: f.name.value.trim(), email: f.email.value.trim(),
    });
    location.assign('/standby/#' + encodeURIComponent(r.token));
  } catch (err) {
    showFormError(form, err);
  }
}

async function start() {
  initI18n();
  stepLabels();
  onLangChange(() => {
    stepLabels();
    if (state.stores.length) drawStores();
    if (state.services.length) drawServices();
    if (state.service && state.days.length) drawPicker();
    if (state.slot) $('#summary').textContent = summary();
  });
  $$('[data-back]').forEach((b) => b.addEventListener('click', () => show(b.dataset.back)));
  $('#details').addEventListener('submit', submit);
  $('#standby-form').addEventListener('submit', joinStandby);
  try {
    state.stores = await get('/api/stores');
  } catch (e) {
    fill($('#stores'), h('legend', { id: 'h-store' }, t('book.store')),
      h('p', { class: 'notice bad' }, errorText(e)), h('button', { type: 'button', onclick: start }, t('retry')));
    return;
  }
  drawStores();
  // ?store=CODE preselects a store (links from a store's own page or QR code at the door).
  const code = new URLSearchParams(location.search).get('store');
  const pre = state.stores.find((s) => s.code === code);
  if (pre) {
    $(`#store-${pre.id}`).checked = true;
    pickStore(pre);
  }
}

start();
