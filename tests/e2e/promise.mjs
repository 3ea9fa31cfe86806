// Promises predicted from the bench (issue 17, point 3): a technician opens a screen repair with
// a promise; the ticket shows when it will likely be ready, the risk and why; a part ordered
// that arrives after the promise turns the risk high with the part as the reason; the slip job
// moves the promise and the ticket follows live; the store's list flags it; the manager's
// dashboard shows the share of promises kept with its n. No horizontal scroll on a phone.
import { run, newPage, shot, check, expectText, noErrors } from './lib.mjs';

const TABLET = { width: 1180, height: 820 };
const PHONE = { width: 390, height: 844 };
const SERIAL = 'PRME2E0SCR01';

async function noSideScroll(page, what) {
  const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(sw <= w, `${what}: no horizontal scroll (${sw} <= ${w})`);
}

const pad = (n) => String(n).padStart(2, '0');
const local = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;

run('promise', async (ctx, o) => {
  const tab = await newPage(ctx, { viewport: TABLET });
  await tab.goto(o.base + '/staff/#repairs');
  await tab.getByLabel('Email').fill('tech@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await expectText(tab.locator('h1'), 'Repairs', 'the technician opens the repairs');

  await tab.getByLabel('Serial number or IMEI').fill(SERIAL);
  await tab.getByLabel('Problem').fill('Cracked screen, touch works.');
  await tab.getByLabel(/Kind of work/).fill('screen');
  // Promised in four days: the default for a kind without history (2 days from intake, 3 at
  // the 80th percentile) keeps it safe whatever is ahead on the bench.
  await tab.getByLabel('Promised date').fill(local(new Date(Date.now() + 5 * 86400e3)));
  await tab.getByLabel('Customer name').fill('Pia Promise');
  await tab.getByLabel('Customer email').fill('pia@example.com');
  await tab.getByRole('button', { name: 'Open a repair' }).click();
  await expectText(tab.locator('#rp-state'), 'Received', 'the repair is received');
  await expectText(tab.locator('#rp-forecast'), 'likely ready', 'the ticket says when it will likely be ready');
  await expectText(tab.locator('#rp-forecast .fc-risk'), /Promise (safe|tight)/, 'and the promise is not at risk');
  await expectText(tab.locator('#rp-forecast-reasons'), 'no history for screen', 'the reason names the kind and its default');
  const promisedBefore = (await tab.locator('#rp-promised').textContent()).trim();

  // A part ordered that arrives a week from now: after the promise.
  await tab.locator('#rp-moves').getByRole('button', { name: 'Diagnosing' }).click();
  await expectText(tab.locator('#rp-state'), 'Diagnosing', 'the repair moves to diagnosing');
  await tab.getByLabel('Part number').fill('SCR-661');
  await tab.getByLabel(/Part expected/).fill(local(new Date(Date.now() + 7 * 86400e3)));
  await tab.locator('#rp-part-form button[type=submit]').click();
  await expectText(tab.locator('#rp-forecast-reasons'), 'part SCR-661 expected', 'the awaited part is a reason');
  await shot(tab, o.out, 'promise-1-ticket');

  // The slip job moves the promise past the part's arrival and tells the customer; the ticket
  // follows live.
  await expectText(tab.locator('#rp-promised'), /.+/, 'the promise is shown');
  const deadline = Date.now() + 20000;
  let promisedAfter = promisedBefore;
  while (Date.now() < deadline && promisedAfter === promisedBefore) {
    await new Promise((r) => setTimeout(r, 250));
    promisedAfter = (await tab.locator('#rp-promised').textContent()).trim();
  }
  check(promisedAfter !== promisedBefore, `the promise moved (${promisedBefore} -> ${promisedAfter})`);
  await expectText(tab.locator('#rp-forecast .fc-risk'), /Promise (safe|tight)/, 'the new promise is safe again');
  const number = (await tab.locator('h1').textContent()).trim();

  // The store's list shows the forecast's badge.
  await tab.getByRole('link', { name: 'Repairs' }).click();
  const row = tab.locator(`#repair-list tr[data-number="${number}"]`);
  await expectText(row, 'Diagnosing', 'the list shows the repair');
  check((await row.locator('.fc-risk').count()) === 1, 'with its forecast badge');
  await tab.setViewportSize(PHONE);
  await noSideScroll(tab, 'the repair list on a phone');
  await tab.goto(o.base + `/staff/#repair/${await row.getAttribute('data-id')}`);
  await expectText(tab.locator('#rp-forecast'), 'likely ready', 'the ticket on a phone');
  await noSideScroll(tab, 'the ticket on a phone');
  await shot(tab, o.out, 'promise-2-ticket-phone');
  noErrors(tab);

  // The manager's dashboard: promises kept, with n (the technician's session ends first: the
  // pages share the browser's cookies).
  await ctx.clearCookies();
  const man = await newPage(ctx, { viewport: TABLET });
  await man.goto(o.base + '/staff/#dashboard');
  await man.getByLabel('Email').fill('manager@carnet.test');
  await man.getByLabel('Password').fill('carnet-demo');
  await man.getByRole('button', { name: 'Sign in' }).click();
  await expectText(man.locator('#fig-promises-kept'), 'Promises kept', 'the dashboard shows the share of promises kept');
  await expectText(man.locator('#fig-promises-kept'), 'n = ', 'with its n');
  check((await man.locator('#csv-promises').getAttribute('href')).includes('/reports/promises?'), 'and its CSV');
  await man.setViewportSize(PHONE);
  await noSideScroll(man, 'the dashboard on a phone');
  noErrors(man);
});
