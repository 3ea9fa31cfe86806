// Calendar feeds: a manager makes the store's calendar on a tablet (the URL shown once, copied),
// the URL answers a calendar; revoked in two taps, it answers 404; on a phone the tab fits
// without sideways scrolling. A specialist, who has no Setup link, opens the tab by its address
// and makes their own calendar only.
import { run, newPage, shot, check, expectText, noErrors, PHONE } from './lib.mjs';

const TABLET = { width: 1180, height: 820 };

async function signIn(page, base, email) {
  await page.goto(base + '/staff/#setup/calendars');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('carnet-demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expectText(page.locator('h2').first(), 'Calendar feeds', `${email} sees the Calendars tab`);
}

async function noSideways(page, what) {
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(wide <= 0, `${what}: no horizontal scroll (${wide}px)`);
}

run('calendars', async (ctx, o) => {
  const tab = await newPage(ctx, { viewport: TABLET });
  await signIn(tab, o.base, 'manager@carnet.test');
  check(await tab.locator('nav.tabs a[data-tab="calendars"]').getAttribute('aria-current') === 'page', 'the Calendars tab is the current one');
  await tab.getByRole('button', { name: 'Add the store\'s calendar' }).click();
  const url = await tab.locator('#cal-url').inputValue();
  check(/\/api\/stores\/\d+\/calendar\/[A-Za-z0-9_-]{43}\.ics$/.test(url), `the new feed's URL is shown (${url.replace(/[A-Za-z0-9_-]{43}/, '…')})`);
  await expectText(tab.locator('#cal-new'), 'Keep it private', 'a note says to keep it private');
  await tab.getByRole('button', { name: 'Copy the link' }).click();
  await expectText(tab.locator('#status'), /copied|selected/, 'the link is copied (or selected to copy)');
  await shot(tab, o.out, 'calendars-1-made');

  const feed = await fetch(url);
  const text = await feed.text();
  check(feed.status === 200 && feed.headers.get('content-type').startsWith('text/calendar') && text.startsWith('BEGIN:VCALENDAR\r\n'),
    'the URL answers a calendar');
  await expectText(tab.locator('#cal-list'), 'The store\'s appointments', 'the list shows the store\'s feed');
  check(!(await tab.locator('#cal-list').textContent()).includes(url.split('/').pop()), 'the list does not show the URL');

  // Phone: the same tab fits.
  await tab.setViewportSize(PHONE);
  await noSideways(tab, 'the Calendars tab on a phone');
  await shot(tab, o.out, 'calendars-2-phone');
  await tab.setViewportSize(TABLET);

  const revoke = tab.locator('li.cal-feed').first().getByRole('button', { name: /Revoke/ });
  await revoke.click();
  await expectText(revoke, 'Tap again', 'the first tap arms the button');
  await revoke.click();
  await expectText(tab.locator('#status'), 'no longer works', 'the feed is revoked');
  await expectText(tab.locator('li.cal-feed').first(), 'stopped', 'the list says it stopped');
  check((await fetch(url)).status === 404, 'the revoked URL answers 404');
  noErrors(tab);

  const spec = await newPage(ctx, { viewport: PHONE });
  await spec.context().clearCookies();
  await signIn(spec, o.base, 'specialist@carnet.test');
  check(await spec.getByRole('button', { name: 'Add the store\'s calendar' }).count() === 0, 'a specialist is not offered the store\'s calendar');
  await spec.getByRole('button', { name: 'Add my calendar' }).click();
  const mine = await spec.locator('#cal-url').inputValue();
  const mtext = await (await fetch(mine)).text();
  check(mtext.includes('X-WR-CALNAME:Sam Specialist'), 'the specialist\'s feed is their diary');
  await expectText(spec.locator('#cal-list'), 'Diary of Sam Specialist', 'their list shows it');
  await noSideways(spec, 'the specialist\'s Calendars tab on a phone');
  await shot(spec, o.out, 'calendars-3-specialist');
  noErrors(spec);
});
