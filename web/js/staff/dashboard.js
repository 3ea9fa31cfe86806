// The manager's dashboard over a chosen range of local dates (7, 30 or 90 days, or custom): the
// floor report (bookings, no-shows, waits and service times as the database measured them),
// satisfaction, the repair figures and the per-staff table, each figure beside the period before
// of the same length with a change arrow, and "n = 12" under every percentage (a percentage of
// nothing is shown as "—", never "100 %"). Every table has its CSV (the same report with
// ?format=csv). Admins also get the chain: every store's headline figures and the total.
// Every request of a range goes out at once, so the page costs one round trip.
import { get } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, fmtDay, localDate, addDays, errorText } from '../ui.js';
import { barChart, lineChart } from '../charts.js';

const PRESETS = [7, 30, 90];
const DEFAULT_DAYS = 7;
// Waits and service times arrive in seconds; minutes read better, with a decimal under ten.
const SHORT_S = 600;

/** Seconds -> minutes for display: "—" when nothing was measured. */
export function minutes(s) {
  if (s === null || s === undefined) return '—';
  return s < SHORT_S ? String(Math.round(s / 6) / 10) : String(Math.round(s / 60));
}
const minutesValue = (s) => (s === null || s === undefined ? 0 : Number(minutes(s)));
const pct = (v) => (v === null || v === undefined ? '—' : `${Math.round(v)}%`);
const num = (v) => (v === null || v === undefined ? '—' : String(v));
const pctOf = (part, n) => (n ? (100 * part) / n : null);

/** The arrow between a value and the one of the period before; no judgement of good or bad. */
function change(now, before) {
  if (now === null || now === undefined || before === null || before === undefined) return null;
  if (Number(now) > Number(before)) return { arrow: '▲', word: t('dash.up') };
  if (Number(now) < Number(before)) return { arrow: '▼', word: t('dash.down') };
  return { arrow: '=', word: t('dash.same') };
}

/**
 * One figure: its value, the period before with a change arrow, and for a percentage or a median
 * its sample size. Without beforeShown (a figure of one day, not of a period), no comparison.
 */
function figure({ label, id, value, shown, before, beforeShown, n, showN }) {
  const c = change(value, before);
  return h('div', { class: 'kpi', id },
    h('div', { class: 'v' }, shown),
    h('div', { class: 'k' }, label),
    showN ? h('div', { class: 'n' }, `n = ${n ?? 0}`) : null,
    beforeShown === undefined ? null : h('div', { class: 'p' },
      c ? h('span', { class: 'arrow', 'aria-label': c.word, title: c.word }, c.arrow) : null,
      ` ${t('dash.before')} ${beforeShown}`));
}

function chartCard(title, chart, id) {
  return h('section', { class: 'card', id }, h('h2', null, title), chart || h('p', { class: 'muted' }, t('dash.nodata')));
}

function csvLink(url, id) {
  const sep = url.includes('?') ? '&' : '?';
  return h('a', { class: 'csv-link', id, href: `${url}${sep}format=csv`, download: '' }, t('dash.csv'));
}

/** A table inside its own scroller, so a wide one never widens the page. */
function table(caption, head, rows, id) {
  return h('div', { class: 'table-scroll' },
    h('table', { class: 'dash-table', id },
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', null, h('tr', null, head.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows)));
}

/** Calls out of turn of a staff row (or its period before): "1 (50%)", or a dash without calls. */
const overrides = (x) => (x.calls ? `${x.overrides} (${pct(x.override_pct)})` : '—');

/** A cell with a value, the period before and, for a percentage, its n. */
function cell(shown, beforeShown, n) {
  return h('td', null,
    h('div', { class: 'cv' }, shown),
    n !== undefined ? h('div', { class: 'n' }, `n = ${n ?? 0}`) : null,
    h('div', { class: 'p' }, `${t('dash.before')} ${beforeShown}`));
}

const REPAIR_LABELS = {
  open: 'dash.r.open',
  at_risk: 'dash.r.at_risk',
  awaiting_approval: 'dash.r.awaiting_approval',
  awaiting_parts: 'dash.r.awaiting_parts',
  turnaround_median_h: 'dash.r.turnaround',
  approval_pct: 'dash.r.approval',
  first_visit_pct: 'dash.r.first_visit',
};

function repairShown(f, v) {
  if (f.figure.endsWith('_pct')) return pct(v);
  if (f.figure.endsWith('_median_h')) return v === null ? '—' : `${v} h`;
  return num(v);
}

function rangeChooser(range, today, onChoose) {
  const days = (range.from && range.to) ? Math.round((Date.parse(range.to) - Date.parse(range.from)) / 86400000) + 1 : DEFAULT_DAYS;
  const isPreset = range.to === today && PRESETS.includes(days);
  const from = h('input', { type: 'date', id: 'range-from', value: range.from, max: today, required: true });
  const to = h('input', { type: 'date', id: 'range-to', value: range.to, max: today, required: true });
  return h('form', {
    class: 'range', id: 'range',
    onsubmit: (e) => { e.preventDefault(); onChoose({ from: from.value, to: to.value }); },
  },
  h('div', { class: 'presets', role: 'group', 'aria-label': t('dash.range') },
    PRESETS.map((n) => h('button', {
      type: 'button', 'aria-pressed': String(isPreset && days === n),
      onclick: () => onChoose({ from: addDays(today, 1 - n), to: today }),
    }, t('dash.lastn', { n })))),
  h('span', { class: 'date-pick' }, h('label', { for: 'range-from' }, t('dash.from')), from),
  h('span', { class: 'date-pick' }, h('label', { for: 'range-to' }, t('dash.to')), to),
  h('button', { type: 'submit', class: 'secondary' }, t('dash.apply')));
}

/** Draws the dashboard of `range` in `body`; `current()` false once a later range was chosen,
 * so a slow answer never replaces a newer one. */
async function load(body, session, range, current) {
  const store = session.store;
  const tz = store.timezone;
  const q = `from=${range.from}&to=${range.to}`;
  const base = `/api/stores/${store.id}/reports`;
  const admin = !!(session.me && session.me.admin);
  fill(body, h('p', { class: 'muted' }, t('loading')));
  let floor, queue, sat, repairs, staff, chain, promises, chainPromises;
  try {
    [floor, queue, sat, repairs, staff, chain, promises, chainPromises] = await Promise.all([
      get(`${base}/floor?${q}`),
      get(`/api/stores/${store.id}/queue`),
      get(`${base}/satisfaction?${q}`),
      get(`${base}/repairs?${q}`),
      get(`${base}/staff?${q}`),
      admin ? get(`/api/reports/chain?${q}`) : null,
      get(`${base}/promises?${q}`),
      admin ? get(`/api/reports/promises?${q}`) : null,
    ]);
  } catch (err) {
    if (!current()) return;
    // A bad custom range: the server names the field; show its words beside the chooser.
    const RANGE_ERRORS = { from: () => `${t('dash.from')}: ${t('dash.err.from')}`, to: () => `${t('dash.to')}: ${t('dash.err.to')}` };
    const mine = RANGE_ERRORS[err.field] ? RANGE_ERRORS[err.field]() : null;
    fill(body, h('p', { class: 'field-error', role: 'alert', id: 'range-error' }, mine || errorText(err, { withField: true })));
    return;
  }
  if (!current()) return;
  const days = floor.days;
  const tot = floor.totals;
  const prev = floor.previous.totals;
  const today = localDate(new Date(), tz);
  const label = (d) => fmtDay(d.day, tz, 'short').split(' ')[0];
  const bars = (f, alt) => days.map((d) => ({ label: label(d), value: f(d), alt }));
  // No-shows among the bookings that were still expected (a cancelled one cannot be missed).
  const expected = tot.bookings - tot.cancelled;
  const expectedBefore = prev.bookings - prev.cancelled;
  const noShow = pctOf(tot.no_shows, expected);
  const noShowBefore = pctOf(prev.no_shows, expectedBefore);
  const measured = days.some((d) => d.wait_mean_s !== null);
  const served = days.some((d) => d.service_mean_s !== null);
  const last = days[days.length - 1];
  const st = sat.totals;
  const stb = sat.previous.totals;
  const mins = (s) => (s === null ? null : minutesValue(s));

  const floorFigs = h('div', { class: 'kpis' },
    figure({ label: range.to === today ? t('dash.today') : t('dash.lastday'), id: 'kpi-today', value: last.bookings, shown: String(last.bookings) }),
    figure({ label: t('dash.bookings'), id: 'kpi-bookings', value: expected, shown: String(expected), before: expectedBefore, beforeShown: String(expectedBefore) }),
    figure({ label: t('dash.noshowrate'), id: 'kpi-noshow', value: noShow, shown: pct(noShow), before: noShowBefore, beforeShown: pct(noShowBefore), n: expected, showN: true }),
    figure({ label: t('dash.waits'), id: 'kpi-wait', value: mins(tot.wait_mean_s), shown: minutes(tot.wait_mean_s), before: mins(prev.wait_mean_s), beforeShown: minutes(prev.wait_mean_s) }),
    figure({ label: t('dash.waitp90'), id: 'kpi-wait90', value: mins(tot.wait_p90_s), shown: minutes(tot.wait_p90_s), before: mins(prev.wait_p90_s), beforeShown: minutes(prev.wait_p90_s) }),
    figure({ label: t('dash.service'), id: 'kpi-service', value: mins(tot.service_mean_s), shown: minutes(tot.service_mean_s), before: mins(prev.service_mean_s), beforeShown: minutes(prev.service_mean_s) }),
    figure({ label: t('dash.served'), id: 'kpi-served', value: tot.served, shown: String(tot.served), before: prev.served, beforeShown: String(prev.served) }),
    figure({ label: t('dash.satisfaction'), id: 'kpi-csat', value: st.csat, shown: pct(st.csat), before: stb.csat, beforeShown: pct(stb.csat), n: st.n, showN: true }),
    h('div', { class: 'kpi', id: 'kpi-waiting' }, h('div', { class: 'v' }, String(queue.waiting.length)), h('div', { class: 'k' }, t('dash.waitingnow'))));

  const repairFigs = h('div', { class: 'figs', id: 'repair-figures' },
    repairs.figures.map((f) => figure({
      label: t(REPAIR_LABELS[f.figure]), id: `fig-${f.figure}`, value: f.value,
      shown: repairShown(f, f.value), before: f.previous, beforeShown: repairShown(f, f.previous),
      n: f.n, showN: f.n !== null,
    })));

  // Promises kept (promise.sql): kept of the promises that fell in the range, with n, and how
  // many the bench's prediction moved early.
  const pp = promises.previous;
  const promiseFigs = h('div', { class: 'figs', id: 'promise-figures' },
    figure({ label: t('dash.p.kept'), id: 'fig-promises-kept', value: promises.kept_pct, shown: pct(promises.kept_pct), before: pp.kept_pct, beforeShown: pct(pp.kept_pct), n: promises.n, showN: true }),
    figure({ label: t('dash.p.moved'), id: 'fig-promises-moved', value: promises.moved, shown: num(promises.moved), before: pp.moved, beforeShown: num(pp.moved) }));
  const chainPromiseSection = chainPromises ? h('section', { class: 'card', id: 'chain-promises' },
    h('div', { class: 'card-head' }, h('h2', null, t('dash.p.chain')), csvLink(`/api/reports/promises?${q}`, 'csv-chain-promises')),
    table(t('dash.p.chain'), [t('dash.store'), t('dash.p.kept'), t('dash.p.moved')],
      chainPromises.stores.map((s) => h('tr', { class: s.store_id === null ? 'total' : null },
        h('th', { scope: 'row' }, s.store_id === null ? t('dash.chaintotal') : s.name),
        h('td', null, h('div', { class: 'cv' }, pct(s.kept_pct)), h('div', { class: 'n' }, `n = ${s.n}`)),
        h('td', null, h('div', { class: 'cv' }, num(s.moved))))), 'chain-promises-table')) : null;

  const staffRows = staff.staff.map((s) => h('tr', null,
    h('th', { scope: 'row' }, s.name),
    cell(String(s.served), String(s.previous.served)),
    cell(s.service_median_min === null ? '—' : `${s.service_median_min} min`, s.previous.service_median_min === null ? '—' : `${s.previous.service_median_min} min`),
    cell(pct(s.csat_pct), pct(s.previous.csat_pct), s.csat_n),
    cell(overrides(s), overrides(s.previous), s.calls)));

  const chainSection = chain ? h('section', { class: 'card', id: 'chain' },
    h('div', { class: 'card-head' }, h('h2', null, t('dash.chain')), csvLink(`/api/reports/chain?${q}`, 'csv-chain')),
    table(t('dash.chain'), [t('dash.store'), t('dash.r.open'), t('dash.r.at_risk'), t('dash.r.turnaround'), t('dash.r.approval'), t('dash.r.first_visit'), t('dash.served'), t('dash.satisfaction')],
      chain.stores.map((s) => h('tr', { class: s.store_id === null ? 'total' : null },
        h('th', { scope: 'row' }, s.store_id === null ? t('dash.chaintotal') : s.name),
        cell(num(s.open), num(s.previous.open)),
        cell(num(s.at_risk), num(s.previous.at_risk)),
        cell(s.turnaround_median_h === null ? '—' : `${s.turnaround_median_h} h`, s.previous.turnaround_median_h === null ? '—' : `${s.previous.turnaround_median_h} h`, s.turnaround_n),
        cell(pct(s.approval_pct), pct(s.previous.approval_pct), s.approval_n),
        cell(pct(s.first_visit_pct), pct(s.previous.first_visit_pct), s.first_visit_n),
        cell(num(s.served), num(s.previous.served)),
        cell(pct(s.csat_pct), pct(s.previous.csat_pct), s.csat_n))), 'chain-table')) : null;

  // Weeks of the range, oldest first, whatever order the report uses.
  const weeks = [...sat.weeks].sort((a, b) => (a.week < b.week ? -1 : 1));
  fill(body,
    h('p', { class: 'muted', id: 'range-text' }, t('dash.comparing', {
      from: fmtDay(floor.from, tz, 'date'), to: fmtDay(floor.to, tz, 'date'),
      pfrom: fmtDay(floor.previous.from, tz, 'date'), pto: fmtDay(floor.previous.to, tz, 'date'),
    })),
    h('div', { class: 'card-head' }, h('h2', null, t('dash.floor')), csvLink(`${base}/floor?${q}`, 'csv-floor')),
    floorFigs,
    h('div', { class: 'card-head' }, h('h2', null, t('dash.repairs')), csvLink(`${base}/repairs?${q}`, 'csv-repairs')),
    repairFigs,
    h('div', { class: 'card-head' }, h('h2', null, t('dash.p.title')), csvLink(`${base}/promises?${q}`, 'csv-promises')),
    promiseFigs,
    h('section', { class: 'card', id: 'staff-figures' },
      h('div', { class: 'card-head' }, h('h2', null, t('dash.staff')), csvLink(`${base}/staff?${q}`, 'csv-staff')),
      staff.staff.length
        ? table(t('dash.staff'), [t('dash.name'), t('dash.served'), t('dash.servicemedian'), t('dash.satisfaction'), t('dash.overrides')], staffRows, 'staff-table')
        : h('p', { class: 'muted' }, t('dash.nodata'))),
    chainSection,
    chainPromiseSection,
    h('div', { class: 'charts' },
      chartCard(t('dash.bookings'), barChart(t('dash.bookings'), bars((d) => d.bookings - d.cancelled)), 'ch-bookings'),
      chartCard(t('dash.noshows'), barChart(t('dash.noshows'), bars((d) => d.no_shows, true)), 'ch-noshows'),
      chartCard(t('dash.waits'), measured ? barChart(t('dash.waits'), bars((d) => minutesValue(d.wait_mean_s)), { unit: ' min' }) : null, 'ch-waits'),
      chartCard(t('dash.waitp90'), measured ? lineChart(t('dash.waitp90'), bars((d) => minutesValue(d.wait_p90_s)), { unit: ' min', min: 0 }) : null, 'ch-wait90'),
      chartCard(t('dash.service'), served ? barChart(t('dash.service'), bars((d) => minutesValue(d.service_mean_s)), { unit: ' min' }) : null, 'ch-service'),
      chartCard(t('dash.walkins'), barChart(t('dash.walkins'), bars((d) => d.walk_ins, true)), 'ch-walkins'),
      h('section', { class: 'card', id: 'ch-csat' },
        h('div', { class: 'card-head' }, h('h2', null, `${t('dash.satisfaction')} (CSAT %)`), csvLink(`${base}/satisfaction?${q}`, 'csv-satisfaction')),
        weeks.length ? lineChart('CSAT', weeks.map((w) => ({ label: `${fmtDay(w.week, tz, 'short')} (n = ${w.n})`, value: Math.round(w.csat ?? 0) })), { unit: '%', min: 0 }) : h('p', { class: 'muted' }, t('dash.nodata')))),
    h('details', { class: 'card help', id: 'dash-help' },
      h('summary', null, t('dash.help')),
      h('ul', null, ['dash.help.range', 'dash.help.n', 'dash.help.open', 'dash.help.turnaround', 'dash.help.approval', 'dash.help.first_visit', 'dash.help.promises', 'dash.help.staff', 'dash.help.overrides', 'dash.help.csv']
        .map((k) => h('li', null, t(k))))));
}

export async function render({ el, session }) {
  const store = session.store;
  const tz = store.timezone;
  const today = localDate(new Date(), tz);
  el.append(h('h1', null, `${t('dash.title')} · ${store.name}`));
  const chooser = h('div');
  const body = h('div', { id: 'dash-body' });
  el.append(chooser, body);
  let latest = 0;
  const choose = async (range) => {
    const mine = ++latest;
    fill(chooser, rangeChooser(range, today, choose));
    await load(body, session, range, () => mine === latest);
  };
  await choose({ from: addDays(today, 1 - DEFAULT_DAYS), to: today });
}
