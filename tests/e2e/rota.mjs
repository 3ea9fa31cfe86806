// The rota (issue #14 point 3), on a 1180x820 tablet then a phone: a manager adds a weekly
// shift in the grid and finds it the next week, adds a one-off and copies last week onto the
// next, changes the weekly shift from a week on, tries to delete a shift a booking relies on
// and reads the refusal in the page, then edits and deletes a closure.
// CARNET_E2E_ROTA_WEEK: a Monday ahead whose Monday has a booking of Théo at 11:00
// (test_e2e.py puts it there).
import { run, newPage, shot, check, expectText, noErrors, PHONE } from './lib.mjs';

const TABLET_L = { width: 1180, height: 820 };

const addDays = (ymd, n) => {
  const d = new Date(ymd + 'T12:00:00Z');
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
};

run('rota', async (ctx, o) => {
  const week = process.env.CARNET_E2E_ROTA_WEEK;
  check(/^\d{4}-\d{2}-\d{2}$/.test(week || ''), `the test gives a week (${week})`);
  const next = addDays(week, 7);
  const sunday = addDays(week, 6);
  const tab = await newPage(ctx, { viewport: TABLET_L });
  await tab.goto(o.base + '/staff/#setup/rota/' + week);
  await tab.getByLabel('Email').fill('manager@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await tab.locator('#rota-grid').waitFor();
  check((await tab.locator('nav.tabs a[aria-current="page"]').textContent()) === 'Rota', 'the Rota tab is open');
  const api = (path) => tab.evaluate(async (p) => (await fetch(p)).json(), path);
  const paris = (await api('/api/stores')).find((x) => x.code === 'paris-opera');
  const staff = (await api(`/api/stores/${paris.id}/staff`)).staff;
  const theo = staff.find((x) => x.email === 'tech@carnet.test');
  const tess = staff.find((x) => x.email === 'tech2@carnet.test');
  const cell = (who, day) => tab.locator(`#rota-grid tr[data-staff="${who.id}"] td[data-day="${day}"]`);
  const editor = tab.locator('#shift-editor');

  // A weekly shift for Théo on Sundays, from this week's Sunday.
  await cell(theo, sunday).locator('button.add-shift').click();
  await tab.getByLabel('Starts').fill('12:00');
  await tab.getByLabel('Ends').fill('16:00');
  await tab.getByLabel('Repeat every week').check();
  await editor.getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#status'), /shift\(s\) planned/, 'the weekly shift is saved');
  await expectText(cell(theo, sunday).locator('button.shift'), '12:00–16:00', 'it shows on this Sunday');
  // And a one-off for Tess, this Sunday only.
  await cell(tess, sunday).locator('button.add-shift').click();
  await tab.getByLabel('Starts').fill('10:00');
  await tab.getByLabel('Ends').fill('11:00');
  await editor.getByRole('button', { name: 'Save' }).click();
  await expectText(cell(tess, sunday).locator('button.shift'), '10:00–11:00', 'the one-off shows');
  await shot(tab, o.out, 'rota-1-week');

  await tab.locator('#rota-next').click();
  await expectText(tab.locator('#rota-week'), /Week of/, 'the next week opens');
  await tab.locator(`#rota-grid td[data-day="${addDays(next, 6)}"]`).first().waitFor();
  await expectText(cell(theo, addDays(next, 6)).locator('button.shift'), '12:00–16:00', 'the weekly shift shows the next week');
  check((await cell(tess, addDays(next, 6)).locator('button.shift').count()) === 0, 'the one-off does not repeat');
  await tab.locator('#rota-copy').click();
  await expectText(tab.locator('#status'), /copied from last week/, 'last week is copied');
  await expectText(cell(tess, addDays(next, 6)).locator('button.shift'), '10:00–11:00', 'the one-off is copied to this week');
  const copied = (await api(`/api/stores/${paris.id}/rota?week=${next}`)).staff.find((x) => x.id === tess.id).shifts;
  check(copied.some((x) => x.date === addDays(next, 6) && x.start === '10:00' && x.end === '11:00' && !x.pattern_id),
    'the API has the copy as a one-off shift');

  // Théo's Sundays from this week on end at 17:00; last week's stays as it was.
  await cell(theo, addDays(next, 6)).locator('button.shift').click();
  await tab.getByLabel('Every week from here').check();
  await tab.getByLabel('Ends').fill('17:00');
  await editor.getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#status'), /shift\(s\) planned/, 'the weekly shift changes from this week on');
  await expectText(cell(theo, addDays(next, 6)).locator('button.shift'), '12:00–17:00', 'this Sunday ends at 17:00');
  const sundays = async (w) => (await api(`/api/stores/${paris.id}/rota?week=${w}`)).staff.find((x) => x.id === theo.id).shifts.filter((x) => x.date === addDays(w, 6));
  check((await sundays(addDays(next, 7))).some((x) => x.end === '17:00' && x.pattern_id), 'and so does the one after');
  check((await sundays(week)).some((x) => x.end === '16:00'), 'last week\'s Sunday still ends at 16:00');

  // Théo's Monday shift of the first week holds a booking: deleting it is refused, in the page.
  await tab.locator('#rota-prev').click();
  await tab.locator(`#rota-grid td[data-day="${week}"]`).first().waitFor();
  await cell(theo, week).locator('button.shift').first().click();
  await editor.getByRole('button', { name: 'Delete' }).click();
  await expectText(tab.locator('#shift-editor .field-error'), 'There are still active appointments', 'the refusal is shown in the page');
  check((await api(`/api/stores/${paris.id}/rota?week=${week}`)).staff.find((x) => x.id === theo.id).shifts.some((x) => x.date === week),
    'the shift is still there');
  await shot(tab, o.out, 'rota-2-refused');
  await editor.getByRole('button', { name: 'Cancel' }).click();

  // A closure on Wednesday: added, shown in the grid, edited, then deleted.
  const wed = addDays(week, 2);
  const closures = tab.locator('#closures');
  await closures.locator('#cl-date').fill(wed);
  await closures.locator('#cl-reason').fill('Stock');
  await closures.getByRole('button', { name: 'Close that day' }).click();
  await expectText(tab.locator('#closure-list'), 'Stock', 'the closure is listed');
  await expectText(tab.locator(`#rota-grid th[data-day="${wed}"]`), 'store closed', 'the grid marks the day closed');
  await tab.locator('#closure-list li', { hasText: 'Stock' }).getByRole('button', { name: /^Edit/ }).click();
  await tab.locator('#closure-list input[name="reason"]').fill('Réunion d’équipe');
  await tab.locator('#closure-list').getByRole('button', { name: 'Save' }).click();
  await expectText(tab.locator('#closure-list'), 'Réunion d’équipe', 'the closure is edited');
  const detail = async () => (await api(`/api/stores/${paris.id}`)).closures.filter((c) => c.date === wed);
  check((await detail()).length === 1 && (await detail())[0].reason === 'Réunion d’équipe', 'the API has the new reason');
  await tab.locator('#closure-list li', { hasText: 'Réunion d’équipe' }).getByRole('button', { name: /^Delete/ }).click();
  await expectText(tab.locator('#status'), 'Closure removed', 'the closure is deleted');
  check((await detail()).length === 0, 'the API no longer has it');
  await tab.locator(`#rota-grid th[data-day="${wed}"] .badge`).waitFor({ state: 'detached' });
  noErrors(tab);

  // On a phone: the grid scrolls inside its box, the page does not.
  const phone = await newPage(ctx, { viewport: PHONE });
  await phone.goto(o.base + '/staff/#setup/rota/' + week);
  await phone.locator('#rota-grid').waitFor();
  const sizes = await phone.evaluate(() => {
    const box = document.getElementById('rota-box');
    return { page: document.documentElement.scrollWidth, view: window.innerWidth, box: box.scrollWidth, boxView: box.clientWidth };
  });
  check(sizes.page <= sizes.view, `no sideways scroll of the page at 390 px (${JSON.stringify(sizes)})`);
  check(sizes.box > sizes.boxView, 'the grid scrolls inside its own box');
  await phone.locator(`#rota-grid tr[data-staff="${theo.id}"] td[data-day="${week}"] button.shift`).first().click();
  const target = await phone.locator('#shift-editor button[type="submit"]').boundingBox();
  check(target && target.height >= 48, `the editor's buttons are 48 px targets (${target && target.height})`);
  await shot(phone, o.out, 'rota-3-phone');
  noErrors(phone);
});
