// Device lookup and the health record: facts, owner, repairs, trend charts of measured values,
// and the timeline of everything recorded (newest first). Technicians log diagnostics here, or
// import a tool's report as the tool wrote it (smartctl, system_profiler, upower, Carnet's JSON).
import { api, get, post, put, ApiError } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, fmtDateTime, fmtDay, announce, errorText, showFormError, clearFormErrors } from '../ui.js';
import { lineChart } from '../charts.js';
import { intakeEntry } from './intake.js';
import { downloadPassport } from '../passport_file.js';
import { write } from './offline.js';
import { conversationsSection } from './conversations.js';

const enc = encodeURIComponent;
const METRICS = ['battery_health', 'cycle_count', 'storage_health'];

export function money(cents, currency = 'EUR') {
  return new Intl.NumberFormat(document.documentElement.lang === 'fr' ? 'fr-FR' : 'en-GB', { style: 'currency', currency }).format(cents / 100);
}

export function searchForm(go, initial = '') {
  const form = h('form', { class: 'card row', role: 'search', novalidate: true },
    h('div', { class: 'grow' },
      h('label', { for: 'dv-q' }, t('device.search')),
      h('input', { id: 'dv-q', name: 'q', value: initial, autocomplete: 'off', autocapitalize: 'characters', required: true })),
    h('button', { type: 'submit', style: 'align-self:flex-end' }, t('device.open')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const q = form.elements.q.value.trim();
    if (!q) return;
    try {
      const r = await get(`/api/devices?q=${enc(q)}&limit=10`);
      const exact = r.results.find((x) => x.match === 'serial') || (r.results.length === 1 ? r.results[0] : null);
      if (exact && exact.repair_id && exact.match === 'repair') return go('repair/' + exact.repair_id);
      if (exact) return go('device/' + enc(exact.serial));
      if (!r.results.length) return go('device/' + enc(q.replace(/\s+/g, '').toUpperCase()));
      const list = form.parentElement.querySelector('#dv-results') || h('div', { id: 'dv-results', class: 'card' });
      fill(list, h('ul', { class: 'plain' }, r.results.map((x) => h('li', { class: 'appt', style: 'grid-template-columns:1fr auto' },
        h('div', null, h('strong', null, x.serial), ' ', h('span', { class: 'muted' }, x.model || ''), x.repair_number ? ` · ${x.repair_number}` : ''),
        h('a', { class: 'button secondary', href: '#device/' + enc(x.serial) }, t('device.open'))))));
      form.after(list);
    } catch (err) {
      showFormError(form, { ...err, field: 'q' });
    }
  });
  return form;
}

/** The serials of the parts an imported session measured (a disk in a laptop has its own). */
function parts(results) {
  const serials = [...new Set((results || []).map((r) => r.component && r.component.serial).filter(Boolean))];
  return serials.length ? ` — ${t('import.part')} ${serials.join(', ')}` : '';
}

/** One line of text for a timeline entry. */
function describe(e) {
  const c = e.content || {};
  switch (e.kind) {
    case 'diagnostic': return (c.tool ? `${c.tool}: ` : '') + `${c.passed ?? 0} ✓ · ${c.failed ?? 0} ✗` + (c.results ? ' — ' + c.results.map((r) => `${r.test} ${r.passed ? '✓' : '✗'}${(r.values || []).map((v) => ` ${v.value}${v.unit === '%' || !v.unit ? v.unit || '' : ' ' + v.unit}`).join('')}`).join(', ') : '') + parts(c.results) + (c.summary ? ` — ${c.summary}` : '');
    case 'repair_opened': return `${c.number}: ${c.problem || ''}`;
    case 'repair_state': return `${c.number}: ${t('rs.' + c.from)} → ${t('rs.' + c.to)}${c.note ? ` — ${c.note}` : ''}`;
    case 'repair_estimate': return `${c.number}: ${money(c.amount_cents, c.currency)}`;
    case 'estimate_approved': case 'estimate_declined': return `${c.number}: ${money(c.amount_cents, c.currency)}`;
    case 'repair_part': return `${c.number}: ${c.part_number} ${c.description || ''} ${c.serial ? '(' + c.serial + ')' : ''}`;
    case 'repair_note': case 'note': case 'correction': case 'message': return c.text || '';
    case 'repair_promise': return `${c.number}: ${c.promised_at ? fmtDateTime(c.promised_at) : ''}${c.kept_overnight ? ' · overnight' : ''}`;
    case 'appointment': case 'visit': return [c.service, c.status, c.code].filter(Boolean).join(' · ');
    case 'device_update': return [c.model, c.warranty_end].filter(Boolean).join(' · ');
    default: return '';
  }
}

const KIND_LABEL = {
  diagnostic: 'tl.diagnostic', repair_opened: 'tl.repair', repair_state: 'tl.repair', repair_estimate: 'repair.estimate',
  estimate_approved: 'repair.approved', estimate_declined: 'repair.decline', repair_part: 'tl.repair', repair_note: 'tl.note',
  repair_promise: 'repair.promised', note: 'tl.note', correction: 'tl.note', message: 'tl.message', appointment: 'tl.appointment',
  visit: 'tl.visit', owner_change: 'device.record', device_update: 'device.record',
  intake_condition: 'intake.title', intake_photo: 'intake.photo', intake_signature: 'intake.signature',
};

function timeline(entries) {
  if (!entries.length) return h('p', { class: 'muted' }, t('device.empty'));
  return h('ol', { class: 'timeline', id: 'timeline' }, entries.map((e) => h('li', {
    dataset: { kind: e.kind.startsWith('repair') || e.kind.startsWith('estimate') ? 'repair' : e.kind },
  },
  h('div', { class: 'when' }, fmtDateTime(e.at), e.actor ? ` · ${e.actor.name}` : ''),
  h('strong', null, t(KIND_LABEL[e.kind] || 'tl.note')),
  e.corrected_by ? h('span', { class: 'badge warn' }, ' ✎') : null,
  intakeEntry(e) || h('div', null, describe(e)))));
}

function diagRow(i) {
  return h('fieldset', { class: 'card', style: 'margin:0 0 .6rem', dataset: { row: String(i) } },
    h('legend', { class: 'visually-hidden' }, `${t('diag.test')} ${i + 1}`),
    h('div', { class: 'row' },
      h('div', { class: 'grow' }, h('label', { for: `dg-test-${i}` }, t('diag.test')),
        h('input', { id: `dg-test-${i}`, name: `test-${i}`, list: 'dg-tests', required: true, maxlength: '100' })),
      h('div', null, h('label', { for: `dg-pass-${i}` }, t('diag.pass') + ' / ' + t('diag.fail')),
        h('select', { id: `dg-pass-${i}`, name: `passed-${i}` }, h('option', { value: 'true' }, t('diag.pass')), h('option', { value: 'false' }, t('diag.fail'))))),
    h('div', { class: 'row' },
      h('div', { class: 'grow' }, h('label', { for: `dg-metric-${i}` }, t('diag.metric') + ` (${t('optional')})`),
        h('select', { id: `dg-metric-${i}`, name: `metric-${i}` }, h('option', { value: '' }, '—'), METRICS.map((m) => h('option', { value: m }, t('diag.' + m))))),
      h('div', null, h('label', { for: `dg-value-${i}` }, t('diag.value')),
        h('input', { id: `dg-value-${i}`, name: `value-${i}`, inputmode: 'decimal', style: 'width:7rem' })),
      h('div', null, h('label', { for: `dg-unit-${i}` }, t('diag.unit')),
        h('input', { id: `dg-unit-${i}`, name: `unit-${i}`, style: 'width:6rem', maxlength: '16' }))));
}

function diagForm(serial, store, onSaved) {
  let n = 1;
  const rows = h('div', null, diagRow(0));
  const form = h('form', { class: 'card', id: 'diag-form', novalidate: true },
    h('h2', null, t('diag.title')),
    h('datalist', { id: 'dg-tests' }, ['battery', 'storage', 'display', 'touchscreen', 'camera', 'speaker', 'microphone', 'wifi', 'bluetooth', 'charging'].map((x) => h('option', { value: x }))),
    rows,
    h('p', null, h('button', { type: 'button', class: 'secondary', onclick: () => rows.append(diagRow(n++)) }, t('diag.add'))),
    h('div', { class: 'field' }, h('label', { for: 'dg-summary' }, `${t('diag.summary')} (${t('optional')})`),
      h('textarea', { id: 'dg-summary', name: 'summary', maxlength: '2000' })),
    h('button', { type: 'submit', class: 'wide' }, t('diag.save')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const results = [];
    for (const fs of rows.querySelectorAll('[data-row]')) {
      const i = fs.dataset.row;
      const test = form.elements[`test-${i}`].value.trim();
      if (!test) continue;
      const r = { test, passed: form.elements[`passed-${i}`].value === 'true' };
      const metric = form.elements[`metric-${i}`].value;
      const value = form.elements[`value-${i}`].value.trim().replace(',', '.');
      if (metric && value !== '') {
        const v = { name: metric, value: Number(value) };
        if (Number.isNaN(v.value)) {
          showFormError(form, new ApiError(422, { code: 'invalid', field: `value-${i}`, message: t('diag.value') + '?' }));
          return;
        }
        const unit = form.elements[`unit-${i}`].value.trim();
        if (unit) v.unit = unit;
        r.values = [v];
      }
      results.push(r);
    }
    if (!results.length) {
      showFormError(form, new ApiError(422, { code: 'invalid', field: 'test-0', message: t('diag.test') + '?' }));
      return;
    }
    const body = { store_id: store.id, results };
    const summary = form.elements.summary.value.trim();
    if (summary) body.summary = summary;
    try {
      const r = await write(`/api/devices/${enc(serial)}/diagnostics`, body, { kind: 'diagnostic', name: serial });
      announce(t(r.queued ? 'outbox.kept.diagnostic' : 'diag.saved'), 'ok');
      onSaved();
    } catch (err) {
      const m = /^results\[(\d+)\]\.(test|passed|values)/.exec(err.field || '');
      showFormError(form, m ? { ...err, field: m[2] === 'values' ? `value-${m[1]}` : `${m[2]}-${m[1]}` } : err);
    }
  });
  return form;
}

/** A note on the device's record (any of the store's staff); kept in the outbox offline. */
function noteForm(serial, store, onSaved) {
  const form = h('form', { class: 'card', id: 'dv-note-form', novalidate: true },
    h('h2', null, t('device.note')),
    h('div', { class: 'field' }, h('label', { for: 'dv-note' }, t('tl.note')),
      h('textarea', { id: 'dv-note', name: 'text', required: true, maxlength: '4000' })),
    h('button', { type: 'submit' }, t('save')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const text = form.elements.text.value.trim();
    if (!text) {
      showFormError(form, new ApiError(422, { code: 'invalid', field: 'text', message: t('device.note') + '?' }));
      return;
    }
    try {
      const r = await write(`/api/devices/${enc(serial)}/notes`, { store_id: store.id, text }, { kind: 'note', name: serial });
      announce(t(r.queued ? 'outbox.kept.note' : 'device.note.saved'), 'ok');
      form.reset();
      onSaved();
    } catch (err) {
      showFormError(form, err);
    }
  });
  return form;
}

/** A tool's report, sent as the tool wrote it: a file, or text pasted from a terminal. The server
 * reads its kind from the content; the file's type does not matter. */
function importForm(serial, store, onSaved) {
  const form = h('form', { class: 'card', id: 'import-form', novalidate: true },
    h('h2', null, t('import.title')),
    h('p', { class: 'muted' }, t('import.hint')),
    h('div', { class: 'field' }, h('label', { for: 'im-file' }, t('import.file')),
      h('input', { id: 'im-file', name: 'file', type: 'file', accept: '.json,.txt,application/json,text/plain' })),
    h('div', { class: 'field' }, h('label', { for: 'im-text' }, `${t('import.paste')} (${t('optional')})`),
      h('textarea', { id: 'im-text', name: 'report', rows: '4', spellcheck: 'false', autocapitalize: 'off' })),
    h('button', { type: 'submit', class: 'wide' }, t('import.save')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(form);
    const file = form.elements.file.files[0];
    const text = form.elements.report.value;
    if (!file && !text.trim()) {
      showFormError(form, new ApiError(422, { code: 'invalid', field: 'report', message: t('import.paste') + '?' }));
      return;
    }
    const raw = file || new Blob([text], { type: text.trim().startsWith('{') ? 'application/json' : 'text/plain' });
    try {
      const r = await api(`/api/devices/${enc(serial)}/diagnostics/import?store_id=${store.id}`, { method: 'POST', raw });
      announce(t('import.saved', { kind: r.kind, passed: r.passed, failed: r.failed }), 'ok');
      onSaved();
    } catch (err) {
      showFormError(form, err.field === 'body' ? { ...err, field: 'report' } : err);
    }
  });
  return form;
}

export async function render({ el, session, args, go, roles }) {
  const serial = args[0];
  el.append(h('h1', null, serial ? `${t('device.record')} · ${serial}` : t('device.title')), searchForm(go, serial || ''));
  if (!serial) return;
  const body = h('div', { class: 'cols' });
  el.append(body);
  let rec, trends;
  try {
    [rec, trends] = await Promise.all([get(`/api/devices/${enc(serial)}`), get(`/api/devices/${enc(serial)}/trends`)]);
  } catch (e) {
    if (e.status !== 404) throw e;
    // Unknown device: offer to create it (model), so diagnostics and repairs can follow.
    const form = h('form', { class: 'card', novalidate: true },
      h('p', { class: 'notice warn' }, t('device.empty')),
      h('div', { class: 'field' }, h('label', { for: 'dv-model' }, t('device.model')), h('input', { id: 'dv-model', name: 'model', required: true, maxlength: '200' })),
      h('button', { type: 'submit' }, t('save')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await put(`/api/devices/${enc(serial)}`, { model: form.elements.model.value.trim() });
        go('device/' + enc(serial));
      } catch (err) { showFormError(form, err); }
    });
    body.append(form);
    return;
  }
  const d = rec.device;
  const tech = roles.includes('technician') || roles.includes('manager');
  const facts = h('section', { class: 'card', 'aria-labelledby': 'dv-facts' },
    h('h2', { id: 'dv-facts' }, d.model || d.serial),
    h('dl', { class: 'facts' },
      h('dt', null, t('device.serial')), h('dd', null, d.serial),
      h('dt', null, t('device.coverage')), h('dd', null, d.warranty_end ? fmtDay(d.warranty_end, null, 'date') : '—',
        ' ', h('span', { class: 'badge ' + (d.under_warranty ? 'ok' : 'warn') }, d.under_warranty ? '✓' : '✗')),
      rec.owner ? [h('dt', null, t('repairs.customer')), h('dd', null, rec.owner.redacted ? '•••' : [rec.owner.name, rec.owner.email, rec.owner.phone].filter(Boolean).join(' · '))] : null),
    rec.repairs.length ? h('ul', { class: 'plain', id: 'dv-repairs' }, rec.repairs.map((r) => h('li', { class: 'row', style: 'padding:.3rem 0' },
      h('a', { href: '#repair/' + r.id }, r.number), h('span', { class: 'badge' }, t('rs.' + r.state))))) : null,
    tech ? h('p', null, h('a', { class: 'button secondary', href: '#repairs/new/' + enc(d.serial) }, t('repairs.open'))) : null,
    // The device's signed history without personal data, for its owner or a later buyer.
    h('p', null, h('button', { type: 'button', class: 'secondary', id: 'dv-passport', onclick: async () => {
      try {
        await downloadPassport(`/api/devices/${enc(d.serial)}/passport`);
        announce(t('pp.downloaded'), 'ok');
      } catch (err) { announce(errorText(err), 'bad'); }
    } }, t('pp.download'))));
  const charts = h('section', { class: 'card', 'aria-labelledby': 'dv-trends' }, h('h2', { id: 'dv-trends' }, t('device.trend')));
  const metrics = Object.entries(trends.metrics || {});
  if (!metrics.length) charts.append(h('p', { class: 'muted' }, t('dash.nodata')));
  for (const [name, pts] of metrics) {
    const unit = pts[0] && pts[0].unit === '%' ? '%' : '';
    charts.append(h('h3', null, t('diag.' + name) !== 'diag.' + name ? t('diag.' + name) : name),
      lineChart(t('diag.' + name), pts.map((p) => ({ label: fmtDay(p.at, session.store.timezone, 'short'), value: p.value })), { unit }));
  }
  const left = h('div', null, facts, charts);
  const right = h('div', null,
    tech ? diagForm(d.serial, session.store, () => go('device/' + enc(d.serial))) : null,
    roles.length ? noteForm(d.serial, session.store, () => go('device/' + enc(d.serial))) : null,
    tech ? importForm(d.serial, session.store, () => go('device/' + enc(d.serial))) : null,
    h('section', { class: 'card', 'aria-labelledby': 'dv-tl' }, h('h2', { id: 'dv-tl' }, t('device.record')), timeline(rec.entries)),
    tech ? conversationsSection(d.serial) : null);
  body.append(left, right);
}
