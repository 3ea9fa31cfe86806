// Journey: a manager sets up a webhook on the tablet. An http:// address is refused next to the
// field; an https one is added and its secret shown once with a copy button; the endpoint can be
// disabled, its secret rotated (a new one shown), its (empty) delivery log read, and it is
// deleted. On a phone the tab has no sideways scroll and its buttons are touch-sized.
import { run, newPage, shot, check, expectText, noErrors, PHONE } from './lib.mjs';

const TABLET = { width: 1180, height: 820 };
// TEST-NET-3 (RFC 5737): a public address that needs no DNS and receives nothing.
const URL = 'https://203.0.113.10/carnet-e2e';
// How lists show it: the path may hold the receiver's secret.
const SHOWN = 'https://203.0.113.10/…';

run('webhooks', async (ctx, o) => {
  const tab = await newPage(ctx, { viewport: TABLET });
  tab.on('dialog', (d) => d.accept());
  await tab.goto(`${o.base}/staff/#setup/webhooks`);
  await tab.getByLabel('Email').fill('manager@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await expectText(tab.locator('nav.tabs a[aria-current="page"]'), 'Webhooks', 'the Webhooks tab opens');
  await expectText(tab.locator('#hook-none'), 'No webhook yet', 'no webhook at first');

  await tab.locator('#hk-url').fill('http://example.com/hook');
  await tab.getByRole('button', { name: 'Add a webhook' }).click();
  await expectText(tab.locator('#add-hook .field-error'), 'https:// addresses only', 'http:// is refused next to the field');

  await tab.locator('#hk-url').fill(URL);
  await tab.locator('#hk-desc').fill('Our CRM');
  await tab.getByLabel('A survey is answered').uncheck();
  await tab.getByRole('button', { name: 'Add a webhook' }).click();
  const secret = await expectText(tab.locator('#hook-secret-value'), /^whsec_[A-Za-z0-9_-]{43}$/, 'the secret is shown once');
  await expectText(tab.locator('#hook-secret'), 'will not be shown again', 'and says so');
  check(await tab.locator('#hook-secret-copy').isVisible(), 'with a copy button');
  await shot(tab, o.out, 'webhooks-1-secret');
  await tab.getByRole('button', { name: 'Done' }).click();

  const card = tab.locator('li.hook').first();
  await expectText(card, SHOWN, 'the endpoint is listed, masked past its host');
  check(!(await card.textContent()).includes('carnet-e2e'), 'its path is not shown');
  await expectText(card, 'repair.moved', 'with its events');
  check(!(await card.textContent()).includes('survey.answered'), 'the unchecked event is not in it');
  check(!(await tab.content()).includes(secret), 'the secret is not on the page any more');

  await card.getByRole('button', { name: 'Disable' }).click();
  await expectText(tab.locator('li.hook').first(), 'off', 'it can be disabled');
  await tab.locator('li.hook').first().getByRole('button', { name: 'New secret' }).click();
  const secret2 = await expectText(tab.locator('#hook-secret-value'), /^whsec_/, 'a new secret is shown');
  check(secret2 !== secret, 'and it is another one');
  await tab.getByRole('button', { name: 'Done' }).click();
  await tab.locator('li.hook').first().getByRole('button', { name: 'Delivery log' }).click();
  await expectText(tab.locator('#hook-log'), 'Nothing sent yet', 'the delivery log opens');
  await shot(tab, o.out, 'webhooks-2-list');
  noErrors(tab);

  const phone = await newPage(ctx, { viewport: PHONE });
  await phone.goto(`${o.base}/staff/#setup/webhooks`);
  await expectText(phone.locator('li.hook').first(), SHOWN, 'the phone shows the endpoint');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  check(!overflow, 'no sideways scroll at 390 px');
  const heights = await phone.locator('li.hook button, #add-hook button').evaluateAll((bs) => bs.map((b) => b.getBoundingClientRect().height));
  check(heights.every((x) => x >= 48), `buttons are at least 48 px tall (${heights.join(', ')})`);
  await shot(phone, o.out, 'webhooks-3-phone');
  phone.on('dialog', (d) => d.accept());
  await phone.locator('li.hook').first().getByRole('button', { name: 'Delete' }).click();
  await expectText(phone.locator('#hook-none'), 'No webhook yet', 'it is deleted');
  noErrors(phone);
});
