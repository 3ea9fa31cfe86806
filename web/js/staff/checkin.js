// Check-in at the door: a confirmation code, part of a name, or the QR code of the customer's
// link scanned with the tablet camera (BarcodeDetector, where the browser has it); and walk-ins.
import { t } from '../i18n.js';
import { h, fill, fmtTime, announce, errorText, showFormError, clearFormErrors } from '../ui.js';
import { checkIn, checkInCode, checkInToken, searchName, joinLine } from './floor.js';

const CODE_RE = /^[2-9A-HJKMNP-Z]{6}$/;

/** What a scanned or typed value is: a code, a manage-link token, or a name to search. */
export function classify(raw) {
  const v = String(raw || '').trim();
  const hash = v.indexOf('#');
  if (/^https?:\/\//.test(v) && hash > 0) return { token: decodeURIComponent(v.slice(hash + 1).replace(/^t=/, '')) };
  const m = /[?&]t=([A-Za-z0-9_-]{32,})/.exec(v);
  if (m) return { token: m[1] };
  if (CODE_RE.test(v.toUpperCase())) return { code: v.toUpperCase() };
  if (/^[A-Za-z0-9_-]{40,}$/.test(v)) return { token: v };
  return { name: v };
}

export function render({ el, session }) {
  const store = session.store;
  const result = h('div', { id: 'checkin-result', 'aria-live': 'polite' });
  const form = h('form', { class: 'card', novalidate: true },
    h('h1', null, t('checkin.title')),
    h('div', { class: 'field' },
      h('label', { for: 'ci-q' }, t('checkin.code')),
      h('input', { id: 'ci-q', name: 'code', autocomplete: 'off', autocapitalize: 'characters', required: true, style: 'font-size:1.4rem' })),
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'grow' }, t('checkin.find')),
      h('button', { type: 'button', class: 'secondary', id: 'ci-scan' }, t('checkin.scan'))),
    h('video', { class: 'scanner', id: 'ci-video', playsinline: true, muted: true, hidden: true }));

  const walk = h('form', { class: 'card', novalidate: true },
    h('h2', null, t('checkin.walkin')),
    h('div', { class: 'field' }, h('label', { for: 'wi-name' }, t('checkin.walkin.name')),
      h('input', { id: 'wi-name', name: 'name', required: true, maxlength: '100', autocomplete: 'off' })),
    h('div', { class: 'field' }, h('label', { for: 'wi-contact' }, `${t('book.phone')} / ${t('book.email')}`),
      h('input', { id: 'wi-contact', name: 'contact', maxlength: '200', autocomplete: 'off' })),
    h('div', { class: 'field' }, h('label', { for: 'wi-problem' }, `${t('door.problem')} (${t('optional')})`),
      h('textarea', { id: 'wi-problem', name: 'problem', maxlength: '2000' })),
    h('div', { class: 'field' }, h('label', { for: 'wi-serial' }, t('door.serial')),
      h('input', { id: 'wi-serial', name: 'serial', maxlength: '64', autocomplete: 'off', autocapitalize: 'characters' })),
    h('button', { type: 'submit' }, t('checkin.walkin')));

  el.append(h('div', { class: 'cols' }, h('div', null, form, result), walk));

  async function done(r, name) {
    const who = name || (r.visit && r.visit.name) || '';
    if (r.queued) {
      // Offline: kept in the outbox, sent when the connection is back (the header lists it).
      fill(result, h('div', { class: 'notice warn', id: 'checkin-kept' }, h('strong', null, t('outbox.kept.checkin', { name: who }))));
      announce(t('outbox.kept.checkin', { name: who }), 'ok');
      form.reset();
      return;
    }
    fill(result, h('div', { class: 'notice ok' },
      h('strong', null, t('checkin.done', { name: who })),
      r.visit ? h('span', null, ` #${r.visit.ticket}`) : null));
    announce(t('checkin.done', { name: who }), 'ok');
    form.reset();
  }

  async function lookup(raw) {
    clearFormErrors(form);
    fill(result);
    const what = classify(raw);
    try {
      if (what.code) return done(await checkInCode(store.id, what.code));
      if (what.token) return done(await checkInToken(store.id, what.token));
      const found = await searchName(store.id, what.name);
      if (!found.length) {
        fill(result, h('p', { class: 'notice warn' }, t('checkin.nomatch')));
        return;
      }
      fill(result, h('div', { class: 'card' }, found.map((a) => h('div', { class: 'appt' },
        h('span', { class: 'time' }, fmtTime(a.starts_at, store.timezone)),
        h('div', null, h('div', { class: 'who' }, a.customer_name), h('div', { class: 'muted' }, `${a.service} · ${a.code}`)),
        a.status === 'booked'
          ? h('button', { type: 'button', onclick: async () => {
            try { await done(await checkIn(store.id, a), a.customer_name); } catch (e) { announce(errorText(e), 'error'); }
          } }, t('checkin.do'))
          : h('span', { class: 'badge ok' }, t('status.' + a.status))))));
    } catch (e) {
      if (e.field === 'code' || e.field === 'name' || e.field === 'token') showFormError(form, { ...e, field: 'code' });
      else announce(errorText(e), 'error');
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    lookup(form.elements.code.value);
  });

  walk.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(walk);
    const name = walk.elements.name.value.trim();
    const contact = walk.elements.contact.value.trim();
    try {
      const body = { name };
      if (contact) body.contact = contact;
      const problem = walk.elements.problem.value.trim();
      if (problem) body.problem = problem;
      const serial = walk.elements.serial.value.trim();
      if (serial) body.serial = serial;
      const p = await joinLine(store.id, body);
      if (p.queued) {
        fill(result, h('div', { class: 'notice warn', id: 'checkin-kept' }, h('strong', null, t('outbox.kept.walkin', { name }))));
        announce(t('outbox.kept.walkin', { name }), 'ok');
        walk.reset();
        return;
      }
      fill(result, h('div', { class: 'notice ok' }, h('strong', null, t('checkin.walkin.added', { name })), ` #${p.ticket}`));
      announce(t('checkin.walkin.added', { name }), 'ok');
      walk.reset();
    } catch (err) {
      showFormError(walk, err);
    }
  });

  // Camera scanning: only where BarcodeDetector exists (Chromium on Android and ChromeOS);
  // elsewhere the button explains that typing the code works just as well.
  let stream = null;
  let timer = null;
  const video = el.querySelector('#ci-video');
  const scanBtn = el.querySelector('#ci-scan');
  function stopScan() {
    clearInterval(timer);
    if (stream) stream.getTracks().forEach((tr) => tr.stop());
    stream = null;
    video.hidden = true;
    scanBtn.textContent = t('checkin.scan');
  }
  scanBtn.addEventListener('click', async () => {
    if (stream) return stopScan();
    if (!('BarcodeDetector' in window) || !navigator.mediaDevices) {
      announce(t('checkin.scan.none'), 'error');
      form.elements.code.focus();
      return;
    }
    fill(result);
    try {
      const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      scanBtn.textContent = t('checkin.scan.stop');
      timer = setInterval(async () => {
        const codes = await detector.detect(video).catch(() => []);
        if (codes.length && stream) {
          const v = codes[0].rawValue;
          stopScan();
          lookup(v);
        }
      }, 250);
    } catch (e) {
      stopScan();
      announce(t('checkin.scan.none'), 'error');
    }
  });
  return stopScan;
}
