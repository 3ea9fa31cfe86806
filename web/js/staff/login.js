// Sign in, and the shared tablet's ways back in: the lock screen (who signed in on this tablet,
// tap a name, type the PIN) shown when a session is locked, on top of the sign-in form; and the
// form that sets one's PIN (#pin). On success the app restarts with the session.
import { login, post, tabletStaff, unlock } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, announce, showFormError, clearFormErrors } from '../ui.js';

const TAP = 'min-height:48px';

function pinInput(id, label, autocomplete) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('input', { id, name: 'pin', type: 'password', inputmode: 'numeric', pattern: '[0-9]*',
      maxlength: '6', autocomplete, required: true }));
}

/** On submit: `act(formData)`, the form's button disabled meanwhile; a failure is shown on the
 * form, then given to `failed` when there is one. */
function onSubmit(form, act, failed) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const btn = form.querySelector('button');
    btn.disabled = true;
    try {
      await act(new FormData(form));
    } catch (err) {
      showFormError(form, err);
      if (failed) failed(err);
    } finally {
      btn.disabled = false;
    }
  });
}

/** Signed in from the sign-in or lock screen: on to today's view (another view asked for stays). */
function toToday() {
  if (!location.hash || location.hash === '#login' || location.hash === '#lock') location.hash = 'today';
}

/** The names of this tablet; tapping one asks for that person's PIN. `locked`: the current
 * session is locked (its own PIN opens it even when the tablet lists nobody). */
async function lockScreen(el, start, locked) {
  let people = [];
  try { people = (await tabletStaff()).staff || []; } catch { /* sign-in form below still works */ }
  if (!people.length && !locked) return false;
  const box = h('section', { class: 'card', style: 'max-width:28rem;margin:2rem auto', 'aria-labelledby': 'lock-h' },
    h('h1', { id: 'lock-h' }, t('lock.title')),
    h('p', { class: 'muted' }, people.length ? t('lock.lead') : t('lock.nobody')));
  const list = h('div', { class: 'lock-people', style: 'display:grid;gap:.5rem' });
  const slot = h('div');
  const ask = (person) => {
    const form = h('form', { novalidate: true },
      pinInput('lock-pin', person ? t('lock.pin', { name: person.name }) : t('field.pin'), 'off'),
      h('button', { type: 'submit', class: 'wide' }, t('lock.unlock')));
    onSubmit(form, async (fd) => {
      await unlock(String(fd.get('pin')), person && person.staff_id);
      await start();
      toToday();
    }, (err) => {
      if (err.code === 'pin_ended' || err.code === 'unauthenticated') {
        setTimeout(() => start(), 1500);
      }
    });
    fill(slot, form);
    form.querySelector('input').focus();
  };
  for (const p of people) {
    list.append(h('button', { type: 'button', class: 'secondary wide', style: TAP, onclick: () => ask(p) }, p.name));
  }
  box.append(list, slot);
  el.append(box);
  if (locked && !people.length) ask(null);
  return true;
}

function signInForm(el, start, folded) {
  const form = h('form', { class: 'card', novalidate: true, style: 'max-width:28rem;margin:2rem auto' },
    h(folded ? 'h2' : 'h1', null, t('staff.login')),
    h('div', { class: 'field' },
      h('label', { for: 'l-email' }, t('staff.email')),
      h('input', { id: 'l-email', name: 'email', type: 'email', autocomplete: 'username', required: true })),
    h('div', { class: 'field' },
      h('label', { for: 'l-password' }, t('staff.password')),
      h('input', { id: 'l-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit', class: 'wide' }, t('staff.login')));
  onSubmit(form, async (fd) => {
    await login(String(fd.get('email')).trim(), String(fd.get('password')));
    toToday();
    await start();
  });
  if (folded) {
    const open = h('button', { type: 'button', class: 'secondary wide', style: TAP + ';max-width:28rem;margin:0 auto;display:block' }, t('lock.other'));
    open.addEventListener('click', () => { open.replaceWith(form); form.querySelector('input').focus(); });
    el.append(open);
  } else {
    el.append(form);
    setTimeout(() => form.querySelector('input').focus(), 0);
  }
}

function pinForm(el) {
  const form = h('form', { class: 'card', novalidate: true, style: 'max-width:28rem;margin:2rem auto' },
    h('h1', null, t('pin.title')),
    h('p', { class: 'muted' }, t('pin.lead')),
    pinInput('p-pin', t('pin.pin'), 'new-password'),
    h('div', { class: 'field' },
      h('label', { for: 'p-password' }, t('pin.password')),
      h('input', { id: 'p-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit', class: 'wide' }, t('pin.save')));
  onSubmit(form, async (fd) => {
    await post('/api/auth/pin', { pin: String(fd.get('pin')), password: String(fd.get('password')) });
    form.reset();
    announce(t('pin.saved'));
  });
  el.append(form);
  setTimeout(() => form.querySelector('input').focus(), 0);
}

export async function render({ el, start, name }) {
  // Drawn into a holder of its own: when the app moves on while the tablet's list is on its
  // way, the late drawing lands in a detached holder, not on top of the next view.
  const root = h('div');
  el.append(root);
  if (name === 'pin') {
    pinForm(root);
    return;
  }
  const listed = await lockScreen(root, start, name === 'lock');
  signInForm(root, start, listed);
}
