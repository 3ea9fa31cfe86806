// A repair's intake, inside its ticket: the device's condition (screen, housing, liquid
// indicators, accessories left, a note), photos from the tablet's camera, the customer's
// signature of the intake terms, and the printable customer receipt and bench label.
//
// The record is append-only: once saved it is shown, and "Correct" records a new version of it
// (the server keeps both). An intake without the customer's signature says so in large type,
// in the ticket and on the receipt. Photos upload as their own bytes (the server checks their
// type by the bytes); the signature is drawn with a pointer (finger, stylus or mouse) on a
// canvas and sent as a small PNG.
import { get, post, upload } from '../api.js';
import { lang, t } from '../i18n.js';
import { h, fill, fmtDateTime, announce, errorText, showFormError, clearFormErrors } from '../ui.js';
import { qrSvg } from '../qr.js';

const enc = encodeURIComponent;
let tz; // the store's time zone, for the times shown
export const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/webp'];
export const PHOTO_MAX = 5 * 1024 * 1024;
// The signature is sealed as personal data: its base64 must fit one sealed value (16 KiB).
const SIGNATURE_B64_MAX = 16384;
const CHOICES = {
  screen: ['intact', 'scratched', 'cracked', 'broken'],
  housing: ['intact', 'scuffed', 'dented', 'cracked'],
  liquid: ['not_triggered', 'triggered', 'not_checked'],
};
const ACCESSORIES = ['case', 'charger', 'cable', 'sim', 'stylus'];

const photoUrl = (rid, pid) => `/api/repairs/${enc(rid)}/photos/${enc(pid)}`;
const accessoryName = (a) => (ACCESSORIES.includes(a) ? t(`intake.acc.${a}`) : a);

/** The condition of one record as a definition list. */
function conditionFacts(rec) {
  return h('dl', { class: 'facts', id: 'in-facts' },
    Object.keys(CHOICES).map((k) => [h('dt', null, t('intake.' + k)),
      h('dd', { dataset: { field: k } }, t(`intake.${k}.${rec[k]}`))]),
    h('dt', null, t('intake.accessories')),
    h('dd', { dataset: { field: 'accessories' } }, rec.accessories.length ? rec.accessories.map(accessoryName).join(', ') : t('intake.acc.none')),
    rec.note ? [h('dt', null, t('intake.note')), h('dd', { dataset: { field: 'note' } }, rec.note)] : null);
}

/** The condition form; `rec` pre-fills a correction of it. */
function conditionForm(rid, rec, done) {
  const radios = (k) => h('fieldset', { class: 'choices segmented', id: `in-${k}` },
    h('legend', null, t('intake.' + k)),
    CHOICES[k].map((v) => h('label', { class: 'choice', for: `in-${k}-${v}` },
      h('input', { type: 'radio', name: k, id: `in-${k}-${v}`, value: v, checked: rec ? rec[k] === v : false, required: true }),
      h('span', null, t(`intake.${k}.${v}`)))));
  const others = rec ? rec.accessories.filter((a) => !ACCESSORIES.includes(a)) : [];
  const form = h('form', { class: 'card', id: 'in-form', novalidate: true },
    h('h3', null, rec ? t('intake.correct') : t('intake.record')),
    Object.keys(CHOICES).map(radios),
    h('fieldset', { class: 'choices', id: 'in-accessories' },
      h('legend', null, t('intake.accessories')),
      ACCESSORIES.map((a) => h('label', { class: 'choice', for: `in-acc-${a}` },
        h('input', { type: 'checkbox', id: `in-acc-${a}`, name: 'accessories', value: a, checked: rec ? rec.accessories.includes(a) : false }),
        h('span', null, t(`intake.acc.${a}`)))),
      h('div', { class: 'field' }, h('label', { for: 'in-acc-other' }, t('intake.acc.other')),
        h('input', { id: 'in-acc-other', name: 'accessories_other', maxlength: '200', autocomplete: 'off', value: others.join(', ') }))),
    h('div', { class: 'field' }, h('label', { for: 'in-note' }, t('intake.note')),
      h('textarea', { id: 'in-note', name: 'note', maxlength: '1000' }, rec && rec.note ? rec.note : '')),
    h('div', { class: 'row' },
      h('button', { type: 'submit', id: 'in-save' }, t('save')),
      rec ? h('button', { type: 'button', class: 'secondary', onclick: () => done(null) }, t('cancel')) : null));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const f = form.elements;
    const pick = (k) => (form.querySelector(`input[name="${k}"]:checked`) || {}).value;
    const missing = Object.keys(CHOICES).find((k) => !pick(k));
    if (missing) {
      showFormError(form, { code: 'intake_choose', field: missing, message: t('intake.choose') });
      return;
    }
    const accessories = [...form.querySelectorAll('input[name="accessories"]:checked')].map((x) => x.value)
      .concat(f.accessories_other.value.split(',').map((x) => x.trim()).filter(Boolean));
    const body = { screen: pick('screen'), housing: pick('housing'), liquid: pick('liquid'), accessories };
    if (f.note.value.trim()) body.note = f.note.value.trim();
    if (rec) body.corrects = rec.id;
    try {
      await post(`/api/repairs/${enc(rid)}/intake`, body);
      announce(t('intake.saved'), 'ok');
      done(true);
    } catch (err) {
      showFormError(form, { ...err, field: err.field === 'corrects' ? 'note' : err.field });
    }
  });
  return form;
}

/** A canvas to sign on with a finger, a stylus or a mouse (pointer events). */
function signaturePad() {
  const canvas = h('canvas', { id: 'in-sig-pad', class: 'sig-pad', width: '480', height: '160', role: 'img', 'aria-label': t('intake.sign.pad') });
  const g = canvas.getContext('2d');
  let last = null;
  let inked = false;
  const pos = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * (canvas.width / r.width), (e.clientY - r.top) * (canvas.height / r.height)];
  };
  const pen = () => { g.lineWidth = 2.5; g.lineCap = 'round'; g.lineJoin = 'round'; g.strokeStyle = '#000'; g.fillStyle = '#000'; };
  pen();
  canvas.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    last = pos(e);
    g.beginPath();
    g.arc(last[0], last[1], 1.2, 0, 2 * Math.PI);
    g.fill();
    inked = true;
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = pos(e);
    g.beginPath();
    g.moveTo(last[0], last[1]);
    g.lineTo(p[0], p[1]);
    g.stroke();
    last = p;
  });
  const up = () => { last = null; };
  canvas.addEventListener('pointerup', up);
  canvas.addEventListener('pointercancel', up);
  return {
    canvas,
    empty: () => !inked,
    clear: () => { g.clearRect(0, 0, canvas.width, canvas.height); pen(); inked = false; },
    png: () => canvas.toDataURL('image/png'),
  };
}

/** The signature as an image; after the customer's erasure only its record remains. */
function sigImage(sig, id) {
  return sig.png
    ? h('img', { class: 'sig-img', id, alt: t('intake.signature'), src: 'data:image/png;base64,' + sig.png })
    : h('p', { class: 'muted', id }, t('intake.sign.erased'));
}

function termsText(terms) {
  return terms[lang()] || terms.en;
}

function signatureBlock(rid, j, done) {
  const cur = j.current;
  if (cur.signature) {
    return h('section', { class: 'card', id: 'in-signature' },
      h('h3', null, t('intake.signature')),
      h('p', null, h('span', { class: 'badge ok', id: 'in-signed' }, t('intake.signed')), ' ',
        fmtDateTime(cur.signature.signed_at, tz), ` · ${t('intake.terms.version', { v: cur.signature.terms_version })}`),
      sigImage(cur.signature, 'in-sig-img'));
  }
  const pad = signaturePad();
  const send = async () => {
    if (pad.empty()) { announce(t('intake.sign.empty'), 'error'); return; }
    const png = pad.png();
    if (png.length - 'data:image/png;base64,'.length > SIGNATURE_B64_MAX) { announce(t('intake.sign.toolarge'), 'error'); pad.clear(); return; }
    try {
      await post(`/api/repairs/${enc(rid)}/signature`, { terms_version: j.terms.version, png, intake_id: cur.id });
      announce(t('intake.sign.saved'), 'ok');
      done(true);
    } catch (err) { announce(errorText(err), 'error'); }
  };
  return h('section', { class: 'card', id: 'in-signature' },
    h('h3', null, t('intake.signature')),
    h('p', null, h('span', { class: 'badge bad unsigned', id: 'in-unsigned' }, t('intake.unsigned'))),
    h('p', { class: 'terms', id: 'in-terms' }, termsText(j.terms)),
    h('p', { class: 'hint' }, t('intake.sign.hint')),
    pad.canvas,
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'secondary', id: 'in-sig-clear', onclick: pad.clear }, t('intake.sign.clear')),
      h('button', { type: 'button', id: 'in-sig-save', onclick: send }, t('intake.sign.save'))));
}

function photosBlock(rid, j, canWrite, done) {
  const input = h('input', { type: 'file', id: 'in-photo-input', accept: 'image/*', capture: 'environment', multiple: true, class: 'visually-hidden' });
  input.addEventListener('change', async () => {
    const files = [...input.files];
    input.value = '';
    let added = 0;
    for (const file of files) {
      if (!PHOTO_TYPES.includes(file.type)) { announce(t('err.unsupported_type'), 'error'); continue; }
      if (file.size > PHOTO_MAX) { announce(t('err.too_large'), 'error'); continue; }
      try {
        await upload(`/api/repairs/${enc(rid)}/photos`, file);
        added++;
      } catch (err) { announce(errorText(err), 'error'); }
    }
    if (added) {
      announce(t('intake.photo.added', { n: added }), 'ok');
      done(true);
    }
  });
  return h('section', { class: 'card', id: 'in-photos' },
    h('h3', null, t('intake.photos'), ` (${j.photos.length})`),
    j.photos.length ? h('ul', { class: 'photo-grid' }, j.photos.map((p, i) => {
      const alt = t('intake.photo.alt', { n: i + 1, at: fmtDateTime(p.taken_at, tz) });
      return h('li', { dataset: { id: String(p.id) } },
        h('a', { href: photoUrl(rid, p.id), target: '_blank', rel: 'noreferrer', 'aria-label': alt },
          h('img', { src: photoUrl(rid, p.id), loading: 'lazy', alt })));
    }))
      : h('p', { class: 'muted' }, t('intake.photo.none')),
    canWrite ? h('label', { class: 'button secondary', for: 'in-photo-input', id: 'in-photo-add' }, t('intake.photo.add')) : null,
    canWrite ? input : null);
}

/** The customer's copy: what was recorded, the terms, the signature (or that there is none). */
async function receiptSheet(j) {
  const cur = j.current;
  return h('article', { class: 'receipt', id: 'in-receipt' },
    h('header', null, h('h2', null, j.store.name), h('p', null, t('intake.receipt.title'))),
    h('dl', { class: 'facts' },
      h('dt', null, t('repairs.number')), h('dd', { id: 'rc-number' }, j.repair.number),
      h('dt', null, t('repair.device')), h('dd', null, `${j.device.model || ''} ${j.device.serial}`.trim()),
      h('dt', null, t('repairs.problem')), h('dd', null, j.repair.problem),
      h('dt', null, t('repairs.opened')), h('dd', null, fmtDateTime(j.repair.opened_at, tz))),
    h('h3', null, t('repairs.condition')),
    cur ? conditionFacts(cur) : h('p', null, t('intake.none')),
    h('p', null, t('intake.photos'), `: ${j.photos.length}`),
    h('h3', null, t('intake.terms')),
    h('p', { class: 'terms' }, termsText(j.terms)),
    cur && cur.signature
      ? h('figure', { class: 'sig' }, sigImage(cur.signature),
        h('figcaption', null, `${t('intake.signed')} · ${fmtDateTime(cur.signature.signed_at, tz)}`))
      : h('p', { class: 'unsigned-big', id: 'rc-unsigned' }, t('intake.unsigned')),
    h('div', { class: 'receipt-qr' }, await qrSvg(j.repair.number, t('intake.label.qr'))));
}

/** The bench label: repair number and serial, as text and as one QR code. */
async function labelSheet(j) {
  return h('article', { class: 'bench-label', id: 'in-label' },
    await qrSvg(`${j.repair.number} ${j.device.serial}`, t('intake.label.qr')),
    h('div', null, h('strong', { class: 'num' }, j.repair.number), h('div', { class: 'serial' }, j.device.serial),
      h('div', null, j.device.model || '')));
}

/** Shows a sheet over the page with Print and Close; printing shows the sheet alone. */
function openSheet(kind, sheet) {
  const close = () => { wrap.remove(); document.body.classList.remove('print-sheet-open'); };
  const wrap = h('div', { class: 'print-sheet ' + kind, id: 'print-sheet', role: 'dialog', 'aria-modal': 'true', 'aria-label': t(`intake.print.${kind}`) },
    h('div', { class: 'row no-print' },
      h('button', { type: 'button', id: 'ps-print', onclick: () => window.print() }, t('intake.print.go')),
      h('button', { type: 'button', class: 'secondary', id: 'ps-close', onclick: close }, t('close'))),
    sheet);
  document.body.append(wrap);
  document.body.classList.add('print-sheet-open');
  wrap.querySelector('#ps-print').focus();
}

/**
 * Draws the intake of repair `rid` into `el` (the ticket's #repair-intake). `canWrite`: the
 * signed-in person may record (technicians and managers); others see it read-only. `timezone`:
 * the store's.
 */
export async function mountIntake(el, { rid, canWrite, timezone }) {
  tz = timezone;
  const redraw = async () => {
    let j;
    try { j = await get(`/api/repairs/${enc(rid)}/intake`); } catch (err) {
      fill(el, h('p', { class: 'error' }, errorText(err)));
      return;
    }
    const open = !['collected', 'returned_unrepaired', 'cancelled'].includes(j.repair.state);
    const write = canWrite && open;
    const cur = j.current;
    const done = (changed) => { if (changed !== false) redraw(); };
    let body;
    if (cur) {
      const correct = h('button', { type: 'button', class: 'secondary', id: 'in-correct' }, t('intake.correct'));
      correct.addEventListener('click', () => fill(condition, conditionForm(rid, cur, done)));
      const condition = h('div', null, conditionFacts(cur),
        h('p', { class: 'muted' }, `${fmtDateTime(cur.recorded_at, tz)} · ${cur.recorded_by ? cur.recorded_by.name : ''}`,
          j.records.length > 1 ? ` · ${t('intake.versions', { n: j.records.length })}` : ''),
        write ? correct : null);
      body = condition;
    } else if (write && j.repair.state === 'intake') {
      body = conditionForm(rid, null, done);
    } else {
      body = h('p', { class: 'muted' }, t('intake.none'));
    }
    fill(el, h('section', { class: 'card intake', 'aria-labelledby': 'in-title' },
      h('div', { class: 'row' }, h('h2', { id: 'in-title', class: 'grow' }, t('intake.title')),
        cur ? h('span', { class: cur.signature ? 'badge ok' : 'badge bad unsigned', id: 'in-state' }, t(cur.signature ? 'intake.signed' : 'intake.unsigned')) : null),
      body,
      photosBlock(rid, j, write, done),
      cur && (cur.signature || write) ? signatureBlock(rid, j, done) : null,
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', id: 'in-receipt-btn', onclick: async () => openSheet('receipt', await receiptSheet(j)) }, t('intake.print.receipt')),
        h('button', { type: 'button', class: 'secondary', id: 'in-label-btn', onclick: async () => openSheet('label', await labelSheet(j)) }, t('intake.print.label')))));
  };
  await redraw();
}

/** What the health record shows for an intake entry, or null for other kinds. */
export function intakeEntry(e) {
  const c = e.content || {};
  switch (e.kind) {
    case 'intake_condition':
      return h('div', null, `${c.number}: `, Object.keys(CHOICES).map((k) => `${t('intake.' + k)} ${t(`intake.${k}.${c[k]}`)}`).join(' · '),
        c.accessories && c.accessories.length ? ` · ${t('intake.accessories')}: ${c.accessories.map(accessoryName).join(', ')}` : '',
        c.note ? ` — ${c.note}` : '');
    case 'intake_photo':
      // Only staff of the repair's store may open it; elsewhere the entry says what it was.
      return h('div', null, `${c.number}: `,
        h('a', { href: photoUrl(e.ref_id, c.photo_id), target: '_blank', rel: 'noreferrer', 'aria-label': t('intake.photo.of', { n: c.number }) },
          h('img', { class: 'record-photo', src: photoUrl(e.ref_id, c.photo_id), loading: 'lazy', alt: t('intake.photo.of', { n: c.number }), onerror: (ev) => ev.target.replaceWith(t('intake.photo.elsewhere')) })));
    case 'intake_signature':
      return h('div', null, `${c.number}: ${t('intake.signed')} · ${t('intake.terms.version', { v: c.terms_version })}`);
    default:
      return null;
  }
}
