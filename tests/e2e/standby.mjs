// A standby customer's offer, by the link its message carries (/standby/#TOKEN): the page shows
// the offered time and how long it is held, and takes it. An offer the store gives away while
// the page is open (staff cancel the held slot) is refused with the reason, in French here, and
// the page stops offering it.
import { run, newPage, shot, check, expectText, noErrors, staffApi } from './lib.mjs';

const HELD = process.env.CARNET_E2E_OFFER_TOKEN;
const GONE = process.env.CARNET_E2E_GONE_TOKEN;
const GONE_CANCEL = process.env.CARNET_E2E_GONE_CANCEL;

run('standby', async (ctx, o) => {
  check((HELD || '').length === 43 && (GONE || '').length === 43 && GONE_CANCEL, 'two offer links are given');

  const phone = await newPage(ctx, { lang: 'en' });
  await phone.goto(o.base + '/standby/#' + HELD);
  await expectText(phone.locator('#sb-status'), 'A time is offered', 'the offer link opens the offer');
  await expectText(phone.locator('#sb-offer-text'), 'held until', 'with how long it is held');
  await shot(phone, o.out, 'standby-1-offer');
  await phone.getByRole('button', { name: 'Take this time' }).click();
  await expectText(phone.locator('#sb-booked'), 'You are booked', 'taking it books it');
  check(/^[A-Z0-9]{4,}$/.test((await phone.locator('#sb-code').textContent()).trim()), 'with a confirmation code');
  check(await phone.locator('#sb-offer').isHidden(), 'and the offer is no longer shown');
  await shot(phone, o.out, 'standby-2-booked');

  const gone = await newPage(ctx, { lang: 'fr' });
  await gone.goto(o.base + '/standby/#' + GONE);
  await expectText(gone.locator('#sb-offer-text'), 'réservé jusqu', 'a second offer, in French, is held');
  // Meanwhile staff cancel the held slot from their day list.
  await (await staffApi(o.base, 'manager@carnet.test')).post(GONE_CANCEL);
  await gone.getByRole('button', { name: 'Prendre ce créneau' }).click();
  await expectText(gone.locator('#status'), 'attribué ce créneau', 'the refusal says why');
  await expectText(gone.locator('#sb-offer-text'), 'ne vous est plus réservé', 'the offer says it is gone');
  check(await gone.locator('#sb-claim').isHidden(), 'and no longer offers to take it');
  check(await gone.locator('#sb-booked').isHidden(), 'nothing was booked');
  await shot(gone, o.out, 'standby-3-gone-fr');
  noErrors(phone);
  noErrors(gone);
});
