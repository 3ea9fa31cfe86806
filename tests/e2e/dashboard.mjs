// The dashboard's range and CSV (issue 14, point 4): a manager on a tablet switches from the last
// 7 days to the last 30 and sees the figures change to the API's for that range (the test served
// three visits 20 days ago), gets a named error for a custom range that ends before it starts,
// downloads the staff table as CSV and finds its header and a row; every percentage has its n;
// no page-level horizontal scroll on a tablet or a phone. An admin also sees the chain.
import fs from 'node:fs';
import { run, newPage, shot, check, expectText, noErrors } from './lib.mjs';

const TABLET = { width: 1180, height: 820 };
const PHONE = { width: 390, height: 844 };

async function noSideScroll(page, what) {
  const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(sw <= w, `${what}: no horizontal scroll (${sw} <= ${w})`);
}

run('dashboard', async (ctx, o) => {
  const tab = await newPage(ctx, { viewport: TABLET });
  await tab.goto(o.base + '/staff/#dashboard');
  await tab.getByLabel('Email').fill('manager@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await expectText(tab.locator('h1'), 'Store dashboard', 'the manager opens the dashboard');
  await tab.locator('#kpi-served').waitFor();
  const api = (path) => tab.evaluate(async (p) => (await fetch(p)).json(), path);
  const paris = (await api('/api/stores')).find((x) => x.code === 'paris-opera');
  const today = await tab.evaluate(() => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(new Date()));
  const back = (n) => { const d = new Date(today + 'T12:00:00Z'); d.setUTCDate(d.getUTCDate() - n); return d.toISOString().slice(0, 10); };
  const floor = (from) => api(`/api/stores/${paris.id}/reports/floor?from=${from}&to=${today}`);

  const week = await floor(back(6));
  await expectText(tab.locator('#kpi-served .v'), new RegExp(`^${week.totals.served}$`), `7 days: ${week.totals.served} visits served, as the API says`);
  check(await tab.getByRole('button', { name: 'Last 7 days' }).getAttribute('aria-pressed') === 'true', 'the 7-day preset is chosen');
  await expectText(tab.locator('#kpi-csat .n'), /^n = \d+$/, 'satisfaction shows its n');
  await expectText(tab.locator('#fig-approval_pct .n'), /^n = \d+$/, 'the approval rate shows its n');
  await expectText(tab.locator('#fig-first_visit_pct .n'), /^n = \d+$/, 'first-visit resolution shows its n');
  await expectText(tab.locator('#kpi-served .p'), /before: \d+/, 'served visits show the period before');
  await noSideScroll(tab, 'tablet, 7 days');
  await shot(tab, o.out, 'dashboard-1-week');

  // 30 days: the three visits of 20 days ago join the figures.
  const month = await floor(back(29));
  check(month.totals.served >= week.totals.served + 3, `the API counts the test's visits in 30 days (${month.totals.served})`);
  await tab.getByRole('button', { name: 'Last 30 days' }).click();
  await expectText(tab.locator('#kpi-served .v'), new RegExp(`^${month.totals.served}$`), `30 days: ${month.totals.served} visits served`);
  check(await tab.getByRole('button', { name: 'Last 30 days' }).getAttribute('aria-pressed') === 'true', 'the 30-day preset is chosen');
  check((await tab.locator('#range-from').inputValue()) === back(29), 'the custom dates show the chosen range');
  check((await tab.locator('#ch-noshows svg.chart rect.bar').count()) === 30, 'thirty days of no-shows are drawn');

  // A custom range that ends before it starts: the server's refusal, named, beside the chooser.
  await tab.locator('#range-from').fill(back(2));
  await tab.locator('#range-to').fill(back(5));
  await tab.getByRole('button', { name: 'Show' }).click();
  await expectText(tab.locator('#range-error'), /^To:/, 'a range ending before it starts is refused on "to"');
  await tab.locator('#range-from').fill(back(21));
  await tab.locator('#range-to').fill(back(19));
  await tab.getByRole('button', { name: 'Show' }).click();
  const custom = await api(`/api/stores/${paris.id}/reports/floor?from=${back(21)}&to=${back(19)}`);
  check(custom.totals.served >= 3, 'the custom three days hold the test\'s visits');
  await expectText(tab.locator('#kpi-served .v'), new RegExp(`^${custom.totals.served}$`), `a custom range: ${custom.totals.served} visits served`);
  await expectText(tab.locator('#kpi-today .k'), 'Bookings on the last day', 'a range that ends before today says "last day"');

  // The staff table as CSV: a header row and Sam's row.
  await tab.getByRole('button', { name: 'Last 7 days' }).click();
  await tab.locator('#staff-table').waitFor();
  const [download] = await Promise.all([tab.waitForEvent('download'), tab.locator('#csv-staff').click()]);
  const name = download.suggestedFilename();
  check(name === `carnet-staff-paris-opera-${back(6)}_${today}.csv`, `the file names the store and the range (${name})`);
  const text = fs.readFileSync(await download.path(), 'utf8');
  const lines = text.split('\r\n');
  check(lines[0] === 'staff_id,name,served,service_median_min,service_n,csat_pct,csat_n,calls,overrides,override_pct,previous.served,previous.service_median_min,previous.service_n,previous.csat_pct,previous.csat_n,previous.calls,previous.overrides,previous.override_pct',
    `the CSV's header (${lines[0]})`);
  check(lines.some((l) => /^\d+,Sam Specialist,\d+,/.test(l)), 'the CSV has Sam\'s row');
  await shot(tab, o.out, 'dashboard-2-staff');

  // A phone: the same page, no sideways scroll.
  const phone = await newPage(ctx, { viewport: PHONE });
  await phone.goto(o.base + '/staff/#dashboard');
  await phone.locator('#kpi-served').waitFor();
  await phone.locator('#staff-table').waitFor();
  await noSideScroll(phone, 'phone');
  await shot(phone, o.out, 'dashboard-3-phone');
  await phone.close();

  // An admin sees every store and the chain's total.
  await tab.locator('#logout').click();
  await tab.getByLabel('Email').fill('admin@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await tab.goto(o.base + '/staff/#dashboard');
  await expectText(tab.locator('#chain-table'), 'All stores (total)', 'the admin sees the chain with its total');
  await expectText(tab.locator('#chain-table'), 'Carnet Lyon Part-Dieu', 'and each store');
  await noSideScroll(tab, 'tablet, admin');
  await shot(tab, o.out, 'dashboard-4-chain');
  noErrors(tab);
});
