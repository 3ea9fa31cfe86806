"""Check-in of booked customers (code, appointment id, manage-link QR token, self check-in,
name search), early/late rules, the no-show job, and the appointment following the visit."""
import datetime
import hashlib
import secrets
import urllib.parse

from harness import Client, data_key_file, wait_for
from test_personal_data import _key, blind

PW = "carnet-demo"


def setup(ctx):
    ctx.seed_demo()
    # The module's server runs no jobs, so the no-show job only runs where a test starts it
    # (otherwise it would race the "too late" cases).
    ctx._server = ctx.start_carnetd(args=["--no-jobs"])
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]


def staff(ctx, email="specialist@carnet.test"):
    c = ctx.client()
    c.login(email, PW)
    return c


ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def appointment(ctx, minutes_from_now=None, name="Hélène Booked", status="booked", store=None,
                starts_at=None):
    """An appointment at Paris starting `minutes_from_now` (may be negative: for the check-in
    window, which is relative to now whatever the date) or at `starts_at` (a timestamptz: for
    "today's bookings", built at the store's local noon), with a manage token; each gets its
    own staff member so the no-double-booking constraint stays out of the way."""
    store = store or ctx.paris
    if starts_at is None:
        starts_at = ctx.sql1("select now() + make_interval(mins => %s) as t",
                             (minutes_from_now,))["t"]
    code = "".join(secrets.choice(ALPHABET) for _ in range(6))
    sv = ctx.sql1("select id from services where store_id = %s and skill = 'setup'", (store,))["id"]
    st = ctx.sql1("""insert into staff (email, name, password_hash)
                     values (%s, 'Booked Staff', 'x') returning id""",
                  ("s%s@carnet.test" % secrets.token_hex(6),))["id"]
    row = ctx.sql1("""insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,
                          blocked_until, status, code, customer_name, customer_email)
                      values (%s, %s, %s, %s::timestamptz,
                              %s::timestamptz + interval '30 minutes',
                              %s::timestamptz + interval '30 minutes', %s, %s, %s,
                              'booked@example.com')
                      returning id""",
                   (store, sv, st, starts_at, starts_at, starts_at, status, code, name))
    token = secrets.token_urlsafe(32)
    h = hashlib.sha256(token.encode()).hexdigest()
    ctx.sql("""insert into appointment_tokens (token_hash, appointment_id, purpose, expires_at)
               values (%s, %s, 'manage', now() + interval '30 days')""", (h, row["id"]))
    return {"id": row["id"], "code": code, "token": token}


def clear(ctx):
    ctx.sql("delete from visits")
    ctx.sql("delete from appointment_tokens")
    ctx.sql("delete from appointments")
    ctx.sql("delete from floor_settings")


def state(ctx):
    return (ctx.sql("select id, status, checked_in_at, no_show_at from appointments order by id"),
            ctx.sql("select id, status from visits order by id"))


def test_checkin_by_code(ctx):
    clear(ctx)
    a = appointment(ctx, 10)
    s = staff(ctx)
    r = s.post("/api/stores/%d/checkin" % ctx.paris, {"code": a["code"].lower()})
    assert r.status == 200, r
    assert r.json["visit"]["kind"] == "booked" and r.json["visit"]["appointment_id"] == a["id"]
    assert r.json["place"]["position"] == 1 and r.json["token"], r
    row = ctx.sql1("select status, checked_in_at from appointments where id = %s", (a["id"],))
    assert row["status"] == "checked_in" and row["checked_in_at"], row
    # The customer can follow their place with the link handed out at the desk.
    assert ctx.client().get("/api/line/" + r.json["token"]).json["visit_id"] == r.json["visit"]["id"]
    # Twice: clear error, nothing changes.
    before = state(ctx)
    r = s.post("/api/stores/%d/checkin" % ctx.paris, {"code": a["code"]})
    assert r.status == 409 and r.error["code"] == "already_checked_in", r
    assert state(ctx) == before
    assert ctx.sql1("select count(*) as n from audit_log where action = 'checkin'")["n"] == 1


def test_checkin_by_id_and_by_qr_token(ctx):
    clear(ctx)
    a = appointment(ctx, 5)
    b = appointment(ctx, 5, name="Other")
    s = staff(ctx)
    r = s.post("/api/stores/%d/checkin" % ctx.paris, {"appointment_id": a["id"]})
    assert r.status == 200 and r.json["visit"]["appointment_id"] == a["id"], r
    r = s.post("/api/stores/%d/checkin" % ctx.paris, {"token": b["token"]})
    assert r.status == 200 and r.json["visit"]["appointment_id"] == b["id"], r


def test_self_checkin(ctx):
    clear(ctx)
    a = appointment(ctx, 0)
    r = ctx.client().post("/api/checkin/" + a["token"])
    assert r.status == 200, r
    assert r.json["status"] == "waiting" and r.json["position"] == 1 and r.json["token"], r
    assert "name" not in r.json
    r = ctx.client().post("/api/checkin/unknown-token")
    assert r.status == 404 and r.error["field"] == "token", r


def test_checkin_bad_inputs_change_nothing(ctx):
    clear(ctx)
    s = staff(ctx)
    ok = appointment(ctx, 10)
    cancelled = appointment(ctx, 10, status="cancelled")
    sv = ctx.sql1("select id from services where store_id = %s limit 1", (ctx.lyon,))["id"]
    lyon_staff = ctx.sql1("select id from staff where email = 'lyon@carnet.test'")["id"]
    other = ctx.sql1("""insert into appointments (store_id, service_id, staff_id, starts_at,
                            ends_at, blocked_until, code, customer_name, customer_phone)
                        values (%s, %s, %s, now(), now() + interval '30 minutes',
                                now() + interval '30 minutes', 'ZZZZZZ', 'Lyon Person',
                                '+33612345678') returning id""", (ctx.lyon, sv, lyon_staff))["id"]
    early = appointment(ctx, 120)
    late = appointment(ctx, -60)
    before = state(ctx)
    p = "/api/stores/%d/checkin" % ctx.paris
    cases = [
        ({"code": "QQQQQQ"}, 404, "not_found", "code"),
        ({"code": "abc"}, 422, "invalid", "code"),
        ({"code": 12}, 422, "invalid", "code"),
        ({"code": cancelled["code"]}, 409, "cancelled", "status"),
        ({"code": "ZZZZZZ"}, 404, "not_found", "code"),
        ({"appointment_id": other}, 404, "not_found", "appointment_id"),
        ({"appointment_id": 99999999}, 404, "not_found", "appointment_id"),
        ({"appointment_id": "x"}, 422, "invalid", "appointment_id"),
        ({"token": "nope"}, 404, "not_found", "token"),
        ({}, 422, "invalid", "code"),
        ({"code": early["code"]}, 409, "too_early", "status"),
        ({"code": late["code"]}, 409, "too_late", "status"),
    ]
    for body, status, code, field in cases:
        r = s.post(p, body)
        assert r.status == status and r.error["code"] == code and r.error["field"] == field, \
            (body, r)
    r = s.post(p, {"code": early["code"]})
    assert r.error["opens_at"], r
    assert state(ctx) == before
    # Other store's staff and other roles.
    r = staff(ctx, "lyon@carnet.test").post(p, {"code": ok["code"]})
    assert r.status == 403, r
    r = staff(ctx, "tech@carnet.test").post(p, {"code": ok["code"]})
    assert r.status == 403, r
    r = ctx.client().post(p, {"code": ok["code"]})
    assert r.status == 401, r
    assert state(ctx) == before


def test_another_stores_booking_answers_like_an_unknown_one(ctx):
    """A Paris desk checking in a Lyon booking (by code, id or QR token) gets the very answer an
    unknown one gets (status, code, field, message): the desk learns nothing of other stores'
    bookings, and nothing changes."""
    clear(ctx)
    lyon = appointment(ctx, 5, store=ctx.lyon)
    unknown = appointment(ctx, 5)
    ctx.sql("delete from appointment_tokens where appointment_id = %s", (unknown["id"],))
    ctx.sql("delete from appointments where id = %s", (unknown["id"],))
    before = state(ctx)
    s = staff(ctx)
    p = "/api/stores/%d/checkin" % ctx.paris
    for key in ("code", "appointment_id", "token"):
        theirs = s.post(p, {key: lyon["id" if key == "appointment_id" else key]})
        nobody = s.post(p, {key: unknown["id" if key == "appointment_id" else key]})
        assert theirs.status == nobody.status == 404, (key, theirs, nobody)
        assert theirs.json == nobody.json, (key, theirs, nobody)
    assert state(ctx) == before
    # Lyon's own desk checks it in: the booking itself was fine.
    r = staff(ctx, "lyon@carnet.test").post("/api/stores/%d/checkin" % ctx.lyon,
                                            {"code": lyon["code"]})
    assert r.status == 200 and r.json["visit"]["appointment_id"] == lyon["id"], r


def test_early_late_rules_per_store(ctx):
    clear(ctx)
    ctx.sql("insert into floor_settings (store_id, checkin_early_min, checkin_late_min) "
            "values (%s, 180, 90)", (ctx.paris,))
    early = appointment(ctx, 120)
    late = appointment(ctx, -60)
    s = staff(ctx)
    assert s.post("/api/stores/%d/checkin" % ctx.paris, {"code": early["code"]}).status == 200
    assert s.post("/api/stores/%d/checkin" % ctx.paris, {"code": late["code"]}).status == 200


def test_search_todays_bookings(ctx):
    clear(ctx)
    # "Today" is the store's local day: bookings at its local noon, and at noon tomorrow.
    noon, tomorrow = ctx.store_noon(ctx.paris), ctx.store_noon(ctx.paris, 1)
    appointment(ctx, name="Jean Valjean", starts_at=noon)
    appointment(ctx, name="Javert", starts_at=noon + datetime.timedelta(minutes=10))
    appointment(ctx, name="Jeanne Cancel", status="cancelled",
                starts_at=noon + datetime.timedelta(minutes=20))
    appointment(ctx, name="Jean Tomorrow", starts_at=tomorrow)
    s = staff(ctx)
    r = s.get("/api/stores/%d/checkin/search?name=jean" % ctx.paris)
    assert r.status == 200, r
    names = [x["customer_name"] for x in r.json]
    assert "Jean Valjean" in names and "Javert" not in names and "Jeanne Cancel" not in names
    assert "Jean Tomorrow" not in names
    r = s.get("/api/stores/%d/checkin/search?name=j" % ctx.paris)
    assert r.status == 422 and r.error["field"] == "name", r
    r = s.get("/api/stores/%d/checkin/search?name=%%25" % ctx.paris)
    assert r.status == 422 or r.json == [], r
    r = staff(ctx, "lyon@carnet.test").get("/api/stores/%d/checkin/search?name=jean" % ctx.paris)
    assert r.status == 403


def test_visit_moves_carry_over_to_the_appointment(ctx):
    clear(ctx)
    a = appointment(ctx, -5)
    s = staff(ctx)
    assert s.post("/api/stores/%d/checkin" % ctx.paris, {"code": a["code"]}).status == 200
    w = s.post("/api/stores/%d/line" % ctx.paris, {"name": "Walker"})
    assert w.status == 201
    v = s.post("/api/stores/%d/queue/next" % ctx.paris).json
    assert v["appointment_id"] == a["id"], v  # booked and due goes before the walk-in
    s.post("/api/visits/%d/start" % v["id"])
    assert ctx.sql1("select status from appointments where id = %s", (a["id"],))["status"] == "in_service"
    s.post("/api/visits/%d/done" % v["id"])
    row = ctx.sql1("select status, done_at from appointments where id = %s", (a["id"],))
    assert row["status"] == "done" and row["done_at"], row


def test_no_show_job(ctx):
    clear(ctx)
    gone = appointment(ctx, -30)         # past the 15 minute window
    inside = appointment(ctx, -10)       # still inside it
    cancelled = appointment(ctx, -60, status="cancelled")
    checked = appointment(ctx, -40)
    ctx.sql("update appointments set status = 'checked_in', checked_in_at = now() where id = %s",
            (checked["id"],))
    n = ctx.sql1("select job_mark_no_shows() as n")["n"]
    assert n == 1, n
    rows = {r["id"]: r["status"] for r in ctx.sql("select id, status from appointments")}
    assert rows == {gone["id"]: "no_show", inside["id"]: "booked",
                    cancelled["id"]: "cancelled", checked["id"]: "checked_in"}, rows
    assert ctx.sql1("select job_mark_no_shows() as n")["n"] == 0
    ev = ctx.sql1("select type, payload from events where type = 'no_show' order by id desc limit 1")
    assert ev["payload"]["staff"]["appointments"] == [gone["id"]], ev
    # A no-show cannot check in.
    r = staff(ctx).post("/api/stores/%d/checkin" % ctx.paris, {"code": gone["code"]})
    assert r.status == 409 and r.error["code"] == "no_show", r


def test_no_show_job_runs_in_carnetd_and_concurrently(ctx):
    clear(ctx)
    appts = [appointment(ctx, -30 - i) for i in range(12)]
    # Two carnetd run the job every 200 ms against the same rows.
    a = ctx.start_carnetd()
    b = ctx.start_carnetd()
    wait_for(lambda: ctx.sql1("select count(*) as n from appointments"
                              " where status = 'no_show'")["n"] >= 12, "12 no-shows")
    assert ctx.sql1("select count(*) as n from appointments where status = 'no_show'")["n"] == 12
    ids = [x["id"] for x in appts]
    evs = ctx.sql("select payload from events where type = 'no_show'")
    marked = sorted(i for e in evs for i in e["payload"]["staff"]["appointments"] if i in ids)
    assert marked == sorted(ids), marked  # each one reported exactly once
    a.stop()
    b.stop()


# ---- personal data at rest (017, 018) ----

def test_checkin_by_name_finds_a_booking_made_through_the_api(ctx):
    """A booking made by a customer rests sealed; the desk's search by name still finds it (any
    case, accents too), and its visit takes over the sealed name and contact and the initial."""
    clear(ctx)
    key = _key(data_key_file(ctx.run.workdir))
    sv = ctx.sql1("select id from services where store_id = %s and skill = 'setup'",
                  (ctx.paris,))["id"]
    c = Client(ctx.server.port)
    day = ctx.store_today(ctx.paris)
    slot = None
    for _ in range(14):
        day += datetime.timedelta(days=1)
        r = c.get("/api/stores/%d/availability?service=%d&from=%s&to=%s" % (ctx.paris, sv, day, day))
        free = [x for d in r.json["days"] for x in d["slots"] if x["free"] > 0]
        if free:
            slot = free[0]["starts_at"]
            break
    assert slot, "no free slot in two weeks"
    r = c.post("/api/stores/%d/appointments" % ctx.paris,
               {"service_id": sv, "starts_at": slot, "name": "Élodie Desk",
                "phone": "+33 6 77 88 99 00"})
    assert r.status == 201, r
    aid = r.json["appointment"]["id"]
    # Brought to now, with a staff member of its own (its sealed values untouched).
    st = ctx.sql1("insert into staff (email, name, password_hash) values (%s, 'Desk Staff', 'x') "
                  "returning id", ("d%s@carnet.test" % secrets.token_hex(6),))["id"]
    ctx.sql("update appointments set staff_id = %s, starts_at = now() + interval '10 minutes', "
            "ends_at = now() + interval '40 minutes', blocked_until = now() + interval '40 minutes' "
            "where id = %s", (st, aid))
    ap = ctx.sql1("select * from appointments where id = %s", (aid,))
    assert ap["customer_name"].startswith("{{pd:") and ap["customer_initial"] == "É.", ap
    appointment(ctx, 5, name="Marc Other")
    s = staff(ctx)
    for q in ("élodie", "ÉLODIE", "lodie d", "Desk"):
        r = s.get("/api/stores/%d/checkin/search?name=%s" % (ctx.paris, urllib.parse.quote(q)))
        assert r.status == 200, (q, r)
        assert [(x["id"], x["customer_name"]) for x in r.json] == [(aid, "Élodie Desk")], (q, r.json)
    r = s.get("/api/stores/%d/checkin/search?name=nobody" % ctx.paris)
    assert r.status == 200 and r.json == [], r
    # Checked in: the visit carries the booking's sealed name and phone, and its initial.
    r = s.post("/api/stores/%d/checkin" % ctx.paris, {"appointment_id": aid})
    assert r.status == 200 and r.json["visit"]["name"] == "Élodie Desk", r
    assert r.json["visit"]["contact"] == "+33677889900", r
    v = ctx.sql1("select * from visits where appointment_id = %s", (aid,))
    assert (v["name"], v["contact"], v["initial"]) == \
        (ap["customer_name"], ap["customer_phone"], "É."), v
    assert v["contact_bi"] == ap["customer_phone_bi"] == blind(key, "phone", "+33677889900")
    board = ctx.client().get("/api/stores/%d/board" % ctx.paris).json
    assert [w["initial"] for w in board["waiting"]] == ["É."], board
    q = s.get("/api/stores/%d/queue" % ctx.paris).json
    assert [w["name"] for w in q["waiting"]] == ["Élodie Desk"], q
