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
  const setupTab = (name) => tab.locator('nav.tabs').getByRole('link', { name, exact: true }).click();
  await setupTab('Staff');
  await expectText(tab.locator('#staff-table'), 'Sam Specialist', 'setup lists the store’s staff');
  const box = tab.getByLabel('Technician · Sam Specialist');
  check(!(await box.isChecked()), 'Sam is not a technician yet');
  await box.check();
  await expectText(tab.locator('#status'), 'Saved', 'the role change is saved');
  await tab.reload();
  await tab.getByLabel('Technician · Sam Specialist').waitFor();
  check(await tab.getByLabel('Technician · Sam Specialist').isChecked(), 'after a reload Sam is a technician');

  // Services have their own tab (setup_services.js).
  await setupTab('Services');
  await tab.locator('#sv-name').fill('Data transfer');
  await tab.locator('#sv-duration').fill('45');
  await tab.locator('#add-service').getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#service-list'), /Data transfer\s*45 min/, 'a new service is listed');
  // Floor rules: a line limit of 0 is refused with the field named; 40 is kept. The service
  // time is asked in minutes (the API keeps seconds).
  await setupTab('Floor');
  await tab.getByLabel('Assumed service time (minutes)').waitFor();
  const rules = await tab.evaluate(async () => {
    const stores = await (await fetch('/api/stores')).json();
    const p = stores.find((x) => x.code === 'paris-opera');
    return (await fetch(`/api/stores/${p.id}/floor/settings`)).json();
  });
  check((await tab.getByLabel('Assumed service time (minutes)').inputValue()) === String(Math.round(rules.default_service_s / 60)),
    `the service time shows in minutes (${rules.default_service_s} s)`);
  await tab.getByLabel('Most people in the line').fill('0');
  await tab.locator('#floor-rules').getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#floor-rules .field-error'), /\S/, 'a line limit of 0 is refused');
  await tab.getByLabel('Most people in the line').fill('40');
  await tab.locator('#floor-rules').getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#status'), 'Saved', 'the floor rules are saved');
  await tab.reload();
  await tab.getByLabel('Most people in the line').waitFor();
  check((await tab.getByLabel('Most people in the line').inputValue()) === '40', 'after a reload the line limit is 40');
  // Repair messages: by default approval needed, ready and delayed; the manager adds "Diagnosing".
  const rm = tab.locator('#repair-messages');
  check(await rm.getByLabel('Waiting for approval').isChecked() && await rm.getByLabel('Ready to collect').isChecked()
    && !(await rm.getByLabel('Diagnosing').isChecked()), 'repair messages start with the defaults');
  await rm.getByLabel('Diagnosing').check();
  await rm.getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#status'), 'Saved', 'the repair message choice is saved');
  await tab.reload();
  await tab.locator('#repair-messages').getByLabel('Diagnosing').waitFor();
  check(await tab.locator('#repair-messages').getByLabel('Diagnosing').isChecked(), 'after a reload Diagnosing sends a message');
  await tab.locator('#repair-messages').getByLabel('Diagnosing').uncheck();
  await tab.locator('#repair-messages').getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#status'), 'Saved', 'and back to the defaults');
  await shot(tab, o.out, 'manager-2-setup');

  // The week: Sunday opens (closing before opening is refused under that box), a closure on a
  // future weekday takes its slots away, and a Sunday shift for a technician is added, listed
  // and deleted.
  const api = (path) => tab.evaluate(async (p) => (await fetch(p)).json(), path);
  const paris = (await api('/api/stores')).find((x) => x.code === 'paris-opera');
  const ymd = (d) => d.toISOString().slice(0, 10);
  const today = await tab.evaluate(() => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(new Date()));
  const plus = (n) => { const d = new Date(today + 'T12:00:00Z'); d.setUTCDate(d.getUTCDate() + n); return d; };
  await setupTab('Hours');
  await tab.getByLabel('Opens · Sunday').fill('11:00');
  await tab.getByLabel('Closes · Sunday').fill('10:00');
  await tab.locator('#hours-form').getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#hours-form .field-error'), /\S/, 'Sunday closing before opening is refused');
  check((await tab.getByLabel('Closes · Sunday').getAttribute('aria-invalid')) === 'true', 'the closing box of Sunday is marked invalid');
  await tab.getByLabel('Closes · Sunday').fill('18:00');
  await tab.locator('#hours-form').getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#status'), 'Saved', 'the opening hours are saved');
  const detail = await api(`/api/stores/${paris.id}`);
  const sunday = detail.hours.filter((x) => x.weekday === 7);
  check(sunday.length === 1 && sunday[0].opens === '11:00' && sunday[0].closes === '18:00', `the API has Sunday 11:00–18:00 (${JSON.stringify(detail.hours)})`);
  check(detail.hours.filter((x) => x.weekday === 1 && x.opens === '10:00' && x.closes === '20:00').length === 1, 'Monday kept its hours');

  // A closure ten days on (or eleven, never a Sunday): its slots were there, then are gone.
  let closed = plus(10);
  if (closed.getUTCDay() === 0) closed = plus(11);
  const day = ymd(closed);
  const battery = (await api(`/api/stores/${paris.id}/services`)).find((x) => x.name === 'Battery');
  const slots = async (d) => (await api(`/api/stores/${paris.id}/availability?service=${battery.id}&from=${d}&to=${d}`)).days.reduce((n, x) => n + x.slots.length, 0);
  check((await slots(day)) > 0, `${day} has free slots before the closure`);
  await tab.locator('#cl-date').fill(day);
  await tab.getByLabel('Reason (optional)').fill('Inventaire');
  await tab.getByRole('button', { name: 'Close that day' }).click();
  await expectText(tab.locator('#status'), 'Saved', 'the closure is saved');
  await expectText(tab.locator('#closure-list'), 'Inventaire', 'the closure is listed');
  check((await slots(day)) === 0, `${day} has no slots once closed`);
  check((await api(`/api/stores/${paris.id}`)).closures.some((c) => c.date === day), 'the API lists the closure');

  // A shift for Théo on the coming Sunday (the demo has none on Sundays): listed, then deleted.
  let sun = plus(1);
  while (sun.getUTCDay() !== 0) sun = new Date(sun.getTime() + 86400000);
  const sunDay = ymd(sun);
  const theo = (await api(`/api/stores/${paris.id}/staff`)).staff.find((x) => x.email === 'tech@carnet.test');
  await tab.goto(o.base + '/staff/#setup/rota/' + sunDay);
  const sunCell = tab.locator(`#rota-grid tr[data-staff="${theo.id}"] td[data-day="${sunDay}"]`);
  await sunCell.locator('button.add-shift').click();
  await tab.locator('#re-start').fill('11:00');
  await tab.locator('#re-end').fill('17:00');
  await tab.locator('#shift-editor').getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#status'), 'Saved', 'the shift is saved');
  const item = sunCell.locator('button.shift', { hasText: '11:00–17:00' });
  await item.waitFor();
  const rota = async () => (await api(`/api/stores/${paris.id}/shifts?from=${sunDay}&to=${sunDay}`)).shifts;
  const added = (await rota()).filter((x) => x.staff_id === theo.id);
  const wall = (iso) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
  check(added.length === 1 && wall(added[0].starts_at) === `${sunDay}, 11:00` && wall(added[0].ends_at) === `${sunDay}, 17:00`,
    `the API has Théo's shift from 11:00 Paris time (${JSON.stringify(added)})`);
  check((await slots(sunDay)) > 0, 'with Sunday hours and Théo on shift, Sunday offers battery slots');
  await shot(tab, o.out, 'manager-2b-week');
  await item.click();
  await tab.locator('#shift-editor').getByRole('button', { name: 'Delete' }).click();
  await expectText(tab.locator('#status'), 'Shift deleted', 'the shift is deleted');
  await sunCell.locator('button.shift', { hasText: '11:00–17:00' }).waitFor({ state: 'detached' });
  check((await rota()).every((x) => x.staff_id !== theo.id), 'the API no longer has Théo\'s Sunday shift');
  check((await slots(sunDay)) === 0, 'without the shift, Sunday has no battery slots');

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
