// Journey: kept under observation overnight. On the tablet a technician keeps a repair overnight
// from its ticket (one tap: tomorrow 10:00 store time is the default); a diagnostic logged in the
// night shows on the ticket's timeline; the next morning the call-back list on a phone shows who
// to call (name, a call button), the night's failed test, a call-back past its time flagged, and
// one tap records the call, which takes it off the list.
import { run, newPage, shot, check, expectText, noErrors, staffApi, PHONE } from './lib.mjs';

const TABLET = { width: 1180, height: 820 };
const SERIAL = 'E2E0OBS001';
const LATE = process.env.CARNET_E2E_LATE || '';

run('callbacks', async (ctx, o) => {
  const api = await staffApi(o.base, 'tech@carnet.test');
  const stores = await api.get('/api/stores');
  const paris = stores.find((s) => s.code === 'paris-opera');
  const rep = await api.post(`/api/stores/${paris.id}/repairs`, {
    serial: SERIAL, problem: 'Shuts down at night',
    intake: { checklist: [{ item: 'screen', ok: true }] },
    owner: { name: 'Cléo Rappel', phone: '+33 6 12 34 56 78' },
  });
  await api.post(`/api/repairs/${rep.id}/transition`, { to: 'diagnosing' });

  const tab = await newPage(ctx, { viewport: TABLET });
  await tab.goto(`${o.base}/staff/#repair/${rep.id}`);
  await tab.getByLabel('Email').fill('tech@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await expectText(tab.locator('h1'), rep.number, 'the ticket opens');
  await tab.locator('#obs-start').waitFor();
  const at = await tab.locator('#obs-at').inputValue();
  check(/T10:00$/.test(at), `the call-back defaults to 10:00 tomorrow, store time (${at})`);
  await shot(tab, o.out, 'callbacks-1-ticket');
  await tab.getByRole('button', { name: 'Keep overnight' }).click();
  await expectText(tab.locator('#obs-callback'), /Call-back promised for .*10:00/, 'the promised call-back shows in store time');
  await expectText(tab.locator('#obs-timeline'), 'No diagnostics logged yet', 'the night has no sessions yet');

  // In the night: a diagnostic for the device; it shows on the ticket's timeline.
  await api.post(`/api/devices/${SERIAL}/diagnostics`, {
    store_id: paris.id, summary: 'overnight loop',
    results: [{ test: 'battery', passed: true }, { test: 'display', passed: false, note: 'flicker at 3am' }],
  });
  await tab.reload();
  await expectText(tab.locator('#obs-timeline'), 'display', 'the night’s session is on the ticket');
  await expectText(tab.locator('#obs-timeline'), '1 passed, 1 failed', 'with its results');
  await shot(tab, o.out, 'callbacks-2-timeline');
  noErrors(tab);

  // The next morning, on a phone: the call-back list.
  const phone = await newPage(ctx, { viewport: PHONE });
  await phone.goto(`${o.base}/staff/#today`);
  await phone.getByRole('link', { name: 'Call-backs' }).click();
  await expectText(phone.locator('h1'), 'Call-backs', 'the call-back list opens from the menu');
  const card = phone.locator(`li[data-repair="${rep.id}"]`);
  await expectText(card, 'Cléo Rappel', 'it says who to call');
  await expectText(card, 'failed: display', 'with the night’s failed test');
  const call = card.getByRole('link', { name: /^Call / });
  check((await call.getAttribute('href')) === 'tel:+33612345678', 'a call button dials the customer');
  check((await card.getAttribute('data-overdue')) === 'false', 'a call-back still ahead is not flagged');
  if (LATE) {
    const late = phone.locator('li[data-overdue="true"]');
    await expectText(late.first(), LATE, 'a call-back past its time is flagged');
    await expectText(late.first().locator('.cb-overdue'), 'Late', 'with a Late badge');
    await expectText(phone.locator('#cb-late'), 'past their time', 'and counted at the top');
  }
  const buttons = await card.locator('button').evaluateAll((bs) => bs.map((b) => b.getBoundingClientRect().height));
  check(buttons.every((hgt) => hgt >= 48), `outcome buttons are at least 48 px tall (${buttons.join(', ')})`);
  await shot(phone, o.out, 'callbacks-3-list-phone');
  await card.getByRole('button', { name: 'Reached' }).click();
  await expectText(phone.locator('#status'), 'Call-back recorded', 'one tap records the call');
  await card.waitFor({ state: 'detached' });
  check(true, 'the call-back leaves the list');
  await shot(phone, o.out, 'callbacks-4-after');
  noErrors(phone);
});
