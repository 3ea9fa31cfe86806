// The kiosk at the door, on a tablet in landscape (1180x820), no staff session: a wrong code
// gets the neutral answer; the booking's code (typed in small letters) checks the customer in
// and shows the ticket; the screen starts over by itself (?reset=5 instead of 30 s); a walk-in
// joins the line saying what it is about; the specialist's queue shows both. Then the same
// screen in French, slowed down after too many misses (429), and on a phone.
import { run, newPage, shot, check, expectText, noErrors, staffApi, PHONE } from './lib.mjs';

const KIOSK = { width: 1180, height: 820 };
const CODE = process.env.CARNET_E2E_KIOSK_CODE;
const NAME = process.env.CARNET_E2E_KIOSK_NAME || 'Kim Kiosk';
const SCAN_TOKEN = process.env.CARNET_E2E_KIOSK_SCAN_TOKEN;

run('kiosk', async (ctx, o) => {
  check(/^[2-9A-HJKMNP-Z]{6}$/.test(CODE || ''), 'a booking code is given');
  check((SCAN_TOKEN || '').length >= 32, 'and a manage link to scan');
  const page = await newPage(ctx, { viewport: KIOSK, lang: 'en' });
  // Chromium on Linux has no BarcodeDetector: stand one in that "sees" whatever the test holds
  // up (window.__qr), so the page's scanning path (camera, detect loop, check-in) runs for real.
  await page.addInitScript(() => {
    window.BarcodeDetector = class {
      constructor(o) { this.formats = o && o.formats; }
      async detect() { return window.__qr ? [{ rawValue: window.__qr, format: 'qr_code' }] : []; }
    };
  });
  await page.goto(o.base + '/kiosk/?store=paris-opera&reset=5');
  await expectText(page.locator('#k-store'), 'Paris', 'the kiosk names its store');
  await expectText(page.locator('#k-h-home'), 'Welcome', 'and welcomes whoever comes in');
  await shot(page, o.out, 'kiosk-1-home');

  // A code that is no booking here: one neutral answer, nothing about anybody.
  await page.getByLabel('Confirmation code').fill('ZZZZZZ');
  await page.getByRole('button', { name: 'Check in' }).click();
  await expectText(page.locator('#k-error'), 'could not find that booking', 'a wrong code gets the neutral answer');
  await page.getByLabel('Confirmation code').fill('12');
  await page.getByRole('button', { name: 'Check in' }).click();
  await expectText(page.locator('.field-error'), '6 letters and digits', 'a malformed code is pointed out at the field');

  // The right code: checked in, the ticket on screen, the first name only.
  await page.getByLabel('Confirmation code').fill(CODE.toLowerCase());
  await page.getByRole('button', { name: 'Check in' }).click();
  const first = NAME.split(' ')[0];
  await expectText(page.locator('#k-h-ticket'), `Welcome, ${first}! You are checked in.`, 'the customer is greeted by first name');
  check(!(await page.locator('main').textContent()).includes(NAME.split(' ')[1]), 'the last name is not shown');
  await expectText(page.locator('#k-t-number'), /^#\d+$/, 'the ticket number is shown');
  await expectText(page.locator('#k-t-reset'), /starts over in \d s/, 'with when the screen starts over');
  await shot(page, o.out, 'kiosk-2-ticket');
  const t0 = Date.now();
  await expectText(page.locator('#k-h-home'), 'Welcome', 'the screen starts over by itself', 10000);
  check(Date.now() - t0 < 8000, 'within the reset delay');
  check(await page.locator('#k-ticket').isHidden(), 'the ticket is gone');
  check((await page.locator('#k-code').inputValue()) === '', 'nothing typed is left on screen');

  // The same code again: already checked in, the same ticket.
  const ticket = await page.evaluate(async (code) => {
    const r = await fetch('/api/stores/1/kiosk/checkin', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }) });
    return r.json();
  }, CODE);
  check(ticket.already_checked_in === true, 'checking in twice gives the same ticket back');

  // The manage link's QR code, held up to the tablet's camera.
  await page.getByRole('button', { name: 'Scan the QR code of my booking' }).click();
  await page.locator('#k-video').waitFor({ state: 'visible' });
  await page.evaluate((u) => { window.__qr = u; }, `${o.base}/manage/#${SCAN_TOKEN}`);
  await expectText(page.locator('#k-h-ticket'), 'Welcome, Sam! You are checked in.', 'the scanned booking is checked in');
  check(await page.locator('#k-video').isHidden(), 'the camera is off again');
  await page.evaluate(() => { window.__qr = null; });
  await page.getByRole('button', { name: 'Done' }).click();

  // A walk-in: name and what it is about.
  await page.getByRole('button', { name: 'Join the line' }).click();
  await expectText(page.locator('#k-h-walkin'), 'Join the line', 'the walk-in form opens');
  await page.getByLabel('Your name').fill('Wanda Walker');
  await page.getByLabel('What is it about?').fill('The battery drains overnight');
  await shot(page, o.out, 'kiosk-3-walkin');
  await page.getByRole('button', { name: 'Join the line' }).click();
  await expectText(page.locator('#k-h-ticket'), 'Thank you, Wanda! You are in the line.', 'the walk-in gets a ticket');
  await expectText(page.locator('#k-t-wait'), /ahead of you|You are next/, 'and their place in line');
  await shot(page, o.out, 'kiosk-4-walkin-ticket');
  await page.getByRole('button', { name: 'Done' }).click();
  await expectText(page.locator('#k-h-home'), 'Welcome', '"Done" starts over at once');

  const spec = await staffApi(o.base, 'specialist@carnet.test');
  const q = await spec.get('/api/stores/1/queue');
  check(q.waiting.some((w) => w.name === NAME && w.kind === 'booked'), 'the checked-in customer waits in the staff queue');
  check(q.waiting.some((w) => w.name === 'Wanda Walker' && w.kind === 'walk_in'), 'so does the walk-in');

  // In French, and on a phone.
  await page.getByRole('button', { name: 'Français' }).click();
  await expectText(page.locator('#k-h-home'), 'Bienvenue', 'the kiosk speaks French');
  await page.getByLabel('Code de confirmation').fill('ZZZZZZ');
  await page.getByRole('button', { name: 'Enregistrer mon arrivée' }).click();
  await expectText(page.locator('#k-error'), 'Nous ne trouvons pas', 'the neutral answer in French');
  await shot(page, o.out, 'kiosk-5-fr');
  // Guessing codes: after 10 misses in a minute the kiosk asks to wait, and says how long.
  await page.evaluate(async () => {
    for (let i = 0; i < 10; i++) {
      await fetch('/api/stores/1/kiosk/checkin', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code: 'ZZZZZZ' }) });
    }
  });
  await page.getByRole('button', { name: 'Enregistrer mon arrivée' }).click();
  await expectText(page.locator('#k-error'), /Trop d’essais\. Patientez \d+ s/, 'too many misses: the kiosk asks to wait, in French');
  check(await page.getByRole('button', { name: 'Enregistrer mon arrivée' }).isDisabled(), 'and the check-in button waits too');
  await shot(page, o.out, 'kiosk-6-rate-limited');
  const phone = await newPage(ctx, { viewport: PHONE, lang: 'en' });
  await phone.goto(o.base + '/kiosk/?store=paris-opera');
  await expectText(phone.locator('#k-h-home'), 'Welcome', 'the kiosk works on a phone-sized screen');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  check(!overflow, 'without sideways scrolling');
  await shot(phone, o.out, 'kiosk-7-phone');
  noErrors(page);
  noErrors(phone);
});
