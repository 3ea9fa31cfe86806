// Small DOM helpers shared by every page: an element builder (text is always set as text, never
// parsed as HTML, so names typed by customers cannot inject markup), a polite live region for
// announcements, form error display, and date/time formatting in the store's time zone.
import { lang, t } from './i18n.js';

/** h('button', {class: 'big', onclick: fn}, 'Label', child) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let live, liveTimer;
const SHOW_MS = 8000;
/** Says something to screen readers and shows it in the status bar for a few seconds. */
export function announce(msg, kind = 'info') {
  if (!live) {
    live = document.getElementById('status') ||
      document.body.appendChild(h('div', { id: 'status', class: 'status', role: 'status', 'aria-live': 'polite' }));
  }
  live.textContent = msg;
  live.dataset.kind = kind;
  clearTimeout(liveTimer);
  if (msg) liveTimer = setTimeout(() => { live.textContent = ''; }, SHOW_MS);
}

/**
 * The message to show for an error, in the page's language: by code and field
 * ('err.invalid.email'), else by code ('err.invalid'), never the server's English sentence
 * unless the page is English and the code is one we do not know (tests/it/test_i18n.py keeps
 * every code the server can send translated). A message made by the page itself (an error not
 * from the server, with a message) is shown as it is. With `withField`, a code-only message is
 * prefixed by the field's name, for places that are not next to the field.
 */
/** A customer page whose private link could not be read: the loading line gives way to why. */
export function showPageError(err) {
  $('#loading').hidden = true;
  $('#error').textContent = errorText(err);
  $('#error').hidden = false;
}

export function errorText(err, { withField = false } = {}) {
  if (!err) return '';
  if (!err.fromServer && err.message) return err.message;
  const has = (k) => t(k) !== k;
  const field = err.field && String(err.field).replace(/\[\d+\]/g, '').split('.').pop();
  if (field && has(`err.${err.code}.${field}`)) return t(`err.${err.code}.${field}`);
  let msg;
  if (has('err.' + err.code)) msg = t('err.' + err.code);
  else if (lang() === 'en' && err.message) return err.message;
  else msg = t('err.generic');
  if (withField && field && has('field.' + field)) return t('field.' + field) + (lang() === 'fr' ? ' : ' : ': ') + msg;
  return msg;
}

/**
 * The one way forms show an error: the field the error names (err.field, or a form control
 * mapped to it with data-field="name") gets the message next to it, in the page's language,
 * marked aria-invalid and focused; the status bar says it too. An error naming no field of the
 * form is shown at the top of the form (a .form-error paragraph) with the field's name.
 */
export function showFormError(form, err) {
  clearFormErrors(form);
  const name = err.field && String(err.field);
  // 'contact.email' or 'hours[2]' belong to the control named 'contact' or 'hours'.
  const find = (n) => n && (form.querySelector(`[name="${CSS.escape(n)}"]`) ||
    form.querySelector(`[data-field="${CSS.escape(n)}"]`));
  const input = name && (find(name) || find(name.split(/[.[]/)[0]));
  if (input) {
    const id = (input.id || input.name || 'f') + '-err';
    const msg = h('p', { class: 'field-error', id }, errorText(err));
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', id);
    const holder = input.closest('.field, fieldset');
    if (holder) holder.append(msg);
    else input.after(msg);
    input.focus();
  } else {
    const top = h('p', { class: 'field-error form-error', role: 'alert' }, errorText(err, { withField: true }));
    const heading = form.querySelector(':scope > h1, :scope > h2, :scope > h3');
    if (heading) heading.after(top);
    else form.prepend(top);
  }
  announce(errorText(err, { withField: !input }), 'error');
}

export function clearFormErrors(form) {
  $$('.field-error', form).forEach((e) => e.remove());
  $$('[aria-invalid]', form).forEach((e) => {
    e.removeAttribute('aria-invalid');
    e.removeAttribute('aria-describedby');
  });
  announce('');
}

/** The Intl locale of the page's language. */
export function locale() {
  return lang() === 'fr' ? 'fr-FR' : 'en-GB';
}

/** The name of ISO weekday d (1 = Monday .. 7 = Sunday) in the page's language: 1 January 2024
 * was a Monday. style: 'long' or 'short'. */
export function weekdayName(d, style = 'long') {
  return new Intl.DateTimeFormat(locale(), { weekday: style, timeZone: 'UTC' })
    .format(new Date(Date.UTC(2024, 0, d, 12)));
}

export function fmtTime(iso, tz) {
  return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit', timeZone: tz }).format(new Date(iso));
}

export function fmtDay(iso, tz, style = 'long') {
  const d = /^\d{4}-\d{2}-\d{2}$/.test(iso) ? new Date(iso + 'T12:00:00Z') : new Date(iso);
  const o = style === 'short'
    ? { weekday: 'short', day: 'numeric', month: 'short' }
    : style === 'date' ? { day: 'numeric', month: 'long', year: 'numeric' }
      : { weekday: 'long', day: 'numeric', month: 'long' };
  return new Intl.DateTimeFormat(locale(), { ...o, timeZone: /^\d{4}-\d{2}-\d{2}$/.test(iso) ? 'UTC' : tz }).format(d);
}

export function fmtDateTime(iso, tz) {
  return `${fmtDay(iso, tz)}, ${fmtTime(iso, tz)}`;
}

/** YYYY-MM-DD of an instant in a time zone. */
export function localDate(date, tz) {
  const p = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(date);
  const g = (t) => p.find((x) => x.type === t).value;
  return `${g('year')}-${g('month')}-${g('day')}`;
}

export function addDays(ymd, n) {
  const d = new Date(ymd + 'T12:00:00Z');
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** A .ics file for an appointment, offered as a download: no server round trip needed. */
export function icsDownload({ uid, start, end, summary, location, description }) {
  const stamp = (iso) => new Date(iso).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const esc = (s) => String(s || '').replace(/[\\;,]/g, (c) => '\\' + c).replace(/\n/g, '\\n');
  const body = [
    'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Carnet//Booking//EN', 'CALSCALE:GREGORIAN',
    'BEGIN:VEVENT', `UID:${uid}`, `DTSTAMP:${stamp(new Date().toISOString())}`,
    `DTSTART:${stamp(start)}`, `DTEND:${stamp(end)}`, `SUMMARY:${esc(summary)}`,
    `LOCATION:${esc(location)}`, `DESCRIPTION:${esc(description)}`, 'END:VEVENT', 'END:VCALENDAR', '',
  ].join('\r\n');
  return URL.createObjectURL(new Blob([body], { type: 'text/calendar' }));
}

/** Moves focus to a heading after a step change, so keyboard and screen reader users follow. */
export function focusHeading(section) {
  const hd = section.querySelector('h1, h2, h3');
  if (hd) {
    hd.setAttribute('tabindex', '-1');
    hd.focus({ preventScroll: false });
  }
}
