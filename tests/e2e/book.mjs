// Journey 1: a customer books on a phone (store -> service -> day and slot -> details ->
// confirmation), then opens the private link, moves the booking, and finds it in French too.
// First, at phone and tablet sizes, the booking page itself (issue #14 point 6): the store's
// address, hours and map link, prices, the month grid and the times grouped by part of the day,
// finished steps collapsed, a notice that never covers "Manage this booking", 48 px targets.
import { run, newPage, shot, check, expectText, noErrors, PHONE, TABLET } from './lib.mjs';

const WIDE_TABLET = { width: 1180, height: 820 };

/** Every visible button, link, choice card, summary and field is at least 48 x 48 px. */
async function targets(page, where) {
  const small = await page.evaluate(() => {
    const out = [];
    for (const e of document.querySelectorAll('button, a[href], label.choice, summary, select, input:not([type=radio]):not([type=checkbox]), textarea')) {
      const r = e.getBoundingClientRect();
      if (!r.width || !r.height || r.bottom + scrollY <= 0) continue; // hidden, or the skip link off screen
      if (r.width < 47.5 || r.height < 47.5) out.push(`${e.tagName.toLowerCase()}#${e.id} "${e.textContent.trim().slice(0, 30)}" ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
    return out;
  });
  check(!small.length, `every target is at least 48 px (${where})${small.length ? ': ' + small.join('; ') : ''}`);
}

/** The k-th free day from the month shown on, turning months as needed (near a month's end). */
async function nthFreeDay(page, k) {
  for (;;) {
    const f = page.locator('#days button[data-date]');
    const c = await f.count();
    if (c > k) return f.nth(k);
    k -= c;
    await page.locator('#month-next').click();
  }
}

/** The notice, when shown, overlaps no visible button or link of the page. */
async function noticeClear(page, where) {
  const hits = await page.evaluate(() => {
    const n = document.getElementById('status').getBoundingClientRect();
    if (!n.height) return ['no notice shown'];
    return [...document.querySelectorAll('button, a[href]')].filter((e) => {
      const r = e.getBoundingClientRect();
      return r.width && r.height && n.left < r.right && r.left < n.right && n.top < r.bottom && r.top < n.bottom;
    }).map((e) => e.id || e.textContent.trim().slice(0, 30));
  });
  check(!hits.length, `the notice covers no button or link (${where})${hits.length ? ': ' + hits.join('; ') : ''}`);
}

async function noSideScroll(page, where) {
  check(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), `no horizontal scroll (${where})`);
}

async function bookingPage(ctx, o, viewport, tag) {
  const page = await newPage(ctx, { viewport, lang: 'en' });
  await page.goto(o.base + '/');
  await page.getByLabel('Carnet Paris Opéra').check();
  // The store: address, the week's hours with today marked, phone and map links.
  await expectText(page.locator('#store-address'), '12 boulevard des Capucines', `the store's address is shown (${tag})`);
  check(await page.locator('#store-hours tr').count() === 7, 'the week\'s opening hours are listed, a row a day');
  check(await page.locator('#store-hours tr.today').count() === 1, 'today is highlighted');
  const map = page.locator('#store-map');
  check(await map.isVisible(), 'a map link is shown');
  check((await map.getAttribute('href')).startsWith('https://www.openstreetmap.org/search?query=12%20boulevard'), 'the map link searches the address');
  check((await page.locator('#store-phone').getAttribute('href')).startsWith('tel:+331'), 'the phone is a tel: link');
  await expectText(page.locator('#store-closures'), 'Inventory', 'closures ahead are listed');
  // Prices in the store's currency: 0 is "Free".
  await expectText(page.locator('label.choice', { hasText: 'iPhone screen' }), '€279.00', 'a service shows its price');
  await expectText(page.locator('label.choice', { hasText: 'Mac diagnostics' }), 'Free', 'a free service says so');
  await expectText(page.locator('label.choice', { hasText: 'iPhone screen' }), 'replaced the same day', 'and its description');
  await shot(page, o.out, `book-0-${tag}-store`);
  await targets(page, `service step, ${tag}`);
  await noSideScroll(page, `service step, ${tag}`);

  await page.getByLabel(/iPhone screen/).check();
  await page.locator('#slots button').first().waitFor();
  // Finished steps collapse to a line with a Change button.
  await expectText(page.locator('#step-store .step-summary'), 'Carnet Paris Opéra', 'the store step is a one-line summary');
  await expectText(page.locator('#step-service .step-summary'), '€279.00', 'the service step too, with the price');
  check(await page.locator('#stores').isHidden(), 'the store list is folded away');
  // The month grid: Monday first, free days enabled, the others disabled.
  check(await page.locator('#days .month .wd').first().textContent() === 'Mon', 'the month starts on Monday');
  const free = page.locator('#days button.day[data-date]');
  check(await free.count() > 0 && await page.locator('#days button.day:disabled').count() > 0, 'free days can be chosen, the others are disabled');
  // A second free day, if this month has one; its times are grouped by part of the day.
  if (await free.count() > 1) await free.nth(1).click();
  const chosen = await page.locator('#days button.day[aria-pressed="true"]').getAttribute('data-date');
  check((await page.locator('#slots .slot-group h4').allTextContents()).every((x) => /Morning|Afternoon|Evening/.test(x)), 'times are grouped by morning, afternoon, evening');
  const n = await page.locator('#slots button').count();
  const height = (await page.locator('#slots').boundingBox()).height;
  const bound = viewport.width < 500 ? 640 : 420;
  check(height < bound, `the ${n} times of ${chosen} take ${Math.round(height)} px (< ${bound})`);
  await targets(page, `time step, ${tag}`);
  await noSideScroll(page, `time step, ${tag}`);
  await shot(page, o.out, `book-0-${tag}-when`);
  // The next month, when the horizon reaches it, and back.
  if (await page.locator('#month-next').isEnabled()) {
    const title = await page.locator('#month-title').textContent();
    await page.locator('#month-next').click();
    check(await page.locator('#month-title').textContent() !== title, 'the next month is shown');
    await page.locator('#month-prev').click();
    await expectText(page.locator('#month-title'), title, 'and back');
  }
  const slot = page.locator('#slots button').last();
  const time = (await slot.textContent()).trim();
  await slot.click();
  await expectText(page.locator('#step-when .step-summary'), time, 'the day-and-time step is a summary too');
  // Change goes back to a collapsed step.
  await page.locator('#step-service .step-summary button').click();
  check(await page.locator('#services').isVisible() && await page.locator('#step-when').isHidden(), 'Change reopens that step');
  await page.locator('label.choice', { hasText: 'iPhone screen' }).click();
  await page.locator('#slots button').first().waitFor();
  while (!(await page.locator(`#days button[data-date="${chosen}"]`).count())) await page.locator('#month-next').click();
  await page.locator(`#days button[data-date="${chosen}"]`).click();
  await page.locator('#slots button').last().click();
  await page.locator('#details').getByLabel('Your name').fill('Noor Notice');
  await page.locator('#details').getByLabel('Email', { exact: true }).fill('noor@example.com');
  await page.getByRole('button', { name: 'Book', exact: true }).click();
  await expectText(page.locator('#h-done'), 'You are booked', `booked (${tag})`);
  // The notice is in the flow: it does not overlap "Manage this booking".
  await expectText(page.locator('#status'), 'You are booked', 'the notice is shown');
  const a = await page.locator('#status').boundingBox();
  const b = await page.locator('#done-manage').boundingBox();
  const overlap = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  check(!overlap, `the notice (y ${Math.round(a.y)}-${Math.round(a.y + a.height)}) does not cover Manage this booking (y ${Math.round(b.y)})`);
  await noticeClear(page, `confirmation, ${tag}`);
  await targets(page, `confirmation, ${tag}`);
  await noSideScroll(page, `confirmation, ${tag}`);
  await shot(page, o.out, `book-0-${tag}-done`);
  noErrors(page);
  await page.close();
}

/** The join form's wait is the wait the line page shows right after joining (one SQL estimate). */
async function walkInEstimate(ctx, o) {
  const stores = await (await fetch(o.base + '/api/stores')).json();
  const paris = stores.find((s) => s.code === 'paris-opera');
  const tokens = [];
  for (const name of ['Ahead One', 'Ahead Two']) {
    const r = await fetch(`${o.base}/api/stores/${paris.id}/line`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }),
    });
    check(r.status === 201, `${name} joins the line`);
    tokens.push((await r.json()).token);
  }
  const page = await newPage(ctx, { lang: 'en' });
  await page.goto(o.base + '/line/?store=paris-opera');
  const before = await expectText(page.locator('#j-now'), /waiting now, about \d+ min/, 'the join form says how long the wait would be');
  const minutes = before.match(/about (\d+) min/)[1];
  check(Number(minutes) > 1, `with people ahead it is not "1 min" (${minutes} min)`);
  await page.getByLabel('Your name').fill('Wendy Walkin');
  await page.getByRole('button', { name: 'Join the line' }).click();
  await expectText(page.locator('#p-wait'), `about ${minutes} min`, 'the line page then says the same wait');
  await targets(page, 'line page');
  await noSideScroll(page, 'line page');
  await shot(page, o.out, 'book-0-line');
  page.on('dialog', (d) => d.accept());
  await page.locator('#p-leave').click();
  await expectText(page.locator('#status'), 'left', 'leaving is confirmed in the page');
  await noticeClear(page, 'line page');
  for (const tk of tokens) await fetch(`${o.base}/api/line/${tk}/leave`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  noErrors(page);
  await page.close();
}

run('book', async (ctx, o) => {
  await bookingPage(ctx, o, PHONE, 'phone');
  await bookingPage(ctx, o, WIDE_TABLET, 'tablet');
  await walkInEstimate(ctx, o);
  const page = await newPage(ctx);
  await page.goto(o.base + '/');
  await expectText(page.locator('#stores'), 'Carnet Paris Opéra', 'the store list shows the demo stores');
  await shot(page, o.out, 'book-1-store');

  await page.getByLabel('Carnet Paris Opéra').check();
  await expectText(page.locator('#services'), 'iPhone screen', 'the services of Paris Opéra are listed');
  await page.getByLabel(/Mac diagnostics/).check();
  await page.locator('#slots button').first().waitFor();
  const firstDay = await page.locator('#days button[data-date]').first().getAttribute('data-date');
  check((await page.locator('#slots button').count()) > 0, `free slots are offered (first day ${firstDay.trim()})`);
  await shot(page, o.out, 'book-2-slot');

  // Second day, second slot: not simply the first thing on screen.
  await (await nthFreeDay(page, 1)).click();
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
  await (await nthFreeDay(page, 2)).click();
  const newSlot = page.locator('#slots button').nth(3);
  const newText = (await newSlot.textContent()).trim();
  await newSlot.click();
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expectText(page.locator('#status'), 'moved', 'the move is confirmed');
  await noticeClear(page, 'manage page');
  await targets(page, 'manage page');
  await noSideScroll(page, 'manage page');
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
  const freeDay = await sb.locator('#days button[data-date]').first().getAttribute('data-date');
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
