// Booking journey: store -> service -> day and slot -> details -> confirmation. One page, each
// step a section; a finished step folds to a line with "Change", and focus moves to each new
// step's heading. The store list is the only request before the first useful paint; each later
// step costs one round trip (the store's services and its address and hours go together).
import { get, post, randomKey, ApiError } from './api.js';
import { initI18n, onLangChange, t } from './i18n.js';
import { h, $, $$, fill, announce, showFormError, clearFormErrors, errorText, fmtDateTime, fmtDay, focusHeading, icsDownload, localDate, weekdayName } from './ui.js';
import { formatMoney } from './money.js';
import { loadDays, renderPicker } from './slots.js';
import { qrSvg } from './qr.js';

const state = { stores: [], store: null, detail: null, services: [], service: null, days: [], slot: null, idemKey: null, result: null };
const steps = ['step-store', 'step-service', 'step-when', 'step-details', 'step-done'];

/** Shows step `id`: the finished steps before it collapse to a one-line summary with a "Change"
 * button, the ones after it are hidden. The notice region moves into the shown step, so a notice
 * is read where the customer is and never floats over a button. */
function show(id, focus = true) {
  const at = steps.indexOf(id);
  for (const s of steps) {
    const sec = $('#' + s);
    const i = steps.indexOf(s);
    sec.hidden = i > at || (id === 'step-done' && i < at);
    const sum = sec.querySelector('.step-summary');
    if (!sum) continue;
    const collapsed = i < at;
    sum.hidden = !collapsed;
    sec.querySelector('.step-body').hidden = collapsed;
    sec.classList.toggle('collapsed', collapsed);
    if (collapsed) sum.querySelector('.sum-text').textContent = stepSummary(s);
  }
  const sec = $('#' + id);
  const live = $('#status');
  const anchor = sec.querySelector('.steps') || sec.querySelector('h2');
  if (anchor) anchor.after(live);
  else sec.prepend(live);
  if (focus) {
    focusHeading(sec);
    sec.scrollIntoView({ block: 'start', behavior: 'smooth' });
  }
}

function priceText(sv) {
  if (sv.price_minor === null || sv.price_minor === undefined) return '';
  return Number(sv.price_minor) === 0 ? t('book.price.free') : formatMoney(sv.price_minor, sv.currency || state.store.currency);
}

function stepSummary(s) {
  if (s === 'step-store') return state.store ? state.store.name : '';
  if (s === 'step-service') {
    if (!state.service) return '';
    return [state.service.name, t('book.min', { n: state.service.duration_min }), priceText(state.service)].filter(Boolean).join(' · ');
  }
  if (s === 'step-when') return state.slot ? fmtDateTime(state.slot.starts_at, state.store.timezone) : '';
  return '';
}

function stepLabels() {
  $$('[data-step]').forEach((p) => { p.textContent = t('book.step', { n: p.dataset.step }); });
}

function radio(name, value, label, sub, onchange) {
  const id = `${name}-${value}`;
  return h('label', { class: 'choice', for: id },
    // click, not change: choosing the same store or service again (after "Change") goes on too.
    h('input', { type: 'radio', name, id, value: String(value), onclick: onchange }),
    h('span', null, label, sub ? h('span', { class: 'sub' }, sub) : null));
}

function drawStores() {
  const fs = $('#stores');
  fill(fs, h('legend', { id: 'h-store' }, t('book.store')),
    state.stores.map((s) => radio('store', s.id, s.name, s.address || null, () => pickStore(s))));
}

function drawServices() {
  fill($('#services'), h('legend', { id: 'h-service' }, t('book.service')),
    state.services.map((s) => {
      const price = priceText(s);
      const c = radio('service', s.id, s.name, t('book.min', { n: s.duration_min }), () => pickService(s));
      const body = c.querySelector('input + span');
      if (price) body.append(h('span', { class: 'price' }, price));
      if (s.description) body.append(h('span', { class: 'sub desc' }, s.description));
      return c;
    }));
}

/** The week's opening hours, Monday first, today marked; closures ahead; phone and map links. */
function drawStoreInfo() {
  const d = state.detail;
  if (!d) { fill($('#store-info')); return; }
  const tz = d.timezone;
  const today = localDate(new Date(), tz);
  const isoToday = ((new Date(today + 'T12:00:00Z').getUTCDay() + 6) % 7) + 1;
  const rows = [1, 2, 3, 4, 5, 6, 7].map((n) => {
    const periods = d.hours.filter((x) => x.weekday === n).map((x) => `${x.opens}–${x.closes}`);
    const name = weekdayName(n);
    return h('tr', { class: n === isoToday ? 'today' : null, 'aria-current': n === isoToday ? 'date' : null },
      h('th', { scope: 'row' }, name, n === isoToday ? h('span', { class: 'sub' }, ` (${t('book.store.today')})`) : null),
      h('td', null, periods.length ? periods.join(', ') : t('book.store.closed')));
  });
  const closures = d.closures || [];
  fill($('#store-info'),
    h('h3', null, t('book.store.about')),
    d.address ? h('p', { id: 'store-address' }, d.address) : null,
    h('table', { class: 'week-hours', id: 'store-hours' },
      h('caption', null, t('book.store.hours')), h('tbody', null, rows)),
    closures.length ? h('p', { id: 'store-closures' }, `${t('book.store.closures')} `,
      closures.map((c) => fmtDay(c.date, tz, 'short') + (c.reason ? ` (${c.reason})` : '')).join(', ')) : null,
    h('p', { class: 'row' },
      d.phone ? h('a', { class: 'button secondary', id: 'store-phone', href: 'tel:' + d.phone.replace(/[^+\d]/g, '') },
        t('book.store.call', { phone: d.phone })) : null,
      d.address ? h('a', {
        class: 'button secondary', id: 'store-map', target: '_blank', rel: 'noopener noreferrer',
        href: 'https://www.openstreetmap.org/search?query=' + encodeURIComponent(d.address),
      }, t('book.store.map')) : null));
}

async function pickStore(s) {
  state.store = s;
  state.service = null;
  state.detail = null;
  try {
    [state.services, state.detail] = await Promise.all([
      get(`/api/stores/${s.id}/services`), get(`/api/stores/${s.id}`)]);
  } catch (e) {
    announce(errorText(e), 'error');
    return;
  }
  drawStoreInfo();
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
    if (e instanceof ApiError && e.code === 'store_closed') {
      // Closed since the list was read: say so where the calendar would be, not "loading".
      state.days = [];
      fill($('#days'));
      fill($('#slots'), h('p', { class: 'notice bad', id: 'store-closed' }, errorText(e)));
      return;
    }
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
    } else if (err instanceof ApiError && err.code === 'slot_taken') {
      // That day is full (a 409 offers free times of its own day only): the calendar afresh.
      await pickService(state.service);
      announce(errorText(err), 'error');
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
    drawStoreInfo();
    const cur = steps.find((x) => !$('#' + x).hidden && !$('#' + x).classList.contains('collapsed'));
    if (cur) show(cur, false);
    if (state.service && state.days.length) drawPicker();
    if (state.slot) $('#summary').textContent = summary();
  });
  $$('[data-back]').forEach((b) => b.addEventListener('click', () => show(b.dataset.back)));
  $$('[data-change]').forEach((b) => b.addEventListener('click', () => show(b.dataset.change)));
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
