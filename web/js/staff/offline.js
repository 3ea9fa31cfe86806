// A tablet that loses its Wi-Fi keeps working (issue #17 point 1). This module owns:
// - the outbox: check-ins, walk-ins, device notes, diagnostics and repair notes written while
//   offline are kept in IndexedDB (method, path, body, an Idempotency-Key made once per action,
//   the time, a state: waiting, sending, sent, conflict, failed) and sent one at a time, in the
//   order they were made, when the connection comes back (the 'online' event and a retry every
//   RETRY_MS). Each resend carries the same key, so the server never applies one twice.
// - what the header shows: "offline — N changes waiting", a badge that opens the list of
//   changes with their states; a conflict (the booking was cancelled meanwhile: 409, 404, 422)
//   stays in that list with the server's message until someone dismisses it.
// - the actions that need the server's decision (marked data-needs-server: call next, call,
//   visit and repair moves, hand-overs), off while offline with the reason shown.
// - "as of HH:MM" beside a view drawn from answers the service worker kept (web/staff/sw.js).
// Items belong to the person who made them: they are sent only in that person's session, and
// a run of sends stops as soon as the signed-in person changes (setActor), so an item whose
// reply was lost is re-sent, with its key, only by its author: never applied twice under two
// people. A write is saved here before it is first sent, so a hang or a reload loses nothing.
// Other people's items show their kind and time only, never the customer's name.
import { api, randomKey, setStaffScope } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, $, $$, errorText } from '../ui.js';

const DB_NAME = 'carnet-staff';
const STORE = 'outbox';
const RETRY_MS = 15000;
// Kept reads: one cache per staff id, `carnet-staff-data-<id>` (web/staff/sw.js).
const DATA_CACHE = 'carnet-staff-data';
// A send not answered in this long is taken as the network failing: the item waits.
const SEND_WAIT_MS = 10000;
// Answers the server gives that retrying cannot change: shown as conflicts to resolve by hand.
const CONFLICT = new Set([403, 404, 409, 410, 422]);

let actor = null; // {id, name} of the signed-in person, or null
let generation = 0; // bumped at every change of person: a running flush from before stops
const inFlight = new Set(); // keys being sent by write() itself: flush leaves them alone
let items = [];
let sending = null;
let lastAsOf = null;

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id', autoIncrement: true });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}
const dbReady = openDb();

async function tx(mode, fn) {
  const db = await dbReady;
  return new Promise((resolve, reject) => {
    const x = db.transaction(STORE, mode);
    const store = x.objectStore(STORE);
    let out;
    Promise.resolve(fn(store)).then((v) => { out = v; });
    x.oncomplete = () => resolve(out);
    x.onerror = () => reject(x.error);
    x.onabort = () => reject(x.error);
  });
}

const req2p = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });

async function load() {
  items = await tx('readonly', (s) => req2p(s.getAll()));
  items.sort((a, b) => a.id - b.id);
  return items;
}

async function save(item) {
  const id = await tx('readwrite', (s) => req2p(s.put(item)));
  if (item.id === undefined) item.id = id;
  await load();
  draw();
  window.dispatchEvent(new CustomEvent('carnet:outbox'));
}

async function remove(id) {
  await tx('readwrite', (s) => req2p(s.delete(id)));
  await load();
  draw();
}

export const isOffline = () => navigator.onLine === false;

/** Items of the signed-in person still to send (waiting or sending). */
export function pending() {
  return items.filter((i) => (i.state === 'waiting' || i.state === 'sending') && actor && i.staff_id === actor.id);
}

/**
 * A write that may be made offline: sent at once (with its Idempotency-Key) when the tablet is
 * online and has nothing older waiting; kept in the outbox otherwise, or when the network fails
 * on the way. Resolves with the server's answer, or {queued: true} when kept. Online, the
 * server's refusals throw as any call's do, so forms show them next to the field.
 * `what` describes the change in the list: {kind: 'checkin'|'walkin'|'note'|'diagnostic'|
 * 'repair_note', name}.
 */
export async function write(path, body, what) {
  const key = crypto.randomUUID ? crypto.randomUUID() : randomKey();
  const item = {
    method: 'POST', path, body, key, created: new Date().toISOString(), state: 'waiting',
    kind: what.kind, name: what.name || '', staff_id: actor && actor.id, staff_name: actor && actor.name,
    ...(what.ref ? { ref: what.ref } : {}),
  };
  if (!isOffline() && !pending().length) {
    // Kept before it goes: a reload during a hanging send finds it 'sending' and resends it
    // with the same key (init); a timeout leaves it waiting for flush.
    item.state = 'sending';
    inFlight.add(key);
    await save(item);
    try {
      const answer = await api(path, { method: 'POST', body, headers: { 'Idempotency-Key': key }, timeout: SEND_WAIT_MS });
      inFlight.delete(key);
      await remove(item.id);
      if (pending().length) flush(); // written meanwhile, behind this one
      return answer;
    } catch (e) {
      if (e.status !== 0) {
        // Refused online: the form shows why, next to the field; nothing is left to send.
        await remove(item.id);
        throw e;
      }
      item.state = 'waiting';
    } finally {
      inFlight.delete(key);
    }
  }
  await save(item);
  flush();
  return { queued: true };
}

/** Sends what waits, oldest first, one at a time; stops at the first that cannot go yet. */
export function flush() {
  if (sending) return sending;
  const gen = generation;
  const owner = actor && actor.id;
  // Each item is checked again just before it goes: the person may have changed meanwhile.
  const stillMine = (item) => gen === generation && actor && actor.id === owner && item.staff_id === owner;
  const run = async () => {
    await load();
    for (const item of pending()) {
      if (isOffline() || !stillMine(item) || inFlight.has(item.key)) break;
      item.state = 'sending';
      await save(item);
      if (!stillMine(item)) {
        item.state = 'waiting';
        await save(item);
        break;
      }
      let stop = false;
      try {
        const answer = await api(item.path, {
          method: item.method, body: item.body, headers: { 'Idempotency-Key': item.key }, noAuthRedirect: true,
          timeout: SEND_WAIT_MS,
        });
        Object.assign(item, { state: 'sent', sent: new Date().toISOString(), answer: summary(answer) });
        delete item.body; // sent: the customer's words need not stay on the tablet
      } catch (e) {
        if (CONFLICT.has(e.status) && e.code !== 'csrf') {
          Object.assign(item, { state: 'conflict', status: e.status, error: e.detail });
        } else if (e.status === 400) {
          Object.assign(item, { state: 'failed', status: e.status, error: e.detail });
        } else {
          // The network, a busy server or a lost session: the same item again later.
          item.state = 'waiting';
          stop = true;
        }
      }
      await save(item);
      if (stop) break;
    }
  };
  const locked = navigator.locks ? () => navigator.locks.request('carnet-outbox', run) : run;
  sending = locked().catch((e) => console.error(e)).finally(() => {
    sending = null;
    draw();
    // Stopped for a change of person: the new one's items go now, not at the next retry.
    if (gen !== generation && actor) flush();
  });
  return sending;
}

/** What of an answer the list shows (a ticket number), not the whole answer. */
function summary(a) {
  if (!a || typeof a !== 'object') return null;
  const ticket = (a.visit && a.visit.ticket) || a.ticket;
  return ticket ? { ticket } : null;
}

// ---- the header: badge, list, offline line ----

/** What the list says of an item: the customer's name only to the person who wrote it. */
function label(i) {
  return t(`outbox.kind.${i.kind}`, { name: mine(i) ? i.name : '' }).replace(/\s*:\s*$/, '');
}

const mine = (i) => !!actor && i.staff_id === actor.id;

function time(iso) {
  return new Date(iso).toLocaleTimeString(document.documentElement.lang === 'fr' ? 'fr-FR' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
}

function badgeText() {
  const n = pending().length;
  const conflicts = items.filter((i) => i.state === 'conflict' || i.state === 'failed').length;
  const parts = [];
  if (isOffline()) parts.push(n ? t(n === 1 ? 'offline.waiting.one' : 'offline.waiting.many', { n }) : t('offline.none'));
  else if (n) parts.push(t(n === 1 ? 'outbox.waiting.one' : 'outbox.waiting.many', { n }));
  if (conflicts) parts.push(t('outbox.attention', { n: conflicts }));
  if (!parts.length && items.length) parts.push(t('outbox.allsent'));
  return parts.join(' · ');
}

function itemRow(i) {
  const bad = i.state === 'conflict' || i.state === 'failed';
  const kind = { sent: 'ok', conflict: 'bad', failed: 'bad', sending: 'warn', waiting: '' }[i.state];
  const other = !mine(i);
  return h('li', { class: 'outbox-item', dataset: { state: i.state, kind: i.kind } },
    h('div', { class: 'grow' },
      h('div', null, h('strong', null, label(i)), ' ', h('span', { class: 'muted' }, time(i.created))),
      h('span', { class: 'badge ' + kind, 'data-outbox-state': i.state }, t(`outbox.state.${i.state}`)),
      i.answer && i.answer.ticket ? h('span', { class: 'muted' }, ` #${i.answer.ticket}`) : null,
      other && !bad && i.state !== 'sent' ? h('div', { class: 'muted' }, t('outbox.other', { name: i.staff_name || '' })) : null,
      // The server's answer ({code, field, message}), in the page's language as every error is.
      bad ? h('p', { class: 'outbox-message', role: 'alert' }, errorText({ fromServer: true, ...(i.error || {}) })) : null),
    bad || i.state === 'sent'
      ? h('button', { type: 'button', class: 'secondary', onclick: () => remove(i.id), 'aria-label': `${t('outbox.dismiss')}: ${label(i)}` }, t('outbox.dismiss'))
      : null);
}

function draw() {
  const badge = $('#outbox');
  const panel = $('#outbox-panel');
  const bar = $('#offline-bar');
  if (!badge || !panel || !bar) return;
  const text = badgeText();
  badge.hidden = !text;
  badge.textContent = text;
  badge.dataset.offline = isOffline() ? '1' : '0';
  badge.dataset.attention = items.some((i) => i.state === 'conflict' || i.state === 'failed') ? '1' : '0';
  if (!text) { panel.hidden = true; badge.setAttribute('aria-expanded', 'false'); }
  if (!panel.hidden) {
    fill(panel,
      h('div', { class: 'row' }, h('h2', { class: 'grow', id: 'outbox-title' }, t('outbox.title')),
        h('button', { type: 'button', class: 'secondary', onclick: toggle }, t('close'))),
      items.length ? h('ol', { class: 'plain', id: 'outbox-list', 'aria-labelledby': 'outbox-title' }, items.slice().reverse().map(itemRow))
        : h('p', { class: 'muted' }, t('outbox.empty')));
  }
  const offline = isOffline();
  $('#offline-reason').hidden = !offline;
  $('#offline-asof').hidden = !lastAsOf;
  if (lastAsOf) $('#offline-asof').textContent = t('offline.asof', { time: time(lastAsOf) });
  bar.hidden = !offline && !lastAsOf;
  needsServer();
}

function toggle() {
  const panel = $('#outbox-panel');
  panel.hidden = !panel.hidden;
  $('#outbox').setAttribute('aria-expanded', String(!panel.hidden));
  draw();
  if (!panel.hidden) panel.querySelector('h2').focus?.();
}

// ---- actions that need the server ----

/** Off while offline, each pointing at the line that says why; their own state comes back after. */
function needsServer(root = document) {
  const offline = isOffline();
  for (const el of $$('[data-needs-server]', root)) {
    if (offline) {
      if (el.dataset.offlineWas === undefined) el.dataset.offlineWas = el.disabled ? '1' : '0';
      if (!el.disabled) el.disabled = true;
      el.setAttribute('aria-describedby', 'offline-reason');
    } else if (el.dataset.offlineWas !== undefined) {
      el.disabled = el.dataset.offlineWas === '1';
      delete el.dataset.offlineWas;
      el.removeAttribute('aria-describedby');
    }
  }
}

// A view drawn while offline, or one that turns a button back on (it does not know), is caught
// here: the page re-disables it and remembers what the view wanted for when the network is back.
const watcher = new MutationObserver((records) => {
  if (!isOffline()) return;
  for (const r of records) {
    if (r.type === 'attributes' && r.target.matches('[data-needs-server]') && !r.target.disabled) {
      r.target.dataset.offlineWas = '0';
      r.target.disabled = true;
    }
  }
  needsServer();
});

// ---- the session and start-up ----

/** The signed-in person (null when nobody): only their own items are sent. */
export function setActor(me) {
  const next = me ? { id: me.staff_id, name: me.name } : null;
  if ((next && next.id) !== (actor && actor.id)) generation += 1;
  actor = next;
  setStaffScope(actor && actor.id);
  if (!actor) lastAsOf = null;
  draw();
  if (actor) flush();
}

/** On lock, switch, sign-out and 401: everyone's reads kept for offline use go (the outbox
 * stays: it is someone's work, shown to others without names). */
export async function forget() {
  lastAsOf = null;
  setStaffScope(null);
  try {
    for (const name of await caches.keys()) if (name === DATA_CACHE || name.startsWith(`${DATA_CACHE}-`)) await caches.delete(name);
  } catch { /* no Cache API: nothing was kept */ }
  if (navigator.serviceWorker && navigator.serviceWorker.controller) navigator.serviceWorker.controller.postMessage('forget');
}

export async function init() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/staff/sw.js', { scope: '/staff/' }).catch((e) => console.warn('service worker', e));
  }
  $('#outbox').addEventListener('click', toggle);
  window.addEventListener('online', () => { lastAsOf = null; draw(); flush(); });
  window.addEventListener('offline', () => draw());
  window.addEventListener('carnet:asof', (e) => { lastAsOf = e.detail.asOf; draw(); });
  window.addEventListener('hashchange', () => { lastAsOf = null; draw(); });
  watcher.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['disabled'] });
  setInterval(() => { if (pending().length) flush(); }, RETRY_MS);
  await load();
  // A send cut off by a reload went out or not: either way the same key makes it safe again.
  for (const i of items.filter((x) => x.state === 'sending')) {
    i.state = 'waiting';
    await save(i);
  }
  // Sent items are kept for the day the tablet shows them, then forgotten.
  const today = new Date().toDateString();
  for (const i of items.filter((x) => x.state === 'sent' && new Date(x.sent).toDateString() !== today)) await remove(i.id);
  draw();
}

/** A re-draw after a language switch. */
export const redraw = () => draw();

/** Whether a check-in of this appointment waits in the outbox (views show it as pending). */
export const checkinWaiting = (appointmentId) => items.some((i) => i.kind === 'checkin' && i.ref === appointmentId && (i.state === 'waiting' || i.state === 'sending'));

