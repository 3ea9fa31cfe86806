// The one-tap survey (issue #14 point 7), on a phone (390x844) whose browser speaks French
// (CARNET_E2E_LOCALE=fr-FR). A per-score link from the e-mail (/survey/#TOKEN~4) records its score
// as the page opens, before any tap; then the optional question (effort, 1 to 7) is answered once.
// A link without a score (the SMS) shows the five scores on one row of 48 px targets, ends
// labelled; one tap answers. A mail scanner that runs scripts may have opened a link: for 15
// minutes after the score was recorded, until the rest is sent, the scale stays with that score
// selected and a tap corrects it; after that (a survey answered 20 minutes ago,
// CARNET_E2E_SURVEY_LATE_TOKEN) the score is not offered again. Nothing scrolls sideways.
import { run, newPage, shot, check, expectText, noErrors, staffApi } from './lib.mjs';

const TOKEN = process.env.CARNET_E2E_SURVEY_TOKEN;
const PLAIN = process.env.CARNET_E2E_SURVEY_PLAIN_TOKEN;
const LATE = process.env.CARNET_E2E_SURVEY_LATE_TOKEN;

async function pressed(page) {
  return page.locator('#s-sat-scale button[aria-pressed="true"]').evaluateAll((bs) => bs.map((b) => b.dataset.score).join(','));
}

async function oneRow(page, sel, n, what) {
  const boxes = await page.locator(sel).evaluateAll((bs) => bs.map((b) => {
    const r = b.getBoundingClientRect();
    return { x: r.x, y: r.y, w: r.width, h: r.height };
  }));
  const right = Math.max(...boxes.map((b) => b.x + b.w));
  check(boxes.length === n && boxes.every((b) => Math.abs(b.y - boxes[0].y) < 1)
    && boxes.every((b) => b.w >= 48 && b.h >= 48) && right <= 390,
  `${what}: ${n} targets on one row, each at least 48 px (${boxes.map((b) => Math.round(b.w)).join(', ')})`);
  const sw = await page.evaluate(() => document.documentElement.scrollWidth);
  check(sw <= 390, `${what}: no sideways scroll (${sw} px)`);
}

run('survey', async (ctx, o) => {
  check([TOKEN, PLAIN, LATE].every((k) => (k || '').length >= 32), 'three survey links are given');
  const manager = await staffApi(o.base, 'manager@carnet.test');
  const responses = async () => (await manager.get('/api/stores/1/reports/satisfaction?weeks=1')).weeks.reduce((n, w) => n + w.responses, 0);
  const before = await responses();

  // 1. The SMS's link: no score in it, so the page asks, five scores on one row.
  const sms = await newPage(ctx);
  await sms.goto(o.base + '/survey/#' + PLAIN);
  await expectText(sms.locator('h1'), 'Votre avis', 'the survey is in French, from the browser’s language');
  await expectText(sms.locator('#s-store'), 'Carnet Paris Opéra', 'it names the store');
  await expectText(sms.locator('#s-satisfaction .sv-ends'), 'Très insatisfait', 'the low end is labelled');
  await expectText(sms.locator('#s-satisfaction .sv-ends span').last(), 'Très satisfait', 'the high end is labelled');
  await oneRow(sms, '#s-sat-scale button', 5, 'satisfaction');
  await shot(sms, o.out, 'survey-1-scale-390');
  await sms.getByRole('button', { name: /^5 · Très satisfait/ }).click();
  await expectText(sms.locator('#s-recorded'), 'Merci', 'one tap answers');
  check((await responses()) === before + 1, 'the report counts that answer');
  // The score stays on screen, selected and tappable, for a correction.
  check((await pressed(sms)) === '5', 'the recorded score is shown selected');
  await sms.getByRole('button', { name: /^3 · Ni/ }).click();
  await sms.waitForFunction(() => document.querySelector('#s-sat-scale [data-score="3"]')?.getAttribute('aria-pressed') === 'true');
  check((await pressed(sms)) === '3', 'a tap on another score corrects it');
  check((await responses()) === before + 1, 'a correction is not another answer');
  await sms.reload();
  await expectText(sms.locator('#s-recorded'), 'Merci', 'opened again, the score is still thanked');
  check((await pressed(sms)) === '3' && await sms.locator('#s-first').isVisible(), 'and the corrected score is the one selected');
  noErrors(sms);

  // 2. The e-mail's link for 4: recorded as the page opens, before any tap.
  const phone = await newPage(ctx);
  await phone.goto(o.base + '/survey/#' + TOKEN + '~4');
  await expectText(phone.locator('#s-recorded'), 'Merci', 'the score from the link is thanked at once');
  check((await responses()) === before + 2, 'and recorded without a tap');
  check((await pressed(phone)) === '4', 'the score from the link is shown selected, still correctable');
  await expectText(phone.locator('#s-effort .sv-ends'), 'Très difficile', 'the second question’s ends are labelled');
  await oneRow(phone, '#s-eff-scale button', 7, 'effort');
  await shot(phone, o.out, 'survey-2-second-question-390');
  // Sending without a choice names the question.
  await phone.getByRole('button', { name: 'Envoyer' }).click();
  await expectText(phone.locator('.field-error'), 'facile', 'an unanswered second question is pointed out');
  await phone.locator('#s-eff-scale [data-score="6"]').click();
  await phone.getByLabel(/Autre chose/).fill('Très rapide, merci !');
  await phone.getByRole('button', { name: 'Envoyer' }).click();
  await expectText(phone.locator('#s-thanks'), 'Merci', 'the second answer is thanked');
  await shot(phone, o.out, 'survey-3-thanks-390');
  // Opened again (or another score's link): nothing is asked, nothing changes.
  await phone.goto(o.base + '/survey/#' + TOKEN + '~1');
  await phone.reload();
  await expectText(phone.locator('#s-thanks'), 'Merci', 'the link, opened again, says it was answered');
  check(await phone.locator('#s-form').isHidden() && await phone.locator('#s-first').isHidden(), 'and offers no second answer');
  check((await responses()) === before + 2, 'another score’s link changed nothing');
  const week = (await manager.get('/api/stores/1/reports/satisfaction?weeks=1')).weeks[0];
  check(week.csat !== null, 'the week’s satisfaction is reported');
  noErrors(phone);

  // 3. A score recorded 20 minutes ago (a scanner's, perhaps): too late to change it; the rest
  // may still be answered.
  const late = await newPage(ctx);
  await late.goto(o.base + '/survey/#' + LATE + '~5');
  await expectText(late.locator('#s-recorded'), 'Merci', 'the late link says the score is recorded');
  check(await late.locator('#s-first').isHidden(), 'the score is no longer offered');
  check(await late.locator('#s-form').isVisible(), 'the second question still is');
  check((await responses()) === before + 2, 'opening it records nothing new');
  noErrors(late);
});
