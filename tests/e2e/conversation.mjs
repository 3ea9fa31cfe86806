// Issue #17 point 5: the conversation follows the device. A customer writes to the Paris store
// about their repair; a technician of Lyon, who never met them, opens the device's health
// record on a tablet and reads the conversation, grouped under the Paris repair, without the
// customer's address; the same section on a phone does not scroll sideways.
import { run, newPage, shot, check, expectText, noErrors, staffApi, TABLET, PHONE } from './lib.mjs';

run('conversation', async (ctx, o) => {
  const serial = 'CVE2E' + Math.random().toString(36).slice(2, 8).toUpperCase().replace(/[^A-Z0-9]/g, '7');
  const email = `conv.${serial.toLowerCase()}@example.com`;
  const stores = await (await fetch(o.base + '/api/stores')).json();
  const paris = stores.find((s) => s.code === 'paris-opera').id;
  const tech = await staffApi(o.base, 'tech@carnet.test');
  const repair = await tech.post(`/api/stores/${paris}/repairs`, {
    serial, problem: 'Battery drains overnight', owner: { name: 'Nina Conv', email },
    intake: { checklist: [{ item: 'screen', ok: true }], accessories: 'none', passcode_provided: false },
  });
  const hello = 'Can you also check the charging port?';
  const r = await fetch(`${o.base}/api/messages/${repair.status_token}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ body: hello }),
  });
  check(r.status === 201, 'the customer writes from the status link');
  await tech.post(`/api/stores/${paris}/threads/${(await r.json()).thread_id}/messages`, { body: 'Yes, we will.' });

  const tab = await newPage(ctx, { viewport: TABLET });
  await tab.goto(`${o.base}/staff/#device/${serial}`);
  await tab.getByLabel('Email').fill('lyon@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await expectText(tab.locator('h1'), `Health record · ${serial}`, 'the Lyon technician opens the record');
  const conv = tab.locator('#conversations');
  await expectText(conv.locator('summary').first(), `Repair ${repair.number}`, 'the conversation is grouped under the Paris repair');
  await expectText(conv.locator('summary').first(), 'Carnet Paris Opéra', 'naming the store it was held at');
  await expectText(conv.locator('.conv-msg[data-dir="in"]').first(), hello, 'the customer’s message is there, opened');
  await expectText(conv.locator('.conv-msg[data-dir="in"]').first(), 'from the customer', 'marked as written by the customer');
  await expectText(conv, 'Yes, we will.', 'with the store’s answer');
  await expectText(conv, 'repair received', 'and the message the store sent, by template');
  check(!(await conv.textContent()).includes(email), 'another store’s customer address is not shown');
  await shot(tab, o.out, 'conversation-1-tablet');
  await tab.setViewportSize(PHONE);
  await conv.scrollIntoViewIfNeeded();
  check(await tab.evaluate(() => document.documentElement.scrollWidth <= innerWidth), 'no horizontal scroll on a phone');
  await shot(tab, o.out, 'conversation-2-phone');
  noErrors(tab);
});
