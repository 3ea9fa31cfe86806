// Journey 1: a customer books on a phone (store -> service -> day and slot -> details ->
// confirmation), then opens the private link, moves the booking, and finds it in French too.
import { run, newPage, shot, check, expectText, noErrors, TABLET } from './lib.mjs';

run('book', async (ctx, o) => {
  const page = await newPage(ctx);
  await page.goto(o.base + '/');
  await expectText(page.locator('#stores'), 'Carnet Paris Opéra', 'the store list shows the demo stores');
  await shot(page, o.out, 'book-1-store');

  await page.getByLabel('Carnet Paris Opéra').check();
  await expectText(page.locator('#services'), 'iPhone screen', 'the services of Paris Opéra are listed');
  await page.getByLabel(/Mac diagnostics/).check();
  await page.locator('#slots button').first().waitFor();
  const firstDay = await page.locator('#days button').first().textContent();
  check((await page.locator('#slots button').count()) > 0, `free slots are offered (first day ${firstDay.trim()})`);
  await shot(page, o.out, 'book-2-slot');

  // Second day, second slot: not simply the first thing on screen.
  await page.locator('#days button').nth(1).click();
  const slot = page.locator('#slots button').nth(1);
  let slotText = (await slot.textContent()).trim();
  await slot.click();
  await expectText(page.locator('#summary'), slotText, 'the summary repeats the chosen time');

  // A bad phone number is refused with the field named and focused.
  await page.locator('#details').getByLabel('Your name').fill('Camille Client');
  await page.locator('#details').getByLabel('Phone', { exact: true }).fill('06 12');
  await page.getByRole('button', { name: 'Book', exact: true }).click();
  await expectText(page.locator('.field-error'), 'phone', 'the phone error is shown under the phone field');
  check(await page.locator('#f-phone').evaluate((e) => e === document.activeElement && e.getAttribute('aria-invalid') === 'true'),
    'the phone field is focused and marked invalid');
  await shot(page, o.out, 'book-3-error');

  // Meanwhile two other customers take that very slot (both technicians): the page must say so
  // and offer the nearest free times instead.
  const start = await page.locator('#slots button[aria-pressed="true"]').getAttribute('data-start');
  const services = await (await fetch(o.base + '/api/stores/1/services')).json();
  const mac = services.find((x) => x.name === 'Mac diagnostics');
  for (const who of ['Other One', 'Other Two']) {
    const r = await fetch(o.base + '/api/stores/1/appointments', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ service_id: mac.id, starts_at: start, name: who, email: 'other@example.com' }),
    });
    check(r.status === 201, `${who} takes the slot first`);
  }
  await page.locator('#details').getByLabel('Phone', { exact: true }).fill('');
  await page.locator('#details').getByLabel('Email', { exact: true }).fill('camille@example.com');
  await page.getByRole('button', { name: 'Book', exact: true }).click();
  await expectText(page.locator('#status'), 'just taken', 'the page says the slot was just taken');
  check(!(await page.locator(`#slots button[data-start="${start}"]`).count()), 'the taken time is not offered again');
  check((await page.locator('#slots button').count()) > 0, 'the nearest free times are offered');
  await shot(page, o.out, 'book-3b-slot-taken');
  const other = page.locator('#slots button').first();
  slotText = (await other.textContent()).trim();
  await other.click();
  await expectText(page.locator('#summary'), slotText, 'the new time is in the summary');
  await page.getByLabel(/serial/i).fill('c02xl0gsjgh5');
  await page.getByLabel(/What is wrong/).fill('Runs hot and the fan is loud.');
  await shot(page, o.out, 'book-4-details');
  await page.getByRole('button', { name: 'Book', exact: true }).click();

  await expectText(page.locator('#h-done'), 'You are booked', 'the confirmation is shown');
  const code = (await page.locator('#done-code').textContent()).trim();
  check(/^[2-9A-HJKMNP-Z]{6}$/.test(code), `a 6-character confirmation code is shown (${code})`);
  await expectText(page.locator('#done-summary'), slotText, 'the confirmation repeats the time');
  const ics = await page.locator('#done-ics').getAttribute('href');
  check(ics && ics.startsWith('blob:'), 'an .ics calendar file is offered');
  const href = await page.locator('#done-manage').getAttribute('href');
  check(/^\/manage\/#[A-Za-z0-9_-]{32,}$/.test(href), 'the manage link carries its token in the fragment');
  await page.locator('#done-qr svg.qr').waitFor();
  check(Number(await page.locator('#done-qr svg.qr').getAttribute('data-modules')) >= 21, 'a QR code of the link is drawn for the door');
  await shot(page, o.out, 'book-5-done');
  noErrors(page);

  // The calendar file holds the booking.
  const icsText = await page.evaluate(async (u) => (await fetch(u)).text(), ics);
  check(icsText.includes('BEGIN:VEVENT') && icsText.includes(code), 'the .ics has the event and the code');

  // The private link: the booking, then a move to another time.
  await page.locator('#done-manage').click();
  await expectText(page.locator('#m-code'), code, 'the manage page shows the same code');
  await expectText(page.locator('#m-status'), 'Booked', 'the booking is booked');
  await expectText(page.locator('#m-what'), 'Mac diagnostics', 'and is for Mac diagnostics');
  await page.getByLabel('Write to the store').fill('I will bring the charger too.');
  await page.getByRole('button', { name: 'Send' }).click();
  await expectText(page.locator('#m-list li').last(), 'I will bring the charger too.', 'the customer writes to the store from the booking link');
  await shot(page, o.out, 'book-6-manage');
  await page.getByRole('button', { name: 'Change the time' }).click();
  await page.locator('#slots button').first().waitFor();
  await page.locator('#days button').nth(2).click();
  const newSlot = page.locator('#slots button').nth(3);
  const newText = (await newSlot.textContent()).trim();
  await newSlot.click();
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expectText(page.locator('#status'), 'moved', 'the move is confirmed');
  await expectText(page.locator('#m-when'), newText, 'the page shows the new time');
  await shot(page, o.out, 'book-7-moved');

  // A reload still shows the booking at its new time (it was saved, not just drawn).
  await page.reload();
  await expectText(page.locator('#m-when'), newText, 'after a reload the new time stays');

  // French, by the switch, on a tablet.
  const fr = await newPage(ctx, { viewport: TABLET });
  await fr.goto(page.url());
  await fr.getByRole('button', { name: 'Passer en français' }).click();
  await expectText(fr.locator('h1'), 'Votre rendez-vous', 'the switch turns the page French');
  await expectText(fr.locator('#m-status'), 'Réservé', 'the status is translated');
  check(await fr.evaluate(() => document.documentElement.lang === 'fr'), 'the document language is fr');
  await shot(fr, o.out, 'book-8-manage-fr-tablet');

  // Cancel.
  fr.on('dialog', (d) => d.accept());
  await fr.getByRole('button', { name: 'Annuler le rendez-vous' }).click();
  await expectText(fr.locator('#m-status'), 'Annulé', 'the booking is cancelled');
  check(await fr.getByRole('button', { name: 'Changer l’horaire' }).isHidden(), 'a cancelled booking cannot be moved');
  await shot(fr, o.out, 'book-9-cancelled-fr');

  // A full day: the standby list. A day with free times is refused (book one instead); a day
  // without any (the store is closed on Sundays) takes the customer onto its list.
  const sb = await newPage(ctx, { lang: 'en' }); // the French switch above is remembered
  await sb.goto(o.base + '/?store=paris-opera');
  await sb.getByLabel(/Battery/).check();
  await sb.locator('#slots button').first().waitFor();
  const freeDay = await sb.locator('#days button').first().getAttribute('data-date');
  await sb.getByText('The day you want is full? Join its standby list').click();
  await sb.getByLabel('Day', { exact: true }).fill(freeDay);
  await sb.locator('#standby-form').getByLabel('Your name').fill('Gabi Standby');
  await sb.locator('#standby-form').getByLabel('Email').fill('gabi@example.com');
  await sb.getByRole('button', { name: 'Join the standby list' }).click();
  await expectText(sb.locator('#standby-form .field-error'), 'free times that day', 'a day with free times is refused');
  const sunday = new Date();
  do sunday.setDate(sunday.getDate() + 1); while (sunday.getDay() !== 0);
  const ymd = `${sunday.getFullYear()}-${String(sunday.getMonth() + 1).padStart(2, '0')}-${String(sunday.getDate()).padStart(2, '0')}`;
  await sb.getByLabel('Day', { exact: true }).fill(ymd);
  await sb.getByRole('button', { name: 'Join the standby list' }).click();
  await sb.waitForURL(/\/standby\/#/);
  await expectText(sb.locator('#sb-status'), 'On the list', 'the customer is on the standby list');
  await expectText(sb.locator('#sb-position'), 'number 1', 'first on it');
  await expectText(sb.locator('#sb-service'), 'Battery', 'for the battery service');
  await shot(sb, o.out, 'book-10-standby');
  await sb.getByRole('button', { name: 'Leave the standby list' }).click();
  await expectText(sb.locator('#sb-status'), 'Left the list', 'and can leave it');
  noErrors(sb);
  noErrors(page);
  noErrors(fr);
});
