// web/js/live.js without a browser: the back-off (full jitter, capped, reset once a stream stays
// up) and follow()'s own reconnects with a fake EventSource and fake timers. Run by
// tests/it/test_sse.py; exits non-zero on the first failed check.
import assert from 'node:assert/strict';

const timers = [];
let now = 0;
globalThis.setTimeout = (fn, ms) => { const t = { fn, at: now + ms, ms }; timers.push(t); return t; };
globalThis.clearTimeout = (t) => { const i = timers.indexOf(t); if (i >= 0) timers.splice(i, 1); };
function advance(ms) {
  now += ms;
  for (;;) {
    timers.sort((a, b) => a.at - b.at);
    if (!timers.length || timers[0].at > now) return;
    timers.shift().fn();
  }
}

class FakeES {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;
  static all = [];
  constructor(url) { this.url = url; this.readyState = FakeES.CONNECTING; this.l = {}; FakeES.all.push(this); }
  addEventListener(t, f) { (this.l[t] ||= []).push(f); }
  emit(t, e = {}) { for (const f of this.l[t] || []) f({ type: t, ...e }); }
  close() { this.readyState = FakeES.CLOSED; this.closed = true; }
  open() { this.readyState = FakeES.OPEN; this.emit('open'); }
  fail(closed) { this.readyState = closed ? FakeES.CLOSED : FakeES.CONNECTING; this.emit('error'); }
}
globalThis.EventSource = FakeES;

const { backoffDelay, resumeUrl, follow, BACKOFF_CAP_MS } = await import('../../web/js/live.js');

// Full jitter: [0, min(cap, base * 2^n)), never above the cap.
assert.equal(backoffDelay(0, () => 0), 0);
assert.equal(backoffDelay(0, () => 0.999999), 999);
assert.equal(backoffDelay(3, () => 0.5), 4000);
assert.equal(backoffDelay(5, () => 0.999999), BACKOFF_CAP_MS - 1);
assert.equal(backoffDelay(500, () => 0.999999), BACKOFF_CAP_MS - 1);
const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(4)));
assert.ok(spread.size > 10, 'jittered');
for (const d of spread) assert.ok(d >= 0 && d < 16000);

assert.equal(resumeUrl('/api/line/x/events', ''), '/api/line/x/events');
assert.equal(resumeUrl('/api/line/x/events', '42'), '/api/line/x/events?last_event_id=42');
assert.equal(resumeUrl('/e?a=1&last_event_id=3', '42'), '/e?a=1&last_event_id=42');

// follow(): events, state, reconnect after CLOSED from the last id, back-off growing then reset.
const seen = [];
const states = [];
const stop = follow('/api/stores/1/events', (type, data, id) => seen.push([type, data, id]),
  { onState: (on) => states.push(on) });
assert.equal(FakeES.all.length, 1);
let es = FakeES.all[0];
assert.equal(es.url, '/api/stores/1/events');
es.open();
advance(1000);
assert.deepEqual(states, [true]);
es.emit('joined', { data: '{"a":1}', lastEventId: '7' });
assert.deepEqual(seen, [['joined', { a: 1 }, '7']]);

// A drop EventSource handles itself (CONNECTING): no new EventSource from us.
es.fail(false);
assert.deepEqual(states, [true, false]);
advance(60000);
assert.equal(FakeES.all.length, 1);
es.open();
advance(1000);

// A non-200 (CLOSED): ours, after a delay, resuming after event 7; the delays grow.
const delays = [];
for (let i = 0; i < 8; i++) {
  es = FakeES.all.at(-1);
  es.fail(true);
  assert.ok(es.closed);
  assert.equal(timers.length, 1);
  const t = timers[0];
  delays.push(t.ms);
  advance(t.ms);
  assert.equal(FakeES.all.at(-1).url, '/api/stores/1/events?last_event_id=7');
}
assert.equal(FakeES.all.length, 9);
delays.forEach((d, n) => assert.ok(d < Math.min(BACKOFF_CAP_MS, 1000 * 2 ** n), `delay ${n}: ${d}`));
// An open that closes at once (a refused open: 200, retry:, end) is no success.
es = FakeES.all.at(-1);
es.open();
advance(100);
es.fail(true);
assert.equal(timers.length, 1);
assert.ok(timers[0].ms < BACKOFF_CAP_MS);
advance(timers[0].ms);
// One that stays up resets the back-off: the next failure waits under a second.
es = FakeES.all.at(-1);
es.open();
advance(1000);
assert.equal(states.at(-1), true);
es.fail(true);
assert.ok(timers[0].ms < 1000, `reset: ${timers[0].ms}`);

// stop(): no more reconnects.
stop();
assert.equal(timers.length, 0);
advance(60000);
const n = FakeES.all.length;
assert.ok(FakeES.all.at(-1).closed);
assert.equal(FakeES.all.length, n);
console.log('live.js back-off: ok');
