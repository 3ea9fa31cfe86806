// The manager's dashboard: the last seven days of bookings and no-shows, the line and service
// time right now, and satisfaction by week. Every request goes out at once, so the page costs
// one round trip however many charts it has.
import { get } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, fmtDay, localDate, addDays } from '../ui.js';
import { barChart, lineChart } from '../charts.js';

const DAYS = 7;
const WEEKS = 8;

function kpi(label, value, id) {
  return h('div', { class: 'kpi', id }, h('div', { class: 'v' }, String(value)), h('div', { class: 'k' }, label));
}

function chartCard(title, chart) {
  return h('section', { class: 'card' }, h('h2', null, title), chart || h('p', { class: 'muted' }, t('dash.nodata')));
}

export async function render({ el, session }) {
  const store = session.store;
  const tz = store.timezone;
  const today = localDate(new Date(), tz);
  const dates = Array.from({ length: DAYS }, (_, i) => addDays(today, i - DAYS + 1));
  el.append(h('h1', null, `${t('dash.title')} · ${store.name}`));
  const body = h('div', null, h('p', { class: 'muted' }, t('loading')));
  el.append(body);
  const [days, q, sat] = await Promise.all([
    Promise.all(dates.map((d) => get(`/api/stores/${store.id}/appointments?date=${d}`))),
    get(`/api/stores/${store.id}/queue`),
    get(`/api/stores/${store.id}/reports/satisfaction?weeks=${WEEKS}`).catch(() => ({ weeks: [] })),
  ]);
  const per = days.map((d, i) => {
    const a = d.appointments;
    return {
      date: dates[i],
      booked: a.filter((x) => x.status !== 'cancelled').length,
      noShow: a.filter((x) => x.status === 'no_show').length,
    };
  });
  const totalBooked = per.reduce((s, x) => s + x.booked, 0);
  const totalNoShow = per.reduce((s, x) => s + x.noShow, 0);
  const now = Date.now();
  const waits = q.waiting.map((w) => ({ label: `#${w.ticket}`, value: Math.round((now - new Date(w.arrived_at)) / 60000) }));
  // Oldest week first, whatever order the report uses.
  sat.weeks.sort((a, b) => (a.week < b.week ? -1 : 1));
  const lastSat = sat.weeks.filter((w) => w.responses > 0).slice(-1)[0];
  fill(body,
    h('div', { class: 'kpis' },
      kpi(t('dash.visits'), per[per.length - 1].booked, 'kpi-today'),
      kpi(t('dash.noshows7'), totalBooked ? `${Math.round((100 * totalNoShow) / totalBooked)}%` : '—', 'kpi-noshow'),
      kpi(t('dash.service'), Math.round(q.estimate.mean_service_s / 60), 'kpi-service'),
      kpi(t('queue.title'), q.waiting.length, 'kpi-waiting'),
      kpi(t('dash.satisfaction'), lastSat ? `${Math.round(lastSat.csat)}%` : '—', 'kpi-csat')),
    h('div', { class: 'charts' },
      chartCard(t('dash.visits'), barChart(t('dash.visits'), per.map((x) => ({ label: fmtDay(x.date, tz, 'short').split(' ')[0], value: x.booked })))),
      chartCard(t('dash.noshows'), barChart(t('dash.noshows'), per.map((x) => ({ label: fmtDay(x.date, tz, 'short').split(' ')[0], value: x.noShow, alt: true })))),
      chartCard(t('dash.waits'), waits.length ? barChart(t('dash.waits'), waits, { unit: ' min' }) : null),
      chartCard(`${t('dash.satisfaction')} (CSAT %)`, sat.weeks.length ? lineChart('CSAT', sat.weeks.map((w) => ({ label: fmtDay(w.week, tz, 'short'), value: Math.round(w.csat ?? 0) })), { unit: '%', min: 0 }) : null),
      chartCard('NPS', sat.weeks.length ? lineChart('NPS', sat.weeks.map((w) => ({ label: fmtDay(w.week, tz, 'short'), value: Math.round(w.nps ?? 0) })), { min: -100 }) : null)));
}
