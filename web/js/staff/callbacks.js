// Call-backs: the store's list of customers to call back after a night of observation (who,
// when, the repair, the device, what the night's diagnostics found) or who asked from their
// estimate to be called, earliest first, late ones flagged; one tap records how the call went. The list follows the store's event stream and is
// read again every minute, since "late" is decided by the server from the time of reading.
// Also the observation card of a repair ticket (observationCard): keep the repair overnight with
// a call-back time in the store's time zone, end it, and the night's sessions as a timeline.
import { get, post } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, fmtDateTime, fmtTime, announce, errorText, showFormError, clearFormErrors, localDate, addDays } from '../ui.js';
import { follow, debounce } from '../live.js';

const REREAD_MS = 60000;
const OUTCOMES = ['reached', 'no_answer', 'left_message'];
const DEFAULT_HOUR = '10:00';

/** The offset of time zone `tz` at instant `ms`, in ms (local wall time minus UTC). */
function tzOffset(ms, tz) {
  const p = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(ms));
  const g = (k) => Number(p.find((x) => x.type === k).value);
  return Date.UTC(g('year'), g('month') - 1, g('day'), g('hour'), g('minute'), g('second')) - ms;
}

/** 'YYYY-MM-DDTHH:MM' read as the wall time of the store -> ISO 8601 (UTC). */
export function storeTimeToIso(value, tz) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value || '');
  if (!m) return value || null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let ms = wall - tzOffset(wall, tz);
  ms = wall - tzOffset(ms, tz);
  return new Date(ms).toISOString();
}

function results(res) {
  if (!res || !res.sessions) return h('span', { class: 'muted' }, t('cb.noresults'));
  return h('span', null, t('cb.results', { n: res.sessions, passed: res.passed, failed: res.failed }),
    res.failed_tests && res.failed_tests.length
      ? [' · ', h('strong', { class: 'cb-failed' }, t('cb.failedtests', { tests: res.failed_tests.join(', ') }))] : null);
}

/** The outcome buttons (one tap each) and an optional note; `done()` after it is recorded. */
function outcomeForm(repairId, done) {
  const form = h('form', { class: 'cb-done', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: `cb-note-${repairId}` }, t('cb.note'), ' ', h('span', { class: 'muted' }, `(${t('optional')})`)),
      h('input', { id: `cb-note-${repairId}`, name: 'note', maxlength: '2000', autocomplete: 'off' })),
    h('div', { class: 'row' }, OUTCOMES.map((o) => h('button', { type: 'submit', class: o === 'reached' ? '' : 'secondary', value: o, dataset: { outcome: o } }, t('cb.' + o)))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const outcome = (e.submitter && e.submitter.value) || 'reached';
    const body = { outcome };
    if (form.elements.note.value.trim()) body.note = form.elements.note.value.trim();
    form.querySelectorAll('button').forEach((b) => { b.disabled = true; });
    try {
      await post(`/api/repairs/${repairId}/callback/done`, body);
      announce(t('cb.recorded'), 'ok');
      done();
    } catch (err) {
      form.querySelectorAll('button').forEach((b) => { b.disabled = false; });
      showFormError(form, err);
    }
  });
  return form;
}

function callbackCard(c, tz, refresh) {
  const who = c.customer || {};
  return h('li', { class: 'card' + (c.overdue ? ' notice bad' : ''), dataset: { repair: String(c.repair_id), overdue: String(c.overdue), kind: c.kind } },
    h('div', { class: 'row' },
      h('strong', { class: 'grow', style: 'font-size:1.3rem' }, fmtDateTime(c.callback_at, tz)),
      c.overdue ? h('span', { class: 'badge bad cb-overdue' }, t('cb.overdue')) : null,
      c.under_observation ? h('span', { class: 'badge warn' }, t('cb.observing')) : null),
    h('div', { class: 'who', style: 'font-size:1.4rem;font-weight:800' }, who.name || t('cb.nocustomer')),
    h('div', { class: 'row' },
      who.phone ? h('a', { class: 'button', href: 'tel:' + who.phone.replace(/[^0-9+]/g, '') }, t('cb.call', { phone: who.phone })) : null,
      who.email ? h('a', { class: 'button secondary', href: 'mailto:' + who.email }, who.email) : null),
    h('dl', { class: 'facts' },
      h('dt', null, t('cb.repair')), h('dd', null, h('a', { href: '#repair/' + c.repair_id }, c.number), ' · ', t('rs.' + c.state)),
      h('dt', null, t('repair.device')), h('dd', null, `${c.device.model || ''} ${c.device.serial}`.trim()),
      c.kind === 'estimate'
        ? [h('dt', null, t('cb.estimate')), h('dd', { class: 'cb-estimate' }, t('cb.estimate.asked', { when: fmtDateTime(c.requested_at, tz) })),
          c.customer_note ? [h('dt', null, t('cb.customernote')), h('dd', null, c.customer_note)] : null]
        : [h('dt', null, t('cb.night')), h('dd', null, results(c.results))],
      c.note ? [h('dt', null, t('cb.watch')), h('dd', null, c.note)] : null),
    outcomeForm(c.repair_id, refresh));
}

export async function render({ el, session }) {
  const store = session.store;
  const tz = store.timezone;
  const liveDot = h('span', { class: 'live-dot', 'data-state': 'off' }, t('live.off'));
  const list = h('div', { id: 'callbacks', 'aria-live': 'polite' }, h('p', { class: 'muted' }, t('loading')));
  el.append(h('div', { class: 'row' }, h('h1', { class: 'grow' }, t('cb.title')), liveDot), list);

  async function refresh() {
    try {
      const r = await get(`/api/stores/${store.id}/callbacks`);
      if (!r.callbacks.length) {
        fill(list, h('p', { class: 'muted', id: 'cb-empty' }, t('cb.none')));
        return;
      }
      const late = r.callbacks.filter((c) => c.overdue).length;
      fill(list,
        late ? h('p', { class: 'notice bad', id: 'cb-late' }, t('cb.late', { n: late })) : null,
        h('ol', { class: 'plain' }, r.callbacks.map((c) => callbackCard(c, tz, refresh))));
    } catch (e) {
      fill(list, h('p', { class: 'error' }, errorText(e)));
    }
  }

  await refresh();
  const again = debounce(refresh);
  const timer = setInterval(again, REREAD_MS);
  const stop = follow(`/api/stores/${store.id}/events`, (type) => { if (type === 'callback_done') again(); }, {
    onState: (on) => { liveDot.dataset.state = on ? 'on' : 'off'; liveDot.textContent = t(on ? 'live.on' : 'live.off'); },
  });
  return () => { clearInterval(timer); stop(); };
}

function sessionItem(s, tz) {
  return h('li', { dataset: { kind: 'diagnostic', session: String(s.session_id) } },
    h('div', { class: 'when' }, fmtDateTime(s.logged_at, tz), s.tool ? ` · ${s.tool}` : ` · ${t('cb.manual')}`),
    h('strong', null, t('cb.sessionresult', { passed: s.passed, failed: s.failed })),
    s.summary ? h('div', null, s.summary) : null,
    h('div', { class: 'row' }, (s.results || []).map((x) => h('span', null, `${x.test} `,
      h('span', { class: 'badge ' + (x.passed ? 'ok' : 'bad') }, t(x.passed ? 'cb.pass' : 'cb.fail')), x.note ? ` ${x.note}` : ''))));
}

/**
 * The observation card of a repair ticket: `r` is the repair (GET /api/repairs/{id}), `canStart`
 * whether the person may keep it overnight (technician or manager), `reload()` redraws the ticket.
 */
export function observationCard(r, session, canStart, reload) {
  const tz = session.store.timezone;
  const card = h('section', { class: 'card', id: 'rp-observation' }, h('h2', null, t('cb.observation')), h('p', { class: 'muted' }, t('loading')));
  get(`/api/repairs/${r.id}/observation`).then((o) => {
    const cur = o.observations[0];
    const open = o.under_observation;
    const parts = [h('h2', null, t('cb.observation'))];
    if (cur && cur.callback.state === 'pending') {
      parts.push(h('p', { id: 'obs-callback' }, t('cb.promised', { when: fmtDateTime(cur.callback.at, tz) }), ' ',
        cur.callback.overdue ? h('span', { class: 'badge bad' }, t('cb.overdue')) : null));
      parts.push(outcomeForm(r.id, reload));
    } else if (cur && cur.callback.state === 'done') {
      parts.push(h('p', { id: 'obs-callback' }, t('cb.made', { when: fmtDateTime(cur.callback.done_at, tz), outcome: t('cb.' + cur.callback.outcome) })));
    }
    if (open && canStart) {
      parts.push(h('p', null, h('button', { type: 'button', class: 'secondary', id: 'obs-end', onclick: async () => {
        try { await post(`/api/repairs/${r.id}/observation/end`); reload(); } catch (e) { announce(errorText(e), 'error'); }
      } }, t('cb.end'))));
    }
    if (!open && canStart && r.allowed_moves.length > 0) parts.push(startForm(r, tz, reload));
    const sessions = o.observations.flatMap((x) => x.sessions.map((s) => ({ ...s, obs: x.id })));
    if (o.observations.length) {
      parts.push(h('h3', null, t('cb.timeline')),
        sessions.length
          ? h('ol', { class: 'timeline', id: 'obs-timeline' }, sessions.slice().reverse().map((s) => sessionItem(s, tz)))
          : h('p', { class: 'muted', id: 'obs-timeline' }, t('cb.nosessions')));
    }
    fill(card, parts);
  }).catch((e) => fill(card, h('h2', null, t('cb.observation')), h('p', { class: 'error' }, errorText(e))));
  return card;
}

function startForm(r, tz, reload) {
  const tomorrow = addDays(localDate(new Date(), tz), 1);
  const form = h('form', { id: 'obs-start', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'obs-at' }, t('cb.when', { tz })),
      h('input', { id: 'obs-at', name: 'callback_at', type: 'datetime-local', required: true, value: `${tomorrow}T${DEFAULT_HOUR}` })),
    h('div', { class: 'field' }, h('label', { for: 'obs-note' }, t('cb.watch'), ' ', h('span', { class: 'muted' }, `(${t('optional')})`)),
      h('input', { id: 'obs-note', name: 'note', maxlength: '2000', autocomplete: 'off' })),
    h('button', { type: 'submit' }, t('cb.start')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const f = form.elements;
    const body = { callback_at: storeTimeToIso(f.callback_at.value, tz) };
    if (f.note.value.trim()) body.note = f.note.value.trim();
    try {
      const o = await post(`/api/repairs/${r.id}/observation`, body);
      announce(t('cb.started', { time: fmtTime(o.observations[0].callback.at, tz) }), 'ok');
      reload();
    } catch (err) { showFormError(form, err); }
  });
  return form;
}
