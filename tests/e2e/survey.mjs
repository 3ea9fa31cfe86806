// The survey after a visit, on a phone whose browser speaks French (CARNET_E2E_LOCALE=fr-FR):
// the page picks French by itself, takes one tap per question, and the link then works no more.
// The manager's dashboard then shows the week's satisfaction.
import { run, newPage, shot, check, expectText, noErrors, staffApi, TABLET } from './lib.mjs';

const TOKEN = process.env.CARNET_E2E_SURVEY_TOKEN;

run('survey', async (ctx, o) => {
  check((TOKEN || '').length >= 32, 'a survey link is given');
  const manager = await staffApi(o.base, 'manager@carnet.test');
  const responses = async () => (await manager.get('/api/stores/1/reports/satisfaction?weeks=1')).weeks.reduce((n, w) => n + w.responses, 0);
  const before = await responses();
  const phone = await newPage(ctx);
  // The link as the message carries it: /survey/#TOKEN.
  await phone.goto(o.base + '/survey/#' + TOKEN);
  await phone.waitForURL(/\/survey\/#/);
  await expectText(phone.locator('h1'), 'Votre avis', 'the survey is in French, from the browser’s language');
  check(await phone.evaluate(() => document.documentElement.lang === 'fr'), 'the document language is fr');
  await expectText(phone.locator('#s-store'), 'Carnet Paris Opéra', 'it names the store');
  // Sending without answering names the first question.
  await phone.getByRole('button', { name: 'Envoyer' }).click();
  await expectText(phone.locator('.field-error'), 'satisfait', 'an unanswered question is pointed out');
  await shot(phone, o.out, 'survey-1-form-fr');
  await phone.locator('label[for="satisfaction-5"]').click();
  await phone.locator('label[for="effort-2"]').click();
  await phone.locator('label[for="recommendation-9"]').click();
  await phone.getByLabel(/Autre chose/).fill('Très rapide, merci !');
  await phone.getByRole('button', { name: 'Envoyer' }).click();
  await expectText(phone.locator('#s-thanks'), 'Merci', 'the answer is thanked');
  await shot(phone, o.out, 'survey-2-thanks-fr');
  await phone.reload();
  await expectText(phone.locator('#s-thanks'), 'Merci', 'the link, opened again, says it was answered');
  check(await phone.locator('#s-form').isHidden(), 'and offers no second answer');
  check((await responses()) === before + 1, 'the store’s satisfaction report counts one more answer this week');

  const tab = await newPage(ctx, { viewport: TABLET });
  await tab.goto(o.base + '/staff/#dashboard');
  await tab.getByLabel('E-mail').fill('manager@carnet.test');
  await tab.getByLabel('Mot de passe').fill('carnet-demo');
  await tab.getByRole('button', { name: 'Se connecter' }).click();
  await expectText(tab.locator('#kpi-csat .v'), /^\d+%$/, 'the dashboard shows this week’s satisfaction');
  check((await tab.locator('svg.chart').count()) >= 4, 'with the satisfaction charts');
  await shot(tab, o.out, 'survey-3-dashboard-fr');
  noErrors(phone);
  noErrors(tab);
});
