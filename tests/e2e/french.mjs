// Journey: French validation errors (issue #13 point 7). Every form is used on a French page with
// invalid input; each time the error must be shown in French next to its field (or at the top
// of the form) and no English error text may be anywhere on the page: neither an English text
// of web/js/i18n.js's errors nor the English `message` of any error reply the server sent
// during the journey. Covered: booking details, walk-in line, survey, staff sign-in, staff
// check-in and walk-in, device search, PIN form and the shared tablet's lock screen.
import fs from 'node:fs';
import { run, newPage, shot, check, expectText, noErrors, PHONE, TABLET, staffApi } from './lib.mjs';

const SURVEY = process.env.CARNET_E2E_SURVEY_TOKEN;
const MANAGE = process.env.CARNET_E2E_MANAGE_TOKEN;

/** The English texts of the error keys (err.*) of web/js/i18n.js. */
function englishErrorTexts() {
  const src = fs.readFileSync(new URL('../../web/js/i18n.js', import.meta.url), 'utf8');
  const en = src.slice(src.indexOf('const en = {'), src.indexOf('const fr = {'));
  return [...en.matchAll(/^\s*'err\.[^']+':\s*'((?:[^'\\]|\\.)*)'/gm)].map((m) => m[1].replace(/\\'/g, "'"));
}
const ENGLISH = englishErrorTexts();

/** Records the English `message` of every error reply the page receives. */
function recordServerMessages(page) {
  page.serverMessages = new Set();
  page.on('response', async (r) => {
    if (r.status() < 400 || !(r.headers()['content-type'] || '').includes('json')) return;
    try {
      const e = (await r.json()).error;
      if (e && e.message) page.serverMessages.add(e.message);
    } catch { /* body already gone */ }
  });
}

async function frenchPage(ctx, viewport) {
  const page = await newPage(ctx, { lang: 'fr', viewport });
  recordServerMessages(page);
  return page;
}

/** No English error text on screen; `shown` (a locator) holds the French error we expect. */
async function onlyFrench(page, shown, want, what) {
  await expectText(shown, want, `${what}: the error is in French`);
  await page.waitForTimeout(150); // the reply's body is recorded asynchronously
  const text = await page.evaluate(() => document.body.innerText);
  const english = [...ENGLISH, ...page.serverMessages].filter((s) => s && text.includes(s));
  check(!english.length, `${what}: no English error text (${english.join(' | ') || 'none'}; ${page.serverMessages.size} server messages checked)`);
}

run('french', async (ctx, o) => {
  // 1. Booking: a phone number that is no phone number.
  const page = await frenchPage(ctx);
  await page.goto(o.base + '/');
  await page.getByLabel('Carnet Paris Opéra').check();
  await page.locator('#services input').first().check();
  await page.locator('#slots button').first().waitFor();
  await page.locator('#slots button').first().click();
  await page.locator('#details').getByLabel('Votre nom').fill('Camille Client');
  await page.locator('#details').getByLabel('Téléphone', { exact: true }).fill('06 12');
  await page.getByRole('button', { name: 'Réserver', exact: true }).click();
  await onlyFrench(page, page.locator('#details .field-error'), 'téléphone', 'booking, bad phone');
  await shot(page, o.out, 'french-1-booking');
  noErrors(page);

  // 2. The walk-in line: no name (the contact is free text: a phone or an email, any form).
  const line = await frenchPage(ctx);
  await line.goto(o.base + '/line/?store=paris-opera');
  await line.getByRole('button', { name: 'Rejoindre la file' }).click();
  await onlyFrench(line, line.locator('.field-error'), /\S/, 'line, no name');
  await shot(line, o.out, 'french-2-line');
  noErrors(line);

  // 3. The survey: the score, then the second question sent unanswered.
  if (SURVEY) {
    const survey = await frenchPage(ctx);
    await survey.goto(o.base + '/survey/#' + SURVEY);
    await survey.locator('#s-sat-scale [data-score="4"]').click();
    await survey.getByRole('button', { name: 'Envoyer' }).click();
    await onlyFrench(survey, survey.locator('.field-error'), 'facile', 'survey, second question unanswered');
    noErrors(survey);
  }

  // 3b. The manage page of a booking: an empty message to the store.
  if (MANAGE) {
    const manage = await frenchPage(ctx);
    await manage.goto(o.base + '/manage/#' + MANAGE);
    await manage.locator('#m-write button[type="submit"]').click();
    await onlyFrench(manage, manage.locator('#m-write .field-error'), /\S/, 'manage page, empty message');
    await shot(manage, o.out, 'french-2b-manage');
    noErrors(manage);
  }

  // 4. Staff sign-in: no email, then a wrong password.
  const tab = await frenchPage(ctx, TABLET);
  await tab.goto(o.base + '/staff/');
  await tab.getByRole('button', { name: 'Se connecter' }).click();
  await onlyFrench(tab, tab.locator('.field-error'), 'adresse e-mail', 'sign-in, no email');
  await tab.getByLabel('E-mail').fill('specialist@carnet.test');
  await tab.getByLabel('Mot de passe').fill('wrong-password');
  await tab.getByRole('button', { name: 'Se connecter' }).click();
  await onlyFrench(tab, tab.locator('.field-error'), 'ne correspondent pas', 'sign-in, wrong password');
  await shot(tab, o.out, 'french-3-signin');
  await tab.getByLabel('Mot de passe').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Se connecter' }).click();
  await tab.locator('#nav').waitFor();

  // 5. Check-in: an unknown code; a walk-in without a name.
  await tab.goto(o.base + '/staff/#checkin');
  await tab.getByLabel('Code de confirmation ou nom').fill('ZZZZZZ');
  await tab.getByRole('button', { name: 'Chercher' }).click();
  await onlyFrench(tab, tab.locator('.field-error, #status, #checkin-result'), /\S/, 'check-in, unknown code');
  await tab.getByRole('button', { name: 'Ajouter un client sans rendez-vous' }).click();
  await onlyFrench(tab, tab.locator('.field-error'), /\S/, 'walk-in, no name');
  await shot(tab, o.out, 'french-4-checkin');

  // 6. Devices: a search that is no serial, IMEI, repair, email or phone.
  await tab.goto(o.base + '/staff/#device');
  await tab.getByLabel('Série, IMEI, n° de réparation, e-mail ou téléphone').fill('??');
  await tab.getByLabel('Série, IMEI, n° de réparation, e-mail ou téléphone').press('Enter');
  await onlyFrench(tab, tab.locator('.field-error, #status, .notice'), /\S/, 'device search, bad query');

  // 6b. An unknown device offers its record: saved without a model. A repair opened empty.
  await tab.goto(o.base + '/staff/#device/C02FRZZZZ001');
  await tab.getByLabel('Modèle').waitFor();
  await tab.getByRole('button', { name: 'Enregistrer', exact: true }).click();
  await onlyFrench(tab, tab.locator('.field-error, #status'), /\S/, 'new device, no model');
  await tab.goto(o.base + '/staff/#repairs');
  await tab.getByRole('button', { name: 'Ouvrir une réparation' }).click();
  await onlyFrench(tab, tab.locator('#repair-open .field-error, #status'), /\S/, 'repair order, empty');
  await shot(tab, o.out, 'french-4b-repair');

  // 7. The PIN form: too short, too easy, wrong password; then a good one.
  await tab.goto(o.base + '/staff/#pin');
  const pin = tab.getByLabel('Nouveau code PIN (4 à 6 chiffres)');
  const pw = tab.getByLabel('Votre mot de passe');
  const save = tab.getByRole('button', { name: 'Enregistrer le code PIN' });
  await pin.fill('12');
  await pw.fill('carnet-demo');
  await save.click();
  await onlyFrench(tab, tab.locator('.field-error'), '4 à 6 chiffres', 'PIN, too short');
  await pin.fill('1234');
  await save.click();
  await onlyFrench(tab, tab.locator('.field-error'), 'trop facile', 'PIN, too easy');
  await pin.fill('2580');
  await pw.fill('not-my-password');
  await save.click();
  await onlyFrench(tab, tab.locator('.field-error'), /\S/, 'PIN, wrong password');
  await shot(tab, o.out, 'french-5-pin');
  await pw.fill('carnet-demo');
  await save.click();
  await expectText(tab.locator('#status'), 'enregistré', 'the PIN is set');

  // 8. The shared tablet: Switch staff locks the session; a colleague's wrong PIN is refused in
  // French; the right one opens it again.
  await tab.getByRole('button', { name: 'Changer d’utilisateur' }).click();
  await expectText(tab.locator('main h1'), 'Qui utilise cette tablette', 'the lock screen lists who signed in here');
  await tab.locator('.lock-people button').first().click();
  await tab.locator('#lock-pin').fill('9999');
  await tab.getByRole('button', { name: 'Déverrouiller' }).click();
  await onlyFrench(tab, tab.locator('.field-error'), 'pas le bon', 'lock screen, wrong PIN');
  await shot(tab, o.out, 'french-6-lock');
  await tab.locator('#lock-pin').fill('2580');
  await tab.getByRole('button', { name: 'Déverrouiller' }).click();
  await tab.locator('#nav').waitFor();
  check(await tab.locator('#nav').isVisible(), 'the right PIN opens the session again');
  // The header with its Switch staff button fits a phone.
  await tab.setViewportSize(PHONE);
  await shot(tab, o.out, 'french-7-phone');
  check(await tab.evaluate(() => [...document.querySelectorAll('.topbar > *')]
    .every((e) => e.getBoundingClientRect().right <= window.innerWidth)),
  'the top bar fits a 390 px wide phone');
  noErrors(tab);

  // The API agrees: the PIN was set for the specialist, who is signed in again.
  const api = await staffApi(o.base, 'specialist@carnet.test');
  check((await api.get('/api/auth/me')).name.length > 0, 'the specialist still signs in with the password');
});
