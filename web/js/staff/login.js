// Sign in: email and password; on success the app restarts with the session.
import { login } from '../api.js';
import { t } from '../i18n.js';
import { h, showFormError, clearFormErrors } from '../ui.js';

export function render({ el, start }) {
  const form = h('form', { class: 'card', novalidate: true, style: 'max-width:28rem;margin:2rem auto' },
    h('h1', null, t('staff.login')),
    h('div', { class: 'field' },
      h('label', { for: 'l-email' }, t('staff.email')),
      h('input', { id: 'l-email', name: 'email', type: 'email', autocomplete: 'username', required: true })),
    h('div', { class: 'field' },
      h('label', { for: 'l-password' }, t('staff.password')),
      h('input', { id: 'l-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit', class: 'wide' }, t('staff.login')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const fd = new FormData(form);
    const btn = form.querySelector('button');
    btn.disabled = true;
    try {
      await login(String(fd.get('email')).trim(), String(fd.get('password')));
      if (!location.hash || location.hash === '#login') location.hash = 'today';
      await start();
    } catch (err) {
      showFormError(form, err);
    } finally {
      btn.disabled = false;
    }
  });
  el.append(form);
  setTimeout(() => form.querySelector('input').focus(), 0);
}
