// The customer's conversation with the store about a booking or a repair (/messages/#TOKEN).
import { get, post, linkToken } from './api.js';
import { initI18n, onLangChange, t } from './i18n.js';
import { $, h, fill, announce, fmtDateTime, showFormError, clearFormErrors, showPageError } from './ui.js';

const token = linkToken();
const base = `/api/messages/${encodeURIComponent(token)}`;
let thread = null;

function draw() {
  if (!thread) return;
  $('#loading').hidden = true;
  $('#m-thread').hidden = false;
  $('#m-store').textContent = thread.store;
  fill($('#m-list'), thread.messages.length ? thread.messages.map((m) => h('li', { class: m.author === 'customer' ? 'mine' : '' }, m.body,
    h('span', { class: 'meta' }, `${m.author === 'staff' ? (m.staff_name || thread.store) : ''} ${fmtDateTime(m.created_at)}`))) : h('li', { class: 'muted' }, t('repair.nomessages')));
}

async function start() {
  initI18n();
  onLangChange(draw);
  $('#m-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    clearFormErrors(form);
    try {
      await post(base, { body: form.elements.body.value.trim() });
      form.reset();
      thread = await get(base);
      draw();
      announce(t('repair.sent'), 'ok');
    } catch (err) {
      showFormError(form, err);
    }
  });
  try {
    if (!token) throw new Error(t('manage.nolink'));
    thread = await get(base);
    draw();
  } catch (e) {
    showPageError(e);
  }
}

start();
