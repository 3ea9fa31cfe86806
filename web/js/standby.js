// A customer's place on a full day's standby list (/standby/#TOKEN): their position, or the
// slot offered to them (held a few minutes) with a button to take it, which books it.
import { get, post, linkToken } from './api.js';
import { initI18n, onLangChange, t } from './i18n.js';
import { $, announce, errorText, fmtDay, fmtDateTime, showPageError } from './ui.js';

const token = linkToken();
const base = `/api/standby/${encodeURIComponent(token)}`;
let sb = null;
let booked = null;

function draw() {
  if (!sb) return;
  $('#loading').hidden = true;
  $('#sb-card').hidden = false;
  $('#sb-service').textContent = sb.service || '';
  $('#sb-day').textContent = fmtDay(sb.day);
  $('#sb-status').textContent = t('standby.' + sb.status);
  $('#sb-position').textContent = sb.status === 'waiting' && sb.position ? t('standby.position', { n: sb.position }) : '';
  const offered = sb.status === 'offered' && sb.offer;
  // held turns false when staff cancel or move the held appointment: a claim would be refused.
  const held = offered && sb.offer.held !== false;
  $('#sb-offer').hidden = !offered;
  $('#sb-offer').classList.toggle('ok', !!held);
  $('#sb-offer').classList.toggle('bad', !!offered && !held);
  $('#sb-claim').hidden = !held;
  if (offered) {
    $('#sb-offer-text').textContent = held
      ? t('standby.offer', {
        when: fmtDateTime(sb.offer.starts_at),
        until: sb.offer.expires_at ? fmtDateTime(sb.offer.expires_at).split(', ').pop() : '',
      })
      : t('err.offer_gone');
  }
  $('#sb-booked').hidden = !booked;
  if (booked) {
    $('#sb-code').textContent = booked.code;
    $('#sb-manage').href = '/manage/#' + encodeURIComponent(booked.manage_token);
  }
  $('#sb-leave').hidden = !(sb.status === 'waiting' || sb.status === 'offered');
}

async function refresh() {
  try {
    sb = await get(base);
    draw();
  } catch (e) { /* the refusal already said why */ }
}

async function start() {
  initI18n();
  onLangChange(draw);
  $('#sb-claim').addEventListener('click', async () => {
    try {
      booked = await post(base + '/claim', {});
      sb = booked.standby;
      draw();
      announce(t('book.done'), 'ok');
    } catch (e) {
      // A refused claim (offer_gone, offer_expired, not_offered) says why, and the page shows
      // where the customer stands now.
      announce(errorText(e), 'error');
      if (e.code) await refresh();
    }
  });
  $('#sb-leave').addEventListener('click', async () => {
    try {
      sb = await post(base + '/leave', {});
      draw();
    } catch (e) { announce(errorText(e), 'error'); }
  });
  try {
    if (!token) throw new Error(t('manage.nolink'));
    sb = await get(base);
    draw();
  } catch (e) {
    showPageError(e);
  }
}

start();
