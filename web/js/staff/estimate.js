// The repair ticket's estimate: the current version as the customer sees it (lines, VAT per
// rate, totals, diagnosis, terms), the customer's answer (approved, declined and why, or a
// call-back request, which stands out), the earlier versions, and the editor that writes a new
// version. Mounted into the ticket's <div id="repair-estimate">. The totals are the server's
// (computed in SQL when a version is written): the editor sends lines, never sums.
import { put } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, fmtDateTime, announce, showFormError, clearFormErrors } from '../ui.js';
import { formatMoney, formatRate, formatQuantity, parseMoney, plainMoney } from '../money.js';

// VAT rates offered, in basis points (the API takes any rate from 0 to 3000): France's standard,
// intermediate, reduced and super-reduced rates, and none.
const RATES = [2000, 1000, 550, 210, 0];
const WRITABLE = ['intake', 'diagnosing', 'awaiting_approval'];

function view(e, tz) {
  const m = (v) => formatMoney(v, e.currency);
  const badge = { pending: 'warn', approved: 'ok', declined: 'bad', superseded: '' }[e.state];
  return h('section', { class: 'card', id: 'es-current', 'aria-live': 'polite' },
    h('div', { class: 'row' },
      h('h2', { class: 'grow' }, t('est.version', { n: e.version })),
      h('span', { class: 'badge ' + badge, id: 'es-state' }, t(`est.state.${e.state}`))),
    e.callback && e.state === 'pending' ? h('p', { class: 'notice warn', id: 'es-callback' },
      h('strong', null, t('est.staff.callback')), ' ',
      e.callback.at ? t('est.staff.callback.at', { when: fmtDateTime(e.callback.at, tz) }) : t('est.staff.callback.asap'),
      ` (${fmtDateTime(e.callback.requested_at, tz)})`,
      e.callback.note ? h('span', { style: 'display:block' }, `“${e.callback.note}”`) : null) : null,
    e.state === 'declined' ? h('p', { class: 'notice bad', id: 'es-decision' },
      h('strong', null, t('est.state.declined')), ` · ${fmtDateTime(e.decided_at, tz)}`,
      e.decline_reason ? h('span', { style: 'display:block' }, `“${e.decline_reason}”`) : null) : null,
    e.state === 'approved' ? h('p', { class: 'notice ok', id: 'es-decision' },
      h('strong', null, t('est.state.approved')), ` · ${fmtDateTime(e.decided_at, tz)}`) : null,
    h('p', { style: 'white-space:pre-line' }, e.diagnosis),
    h('table', { class: 'est-lines', id: 'es-lines' },
      h('thead', null, h('tr', null, [t('est.item'), t('est.qty'), t('est.unit'), t('est.vat'), t('est.amount')]
        .map((c, i) => h('th', { scope: 'col', class: i ? 'num' : null }, c)))),
      h('tbody', null, e.lines.map((l) => h('tr', null,
        h('td', null, h('span', { class: 'badge' }, t(`est.kind.${l.kind}`)), ' ', l.description),
        h('td', { class: 'num' }, formatQuantity(l.quantity)), h('td', { class: 'num' }, m(l.unit_price)),
        h('td', { class: 'num' }, formatRate(l.vat_rate)), h('td', { class: 'num' }, m(l.net))))),
      h('tfoot', null,
        h('tr', null, h('th', { scope: 'row', colspan: '4' }, t('est.net')), h('td', { class: 'num' }, m(e.net_total))),
        e.vat.map((v) => h('tr', null, h('th', { scope: 'row', colspan: '4' }, t('est.vatof', { rate: formatRate(v.rate), base: m(v.base) })),
          h('td', { class: 'num' }, m(v.vat)))),
        h('tr', { class: 'est-total' }, h('th', { scope: 'row', colspan: '4' }, t('est.gross')),
          h('td', { class: 'num', id: 'es-gross' }, m(e.gross_total))))),
    e.terms ? h('p', { class: 'muted', style: 'white-space:pre-line' }, e.terms) : null,
    e.versions && e.versions.length > 1 ? h('details', null, h('summary', null, t('est.versions')),
      h('ul', { class: 'plain' }, e.versions.map((v) => h('li', null,
        `${t('est.version', { n: v.version })} · ${t(`est.state.${v.state}`)} · ${m(v.gross_total)} · ${fmtDateTime(v.created_at, tz)}`)))) : null);
}

function lineRow(i, l, currency, onRemove) {
  const id = (k) => `es-${k}-${i}`;
  const name = (k) => `lines[${i}].${k}`;
  const field = (k, label, input) => h('div', { class: k === 'description' ? 'field wide' : 'field' }, h('label', { for: id(k) }, label), input);
  return h('div', { class: 'est-line', dataset: { line: String(i) } },
    field('kind', t('est.kind'), h('select', { id: id('kind'), name: name('kind') },
      ['part', 'labour'].map((k) => h('option', { value: k, selected: l.kind === k }, t(`est.kind.${k}`))))),
    field('description', t('est.description'), h('input', { id: id('description'), name: name('description'), maxlength: '200', value: l.description || '', autocomplete: 'off' })),
    field('quantity', t('est.qty'), h('input', { id: id('quantity'), name: name('quantity'), inputmode: 'decimal', value: l.quantity ?? '1' })),
    field('unit_price', t('est.unit.of', { currency }), h('input', { id: id('unit_price'), name: name('unit_price'), inputmode: 'decimal', value: l.price || '' })),
    field('vat_rate', t('est.vat'), h('select', { id: id('vat_rate'), name: name('vat_rate') },
      RATES.map((r) => h('option', { value: String(r), selected: (l.vat_rate ?? RATES[0]) === r }, formatRate(r))))),
    h('button', { type: 'button', class: 'danger', 'aria-label': t('est.remove.n', { n: i + 1 }), onclick: onRemove }, '✕'));
}

/** What the rows hold now, as typed (kept when a row is added or removed). */
function readRows(form) {
  return [...form.querySelectorAll('.est-line')].map((row) => {
    const v = (k) => row.querySelector(`[name$=".${k}"]`).value;
    return { kind: v('kind'), description: v('description'), quantity: v('quantity'), price: v('unit_price'), vat_rate: Number(v('vat_rate')) };
  });
}

function editor(r, currency, done) {
  const prev = r.estimate;
  let rows = prev ? prev.lines.map((l) => ({ kind: l.kind, description: l.description, quantity: formatQuantity(l.quantity),
    price: plainMoney(l.unit_price), vat_rate: l.vat_rate }))
    : [{ kind: 'part', quantity: '1' }, { kind: 'labour', quantity: '1' }];
  const list = h('div', { id: 'es-rows' });
  const form = h('form', { class: 'card', id: 'es-form', novalidate: true },
    h('h2', null, prev ? t('est.new.version') : t('est.new')),
    h('div', { class: 'field' }, h('label', { for: 'es-diagnosis' }, t('est.diagnosis')),
      h('textarea', { id: 'es-diagnosis', name: 'diagnosis', maxlength: '4000', required: true }, prev ? prev.diagnosis : '')),
    h('fieldset', { name: 'lines', id: 'es-lines-set' }, h('legend', null, t('est.lines')), list,
      h('button', { type: 'button', class: 'secondary', id: 'es-add', onclick: () => { rows = readRows(form); rows.push({ kind: 'part', quantity: '1' }); draw(); } }, t('est.add'))),
    h('div', { class: 'field' }, h('label', { for: 'es-terms' }, t('est.terms'), ' ', h('span', { class: 'muted' }, `(${t('optional')})`)),
      h('textarea', { id: 'es-terms', name: 'terms', maxlength: '4000' }, prev && prev.terms ? prev.terms : t('est.terms.default'))),
    h('p', { class: 'muted' }, t('est.staff.hint')),
    h('button', { type: 'submit', class: 'wide', id: 'es-send' }, t('est.send')));
  const draw = () => fill(list, rows.map((l, i) => lineRow(i, l, currency, () => { rows = readRows(form); rows.splice(i, 1); draw(); })));
  draw();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFormErrors(form);
    const f = form.elements;
    const body = { diagnosis: f.diagnosis.value.trim(), terms: f.terms.value.trim() || null };
    body.lines = readRows(form).map((l) => {
      const price = parseMoney(l.price);
      const qty = l.quantity.trim().replace(',', '.');
      // A price that does not parse goes as text, so the server names the field.
      return { kind: l.kind, description: l.description.trim(), quantity: /^\d+(\.\d+)?$/.test(qty) ? Number(qty) : qty,
        unit_price: price ?? l.price, vat_rate: l.vat_rate };
    });
    try {
      const res = await put(`/api/repairs/${r.id}/estimate`, body);
      announce(t('est.sent'), 'ok');
      done(res);
    } catch (err) {
      showFormError(form, err);
    }
  });
  return form;
}

/**
 * Fills `el` with the repair `r`'s estimate and, while one may be written, the editor.
 * `onSent(reply)` gets the PUT's reply (with the new version's approval_token, shown once).
 */
export function mountEstimate(el, { r, session, onSent }) {
  const tz = session.store.timezone;
  const currency = (r.estimate && r.estimate.currency) || session.store.currency || 'EUR';
  const canWrite = WRITABLE.includes(r.state) && !(r.estimate && r.estimate.state === 'approved');
  fill(el,
    r.estimate ? view(r.estimate, tz) : h('section', { class: 'card' }, h('h2', null, t('repair.estimate')), h('p', { class: 'muted', id: 'es-none' }, t('est.none'))),
    canWrite ? editor(r, currency, onSent) : null);
}
