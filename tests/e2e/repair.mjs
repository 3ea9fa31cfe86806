// Journey 3: a technician opens a device's health record on the tablet, logs a diagnostic (the
// trend chart grows a point), opens a repair, estimates it; the customer approves the estimate on
// their phone; the technician moves the repair on to "ready"; the customer follows it on the
// status page.
import { run, newPage, shot, check, expectText, noErrors, TABLET, PHONE } from './lib.mjs';

const SERIAL = 'C02DEMO0MBP1';

run('repair', async (ctx, o) => {
  const tab = await newPage(ctx, { viewport: TABLET });
  await tab.goto(o.base + '/staff/#device');
  await tab.getByLabel('Email').fill('tech@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await expectText(tab.locator('h1'), 'Device lookup', 'the technician lands on the device lookup');

  await tab.getByLabel('Serial, IMEI, repair number, email or phone').fill(SERIAL.toLowerCase());
  await tab.getByRole('button', { name: 'Open record' }).click();
  await expectText(tab.locator('h1'), `Health record · ${SERIAL}`, 'the health record opens');
  await expectText(tab.locator('#dv-facts'), 'MacBook Pro', 'it names the model');
  await tab.locator('#timeline li').first().waitFor();
  const before = await tab.locator('#timeline li').count();
  const dotsBefore = await tab.locator('svg.chart').first().locator('circle').count();
  check(before > 0, `the timeline shows the device history (${before} entries)`);
  await shot(tab, o.out, 'repair-1-record');

  // Log a diagnostic: battery passes at 78 %, the keyboard fails.
  await tab.getByLabel('Test', { exact: true }).fill('battery');
  await tab.locator('#dg-metric-0').selectOption('battery_health');
  await tab.locator('#dg-value-0').fill('78');
  await tab.locator('#dg-unit-0').fill('%');
  await tab.getByRole('button', { name: 'Add a test' }).click();
  await tab.locator('#dg-test-1').fill('keyboard');
  await tab.locator('#dg-pass-1').selectOption('false');
  await tab.getByLabel(/Summary and notes/).fill('Sticky keys on the left side.');
  await shot(tab, o.out, 'repair-2-diagnostic-form');
  await tab.getByRole('button', { name: 'Save diagnostic' }).click();
  await expectText(tab.locator('#status'), 'Diagnostic saved', 'the diagnostic is saved');
  await expectText(tab.locator('#timeline li').first(), 'keyboard ✗', 'the newest timeline entry is the diagnostic');
  check((await tab.locator('#timeline li').count()) === before + 1, 'the timeline has one more entry');
  check((await tab.locator('svg.chart').first().locator('circle').count()) === dotsBefore + 1, 'the battery trend chart has one more point');
  await expectText(tab.locator('table.visually-hidden').first(), '78%', 'the chart’s data table has the new 78% value');
  await shot(tab, o.out, 'repair-3-record-after');

  // Open a repair from the record.
  await tab.getByRole('link', { name: 'Open a repair' }).click();
  await expectText(tab.locator('h1'), 'Repairs', 'the repair form opens');
  check((await tab.getByLabel('Serial number or IMEI').inputValue()) === SERIAL, 'the serial is filled in');
  await tab.getByLabel('Problem').fill('Keyboard: sticky keys, battery worn.');
  await tab.getByLabel('buttons: OK').uncheck();
  const promised = new Date(Date.now() + 3 * 86400e3);
  const pad = (n) => String(n).padStart(2, '0');
  await tab.getByLabel('Promised date').fill(`${promised.getFullYear()}-${pad(promised.getMonth() + 1)}-${pad(promised.getDate())}T17:30`);
  await tab.getByLabel('Customer name').fill('Hugo Owner');
  await tab.getByLabel('Customer email').fill('hugo@example.com');
  await shot(tab, o.out, 'repair-4-open-form');
  await tab.getByRole('button', { name: 'Open a repair' }).click();
  await expectText(tab.locator('#rp-state'), 'Received', 'the repair is received');
  await expectText(tab.locator('#rp-promised'), '17:30', 'with its promised time');
  // The link is never shown as text: a button copies it (the tab keeps it for that).
  check(await tab.locator('#rp-copy-status').isVisible(), 'a button copies the customer’s status link');
  check(!/\/repair\/#/.test(await tab.locator('main').textContent()), 'no token URL is shown as text');
  const tabLinks = () => tab.evaluate(() => Object.values(JSON.parse(sessionStorage.getItem('carnet.repair-links') || '{}'))[0] || {});
  const statusLink = (await tabLinks()).status;
  const tabLinkId = () => tab.evaluate(() => Object.keys(JSON.parse(sessionStorage.getItem('carnet.repair-links') || '{}'))[0]);
  check(/\/repair\/#[A-Za-z0-9_-]{32,}$/.test(statusLink), 'a private status link was made for the customer');
  await expectText(tab.locator('#rp-customer'), 'Hugo Owner', 'the ticket shows the customer');
  await expectText(tab.locator('#rp-customer'), 'hugo@example.com', 'and how to reach them');
  check((await tab.locator('#pr-at').inputValue()).endsWith('T17:30'), 'the promise form shows the current promise');
  const number = (await tab.locator('h1').textContent()).trim();
  check(/^R-PARIS-OPERA-\d{5}$/.test(number), `the repair has a number (${number})`);

  await tab.locator('#rp-moves').getByRole('button', { name: 'Diagnosing' }).click();
  await expectText(tab.locator('#rp-state'), 'Diagnosing', 'the repair moves to diagnosing');
  // One line, 124.92 excl. VAT at 20 %: 149.90 (tests/e2e/estimate.mjs covers the editor).
  await tab.getByLabel('What we found').fill('Sticky keys: the keyboard needs replacing.');
  await tab.locator('#es-description-0').fill('Keyboard');
  await tab.locator('#es-unit_price-0').fill('124.92');
  await tab.getByRole('button', { name: 'Remove line 2' }).click();
  await tab.getByRole('button', { name: 'Send to the customer' }).click();
  await expectText(tab.locator('#rp-estimate'), '149.90', 'the estimate is written');
  await expectText(tab.locator('#es-gross'), '149.90', 'the estimate section shows the current total');
  check(await tab.locator('#rp-copy-estimate').isVisible(), 'a button copies the approval link');
  const estimateLink = (await tabLinks()).estimate;
  check(/\/estimate\/#[A-Za-z0-9_-]{32,}$/.test(estimateLink), 'an approval link was made');
  check((await tab.locator('#rp-moves button[data-to="repairing"]').count()) === 0, 'no repairing before the customer approves');
  await tab.locator('#rp-moves').getByRole('button', { name: 'Waiting for approval' }).click();
  await expectText(tab.locator('#rp-state'), 'Waiting for approval', 'the repair waits for approval');
  await shot(tab, o.out, 'repair-5-awaiting-approval');

  // The customer approves on their phone.
  const phone = await newPage(ctx);
  await phone.goto(estimateLink);
  await expectText(phone.locator('#e-gross'), '149.90', 'the customer sees the estimate');
  await shot(phone, o.out, 'repair-6-estimate-phone');
  await phone.locator('#e-approve').click();
  await expectText(phone.locator('#e-decided'), 'Estimate approved', 'the estimate shows as approved');
  check((await phone.locator('#e-approve').count()) === 0, 'the approve buttons are gone');

  // The technician carries on: repairing, testing, ready. The approval reached the tablet live.
  await expectText(tab.locator('#rp-estimate'), 'approved', 'the tablet sees the approval without a reload');
  await tab.locator('#rp-moves button[data-to="repairing"]').waitFor();
  for (const [to, label] of [['repairing', 'Repairing'], ['testing', 'Testing'], ['ready', 'Ready to collect']]) {
    await tab.locator(`#rp-moves button[data-to="${to}"]`).click();
    await expectText(tab.locator('#rp-state'), label, `the repair moves to ${to}`);
  }
  await shot(tab, o.out, 'repair-7-ready');

  // Later, anyone at the store finds it again: in the store's list of open repairs (newest
  // first), or by its number.
  await tab.getByRole('link', { name: 'Repairs' }).click();
  const listed = tab.locator(`#repair-list tr[data-number="${number}"]`);
  await expectText(listed, 'Ready to collect', 'the store’s list of open repairs shows it, ready');
  await expectText(tab.locator('#repair-list tbody tr').first(), number, 'the newest repair comes first');
  await expectText(listed, 'MacBook Pro', 'with its device');
  check((await listed.locator('.at-risk').count()) === 0, 'a ready repair is not flagged at risk');
  await shot(tab, o.out, 'repair-7b-store-list');
  await tab.locator('#rl-state').selectOption('collected');
  await expectText(tab.locator('#repair-list'), 'No repairs.', 'it is not among the collected repairs');
  await tab.locator('#rl-state').selectOption('ready');
  await expectText(listed, number, 'it is among the ready repairs');
  await tab.getByLabel('Serial, IMEI, repair number, email or phone').fill(number);
  await tab.getByRole('button', { name: 'Open record' }).click();
  await expectText(tab.locator('h1'), number, 'the repair is found by its number');
  await expectText(tab.locator('#rp-state'), 'Ready to collect', 'and shows its state');

  // The customer follows it on the status page.
  await phone.goto(statusLink);
  await expectText(phone.locator('#r-state'), 'Ready to collect', 'the status page says ready to collect');
  await expectText(phone.locator('#r-device'), 'MacBook Pro', 'it names the device');
  check((await phone.locator('#r-device').textContent()).includes('MBP1') && !(await phone.locator('#r-device').textContent()).includes(SERIAL),
    'only the end of the serial is shown');
  await expectText(phone.locator('#r-promised'), '17:30', 'the promised time is shown');
  check((await phone.locator('#r-steps li.done').count()) >= 5, 'the progress lists the steps done');
  // The customer writes to the store from the status page; the technician reads it.
  await phone.getByLabel('Write to the store').fill('Can I collect it tomorrow at 9?');
  await phone.getByRole('button', { name: 'Send' }).click();
  await expectText(phone.locator('#r-list li').last(), 'Can I collect it tomorrow at 9?', 'the message shows in the thread');
  await shot(phone, o.out, 'repair-8-status-phone');
  await tab.getByRole('link', { name: 'Messages' }).click();
  await expectText(tab.locator('#threads'), 'Hugo Owner', 'the store’s messages list the customer’s thread');
  await tab.getByRole('link', { name: 'Hugo Owner' }).click();
  await expectText(tab.locator('#thread'), 'Can I collect it tomorrow at 9?', 'the technician reads the message');

  // In French too.
  await phone.getByRole('button', { name: 'Passer en français' }).click();
  await expectText(phone.locator('#r-state'), 'Prêt à récupérer', 'the status page in French');
  await shot(phone, o.out, 'repair-9-status-phone-fr');

  // The customer collects it: the open status page follows without a reload.
  await tab.goto(o.base + '/staff/#repair/' + (await tabLinkId()));
  await tab.locator('#rp-moves button[data-to="collected"]').click();
  await expectText(tab.locator('#rp-state'), /Collected|Récupéré/, 'the tablet moves it to collected');
  await expectText(phone.locator('#r-state'), /Collected|Récupéré/, 'the status page updates live');
  // The ticket on a phone: one column, nothing wider than the screen.
  await tab.setViewportSize(PHONE);
  await shot(tab, o.out, 'repair-10-ticket-phone');
  const wide = await tab.evaluate(() => [...document.querySelectorAll('main *')].filter((x) => x.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map((x) => `${x.tagName}#${x.id}.${x.className}:${Math.round(x.getBoundingClientRect().right)}`));
  check(wide.length === 0, `the ticket fits a phone’s width ${wide.join(' ')}`);
  noErrors(tab);
  noErrors(phone);
});
