"""Live streams: Server-Sent Events fed by LISTEN/NOTIFY, across carnetd processes, resumable
with Last-Event-ID, cleaned up when clients go away, ended on shutdown."""
import http.client
import json
import queue
import signal
import socket
import threading
import time

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
