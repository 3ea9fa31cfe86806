// The live queue: who waits (booked customers due now first, then walk-ins), who is being served,
// and "call next". Every floor event on the store's stream triggers one refetch of the queue.
//
// The specialist's own visits show as serving cards (GET /api/visits/{id}): the service, the
// customer's own words, the device and its history, the time waited, a link to the record, and
// the moves: start, not here, back in line, left, hand to a colleague, and the hand-over to a
// repair order (one tap, then confirm; a serial is asked for only when the visit has none).
// "Call next" is off while the specialist is serving someone.
//
// Who is next and why (issue 17): each waiting person carries the reason the store's call order
// gives for their place (GET .../queue: reason {code, part, due_at, arrived_at, ...}, the same
// rule call next follows), worded here; the first is shown above the line with the store's rule.
// Calling anyone else is out of turn: a dialog asks why, and the reason is kept with the call.
import { t } from '../i18n.js';
import { h, fill, fmtTime, announce, errorText, showFormError, clearFormErrors } from '../ui.js';
import { randomKey, put } from '../api.js';
import { follow, debounce } from '../live.js';
import { queue, callNext, visitMove, visitCard, callVisit, transferVisit, handOver } from './floor.js';

const minutes = (s) => Math.max(0, Math.round((s || 0) / 60));

export async function render({ el, session }) {
  const store = session.store;
  const tz = store.timezone;
  const me = session.me.staff_id;
  const liveDot = h('span', { class: 'live-dot', 'data-state': 'off' }, t('live.off'));
  const serving = h('div', { id: 'serving' });
  const waiting = h('div', { class: 'card', id: 'waiting' });
  const callBtn = h('button', { type: 'button', class: 'huge', id: 'call-next', 'data-needs-server': true }, t('queue.callnext'));
  const callHint = h('p', { class: 'muted', id: 'call-hint', hidden: true }, t('door.busy'));
  const nextBox = h('div', { class: 'card next-why', id: 'next-why', hidden: true, 'aria-live': 'polite' });
  // Hand-overs in progress, by visit id: the panel is open, and the Idempotency-Key a retry reuses.
  const handing = new Map();
  let colleagues = [];
  let technicians = [];
  let handed = null; // the last repair handed over, shown until the next call

  // The desk this session serves from: the board shows it beside each person called from here.
  const deskInput = h('input', { id: 'desk', name: 'desk', maxlength: '40', autocomplete: 'off',
    placeholder: t('desk.placeholder'), value: session.me.desk || '' });
  const deskForm = h('form', { class: 'row desk-form', id: 'desk-form', novalidate: true },
    h('div', { class: 'field grow' }, h('label', { for: 'desk' }, t('desk.label')), deskInput),
    h('button', { type: 'submit', class: 'secondary', id: 'desk-save' }, t('desk.save')));
  deskForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormErrors(deskForm);
    try {
      const r = await put('/api/session/desk', { desk: deskInput.value });
      session.me.desk = r.desk;
      deskInput.value = r.desk;
      announce(r.desk ? t('desk.saved', { desk: r.desk }) : t('desk.cleared'), 'ok');
    } catch (err) {
      showFormError(deskForm, err);
    }
  });

  el.append(
    h('div', { class: 'row' }, h('h1', { class: 'grow' }, t('queue.title')), liveDot),
    deskForm,
    h('p', null, callBtn), callHint,
    serving, nextBox, waiting);

  // Every move here needs the server's decision: off while offline (offline.js says why).
  const btn = (label, onclick, cls = '', extra = {}) =>
    h('button', { type: 'button', class: cls, onclick, 'data-needs-server': true, ...extra }, label);

  function history(c) {
    if (!c.history) return null;
    const v = c.history.visits;
    const r = c.history.repairs;
    return h('p', { class: 'muted', 'data-card': 'history' },
      t('door.visits', { n: v.count }), ' · ', t('door.repairs', { n: r.count }),
      r.latest ? [' · ', t('door.latest'), ' ', h('a', { href: '#repair/' + r.latest.id }, r.latest.number),
        ` (${t('rs.' + r.latest.state)}, ${r.latest.store})`] : null);
  }

  function device(c) {
    const d = c.device;
    if (!d) return h('p', { class: 'muted', 'data-card': 'device' }, t('door.nodevice'));
    return h('p', { 'data-card': 'device' },
      h('strong', null, t('device.serial'), ' '), h('span', { 'data-card': 'serial' }, d.serial),
      d.model ? ` · ${d.model}` : '',
      d.warranty_end != null ? [' · ', h('span', { class: 'badge ' + (d.covered ? 'ok' : 'warn') }, t(d.covered ? 'door.covered' : 'door.notcovered'))] : null,
      ' · ', h('a', { href: c.record_link, 'data-card': 'record' }, t('door.record')));
  }

  function handPanel(v, c) {
    const state = handing.get(v.id);
    const form = h('form', { class: 'card', id: 'handover-form', novalidate: true },
      h('h3', null, t('door.handover.title')),
      // The bench queue (any technician takes it) unless the specialist names one.
      technicians.length ? h('fieldset', { class: 'choices', id: 'ho-to' },
        h('legend', null, t('door.handover.to')),
        h('label', { class: 'choice', for: 'ho-to-bench' },
          h('input', { type: 'radio', id: 'ho-to-bench', name: 'to', value: '', checked: true }),
          h('span', null, t('door.handover.tobench'))),
        technicians.map((x) => h('label', { class: 'choice', for: `ho-to-${x.id}` },
          h('input', { type: 'radio', id: `ho-to-${x.id}`, name: 'to', value: String(x.id) }),
          h('span', null, x.name)))) : h('p', { class: 'muted' }, t('door.handover.bench')),
      c.device ? null : h('div', { class: 'field' },
        h('label', { for: 'ho-serial' }, t('device.serial')),
        h('input', { id: 'ho-serial', name: 'serial', autocomplete: 'off', autocapitalize: 'characters', maxlength: '64', required: true })),
      h('div', { class: 'field' },
        h('label', { for: 'ho-note' }, `${t('door.handover.note')} (${t('optional')})`),
        h('textarea', { id: 'ho-note', name: 'note', maxlength: '2000' })),
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'grow', id: 'handover-confirm', 'data-needs-server': true }, t('door.handover.confirm')),
        btn(t('cancel'), () => { handing.delete(v.id); refresh(); }, 'secondary', { 'data-needs-server': null })));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = {};
      const note = form.elements.note.value.trim();
      if (note) body.note = note;
      if (form.elements.serial) body.serial = form.elements.serial.value.trim();
      const to = form.querySelector('input[name="to"]:checked');
      if (to && to.value) body.technician_id = Number(to.value);
      form.querySelector('#handover-confirm').disabled = true;
      try {
        const r = await handOver(v.id, body, state.key);
        handing.delete(v.id);
        announce(t('door.handover.done', { number: r.number }), 'ok');
        handed = r;
        await refresh();
      } catch (err) {
        form.querySelector('#handover-confirm').disabled = false;
        announce(errorText(err), 'error');
        if (err.field === 'serial' && form.elements.serial) form.elements.serial.focus();
      }
    });
    return form;
  }

  function transferRow(v) {
    const others = colleagues.filter((s) => s.id !== me);
    if (!others.length) return null;
    const sel = h('select', { id: `tr-${v.id}`, 'aria-label': t('door.transfer.to') },
      others.map((s) => h('option', { value: String(s.id) }, s.name)));
    return h('div', { class: 'row' }, h('label', { for: `tr-${v.id}`, class: 'muted' }, t('door.transfer.to')), sel,
      btn(t('door.transfer'), () => act(() => transferVisit(v.id, Number(sel.value)), t('door.transfer.done')), 'secondary'));
  }

  function servingCard(v, c) {
    const words = c && c.problem;
    return h('article', { class: 'card notice ok serving-card', dataset: { visit: String(v.id) }, 'aria-label': `#${v.ticket} ${v.name}` },
      h('div', { class: 'row' },
        h('span', { class: 'big-number', style: 'font-size:2.6rem' }, `#${v.ticket}`),
        h('div', { class: 'grow' },
          h('div', { class: 'who', style: 'font-size:1.4rem;font-weight:800' }, v.name),
          h('span', { class: 'badge ok' }, t('status.' + v.status)),
          c ? h('span', { class: 'muted' }, ' · ', t('door.waited', { n: minutes(c.waited_s) })) : null)),
      c ? [
        h('p', { 'data-card': 'service' }, h('strong', null, c.service ? c.service.name : t('queue.walkin'))),
        h('blockquote', { 'data-card': 'problem', class: words ? '' : 'muted', style: 'margin:.4rem 0;font-size:1.15rem' }, words || t('door.nowords')),
        device(c),
        history(c),
      ] : null,
      h('div', { class: 'row' },
        v.status === 'called' ? btn(t('queue.start'), () => move(v, 'start'), '', { id: 'start' }) : null,
        v.status === 'called' ? btn(t('queue.recall'), () => move(v, 'recall'), 'secondary', { id: 'recall' }) : null,
        v.status === 'called' ? btn(t('queue.noshow'), () => move(v, 'skip'), 'secondary') : null,
        v.status === 'in_service' && !handing.has(v.id)
          ? btn(t('door.handover'), () => { handing.set(v.id, { key: randomKey() }); draw(); }, '', { id: 'handover' }) : null,
        v.status === 'in_service' ? btn(t('queue.finish'), () => move(v, 'done'), 'secondary') : null,
        btn(t('door.requeue'), () => move(v, 'requeue'), 'secondary'),
        v.status === 'called' ? btn(t('door.left'), () => move(v, 'left'), 'danger') : null),
      v.status === 'in_service' && handing.has(v.id) && c ? handPanel(v, c) : null,
      transferRow(v));
  }

  let last = { serving: [], waiting: [] };
  const cards = new Map();

  function draw() {
    const list = last.serving;
    const mine = list.filter((v) => v.specialist_id === me);
    const others = list.filter((v) => v.specialist_id !== me);
    if (mine.length) handed = null;
    fill(serving,
      handed ? h('div', { class: 'card notice ok', id: 'handover-done' },
        h('strong', null, t('door.handover.done', { number: handed.number })), ' ',
        h('a', { href: '#repair/' + handed.id }, t('door.handover.open'))) : null,
      mine.map((v) => servingCard(v, cards.get(v.id))),
      others.length ? h('p', { class: 'muted' }, others.map((v) => `#${v.ticket} ${v.name} (${t('status.' + v.status)})`).join(' · ')) : null);
    drawWaiting(last.waiting);
    callBtn.disabled = last.waiting.length === 0 || mine.length > 0;
    callHint.hidden = mine.length === 0;
  }

  // The words of a place's reason (floor_order): "booked 10:30, here since 10:21", "walk-in,
  // waiting 24 min"; the wait is counted from now, so it stays true between two refetches.
  function why(r) {
    if (!r) return '';
    const n = minutes((Date.now() - new Date(r.arrived_at)) / 1000);
    let words;
    if (r.code === 'appointment_due') words = t('callnext.why.appointment_due', { due: fmtTime(r.due_at, tz), arrived: fmtTime(r.arrived_at, tz) });
    else if (r.code === 'booked_early') words = t('callnext.why.booked_early', { due: fmtTime(r.due_at, tz), queued: fmtTime(r.queued_at, tz) });
    else words = t('callnext.why.walk_in', { n });
    return r.skips ? `${words} · ${t('callnext.why.skips', { n: r.skips })}` : words;
  }

  function drawNext(list) {
    nextBox.hidden = !list.length;
    if (!list.length) return;
    const v = list[0];
    fill(nextBox,
      h('p', { class: 'next-who' }, h('strong', null, t('callnext.next', { name: v.name })), h('span', { class: 'muted' }, `  #${v.ticket}`)),
      h('p', { 'data-why': 'next' }, why(v.reason), ' ', h('span', { class: 'badge rule-part' }, t('callnext.part.' + v.reason.part))),
      h('p', { class: 'muted', id: 'call-rule' }, t('callnext.rule.' + (last.rule || 'due_then_arrival'))));
  }

  function drawWaiting(list) {
    drawNext(list);
    if (!list.length) {
      fill(waiting, h('p', { class: 'muted' }, t('queue.empty')));
      return;
    }
    fill(waiting, h('ol', { class: 'plain', 'aria-label': t('queue.title') }, list.map((v) => h('li', { class: 'queue-item', dataset: { visit: String(v.visit_id) } },
      h('span', { class: 'pos' }, String(v.position)),
      h('div', { class: 'grow' },
        h('div', { class: 'who' }, `${v.name}`, h('span', { class: 'muted' }, `  #${v.ticket}`)),
        h('div', { class: 'muted', 'data-why': String(v.visit_id) }, why(v.reason))),
      btn(t('door.call'), () => (v.position > 1 ? askReason(v, list[0]) : callFirst(v, list)), 'secondary', { 'aria-label': `${t('door.call')} ${v.name}` }),
      btn(t('door.left'), () => act(() => visitMove(v.visit_id, 'left')), 'secondary', { 'aria-label': `${t('door.left')}: ${v.name}` })))));
  }

  // The one who is next needs no reason, unless the line moved under the tap: then it asks.
  async function callFirst(v, list) {
    try {
      await callVisit(v.visit_id);
      announce(t('queue.called', { name: v.name }), 'ok');
    } catch (e) {
      if (e.code === 'reason_required') {
        askReason({ ...v, position: e.detail.position || v.position }, list.find((x) => x.visit_id === e.detail.next_visit_id) || list[0]);
        return;
      }
      announce(errorText(e), 'error');
    }
    await refresh();
  }

  // Calling someone who is not next: a dialog asks why (1 to 200 characters); the server asks
  // again (422 reason_required) if the line moved meanwhile and they are still not next.
  function askReason(v, first) {
    const input = h('textarea', { id: 'override-reason', name: 'reason', maxlength: '200', required: true, rows: '3' });
    const form = h('form', { method: 'dialog', class: 'override-form', novalidate: true },
      h('h2', { id: 'override-title' }, t('callnext.dialog.title', { name: v.name })),
      h('p', null, t('callnext.dialog.text', { name: v.name, pos: v.position, next: first.name })),
      h('div', { class: 'field' }, h('label', { for: 'override-reason' }, t('callnext.dialog.reason')), input),
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'grow', id: 'override-confirm' }, t('callnext.dialog.confirm')),
        h('button', { type: 'button', class: 'secondary', id: 'override-cancel', onclick: () => dlg.close() }, t('cancel'))));
    const dlg = h('dialog', { class: 'override-dialog', id: 'override-dialog', 'aria-labelledby': 'override-title' }, form);
    dlg.addEventListener('close', () => dlg.remove());
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearFormErrors(form);
      const reason = input.value.trim();
      if (!reason) {
        showFormError(form, { fromServer: true, code: 'reason_required', field: 'reason' });
        return;
      }
      form.querySelector('#override-confirm').disabled = true;
      try {
        await callVisit(v.visit_id, reason);
        dlg.close();
        announce(t('callnext.override.done', { name: v.name }), 'ok');
        await refresh();
      } catch (err) {
        form.querySelector('#override-confirm').disabled = false;
        showFormError(form, err);
        if (err.field !== 'reason') { dlg.close(); await refresh(); }
      }
    });
    document.body.append(dlg);
    dlg.showModal();
    input.focus();
  }

  async function refresh() {
    try {
      const q = await queue(store.id);
      colleagues = q.colleagues || [];
      technicians = q.technicians || [];
      const mine = q.serving.filter((v) => v.specialist_id === me);
      const got = await Promise.all(mine.map((v) => visitCard(v.id).catch(() => null)));
      cards.clear();
      mine.forEach((v, i) => { if (got[i]) cards.set(v.id, got[i]); });
      for (const id of handing.keys()) if (!mine.some((v) => v.id === id)) handing.delete(id);
      last = q;
      draw();
    } catch (e) {
      announce(errorText(e), 'error');
    }
  }

  async function act(fn, ok) {
    try {
      await fn();
      if (ok) announce(ok, 'ok');
      await refresh();
    } catch (e) {
      announce(errorText(e), 'error');
      await refresh();
    }
  }

  const move = (v, action) => act(() => visitMove(v.id, action));

  callBtn.addEventListener('click', async () => {
    callBtn.disabled = true;
    try {
      const v = await callNext(store.id);
      announce(t('queue.called', { name: v.name }), 'ok');
      await refresh();
    } catch (e) {
      announce(errorText(e), 'error');
      callBtn.disabled = false;
    }
  });

  await refresh();
  const again = debounce(refresh);
  return follow(`/api/stores/${store.id}/events`, () => again(), {
    onState: (on) => { liveDot.dataset.state = on ? 'on' : 'off'; liveDot.textContent = t(on ? 'live.on' : 'live.off'); if (on) again(); },
  });
}
