// Journey (issue 13, point 11): an estimate with lines approved on a phone. A technician writes a
// two-line estimate with VAT on the tablet; the customer opens the approval link on a phone
// (390x844) in French, sees the diagnosis, the lines, the VAT and the total formatted in the
// store's currency and the page's language, and approves; the ticket shows it approved.
import { run, newPage, shot, check, expectText, noErrors, staffApi, PHONE } from './lib.mjs';

const TABLET = { width: 1180, height: 820 };
const SERIAL = 'F2LEST0E2E01';

run('estimate', async (ctx, o) => {
  // Set-up through the API: a repair in diagnosis (opening one is repair.mjs's journey).
  const api = await staffApi(o.base, 'tech@carnet.test');
  const stores = await api.get('/api/stores');
  const paris = (stores.stores || stores).find((s) => s.code === 'paris-opera');
  const rep = await api.post(`/api/stores/${paris.id}/repairs`, {
    serial: SERIAL, problem: 'Dropped: the screen is cracked.',
    intake: { checklist: [{ item: 'screen', ok: false }] },
  });
  await api.post(`/api/repairs/${rep.id}/transition`, { to: 'diagnosing' });

  const tab = await newPage(ctx, { viewport: TABLET });
  await tab.goto(`${o.base}/staff/#repair/${rep.id}`);
  await tab.getByLabel('Email').fill('tech@carnet.test');
  await tab.getByLabel('Password').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await expectText(tab.locator('h1'), rep.number, 'the technician lands on the repair ticket');
  await expectText(tab.locator('#es-none'), 'No estimate yet', 'it has no estimate yet');

  // Two lines with VAT: a screen 189.00 and half an hour of labour at 60.00, both at 20 %.
  await tab.getByLabel('What we found').fill('The screen glass is cracked; the display and touch work.');
  await tab.locator('#es-description-0').fill('Screen');
  await tab.locator('#es-unit_price-0').fill('189');
  await tab.locator('#es-description-1').fill('Fitting');
  await tab.locator('#es-quantity-1').fill('0,5');
  await tab.locator('#es-unit_price-1').fill('60,00');
  check((await tab.locator('#es-vat_rate-1').inputValue()) === '2000', 'VAT defaults to 20 %');
  const send = tab.getByRole('button', { name: 'Send to the customer' });
  check((await send.boundingBox()).height >= 48, 'the send button is a 48 px target');
  await shot(tab, o.out, 'estimate-1-editor-tablet');
  await send.click();
  // 189.00 + 30.00 = 219.00 excl. VAT; VAT 20 % = 43.80; 262.80 in all (computed by the server).
  await expectText(tab.locator('#es-gross'), '€262.80', 'the tablet shows the total the server computed');
  await expectText(tab.locator('#es-lines'), 'VAT 20% on €219.00', 'and the VAT of the rate');
  await expectText(tab.locator('#es-state'), 'Waiting for the customer', 'the estimate waits for the customer');
  // Links are never shown as text (only a button copies one made on this tablet): the test reads
  // the one the tablet keeps for its session.
  check(await tab.locator('#rp-copy-estimate').isVisible(), 'a button copies the approval link');
  const link = await tab.evaluate(() => Object.values(JSON.parse(sessionStorage.getItem('carnet.repair-links') || '{}'))[0].estimate);
  check(/\/estimate\/#[A-Za-z0-9_-]{32,}$/.test(link), 'an approval link was made');
  await tab.locator('#rp-moves button[data-to="awaiting_approval"]').click();
  await expectText(tab.locator('#rp-state'), 'Waiting for approval', 'the repair waits for approval');
  await shot(tab, o.out, 'estimate-2-sent-tablet');

  // The customer, on a phone, in French.
  const phone = await newPage(ctx, { viewport: PHONE, lang: 'fr' });
  await phone.goto(link);
  await expectText(phone.locator('h1'), 'Votre devis', 'the page is in French');
  await expectText(phone.locator('#e-diagnosis'), 'The screen glass is cracked', 'the diagnosis is shown');
  check((await phone.locator('#e-lines tbody tr').count()) === 2, 'both lines are listed');
  await expectText(phone.locator('#e-lines tbody'), /Écran|Screen/, 'with their descriptions');
  await expectText(phone.locator('#e-lines tbody'), /0,5\s×\s60,00\s€/, 'quantity and unit price in French');
  await expectText(phone.locator('#e-net'), /219,00\s€/, 'the total excluding VAT');
  await expectText(phone.locator('.e-vat').first(), /TVA 20\s%\ssur 219,00\s€/, 'the VAT of the rate');
  await expectText(phone.locator('#e-gross'), /262,80\s€/, 'the total in euros, French style');
  await expectText(phone.locator('#e-terms'), 'valid for 30 days', 'the store’s terms are shown, as written');
  const wide = await phone.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= PHONE.width, `nothing overflows the phone's width (${wide}px)`);
  for (const id of ['#e-approve', '#e-call', '#e-no']) {
    check((await phone.locator(id).boundingBox()).height >= 48, `${id} is a 48 px target`);
  }
  await shot(phone, o.out, 'estimate-3-phone');
  await phone.getByRole('button', { name: /Accepter : 262,80/ }).click();
  await expectText(phone.locator('#e-decided'), 'Devis accepté', 'the customer sees it approved');
  check((await phone.locator('#e-approve').count()) === 0, 'no more answer buttons');
  await shot(phone, o.out, 'estimate-4-approved-phone');
  noErrors(phone);

  // The ticket shows the approval (after a reload). The phone's French choice was stored for the
  // whole origin (one browser here): the tablet goes back to English.
  await tab.evaluate(() => localStorage.setItem('carnet.lang', 'en'));
  await tab.reload();
  await expectText(tab.locator('#es-state'), 'Approved', 'the ticket shows the estimate approved');
  await expectText(tab.locator('#es-decision'), 'Approved', 'with when it was decided');
  check((await tab.locator('#rp-moves button[data-to="repairing"]').count()) === 1, 'the repair can now start');
  await shot(tab, o.out, 'estimate-5-approved-tablet');

  // Another customer would rather talk first, then declines with a reason: the ticket shows the
  // call-back request, then the decision and the reason.
  const rep2 = await api.post(`/api/stores/${paris.id}/repairs`, {
    serial: 'F2LEST0E2E02', problem: 'Battery drains in an hour.',
    intake: { checklist: [{ item: 'screen', ok: true }] },
  });
  const est2 = await api.put(`/api/repairs/${rep2.id}/estimate`, {
    diagnosis: 'The battery holds 61 % of its charge.',
    lines: [{ kind: 'part', description: 'Battery', quantity: 1, unit_price: 7900, vat_rate: 2000 }],
  });
  await phone.close();
  const phone2 = await newPage(ctx, { viewport: PHONE, lang: 'en' });
  await phone2.goto(`${o.base}/estimate/#${est2.approval_token}`);
  await expectText(phone2.locator('#e-gross'), '€94.80', 'the second estimate, in English');
  await phone2.getByRole('button', { name: 'Call me first' }).click();
  await phone2.getByLabel('Anything we should know').fill('After 6 pm please');
  await phone2.getByRole('button', { name: 'Ask for a call' }).click();
  await expectText(phone2.locator('#e-callback-done'), 'We will call you back', 'the customer asked for a call');
  await tab.goto(`${o.base}/staff/#repair/${rep2.id}`);
  await expectText(tab.locator('#es-callback'), 'Call-back requested', 'the ticket shows the call-back request');
  await expectText(tab.locator('#es-callback'), 'After 6 pm please', 'with the customer’s note');
  await shot(tab, o.out, 'estimate-6-callback-tablet');
  await phone2.getByRole('button', { name: 'Decline', exact: true }).click();
  await phone2.getByRole('button', { name: 'Decline the estimate' }).click();
  await expectText(phone2.locator('#e-decline .field-error'), '', 'a reason is required');
  await phone2.getByLabel(/Why do you decline/).fill('I will replace the phone instead.');
  await phone2.getByRole('button', { name: 'Decline the estimate' }).click();
  await expectText(phone2.locator('#e-decided'), 'Estimate declined', 'the customer sees it declined');
  await shot(phone2, o.out, 'estimate-7-declined-phone');
  await tab.reload();
  await expectText(tab.locator('#es-decision'), 'I will replace the phone instead.', 'the ticket shows the reason');
  check((await tab.locator('#es-callback').count()) === 0, 'an answered estimate has no call-back pending');
  await shot(tab, o.out, 'estimate-8-declined-tablet');
  noErrors(phone2);
  noErrors(tab);

  // A link that opens nothing says so in the page's words, where the estimate would be.
  const lost = await newPage(ctx, { viewport: PHONE });
  await lost.goto(new URL('/estimate/#' + 'x'.repeat(43), link).href);
  await expectText(lost.locator('#error'), 'We could not find that. The link may have expired.', 'an unknown link says it is not found');
  check(await lost.locator('#loading').isHidden(), 'and stops saying it is loading');
});
