// English and French. The language is the one chosen with the switch (kept in localStorage),
// else the browser's first language we have, else English. Each language's dictionary is a
// module of its own (web/js/i18n/<lang>.js) and a page loads only the one it shows: this module
// waits for it with a top-level await, so every module that imports it can call t() at once,
// as before. A switch loads the other one then re-renders. Static text in the HTML carries
// data-i18n="key" (text) or data-i18n-attr="attr:key;attr:key" and is translated in place.

const KEY = 'carnet.lang';
const LANGS = ['en', 'fr'];
const dicts = {};

/** The dictionary of `l`, loaded once; null when it cannot be fetched (then texts stay as the
 * HTML has them, and t() answers keys). */
async function load(l) {
  if (!dicts[l]) {
    try {
      dicts[l] = (await import(`./i18n/${l}.js`)).default;
    } catch {
      return null;
    }
  }
  return dicts[l];
}

function pick() {
  try {
    const saved = localStorage.getItem(KEY);
    if (LANGS.includes(saved)) return saved;
  } catch { /* storage blocked: fall through to the browser's choice */ }
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const base = String(l).slice(0, 2).toLowerCase();
    if (LANGS.includes(base)) return base;
  }
  return 'en';
}

let current = pick();
await load(current);

export function lang() {
  return current;
}

/** t('line.ahead', {n: 3}); an unknown key comes back as itself so gaps are visible. */
export function t(key, vars) {
  let s = dicts[current]?.[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

export function applyI18n(root = document) {
  if (!dicts[current]) return; /* not loaded: leave the HTML's own text */
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

const listeners = [];
/** Pages that render text from data register here to re-render on a language switch. */
export function onLangChange(fn) {
  listeners.push(fn);
}

export async function setLang(l) {
  if (!LANGS.includes(l) || !(await load(l))) return;
  current = l;
  try { localStorage.setItem(KEY, l); } catch { /* the choice lasts for this page only */ }
  applyI18n();
  listeners.forEach((fn) => fn(l));
}

/** Wires every .lang-switch button on the page. */
export function initI18n() {
  applyI18n();
  for (const b of document.querySelectorAll('.lang-switch')) {
    b.addEventListener('click', () => setLang(current === 'en' ? 'fr' : 'en'));
  }
}
