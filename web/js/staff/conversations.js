// The device's conversations (issue #17 point 5): every message with a customer about this
// serial, at every store, grouped by the repair, booking or visit it was about. Shown on the
// health record to those who may read it (technicians, managers, admins); an erased customer's
// messages read as erased, never their text.
import { get } from '../api.js';
import { t } from '../i18n.js';
import { h, fmtDateTime } from '../ui.js';

const enc = encodeURIComponent;

function groupTitle(g) {
  const what = g.ref_type === 'repair' ? `${t('conv.repair')} ${g.number || ''}`
    : g.ref_type === 'appointment' ? [t('conv.booking'), g.service].filter(Boolean).join(' · ')
      : `${t('conv.visit')}${g.ticket ? ' #' + g.ticket : ''}`;
  return [what, g.store, g.at ? fmtDateTime(g.at) : null].filter(Boolean).join(' · ');
}

function tplName(kind) {
  const k = 'conv.tpl.' + kind;
  const s = t(k);
  return s === k ? kind : s;
}

function message(m) {
  const meta = [
    fmtDateTime(m.at),
    t(m.direction === 'in' ? 'conv.in' : 'conv.out'),
    t(`conv.ch.${m.channel}`),
    m.template ? tplName(m.template) : null,
    m.staff_name,
    m.status && m.status !== 'sent' ? t(`conv.st.${m.status}`) : null,
    m.contact,
  ].filter(Boolean).join(' · ');
  const body = m.erased ? h('p', { class: 'conv-text muted' }, t('conv.erased'))
    : m.purged ? h('p', { class: 'conv-text muted' }, t('conv.purged'))
      : h('p', { class: 'conv-text' }, m.text || '');
  return h('li', { class: 'conv-msg', dataset: { dir: m.direction, erased: String(!!m.erased) } },
    h('div', { class: 'when' }, meta), body);
}

/** The section for the record page; it fills itself once the answer comes. */
export function conversationsSection(serial) {
  const list = h('div', { id: 'conv-list' }, h('p', { class: 'muted' }, t('loading')));
  const section = h('section', { class: 'card', id: 'conversations', 'aria-labelledby': 'conv-h' },
    h('h2', { id: 'conv-h' }, t('conv.title')),
    h('p', { class: 'muted' }, t('conv.hint')),
    list);
  get(`/api/devices/${enc(serial)}/conversations`).then((r) => {
    list.replaceChildren(...(r.groups.length ? r.groups.map((g) => h('details', { class: 'conv-group', open: true },
      h('summary', null, groupTitle(g)),
      h('ol', { class: 'conv-msgs' }, g.messages.map(message))))
      : [h('p', { class: 'muted' }, t('conv.none'))]));
  }).catch(() => {
    list.replaceChildren(h('p', { class: 'notice warn' }, t('conv.unavailable')));
  });
  return section;
}
