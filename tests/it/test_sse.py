"""Live streams: Server-Sent Events fed by LISTEN/NOTIFY, across carnetd processes, resumable
with Last-Event-ID, cleaned up when clients go away, ended on shutdown."""
import http.client
import json
import queue
import signal
import socket
import threading
import time

import psycopg2

from harness import HANG_GUARD_S, wait_for

PW = "carnet-demo"


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]


class Stream:
    """Reads one SSE stream on a thread; events land in a queue as dicts (id, event, data)."""

    def __init__(self, port, path, headers=None, cookie=None):
        h = dict(headers or {})
        if cookie:
            h["Cookie"] = cookie
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.conn.request("GET", path, headers=h)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = dict((k.lower(), v) for k, v in self.resp.getheaders())
        self.events = queue.Queue()
        self.comments = 0
        if self.status == 200:
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()
        else:
            self.body = self.resp.read()

    def _read(self):
        ev = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line == "":
                    if "data" in ev:
                        ev["data"] = json.loads(ev["data"])
                        self.events.put(ev)
                    ev = {}
                elif line.startswith(":"):
                    self.comments += 1
                else:
                    k, _, v = line.partition(": ")
                    ev[k] = v
        except Exception:  # noqa: BLE001 - a closed socket surfaces in many ways
            pass
        self.events.put(None)

    def next(self, timeout=5):
        try:
            ev = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no event within %.1fs" % timeout)
        assert ev is not None, "the stream ended"
        return ev

    def expect_none(self, timeout=0.5):
        try:
            ev = self.events.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError("unexpected event %r" % ev)

    def ended(self, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.events.get(timeout=0.1) is None:
                    return True
            except queue.Empty:
                pass
        return False

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


def wait_listening(s):
    """Waits until carnetd `s` has subscribed to the events channel (LISTEN done)."""
    wait_for(lambda: "listening on carnet_events" in s.read_log(),
             "LISTEN on carnet_events by carnetd on port %d" % s.port)


def login(ctx, port):
    from harness import Client
    c = Client(port)
    c.login("specialist@carnet.test", PW)
    return c


def join(port, store, name):
    from harness import Client
    r = Client(port).post("/api/stores/%d/line" % store, {"name": name})
    assert r.status == 201, r
    return r.json


def test_staff_stream_gets_changes(ctx):
    s = ctx.server
    c = login(ctx, s.port)
    st = Stream(s.port, "/api/stores/%d/events" % ctx.paris, cookie=c.cookie)
    assert st.status == 200, st.body
    assert st.headers["content-type"].startswith("text/event-stream")
    v = join(s.port, ctx.paris, "Stream Sally")
    ev = st.next()
    assert ev["event"] == "joined" and int(ev["id"]) > 0, ev
    assert ev["data"]["visit"]["id"] == v["visit_id"] and ev["data"]["staff"]["name"] == "Stream Sally"
    r = c.post("/api/stores/%d/queue/next" % ctx.paris)
    assert r.status == 200, r
    ev2 = st.next()
    assert ev2["event"] == "called" and int(ev2["id"]) > int(ev["id"]), ev2
    st.close()


def test_change_on_one_carnetd_reaches_a_stream_of_another(ctx):
    """How fast is for `make bench`; here: the event crosses processes, through the database."""
    a = ctx.server
    b = ctx.start_carnetd()
    c = login(ctx, b.port)
    st = Stream(b.port, "/api/stores/%d/events" % ctx.paris, cookie=c.cookie)
    assert st.status == 200  # the stream's position is fixed before its 200
    wait_listening(b)
    v = join(a.port, ctx.paris, "Cross Process")
    ev = st.next(timeout=HANG_GUARD_S)
    assert ev["data"]["visit"]["id"] == v["visit_id"], ev
    st.close()


def test_checkin_on_one_carnetd_reaches_a_stream_of_another(ctx):
    a = ctx.server
    b = ctx.start_carnetd()
    sv = ctx.sql1("select id from services where store_id = %s limit 1", (ctx.paris,))["id"]
    st_id = ctx.sql1("""insert into staff (email, name, password_hash)
                        values ('sse-booked@carnet.test', 'Booked', 'x') returning id""")["id"]
    appt = ctx.sql1("""insert into appointments (store_id, service_id, staff_id, starts_at,
                           ends_at, blocked_until, code, customer_name, customer_email)
                       values (%s, %s, %s, %s::timestamptz,
                               %s::timestamptz + interval '30 minutes',
                               %s::timestamptz + interval '30 minutes',
                               'SSEAB2', 'Chantal Checkin', 'c@example.com')
                       returning id""", (ctx.paris, sv, st_id) + (ctx.checkin_soon(ctx.paris),) * 3)["id"]
    watcher = login(ctx, b.port)
    desk = login(ctx, a.port)
    st = Stream(b.port, "/api/stores/%d/events" % ctx.paris, cookie=watcher.cookie)
    assert st.status == 200
    wait_listening(b)
    r = desk.post("/api/stores/%d/checkin" % ctx.paris, {"code": "SSEAB2"})
    assert r.status == 200, r
    ev = st.next(timeout=HANG_GUARD_S)
    assert ev["event"] == "checked_in" and ev["data"]["visit"]["kind"] == "booked", ev
    assert ev["data"]["visit"]["id"] == r.json["visit"]["id"]
    assert ctx.sql1("select appointment_id from visits where id = %s",
                    (ev["data"]["visit"]["id"],))["appointment_id"] == appt
    st.close()
    b.stop()


def test_resume_with_last_event_id_loses_nothing(ctx):
    s = ctx.server
    c = login(ctx, s.port)
    path = "/api/stores/%d/events" % ctx.paris
    st = Stream(s.port, path, cookie=c.cookie)
    join(s.port, ctx.paris, "Before")
    last = st.next()["id"]
    st.close()
    # Changes while the client is away.
    missed = [join(s.port, ctx.paris, "Missed %d" % i)["visit_id"] for i in range(3)]
    st2 = Stream(s.port, path, headers={"Last-Event-ID": last}, cookie=c.cookie)
    got = [st2.next() for _ in range(3)]
    assert [e["data"]["visit"]["id"] for e in got] == missed, got
    ids = [int(e["id"]) for e in got]
    assert ids == sorted(ids) and ids[0] > int(last)
    # Then live, without repeating the replayed ones.
    live = join(s.port, ctx.paris, "Live")["visit_id"]
    ev = st2.next()
    assert ev["data"]["visit"]["id"] == live and int(ev["id"]) > ids[-1], ev
    st2.expect_none()
    st2.close()
    # The query parameter works too (for clients that cannot set headers).
    st3 = Stream(s.port, path + "?last_event_id=" + str(ids[0]), cookie=c.cookie)
    assert [st3.next()["data"]["visit"]["id"] for _ in range(3)] == missed[1:] + [live]
    st3.close()


def test_bad_stream_requests(ctx):
    s = ctx.server
    c = login(ctx, s.port)
    st = Stream(s.port, "/api/stores/%d/events" % ctx.paris,
                headers={"Last-Event-ID": "abc"}, cookie=c.cookie)
    assert st.status == 400 and json.loads(st.body)["error"]["field"] == "last_event_id"
    st = Stream(s.port, "/api/stores/%d/events" % ctx.paris)
    assert st.status == 401
    st = Stream(s.port, "/api/line/unknown-token/events")
    assert st.status == 404 and json.loads(st.body)["error"]["field"] == "token"
    st = Stream(s.port, "/api/stores/999999/board/events")
    assert st.status == 404 and json.loads(st.body)["error"]["field"] == "store"


def test_board_stream_has_no_personal_data(ctx):
    s = ctx.server
    st = Stream(s.port, "/api/stores/%d/board/events" % ctx.paris)
    assert st.status == 200
    join(s.port, ctx.paris, "Bernadette Lafont")
    ev = st.next()
    assert "staff" not in ev["data"], ev
    assert ev["data"]["visit"]["initial"] == "B."
    assert "Lafont" not in json.dumps(ev["data"]) and "Bernadette" not in json.dumps(ev["data"])
    st.close()


def test_line_stream_follows_my_place(ctx):
    s = ctx.server
    ctx.sql("delete from visits")
    c = login(ctx, s.port)
    a = join(s.port, ctx.paris, "First")
    b = join(s.port, ctx.paris, "Second")
    st = Stream(s.port, "/api/line/%s/events" % b["token"])
    assert st.status == 200  # its position in the topic is fixed before the 200
    # Someone else joins behind: my place is unchanged but the event concerns the line.
    join(s.port, ctx.paris, "Third")
    ev = st.next()
    assert ev["event"] == "place" and ev["data"]["position"] == 2, ev
    assert set(ev["data"]) == {"visit_id", "status", "ticket", "position", "wait_s"}, ev
    r = c.post("/api/stores/%d/queue/next" % ctx.paris)
    assert r.json["id"] == a["visit_id"]
    assert st.next()["data"]["position"] == 1
    r = c.post("/api/stores/%d/queue/next" % ctx.paris)
    assert r.json["id"] == b["visit_id"]
    ev = st.next()
    assert ev["data"]["status"] == "called" and ev["data"]["position"] is None, ev
    st.close()


def test_listen_reconnect_catches_up(ctx):
    s = ctx.start_carnetd()
    c = login(ctx, s.port)
    st = Stream(s.port, "/api/stores/%d/events" % ctx.paris, cookie=c.cookie)
    assert st.status == 200
    wait_listening(s)
    n = ctx.sql("select pg_terminate_backend(pid) from pg_stat_activity "
                "where application_name = 'carnetd-listen' and datname = current_database()")
    assert len(n) >= 1
    # Written while that carnetd is not listening: delivered after it reconnects.
    v = join(ctx.server.port, ctx.paris, "During Outage")
    ev = st.next(timeout=5)
    assert ev["data"]["visit"]["id"] == v["visit_id"], ev
    st.close()
    s.stop()


def _rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


N_STREAMS = 1000


def test_thousand_streams_are_cheap_and_cleaned_up(ctx):
    s = ctx.start_carnetd()
    base_rss = _rss_kb(s.proc.pid)
    streams = [Stream(s.port, "/api/stores/%d/board/events" % ctx.paris) for _ in range(N_STREAMS)]
    assert all(x.status == 200 for x in streams)
    join(s.port, ctx.paris, "Everybody Sees Me")
    # Every stream gets the event (how fast is measured by `make bench`).
    for x in streams:
        assert x.next(timeout=HANG_GUARD_S)["event"] == "joined"
    grown = _rss_kb(s.proc.pid) - base_rss
    assert grown < 40 * 1024, "%d streams cost %d kB" % (N_STREAMS, grown)
    for x in streams:
        x.close()
    wait_for(lambda: s.read_log().count("(client left)") >= N_STREAMS,
             "%d streams cleaned up" % N_STREAMS)
    assert s.read_log().count("(client left)") == N_STREAMS, s.read_log()[-2000:]
    # The process still serves.
    assert s.client.get("/healthz").status == 200
    s.stop()


# Far longer than the hang guard: a shutdown that waited for open streams to time out would
# outlast the guard, so ending within it shows the streams were ended, not waited for.
SHUTDOWN_TIMEOUT_S = 4 * HANG_GUARD_S


def test_shutdown_ends_streams(ctx):
    s = ctx.start_carnetd(env={"CARNET_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT_S)})
    st = Stream(s.port, "/api/stores/%d/board/events" % ctx.paris)
    assert st.status == 200
    s.proc.send_signal(signal.SIGTERM)
    assert st.ended(timeout=HANG_GUARD_S), "the stream was not ended"
    assert s.proc.wait(HANG_GUARD_S) == 0


def test_stream_outlives_the_request_timeout(ctx):
    s = ctx.start_carnetd(env={"CARNET_HTTP_TIMEOUT": "1"})
    st = Stream(s.port, "/api/stores/%d/board/events" % ctx.paris)
    assert st.status == 200
    time.sleep(2.5)  # not a synchronisation: the stream must outlive the 1 s request timeout
    v = join(s.port, ctx.paris, "Patient")
    assert st.next()["data"]["visit"]["id"] == v["visit_id"]
    st.close()
    s.stop()


# ---- opens that scale: one read per hub, grouped catch-ups, 200 + retry: instead of 503 ----

def metrics(s):
    """carnetd `s`'s /metrics as {name{labels}: value}."""
    r = s.client.get("/metrics")
    assert r.status == 200, r
    out = {}
    for line in r.raw.decode().splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k] = float(v)
    return out


def raw_opens(port, path, n, headers=None):
    """Sends n GETs of `path` on n sockets without waiting for any answer (opens at once)."""
    extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    socks = []
    for _ in range(n):
        so = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD_S)
        so.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n%s\r\n"
                    % (path, extra)).encode())
        socks.append(so)
    return socks


class RawStream:
    """An open sent by raw_opens: its status line, then SSE events as Stream gives them."""

    def __init__(self, so):
        self.so = so
        self.f = so.makefile("rb")
        self.status = int(self.f.readline().split()[1])
        while self.f.readline() not in (b"\r\n", b""):
            pass

    def next(self, timeout=5):
        """The next event with data (chunk-size lines of the chunked body are skipped)."""
        self.so.settimeout(timeout)
        ev = {}
        while True:
            line = self.f.readline()
            assert line, "the stream ended"
            line = line.decode().rstrip("\r\n")
            if line == "":
                if "data" in ev:
                    ev["data"] = json.loads(ev["data"])
                    return ev
                ev = {}
            elif ":" not in line or line.startswith(":"):
                continue  # a chunk size, or a comment
            else:
                k, _, v = line.partition(": ")
                ev[k] = v

    def close(self):
        self.so.close()


def topic_max(ctx, store):
    return ctx.sql1("select coalesce(max(id), 0) as m from events where topic = %s",
                    ("store:%d" % store,))["m"]


def test_opens_of_one_topic_share_one_read(ctx):
    s = ctx.start_carnetd()
    path = "/api/stores/%d/board/events" % ctx.paris
    old = [join(s.port, ctx.paris, "Earlier %d" % i)["visit_id"] for i in range(3)]
    since = ctx.sql1("select min(id) as m from events where topic = %s and payload->'visit'->>'id' = %s",
                     ("store:%d" % ctx.paris, str(old[0])))["m"]
    m0 = metrics(s)
    # The events table locked: the hub's first read waits, so every open below comes while it
    # is in flight (without the lock some would come after it, and need no read at all).
    lock = psycopg2.connect(ctx.url)
    try:
        lock.cursor().execute("begin; lock table events in access exclusive mode")
        fresh = raw_opens(s.port, path, 40)
        behind = raw_opens(s.port, path, 40, {"Last-Event-ID": str(since)})
        wait_for(lambda: metrics(s)["carnet_sse_waiting_opens"] == 80, "80 opens waiting")
        assert metrics(s)["carnet_sse_hub_reads_total"] - m0["carnet_sse_hub_reads_total"] == 1
    finally:
        lock.rollback()
        lock.close()
    fresh = [RawStream(so) for so in fresh]
    behind = [RawStream(so) for so in behind]
    assert all(x.status == 200 for x in fresh + behind)
    # Those behind get exactly what followed their id, from one read for all of them.
    for x in behind:
        got = [x.next()["data"]["visit"]["id"] for _ in range(2)]
        assert got == old[1:], got
    m1 = metrics(s)
    assert m1["carnet_sse_hub_reads_total"] - m0["carnet_sse_hub_reads_total"] == 2, m1
    assert m1["carnet_sse_open_checks_total"] == m0["carnet_sse_open_checks_total"]
    assert m1['carnet_sse_clients{kind="board"}'] == 80
    assert m1["carnet_sse_waiting_opens"] == 0
    # Then all of them live, the fresh ones without the past.
    v = join(s.port, ctx.paris, "Now")["visit_id"]
    for x in fresh + behind:
        assert x.next()["data"]["visit"]["id"] == v
    for x in fresh + behind:
        x.close()
    s.stop()


def test_up_to_date_client_reads_nothing(ctx):
    s = ctx.start_carnetd()
    path = "/api/stores/%d/board/events" % ctx.paris
    keep = Stream(s.port, path)  # the store's hub knows where the topic stands
    assert keep.status == 200
    v = join(s.port, ctx.paris, "Known")["visit_id"]
    last = keep.next()["id"]
    assert int(last) == topic_max(ctx, ctx.paris)
    m0 = metrics(s)
    opened = [Stream(s.port, path, headers={"Last-Event-ID": last}) for _ in range(20)]
    assert all(x.status == 200 for x in opened)
    assert metrics(s)["carnet_sse_hub_reads_total"] == m0["carnet_sse_hub_reads_total"]
    for x in opened:
        x.expect_none(timeout=0.05)
    # Nor does one without Last-Event-ID: it starts where the hub stands.
    fresh = Stream(s.port, path)
    assert metrics(s)["carnet_sse_hub_reads_total"] == m0["carnet_sse_hub_reads_total"]
    # One behind costs one read, and gets exactly what it missed.
    prev = ctx.sql1("select max(id) as m from events where topic = %s and id < %s",
                    ("store:%d" % ctx.paris, int(last)))["m"]
    back = Stream(s.port, path, headers={"Last-Event-ID": str(prev)})
    ev = back.next()
    assert ev["id"] == last and ev["data"]["visit"]["id"] == v, ev
    assert metrics(s)["carnet_sse_hub_reads_total"] == m0["carnet_sse_hub_reads_total"] + 1
    w = join(s.port, ctx.paris, "Everyone")["visit_id"]
    for x in opened + [keep, fresh, back]:
        assert x.next()["data"]["visit"]["id"] == w
        x.expect_none(timeout=0.05)
        x.close()
    s.stop()


def open_once(port, path, headers=None):
    """An open expected to end by itself: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD_S)
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read().decode()
    hs = dict((k.lower(), v) for k, v in resp.getheaders())
    conn.close()
    return resp.status, hs, body


def assert_retry(status, headers, body):
    assert status == 200, (status, body)
    assert headers["content-type"].startswith("text/event-stream"), headers
    assert body.startswith("retry: ") and body.endswith("\n\n") and "data:" not in body, body
    ms = int(body.split()[1])
    assert 1000 <= ms < 5000, ms
    return ms


def test_saturated_pool_answers_retry_not_503(ctx):
    line = join(ctx.server.port, ctx.paris, "Waiting Customer")
    other = ctx.sql1("select id from stores where id <> %s order by id limit 1", (ctx.paris,))["id"]
    # One connection, one query at a time, no queue: while it is taken, every query is refused.
    s = ctx.start_carnetd(env={"CARNET_POOL_SIZE": "1", "CARNET_PIPELINE_DEPTH": "1",
                               "CARNET_QUEUE_MAX": "0"})
    lock = psycopg2.connect(ctx.url)
    try:
        lock.cursor().execute("begin; lock table events in access exclusive mode")
        # The connection taken by this open's read, held by the lock (another open, or
        # carnetd's own jobs, may have had it at that moment: then again).
        for _ in range(20):
            first = raw_opens(s.port, "/api/stores/%d/board/events" % ctx.paris, 1)
            try:
                wait_for(lambda: ctx.lock_waiters() >= 1, "a read held by the lock", timeout=1)
                break
            except AssertionError:
                first[0].close()
        m0 = metrics(s)
        # A hub's first read refused, and a line link's check refused: 200 and a delay.
        delays = set()
        for _ in range(3):
            delays.add(assert_retry(*open_once(s.port, "/api/stores/%d/board/events" % other)))
        delays.add(assert_retry(*open_once(s.port, "/api/line/%s/events" % line["token"])))
        assert len(delays) > 1, "no jitter: %r" % delays
        assert metrics(s)["carnet_sse_refused_opens_total"] - \
            m0["carnet_sse_refused_opens_total"] == 4
    finally:
        lock.rollback()
        lock.close()
    # The open that got the connection gets its stream once the read is through.
    st = RawStream(first[0])
    assert st.status == 200
    v = join(ctx.server.port, ctx.paris, "Afterwards")["visit_id"]
    assert st.next()["data"]["visit"]["id"] == v
    st.close()
    # And the refused ones come back to a stream once the pool has room.
    back = Stream(s.port, "/api/line/%s/events" % line["token"])
    assert back.status == 200
    back.close()
    s.stop()


def test_refused_session_check_of_a_staff_stream_answers_retry_not_503(ctx):
    """A staff stream whose session the pool cannot check (a cold session cache: signed in on
    another carnetd) gets 200 and a delay, as a refused open does; other routes get their 503."""
    repair = ctx.sql1("select min(id) as id from repair_orders where store_id = %s",
                      (ctx.paris,))["id"]
    assert repair
    s = ctx.start_carnetd(env={"CARNET_POOL_SIZE": "1", "CARNET_PIPELINE_DEPTH": "1",
                               "CARNET_QUEUE_MAX": "0"})
    cookie = {"Cookie": login(ctx, ctx.server.port).cookie}
    lock = psycopg2.connect(ctx.url)
    try:
        lock.cursor().execute("begin; lock table events in access exclusive mode")
        for _ in range(20):
            first = raw_opens(s.port, "/api/stores/%d/board/events" % ctx.paris, 1)
            try:
                wait_for(lambda: ctx.lock_waiters() >= 1, "a read held by the lock", timeout=1)
                break
            except AssertionError:
                first[0].close()
        assert ctx.lock_waiters() >= 1  # the one connection is taken
        m0 = metrics(s)
        assert_retry(*open_once(s.port, "/api/stores/%d/events" % ctx.paris, cookie))
        assert_retry(*open_once(s.port, "/api/repairs/%d/events" % repair, cookie))
        assert metrics(s)["carnet_sse_refused_opens_total"] - \
            m0["carnet_sse_refused_opens_total"] == 2
        for path in ("/api/devices/F2LDEMO0PH13", "/api/repairs/%d" % repair):
            status, hs, body = open_once(s.port, path, cookie)
            assert status == 503 and "retry-after" in hs, (status, body)
            assert json.loads(body)["error"]["code"] == "overloaded", body
        # No session at all is still 401, pool or not.
        status, _, _ = open_once(s.port, "/api/stores/%d/events" % ctx.paris)
        assert status == 401
    finally:
        lock.rollback()
        lock.close()
    first[0].close()
    # Once the pool has room, the same open checks the session and streams.
    wait_listening(s)

    def streams():
        # With one connection and no queue, any other query of this carnetd (its jobs) may
        # still have the connection: then the open is refused again, with a delay.
        st = Stream(s.port, "/api/stores/%d/events" % ctx.paris, headers=cookie)
        assert st.status == 200, st.body
        if st.ended(timeout=0.3):
            st.close()
            return None
        return st
    st = wait_for(streams, "a stream of the store")
    v = join(ctx.server.port, ctx.paris, "After The Refusal")["visit_id"]
    assert st.next()["data"]["visit"]["id"] == v
    st.close()
    s.stop()


def test_live_js_reconnects_with_backoff(ctx):
    """web/js/live.js's own reconnects (after a non-200 EventSource gives up on), with a fake
    EventSource in Node.js: full-jitter back-off capped near 30 s, reset once a stream stays up,
    resuming from the last event id."""
    import os
    import subprocess
    from harness import ROOT
    r = subprocess.run(["node", os.path.join(ROOT, "tests", "e2e", "live_backoff.mjs")],
                       capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "live.js back-off: ok" in r.stdout, r.stdout
    # The resume parameter it uses is one carnetd reads.
    st = Stream(ctx.server.port, "/api/stores/%d/board/events?last_event_id=x" % ctx.paris)
    assert st.status == 400 and json.loads(st.body)["error"]["field"] == "last_event_id"


def test_metrics_count_streams_by_kind(ctx):
    s = ctx.start_carnetd()
    c = login(ctx, s.port)
    line = join(s.port, ctx.paris, "Counted")
    opened = [Stream(s.port, "/api/stores/%d/events" % ctx.paris, cookie=c.cookie),
              Stream(s.port, "/api/stores/%d/events" % ctx.paris, cookie=c.cookie),
              Stream(s.port, "/api/stores/%d/board/events" % ctx.paris),
              Stream(s.port, "/api/line/%s/events" % line["token"])]
    assert all(x.status == 200 for x in opened)
    m = metrics(s)
    kinds = dict((k, m['carnet_sse_clients{kind="%s"}' % k])
                 for k in ("staff", "board", "line", "repair", "repair_status"))
    assert kinds == {"staff": 2, "board": 1, "line": 1, "repair": 0, "repair_status": 0}, kinds
    # Only the line link needed a query of its own; the store's topic was read once.
    assert m["carnet_sse_open_checks_total"] == 1, m
    assert m["carnet_sse_hub_reads_total"] <= 2, m
    for x in opened:
        x.close()
    wait_for(lambda: all(v == 0 for k, v in metrics(s).items()
                         if k.startswith("carnet_sse_clients")), "streams counted out")
    s.stop()


def test_refused_hub_read_is_made_again_soon(ctx):
    line = join(ctx.server.port, ctx.paris, "Holding The Connection")
    s = ctx.start_carnetd(env={"CARNET_POOL_SIZE": "1", "CARNET_PIPELINE_DEPTH": "1",
                               "CARNET_QUEUE_MAX": "0"})
    for _ in range(20):  # carnetd's own jobs may hold the one connection at that moment
        st = Stream(s.port, "/api/stores/%d/board/events" % ctx.paris)
        if st.headers.get("transfer-encoding") == "chunked":
            break
        st.close()
    assert st.status == 200 and st.headers.get("transfer-encoding") == "chunked"
    lock = psycopg2.connect(ctx.url)
    try:
        # The one connection held by a line link's check, waiting on a lock of `visits`.
        lock.cursor().execute("begin; lock table visits in access exclusive mode")
        for _ in range(20):
            held = raw_opens(s.port, "/api/line/%s/events" % line["token"], 1)
            try:
                wait_for(lambda: ctx.lock_waiters("floor_stream_open") >= 1, "a held check",
                         timeout=1)
                break
            except AssertionError:
                held[0].close()
        # An event of the board's topic: the hub's read is refused (the pool is full).
        ctx.sql("with e as (insert into events (store_id, topic, type, payload)"
                " values (%s, %s, 'update', '{\"probe\": 1}') returning id, topic)"
                " select pg_notify('carnet_events', json_build_object('id', id, 'topic', topic)::text)"
                " from e", (ctx.paris, "store:%d" % ctx.paris))
        wait_for(lambda: "cannot read events of store:%d" % ctx.paris in s.read_log(),
                 "a refused hub read")
    finally:
        lock.rollback()
        lock.close()
    # Read again within moments, not at the next heartbeat (15 s).
    assert st.next(timeout=5)["data"] == {"probe": 1}
    held[0].close()
    st.close()
    s.stop()
