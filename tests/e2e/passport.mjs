// Journey: a device passport, from the store to a buyer (issue #17). A technician downloads the
// seeded iPhone's passport from its record on a tablet; on a phone the check page /passport/
// verifies it in the browser (WebCrypto Ed25519 against /api/passport-key) and shows the
// history; the same file with one byte changed, dropped on the page, is reported not valid, and
// its history is not shown. The customer downloads the same device's passport from their repair
// status page, and it checks too (in French this time).
import fs from 'node:fs';
import path from 'node:path';
import { run, newPage, shot, check, expectText, noErrors, PHONE } from './lib.mjs';

const TABLET = { width: 1180, height: 820 };
const SERIAL = 'F2LDEMO0PH13';
// The seed's status link of that device's repair (schema/seed/003_device.sql).
const STATUS_TOKEN = 'demo-repair-status-link-for-paris-opera-000';

async function download(page, button, file) {
  const [dl] = await Promise.all([page.waitForEvent('download'), button.click()]);
  await dl.saveAs(file);
  return { name: dl.suggestedFilename(), text: fs.readFileSync(file, 'utf8') };
}

async function noSideScroll(page, what) {
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  check(w <= page.viewportSize().width, `${what}: no horizontal scroll (${w} px)`);
}

run('passport', async (ctx, o) => {
  // The technician's tablet: the device's record, "Download passport".
  const tab = await newPage(ctx, { viewport: TABLET });
  await tab.goto(`${o.base}/staff/#device/${SERIAL}`);
  await tab.getByLabel('Email').fill('tech@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  const btn = tab.getByRole('button', { name: 'Download passport' });
  await btn.waitFor();
  const staffFile = path.join(o.out, 'passport-staff.json');
  const got = await download(tab, btn, staffFile);
  check(got.name === `passport-${SERIAL}.json`, `the file is named for the serial (${got.name})`);
  const doc = JSON.parse(got.text);
  check(doc.passport.device.serial === SERIAL && doc.signature.alg === 'Ed25519', 'it holds the device and an Ed25519 signature');
  check(!/Technicien|@/.test(got.text), 'no staff name and no email in it');
  await shot(tab, o.out, 'passport-1-record');
  noErrors(tab);

  // A buyer's phone: the check page verifies the downloaded file.
  const phone = await newPage(ctx, { viewport: PHONE });
  await phone.goto(`${o.base}/passport/`);
  await expectText(phone.locator('h1'), 'Check a device passport', 'the check page opens');
  await phone.locator('#pp-file').setInputFiles(staffFile);
  await expectText(phone.locator('#pp-verdict'), 'Signature valid.', 'the downloaded passport is valid');
  check(await phone.locator('#pp-verdict').getAttribute('data-valid') === 'true', 'marked valid');
  await expectText(phone.locator('#pp-serial'), SERIAL, 'its serial is shown');
  await expectText(phone.locator('#pp-repairs'), '661-21990', 'the repair and its part are shown');
  await expectText(phone.locator('#pp-diags'), 'Battery health', 'diagnostics with their measured values');
  await noSideScroll(phone, 'the history on a phone');
  await shot(phone, o.out, 'passport-2-valid');

  // One byte changed (a digit of the part number), dropped on the page: not valid.
  const i = got.text.indexOf('661-21990');
  check(i > 0, 'the part number is in the file');
  const tampered = got.text.slice(0, i) + '7' + got.text.slice(i + 1);
  check(tampered.length === got.text.length, 'exactly one byte differs');
  await phone.evaluate((text) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], 'passport-tampered.json', { type: 'application/json' }));
    document.querySelector('#pp-drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, tampered);
  await expectText(phone.locator('#pp-verdict'), 'Not valid.', 'the tampered passport is not valid');
  await expectText(phone.locator('#pp-verdict'), 'changed after it was signed', 'and says why');
  check(await phone.locator('#pp-verdict').getAttribute('data-valid') === 'false', 'marked not valid');
  check(!(await phone.locator('#pp-history').isVisible()), 'its history is not shown');
  await shot(phone, o.out, 'passport-3-tampered');

  // Something that is not a passport at all.
  await phone.locator('#pp-file').setInputFiles({ name: 'x.json', mimeType: 'application/json', buffer: Buffer.from('{"hello": 1}') });
  await expectText(phone.locator('#pp-verdict'), 'not a passport', 'a file that is no passport says so');
  noErrors(phone);

  // The customer, in French, from their repair status page.
  const cust = await newPage(ctx, { viewport: PHONE, lang: 'fr' });
  await cust.goto(`${o.base}/repair/#${STATUS_TOKEN}`);
  const cbtn = cust.getByRole('button', { name: 'Télécharger le passeport' });
  await cbtn.waitFor();
  await noSideScroll(cust, 'the repair page with its passport button');
  const custFile = path.join(o.out, 'passport-customer.json');
  const mine = await download(cust, cbtn, custFile);
  check(JSON.parse(mine.text).passport.device.serial === SERIAL, 'the customer gets their device’s passport');
  await shot(cust, o.out, 'passport-4-repair-page');
  await cust.getByRole('link', { name: 'Vérifier un passeport' }).click();
  await cust.waitForURL(/\/passport\/$/);
  await cust.locator('#pp-file').setInputFiles(custFile);
  await expectText(cust.locator('#pp-verdict'), 'Signature valide.', 'it checks, in French');
  await shot(cust, o.out, 'passport-5-valid-fr');
  noErrors(cust);
});
