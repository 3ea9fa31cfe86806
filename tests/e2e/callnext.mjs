// Issue 17, point 2: a call-next that explains itself. A booked customer whose time has come
// (set up by test_e2e.py) and two walk-ins wait. On the tablet the queue says who is next and
// why ("booked 10:30, here since 10:21", "walk-in, waiting N min") and names the store's rule;
// calling the last walk-in first is out of turn: a dialog asks why, refuses an empty reason, and
// the call goes through with one. On a phone the dialog fits without sideways scrolling.
import { run, newPage, shot, check, expectText, noErrors, TABLET, PHONE } from './lib.mjs';

run('callnext', async (ctx, o) => {
  for (const name of ['Ann First', 'Ben Second']) {
    const r = await fetch(o.base + '/api/stores/1/line', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }),
    });
    check(r.status === 201, `${name} joins the line`);
  }

  const tab = await newPage(ctx, { viewport: TABLET, lang: 'en' });
  await tab.goto(o.base + '/staff/');
  await tab.getByLabel('Email').fill('specialist@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await expectText(tab.locator('h1'), 'Today', 'the specialist is signed in');
  await tab.getByRole('link', { name: 'Queue' }).click();

  const next = tab.locator('#next-why');
  await expectText(next, 'Next: Cora Booked', 'the queue says who is next');
  await expectText(next.locator('[data-why="next"]'), /booked \d{1,2}:\d{2}.*here since \d{1,2}:\d{2}/, 'and why: booked at a time, here since a time');
  await expectText(next, 'appointment due: goes first', 'naming the part of the rule that decided');
  await expectText(tab.locator('#call-rule'), 'customers whose appointment time has come go first', 'and the store’s rule');
  const ben = tab.locator('.queue-item', { hasText: 'Ben Second' });
  await expectText(ben, /walk-in, waiting \d+ min/, 'a walk-in’s place says how long they wait');
  await shot(tab, o.out, 'callnext-1-queue-why');

  // Ben is third: calling him first asks why.
  await ben.getByRole('button', { name: 'Call Ben Second' }).click();
  const dlg = tab.locator('#override-dialog');
  await expectText(dlg, 'Call Ben Second out of turn?', 'calling out of turn opens a dialog');
  await expectText(dlg, 'Cora Booked is next', 'which says who is next instead');
  await dlg.getByRole('button', { name: 'Call out of turn' }).click();
  await expectText(dlg.locator('.field-error'), 'needs a reason', 'an empty reason is refused');
  check(await tab.locator('#serving .serving-card').count() === 0, 'and nobody was called');
  await dlg.getByLabel(/Reason/).fill('Only collecting a charger left yesterday');
  await shot(tab, o.out, 'callnext-2-dialog');
  await dlg.getByRole('button', { name: 'Call out of turn' }).click();
  await expectText(tab.locator('#status'), 'You called Ben Second out of turn', 'with a reason the call goes through');
  await dlg.waitFor({ state: 'detached', timeout: 5000 });
  check(true, 'the dialog is gone');
  await expectText(tab.locator('#serving'), 'Ben Second', 'Ben is being served');
  await expectText(next, 'Next: Cora Booked', 'Cora is still next');
  noErrors(tab);

  // On a phone: the dialog fits the screen.
  const phone = await newPage(ctx, { viewport: PHONE, lang: 'fr' });
  // (the same browser: still signed in as the specialist, the page in French)
  await phone.goto(o.base + '/staff/#queue');
  await expectText(phone.locator('#next-why'), 'Suivant : Cora Booked', 'the queue explains itself in French');
  const ann = phone.locator('.queue-item', { hasText: 'Ann First' });
  await expectText(ann, /sans rendez-vous, attend depuis \d+ min/, 'a walk-in’s reason, in French');
  await ann.getByRole('button', { name: /Ann First/ }).first().click();
  await expectText(phone.locator('#override-dialog'), 'hors tour', 'the dialog asks, in French');
  const [sw, w, wider] = await phone.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth,
    [...document.querySelectorAll('body *')].filter((e) => !e.closest('nav') && e.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 8).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}:${Math.round(e.getBoundingClientRect().right)}`)]);
  check(sw <= w, `no sideways scrolling on a 390 px phone (${sw} <= ${w}; ${wider.join(' ')})`);
  await shot(phone, o.out, 'callnext-3-dialog-phone-fr');
  await phone.locator('#override-cancel').click();
  await phone.locator('#override-dialog').waitFor({ state: 'detached', timeout: 5000 });
  await expectText(phone.locator('.queue-item').nth(1), 'Ann First', 'cancelling closes the dialog and calls nobody');
  noErrors(phone);
});
