// The staff tablet app: one page, one view at a time chosen by the URL fragment (#today,
// #checkin, #queue, #bench, #device/SERIAL, #repairs, #repair/ID, #callbacks, #dashboard, #setup, #chain). Start-up costs one
// round trip: who am I and my store list (closed stores too), in parallel. Views are modules loaded on first use.
import { get, logout, me as whoAmI, setUnauthorizedHandler, ApiError, lockSession, staffScope, lockDue, setLockDue } from '../api.js';
import { initI18n, onLangChange, t } from '../i18n.js';
import { $, $$, h, fill, announce, errorText } from '../ui.js';
import * as offline from './offline.js';

const STORE_KEY = 'carnet.store';
const views = {
  login: () => import('./login.js'),
  lock: () => import('./login.js'),
  pin: () => import('./login.js'),
  today: () => import('./today.js'),
  checkin: () => import('./checkin.js'),
  queue: () => import('./queue.js'),
  bench: () => import('./bench.js'),
  device: () => import('./device.js'),
  repairs: () => import('./repairs.js'),
  repair: () => import('./repairs.js'),
  messages: () => import('./messages.js'),
  callbacks: () => import('./callbacks.js'),
  dashboard: () => import('./dashboard.js'),
  setup: () => import('./setup.js'),
  chain: () => import('./chain.js'),
};

// locked: the session waits for its PIN (shared tablets: the lock screen is shown).
export const session = { me: null, stores: [], store: null, locked: false };
let cleanup = null;
let renderSeq = 0;

/** The roles the signed-in person has in the chosen store (admins have them all). */
export function roles() {
  if (!session.me || !session.store) return [];
  if (session.me.admin) return ['specialist', 'technician', 'manager'];
  const s = session.me.stores.find((x) => x.store_id === session.store.id);
  return s ? s.roles : [];
}

export function go(hash) {
  if (location.hash === '#' + hash) route();
  else location.hash = hash;
}

function chooseStore() {
  // The server lists only the stores this person may use (an admin: every one).
  const mine = session.stores;
  let saved = null;
  try { saved = Number(localStorage.getItem(STORE_KEY)); } catch { /* default below */ }
  session.store = mine.find((s) => s.id === saved) || mine[0] || null;
  const pick = $('#store-pick');
  fill(pick, mine.map((s) => h('option', { value: String(s.id), selected: s === session.store },
    s.closed ? t('store.closed_name', { name: s.name }) : s.name)));
  pick.hidden = mine.length < 2;
  pick.onchange = () => {
    session.store = mine.find((s) => s.id === Number(pick.value));
    try { localStorage.setItem(STORE_KEY, String(session.store.id)); } catch { /* this tab only */ }
    drawChrome();
    route();
  };
}

function drawChrome() {
  const signedIn = !!session.me;
  $('#nav').hidden = !signedIn;
  $('#logout').hidden = !signedIn;
  switchButton().hidden = !signedIn;
  // Tapping one's own name leads to the PIN form (shared tablets).
  fill($('#who'), signedIn ? h('a', { href: '#pin', style: 'display:inline-flex;align-items:center;min-height:48px' }, session.me.name) : '');
  const r = roles();
  $$('#nav [data-role]').forEach((a) => { a.hidden = !r.includes(a.dataset.role); });
  $$('#nav [data-admin]').forEach((a) => { a.hidden = !(session.me && session.me.admin); });
}

async function route() {
  const seq = ++renderSeq;
  if (cleanup) { try { cleanup(); } catch { /* a view's own clean-up */ } cleanup = null; }
  let [name, ...rest] = location.hash.replace(/^#/, '').split('/');
  if (!session.me) name = session.locked ? 'lock' : 'login';
  else if (!views[name] || name === 'login' || name === 'lock') name = 'today';
  $$('#nav a').forEach((a) => {
    if (a.getAttribute('href') === '#' + (name === 'repair' ? 'repairs' : name)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  const el = $('#view');
  let mod;
  try {
    mod = await views[name]();
  } catch (e) {
    fill(el, h('p', { class: 'notice bad' }, t('err.network')));
    return;
  }
  if (seq !== renderSeq) return;
  fill(el);
  try {
    cleanup = (await mod.render({ el, session, args: rest.map(decodeURIComponent), name, go, roles: roles(), start })) || null;
  } catch (e) {
    if (seq !== renderSeq) return;
    fill(el, h('p', { class: 'notice bad' }, e instanceof ApiError ? errorText(e) : String(e)));
    if (!(e instanceof ApiError)) console.error(e);
  }
  const hd = el.querySelector('h1');
  if (hd) { hd.tabIndex = -1; hd.focus(); }
}

// The last touch is also kept across reloads: a tablet left unlocked with the app closed (or
// killed) and reopened offline, past the idle timeout, comes back locked, as the server would.
const TOUCH_KEY = 'carnet.touch';
let touchSaved = 0;
function touched() {
  lastTouch = Date.now();
  if (lastTouch - touchSaved < 5000) return;
  touchSaved = lastTouch;
  try { localStorage.setItem(TOUCH_KEY, String(lastTouch)); } catch { /* private mode */ }
}
function idleTooLong(me) {
  let at = 0;
  try { at = Number(localStorage.getItem(TOUCH_KEY)) || 0; } catch { /* private mode */ }
  return !!(me && me.idle_seconds && at && Date.now() - at > me.idle_seconds * 1000);
}

/** Locks this tablet: the session's kept reads go and the lock screen shows; offline, the
 * server is told later (lockDue). */
async function lockNow() {
  try { await lockSession(); } catch (e) {
    if (e.status !== 0) throw e;
    setLockDue(true);
  }
  lockedHere();
}

/** The lock screen, with nobody signed in on the page. */
function lockedHere() {
  session.me = null;
  session.locked = true;
  session.stores = [];
  offline.setActor(null);
  offline.forget();
  drawChrome();
  go('lock');
}

window.addEventListener('online', () => {
  if (lockDue()) lockSession().then(() => setLockDue(false), (e) => { if (e.status !== 0) setLockDue(false); });
});

/** (Re)starts the app: called at load and after signing in. */
export async function start() {
  // A lock made offline is told to the server before anything else: until then it stays locked.
  if (lockDue()) {
    try { await lockSession(); } catch (e) { if (e.status === 0) { lockedHere(); return; } }
    setLockDue(false);
  }
  // Nobody unlocked when the page was left (locked, switched, signed out): offline, the service
  // worker keeps nothing for such a page, so an unreachable server means the lock screen.
  const wasUnlocked = !!staffScope();
  try {
    // The stores this person may use, closed ones too (their history stays readable); signed
    // out (401) there are none to pick.
    const [me, stores] = await Promise.all([
      whoAmI(),
      get('/api/auth/stores', { noAuthRedirect: true }).catch((e) => (e.status === 401 ? [] : Promise.reject(e))),
    ]);
    session.locked = !!(me && me.locked);
    session.me = session.locked ? null : me;
    session.stores = stores;
  } catch (e) {
    if (!wasUnlocked && e.code === 'network') {
      lockedHere();
      return;
    }
    fill($('#view'), h('p', { class: 'notice bad' }, errorText(e)), h('button', { type: 'button', onclick: start }, t('retry')));
    return;
  }
  if (session.me && wasUnlocked && idleTooLong(session.me)) {
    try { await lockNow(); return; } catch { /* no PIN: not locked, as the idle lock does */ }
  }
  if (session.me) { touchSaved = 0; touched(); }
  if (session.me) chooseStore();
  offline.setActor(session.me);
  // Just signed in or unlocked: the two start-up reads went out before the service worker knew
  // whose they were, so they were not kept; once more, for a reload offline.
  if (session.me && !wasUnlocked) {
    for (const path of ['/api/auth/me', '/api/auth/stores']) get(path, { noAuthRedirect: true }).catch(() => {});
  }
  drawChrome();
  route();
}

setUnauthorizedHandler((err) => {
  session.me = null;
  offline.setActor(null);
  offline.forget();
  session.locked = err && err.code === 'locked';
  drawChrome();
  announce(errorText(err), 'error');
  route();
});

/** "Switch staff": locks this session (its owner's PIN opens it again) and shows the lock
 * screen, from which a colleague comes back with their PIN or signs in. Made here rather than
 * in the page so that it shares drawChrome's show/hide. */
function switchButton() {
  let b = $('#switch');
  if (!b) {
    b = h('button', { type: 'button', class: 'secondary', id: 'switch', hidden: true }, t('lock.switch'));
    b.addEventListener('click', async () => {
      // Offline the tablet locks itself all the same and tells the server later (lockNow).
      try { await lockNow(); } catch (e) { announce(errorText(e), 'error'); }
    });
    $('#logout').before(b);
  }
  b.textContent = t('lock.switch');
  return b;
}

// A shared tablet locks itself after the session idle timeout without a touch: live views keep
// the session busy on the server, so its own idle timeout would never come. Someone without a
// PIN is not locked (the server refuses with no_pin) and stays as before.
let lastTouch = Date.now();
const IDLE_CHECK_MS = 30000;
for (const ev of ['pointerdown', 'keydown']) document.addEventListener(ev, () => { touched(); }, true);
setInterval(async () => {
  const idle = session.me && session.me.idle_seconds;
  if (!idle || Date.now() - lastTouch < idle * 1000) return;
  lastTouch = Date.now();
  try { await lockNow(); } catch { /* no PIN (no_pin): not locked, as before */ }
}, IDLE_CHECK_MS);

initI18n();
offline.init();
onLangChange(() => { offline.redraw(); route(); });
window.addEventListener('hashchange', route);
$('#logout').addEventListener('click', async () => {
  await logout().catch(() => {});
  await offline.forget();
  session.me = null;
  offline.setActor(null);
  session.locked = false;
  drawChrome();
  go('login');
});
start();
