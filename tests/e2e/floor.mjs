// Journey 2: the store floor. A booked customer (CARNET_E2E_CODE, due in a few minutes) arrives;
// two walk-ins join the line, one of them from their phone. A specialist signs in on the tablet,
// checks the booked customer in by code, and calls the line. The walk-in's phone and the wall
// board follow every move live, without a reload.
import { run, newPage, shot, check, expectText, noErrors, TABLET, WALL } from './lib.mjs';

const CODE = process.env.CARNET_E2E_CODE;
const MANAGE_TOKEN = process.env.CARNET_E2E_MANAGE_TOKEN;
const SCAN_TOKEN = process.env.CARNET_E2E_SCAN_TOKEN;

run('floor', async (ctx, o) => {
  check(/^[2-9A-HJKMNP-Z]{6}$/.test(CODE || ''), 'a booked code is given for today');

  // The wall board, before anyone arrives.
  const board = await newPage(ctx, { viewport: WALL });
  await board.goto(o.base + '/board/?store=paris-opera');
  await expectText(board.locator('#b-store'), 'Carnet Paris Opéra', 'the board names the store');
  await expectText(board.locator('#live'), 'Live', 'the board is connected live');
  await expectText(board.locator('#b-wait'), 'walk right in', 'the board says nobody waits');
  await shot(board, o.out, 'floor-1-board-empty');

  // A first walk-in joins from the store's kiosk (through the API), a second from their phone.
  const r = await fetch(o.base + '/api/stores/1/line', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Alex Early' }),
  });
  check(r.status === 201, 'the first walk-in joins the line');
  const phone = await newPage(ctx);
  await phone.goto(o.base + '/line/?store=paris-opera');
  await phone.getByLabel('Your name').fill('Bea Walkin');
  await phone.getByLabel(/Phone/).fill('+33 6 11 22 33 44');
  await shot(phone, o.out, 'floor-2-line-join');
  await phone.getByRole('button', { name: 'Join the line' }).click();
  await expectText(phone.locator('#p-position'), '2', 'the phone shows place 2');
  await expectText(phone.locator('#p-ahead'), '1 person ahead of you', 'and one person ahead');
  await expectText(phone.locator('#live'), 'Live', 'the line page is connected live');
  check(/\/line\/#[A-Za-z0-9_-]{32,}$/.test(phone.url()), 'the private line link is in the fragment');
  await shot(phone, o.out, 'floor-3-line-place');
  await expectText(board.locator('#b-waiting'), 'B.', 'the board shows the new walk-in by initial, live');
  check(!(await board.locator('#b-waiting').textContent()).includes('Bea'), 'the board never shows a full name');

  // The specialist signs in on the tablet; a wrong password is refused first.
  const tab = await newPage(ctx, { viewport: TABLET });
  // Chromium on Linux has no BarcodeDetector: stand one in that "sees" whatever the test holds up
  // (window.__qr), so the page's scanning path (camera, detect loop, check-in) runs for real.
  await tab.addInitScript(() => {
    window.BarcodeDetector = class {
      constructor(o) { this.formats = o && o.formats; }
      async detect() { return window.__qr ? [{ rawValue: window.__qr, format: 'qr_code' }] : []; }
    };
  });
  await tab.goto(o.base + '/staff/');
  await tab.getByLabel('Email').fill('specialist@carnet.test');
  await tab.getByLabel('Password').fill('wrong-password');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await expectText(tab.locator('.field-error'), 'do not match', 'a wrong password is refused');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await expectText(tab.locator('h1'), 'Today', 'the specialist lands on today’s schedule');
  await expectText(tab.locator('#view'), CODE, 'today’s schedule lists the booking');
  await expectText(tab.locator(`.appt[data-code="${CODE}"] .staff`), 'With Sam Specialist', 'it says who serves the customer');
  await expectText(tab.locator(`.appt:has-text("Fay Scan") .staff`), 'With Théo Technicien', 'and who serves the next one');
  await shot(tab, o.out, 'floor-4-today');

  // Check-in by code.
  await tab.getByRole('link', { name: 'Check-in' }).click();
  // By name first: today's bookings matching it, each with its own check-in button.
  await tab.getByLabel('Confirmation code or name').fill('dana');
  await tab.getByRole('button', { name: 'Find' }).click();
  await expectText(tab.locator('#checkin-result'), 'Dana Booked', 'a name search finds today’s booking');
  check(await tab.locator('#checkin-result').getByRole('button', { name: 'Check in' }).isVisible(), 'with a check-in button');
  await tab.getByLabel('Confirmation code or name').fill(CODE.toLowerCase());
  await shot(tab, o.out, 'floor-5-checkin');
  await tab.getByRole('button', { name: 'Find' }).click();
  await expectText(tab.locator('#checkin-result'), 'Dana Booked is checked in', 'the booked customer is checked in');
  await tab.getByLabel('Confirmation code or name').fill(CODE);
  await tab.getByRole('button', { name: 'Find' }).click();
  await expectText(tab.locator('.field-error, #status'), 'already checked in', 'checking in twice is refused');

  // A third customer shows the QR code of their booking link; the tablet's camera reads it.
  await tab.getByRole('button', { name: 'Scan QR code' }).click();
  await tab.locator('#ci-video').waitFor();
  await expectText(tab.getByRole('button', { name: 'Stop scanning' }), 'Stop scanning', 'the camera is on');
  await tab.evaluate((u) => { window.__qr = u; }, `${o.base}/manage/#${SCAN_TOKEN}`);
  await expectText(tab.locator('#checkin-result'), 'Fay Scan is checked in', 'the scanned booking is checked in');
  check(await tab.locator('#ci-video').isHidden(), 'the camera is off again');
  await tab.evaluate(() => { window.__qr = null; });

  // The queue: two walk-ins, then the booked customer (due later).
  await tab.getByRole('link', { name: 'Queue' }).click();
  await expectText(tab.locator('#waiting'), 'Dana Booked', 'the queue lists the checked-in customer');
  await expectText(tab.locator('#waiting li').first(), 'Alex Early', 'the first walk-in is first in line');
  await expectText(tab.locator('h1 + .live-dot, .live-dot'), 'Live', 'the queue is live');
  await shot(tab, o.out, 'floor-6-queue');

  await expectText(phone.locator('#p-position'), '2', 'before the first call the phone still shows place 2');
  await tab.getByRole('button', { name: 'Call next' }).click();
  await expectText(tab.locator('#serving'), 'Alex Early', 'call next hands over Alex');
  // Live, no reload: the phone moves up, the board calls Alex.
  await expectText(phone.locator('#p-ahead'), 'You are next', 'the phone updates live to "you are next"');
  await expectText(phone.locator('#p-position'), '1', 'place 1');
  await expectText(board.locator('#b-serving'), 'A.', 'the board calls A. live');
  await shot(phone, o.out, 'floor-7-line-next');
  await tab.getByRole('button', { name: 'Start' }).click();
  await tab.getByRole('button', { name: 'Done' }).click();
  await tab.locator('#serving .card').filter({ hasText: 'Alex' }).waitFor({ state: 'detached', timeout: 10000 });
  check(true, 'Alex is done and leaves the serving list');

  await tab.getByRole('button', { name: 'Call next' }).click();
  await expectText(tab.locator('#serving'), 'Bea Walkin', 'the next call is Bea');
  await expectText(phone.locator('#p-called'), 'It is your turn', 'Bea’s phone says it is her turn, live');
  await expectText(board.locator('#b-serving'), 'B.', 'the board calls B.');
  await shot(phone, o.out, 'floor-8-line-called');
  await shot(board, o.out, 'floor-9-board-called');
  await shot(tab, o.out, 'floor-10-queue-serving');

  await tab.getByRole('button', { name: 'Start' }).click();
  await tab.getByRole('button', { name: 'Done' }).click();
  await tab.getByRole('button', { name: 'Call next' }).click();
  await expectText(tab.locator('#serving'), 'Dana Booked', 'the booked customer is called after the walk-ins');
  check(await tab.getByRole('button', { name: 'Call next' }).isDisabled(), 'call next is off while serving');
  await tab.getByRole('button', { name: 'Start' }).click();
  await tab.getByRole('button', { name: 'Done' }).click();
  await tab.locator('#serving .card').filter({ hasText: 'Dana' }).waitFor({ state: 'detached', timeout: 10000 });
  await tab.getByRole('button', { name: 'Call next' }).click();
  await expectText(tab.locator('#serving'), 'Fay Scan', 'then the one checked in by QR code');
  await tab.getByRole('button', { name: 'Start' }).click();
  await tab.getByRole('button', { name: 'Done' }).click();
  await tab.locator('#serving .card').filter({ hasText: 'Fay' }).waitFor({ state: 'detached', timeout: 10000 });

  // Another booked customer checks in by themselves from their booking link.
  const self = await newPage(ctx);
  await self.goto(o.base + '/manage/#' + MANAGE_TOKEN);
  await expectText(self.locator('#m-status'), 'Booked', 'the second customer opens their booking');
  await self.getByRole('button', { name: 'I’m here: check in' }).click();
  await self.waitForURL(/\/line\/#/);
  await expectText(self.locator('#p-ahead'), 'You are next', 'after self check-in their phone shows they are next');
  await expectText(tab.locator('#waiting'), 'Eli Self', 'the tablet queue shows the self check-in live');
  await shot(self, o.out, 'floor-11-self-checkin');
  await tab.getByRole('button', { name: 'Call next' }).click();
  await expectText(self.locator('#p-called'), 'It is your turn', 'and is called, live');
  await expectText(tab.locator('#waiting'), 'Nobody is waiting', 'nobody waits any more');
  check(await tab.getByRole('button', { name: 'Call next' }).isDisabled(), 'call next is off with an empty line');
  await shot(tab, o.out, 'floor-12-queue-empty');
  for (const p of [board, phone, tab, self]) noErrors(p);
});
