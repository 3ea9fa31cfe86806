// The staff app's service worker (scope /staff/, issue #17 point 1): a tablet whose Wi-Fi drops
// keeps the app and what it showed today.
//
// - The app shell (page, styles, modules, both languages, icons) is cached at install. Online it
//   is fetched as before (network first, through the HTTP cache), so a page and its modules are
//   always of one version; the cached copy answers when the network fails or does not answer
//   within SHELL_WAIT_MS, so a dead or hanging Wi-Fi does not stall a reload.
// - A few reads (who am I, my stores, today's schedule, the queue, device and repair records,
//   serving cards) go to the network first; each good answer is kept, stamped with the time it
//   was fetched, and given back when the network fails, or at once when the page says it is
//   offline (X-Carnet-Offline: a browser's offline flag can be right while fetches still hang).
//   The page shows "as of HH:MM" from the X-Carnet-As-Of header of such an answer.
// - Kept answers are for today only: older ones are dropped. They are kept per person: one cache
//   per staff id, named by the X-Carnet-Staff header the page sends while someone is signed in
//   and unlocked (web/js/api.js); a read without it is neither kept nor answered from a cache, so
//   a locked tablet reloaded offline shows the lock screen, not the last person's records. The
//   page empties every such cache on lock, switch, sign-out and 401, and so does this worker on
//   a 401 (personal data does not outlive the session on a shared tablet).
// - Nothing else is touched: writes, the live event stream and every other call go to the
//   network as if there were no worker (offline writes are the page's outbox, staff/offline.js).
'use strict';

const VERSION = 'carnet-staff-1';
const SHELL = `${VERSION}-shell`;
// Kept reads: `${DATA}-<staff id>`, one cache per person.
const DATA = 'carnet-staff-data';
const isData = (name) => name.startsWith(`${DATA}-`);
const SHELL_WAIT_MS = 3000;
// A read the network has not answered in this long is given from the cache when one is kept.
const READ_WAIT_MS = 5000;

const SHELL_FILES = [
  '/staff/', '/staff/manifest.webmanifest', '/staff/icon.svg', '/staff/icon-192.png', '/staff/icon-512.png',
  '/favicon.svg', '/css/app.css',
  '/js/api.js', '/js/i18n.js', '/js/i18n/en.js', '/js/i18n/fr.js', '/js/ui.js', '/js/live.js',
  '/js/charts.js', '/js/money.js', '/js/qr.js',
  ...['app', 'bench', 'callbacks', 'chain', 'checkin', 'dashboard', 'device', 'estimate', 'floor',
    'intake', 'login', 'messages', 'offline', 'queue', 'repairs', 'setup', 'setup_calendars',
    'setup_floor', 'setup_hours', 'setup_rota', 'setup_services', 'setup_staff', 'setup_store',
    'setup_webhooks', 'today'].map((m) => `/js/staff/${m}.js`),
];

// The reads kept for offline use, by path (the query, such as today's date, is part of the key).
const KEPT_READS = [
  /^\/api\/auth\/(me|stores)$/,
  /^\/api\/stores\/\d+\/(appointments|queue|bench)$/,
  /^\/api\/devices\/[^/]+(\/trends)?$/,
  /^\/api\/repairs\/\d+$/,
  /^\/api\/visits\/\d+$/,
];

const today = () => new Date().toDateString();

self.addEventListener('install', (event) => {
  // File by file: a module renamed since this list was written must not keep the worker out.
  event.waitUntil(caches.open(SHELL)
    .then((c) => Promise.all(SHELL_FILES.map((f) => c.add(f).catch(() => null))))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== SHELL && !isData(name)) await caches.delete(name);
    }
    await dropOld();
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data === 'forget') event.waitUntil(forget());
});

/** Drops everyone's kept reads. */
async function forget() {
  for (const name of await caches.keys()) if (isData(name)) await caches.delete(name);
}

/** Removes kept reads fetched before today. */
async function dropOld() {
  for (const name of await caches.keys()) {
    if (!isData(name)) continue;
    const cache = await caches.open(name);
    for (const req of await cache.keys()) {
      const res = await cache.match(req);
      if (!res || new Date(res.headers.get('X-Carnet-Fetched') || 0).toDateString() !== today()) await cache.delete(req);
    }
  }
}

async function shell(request) {
  const cache = await caches.open(SHELL);
  // The page's own URL with a fragment or a query is the same page.
  const key = request.mode === 'navigate' ? '/staff/' : request;
  const kept = () => cache.match(key, { ignoreSearch: request.mode === 'navigate' });
  const fresh = fetch(request).then((res) => {
    if (res.ok && !res.redirected) cache.put(key, res.clone());
    return res;
  });
  fresh.catch(() => null); // answered from the cache meanwhile: a later failure is no news
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, SHELL_WAIT_MS); });
  try {
    const res = await Promise.race([fresh, late]);
    if (res) return res;
    return (await kept()) || (await fresh);
  } catch {
    const old = await kept();
    if (old) return old;
    throw new TypeError('offline, and not kept');
  } finally {
    clearTimeout(timer);
  }
}

async function keptRead(request) {
  const none = () => Response.json({ error: { code: 'network', message: 'offline, and not kept on this tablet' } },
    { status: 503, headers: { 'X-Carnet-Offline': '1' } });
  const staff = request.headers.get('X-Carnet-Staff') || '';
  if (!/^\d+$/.test(staff)) {
    // Nobody unlocked on this page: nothing is kept or given back.
    if (request.headers.get('X-Carnet-Offline')) return none();
    const fresh = fetch(request).then(async (res) => {
      if (res.status === 401) await forget();
      return res;
    });
    fresh.catch(() => null);
    let timer;
    const late = new Promise((resolve) => { timer = setTimeout(resolve, READ_WAIT_MS); });
    try {
      return (await Promise.race([fresh, late])) || none();
    } catch {
      return none();
    } finally {
      clearTimeout(timer);
    }
  }
  const cache = await caches.open(`${DATA}-${staff}`);
  const kept = async () => {
    const res = await cache.match(request);
    if (!res || new Date(res.headers.get('X-Carnet-Fetched') || 0).toDateString() !== today()) return null;
    const headers = new Headers(res.headers);
    headers.set('X-Carnet-As-Of', res.headers.get('X-Carnet-Fetched'));
    return new Response(res.body, { status: res.status, headers });
  };
  if (request.headers.get('X-Carnet-Offline')) return (await kept()) || none();
  const fresh = fetch(request).then(async (res) => {
    if (res.status === 200) {
      const headers = new Headers(res.headers);
      headers.set('X-Carnet-Fetched', new Date().toISOString());
      const body = await res.clone().arrayBuffer();
      // "Who am I" is kept only when the session is the person the cache is named for.
      let mine = true;
      if (new URL(request.url).pathname === '/api/auth/me') {
        try { mine = String(JSON.parse(new TextDecoder().decode(body)).staff_id) === staff; } catch { mine = false; }
      }
      if (mine) await cache.put(request, new Response(body, { status: 200, headers }));
    } else if (res.status === 401) {
      // Signed out or locked on the server: nothing kept may be shown any more.
      await forget();
    }
    return res;
  });
  fresh.catch(() => null);
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, READ_WAIT_MS); });
  try {
    const res = await Promise.race([fresh, late]);
    if (res) return res;
    return (await kept()) || (await fresh);
  } catch {
    return (await kept()) || none();
  } finally {
    clearTimeout(timer);
  }
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/')) {
    if (KEPT_READS.some((re) => re.test(url.pathname))) event.respondWith(keptRead(req));
    return;
  }
  // Files outside the list (a view added later) are kept from their first use.
  if (req.mode === 'navigate' ? url.pathname === '/staff/' || url.pathname === '/staff/index.html'
    : SHELL_FILES.includes(url.pathname) || /^\/(js|css|vendor)\//.test(url.pathname)) {
    event.respondWith(shell(req));
  }
});
