// The wall board (issue #14 point 5), on a 1920x1080 screen and on a 1280x720 one: the store's
// clock, a QR code to the line page, the "Tap to enable sound" prompt once; then a specialist
// names their desk in the staff app's queue and calls next, and the board shows the ticket with
// that desk and plays its chime (counted by the window.carnetBoard hook), and again when they
// call the same person again. Nothing scrolls or
// overflows. With the sound turned off (remembered), a call plays nothing and nothing asks for a tap.
import { run, newPage, shot, check, expectText, noErrors, WALL } from './lib.mjs';

const TABLET = { width: 1180, height: 820 };
const SMALL_WALL = { width: 1280, height: 720 };

async function fits(page, what) {
  const m = await page.evaluate(() => ({
    sw: document.documentElement.scrollWidth, sh: document.documentElement.scrollHeight,
    w: innerWidth, h: innerHeight,
    // anything drawn past the viewport's edges, or cut off inside a called card
    out: [...document.querySelectorAll('main *')].filter((e) => {
      const r = e.getBoundingClientRect();
      return r.width && (r.right > innerWidth + 1 || r.bottom > innerHeight + 1);
    }).map((e) => e.tagName + (e.id ? '#' + e.id : '')).slice(0, 5),
  }));
  check(m.sw <= m.w && m.sh <= m.h && m.out.length === 0,
    `${what}: no scroll, nothing past the screen (${m.sw}x${m.sh} in ${m.w}x${m.h}${m.out.length ? '; ' + m.out.join(', ') : ''})`);
}

async function join(base, name) {
  const r = await fetch(base + '/api/stores/1/line', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }),
  });
  if (r.status !== 201) throw new Error('join: ' + r.status + ' ' + await r.text());
  return r.json();
}

run('board', async (ctx, o) => {
  const board = await newPage(ctx, { viewport: WALL });
  await board.goto(o.base + '/board/?store=paris-opera');
  await expectText(board.locator('#b-store'), 'Carnet Paris Opéra', 'the board names the store');
  await expectText(board.locator('#live'), 'Live', 'the board is connected live');
  // The clock shows the store's time (Paris), whatever the screen's own time zone.
  const paris = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: 'Europe/Paris' });
  const clock = await expectText(board.locator('#b-clock'), /^\d{2}:\d{2}$/, 'a clock is shown');
  const near = [-60000, 0, 60000].map((d) => paris.format(new Date(Date.now() + d)));
  check(near.includes(clock), `the clock is in the store's time zone (${clock})`);
  const qr = board.locator('#b-qr svg.qr');
  await qr.waitFor();
  const box = await qr.boundingBox();
  check(box && box.width >= 200 && box.y + box.height <= 1080, `the QR code is large and on screen (${box && Math.round(box.width)} px)`);
  check((await qr.getAttribute('aria-label')).includes('Join the line'), 'the QR code says what it is for');
  await expectText(board.locator('#b-unmute'), 'Tap to enable sound', 'the board asks once for the tap sound needs');
  await shot(board, o.out, 'board-1-tap-for-sound');
  await board.locator('#b-unmute').click();
  await board.waitForFunction(() => window.carnetBoard.audio === 'running', null, { timeout: 5000 });
  check(await board.locator('#b-unmute').isHidden(), 'the prompt goes once sound is allowed');
  check(await board.evaluate(() => window.carnetBoard.chimes) === 0, 'no chime before a call');
  await fits(board, '1920x1080 before a call');

  // Someone waits; a specialist names the desk in the staff app and calls next.
  const waiting = await join(o.base, 'Zoé Board');
  await expectText(board.locator('#b-waiting'), `#${waiting.ticket} Z.`, 'the board shows the walk-in waiting, live');
  const tab = await newPage(ctx, { viewport: TABLET });
  await tab.goto(o.base + '/staff/#queue');
  await tab.getByLabel('Email').fill('specialist@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await expectText(tab.locator('h1'), 'Waiting now', 'the specialist is on the queue');
  await tab.getByLabel(/My desk today/).fill('Desk 3');
  await tab.getByRole('button', { name: 'Save desk' }).click();
  await expectText(tab.locator('#status'), 'Desk 3', 'the desk is saved for this session');
  await shot(tab, o.out, 'board-2-queue-desk');
  const before = await board.evaluate(() => window.carnetBoard.chimes);
  await tab.locator('#call-next').click();
  const called = board.locator('#b-serving .called').first();
  await expectText(called.locator('.desk'), 'Desk 3', 'the board shows the desk the ticket is called to');
  const ticket = Number(await called.getAttribute('data-ticket'));
  check(ticket > 0, `ticket #${ticket} is called`);
  await board.waitForFunction((n) => window.carnetBoard.chimes === n + 1, before, { timeout: 5000 });
  const last = await board.evaluate(() => window.carnetBoard.lastCall);
  check(last.ticket === ticket && last.desk === 'Desk 3', 'the chime played once, for that call');
  await fits(board, '1920x1080 with a call');
  await shot(board, o.out, 'board-3-called-1920');

  // Not here yet: the specialist calls again; the board chimes again for the same ticket.
  await tab.locator('#recall').click();
  await board.waitForFunction((n) => window.carnetBoard.chimes === n + 2, before, { timeout: 5000 });
  check((await board.evaluate(() => window.carnetBoard.lastCall)).ticket === ticket, 'calling again chimes again for that ticket');

  // The same board on a smaller screen: still one screen, nothing cut.
  await board.setViewportSize(SMALL_WALL);
  await fits(board, '1280x720 with a call');
  check(await called.locator('.desk').isVisible(), 'the desk shows at 1280x720');
  await shot(board, o.out, 'board-4-called-1280');

  // Sound off, remembered: a new load asks for no tap, and a call plays nothing.
  await board.locator('#b-sound').click();
  await expectText(board.locator('#b-sound'), 'Sound off', 'the sound toggle says it is off');
  await board.reload();
  await expectText(board.locator('#b-sound'), 'Sound off', 'sound off is remembered');
  check(await board.locator('#b-unmute').isHidden(), 'with sound off, no tap is asked for');
  await join(o.base, 'Yann Board');
  await expectText(tab.locator('#waiting'), 'Yann', 'the queue shows the second walk-in');
  // the specialist calls again (from the API the page itself uses)
  const quiet = board.locator('#b-serving .called .desk');
  await tab.evaluate(async () => {
    const { post } = await import('/js/api.js');
    await post('/api/stores/1/queue/next', {});
  });
  await board.waitForFunction(() => window.carnetBoard.lastCall && window.carnetBoard.lastCall.desk === 'Desk 3'
    && document.querySelectorAll('#b-serving .called').length >= 2, null, { timeout: 5000 });
  check(await board.evaluate(() => window.carnetBoard.chimes) === 0, 'no chime with sound off');
  check(await quiet.count() >= 2, 'both calls are on the board');
  await fits(board, '1280x720 with two calls');
  noErrors(board);
  noErrors(tab);
});
