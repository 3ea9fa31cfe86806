// The survey after a visit or a repair, in two parts. The e-mail carries one link per score
// (/survey/#TOKEN~4): opening one posts that score at once, so the tap in the message is the
// answer (a link preview that fetches the page without running scripts records nothing). A link
// without a score (the SMS) shows the five scores, one tap each. Then one optional question
// (effort, 1 to 7) and a comment, sent once. Each part is answered once (the API says 409), but
// a mail scanner that runs scripts may have opened a link: for 15 minutes after the score was
// recorded, until the rest is sent, the scale stays with that score selected, and a tap on
// another corrects it (the API says whether it still may: correctable).
import { get, post, linkToken } from './api.js';
import { initI18n, onLangChange, t } from './i18n.js';
import { $, h, fill, announce, showFormError, clearFormErrors, showPageError, errorText } from './ui.js';

// '#TOKEN~4': the token, and the score of the link tapped (none when absent or out of range).
const [token, tail] = linkToken().split('~');
const linked = /^[1-5]$/.test(tail || '') ? Number(tail) : null;
const base = `/api/surveys/${encodeURIComponent(token || '')}`;
let effort = null;
let score = null; // the recorded score, shown selected while it may be corrected

function scoreButtons(el, from, to, label, onpick) {
  fill(el, Array.from({ length: to - from + 1 }, (_, i) => {
    const v = from + i;
    return h('button', { type: 'button', class: 'sv-pt', 'data-score': String(v), 'aria-pressed': 'false',
      'aria-label': label(v), onclick: () => onpick(v) }, String(v));
  }));
}

const satLabel = (v) => `${v} · ${t(`survey.sat.${v}`)}`;
const effLabel = (v) => (v === 1 || v === 7 ? `${v} · ${t(`survey.eff.${v}`)}` : String(v));

function drawScales() {
  scoreButtons($('#s-sat-scale'), 1, 5, satLabel, answerScore);
  scoreButtons($('#s-eff-scale'), 1, 7, effLabel, (v) => {
    effort = v;
    $('#s-eff-scale').querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', String(Number(b.dataset.score) === v)));
    clearFormErrors($('#s-form'));
  });
  if (effort) $(`#s-eff-scale [data-score="${effort}"]`).setAttribute('aria-pressed', 'true');
  pressScore();
}

function pressScore() {
  $('#s-sat-scale').querySelectorAll('button').forEach((b) => {
    b.setAttribute('aria-pressed', String(Number(b.dataset.score) === score));
    b.disabled = false;
  });
}

function show(state) {
  $('#loading').hidden = true;
  score = state.answered ? state.satisfaction : null;
  pressScore();
  $('#s-first').hidden = state.answered && !state.correctable;
  $('#s-recorded').hidden = !state.answered || state.followup;
  $('#s-form').hidden = !state.answered || state.followup;
  $('#s-thanks').hidden = !state.followup;
}

async function answerScore(v) {
  $('#s-sat-scale').querySelectorAll('button').forEach((b) => { b.disabled = true; });
  try {
    const r = await post(base, { satisfaction: v });
    show(r);
    announce(t('survey.recorded'), 'ok');
  } catch (e) {
    if (e.code === 'already_answered') show(await get(base));
    else {
      $('#s-sat-scale').querySelectorAll('button').forEach((b) => { b.disabled = false; });
      announce(errorText(e), 'error');
    }
  }
}

async function start() {
  initI18n();
  drawScales();
  onLangChange(drawScales);
  const form = $('#s-form');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    if (!effort) {
      showFormError(form, { code: 'invalid', field: 'effort', message: t('survey.effort') });
      return;
    }
    const body = { effort };
    const c = form.elements.comment.value.trim();
    if (c) body.comment = c;
    try {
      show(await post(base, body));
      announce(t('survey.done'), 'ok');
    } catch (err) {
      if (err.code === 'already_answered') show(await get(base));
      else showFormError(form, err);
    }
  });
  // Nothing more to say: the score stands alone, as the API allows.
  $('#s-skip').addEventListener('click', () => show({ answered: true, followup: true }));
  try {
    if (!token) throw new Error(t('manage.nolink'));
    let s = await get(base);
    $('#s-store').textContent = s.store;
    if (linked && !s.answered) {
      try {
        s = { ...s, ...(await post(base, { satisfaction: linked })) };
      } catch (e) {
        if (e.code !== 'already_answered') throw e;
        s = await get(base);
      }
    }
    show(s);
  } catch (e) {
    showPageError(e);
  }
}

start();
