// The one way pages talk to carnetd: JSON in and out, errors as ApiError carrying the API's
// {"error":{code,message,field}}, the CSRF header on staff writes, and a hook for 401 so the
// staff app can send the user back to its login screen.

const CSRF_KEY = 'carnet.csrf';
// Who is signed in and unlocked on this tablet (staff id), sent with reads so that the staff
// service worker keeps and gives back only that person's answers (web/staff/sw.js). Removed on
// lock, sign-out and 401: a reload offline then finds nothing kept and shows the lock screen.
const STAFF_KEY = 'carnet.staff';

export class ApiError extends Error {
  constructor(status, error) {
    super((error && error.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (error && error.code) || 'http_' + status;
    this.field = (error && error.field) || null;
    this.detail = error || {};
  }
}

let onUnauthorized = null;

/** Called with the ApiError when a call answers 401 (the session is gone). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

// The CSRF value comes with the login reply and with /api/auth/me; it lives as long as the
// session cookie, so it is kept in localStorage (it is not a secret by itself: it is useless
// without the HttpOnly cookie, which scripts cannot read).
export function csrf() {
  try { return localStorage.getItem(CSRF_KEY); } catch { return null; }
}

function setCsrf(v) {
  try {
    if (v) localStorage.setItem(CSRF_KEY, v); else localStorage.removeItem(CSRF_KEY);
  } catch { /* private mode: the session still works until reload */ }
}

export function staffScope() {
  try { return localStorage.getItem(STAFF_KEY); } catch { return null; }
}

export function setStaffScope(id) {
  try {
    if (id) localStorage.setItem(STAFF_KEY, String(id)); else localStorage.removeItem(STAFF_KEY);
  } catch { /* private mode: reads are then not kept, which is the safe side */ }
}

// Locking needs the server (it holds the session); a lock made on the tablet while the server
// cannot be reached is remembered here and sent first when it can (staff/app.js). Signing in,
// unlocking with a PIN or signing out makes it moot.
const LOCK_DUE_KEY = 'carnet.lockdue';

export function lockDue() {
  try { return localStorage.getItem(LOCK_DUE_KEY) === '1'; } catch { return false; }
}

export function setLockDue(on) {
  try {
    if (on) localStorage.setItem(LOCK_DUE_KEY, '1'); else localStorage.removeItem(LOCK_DUE_KEY);
  } catch { /* private mode */ }
}

/** Random hex for Idempotency-Key; getRandomValues works outside secure contexts too. */
export function randomKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export async function api(path, opts = {}) {
  const method = opts.method || (opts.body !== undefined ? 'POST' : 'GET');
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  let body;
  if (opts.raw !== undefined) {
    // An upload: the bytes as they are, typed by the file (the server checks them itself).
    headers['Content-Type'] = opts.raw.type || 'application/octet-stream';
    body = opts.raw;
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrf()) headers['X-CSRF-Token'] = csrf();
  // Offline, the staff app's service worker answers a read it keeps at once (web/staff/sw.js).
  if (method === 'GET' && navigator.onLine === false) headers['X-Carnet-Offline'] = '1';
  if (method === 'GET' && staffScope()) headers['X-Carnet-Staff'] = staffScope();
  // opts.timeout (ms): a dead access point can leave a fetch hanging with navigator.onLine true;
  // past the timeout the call fails as the network does (status 0), the reply included.
  let signal = opts.signal;
  let timer = null;
  let timedOut = false;
  if (opts.timeout) {
    const ctl = new AbortController();
    if (opts.signal) opts.signal.addEventListener('abort', () => ctl.abort(), { once: true });
    timer = setTimeout(() => { timedOut = true; ctl.abort(); }, opts.timeout);
    signal = ctl.signal;
  }
  const networkError = () => {
    const err = new ApiError(0, { code: 'network', message: timedOut ? 'no answer in time' : 'network error' });
    err.fromServer = true;
    return err;
  };
  let res;
  let text;
  try {
    try {
      res = await fetch(path, {
        method, headers, body, credentials: 'same-origin', signal,
        referrerPolicy: 'no-referrer', cache: 'no-store',
      });
    } catch (e) {
      if (e.name === 'AbortError' && !timedOut) throw e;
      throw networkError();
    }
    // A kept answer given back while offline: pages say how old it is (staff/offline.js).
    const asOf = res.headers.get('X-Carnet-As-Of');
    if (asOf) window.dispatchEvent(new CustomEvent('carnet:asof', { detail: { path, asOf } }));
    try {
      text = await res.text();
    } catch (e) {
      if (e.name === 'AbortError' && !timedOut) throw e;
      throw networkError();
    }
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data && data.error);
    err.fromServer = true; // its message is the server's English: pages show err.code translated
    // A lost CSRF value (storage cleared) is as good as no session for writes: sign in again.
    if ((res.status === 401 || err.code === 'csrf') && onUnauthorized && !opts.noAuthRedirect) onUnauthorized(err);
    throw err;
  }
  return data;
}

export const get = (path, opts) => api(path, { ...opts, method: 'GET' });
export const post = (path, body, opts) => api(path, { ...opts, method: 'POST', body: body ?? {} });
export const put = (path, body, opts) => api(path, { ...opts, method: 'PUT', body: body ?? {} });
export const patch = (path, body, opts) => api(path, { ...opts, method: 'PATCH', body: body ?? {} });
/** POSTs a Blob or File as the raw body (an upload route: a repair's photo). */
export const upload = (path, blob, opts) => api(path, { ...opts, method: 'POST', raw: blob });

export async function login(email, password) {
  const r = await api('/api/auth/login', { body: { email, password }, noAuthRedirect: true });
  setCsrf(r.csrf);
  setLockDue(false);
  return r;
}

/** Who is signed in (null when nobody, {locked: true} when the session waits for its PIN);
 * also restores a CSRF value the browser lost. */
export async function me() {
  try {
    const r = await api('/api/auth/me', { method: 'GET', noAuthRedirect: true });
    if (r && r.csrf) setCsrf(r.csrf);
    return r;
  } catch (e) {
    if (e.status === 401) return e.code === 'locked' ? { locked: true } : null;
    throw e;
  }
}

/** Shared tablets: who signed in on this tablet can come back with a PIN. */
export const tabletStaff = () => api('/api/auth/tablet', { method: 'GET', noAuthRedirect: true });

/** Unlocks the caller's locked session, or (staffId) a colleague's session on this tablet. */
export async function unlock(pin, staffId) {
  const body = staffId ? { pin, staff_id: staffId } : { pin };
  const r = await api('/api/auth/unlock', { body, noAuthRedirect: true });
  setCsrf(r.csrf);
  setLockDue(false);
  return r;
}

/** Locks the caller's session now (their PIN opens it again). */
export const lockSession = () => api('/api/auth/lock', { method: 'POST', body: {}, noAuthRedirect: true, timeout: 5000 });

export async function logout() {
  try { await api('/api/auth/logout', { method: 'POST', body: {}, noAuthRedirect: true }); }
  finally { setCsrf(null); setLockDue(false); }
}

/** The private token of a customer link: the URL fragment (never sent to the server, so it stays
 * out of access logs), or ?t= for links made elsewhere. */
export function linkToken() {
  const h = location.hash.replace(/^#/, '');
  if (h) return decodeURIComponent(h.replace(/^t=/, ''));
  return new URLSearchParams(location.search).get('t') || '';
}
