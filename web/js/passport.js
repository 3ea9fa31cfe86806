// /passport/: checks a device passport file in the browser. The chain's public key comes from
// /api/passport-key; the file never leaves the page. A valid passport's history is shown; a file
// that is not valid shows why and nothing of what it claims.
import { initI18n, onLangChange, t } from './i18n.js';
import { $, h, fill, fmtDay } from './ui.js';
import { verifyPassport } from './passport_file.js';

let key = null;
let result = null;

const day = (iso) => (iso ? fmtDay(iso, undefined, 'date') : '—');
const rs = (s) => (t('rs.' + s) !== 'rs.' + s ? t('rs.' + s) : s);

function draw() {
  const v = $('#pp-verdict');
  const hist = $('#pp-history');
  if (!result) {
    v.hidden = true;
    hist.hidden = true;
    return;
  }
  v.hidden = false;
  if (!result.ok) {
    v.className = 'notice bad';
    v.dataset.valid = 'false';
    fill(v, h('strong', null, t('pp.invalid')), ' ', t('pp.why.' + result.reason));
    hist.hidden = true;
    return;
  }
  const p = result.doc.passport;
  v.className = 'notice ok';
  v.dataset.valid = 'true';
  fill(v, h('strong', null, t('pp.valid')), ' ', t('pp.signedby', { key: result.doc.signature.key_id, at: day(p.issued_at) }));
  fill($('#pp-facts'),
    h('dt', null, t('pp.serial')), h('dd', { id: 'pp-serial' }, p.device.serial),
    h('dt', null, t('pp.model')), h('dd', null, p.device.model || '—'),
    h('dt', null, t('pp.record')), h('dd', null, t('pp.entries', { n: p.record.entries }),
      h('br'), h('code', { class: 'pp-hash' }, p.record.head)));
  fill($('#pp-repairs'), p.repairs.length ? p.repairs.map((r) => h('li', { class: 'pp-item' },
    h('p', null, h('strong', null, r.number), ' · ', r.store, ' · ', day(r.opened_at), ' ', h('span', { class: 'badge' }, rs(r.state))),
    (r.states || []).length ? h('p', { class: 'muted' }, r.states.map((s) => `${rs(s.state)} (${day(s.at)})`).join(' → ')) : null,
    r.parts.length ? h('ul', null, r.parts.map((x) => h('li', null, t('pp.part', { n: x.quantity, part: x.part_number }), x.description ? ' · ' + x.description : ''))) : null,
    // Passports made before labour notes were left out may still hold them.
    (r.notes || []).length ? h('ul', null, r.notes.map((x) => h('li', null, x.text, h('span', { class: 'muted' }, ' · ' + day(x.at))))) : null))
    : h('li', { class: 'muted' }, t('pp.none')));
  fill($('#pp-diags'), p.diagnostics.length ? p.diagnostics.map((d) => h('li', { class: 'pp-item' },
    h('p', null, h('strong', null, day(d.at)), ' · ', d.store, d.tool ? ' · ' + d.tool : ''),
    d.summary ? h('p', null, d.summary) : null,
    h('ul', null, d.tests.map((x) => h('li', null,
      h('span', { class: 'badge ' + (x.result === 'pass' ? 'ok' : 'bad') }, t('pp.' + x.result)), ' ', x.test,
      x.values.length ? h('span', { class: 'muted' }, ' · ' + x.values.map((m) => `${t('diag.' + m.name) !== 'diag.' + m.name ? t('diag.' + m.name) : m.name} ${m.value}${m.unit ? ' ' + m.unit : ''}`).join(', ')) : null)))))
    : h('li', { class: 'muted' }, t('pp.none')));
  fill($('#pp-visits'), p.visits.length ? p.visits.map((x) => h('li', null, `${day(x.day)} · ${x.store} · ${t('pp.kind.' + x.kind)}`))
    : h('li', { class: 'muted' }, t('pp.none')));
  hist.hidden = false;
}

async function check(file) {
  if (!file) return;
  const text = await file.text();
  try {
    if (!key) {
      const res = await fetch('/api/passport-key', { headers: { Accept: 'application/json' } });
      if (!res.ok) throw new Error('no key');
      key = await res.json();
    }
    result = await verifyPassport(text, key);
  } catch {
    result = { ok: false, reason: 'no_key' };
  }
  draw();
}

function start() {
  initI18n();
  onLangChange(draw);
  const input = $('#pp-file');
  input.addEventListener('change', () => check(input.files[0]));
  const drop = $('#pp-drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    check(e.dataTransfer.files[0]);
  });
}

start();
