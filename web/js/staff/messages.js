// Customer conversations of the store: threads with unread counts, one thread at a time, and a
// reply (the customer is notified with a link to answer).
import { get, post } from '../api.js';
import { t } from '../i18n.js';
import { h, fmtDateTime, announce, showFormError, clearFormErrors } from '../ui.js';

export async function render({ el, session, args, go }) {
  const store = session.store;
  const id = args[0];
  el.append(h('h1', null, t('repair.messages')));
  const list = await get(`/api/stores/${store.id}/threads`);
  const threads = h('ul', { class: 'plain card', id: 'threads' }, list.threads.length ? list.threads.map((th) => h('li', { class: 'appt', style: 'grid-template-columns:1fr auto' },
    h('div', null,
      h('a', { href: `#messages/${th.thread_id}`, 'aria-current': String(th.thread_id) === id ? 'true' : null }, th.customer_name || `${th.ref_type} ${th.ref_id}`),
      h('div', { class: 'muted' }, `${t(th.ref_type === 'repair' ? 'tl.repair' : 'tl.appointment')} · ${fmtDateTime(th.last_at, store.timezone)}`)),
    th.unread ? h('span', { class: 'badge warn' }, String(th.unread)) : null)) : h('li', { class: 'muted' }, t('repair.nomessages')));
  if (!id) {
    el.append(threads);
    return;
  }
  const th = await get(`/api/stores/${store.id}/threads/${encodeURIComponent(id)}`);
  const form = h('form', { novalidate: true, id: 'reply' },
    h('div', { class: 'field' }, h('label', { for: 'rp-body' }, t('messages.reply')),
      h('textarea', { id: 'rp-body', name: 'body', required: true, maxlength: '4000' })),
    h('button', { type: 'submit' }, t('repair.send')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    try {
      await post(`/api/stores/${store.id}/threads/${th.thread_id}/messages`, { body: form.elements.body.value.trim() });
      announce(t('repair.sent'), 'ok');
      go('messages/' + th.thread_id);
    } catch (err) { showFormError(form, err); }
  });
  el.append(h('div', { class: 'cols' }, threads,
    h('section', { class: 'card', 'aria-labelledby': 'th-h' },
      h('h2', { id: 'th-h' }, th.customer_name || ''),
      th.ref_type === 'repair' ? h('p', null, h('a', { href: `#repair/${th.ref_id}` }, t('tl.repair'))) : null,
      h('ul', { class: 'messages', id: 'thread' }, th.messages.map((m) => h('li', { class: m.author === 'staff' ? 'mine' : '' }, m.body,
        h('span', { class: 'meta' }, `${m.author === 'staff' ? m.staff_name || '' : th.customer_name || ''} · ${fmtDateTime(m.created_at, store.timezone)}`)))),
      form)));
}
