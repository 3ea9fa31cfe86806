// Running a chain (issue #14, stores and services): an admin creates a store with its opening
// hours in the chain view; it is listed there and on the public booking page; closing it (after
// a confirmation) takes it off the booking page and reopening brings it back; a store with a
// booking to come closes only once the admin chooses to cancel it, and a customer who picked it
// before is told it closed instead of shown a calendar. A manager adds a
// service in the set-up's Services tab, edits its price, sees that price on the booking page,
// and archives it: the booking page no longer offers it. Tablet (1180x820) and phone (390x844),
// without sideways scrolling.
import { run, browser, newPage, shot, check, expectText, noErrors, PHONE } from './lib.mjs';

const TABLET = { width: 1180, height: 820 };
const CODE = 'bordeaux-e2e';
const NAME = 'Carnet Bordeaux E2E';
const SERVICE = 'Port cleaning';

async function signIn(page, base, email, hash) {
  await page.goto(`${base}/staff/#${hash}`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('carnet-demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function noSideScroll(page, what) {
  const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(sw <= w, `${what}: no sideways scrolling (${sw} <= ${w})`);
}

async function publicStores(page, base) {
  await page.goto(base + '/');
  await expectText(page.locator('#stores'), 'Carnet Paris Opéra', 'the booking page lists its stores');
  return (await page.locator('#stores').textContent()) || '';
}

run('stores', async (ctx, o) => {
  // ---- the admin: a new store in the chain view ----
  const admin = await newPage(ctx, { viewport: TABLET });
  await signIn(admin, o.base, 'admin@carnet.test', 'chain');
  await expectText(admin.locator('h1'), 'The chain', 'the admin opens the chain view');
  check(await admin.locator('#nav a[href="#chain"]').isVisible(), 'the admin sees the Chain link');
  await expectText(admin.locator('#chain-list'), 'Carnet Paris Opéra', 'the chain lists the demo stores');
  await expectText(admin.locator('.chain-store').first(), 'Appointments today', 'each store shows today’s load');

  const form = admin.locator('#new-store');
  await form.getByLabel('Name').fill(NAME);
  // A bad code is refused with the field named, and nothing is created.
  await form.getByLabel('Code (for links)').fill('Bad Code');
  await form.getByRole('button', { name: 'Create the store' }).click();
  await expectText(form.locator('.field-error'), /\S/, 'a bad code is refused under its field');
  await form.getByLabel('Code (for links)').fill(CODE);
  await form.getByLabel('Time zone').selectOption('Europe/Paris');
  await form.getByLabel('Currency').selectOption('EUR');
  await form.getByLabel('Address').fill('12 rue Sainte-Catherine, 33000 Bordeaux');
  await form.getByLabel('Phone').fill('+33 5 56 00 00 00');
  // Hours: every day, 09:00 to 19:00 (Sunday added to the default Monday to Saturday).
  await form.locator('input[name="day"][value="7"]').check();
  await form.getByLabel('Opens').fill('09:00');
  await form.getByLabel('Closes').fill('19:00');
  await form.getByRole('button', { name: 'Create the store' }).click();
  const card = admin.locator(`.chain-store[data-code="${CODE}"]`);
  await expectText(card, NAME, 'the new store is in the chain list');
  await expectText(card, 'Open', 'it is open');
  const made = await admin.evaluate(async (code) => {
    const stores = await (await fetch('/api/stores')).json();
    const s = stores.find((x) => x.code === code);
    return s && (await (await fetch(`/api/stores/${s.id}`)).json());
  }, CODE);
  check(made && made.hours.length === 7 && made.hours.every((x) => x.opens === '09:00' && x.closes === '19:00'),
    `its hours are set: ${made && JSON.stringify(made.hours)}`);
  check(made.address.includes('Bordeaux') && made.currency === 'EUR', 'its address and currency are kept');
  await shot(admin, o.out, 'stores-1-chain');

  const phone = await newPage(ctx, { viewport: PHONE });
  check((await publicStores(phone, o.base)).includes(NAME), 'the new store is on the public booking page');

  // Closing asks first, then takes it off the booking page; reopening brings it back.
  await card.getByRole('button', { name: 'Close the store' }).click();
  await expectText(card.locator('.chain-confirm'), 'takes no new bookings', 'closing asks for a confirmation');
  await card.getByRole('button', { name: 'Cancel' }).click();
  await expectText(card, 'Open', 'cancelled: still open');
  await card.getByRole('button', { name: 'Close the store' }).click();
  await card.getByRole('button', { name: 'Yes, go ahead' }).click();
  await expectText(admin.locator(`.chain-store[data-code="${CODE}"] .badge`), 'Closed', 'the store is closed');
  check(!(await publicStores(phone, o.base)).includes(NAME), 'a closed store leaves the booking page');
  await admin.locator(`.chain-store[data-code="${CODE}"]`).getByRole('button', { name: 'Reopen the store' }).click();
  await admin.locator(`.chain-store[data-code="${CODE}"]`).getByRole('button', { name: 'Yes, go ahead' }).click();
  await expectText(admin.locator(`.chain-store[data-code="${CODE}"] .badge`), 'Open', 'the store is open again');
  check((await publicStores(phone, o.base)).includes(NAME), 'reopened, it is back on the booking page');

  // A store with a booking to come (made by the test): closing says how many and asks whether
  // to cancel them; keeping it open changes nothing; cancelling closes it. The staff app's store
  // picker still offers the closed store, marked closed, so its history stays at hand.
  const CLOSING = process.env.CARNET_E2E_CLOSING;
  check(!!CLOSING, 'the test names a store with a booking to come');
  const closing = () => admin.locator(`.chain-store[data-code="${CLOSING}"]`);
  // A customer has picked that store on the booking page, and picks a service once it closed.
  await publicStores(phone, o.base);
  await phone.locator('#stores').getByText('Carnet Closing E2E').click();
  await expectText(phone.locator('#services'), 'Repair', 'the customer sees the store’s services');
  await closing().getByRole('button', { name: 'Close the store' }).click();
  await closing().getByRole('button', { name: 'Yes, go ahead' }).click();
  await expectText(closing().locator('.chain-confirm'), '1 booking(s) to come', 'closing says how many bookings are to come');
  await shot(admin, o.out, 'stores-1a-closing-asks');
  await closing().getByRole('button', { name: 'Keep it open' }).click();
  await expectText(closing().locator('.badge'), 'Open', 'kept open');
  await closing().getByRole('button', { name: 'Close the store' }).click();
  await closing().getByRole('button', { name: 'Yes, go ahead' }).click();
  await closing().getByRole('button', { name: 'Cancel them and close' }).click();
  await expectText(closing().locator('.badge'), 'Closed', 'the store is closed, its booking cancelled');
  await phone.locator('#services').getByText('Repair').click();
  await expectText(phone.locator('#store-closed'), 'This store is closed.',
    'the customer is told the store closed, instead of a calendar');
  check(await phone.locator('#slots button').count() === 0, 'and is offered no slot');
  await noSideScroll(phone, 'the closed-store notice on a phone');
  const pick = admin.locator('#store-pick');
  await expectText(pick, 'Carnet Closing E2E (closed)', 'the store picker still offers the closed store, marked closed');
  await shot(admin, o.out, 'stores-1b-closed-with-bookings');

  // The admin edits the store's phone in place.
  const again = admin.locator(`.chain-store[data-code="${CODE}"]`);
  await again.getByRole('button', { name: 'Edit' }).click();
  await again.getByLabel('Phone').fill('+33 5 56 11 11 11');
  await again.getByRole('button', { name: 'Save' }).click();
  await expectText(admin.locator(`.chain-store[data-code="${CODE}"]`), '+33 5 56 11 11 11', 'the edit is saved and shown');

  // The same session on a phone.
  const adminPhone = await newPage(ctx, { viewport: PHONE });
  await adminPhone.goto(`${o.base}/staff/#chain`);
  await expectText(adminPhone.locator('#chain-list'), NAME, 'the chain view on a phone');
  await noSideScroll(adminPhone, 'the chain view at 390 px');
  await shot(adminPhone, o.out, 'stores-2-chain-phone');

  // ---- the manager (a browser of their own): a service with a price, shown on the booking
  // page, then archived ----
  const other = await browser();
  try {
    await manager(other.ctx, o, phone);
  } finally {
    await other.close();
  }
  for (const p of [admin, phone, adminPhone]) noErrors(p);
});

async function manager(ctx, o, phone) {
  const mgr = await newPage(ctx, { viewport: TABLET });
  await signIn(mgr, o.base, 'manager@carnet.test', 'setup/services');
  await expectText(mgr.locator('nav.tabs a[aria-current="page"]'), 'Services', 'the manager opens the Services tab');
  check(!(await mgr.locator('#nav a[href="#chain"]').isVisible()), 'a manager has no Chain link');
  const add = mgr.locator('#add-service');
  await add.getByLabel('Name').fill(SERVICE);
  await add.getByLabel('Minutes').fill('20');
  await add.getByLabel(/^Price/).fill('-5');
  await add.getByRole('button', { name: 'Save' }).click();
  await expectText(add.locator('.field-error'), /\S/, 'a negative price is refused under its field');
  await add.getByLabel(/^Price/).fill('19');
  await add.getByRole('button', { name: 'Save' }).click();
  const item = mgr.locator('#service-list li', { hasText: SERVICE });
  await expectText(item, '€19.00', 'the new service is listed with its price');

  await item.getByRole('button', { name: `Edit · ${SERVICE}` }).click();
  await item.getByLabel(/^Price/).fill('24,90');
  await item.getByLabel('Description').fill('Battery wear measured while you wait');
  await item.getByRole('button', { name: 'Save', exact: true }).click();
  await expectText(mgr.locator('#service-list li', { hasText: SERVICE }), '€24.90', 'the edited price is shown');
  await shot(mgr, o.out, 'stores-3-services');

  await publicStores(phone, o.base);
  await phone.getByLabel('Carnet Paris Opéra').check();
  await expectText(phone.locator('#services'), SERVICE, 'the service is offered on the booking page');
  await expectText(phone.locator('#services label', { hasText: SERVICE }), '€24.90', 'with its new price');
  await noSideScroll(phone, 'the booking page at 390 px');

  await mgr.locator('#service-list li', { hasText: SERVICE }).getByRole('button', { name: `Archive · ${SERVICE}` }).click();
  await expectText(mgr.locator('#service-list li', { hasText: SERVICE }), 'Archived', 'the service is archived');
  await publicStores(phone, o.base);
  await phone.getByLabel('Carnet Paris Opéra').check();
  await expectText(phone.locator('#services'), 'iPhone screen', 'the other services are still offered');
  check(!((await phone.locator('#services').textContent()) || '').includes(SERVICE), 'an archived service is not offered');

  const mgrPhone = await newPage(ctx, { viewport: PHONE });
  await mgrPhone.goto(`${o.base}/staff/#setup/services`);
  await expectText(mgrPhone.locator('#service-list'), SERVICE, 'the Services tab on a phone');
  await noSideScroll(mgrPhone, 'the Services tab at 390 px');
  await mgrPhone.locator('nav.tabs a[data-tab="store"]').click();
  await expectText(mgrPhone.locator('#store-form'), 'Only an admin changes', 'the Store tab says what only admins change');
  check(await mgrPhone.locator('#ss-timezone').getAttribute('readonly') !== null, 'the time zone is read-only for a manager');
  await noSideScroll(mgrPhone, 'the Store tab at 390 px');

  for (const p of [mgr, mgrPhone]) noErrors(p);
}
