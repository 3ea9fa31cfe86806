// Live updates over Server-Sent Events. carnetd replays what was missed from the last event id
// (the Last-Event-ID header EventSource sends on its own reconnects, ?last_event_id= on ours), so
// we only show whether we are connected and call back on every event. Unknown event names are
// listened to by the list below plus 'message'.
const TYPES = ['message', 'place', 'joined', 'checked_in', 'called', 'start', 'done', 'skip', 'requeue', 'left', 'no_show', 'update', 'repair',
  'callback_done', 'transferred', 'bench_added', 'bench_taken'];

// EventSource retries by itself after a dropped stream, but gives up for good after a non-200
// answer or a failed connect (readyState CLOSED): then we open a new one, after a delay that
// doubles up to BACKOFF_CAP_MS, spread over [0, delay) so the pages of a restarted server do
// not all come back together. A stream is "up" (and the delay starts again from the base) once
// it has stayed open STABLE_MS: carnetd answers an open it cannot serve now with 200, a retry:
// delay and an immediate close, which is not a success.
export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 30000;
const STABLE_MS = 1000;

/** Full jitter: a delay in [0, min(cap, base * 2^attempt)) for the attempt-th retry (0 first). */
export function backoffDelay(attempt, random = Math.random, base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS) {
  const ceiling = Math.min(cap, base * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.floor(random() * ceiling);
}

/** `url` resuming after event `id` (none: as it is). */
export function resumeUrl(url, id) {
  if (!id) return url;
  const [path, hash = ''] = url.split('#');
  const q = new URLSearchParams(path.includes('?') ? path.slice(path.indexOf('?') + 1) : '');
  q.set('last_event_id', id);
  return `${path.split('?')[0]}?${q}${hash ? `#${hash}` : ''}`;
}

/**
 * follow('/api/stores/1/events', (type, data, id) => ..., {onState}) -> stop()
 * onState(true/false) says whether the stream is up; it keeps coming back until stop().
 */
export function follow(url, onEvent, { onState } = {}) {
  if (!('EventSource' in globalThis)) return () => {};
  let es = null;
  let lastId = '';
  let attempt = 0;
  let retryTimer = null;
  let stableTimer = null;
  let up = null;
  let stopped = false;
  const state = (on) => {
    if (on !== up) { up = on; if (onState) onState(on); }
  };
  const handler = (e) => {
    let data = null;
    try { data = e.data ? JSON.parse(e.data) : null; } catch { data = null; }
    if (e.lastEventId) lastId = e.lastEventId;
    onEvent(e.type, data, e.lastEventId);
  };
  const open = () => {
    retryTimer = null;
    if (stopped) return;
    const mine = new EventSource(resumeUrl(url, lastId));
    es = mine;
    for (const t of TYPES) mine.addEventListener(t, handler);
    mine.addEventListener('open', () => {
      clearTimeout(stableTimer);
      stableTimer = setTimeout(() => { attempt = 0; state(true); }, STABLE_MS);
    });
    mine.addEventListener('error', () => {
      if (mine !== es || stopped) return;
      clearTimeout(stableTimer);
      state(false);
      if (mine.readyState !== EventSource.CLOSED) return; // EventSource comes back by itself
      mine.close();
      retryTimer = setTimeout(open, backoffDelay(attempt++));
    });
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(retryTimer);
    clearTimeout(stableTimer);
    if (es) es.close();
  };
}

/** Coalesces bursts of events into one call (one refetch per burst, not one per event). */
export function debounce(fn, ms = 150) {
  let timer = null;
  return (...a) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...a), ms);
  };
}
