// Journey: intake with a photo and a signature. A technician opens a repair on the tablet,
// records the device's condition, attaches a photo (a real PNG made here, as the camera input
// would hand it over), has the customer sign the terms on the canvas, sees photo and signature
// in the ticket and in the device's health record, and opens the printable receipt and the
// bench label.
import zlib from 'node:zlib';
import { run, newPage, shot, check, expectText, noErrors, staffApi, PHONE } from './lib.mjs';

const TABLET = { width: 1180, height: 820 };
const SERIAL = 'INTKE2E' + String(Date.now()).slice(-6);

// A PNG of w x h pixels, a colour gradient, built by hand (no image library needed).
const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function png(w, h) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + 3 * w);
    for (let x = 0; x < w; x++) row.set([(x * 255) / w, (y * 255) / h, 160], 1 + 3 * x);
    rows.push(row);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

run('intake', async (ctx, o) => {
  // Set-up (not what the journey is about): a repair just opened at the counter.
  const api = await staffApi(o.base, 'tech@carnet.test');
  const stores = await api.get('/api/stores');
  const paris = (stores.stores || stores).find((s) => s.code === 'paris-opera');
  const rep = await api.post(`/api/stores/${paris.id}/repairs`, {
    serial: SERIAL, problem: 'Dropped: the screen is cracked.', intake: { checklist: [{ item: 'screen', ok: false }] },
  });

  const tab = await newPage(ctx, { viewport: TABLET });
  await tab.goto(o.base + '/staff/#repairs');
  await tab.getByLabel('Email').fill('tech@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await tab.getByRole('link', { name: rep.number }).click();
  await expectText(tab.locator('h1'), rep.number, 'the technician opens the repair');
  await expectText(tab.locator('#in-title'), 'Intake', 'the ticket has its intake');

  // The checklist: one tap per answer.
  await tab.locator('label[for="in-screen-cracked"]').click();
  await tab.locator('label[for="in-housing-scuffed"]').click();
  await tab.locator('label[for="in-liquid-not_triggered"]').click();
  await tab.locator('label[for="in-acc-charger"]').click();
  await tab.getByLabel('Note on the condition').fill('Crack from the top left corner.');
  await shot(tab, o.out, 'intake-1-checklist');
  await tab.locator('#in-save').click();
  await expectText(tab.locator('#status'), 'Condition saved', 'the condition is saved');
  await expectText(tab.locator('#in-facts'), 'Cracked', 'the ticket shows the screen is cracked');
  await expectText(tab.locator('#in-facts'), 'Charger', 'and the charger left with it');
  await expectText(tab.locator('#in-state'), 'Not signed', 'an intake without signature is visibly unsigned');

  // A photo, as the tablet camera's file input hands it over.
  await tab.locator('#in-photo-input').setInputFiles({ name: 'front.png', mimeType: 'image/png', buffer: png(64, 48) });
  await expectText(tab.locator('#status'), 'Photos added: 1', 'the photo is uploaded');
  const img = tab.locator('#in-photos .photo-grid img').first();
  await img.waitFor();
  await tab.waitForFunction(() => { const i = document.querySelector('#in-photos .photo-grid img'); return i && i.complete && i.naturalWidth === 64; });
  check(true, 'the ticket shows the photo, served back by carnetd (64 px wide)');

  // The customer signs on the canvas.
  const pad = tab.locator('#in-sig-pad');
  await pad.scrollIntoViewIfNeeded();
  const box = await pad.boundingBox();
  await tab.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.7);
  await tab.mouse.down();
  for (let i = 1; i <= 20; i++) {
    await tab.mouse.move(box.x + box.width * (0.1 + 0.04 * i), box.y + box.height * (0.7 - 0.4 * Math.sin(i / 3)));
  }
  await tab.mouse.up();
  await shot(tab, o.out, 'intake-2-signing');
  await tab.locator('#in-sig-save').click();
  await expectText(tab.locator('#status'), 'Signature saved', 'the signature is saved');
  await expectText(tab.locator('#in-state'), 'Signed', 'the intake now reads signed');
  await tab.waitForFunction(() => { const i = document.querySelector('#in-sig-img'); return i && i.complete && i.naturalWidth === 480; });
  check(true, 'the ticket shows the signature');
  await shot(tab, o.out, 'intake-3-signed');

  // The health record: the condition, the photo and the signature are entries.
  await tab.goto(o.base + '/staff/#device/' + SERIAL);
  await expectText(tab.locator('h1'), SERIAL, 'the health record opens');
  await expectText(tab.locator('#timeline'), 'Crack from the top left corner', 'the record shows the condition');
  await tab.waitForFunction(() => { const i = document.querySelector('#timeline img.record-photo'); return i && i.complete && i.naturalWidth === 64; });
  check(true, 'the record shows the photo');
  await expectText(tab.locator('#timeline'), 'Signed', 'the record shows the signature');
  await shot(tab, o.out, 'intake-4-record');

  // The printable receipt and the bench label.
  await tab.goto(o.base + '/staff/#repair/' + rep.id);
  await tab.locator('#in-receipt-btn').click();
  const receipt = tab.locator('#in-receipt');
  await expectText(receipt.locator('#rc-number'), rep.number, 'the receipt names the repair');
  await expectText(receipt, SERIAL, 'and the device');
  await expectText(receipt, 'Cracked', 'and the condition');
  await expectText(receipt, 'not responsible for data loss', 'and the terms');
  check(await receipt.locator('.sig-img').isVisible(), 'and the signature');
  check(await receipt.locator('svg.qr').count() === 1, 'and a QR code of the repair number');
  await tab.emulateMedia({ media: 'print' });
  check(await receipt.isVisible(), 'on paper the receipt shows');
  check(!(await tab.locator('.topbar').isVisible()) && !(await tab.locator('#in-title').isVisible()), 'and nothing else of the app');
  await tab.screenshot({ path: o.out + '/intake-5-receipt-print.png', fullPage: true });
  await tab.emulateMedia({ media: 'screen' });
  await shot(tab, o.out, 'intake-5-receipt');
  await tab.locator('#ps-close').click();
  await tab.locator('#in-label-btn').click();
  await expectText(tab.locator('#in-label'), rep.number, 'the bench label names the repair');
  await expectText(tab.locator('#in-label'), SERIAL, 'and the serial');
  check(await tab.locator('#in-label svg.qr').count() === 1, 'with its QR code');
  await shot(tab, o.out, 'intake-6-label');
  await tab.locator('#ps-close').click();
  noErrors(tab);

  // The same ticket on a phone.
  const phone = await newPage(ctx, { viewport: PHONE });
  await phone.goto(o.base + '/staff/#repair/' + rep.id);
  await expectText(phone.locator('#in-state'), 'Signed', 'on a phone the intake reads signed too');
  const wide = await phone.evaluate(() => [document.documentElement.scrollWidth,
    [...document.querySelectorAll('#repair-intake *')].filter((e) => e.getBoundingClientRect().right > innerWidth)
      .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`).slice(0, 5)]);
  check(wide[1].length === 0, `nothing of the intake overflows a phone's width (${wide[1].join(', ')})`);
  await shot(phone, o.out, 'intake-7-phone');
  noErrors(phone);
});
