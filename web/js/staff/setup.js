// The store's set-up, split into tabs (#setup/<tab>/...): one tab per subject, each its own
// module with the view interface of app.js (render({ el, session, go, args }) returning an
// optional clean-up), so that a manager sees one subject at a time instead of one long page.
import { t } from '../i18n.js';
import { h, fill } from '../ui.js';

// Order is the order of the tab bar. role: only staff with that role in the store see the tab
// (the server refuses the others anyway); admin: only admins see it. Calendars is for everyone.
export const TABS = [
  { id: 'store', role: 'manager', label: 'setup.tab.store', load: () => import('./setup_store.js') },
  { id: 'services', role: 'manager', label: 'setup.tab.services', load: () => import('./setup_services.js') },
  { id: 'staff', role: 'manager', label: 'setup.tab.staff', load: () => import('./setup_staff.js') },
  { id: 'hours', role: 'manager', label: 'setup.tab.hours', load: () => import('./setup_hours.js') },
  { id: 'rota', role: 'manager', label: 'setup.tab.rota', load: () => import('./setup_rota.js') },
  { id: 'floor', role: 'manager', label: 'setup.tab.floor', load: () => import('./setup_floor.js') },
  { id: 'webhooks', role: 'manager', label: 'setup.tab.webhooks', load: () => import('./setup_webhooks.js') },
  { id: 'calendars', label: 'setup.tab.calendars', load: () => import('./setup_calendars.js') },
];

export async function render({ el, session, go, args, roles }) {
  const admin = !!(session.me && session.me.admin);
  const visible = TABS.filter((x) => (!x.admin || admin) && (!x.role || admin || roles.includes(x.role)));
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
