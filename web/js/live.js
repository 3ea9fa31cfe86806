// Live updates over Server-Sent Events. EventSource reconnects by itself and sends
// Last-Event-ID, so carnetd replays what was missed; we only show whether we are connected and
// call back on every event. Unknown event names are listened to by the list below plus 'message'.
const TYPES = ['message', 'place', 'joined', 'checked_in', 'called', 'start', 'done', 'skip', 'requeue', 'left', 'no_show', 'update', 'repair',
  'callback_done', 'transferred', 'bench_added', 'bench_taken'];

/**
 * follow('/api/stores/1/events', (type, data) => ..., {indicator: el, onOpen}) -> stop()
 * The indicator element gets data-state="on"/"off" and a translated label via its callback.
 */
export function follow(url, onEvent, { onState } = {}) {
  if (!('EventSource' in window)) return () => {};
  const es = new EventSource(url);
  const handler = (e) => {
    let data = null;
    try { data = e.data ? JSON.parse(e.data) : null; } catch { data = null; }
    onEvent(e.type, data, e.lastEventId);
  };
  for (const t of TYPES) es.addEventListener(t, handler);
  es.addEventListener('open', () => onState && onState(true));
  es.addEventListener('error', () => onState && onState(es.readyState === EventSource.OPEN));
  return () => es.close();
}

/** Coalesces bursts of events into one call (one refetch per burst, not one per event). */
export function debounce(fn, ms = 150) {
  let timer = null;
  return (...a) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...a), ms);
  };
}
