"""The store floor: walk-in line, call next (and its race), visit moves, wait estimates, the
wall board; bad inputs change nothing; who may call what."""
import threading

from harness import Client, data_key_file
from test_personal_data import _key, blind

PW = "carnet-demo"


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]


def staff(ctx, email="specialist@carnet.test"):
    c = ctx.client()
    c.login(email, PW)
    return c


def clear_floor(ctx):
    ctx.sql("delete from visits")
    ctx.sql("delete from floor_tickets")
    ctx.sql("delete from floor_settings")


def visits_snapshot(ctx):
    return ctx.sql("select id, status, specialist_id, called_at, queued_at from visits order by id")


def join(ctx, store, name="Alice Martin", **extra):
    body = dict(name=name, **extra)
    r = ctx.client().post("/api/stores/%d/line" % store, body)
    assert r.status == 201, r
    return r.json


# ---- walk-in line ----

def test_join_line_gives_place_and_private_link(ctx):
    clear_floor(ctx)
    a = join(ctx, ctx.paris, "Alice Martin", contact="+33600000001")
    b = join(ctx, ctx.paris, "Bob Durand", party=2)
    assert a["position"] == 1 and b["position"] == 2, (a, b)
    assert a["ticket"] == 1 and b["ticket"] == 2
    assert a["status"] == "waiting" and len(a["token"]) >= 30
    # Only the hash of the link is stored.
    row = ctx.sql1("select line_token_hash, party from visits where id = %s", (b["visit_id"],))
    assert row["line_token_hash"] != b["token"] and len(row["line_token_hash"]) == 64
    assert row["party"] == 2
    c = ctx.client()
    r = c.get("/api/line/" + b["token"])
    assert r.status == 200 and r.json["position"] == 2 and r.json["ahead"] == 1, r
    assert r.json["visit_id"] == b["visit_id"]
    assert "name" not in r.json and "contact" not in r.json
    # Leaving moves the people behind up.
    r = c.post("/api/line/" + a["token"] + "/leave")
    assert r.status == 200 and r.json["status"] == "left", r
    assert c.get("/api/line/" + b["token"]).json["position"] == 1
    # Twice is an error and changes nothing.
    before = visits_snapshot(ctx)
    r = c.post("/api/line/" + a["token"] + "/leave")
    assert r.status == 409 and r.error["code"] == "not_waiting", r
    assert visits_snapshot(ctx) == before


def test_join_line_bad_inputs_change_nothing(ctx):
    clear_floor(ctx)
    c = ctx.client()
    p = "/api/stores/%d/line" % ctx.paris
    cases = [
        ({}, 422, "name"),
        ({"name": ""}, 422, "name"),
        ({"name": 42}, 422, "name"),
        ({"name": "x" * 101}, 422, "name"),
        ({"name": "Ann", "party": 0}, 422, "party"),
        ({"name": "Ann", "party": 11}, 422, "party"),
        ({"name": "Ann", "party": "2"}, 422, "party"),
        ({"name": "Ann", "contact": ["x"]}, 422, "contact"),
        ({"name": "Ann", "contact": "y" * 201}, 422, "contact"),
    ]
    for body, status, field in cases:
        r = c.post(p, body)
        assert r.status == status and r.error["field"] == field, (body, r)
    r = c.post("/api/stores/999999/line", {"name": "Ann"})
    assert r.status == 404 and r.error["field"] == "store", r
    r = c.post("/api/stores/abc/line", {"name": "Ann"})
    assert r.status == 404 and r.error["field"] == "store", r
    r = c.post(p)
    assert r.status == 400 and r.error["field"] == "body", r
    assert ctx.sql1("select count(*) as n from visits")["n"] == 0
    r = c.get("/api/line/not-a-real-token")
    assert r.status == 404 and r.error["field"] == "token", r


def test_line_full_is_refused(ctx):
    clear_floor(ctx)
    ctx.sql("insert into floor_settings (store_id, line_max) values (%s, 2)", (ctx.paris,))
    join(ctx, ctx.paris, "A")
    join(ctx, ctx.paris, "B")
    r = ctx.client().post("/api/stores/%d/line" % ctx.paris, {"name": "C"})
    assert r.status == 409 and r.error["code"] == "line_full", r
    assert ctx.sql1("select count(*) as n from visits")["n"] == 2


# ---- call next and the moves of a visit ----

def test_call_next_order_and_moves(ctx):
    clear_floor(ctx)
    s = staff(ctx)
    me = ctx.sql1("select id from staff where email = 'specialist@carnet.test'")["id"]
    a = join(ctx, ctx.paris, "Alice")
    b = join(ctx, ctx.paris, "Bob")
    q = s.get("/api/stores/%d/queue" % ctx.paris)
    assert q.status == 200, q
    assert [w["name"] for w in q.json["waiting"]] == ["Alice", "Bob"]
    r = s.post("/api/stores/%d/queue/next" % ctx.paris)
    assert r.status == 200 and r.json["id"] == a["visit_id"], r
    assert r.json["status"] == "called" and r.json["specialist_id"] == me and r.json["called_at"]
    vid = a["visit_id"]
    # start -> done records the times
    r = s.post("/api/visits/%d/done" % vid)
    assert r.status == 409 and r.error["code"] == "wrong_state" and r.error["status"] == "called"
    r = s.post("/api/visits/%d/start" % vid)
    assert r.status == 200 and r.json["status"] == "in_service" and r.json["service_started_at"]
    r = s.post("/api/visits/%d/done" % vid)
    assert r.status == 200 and r.json["status"] == "done" and r.json["done_at"], r
    # skip: a called person who is not there goes to the back of the line
    c = join(ctx, ctx.paris, "Chloe")
    r = s.post("/api/stores/%d/queue/next" % ctx.paris)
    assert r.json["id"] == b["visit_id"], r
    r = s.post("/api/visits/%d/skip" % b["visit_id"])
    assert r.status == 200 and r.json["status"] == "waiting" and r.json["skips"] == 1, r
    line = [w["visit_id"] for w in s.get("/api/stores/%d/queue" % ctx.paris).json["waiting"]]
    assert line == [c["visit_id"], b["visit_id"]], line
    # requeue keeps the place in line
    r = s.post("/api/stores/%d/queue/next" % ctx.paris)
    assert r.json["id"] == c["visit_id"]
    r = s.post("/api/visits/%d/requeue" % c["visit_id"])
    assert r.status == 200 and r.json["status"] == "waiting" and r.json["specialist_id"] is None
    line = [w["visit_id"] for w in s.get("/api/stores/%d/queue" % ctx.paris).json["waiting"]]
    assert line == [c["visit_id"], b["visit_id"]], line
    # left
    r = s.post("/api/visits/%d/left" % b["visit_id"])
    assert r.status == 200 and r.json["status"] == "left" and r.json["left_at"], r
    before = visits_snapshot(ctx)
    r = s.post("/api/visits/%d/start" % b["visit_id"])
    assert r.status == 409 and r.error["code"] == "wrong_state", r
    assert visits_snapshot(ctx) == before
    # the moves are audited
    n = ctx.sql1("select count(*) as n from audit_log where object_type = 'visit'")["n"]
    assert n >= 8, n


def test_booked_and_due_goes_first(ctx):
    clear_floor(ctx)
    w = join(ctx, ctx.paris, "Walk In")
    # A booked visit whose time has come, and one that is not due yet.
    due = ctx.sql1("""insert into visits (store_id, kind, day, ticket, name, due_at, queued_at)
                      values (%s, 'booked', floor_today(%s), 901, 'Due Booked',
                              now() - interval '1 minute', now()) returning id""",
                   (ctx.paris, ctx.paris))["id"]
    later = ctx.sql1("""insert into visits (store_id, kind, day, ticket, name, due_at,
                                            queued_at)
                        values (%s, 'booked', floor_today(%s), 902, 'Early Booked',
                                now() + interval '20 minutes', now() - interval '1 hour')
                        returning id""", (ctx.paris, ctx.paris))["id"]
    s = staff(ctx)
    order = [s.post("/api/stores/%d/queue/next" % ctx.paris).json["id"] for _ in range(3)]
    # Due booked first; then by place in line (the early one arrived before the walk-in).
    assert order == [due, later, w["visit_id"]], order


def test_call_next_on_empty_line(ctx):
    clear_floor(ctx)
    s = staff(ctx)
    r = s.post("/api/stores/%d/queue/next" % ctx.paris)
    assert r.status == 409 and r.error["code"] == "line_empty", r
    assert ctx.sql1("select count(*) as n from visits")["n"] == 0
    r = s.post("/api/stores/%d/queue/next" % ctx.paris, {"specialist_id": "x"})
    assert r.status == 422 and r.error["field"] == "specialist_id", r
    tech = ctx.sql1("select id from staff where email = 'tech@carnet.test'")["id"]
    join(ctx, ctx.paris, "Zoe")
    before = visits_snapshot(ctx)
    r = s.post("/api/stores/%d/queue/next" % ctx.paris, {"specialist_id": tech})
    assert r.status == 422 and r.error["field"] == "specialist_id", r
    assert visits_snapshot(ctx) == before


def test_race_50_callers_on_20_people(ctx):
    clear_floor(ctx)
    ids = [join(ctx, ctx.paris, "Person %d" % i)["visit_id"] for i in range(20)]
    s = staff(ctx)
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(50)

    def call():
        c = Client(s.port)
        c.cookie, c.csrf = s.cookie, s.csrf
        barrier.wait()
        r = c.post("/api/stores/%d/queue/next" % ctx.paris)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=call) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [r for r in results if r.status == 200]
    empty = [r for r in results if r.status == 409 and r.error.get("code") == "line_empty"]
    assert len(ok) == 20 and len(empty) == 30, [r for r in results if r not in ok + empty][:3]
    called = [r.json["id"] for r in ok]
    assert sorted(called) == sorted(ids), "someone was called twice or missed"
    rows = ctx.sql("select status, count(*) as n from visits group by status")
    assert rows == [{"status": "called", "n": 20}], rows


def test_staff_access_rules(ctx):
    clear_floor(ctx)
    v = join(ctx, ctx.paris, "Ann")
    anon = ctx.client()
    for m, p in (("GET", "/api/stores/%d/queue" % ctx.paris),
                 ("POST", "/api/stores/%d/queue/next" % ctx.paris),
                 ("POST", "/api/visits/%d/start" % v["visit_id"]),
                 ("GET", "/api/stores/%d/events" % ctx.paris)):
        r = anon.request(m, p)
        assert r.status == 401, (p, r)
    lyon = staff(ctx, "lyon@carnet.test")
    r = lyon.post("/api/stores/%d/queue/next" % ctx.paris)
    assert r.status == 403, r
    tech = staff(ctx, "tech@carnet.test")
    r = tech.post("/api/stores/%d/queue/next" % ctx.paris)
    assert r.status == 403, r
    # A visit of another store: checked in SQL against the visit's store.
    s = staff(ctx)
    s.post("/api/stores/%d/queue/next" % ctx.paris)
    before = visits_snapshot(ctx)
    r = lyon.post("/api/visits/%d/start" % v["visit_id"])
    assert r.status == 403 and r.error["code"] == "forbidden", r
    r = s.post("/api/visits/999999/start")
    assert r.status == 404 and r.error["field"] == "id", r
    assert visits_snapshot(ctx) == before


# ---- wait estimates ----

def _history(ctx, store, durations, specialists, ago_min=40, ticket=1000):
    """Finished visits with known service times, by the given specialists, done `ago_min`
    minutes ago."""
    for i, d in enumerate(durations):
        sp = specialists[i % len(specialists)]
        ctx.sql("""insert into visits (store_id, kind, day, ticket, name, status, specialist_id,
                                       called_at, service_started_at, done_at)
                   values (%s, 'walk_in', floor_today(%s) - 1, %s, 'Old', 'done', %s,
                           now() - make_interval(mins => %s) - make_interval(secs => %s + 60),
                           now() - make_interval(mins => %s) - make_interval(secs => %s),
                           now() - make_interval(mins => %s))""",
                (store, store, ticket + i, sp, ago_min, d, ago_min, d, ago_min))


def test_wait_estimate_from_measured_service_times(ctx):
    clear_floor(ctx)
    sam = ctx.sql1("select id from staff where email = 'specialist@carnet.test'")["id"]
    marie = ctx.sql1("select id from staff where email = 'manager@carnet.test'")["id"]
    # No history: the store's default (900 s) per person ahead, one specialist.
    a = join(ctx, ctx.paris, "A")
    b = join(ctx, ctx.paris, "B")
    assert a["wait_s"] == 0 and b["wait_s"] == 900, (a, b)
    # Measured: mean of 300, 600, 900 = 600 s; two specialists active.
    _history(ctx, ctx.paris, [300, 600, 900], [sam, marie])
    c = join(ctx, ctx.paris, "C")
    d = join(ctx, ctx.paris, "D")
    assert c["position"] == 3 and c["wait_s"] == 2 * 600 // 2, c
    assert d["wait_s"] == 3 * 600 // 2, d
    q = staff(ctx).get("/api/stores/%d/queue" % ctx.paris).json
    assert q["estimate"] == {"mean_service_s": 600, "samples": 3, "specialists": 2}, q
    # Only the last N visits count.
    ctx.sql("insert into floor_settings (store_id, service_sample) values (%s, 1)",
            (ctx.paris,))
    _history(ctx, ctx.paris, [120], [sam], ago_min=5, ticket=2000)
    r = ctx.client().get("/api/line/" + d["token"]).json
    assert r["wait_s"] == 3 * 120 // 2, r


# ---- the wall board ----

def test_board_shows_initials_only(ctx):
    clear_floor(ctx)
    join(ctx, ctx.paris, "alice Martin", contact="alice@example.com")
    r = ctx.client().get("/api/stores/%d/board" % ctx.paris)
    assert r.status == 200, r
    assert r.json["waiting"][0]["initial"] == "A." and r.json["waiting"][0]["ticket"] == 1
    assert b"Martin" not in r.raw and b"alice@" not in r.raw
    r = ctx.client().get("/api/stores/999999/board")
    assert r.status == 404 and r.error["field"] == "store", r


# ---- the floor rules ----

def test_floor_settings(ctx):
    clear_floor(ctx)
    p = "/api/stores/%d/floor/settings" % ctx.paris
    s = staff(ctx)
    r = s.get(p)
    assert r.status == 200 and r.json["checkin_early_min"] == 30 and r.json["line_max"] == 200, r
    r = s.put(p, {"checkin_late_min": 20})
    assert r.status == 403, r  # a specialist reads, a manager changes
    m = staff(ctx, "manager@carnet.test")
    r = m.put(p, {"checkin_late_min": 20, "line_max": 50})
    assert r.status == 200 and r.json["checkin_late_min"] == 20 and r.json["line_max"] == 50, r
    assert r.json["checkin_early_min"] == 30
    for body, field in (({"checkin_late_min": -1}, "checkin_late_min"),
                        ({"line_max": 0}, "line_max"), ({"line_max": "5"}, "line_max"),
                        ({"default_service_s": 1.5}, "default_service_s"),
                        ({"colour": 1}, "colour")):
        r = m.put(p, body)
        assert r.status == 422 and r.error["field"] == field, (body, r)
    assert s.get(p).json["line_max"] == 50
    r = staff(ctx, "lyon@carnet.test").put(p, {"line_max": 5})
    assert r.status == 403, r
    assert ctx.sql1("select count(*) as n from audit_log where object_type = 'floor_settings'")["n"] == 1


# ---- personal data at rest (017, 018) ----

def test_a_walk_in_rests_sealed_and_the_floor_reads_it_clear(ctx):
    clear_floor(ctx)
    key = _key(data_key_file(ctx.run.workdir))
    a = join(ctx, ctx.paris, "  zoé Walker ", contact=" +33 (6) 00-00.00 09 ")
    b = join(ctx, ctx.paris, "Yves Mail", contact="Yves.Mail@Example.com")
    q = join(ctx, ctx.paris, "Quentin", contact="table 4")
    n = join(ctx, ctx.paris, "Nadia")
    rows = {r["id"]: r for r in ctx.sql("select * from visits")}
    va, vb, vq, vn = (rows[x["visit_id"]] for x in (a, b, q, n))
    for v in (va, vb, vq, vn):
        assert v["name"].startswith("{{pd:"), v
    assert ctx.opened(va["name"]) == "zoé Walker" and va["initial"] == "Z."
    assert ctx.opened(va["contact"]) == "+33 (6) 00-00.00 09"
    assert va["contact_bi"] == blind(key, "phone", "+33 (6) 00-00.00 09")
    assert va["contact_channel"] == "sms" and ctx.opened(va["contact_recipient"]) == "+33600000009"
    assert ctx.opened(vb["contact"]) == "Yves.Mail@Example.com"
    assert vb["contact_bi"] == blind(key, "email", "yves.mail@example.com")
    assert vb["contact_channel"] == "email"
    assert ctx.opened(vb["contact_recipient"]) == "Yves.Mail@Example.com"
    # A contact that reaches nobody is kept (sealed) for staff, with no way to message it.
    assert ctx.opened(vq["contact"]) == "table 4" and vq["contact_channel"] is None
    assert vq["contact_recipient"] is None
    assert vn["contact"] is None and vn["contact_bi"] is None and vn["contact_channel"] is None
    # Written sealed by the request: the event of the join holds the very same marker.
    ev = ctx.sql1("select payload from events where type = 'joined' and "
                  "(payload -> 'visit' ->> 'id')::bigint = %s", (a["visit_id"],))
    assert ev["payload"]["staff"]["name"] == va["name"], ev
    assert ev["payload"]["visit"]["initial"] == "Z."
    # Staff read names; the board and the line page only initials.
    s = staff(ctx)
    waiting = s.get("/api/stores/%d/queue" % ctx.paris).json["waiting"]
    assert [w["name"] for w in waiting] == ["zoé Walker", "Yves Mail", "Quentin", "Nadia"], waiting
    board = ctx.client().get("/api/stores/%d/board" % ctx.paris)
    assert [w["initial"] for w in board.json["waiting"]] == ["Z.", "Y.", "Q.", "N."], board.json
    assert b"Walker" not in board.raw and b"{{pd:" not in board.raw
    # Called: the walk-in who left a phone number is told by SMS at the number, normalised.
    r = s.post("/api/stores/%d/queue/next" % ctx.paris, {})
    assert r.status == 200 and r.json["name"] == "zoé Walker", r
    assert r.json["contact"] == "+33 (6) 00-00.00 09", r
    msg = ctx.sql1("select channel, recipient from outbox where kind = 'youre_next' "
                   "and ref_type = 'visit' and ref_id = %s", (a["visit_id"],))
    assert msg["channel"] == "sms" and ctx.opened(msg["recipient"]) == "+33600000009", msg
    # Erased (retention, erasure), a contact takes what was made of it along.
    ctx.sql("update visits set contact = null where id = %s", (a["visit_id"],))
    v = ctx.sql1("select contact_bi, contact_channel, contact_recipient from visits "
                 "where id = %s", (a["visit_id"],))
    assert v == {"contact_bi": None, "contact_channel": None, "contact_recipient": None}, v


def test_a_walk_in_name_is_checked_before_it_is_sealed(ctx):
    clear_floor(ctx)
    p = "/api/stores/%d/line" % ctx.paris
    for body, field in (({"name": "   "}, "name"), ({"name": "x" * 101}, "name"),
                        ({"name": "Ann", "contact": 4}, "contact"),
                        ({"name": "Ann", "contact": "y" * 201}, "contact")):
        r = ctx.client().post(p, body)
        assert r.status == 422 and r.error["field"] == field, (body, r)
    assert ctx.sql1("select count(*) as n from visits")["n"] == 0
    # What carnetd derives is its own: a client cannot put an initial on the public board, nor
    # a way to reach someone else.
    r = ctx.client().post(p, {"name": "Ann", "contact_recipient": "{{pd:0000000000000000:AAAA}}"})
    assert r.status == 422 and r.error["field"] == "contact_recipient", r  # no marker from outside
    r = ctx.client().post(p, {"name": "Ann", "initial": "XXX", "contact_channel": "sms",
                              "contact_recipient": "+33612345678", "contact_bi": "0" * 64})
    assert r.status == 201, r
    v = ctx.sql1("select initial, contact, contact_bi, contact_channel, contact_recipient "
                 "from visits where id = %s", (r.json["visit_id"],))
    assert v == {"initial": "A.", "contact": None, "contact_bi": None, "contact_channel": None,
                 "contact_recipient": None}, v
