// A repair by its private status link: /repair/#TOKEN. (The estimate's approval link has its own
// page: /estimate/, web/js/estimate.js.)
import { get, post, linkToken } from './api.js';
import { initI18n, onLangChange, t } from './i18n.js';
import { $, h, fill, announce, errorText, fmtDateTime, showFormError, clearFormErrors, showPageError } from './ui.js';
import { follow, debounce } from './live.js';
import { formatMoney as money } from './money.js';
import { downloadPassport } from './passport_file.js';

const token = linkToken();
const base = `/api/repair-status/${encodeURIComponent(token)}`;
const FLOW = ['intake', 'diagnosing', 'awaiting_approval', 'awaiting_parts', 'repairing', 'testing', 'ready', 'collected'];
const KIND = { ready: 'ok', collected: 'ok', cancelled: 'bad', returned_unrepaired: 'warn', awaiting_approval: 'warn' };
let rep = null;
// The conversation with the store: the status link opens the repair's thread too.
let thread = null;
const threadUrl = `/api/messages/${encodeURIComponent(token)}`;


function draw() {
  if (!rep) return;
  const tz = rep.store.timezone;
  $('#loading').hidden = true;
  $('#r-card').hidden = false;
  $('#r-state').textContent = t('rs.' + rep.state);
  $('#r-state').className = 'badge ' + (KIND[rep.state] || '');
  $('#r-device').textContent = `${rep.device.model || ''} ··${rep.device.serial_end}`;
  $('#r-store').textContent = rep.store.name;
  $('#r-promised').textContent = rep.promised_at ? fmtDateTime(rep.promised_at, tz) : '—';
  const e = rep.estimate;
  $('#r-estimate').textContent = e ? `${money(e.amount_cents, e.currency)}${e.state === 'approved' ? ' ✓' : e.state === 'declined' ? ' ✗' : ''}` : '—';
  // Progress: the states this repair went through, then the ones still ahead on the usual path.
  const seen = (rep.history || []).map((x) => x.state);
  const terminalOff = ['cancelled', 'returned_unrepaired'].includes(rep.state);
  const ahead = terminalOff ? [] : FLOW.slice(FLOW.indexOf(rep.state) + 1).filter((s) => s !== 'awaiting_parts' && s !== 'awaiting_approval');
  fill($('#r-steps'),
    (rep.history || []).map((x, i, all) => h('li', { class: i === all.length - 1 ? 'current' : 'done' },
      t('rs.' + x.state), h('span', { class: 'muted' }, ' · ' + fmtDateTime(x.at, tz)))),
    ahead.filter((s) => !seen.includes(s)).map((s) => h('li', null, t('rs.' + s))));
  $('#r-progress').hidden = false;
  if (thread) {
    $('#r-messages').hidden = false;
    $('#r-write').hidden = false;
    fill($('#r-list'), thread.messages.length ? thread.messages.map((m) => h('li', { class: m.author === 'customer' ? 'mine' : '' }, m.body,
      h('span', { class: 'meta' }, `${m.author === 'staff' ? (m.staff_name || thread.store) + ' · ' : ''}${fmtDateTime(m.created_at, tz)}`)))
      : h('li', { class: 'muted' }, t('repair.nomessages')));
  } else {
    const msgs = rep.messages || [];
    $('#r-messages').hidden = !msgs.length;
    fill($('#r-list'), msgs.map((m) => h('li', { class: m.from === 'customer' ? 'mine' : '' }, m.text,
      h('span', { class: 'meta' }, fmtDateTime(m.at, tz)))));
  }
}

async function start() {
  initI18n();
  onLangChange(draw);
  // The device's signed history, to keep or to hand to a later buyer (checked at /passport/).
  $('#r-passport').addEventListener('click', async () => {
    try {
      await downloadPassport(`${base}/passport`);
      announce(t('pp.downloaded'), 'ok');
    } catch (err) {
      announce(errorText(err), 'bad');
    }
  });
  $('#r-write')?.addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    clearFormErrors(form);
    try {
      await post(threadUrl, { body: form.elements.body.value.trim() });
      form.reset();
      thread = await get(threadUrl);
      draw();
      announce(t('repair.sent'), 'ok');
    } catch (err) {
      showFormError(form, err);
    }
  });
  try {
    if (!token) throw new Error(t('manage.nolink'));
    // Both at once: the page costs one round trip.
    [rep, thread] = await Promise.all([get(base), get(threadUrl).catch(() => null)]);
    draw();
    // The status link follows the repair live: a move, an approval or a new promise shows
    // without a reload.
    const again = debounce(async () => {
      try {
        [rep, thread] = await Promise.all([get(base), get(threadUrl).catch(() => thread)]);
        draw();
      } catch { /* the next event or reconnect tries again */ }
    });
    const live = $('#live');
    follow(`${base}/events`, () => again(), {
      onState: (on) => { live.hidden = false; live.dataset.state = on ? 'on' : 'off'; live.textContent = t(on ? 'live.on' : 'live.off'); },
    });
  } catch (e) {
    showPageError(e);
  }
}

start();
