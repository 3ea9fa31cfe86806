// The "Webhooks" tab of the set-up (setup.js): the store's HTTPS endpoints for its events. A
// manager adds one (its signing secret is shown once, with a copy button: the server keeps it
// sealed and never shows it again), disables and enables it, rotates its secret, deletes it, and
// reads its delivery log (each event, its tries, what the receiver answered).
import { api, get, post, patch } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, announce, errorText, showFormError, clearFormErrors, fmtDateTime } from '../ui.js';

const EVENTS = ['booking.created', 'booking.cancelled', 'visit.called', 'repair.moved', 'survey.answered'];

export async function render({ el, session, go }) {
  const store = session.store;
  const base = `/api/stores/${store.id}/webhooks`;
  const tz = store.timezone;
  const list = await get(base);
  const reload = () => go('setup/webhooks');
  const when = (iso) => (iso ? fmtDateTime(iso, tz) : '—');

  // The secret, shown once after it is made or rotated.
  const secretBox = h('div', { id: 'hook-secret', class: 'card hook-secret', hidden: true, role: 'status' });
  function showSecret(hook) {
    const code = h('code', { id: 'hook-secret-value' }, hook.secret);
    fill(secretBox,
      h('h3', null, t('hooks.secret.title')),
      h('p', null, t('hooks.secret.once')),
      h('p', { class: 'hook-secret-line' }, code,
        h('button', {
          type: 'button', class: 'secondary', id: 'hook-secret-copy',
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(hook.secret);
              announce(t('hooks.secret.copied'), 'ok');
            } catch {
              // No clipboard (an insecure origin, a refused permission): select it to copy by hand.
              const range = document.createRange();
              range.selectNodeContents(code);
              getSelection().removeAllRanges();
              getSelection().addRange(range);
            }
          },
        }, t('hooks.secret.copy'))),
      h('button', { type: 'button', onclick: reload }, t('hooks.secret.done')));
    secretBox.hidden = false;
    secretBox.scrollIntoView({ block: 'nearest' });
  }

  const logBox = h('section', { id: 'hook-log', class: 'card', hidden: true, 'aria-live': 'polite' });
  async function showLog(hook) {
    try {
      const log = await get(`${base}/${hook.id}/deliveries`);
      fill(logBox,
        h('h3', null, `${t('hooks.log')} · ${hook.url}`),
        log.deliveries.length === 0 ? h('p', null, t('hooks.log.empty')) :
          h('div', { class: 'hook-log-scroll' }, h('table', { class: 'hook-log-table' },
            h('thead', null, h('tr', null, ['hooks.log.event', 'hooks.log.status', 'hooks.log.tries', 'hooks.log.next']
              .map((k) => h('th', null, t(k))))),
            h('tbody', null, log.deliveries.map((d) => h('tr', { dataset: { delivery: String(d.id), status: d.status } },
              h('td', null, h('strong', null, d.type), h('br'), h('small', null, d.event_id), h('br'), h('small', null, when(d.event_created_at))),
              h('td', null, h('span', { class: 'badge ' + (d.status === 'delivered' ? 'ok' : d.status === 'failed' ? 'bad' : '') }, t(`hooks.status.${d.status}`))),
              h('td', null, h('ol', { class: 'hook-tries' }, d.tries.map((x) => h('li', null,
                `${when(x.at)} · ${x.status_code ?? '—'} · ${x.duration_ms} ms`, x.error ? h('br') : null, x.error ? h('small', null, x.error) : null)))),
              h('td', null, d.next_attempt_at ? when(d.next_attempt_at) : '—')))))),
        h('button', { type: 'button', class: 'secondary', onclick: () => { logBox.hidden = true; } }, t('hooks.log.close')));
      logBox.hidden = false;
      logBox.scrollIntoView({ block: 'nearest' });
    } catch (err) { announce(errorText(err), 'error'); }
  }

  async function act(fn, okText) {
    try {
      const r = await fn();
      if (r && r.secret) return showSecret(r);
      announce(okText, 'ok');
      reload();
    } catch (err) { announce(errorText(err), 'error'); }
  }

  const rows = list.webhooks.map((w) => h('li', { class: 'card hook', dataset: { hook: String(w.id), active: String(w.active) } },
    h('p', { class: 'hook-url' }, h('strong', null, w.url), ' ',
      h('span', { class: 'badge ' + (w.active ? 'ok' : 'bad') }, t(w.active ? 'hooks.active' : 'hooks.disabled'))),
    w.description ? h('p', null, w.description) : null,
    h('p', { class: 'hook-events' }, w.events.map((e) => h('span', { class: 'badge' }, e))),
    h('p', null, t('hooks.counts', { pending: w.pending, failed: w.failed, last: when(w.last_delivered_at) })),
    h('div', { class: 'hook-actions' },
      h('button', { type: 'button', class: 'secondary', dataset: { act: 'toggle' },
        onclick: () => act(() => patch(`${base}/${w.id}`, { active: !w.active }), t('setup.added')) },
        t(w.active ? 'hooks.disable' : 'hooks.enable')),
      h('button', { type: 'button', class: 'secondary', dataset: { act: 'log' }, onclick: () => showLog(w) }, t('hooks.log')),
      h('button', { type: 'button', class: 'secondary', dataset: { act: 'rotate' },
        onclick: () => confirm(t('hooks.rotate.confirm')) && act(() => post(`${base}/${w.id}/rotate-secret`)) },
        t('hooks.rotate')),
      h('button', { type: 'button', class: 'danger', dataset: { act: 'delete' },
        onclick: () => confirm(t('hooks.delete.confirm')) && act(() => api(`${base}/${w.id}`, { method: 'DELETE' }), t('hooks.deleted')) },
        t('hooks.delete')))));

  const form = h('form', { class: 'card', novalidate: true, id: 'add-hook' },
    h('h3', null, t('hooks.add')),
    h('div', { class: 'field' }, h('label', { for: 'hk-url' }, t('hooks.url')),
      h('input', { id: 'hk-url', name: 'url', type: 'url', required: true, maxlength: '2000', placeholder: 'https://', inputmode: 'url', autocomplete: 'off' })),
    h('div', { class: 'field' }, h('label', { for: 'hk-desc' }, t('hooks.description')),
      h('input', { id: 'hk-desc', name: 'description', maxlength: '200' })),
    h('fieldset', { class: 'hook-event-picks', 'data-field': 'events' },
      h('legend', null, t('hooks.events')),
      EVENTS.map((e) => h('label', { class: 'check' },
        h('input', { type: 'checkbox', name: 'events', value: e, checked: true }), ' ', t(`hooks.event.${e}`)))),
    h('button', { type: 'submit' }, t('hooks.add')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const f = form.elements;
    const events = Array.from(form.querySelectorAll('input[name=events]:checked')).map((x) => x.value);
    try {
      const hook = await post(base, { url: f.url.value.trim(), events, description: f.description.value.trim() });
      showSecret(hook);
    } catch (err) { showFormError(form, err); }
  });

  fill(el,
    h('section', { class: 'hooks' },
      h('h2', null, t('hooks.title')),
      h('p', null, t('hooks.intro')),
      secretBox,
      list.webhooks.length ? h('ul', { class: 'hook-list', id: 'hook-list' }, rows) : h('p', { id: 'hook-none' }, t('hooks.none')),
      logBox,
      form));
}
