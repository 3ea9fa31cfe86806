// The manager: the dashboard (figures and hand-drawn SVG charts, after the floor journey's visits)
// and store setup (staff roles, a new service), on a tablet, then in French.
import { run, newPage, shot, check, expectText, noErrors, TABLET } from './lib.mjs';

run('manager', async (ctx, o) => {
  const tab = await newPage(ctx, { viewport: TABLET });
  await tab.goto(o.base + '/staff/#dashboard');
  await tab.getByLabel('Email').fill('manager@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await expectText(tab.locator('h1'), 'Store dashboard', 'the manager opens the dashboard');
  await tab.locator('.kpis').waitFor();
  check((await tab.locator('svg.chart').count()) >= 2, 'the dashboard draws its charts');
  // The figures are the floor report's (the test put yesterday's visits and a no-show in the
  // database; the floor journey served today's): the same request, made here, must match.
  const report = await tab.evaluate(async () => {
    const stores = await (await fetch('/api/stores')).json();
    const paris = stores.find((x) => x.code === 'paris-opera');
    return (await fetch(`/api/stores/${paris.id}/reports/floor?days=7`)).json();
  });
  const tot = report.totals;
  const yesterday = report.days[report.days.length - 2];
  check(yesterday.no_shows === 1 && yesterday.wait_mean_s === 240 && yesterday.service_mean_s === 600,
    `the report has the test's visits of yesterday (${JSON.stringify(yesterday)})`);
  const exact = (v) => new RegExp('^' + v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$');
  const minutes = (v) => (v === null ? '—' : String(v < 600 ? Math.round(v / 6) / 10 : Math.round(v / 60)));
  await expectText(tab.locator('#kpi-wait .v'), exact(minutes(tot.wait_mean_s)), `the mean wait is the report's (${tot.wait_mean_s} s)`);
  await expectText(tab.locator('#kpi-wait90 .v'), exact(minutes(tot.wait_p90_s)), `the 90th percentile wait is the report's (${tot.wait_p90_s} s)`);
  await expectText(tab.locator('#kpi-service .v'), exact(minutes(tot.service_mean_s)), `the mean service time is the report's (${tot.service_mean_s} s)`);
  const expected = tot.bookings - tot.cancelled;
  await expectText(tab.locator('#kpi-noshow .v'), exact(expected ? `${Math.round((100 * tot.no_shows) / expected)}%` : '—'), 'the no-show rate is the report\'s');
  await expectText(tab.locator('#kpi-today .v'), exact(String(report.days[6].bookings)), 'today\'s bookings are the report\'s');
  // Each chart's data table: one row per day, oldest first; yesterday is the sixth of seven.
  const row = (chart) => tab.locator(`#${chart} table.visually-hidden tr`).nth(5).locator('td');
  await expectText(row('ch-noshows'), /^1$/, 'yesterday\'s no-show is drawn');
  await expectText(row('ch-waits'), /^4 min$/, 'yesterday\'s mean wait is drawn: (120 + 360) / 2 s');
  await expectText(row('ch-wait90'), /^5\.6 min$/, 'yesterday\'s 90th percentile wait is drawn: 336 s');
  await expectText(row('ch-service'), /^10 min$/, 'yesterday\'s mean service time is drawn: (300 + 900) / 2 s');
  check((await tab.locator('#ch-noshows svg.chart rect.bar').count()) === 7, 'seven days of no-shows are drawn as bars');
  await shot(tab, o.out, 'manager-1-dashboard');

  await tab.getByRole('link', { name: 'Setup' }).click();
  await expectText(tab.locator('#staff-table'), 'Sam Specialist', 'setup lists the store’s staff');
  const box = tab.getByLabel('Technician · Sam Specialist');
  check(!(await box.isChecked()), 'Sam is not a technician yet');
  await box.check();
  await expectText(tab.locator('#status'), 'Saved', 'the role change is saved');
  await tab.reload();
  await tab.getByLabel('Technician · Sam Specialist').waitFor();
  check(await tab.getByLabel('Technician · Sam Specialist').isChecked(), 'after a reload Sam is a technician');

  await tab.locator('#sv-name').fill('Data transfer');
  await tab.locator('#sv-duration').fill('45');
  await tab.locator('#add-service').getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#service-list'), 'Data transfer · 45 min', 'a new service is listed');
  // Floor rules: a line limit of 0 is refused with the field named; 40 is kept.
  await tab.getByLabel('Most people in the line').fill('0');
  await tab.locator('#floor-rules').getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#floor-rules .field-error'), /\S/, 'a line limit of 0 is refused');
  await tab.getByLabel('Most people in the line').fill('40');
  await tab.locator('#floor-rules').getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#status'), 'Saved', 'the floor rules are saved');
  await tab.reload();
  await tab.getByLabel('Most people in the line').waitFor();
  check((await tab.getByLabel('Most people in the line').inputValue()) === '40', 'after a reload the line limit is 40');
  await shot(tab, o.out, 'manager-2-setup');

  // A customer wrote about their repair: the thread shows it unread; the manager answers.
  await tab.getByRole('link', { name: 'Messages' }).click();
  await expectText(tab.locator('#threads'), 'Camille Demo', 'the store’s threads list the customer');
  await tab.getByRole('link', { name: 'Camille Demo' }).click();
  await expectText(tab.locator('#thread'), 'Je peux passer la chercher samedi', 'the thread shows the customer’s message');
  await tab.getByLabel('Reply to the customer').fill('Oui, samedi dès 10 h.');
  await tab.getByRole('button', { name: 'Send' }).click();
  await expectText(tab.locator('#thread li').last(), 'Oui, samedi dès 10 h.', 'the reply joins the thread');
  await shot(tab, o.out, 'manager-3-messages');

  await tab.getByRole('link', { name: 'Setup' }).click();
  await tab.getByRole('button', { name: 'Passer en français' }).click();
  await expectText(tab.locator('h1'), 'Réglages de la boutique', 'setup in French');
  await tab.getByRole('link', { name: 'Tableau de bord' }).click();
  await expectText(tab.locator('h1'), 'Tableau de bord', 'the dashboard in French');
  await tab.locator('.kpis').waitFor();
  await shot(tab, o.out, 'manager-4-dashboard-fr');

  // A specialist has no dashboard: the link is not offered.
  await tab.getByRole('button', { name: 'Se déconnecter' }).click();
  await tab.getByLabel('E-mail').fill('specialist@carnet.test');
  await tab.getByLabel('Mot de passe').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Se connecter' }).click();
  await expectText(tab.locator('h1'), 'Rendez-vous du jour', 'the specialist signs in');
  check(await tab.getByRole('link', { name: 'Tableau de bord' }).isHidden(), 'a specialist is not offered the dashboard');
  noErrors(tab);
});
