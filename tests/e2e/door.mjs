// Journey: from the door to the bench, nobody repeats a word (issue 13). A booked customer, who
// gave their device's serial and their problem when booking (CARNET_E2E_MANAGE_TOKEN), checks in
// from their booking link. The specialist calls next: the serving card shows the service, the
// customer's words, the serial and the device's earlier visit at another store. One tap and a
// confirmation hand the customer over to the bench queue. A technician, on a tablet of their
// own (a second browser), takes it from the bench queue and logs a diagnosis on the device.
// The repair holds the customer's name, contact, serial and problem from the booking, and no
// staff member typed any of them. Taps are counted: the specialist from the check-in to the
// hand-over (goal: 5 or fewer), the technician from the bench queue to the logged diagnosis
// (goal: 6 or fewer).
import { run, browser, newPage, shot, check, expectText, noErrors, staffApi, PHONE } from './lib.mjs';

const TABLET = { width: 1180, height: 820 };

const TOKEN = process.env.CARNET_E2E_MANAGE_TOKEN;
const NAME = process.env.CARNET_E2E_NAME;
const EMAIL = process.env.CARNET_E2E_EMAIL;
const SERIAL = process.env.CARNET_E2E_SERIAL;
const PROBLEM = process.env.CARNET_E2E_PROBLEM;
const SERVICE = process.env.CARNET_E2E_SERVICE;

// Every tap a staff member makes, and every value they type (a typed field counts as one tap).
function counter() {
  const c = { taps: 0, typed: [] };
  c.tap = async (locator) => { c.taps += 1; await locator.click(); };
  c.type = async (locator, value) => { c.taps += 1; c.typed.push(value); await locator.fill(value); };
  return c;
}

async function signIn(page, base, email) {
  await page.goto(base + '/staff/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('carnet-demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expectText(page.locator('h1'), 'Today', `${email} is signed in`);
}

run('door', async (ctx, o) => {
  check(TOKEN && NAME && EMAIL && SERIAL && PROBLEM && SERVICE, 'a booking with a serial and a problem is given');

  // The specialist's tablet, signed in before the customer arrives (not part of the count).
  const tab = await newPage(ctx, { viewport: TABLET });
  await signIn(tab, o.base, 'specialist@carnet.test');

  // The customer checks in from their booking link on their phone.
  const phone = await newPage(ctx);
  await phone.goto(o.base + '/manage/#' + TOKEN);
  await expectText(phone.locator('#m-status'), 'Booked', 'the customer opens their booking');
  await phone.getByRole('button', { name: 'I’m here: check in' }).click();
  await phone.waitForURL(/\/line\/#/);
  await expectText(phone.locator('#p-ahead'), 'You are next', 'the customer is checked in and next');

  // The specialist: queue, call next, start, hand over, confirm.
  const sp = counter();
  await sp.tap(tab.getByRole('link', { name: 'Queue' }));
  await expectText(tab.locator('#waiting'), NAME, 'the queue lists the checked-in customer');
  await sp.tap(tab.getByRole('button', { name: 'Call next' }));
  const card = tab.locator('.serving-card');
  await expectText(card, NAME, 'the serving card names the customer');
  await expectText(card.locator('[data-card="service"]'), SERVICE, 'it shows the service');
  await expectText(card.locator('[data-card="problem"]'), PROBLEM, 'the customer’s own words');
  await expectText(card.locator('[data-card="serial"]'), SERIAL, 'the device’s serial');
  await expectText(card.locator('[data-card="history"]'), '1 earlier visit', 'and its earlier visit at another store');
  check(await card.locator('[data-card="record"]').getAttribute('href') === '#device/' + SERIAL, 'with a link to the health record');
  check(await tab.getByRole('button', { name: 'Call next' }).isDisabled(), 'call next is off while serving');
  await shot(tab, o.out, 'door-1-serving-card');
  await tab.setViewportSize(PHONE);
  await shot(tab, o.out, 'door-1-serving-card-phone');
  await tab.setViewportSize(TABLET);
  await sp.tap(tab.getByRole('button', { name: 'Start' }));
  await sp.tap(tab.getByRole('button', { name: 'Hand over to a technician' }));
  check(await tab.locator('#ho-serial').count() === 0, 'the serial is not asked for: the booking had it');
  check(await tab.locator('#ho-to-bench').isChecked(), 'the bench queue is the default');
  check(await tab.locator('#ho-to input[name="to"]').count() >= 3, 'or one of the store’s technicians, by name');
  await shot(tab, o.out, 'door-2-handover-confirm');
  await sp.tap(tab.getByRole('button', { name: 'Confirm hand-over' }));
  const done = await expectText(tab.locator('#handover-done'), /Handed over: repair R-[A-Z0-9-]+/, 'handed over to a repair order');
  const number = done.match(/R-[A-Z0-9-]+[0-9]/)[0];
  await shot(tab, o.out, 'door-3-handed-over');
  console.log(`TAPS specialist check-in to hand-over: ${sp.taps} (goal <= 5)`);
  check(sp.taps <= 5, 'the specialist needs 5 taps or fewer');

  // The technician, on their own tablet.
  const second = await browser();
  try {
    const bench = await newPage(second.ctx, { viewport: TABLET });
    await signIn(bench, o.base, 'tech@carnet.test');
    const tc = counter();
    await tc.tap(bench.getByRole('link', { name: 'Bench' }));
    const item = bench.locator('#bench li').filter({ hasText: number });
    await expectText(item, PROBLEM, 'the bench queue shows the repair with the customer’s words');
    await shot(bench, o.out, 'door-4-bench-queue');
    await tc.tap(item.getByRole('button', { name: 'Take' }));
    await expectText(bench.locator('h1, h2').first(), SERIAL, 'taking it opens the device’s record');
    await tc.type(bench.getByLabel('Test', { exact: true }), 'battery');
    await tc.tap(bench.getByRole('button', { name: 'Save diagnostic' }));
    await expectText(bench.locator('#timeline li').first(), 'Diagnostic', 'the diagnosis is logged on the device');
    await shot(bench, o.out, 'door-5-diagnosis');
    console.log(`TAPS technician bench queue to diagnosis: ${tc.taps} (goal <= 6)`);
    check(tc.taps <= 6, 'the technician needs 6 taps or fewer');
    // The bench queue is empty again on the specialist's side of the API, and the repair holds
    // the booking's customer, contact, serial and problem, none of them typed by staff.
    const api = await staffApi(o.base, 'tech@carnet.test');
    check((await api.get('/api/stores/1/bench')).every((r) => r.number !== number), 'the repair left the bench queue');
    const rec = await api.get('/api/devices/' + SERIAL);
    const rep = rec.repairs.find((r) => r.number === number);
    check(rep, 'the repair is on the device’s record');
    const repair = await api.get('/api/repairs/' + rep.id);
    check(repair.problem === PROBLEM, 'the repair holds the customer’s words');
    check(repair.device.serial === SERIAL, 'and the serial');
    check(rec.owner && rec.owner.name === NAME && rec.owner.email === EMAIL, 'and the customer and their contact');
    const typed = [...sp.typed, ...tc.typed].join(' | ').toLowerCase();
    for (const v of [NAME, EMAIL, SERIAL, PROBLEM]) check(!typed.includes(v.toLowerCase()), `no staff member typed “${v}”`);
    noErrors(bench);
  } finally {
    await second.close();
  }
  for (const p of [tab, phone]) noErrors(p);
});
