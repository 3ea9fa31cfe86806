// The one-tap survey after a visit or a repair (/survey/#TOKEN): satisfaction 1-5, effort 1-7,
// recommendation 0-10, an optional comment. The link works once.
import { get, post, linkToken } from './api.js';
import { initI18n, t } from './i18n.js';
import { $, h, announce, showFormError, clearFormErrors, showPageError } from './ui.js';

const token = linkToken();
const base = `/api/surveys/${encodeURIComponent(token)}`;

function scale(fs, name, from, to, labels) {
  const row = h('div', { class: 'row', style: 'gap:.4rem' });
  for (let v = from; v <= to; v++) {
    row.append(h('label', { class: 'choice', for: `${name}-${v}`, style: 'min-width:3.2rem;justify-content:center;padding:.5rem' },
      h('input', { type: 'radio', name, id: `${name}-${v}`, value: String(v), required: true }),
      h('span', { 'aria-label': labels && labels[v] ? `${v} ${labels[v]}` : null }, String(v))));
  }
  fs.append(row);
}

async function start() {
  initI18n();
  const form = $('#s-form');
  scale($('#s-satisfaction'), 'satisfaction', 1, 5);
  scale($('#s-effort'), 'effort', 1, 7);
  scale($('#s-recommendation'), 'recommendation', 0, 10);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const f = form.elements;
    const body = {};
    for (const k of ['satisfaction', 'effort', 'recommendation']) {
      const v = f[k].value;
      if (v === '') {
        showFormError(form, { code: 'invalid', field: k, message: t('survey.' + (k === 'recommendation' ? 'recommend' : k)) });
        form.querySelector(`input[name="${k}"]`).focus();
        return;
      }
      body[k] = Number(v);
    }
    if (f.comment.value.trim()) body.comment = f.comment.value.trim();
    try {
      await post(base, body);
      form.hidden = true;
      $('#s-thanks').hidden = false;
      announce(t('survey.thanks'), 'ok');
    } catch (err) {
      showFormError(form, err);
    }
  });
  try {
    if (!token) throw new Error(t('manage.nolink'));
    const s = await get(base);
    $('#loading').hidden = true;
    $('#s-store').textContent = s.store;
    if (s.answered) $('#s-thanks').hidden = false;
    else form.hidden = false;
  } catch (e) {
    showPageError(e);
  }
}

start();
