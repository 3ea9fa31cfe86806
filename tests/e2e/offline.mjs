// Journey: the store's Wi-Fi drops (issue #17 point 1). A manager's tablet has the staff app
// installed (manifest, service worker) and has opened today's schedule, the queue and a device
// record. Offline (Chromium's emulation), the schedule and the record still show, marked with the
// time they are from; call next is off with the reason; two check-ins and a diagnosis are kept in
// the outbox and the header says "offline — 3 changes waiting". Back online they are sent in
// order, each with its Idempotency-Key: the server holds each exactly once, and sending them
// again (and reloading) doubles nothing. Then a booking is cancelled at the desk while the tablet
// is offline and checked in on it, and a note is written on the device after it: back online,
// the conflict is shown in the list, with the server's reason, until dismissed, and the note
// behind it is sent all the same. Last, "Switch staff" locks the tablet: reloaded offline, it shows
// the lock screen, not the queue, and a colleague's waiting change without the customer's name.
// The caller (tests/it/test_e2e.py) checks the rows in SQL too.
import { run, newPage, shot, check, expectText, noErrors, staffApi, PHONE } from './lib.mjs';

const TABLET = { width: 1180, height: 820 };
const SPEC = JSON.parse(process.env.CARNET_E2E_OFFLINE || '{}');

async function outbox(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.open('carnet-staff');
    req.onsuccess = () => {
      const all = req.result.transaction('outbox').objectStore('outbox').getAll();
      all.onsuccess = () => resolve(all.result);
      all.onerror = () => reject(all.error);
    };
    req.onerror = () => reject(req.error);
  }));
}

run('offline', async (ctx, o) => {
  const { store, serial, codes, ids } = SPEC;
  check(store && serial && codes && codes.length === 3, 'three bookings and a device are given');
  const [A, B, C] = codes;
  const desk = await staffApi(o.base, 'manager@carnet.test');
  await desk.put(`/api/devices/${serial}`, { model: 'MacBook Pro 14' });
  const state = async (code) => {
    const r = await desk.get(`/api/stores/${store}/appointments?date=${SPEC.date}`);
    return r.appointments.find((a) => a.code === code).status;
  };
  const diagnostics = async () => (await desk.get(`/api/devices/${serial}`)).entries.filter((e) => e.kind === 'diagnostic').length;

  // Signed in, installed: the manifest names the app, the service worker controls the page.
  const page = await newPage(ctx, { viewport: TABLET });
  await page.goto(o.base + '/staff/');
  await page.getByLabel('Email').fill('manager@carnet.test');
  await page.getByLabel('Password').fill('carnet-demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expectText(page.locator('h1'), 'Today', 'the manager is signed in');
  const manifest = await page.evaluate(async () => {
    const href = document.querySelector('link[rel="manifest"]').href;
    return (await fetch(href)).json();
  });
  check(manifest.start_url === '/staff/' && manifest.display === 'standalone' && manifest.icons.some((i) => i.sizes === '512x512'),
    'the web manifest: start_url /staff/, standalone, icons');
  await page.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller, null, { timeout: 15000 });
  check(await page.evaluate(() => navigator.serviceWorker.controller.scriptURL.endsWith('/staff/sw.js')), 'the service worker controls the app');

  // Opened today while online: a device record, the queue, the schedule.
  await page.goto(o.base + `/staff/#device/${serial}`);
  await expectText(page.locator('h1'), serial, 'the device record opens');
  await page.goto(o.base + '/staff/#queue');
  await expectText(page.locator('h1'), 'Waiting now', 'the queue opens');
  await page.goto(o.base + '/staff/#today');
  await expectText(page.locator('h1'), 'Today', 'today’s schedule opens');
  for (const code of codes) await page.locator(`button[data-code="${code}"]`).waitFor();

  // The Wi-Fi drops.
  await ctx.setOffline(true);
  await expectText(page.locator('#outbox'), 'offline', 'the header says the tablet is offline');
  await expectText(page.locator('#offline-reason'), 'need the server', 'and what waits for the server');
  await page.locator(`button[data-code="${A}"]`).click();
  await expectText(page.locator(`[data-kept="${A}"]`), 'waiting', 'the first check-in is kept');
  await page.locator(`button[data-code="${B}"]`).click();
  await expectText(page.locator(`[data-kept="${B}"]`), 'waiting', 'the second check-in is kept');
  await expectText(page.locator('#outbox'), 'offline — 2 changes waiting', 'two changes wait');

  // The queue, from what was kept: call next is off, and the page says why.
  await page.goto(o.base + '/staff/#queue');
  await expectText(page.locator('h1'), 'Waiting now', 'the queue still shows offline');
  check(await page.locator('#call-next').isDisabled(), 'call next is off offline');
  check(await page.locator('#call-next').getAttribute('aria-describedby') === 'offline-reason', 'with the reason it points at');

  // The device record, from what was kept, marked with its time; a diagnosis is kept too.
  await page.goto(o.base + `/staff/#device/${serial}`);
  await expectText(page.locator('h1'), serial, 'the device record still shows offline');
  await expectText(page.locator('#offline-asof'), /as of \d\d:\d\d/, 'marked with the time it is from');
  await page.locator('#dg-test-0').fill('battery');
  await page.locator('#dg-pass-0').selectOption('true');
  await page.locator('#dg-metric-0').selectOption('battery_health');
  await page.locator('#dg-value-0').fill('88');
  await page.locator('#dg-unit-0').fill('%');
  await page.getByRole('button', { name: 'Save diagnostic' }).click();
  await expectText(page.locator('#outbox'), 'offline — 3 changes waiting', 'the header says three changes wait');
  await page.locator('#outbox').click();
  await expectText(page.locator('#outbox-list'), 'Diagnostic', 'the list shows each change');
  check(await page.locator('#outbox-list [data-outbox-state="waiting"]').count() === 3, 'all three are waiting');
  await shot(page, o.out, 'offline-1-three-waiting');
  await page.setViewportSize(PHONE);
  check(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scroll on a phone');
  await shot(page, o.out, 'offline-1-three-waiting-phone');
  await page.setViewportSize(TABLET);
  check(await state(A) === 'booked' && await state(B) === 'booked' && await diagnostics() === 0, 'nothing reached the server yet');
  const kept = await outbox(page);
  check(kept.length === 3 && new Set(kept.map((i) => i.key)).size === 3 && kept.every((i) => /^[0-9a-f-]{36}$/.test(i.key)),
    'each change has its own Idempotency-Key, made once');

  // A reload while offline: the app comes from the tablet, the changes are still waiting.
  await page.reload();
  await expectText(page.locator('h1'), serial, 'the app reloads offline, on the device record');
  await expectText(page.locator('#outbox'), 'offline — 3 changes waiting', 'the three changes are still waiting');
  await page.locator('#outbox').click();
  await page.locator('#outbox-list').waitFor();

  // Back online: sent in order.
  await ctx.setOffline(false);
  await page.waitForFunction(() => document.querySelectorAll('#outbox-list [data-outbox-state="sent"]').length === 3, null, { timeout: 30000 });
  console.log('  ok the three changes are sent');
  await expectText(page.locator('#outbox'), 'All changes sent', 'the header says so');
  const sent = await outbox(page);
  check(sent.map((i) => i.id).join() === kept.map((i) => i.id).join() && sent.every((i) => i.state === 'sent' && !i.body),
    'sent in order; what was sent is no longer kept on the tablet');
  await shot(page, o.out, 'offline-2-sent');
  check(await state(A) === 'checked_in' && await state(B) === 'checked_in', 'the server holds both check-ins');
  check(await diagnostics() === 1, 'and the diagnosis, once');

  // The same changes again, with their keys (a resend after a cut): answered, never doubled.
  const again = await page.evaluate(async (items) => {
    const out = [];
    for (const i of items) {
      const r = await fetch(i.path, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': i.key, 'X-CSRF-Token': localStorage.getItem('carnet.csrf') },
        body: JSON.stringify(i.body),
      });
      out.push(r.status);
    }
    return out;
  }, kept);
  check(again.every((s) => s === 200 || s === 201), `resending with the same keys is answered (${again})`);
  await page.reload();
  await expectText(page.locator('h1'), serial, 'the app reloads');
  await page.waitForTimeout(1000);
  check(await diagnostics() === 1 && await state(A) === 'checked_in', 'reloading and resending doubled nothing');

  // A conflict: the desk cancels a booking while this tablet, offline, checks it in.
  await page.goto(o.base + '/staff/#today');
  await page.locator(`button[data-code="${C}"]`).waitFor();
  await ctx.setOffline(true);
  await expectText(page.locator('#outbox'), 'offline', 'offline again');
  await page.locator(`button[data-code="${C}"]`).click();
  await expectText(page.locator('#outbox'), 'offline — 1 change waiting', 'the check-in waits');
  // A note on the device, after it: a conflict before it does not hold it back.
  await page.goto(o.base + `/staff/#device/${serial}`);
  await expectText(page.locator('h1'), serial, 'the device record, offline again');
  await page.locator('#dv-note').fill('Fan noisy at start-up, written offline.');
  await page.locator('#dv-note-form').getByRole('button', { name: 'Save' }).click();
  await expectText(page.locator('#outbox'), 'offline — 2 changes waiting', 'the note waits too');
  await desk.post(`/api/stores/${store}/appointments/${ids[2]}/cancel`, {});
  await ctx.setOffline(false);
  const conflict = page.locator('#outbox-list [data-state="conflict"]');
  if (!(await page.locator('#outbox-panel').isVisible())) await page.locator('#outbox').click();
  await expectText(conflict, 'conflict', 'back online, the check-in is a conflict', 30000);
  await expectText(conflict.locator('.outbox-message'), /cancel/i, 'shown with the server’s reason');
  await expectText(page.locator('#outbox'), '1 to check', 'the header asks for a look');
  await shot(page, o.out, 'offline-3-conflict');
  await page.waitForFunction(() => document.querySelector('#outbox-list [data-kind="note"][data-state="sent"]'), null, { timeout: 30000 });
  const notes = (await desk.get(`/api/devices/${serial}`)).entries.filter((e) => e.kind === 'note');
  check(notes.length === 1 && notes[0].content.text.includes('written offline'), 'the note after the conflict is sent, once');
  check(await state(C) === 'cancelled', 'the booking stays cancelled');
  await page.goto(o.base + '/staff/#today');
  await expectText(page.locator(`.appt[data-code="${C}"]`), 'Cancelled', 'and the schedule shows it cancelled');
  await conflict.getByRole('button', { name: /Dismiss/ }).click();
  await page.waitForFunction(() => !document.querySelector('#outbox-list [data-state="conflict"]'));
  console.log('  ok dismissed by hand, never dropped silently');

  // The PIN lock holds offline: "Switch staff" drops what was kept for offline use, and a reload
  // with the Wi-Fi down shows the lock screen, not the queue nor anyone's records.
  const dataCaches = () => page.evaluate(async () => (await caches.keys()).filter((n) => n.startsWith('carnet-staff-data')));
  check((await dataCaches()).length === 1 && /^carnet-staff-data-\d+$/.test((await dataCaches())[0]),
    'reads are kept in a cache of the signed-in person\'s own');
  const pinSet = await page.evaluate(async () => (await fetch('/api/auth/pin', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': localStorage.getItem('carnet.csrf') },
    body: JSON.stringify({ pin: '4826', password: 'carnet-demo' }),
  })).status);
  check(pinSet === 204, `the manager has a PIN (${pinSet})`);
  await page.goto(o.base + '/staff/#queue');
  await expectText(page.locator('h1'), 'Waiting now', 'the queue opens, and is kept');
  await page.getByRole('button', { name: 'Switch staff' }).click();
  await expectText(page.locator('main h1'), 'Who is using this tablet', 'Switch staff shows the lock screen');
  for (let i = 0; i < 20 && (await dataCaches()).length; i++) await page.waitForTimeout(100);
  check((await dataCaches()).length === 0, 'locking drops every kept read');
  // A colleague's change still waiting on this tablet: it is theirs to send.
  await page.evaluate(() => new Promise((resolve, reject) => {
    const req = indexedDB.open('carnet-staff');
    req.onsuccess = () => {
      const x = req.result.transaction('outbox', 'readwrite');
      x.objectStore('outbox').put({
        method: 'POST', path: '/api/visits/0/notes', body: { text: 'x' }, key: crypto.randomUUID(),
        created: new Date().toISOString(), state: 'waiting', kind: 'checkin', name: 'Zoe Private',
        staff_id: 999999999, staff_name: 'Colleague',
      });
      x.oncomplete = resolve;
      x.onerror = () => reject(x.error);
    };
    req.onerror = () => reject(req.error);
  }));
  await ctx.setOffline(true);
  await page.goto(o.base + '/staff/#queue');
  await page.reload();
  await expectText(page.locator('main h1'), 'Who is using this tablet', 'reloaded offline, the app shows the lock');
  check(!(await page.locator('#nav').isVisible()), 'with no way into the app');
  check(!(await page.locator('#call-next').count()), 'and not the queue');
  const read = await page.evaluate(async (s) => (await fetch(`/api/stores/${s}/queue`, { headers: { 'X-Carnet-Offline': '1' } })).status, store);
  check(read === 503, `a kept read is not given to a locked page (${read})`);
  await page.locator('#outbox').click();
  await expectText(page.locator('#outbox-list [data-state="waiting"]'), 'Check-in', 'a colleague\'s waiting change shows its kind');
  check(!(await page.locator('#outbox-list').innerText()).includes('Zoe Private'), 'but not the customer\'s name');
  await shot(page, o.out, 'offline-4-locked');
  await ctx.setOffline(false);
  noErrors(page);
});
