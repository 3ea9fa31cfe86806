// The store's set-up, split into tabs (#setup/<tab>/...): one tab per subject, each its own
// module with the view interface of app.js (render({ el, session, go, args }) returning an
// optional clean-up), so that a manager sees one subject at a time instead of one long page.
import { t } from '../i18n.js';
import { h, fill } from '../ui.js';

// Order is the order of the tab bar. admin: only admins see the tab.
export const TABS = [
  { id: 'general', label: 'setup.tab.general', load: () => import('./setup_general.js') },
  { id: 'webhooks', label: 'setup.tab.webhooks', load: () => import('./setup_webhooks.js') },
];

export async function render({ el, session, go, args }) {
  const visible = TABS.filter((x) => !x.admin || (session.me && session.me.admin));
  const tab = visible.find((x) => x.id === args[0]) || visible[0];
  const body = h('div', { id: 'setup-body' });
  fill(el,
    h('h1', null, `${t('setup.title')} · ${session.store.name}`),
    h('nav', { class: 'tabs', 'aria-label': t('setup.title') },
      visible.map((x) => h('a', { href: `#setup/${x.id}`, 'aria-current': x === tab ? 'page' : null, dataset: { tab: x.id } }, t(x.label)))),
    body);
  const mod = await tab.load();
  return mod.render({ el: body, session, go, args: args.slice(1) });
}
