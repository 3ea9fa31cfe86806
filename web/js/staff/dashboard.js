// The manager's dashboard: the floor report of the last seven local days (bookings, no-shows,
// waits and service times as the database measured them, GET .../reports/floor), the line right
// now, and satisfaction by week. Every request goes out at once, so the page costs one round
// trip however many charts it has.
import { get } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, fmtDay } from '../ui.js';
import { barChart, lineChart } from '../charts.js';

const DAYS = 7;
const WEEKS = 8;
// Waits and service times arrive in seconds; minutes read better, with a decimal under ten.
const SHORT_S = 600;

/** Seconds -> minutes for display: "—" when nothing was measured. */
export function minutes(s) {
  if (s === null || s === undefined) return '—';
  return s < SHORT_S ? String(Math.round(s / 6) / 10) : String(Math.round(s / 60));
}
const minutesValue = (s) => (s === null || s === undefined ? 0 : Number(minutes(s)));

function kpi(label, value, id) {
  return h('div', { class: 'kpi', id }, h('div', { class: 'v' }, String(value)), h('div', { class: 'k' }, label));
}

function chartCard(title, chart, id) {
  return h('section', { class: 'card', id }, h('h2', null, title), chart || h('p', { class: 'muted' }, t('dash.nodata')));
}

export async function render({ el, session }) {
  const store = session.store;
  const tz = store.timezone;
  el.append(h('h1', null, `${t('dash.title')} · ${store.name}`));
  const body = h('div', null, h('p', { class: 'muted' }, t('loading')));
  el.append(body);
  const [floor, q, sat] = await Promise.all([
    get(`/api/stores/${store.id}/reports/floor?days=${DAYS}`),
    get(`/api/stores/${store.id}/queue`),
    get(`/api/stores/${store.id}/reports/satisfaction?weeks=${WEEKS}`).catch(() => ({ weeks: [] })),
  ]);
  const days = floor.days;
  const tot = floor.totals;
  const label = (d) => fmtDay(d.day, tz, 'short').split(' ')[0];
  const bars = (f, alt) => days.map((d) => ({ label: label(d), value: f(d), alt }));
  // No-shows among the bookings that were still expected (a cancelled one cannot be missed).
  const expected = tot.bookings - tot.cancelled;
  const measured = days.some((d) => d.wait_mean_s !== null);
  const served = days.some((d) => d.service_mean_s !== null);
  // Oldest week first, whatever order the report uses.
  sat.weeks.sort((a, b) => (a.week < b.week ? -1 : 1));
  const lastSat = sat.weeks.filter((w) => w.responses > 0).slice(-1)[0];
  fill(body,
    h('div', { class: 'kpis' },
      kpi(t('dash.today'), days[days.length - 1].bookings, 'kpi-today'),
      kpi(t('dash.noshows7'), expected ? `${Math.round((100 * tot.no_shows) / expected)}%` : '—', 'kpi-noshow'),
      kpi(t('dash.waits'), minutes(tot.wait_mean_s), 'kpi-wait'),
      kpi(t('dash.waitp90'), minutes(tot.wait_p90_s), 'kpi-wait90'),
      kpi(t('dash.service'), minutes(tot.service_mean_s), 'kpi-service'),
      kpi(t('queue.title'), q.waiting.length, 'kpi-waiting'),
      kpi(t('dash.satisfaction'), lastSat ? `${Math.round(lastSat.csat)}%` : '—', 'kpi-csat')),
    h('div', { class: 'charts' },
      chartCard(t('dash.bookings'), barChart(t('dash.bookings'), bars((d) => d.bookings - d.cancelled)), 'ch-bookings'),
      chartCard(t('dash.noshows'), barChart(t('dash.noshows'), bars((d) => d.no_shows, true)), 'ch-noshows'),
      chartCard(t('dash.waits'), measured ? barChart(t('dash.waits'), bars((d) => minutesValue(d.wait_mean_s)), { unit: ' min' }) : null, 'ch-waits'),
      chartCard(t('dash.waitp90'), measured ? lineChart(t('dash.waitp90'), bars((d) => minutesValue(d.wait_p90_s)), { unit: ' min', min: 0 }) : null, 'ch-wait90'),
      chartCard(t('dash.service'), served ? barChart(t('dash.service'), bars((d) => minutesValue(d.service_mean_s)), { unit: ' min' }) : null, 'ch-service'),
      chartCard(t('dash.walkins'), barChart(t('dash.walkins'), bars((d) => d.walk_ins, true)), 'ch-walkins'),
      chartCard(`${t('dash.satisfaction')} (CSAT %)`, sat.weeks.length ? lineChart('CSAT', sat.weeks.map((w) => ({ label: fmtDay(w.week, tz, 'short'), value: Math.round(w.csat ?? 0) })), { unit: '%', min: 0 }) : null, 'ch-csat'),
      chartCard('NPS', sat.weeks.length ? lineChart('NPS', sat.weeks.map((w) => ({ label: fmtDay(w.week, tz, 'short'), value: Math.round(w.nps ?? 0) })), { min: -100 }) : null, 'ch-nps')));
}
