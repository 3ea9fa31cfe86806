// A repair's forecast as the bench computed it (schema/api/promise.sql): the risk to its
// promised date as a badge, and the reasons in one line each, so a technician sees why
// ("3 repairs ahead of it for Alex", "part SCR-661 expected Thursday", "glass repairs take 2 d
// typically (n = 14)"). Shared by the ticket, the store's repair list and the bench queue.
import { t } from '../i18n.js';
import { h, fmtDay, fmtDateTime } from '../ui.js';

const HOUR_S = 3600;
const DAY_S = 24 * HOUR_S;
const RISK = { low: 'fc.risk.low', medium: 'fc.risk.medium', high: 'fc.risk.high' };

/** A duration in seconds as "5 h" or "2 d" (days from two days on, rounded to the half). */
export function span(s) {
  if (s === null || s === undefined) return '—';
  if (s >= 2 * DAY_S) return t('fc.days', { n: Math.round((2 * s) / DAY_S) / 2 });
  return t('fc.hours', { n: Math.max(1, Math.round(s / HOUR_S)) });
}

/** The risk badge, or null when there is no promise (or no forecast: ready, or over). */
export function riskBadge(f) {
  if (!f || !f.risk) return null;
  const cls = f.risk === 'high' ? 'bad' : f.risk === 'medium' ? 'warn' : 'ok';
  return h('span', { class: `badge ${cls} fc-risk`, dataset: { risk: f.risk } }, t(RISK[f.risk]));
}

function reason(x, tz) {
  switch (x.code) {
    case 'queue':
      return x.technician ? t('fc.queue', { n: x.ahead, who: x.technician }) : t('fc.queue.bench', { n: x.ahead });
    case 'part':
      return t('fc.part', { part: x.description ? `${x.part_number} (${x.description})` : x.part_number, when: fmtDay(x.expected_at, tz) });
    case 'history':
      return t('fc.history', { kind: x.kind, state: t('rs.' + x.from_state), time: span(x.median_s), p80: span(x.p80_s), n: x.n });
    case 'default':
      return t('fc.default', { kind: x.kind, state: t('rs.' + x.from_state), time: span(x.median_s), n: x.n });
    default:
      return x.code;
  }
}

/** The reasons as a list. */
export function reasonList(f, tz, id) {
  if (!f) return null;
  return h('ul', { class: 'fc-reasons', id }, f.reasons.map((x) => h('li', { dataset: { code: x.code } }, reason(x, tz))));
}

/** The ticket's block: predicted ready time, the risk, and why. */
export function forecastView(f, tz) {
  if (!f) return h('p', { class: 'muted', id: 'rp-forecast' }, t('fc.none'));
  return h('div', { id: 'rp-forecast', class: 'fc' },
    h('p', null, riskBadge(f), ' ', t('fc.predicted', { when: fmtDateTime(f.predicted_at, tz) })),
    reasonList(f, tz, 'rp-forecast-reasons'));
}
