// Device passports, shared by the check page (/passport/, passport.js), the staff record and the
// customer's repair page: the canonical form the signature covers (README, "Device passport"),
// the check with WebCrypto's Ed25519, and the download of a passport file exactly as served.

import { ApiError } from './api.js';

const utf8 = new TextEncoder();

// Keys sort by their UTF-8 bytes, as jansson's JSON_SORT_KEYS does (strcmp).
function byBytes(a, b) {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

const SHORT = { 0x22: '\\"', 0x5c: '\\\\', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

// A string as jansson writes it with JSON_ENSURE_ASCII: short escapes, other controls and every
// UTF-16 unit past 0x7F as \uXXXX in upper-case hex; the rest (DEL and "/" too) as it is.
function quote(s) {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (SHORT[c]) out += SHORT[c];
    else if (c < 0x20 || c > 0x7f) out += '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
    else out += s[i];
  }
  return out + '"';
}

/** The canonical text of a parsed JSON value: sorted keys, no whitespace, ASCII only. A number
 * that is not an integer throws: a passport holds none. */
export function canonical(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  switch (typeof v) {
    case 'boolean': return v ? 'true' : 'false';
    case 'string': return quote(v);
    case 'number':
      if (!Number.isSafeInteger(v)) throw new Error('not an integer');
      return String(v);
    case 'object':
      return '{' + Object.keys(v).sort(byBytes).map((k) => quote(k) + ':' + canonical(v[k])).join(',') + '}';
    default:
      throw new Error('not JSON');
  }
}

function fromB64url(s) {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(b, (ch) => ch.charCodeAt(0));
}

/** Checks the text of a passport file against `key` ({alg, key_id, public_key} of
 * /api/passport-key). Resolves {ok: true, doc} or {ok: false, reason, doc?}; reason is one of
 * not_json, not_passport, other_key, bad_signature, unsupported. */
export async function verifyPassport(text, key) {
  let doc;
  try { doc = JSON.parse(text); } catch { return { ok: false, reason: 'not_json' }; }
  const sig = doc && doc.signature;
  const p = doc && doc.passport;
  if (!p || typeof p !== 'object' || Array.isArray(p) || !sig || typeof sig.sig !== 'string'
      || typeof sig.key_id !== 'string' || typeof sig.alg !== 'string') {
    return { ok: false, reason: 'not_passport' };
  }
  if (sig.alg !== key.alg || sig.key_id !== key.key_id) return { ok: false, reason: 'other_key', doc };
  let canon;
  let bytes;
  try {
    canon = canonical(p);
    bytes = fromB64url(sig.sig);
  } catch {
    return { ok: false, reason: 'bad_signature', doc };
  }
  try {
    const k = await crypto.subtle.importKey('raw', fromB64url(key.public_key), { name: 'Ed25519' }, false, ['verify']);
    const ok = await crypto.subtle.verify({ name: 'Ed25519' }, k, bytes, utf8.encode(canon));
    return ok ? { ok: true, doc } : { ok: false, reason: 'bad_signature', doc };
  } catch {
    return { ok: false, reason: crypto.subtle ? 'bad_signature' : 'unsupported', doc };
  }
}

/** Fetches a passport from `url` and saves it as passport-SERIAL.json, byte for byte as served.
 * Throws an ApiError when refused. */
export async function downloadPassport(url) {
  let res;
  try {
    res = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' }, referrerPolicy: 'no-referrer', cache: 'no-store' });
  } catch {
    const err = new ApiError(0, { code: 'network', message: 'network error' });
    err.fromServer = true;
    throw err;
  }
  const text = await res.text();
  if (!res.ok) {
    let e = null;
    try { e = JSON.parse(text).error || null; } catch { /* not JSON: the status says enough */ }
    const err = new ApiError(res.status, e);
    err.fromServer = true;
    throw err;
  }
  let serial = 'device';
  try { serial = JSON.parse(text).passport.device.serial || serial; } catch { /* keep the default name */ }
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  a.download = `passport-${serial}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}
