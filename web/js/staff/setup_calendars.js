// The "Calendars" tab of the set-up (setup.js): private calendar feeds (.ics URLs) that a
// calendar app subscribes to. Anyone of the store lists, makes and revokes their own; a
// manager also makes the store's feed and one for a colleague, and sees every feed of the store
// so that a leaked one can be revoked. A feed's URL is shown once, when it is made: the server
// keeps only its hash.
import { get, post, api } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, announce, errorText, fmtDateTime } from '../ui.js';

/** The same URL with the webcal: scheme, which opens the calendar app to subscribe. */
function webcal(url) {
  return url.replace(/^https?:/, 'webcal:');
}

async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API (plain http on a tablet): select it, so the system's copy is one tap.
    input.focus();
    input.select();
    try { document.execCommand('copy'); } catch { announce(t('cal.copy_select'), 'info'); return; }
  }
  announce(t('cal.copied'), 'ok');
}

/** The card that shows a new feed's URL, this once. */
function newFeedCard(feed) {
  const input = h('input', { id: 'cal-url', readonly: true, value: feed.url, 'aria-label': t('cal.url'), onfocus: (e) => e.currentTarget.select() });
  return h('section', { class: 'card cal-new', id: 'cal-new', role: 'status' },
    h('h3', null, t('cal.made')),
    h('p', { class: 'notice warn' }, t('cal.keep_private')),
    h('div', { class: 'field' }, h('label', { for: 'cal-url' }, t('cal.url')), input),
    h('div', { class: 'row' },
      h('button', { type: 'button', id: 'cal-copy', onclick: () => copy(feed.url, input) }, t('cal.copy')),
      h('a', { class: 'button secondary', href: webcal(feed.url) }, t('cal.open'))));
}

function feedName(f) {
  return f.kind === 'store' ? t('cal.kind.store') : t('cal.kind.staff', { name: f.staff_name || '' });
}

export async function render({ el, session }) {
  const store = session.store;
  const tz = store.timezone;
  const list = await get(`/api/stores/${store.id}/calendar-feeds`);
  const staff = list.can_manage ? (await get(`/api/stores/${store.id}/staff`)).staff.filter((s) => !s.disabled) : [];
  const fresh = h('div', { id: 'cal-fresh' });

  async function make(body, button) {
    button.disabled = true;
    try {
      const feed = await post(`/api/stores/${store.id}/calendar-feeds`, body);
      await draw();
      fill(fresh, newFeedCard(feed));
      fresh.querySelector('#cal-copy').focus();
    } catch (err) {
      announce(errorText(err), 'error');
    } finally {
      button.disabled = false;
    }
  }

  // Two taps: the first arms the button (it says so), the second revokes; no modal dialog.
  async function revoke(f, button) {
    if (button.dataset.armed !== '1') {
      button.dataset.armed = '1';
      button.textContent = t('cal.revoke_sure');
      setTimeout(() => { if (button.isConnected && !button.disabled) { button.dataset.armed = ''; button.textContent = t('cal.revoke'); } }, 5000);
      return;
    }
    button.disabled = true;
    try {
      await api(`/api/stores/${store.id}/calendar-feeds/${f.id}`, { method: 'DELETE', body: {} });
      announce(t('cal.revoked'), 'ok');
      fill(fresh);
      await draw();
    } catch (err) {
      button.disabled = false;
      announce(errorText(err), 'error');
    }
  }

  const rows = h('div', { id: 'cal-list' });
  async function draw(known) {
    const now = known || await get(`/api/stores/${store.id}/calendar-feeds`);
    fill(rows, now.feeds.length === 0
      ? h('p', { class: 'muted', id: 'cal-none' }, t('cal.none'))
      : h('ul', { class: 'cal-feeds' }, now.feeds.map((f) => h('li', { class: 'cal-feed', dataset: { feed: String(f.id) } },
        h('div', { class: 'cal-what' },
          h('strong', null, feedName(f)), ' ',
          h('span', { class: f.live ? 'badge ok' : 'badge bad' }, t(f.live ? 'cal.live' : 'cal.stopped')),
          h('div', { class: 'muted' }, t('cal.made_by', { name: f.created_by_name, when: fmtDateTime(f.created_at, tz) })),
          h('div', { class: 'muted' }, f.last_fetched_at ? t('cal.fetched', { when: fmtDateTime(f.last_fetched_at, tz) }) : t('cal.never'))),
        f.revoked_at ? null : h('button', {
          type: 'button', class: 'danger', 'aria-label': `${t('cal.revoke')} · ${feedName(f)}`,
          onclick: (e) => revoke(f, e.currentTarget),
        }, t('cal.revoke'))))));
  }
  await draw(list);

  const mine = h('button', { type: 'button', id: 'cal-make-mine', onclick: (e) => make({ kind: 'staff' }, e.currentTarget) }, t('cal.make_mine'));
  const makers = [mine];
  if (list.can_manage) {
    makers.push(h('button', { type: 'button', class: 'secondary', id: 'cal-make-store', onclick: (e) => make({ kind: 'store' }, e.currentTarget) }, t('cal.make_store')));
  }
  const forSomeone = list.can_manage && staff.length ? h('form', { class: 'row', id: 'cal-for', novalidate: true },
    h('label', { for: 'cal-person' }, t('cal.for')),
    h('select', { id: 'cal-person', name: 'person' }, staff.map((s) => h('option', { value: String(s.id) }, s.name))),
    h('button', { type: 'submit', class: 'secondary' }, t('cal.make_for'))) : null;
  if (forSomeone) {
    forSomeone.addEventListener('submit', (e) => {
      e.preventDefault();
      make({ kind: 'staff', staff_id: Number(forSomeone.elements.person.value) }, forSomeone.querySelector('button'));
    });
  }

  fill(el,
    h('section', { class: 'card' },
      h('h2', null, t('cal.title')),
      h('p', null, t('cal.intro')),
      h('p', { class: 'muted' }, t('cal.privacy')),
      h('div', { class: 'row' }, makers),
      forSomeone),
    fresh,
    h('section', { class: 'card' }, h('h2', null, t(list.can_manage ? 'cal.list_all' : 'cal.list_mine')), rows));
}
