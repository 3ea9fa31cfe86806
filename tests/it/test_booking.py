"""Booking: stores, services, availability, booking with idempotency, the customer's manage link,
staff schedule and moves, manager set-up; no double booking under races; DST days."""
import datetime
import json
import random
import re
import threading
import zoneinfo

import psycopg2

from harness import Client, data_key_file
from test_personal_data import _key, blind

PW = "carnet-demo"
CODE_RE = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$")
ACTIVE = "('booked','checked_in','in_service')"
# A day far enough ahead to be bookable, and not a DST day: Tuesday 12 January 2027.
DAY = "2027-01-12"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    ctx.pw_hash = ctx.sql1("select password_hash from staff where email = 'tech@carnet.test'")[
        "password_hash"]


def make_store(ctx, code, techs, days, hours=("10:00", "20:00"), duration=30, buffer=0,
               tz="Europe/Paris"):
    """A store open every day with `techs` repair technicians on shift during the opening hours
    of each local date in `days`, and one 'Repair' service. Returns (store, service, staff)."""
    store = ctx.sql1("insert into stores (code, name, timezone) values (%s, %s, %s) returning id",
                     (code, code, tz))["id"]
    ctx.sql("insert into store_hours select %s, d, %s, %s from generate_series(1, 7) d",
            (store, hours[0], hours[1]))
    service = ctx.sql1("insert into services (store_id, name, duration_min, skill, buffer_min) "
                       "values (%s, 'Repair', %s, 'repair', %s) returning id",
                       (store, duration, buffer))["id"]
    staff = []
    for i in range(techs):
        sid = ctx.sql1("insert into staff (email, name, password_hash) values (%s, %s, %s) "
                       "returning id", ("%s-%d@carnet.test" % (code, i), "Tech %d" % i,
                                        ctx.pw_hash))["id"]
        ctx.sql("insert into staff_roles values (%s, %s, 'technician')", (sid, store))
        ctx.sql("insert into staff_skills values (%s, %s, 'repair')", (sid, store))
        for d in days:
            ctx.sql("insert into shifts (store_id, staff_id, starts_at, ends_at) values "
                    "(%s, %s, (%s::date + %s::time) at time zone %s, "
                    "(%s::date + %s::time) at time zone %s)",
                    (store, sid, d, hours[0], tz, d, hours[1], tz))
        staff.append(sid)
    return store, service, staff


def customer(**kw):
    body = {"name": "Camille Client", "email": "camille@example.com", "phone": "+33 6 12 34 56 78",
            "problem": "cracked screen"}
    body.update(kw)
    return body


def book(c, store, service, starts_at, headers=None, timeout=30, **kw):
    return c.post("/api/stores/%s/appointments" % store,
                  customer(service_id=service, starts_at=starts_at, **kw), headers=headers,
                  timeout=timeout)


def count(ctx, where="true", args=None):
    return ctx.sql1("select count(*) as n from appointments where " + where, args)["n"]


def staff_client(ctx, email):
    c = ctx.client()
    c.login(email, PW)
    return c


def paris_service(ctx, name):
    return ctx.sql1("select id from services where store_id = %s and name = %s",
                    (ctx.paris, name))["id"]


def next_workday(ctx, offset=2):
    """A Monday-to-Saturday date a few days ahead (demo shifts cover 4 weeks)."""
    d = ctx.store_today(ctx.paris) + datetime.timedelta(days=offset)
    while d.isoweekday() == 7:
        d += datetime.timedelta(days=1)
    return d


def paris_local(ctx, day, hhmm):
    """The ISO 8601 text carnetd sends for local time `hhmm` of `day` in Paris."""
    d = day if hasattr(day, "isoformat") else datetime.date.fromisoformat(day)
    h, m = map(int, hhmm.split(":"))
    return datetime.datetime(d.year, d.month, d.day, h, m, tzinfo=PARIS).isoformat()


# ---- public reads ----

def test_stores_and_services(ctx):
    c = ctx.client()
    r = c.get("/api/stores")
    assert r.status == 200, r
    codes = {s["code"]: s for s in r.json}
    assert codes["paris-opera"]["timezone"] == "Europe/Paris", r.json
    r = c.get("/api/stores/%d/services" % ctx.paris)
    assert r.status == 200, r
    by_name = {s["name"]: s for s in r.json}
    assert by_name["iPhone screen"]["duration_min"] == 60
    assert by_name["iPhone screen"]["buffer_min"] == 15
    assert by_name["iPhone screen"]["skill"] == "repair"
    assert by_name["Mac diagnostics"]["skill"] == "diagnostics"
    assert set(by_name) == {"iPhone screen", "Battery", "Mac diagnostics", "Setup"}
    for path in ("/api/stores/999999/services", "/api/stores/abc/services"):
        r = c.get(path)
        assert r.status == 404 and r.error["field"] == "store", (path, r)


def test_demo_seed_availability(ctx):
    c = ctx.client()
    svc = paris_service(ctx, "iPhone screen")
    today = ctx.store_today(ctx.paris)  # the store's local date, not the machine's
    frm, to = today + datetime.timedelta(days=1), today + datetime.timedelta(days=7)
    r = c.get("/api/stores/%d/availability?service=%d&from=%s&to=%s" % (ctx.paris, svc, frm, to))
    assert r.status == 200, r
    days = {d["date"]: d["slots"] for d in r.json["days"]}
    for i in range(1, 8):
        d = today + datetime.timedelta(days=i)
        if d.isoweekday() == 7:
            assert d.isoformat() not in days, "open on Sunday"
        else:
            slots = days[d.isoformat()]
            # 10:00..19:00 every 15 minutes for a 60-minute service: 37 starts, 2 technicians.
            assert len(slots) == 37, (d, len(slots))
            assert all(s["free"] == 2 for s in slots), slots[:3]
            assert slots[0]["starts_at"].startswith(d.isoformat() + "T10:00:00+0"), slots[0]
    # Seeding again adds nothing.
    n = ctx.sql1("select count(*) as n from shifts")["n"]
    ctx.seed_demo()
    assert ctx.sql1("select count(*) as n from shifts")["n"] == n


def test_availability_bad_inputs(ctx):
    c = ctx.client()
    svc = paris_service(ctx, "Battery")
    base = "/api/stores/%d/availability" % ctx.paris
    cases = [
        ("?from=2027-01-01&to=2027-01-02", 422, "service"),
        ("?service=999999&from=2027-01-01&to=2027-01-02", 404, "service"),
        ("?service=%d&from=2027-13-01&to=2027-01-02" % svc, 422, "from"),
        ("?service=%d&from=2027-01-01" % svc, 422, "to"),
        ("?service=%d&from=2027-01-05&to=2027-01-02" % svc, 422, "to"),
        ("?service=%d&from=2027-01-01&to=2027-03-01" % svc, 422, "to"),
    ]
    for q, status, field in cases:
        r = c.get(base + q)
        assert r.status == status and r.error["field"] == field, (q, r)
    for path in ("/api/stores/999999/availability?service=%d&from=2027-01-01&to=2027-01-02" % svc,
                 "/api/stores/x1/availability?service=%d&from=2027-01-01&to=2027-01-02" % svc):
        r = c.get(path)
        assert r.status == 404 and r.error["field"] == "store", (path, r)
    lyon_svc = ctx.sql1("select id from services where store_id = %s limit 1", (ctx.lyon,))["id"]
    r = c.get(base + "?service=%d&from=2027-01-01&to=2027-01-02" % lyon_svc)
    assert r.status == 404 and r.error["field"] == "service", r


def test_month_view_in_one_request(ctx):
    store, service, _ = make_store(ctx, "month", 3, [
        (datetime.date(2027, 2, 1) + datetime.timedelta(days=i)).isoformat() for i in range(42)])
    c = ctx.client()
    # One request answers the whole 42-day view (how fast is measured by `make bench`).
    r = c.get("/api/stores/%d/availability?service=%d&from=2027-02-01&to=2027-03-14"
              % (store, service))
    assert r.status == 200, r
    assert len(r.json["days"]) == 42, len(r.json["days"])
    # 10:00..19:30 every 15 minutes for 30 minutes: 39 starts a day.
    assert all(len(d["slots"]) == 39 for d in r.json["days"])
    assert [d["date"] for d in r.json["days"]] == [
        (datetime.date(2027, 2, 1) + datetime.timedelta(days=i)).isoformat() for i in range(42)]


# ---- booking and the manage link ----

def test_book_manage_reschedule_cancel(ctx):
    c = ctx.client()
    svc = paris_service(ctx, "iPhone screen")
    day = next_workday(ctx)
    start = paris_local(ctx, day, "11:00")
    r = book(c, ctx.paris, svc, start, serial=" c02 xk1 23 abc ")
    assert r.status == 201, r
    appt = r.json["appointment"]
    assert CODE_RE.match(r.json["code"]) and appt["code"] == r.json["code"], r.json
    assert appt["status"] == "booked" and appt["starts_at"] == start, appt
    assert appt["customer"]["phone"] == "+33612345678", appt
    assert appt["device_serial"] == "C02XK123ABC", appt
    token = r.json["manage_token"]
    assert token in r.json["manage_url"]
    row = ctx.sql1("select a.*, extract(epoch from blocked_until - ends_at) as buf "
                   "from appointments a where id = %s", (appt["id"],))
    assert row["buf"] == 15 * 60, row
    tok = ctx.sql1("select * from appointment_tokens where appointment_id = %s", (appt["id"],))
    assert tok["token_hash"] != token and len(tok["token_hash"]) == 64 and tok["purpose"] == "manage"
    # The slot has one place left (two technicians); the buffer blocks 12:00 as well.
    av = c.get("/api/stores/%d/availability?service=%d&from=%s&to=%s" % (ctx.paris, svc, day, day))
    slots = {s["starts_at"]: s["free"] for s in av.json["days"][0]["slots"]}
    assert slots[start] == 1, slots
    assert slots[paris_local(ctx, day, "12:00")] == 1
    assert slots[paris_local(ctx, day, "12:15")] == 2

    m = c.get("/api/manage/" + token)
    assert m.status == 200 and m.json["id"] == appt["id"] and m.json["store"]["id"] == ctx.paris, m
    assert "staff_id" not in m.json

    new = paris_local(ctx, day, "15:30")
    r = c.post("/api/manage/%s/reschedule" % token, {"starts_at": new})
    assert r.status == 200 and r.json["starts_at"] == new, r
    row = ctx.sql1("select starts_at, code from appointments where id = %s", (appt["id"],))
    assert row["code"] == appt["code"]
    assert count(ctx, "id = %s and starts_at = %s::timestamptz", (appt["id"], new)) == 1

    r = c.post("/api/manage/%s/cancel" % token)
    assert r.status == 200 and r.json["status"] == "cancelled", r
    r = c.post("/api/manage/%s/cancel" % token)
    assert r.status == 409 and r.error["field"] == "status", r
    r = c.post("/api/manage/%s/reschedule" % token, {"starts_at": start})
    assert r.status == 409 and r.error["code"] == "not_reschedulable", r
    av = c.get("/api/stores/%d/availability?service=%d&from=%s&to=%s" % (ctx.paris, svc, day, day))
    slots = {s["starts_at"]: s["free"] for s in av.json["days"][0]["slots"]}
    assert slots[new] == 2, slots


def test_cancelled_slot_is_bookable_at_once(ctx):
    store, service, _ = make_store(ctx, "single", 1, [DAY])
    c = ctx.client()
    start = paris_local(ctx, DAY, "10:00")
    first = book(c, store, service, start)
    assert first.status == 201, first
    r = book(c, store, service, start)
    assert r.status == 409 and r.error["code"] == "slot_taken", r
    assert r.error["field"] == "starts_at"
    assert r.error["nearest"] and all(s["starts_at"] != start for s in r.error["nearest"]), r
    assert r.error["nearest"][0]["starts_at"] == paris_local(ctx, DAY, "10:30"), r.error
    assert c.post("/api/manage/%s/cancel" % first.json["manage_token"]).status == 200
    r = book(c, store, service, start)
    assert r.status == 201, r
    assert count(ctx, "store_id = %s and status = 'booked'", (store,)) == 1


def test_bad_booking_inputs_change_nothing(ctx):
    store, service, _ = make_store(ctx, "bad-inputs", 1, [DAY])
    ctx.sql("insert into store_closures (store_id, day) values (%s, '2027-01-13')", (store,))
    ctx.sql("insert into shifts (store_id, staff_id, starts_at, ends_at) select %s, staff_id, "
            "starts_at + interval '1 day', ends_at + interval '1 day' from shifts "
            "where store_id = %s", (store, store))
    c = ctx.client()
    ok = paris_local(ctx, DAY, "10:00")
    cases = [
        (dict(starts_at="2020-01-07T10:00:00+01:00"), 422, "starts_at", "in_past"),
        (dict(starts_at=paris_local(ctx, DAY, "21:00")), 422, "starts_at", "outside_hours"),
        (dict(starts_at=paris_local(ctx, DAY, "19:45")), 422, "starts_at", "outside_hours"),
        (dict(starts_at=paris_local(ctx, DAY, "10:07")), 422, "starts_at", "outside_hours"),
        (dict(starts_at=paris_local(ctx, "2027-01-13", "10:00")), 422, "starts_at", "closed"),
        (dict(starts_at="2027-01-12T10:00:00"), 422, "starts_at", "invalid"),
        (dict(starts_at="2027-02-30T10:00:00Z"), 422, "starts_at", "invalid"),
        (dict(starts_at="tomorrow"), 422, "starts_at", "invalid"),
        (dict(service_id=999999), 404, "service_id", "not_found"),
        (dict(service_id="1"), 422, "service_id", "invalid"),
        (dict(email="not-an-email"), 422, "email", "invalid"),
        (dict(email="a@b"), 422, "email", "invalid"),
        (dict(email="x" * 250 + "@example.com"), 422, "email", "too_long"),
        (dict(phone="0612345678"), 422, "phone", "invalid"),
        (dict(phone="+33 6 12 34 56 78 90 12 34"), 422, "phone", "invalid"),
        (dict(phone="+33 6 CALL ME"), 422, "phone", "invalid"),
        (dict(serial="490154203237519"), 422, "serial", "invalid"),  # IMEI, bad check digit
        (dict(serial="AB-12"), 422, "serial", "invalid"),
        (dict(serial="A1"), 422, "serial", "invalid"),
        (dict(serial="X" * 40), 422, "serial", "invalid"),
        (dict(name=""), 422, "name", "invalid"),
        (dict(name="n" * 201), 422, "name", "too_long"),
        (dict(problem="p" * 2001), 422, "problem", "too_long"),
        (dict(email=None, phone=None), 422, "email", "contact_required"),
        (dict(name=5), 422, "name", "invalid"),
    ]
    for override, status, field, code in cases:
        body = customer(service_id=service, starts_at=ok)
        body.update(override)
        body = {k: v for k, v in body.items() if v is not None}
        r = c.post("/api/stores/%d/appointments" % store, body)
        assert r.status == status, (override, r)
        assert r.error["field"] == field and r.error["code"] == code, (override, r)
    r = c.post("/api/stores/999999/appointments", customer(service_id=service, starts_at=ok))
    assert r.status == 404 and r.error["field"] == "store", r
    r = c.post("/api/stores/%d/appointments" % store)
    assert r.status == 400 and r.error["field"] == "body", r
    r = book(c, store, service, ok, headers={"Idempotency-Key": "x" * 300})
    assert r.status == 400 and r.error["field"] == "Idempotency-Key", r
    assert count(ctx) == count(ctx, "store_id <> %s", (store,))
    assert ctx.sql1("select count(*) as n from appointment_tokens t join appointments a on "
                    "a.id = t.appointment_id where a.store_id = %s", (store,))["n"] == 0
    # A valid IMEI and a name with accents are fine.
    r = book(c, store, service, ok, serial="49015420323751 8", name="Zoë Ångström")
    assert r.status == 201 and r.json["appointment"]["device_serial"] == "490154203237518", r


def test_wrong_token_is_404_and_changes_nothing(ctx):
    c = ctx.client()
    bogus = "A" * 43
    before = ctx.sql("select id, status, starts_at from appointments order by id")
    for method, path, body in (("GET", "/api/manage/" + bogus, None),
                               ("POST", "/api/manage/%s/cancel" % bogus, None),
                               ("POST", "/api/manage/%s/reschedule" % bogus,
                                {"starts_at": "2027-01-12T10:00:00+01:00"}),
                               ("GET", "/api/manage/short", None),
                               ("GET", "/api/manage/" + "%21" * 43, None)):
        r = c.request(method, path, body=body)
        assert r.status == 404 and r.error["field"] == "token", (path, r)
    assert ctx.sql("select id, status, starts_at from appointments order by id") == before


def test_reschedule_by_link_refuses_bad_slots(ctx):
    store, service, _ = make_store(ctx, "resched", 1, [DAY])
    c = ctx.client()
    a = book(c, store, service, paris_local(ctx, DAY, "10:00"))
    b = book(c, store, service, paris_local(ctx, DAY, "11:00"))
    assert a.status == 201 and b.status == 201
    tok = a.json["manage_token"]
    for body, status, field in (({"starts_at": paris_local(ctx, DAY, "11:00")}, 409, "starts_at"),
                                ({"starts_at": paris_local(ctx, DAY, "22:00")}, 422, "starts_at"),
                                ({"starts_at": "2020-01-01T10:00:00Z"}, 422, "starts_at"),
                                ({}, 422, "starts_at")):
        r = c.post("/api/manage/%s/reschedule" % tok, body)
        assert r.status == status and r.error["field"] == field, (body, r)
    r = c.post("/api/manage/%s/reschedule" % tok, {"starts_at": paris_local(ctx, DAY, "11:00")})
    assert r.error["nearest"], r
    assert count(ctx, "id = %s and starts_at = %s::timestamptz",
                 (a.json["appointment"]["id"], paris_local(ctx, DAY, "10:00"))) == 1
    # Moving onto itself half an hour later overlaps only its own old time: allowed.
    r = c.post("/api/manage/%s/reschedule" % tok, {"starts_at": paris_local(ctx, DAY, "10:15")})
    assert r.status == 200, r


# ---- idempotency ----

def test_idempotent_retry_returns_first_result(ctx):
    store, service, _ = make_store(ctx, "idem", 1, [DAY])
    c = ctx.client()
    start = paris_local(ctx, DAY, "12:00")
    h = {"Idempotency-Key": "k-1"}
    r1 = book(c, store, service, start, headers=h)
    r2 = book(c, store, service, start, headers=h)
    assert r1.status == 201 and r2.status == 201, (r1, r2)
    assert r1.json == r2.json, (r1.json, r2.json)
    assert r2.header("Idempotent-Replayed") == "true"
    assert count(ctx, "store_id = %s", (store,)) == 1
    # The replayed link works; the database holds no usable copy of it.
    assert c.get("/api/manage/" + r2.json["manage_token"]).status == 200
    row = ctx.sql1("select * from booking_idempotency where status = 201 limit 1")
    assert r1.json["manage_token"] not in str(row), row
    # Same key, other request: refused, nothing booked.
    r3 = book(c, store, service, paris_local(ctx, DAY, "13:00"), headers=h)
    assert r3.status == 422 and r3.error["field"] == "Idempotency-Key", r3
    # A failure is replayed too, even once the slot is free again.
    h2 = {"Idempotency-Key": "k-2"}
    f1 = book(c, store, service, start, headers=h2, name="Other")
    assert f1.status == 409, f1
    assert c.post("/api/manage/%s/cancel" % r1.json["manage_token"]).status == 200
    f2 = book(c, store, service, start, headers=h2, name="Other")
    assert f2.status == 409 and f2.json == f1.json, (f1.json, f2.json)
    # The same key in another store is another request.
    store2, service2, _ = make_store(ctx, "idem2", 1, [DAY])
    r = book(c, store2, service2, start, headers=h)
    assert r.status == 201 and r.json["appointment"]["store_id"] == store2, r
    assert count(ctx, "store_id = %s", (store,)) == 1


def test_idempotent_concurrent_retries_book_once(ctx):
    store, service, _ = make_store(ctx, "idem-race", 3, [DAY])
    start = paris_local(ctx, DAY, "14:00")
    results = []

    def go():
        results.append(book(Client(ctx.server.port), store, service, start,
                            headers={"Idempotency-Key": "same-key"}))

    threads = [threading.Thread(target=go) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status == 201 for r in results), results
    assert len({r.json["appointment"]["id"] for r in results}) == 1
    assert len({r.json["manage_token"] for r in results}) == 1
    assert count(ctx, "store_id = %s", (store,)) == 1


# ---- races ----

def _race(ctx, jobs, ports=None):
    """Runs every (store, service, start) booking at once, spread over two carnetd processes (the
    guarantee lives in PostgreSQL, not in one process) unless `ports` says where; returns the
    responses."""
    if ports is None:
        if not hasattr(ctx, "second"):
            ctx.second = ctx.start_carnetd()
        ports = [ctx.server.port, ctx.second.port]
    results = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def go(i, job):
        barrier.wait()
        results[i] = book(Client(ports[i % len(ports)]), *job, name="Racer %d" % i, timeout=60)

    threads = [threading.Thread(target=go, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_race_for_the_last_slot(ctx):
    capacity = 3
    store, service, _ = make_store(ctx, "race-last", capacity, [DAY])
    start = paris_local(ctx, DAY, "19:30")  # the day's last slot
    results = _race(ctx, [(store, service, start)] * 200)
    statuses = [r.status for r in results]
    assert statuses.count(201) == capacity, sorted(set(statuses))
    assert statuses.count(409) == 200 - capacity, sorted(set(statuses))
    for r in results:
        if r.status == 409:
            assert r.error["code"] == "slot_taken" and r.error["field"] == "starts_at", r
            assert r.error["nearest"] and start not in [s["starts_at"] for s in r.error["nearest"]]
    row = ctx.sql1("select count(*) as n, count(distinct staff_id) as staff from appointments "
                   "where store_id = %s and starts_at = %s::timestamptz and status in " + ACTIVE,
                   (store, start))
    assert row["n"] == capacity and row["staff"] == capacity, row


def test_race_across_many_slots(ctx):
    capacity = 2
    store, service, _ = make_store(ctx, "race-many", capacity, [DAY], duration=45, buffer=15)
    rnd = random.Random(7)
    starts = [paris_local(ctx, DAY, "%02d:%02d" % (10 + q // 4, (q % 4) * 15)) for q in range(20)]
    results = _race(ctx, [(store, service, rnd.choice(starts)) for _ in range(200)])
    ok = [r for r in results if r.status == 201]
    assert all(r.status in (201, 409) for r in results), {r.status for r in results}
    assert ok, "nothing booked"
    assert count(ctx, "store_id = %s and status in " + ACTIVE, (store,)) == len(ok)
    # No staff member holds two overlapping active bookings (service + buffer)...
    overlap = ctx.sql1(
        "select count(*) as n from appointments a join appointments b on a.id < b.id "
        "and a.staff_id = b.staff_id and tstzrange(a.starts_at, a.blocked_until) && "
        "tstzrange(b.starts_at, b.blocked_until) where a.store_id = %s and b.store_id = %s "
        "and a.status in " + ACTIVE + " and b.status in " + ACTIVE, (store, store))
    assert overlap["n"] == 0, overlap
    # ... so at no instant are more than `capacity` bookings running.
    peak = ctx.sql1(
        "select max(n) as n from (select count(*) as n from appointments a join appointments b "
        "on tstzrange(b.starts_at, b.blocked_until) @> a.starts_at where a.store_id = %s "
        "and b.store_id = %s and a.status in " + ACTIVE + " and b.status in " + ACTIVE +
        " group by a.id) x", (store, store))
    assert peak["n"] <= capacity, peak
    # The constraint holds even against a buggy caller writing SQL directly.
    row = ctx.sql1("select * from appointments where store_id = %s and status = 'booked' limit 1",
                   (store,))
    try:
        ctx.sql("insert into appointments (store_id, service_id, staff_id, starts_at, ends_at, "
                "blocked_until, code, customer_name, customer_email) values "
                "(%s, %s, %s, %s, %s, %s, 'ZZZZZZ', 'x', 'x@example.com')",
                (store, service, row["staff_id"], row["starts_at"], row["ends_at"],
                 row["blocked_until"]))
        raise AssertionError("a double booking was accepted by the database")
    except Exception as e:  # psycopg2.errors.ExclusionViolation
        assert "appointments_no_double_booking" in str(e), e


def test_a_thousand_racers_on_one_slot_get_one_201_and_fast_409s(ctx):
    """Issue #16: 1,000 customers at once on a slot with one place, through one carnetd with the
    default pool, queue and queue timeout: one booking, 999 slot_taken, not a single 503. Losers
    are refused without a lock and told the same day's nearest free slots cheaply, so they leave
    the queue faster than it fills."""
    store, service, _ = make_store(ctx, "race-1000", 1, [DAY])
    start = paris_local(ctx, DAY, "15:00")
    # Every option at its default: the queue (4,096) holds 1,000 requests that all arrive before
    # the first query ends, and the listen backlog (4,096) holds their connections.
    server = ctx.start_carnetd()
    results = _race(ctx, [(store, service, start)] * 1000, ports=[server.port])
    statuses = [r.status for r in results]
    assert statuses.count(201) == 1, {s: statuses.count(s) for s in set(statuses)}
    assert statuses.count(409) == 999, {s: statuses.count(s) for s in set(statuses)}
    assert 503 not in statuses
    for r in results:
        if r.status == 409:
            assert r.error["code"] == "slot_taken" and r.error["field"] == "starts_at", r
            # The nearest free slots: of the same day, the taken one not among them.
            assert r.error["nearest"], r
            assert all(s["starts_at"][:10] == DAY and s["starts_at"] != start
                       for s in r.error["nearest"]), r.error["nearest"]
    assert count(ctx, "store_id = %s and status in " + ACTIVE, (store,)) == 1
    server.stop()


def test_a_full_day_refuses_with_no_nearest_slot_and_other_days_are_not_searched(ctx):
    """The 409's nearest slots come from the slot's own day only: on a day with no room left
    it is an empty list (the page then asks for availability), even with free days around."""
    day = "2027-01-13"
    store, service, staff = make_store(ctx, "full-day", 1, [DAY, day, "2027-01-14"],
                                       hours=("10:00", "11:00"), duration=30)
    c = ctx.client()
    for hhmm in ("10:00", "10:30"):
        r = book(c, store, service, paris_local(ctx, day, hhmm))
        assert r.status == 201, r
    r = book(c, store, service, paris_local(ctx, day, "10:30"))
    assert r.status == 409 and r.error["code"] == "slot_taken" and r.error["nearest"] == [], r
    r = book(c, store, service, paris_local(ctx, DAY, "10:30"))
    assert r.status == 201, r
    r = book(c, store, service, paris_local(ctx, DAY, "10:30"))
    assert r.status == 409 and [s["starts_at"] for s in r.error["nearest"]] == [
        paris_local(ctx, DAY, "10:00")], r.error


def _sealed_body(service, starts_at, name):
    """A booking body as carnetd hands it to booking_create: personal data sealed (its shape
    only: SQL never opens it) with the blind index and the initial beside it."""
    return {"service_id": service, "starts_at": starts_at, "name": "{{pd:0000000000000000:%s}}" % name,
            "initial": name[0] + ".", "email": "{{pd:0000000000000000:%s@example.test}}" % name,
            "email_bi": "%064x" % random.getrandbits(256), "problem": ""}


def _hold_booking(ctx, store, service, starts_at):
    """Books in a transaction left open (as psql would hold it): the booking's locks and its
    uncommitted appointment stay until the caller commits or rolls back the connection."""
    conn = psycopg2.connect(ctx.url)
    cur = conn.cursor()
    cur.execute("select booking_create(%s, %s, %s, null, null, 'held')",
                (store, json.dumps(_sealed_body(service, starts_at, "Held")),
                 "%064x" % random.getrandbits(256)))
    reply = cur.fetchone()[0]
    assert reply["status"] == 201, reply
    return conn, reply["body"]["appointment"]


def _in_thread(fn):
    out = {}
    t = threading.Thread(target=lambda: out.update(r=fn()))
    t.start()
    return t, out


def test_bookings_of_other_people_or_times_do_not_wait_on_a_booking_in_flight(ctx):
    """The booking lock is per staff member and half hour: with one booking of technician A
    held open in a transaction, a booking of specialist B in the same store, and one of A at
    another time, go through at once (a per-store lock held them); one of A's time waits for it
    and then finds the place taken."""
    store, repair, (tech_a,) = make_store(ctx, "lock-grain", 1, [DAY])
    diag = ctx.sql1("insert into services (store_id, name, duration_min, skill) "
                    "values (%s, 'Diagnostics', 30, 'diagnostics') returning id", (store,))["id"]
    tech_b = ctx.sql1("insert into staff (email, name, password_hash) values "
                      "('lock-grain-b@carnet.test', 'Spec B', %s) returning id",
                      (ctx.pw_hash,))["id"]
    ctx.sql("insert into staff_roles values (%s, %s, 'technician')", (tech_b, store))
    ctx.sql("insert into staff_skills values (%s, %s, 'diagnostics')", (tech_b, store))
    ctx.sql("insert into shifts (store_id, staff_id, starts_at, ends_at) select store_id, %s, "
            "starts_at, ends_at from shifts where staff_id = %s", (tech_b, tech_a))
    ten = paris_local(ctx, DAY, "10:00")
    conn, held = _hold_booking(ctx, store, repair, ten)
    try:
        assert held["staff_id"] == tech_a, held
        c = ctx.client()
        # Not waiting: a timeout here (the booking stuck behind the held one) fails the test.
        r = book(c, store, diag, ten, timeout=20)
        assert r.status == 201 and r.json["appointment"]["staff_id"] == tech_b, r
        r = book(c, store, repair, paris_local(ctx, DAY, "14:00"), timeout=20)
        assert r.status == 201 and r.json["appointment"]["staff_id"] == tech_a, r
        assert ctx.lock_waiters() == 0
        # A's 10:00 again: it waits for the held booking's lock, then sees it committed.
        t, out = _in_thread(lambda: book(ctx.client(), store, repair, ten, timeout=60))
        ctx.wait_lock_waiters(1)
        assert "r" not in out
        conn.commit()
        t.join()
        r = out["r"]
        assert r.status == 409 and r.error["code"] == "slot_taken", r
    finally:
        conn.close()
    assert count(ctx, "store_id = %s and status in " + ACTIVE, (store,)) == 3


def test_a_shift_removal_waits_for_a_booking_in_flight_that_relies_on_it(ctx):
    """A booking's lock holds off a change to its person's shifts: removing the shift of a
    booking not yet committed waits for it, then refuses (has_appointments); rolled back, the
    same removal goes through."""
    store, service, (tech,) = make_store(ctx, "lock-shift", 1, [DAY])
    ctx.sql("insert into staff_roles select id, %s, 'manager' from staff "
            "where email = 'manager@carnet.test'", (store,))
    m = staff_client(ctx, "manager@carnet.test")
    shift = ctx.sql1("select id from shifts where staff_id = %s", (tech,))["id"]
    path = "/api/stores/%d/shifts/%d" % (store, shift)
    for outcome in ("commit", "rollback"):
        conn, held = _hold_booking(ctx, store, service, paris_local(ctx, DAY, "11:00"))
        try:
            t, out = _in_thread(lambda: m.delete(path, timeout=60))
            ctx.wait_lock_waiters(1)
            assert "r" not in out
            getattr(conn, outcome)()
            t.join()
        finally:
            conn.close()
        r = out["r"]
        if outcome == "commit":
            assert r.status == 409 and r.error["code"] == "has_appointments", r
            # Cancelled, it no longer holds the shift: the next round books it again.
            ctx.sql("update appointments set status = 'cancelled' where id = %s", (held["id"],))
        else:
            assert r.status == 200, r
    assert ctx.sql1("select count(*) as n from shifts where id = %s", (shift,))["n"] == 0


# ---- DST ----

def test_dst_days_in_paris(ctx):
    days = ["2027-03-28", "2027-10-31"]
    store, service, staff = make_store(ctx, "dst", 1, days)
    c = ctx.client()
    av = {}
    for d in days:
        r = c.get("/api/stores/%d/availability?service=%d&from=%s&to=%s" % (store, service, d, d))
        assert r.status == 200, r
        av[d] = r.json["days"][0]["slots"]
        assert len(av[d]) == 39, (d, len(av[d]))
    assert av["2027-03-28"][0]["starts_at"] == "2027-03-28T10:00:00+02:00", av["2027-03-28"][0]
    assert av["2027-10-31"][0]["starts_at"] == "2027-10-31T10:00:00+01:00", av["2027-10-31"][0]
    assert av["2027-10-31"][-1]["starts_at"] == "2027-10-31T19:30:00+01:00"
    for d, utc in (("2027-03-28", "08:00"), ("2027-10-31", "09:00")):
        r = book(c, store, service, "%sT%s:00Z" % (d, utc))
        assert r.status == 201, r
        assert r.json["appointment"]["starts_at"].startswith(d + "T10:00:00+0"), r.json
        row = ctx.sql1("select to_char(starts_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') as u, "
                       "to_char(starts_at at time zone 'Europe/Paris', 'HH24:MI') as l "
                       "from appointments where id = %s", (r.json["appointment"]["id"],))
        assert row == {"u": "%s %s" % (d, utc), "l": "10:00"}, row


def test_a_shift_of_a_full_day_holds_its_last_slot_and_across_midnight(ctx):
    # Shifts last up to 24 hours (002): one of exactly 24 hours holds a slot ending at its very
    # end, and one crossing midnight holds the next day's slots until it ends (the month view
    # and booking find a slot's shift among those starting at most a day before it).
    store, service, staff = make_store(ctx, "fullday", 2, ["2027-04-05"], hours=("00:00", "24:00"),
                                       tz="UTC")
    ctx.sql("insert into shifts (store_id, staff_id, starts_at, ends_at) values "
            "(%s, %s, '2027-04-06 12:00Z', '2027-04-07 12:00Z')", (store, staff[0]))
    c = ctx.client()
    r = c.get("/api/stores/%d/availability?service=%d&from=2027-04-05&to=2027-04-07"
              % (store, service))
    assert r.status == 200, r
    days = {d["date"]: {s["starts_at"]: s["free"] for s in d["slots"]} for d in r.json["days"]}
    assert len(days["2027-04-05"]) == 95 and set(days["2027-04-05"].values()) == {2}, days
    assert days["2027-04-05"]["2027-04-05T23:30:00+00:00"] == 2, days
    assert "2027-04-06T11:45:00+00:00" not in days["2027-04-06"], days
    assert days["2027-04-06"]["2027-04-06T12:00:00+00:00"] == 1, days
    assert days["2027-04-07"]["2027-04-07T11:30:00+00:00"] == 1, days
    assert list(days["2027-04-07"])[-1] == "2027-04-07T11:30:00+00:00", days
    for start in ("2027-04-05T23:30:00Z", "2027-04-07T11:30:00Z"):
        r = book(c, store, service, start)
        assert r.status == 201, r
    r = book(c, store, service, "2027-04-07T11:45:00Z")
    assert r.status == 409 and r.error["code"] == "slot_taken", r


def test_dst_night_hours_have_exactly_the_real_slots(ctx):
    # A store open 01:00-04:00 local: the change happens inside the opening hours.
    days = ["2027-03-28", "2027-10-31"]
    store, service, _ = make_store(ctx, "dst-night", 1, days, hours=("01:00", "04:00"))
    c = ctx.client()
    got = {}
    for d in days:
        r = c.get("/api/stores/%d/availability?service=%d&from=%s&to=%s" % (store, service, d, d))
        assert r.status == 200, r
        got[d] = [s["starts_at"] for s in r.json["days"][0]["slots"]]
    # Spring: 01:00-04:00 lasts two real hours (02:00-03:00 does not exist).
    assert got["2027-03-28"] == [
        "2027-03-28T01:00:00+01:00", "2027-03-28T01:15:00+01:00", "2027-03-28T01:30:00+01:00",
        "2027-03-28T01:45:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-28T03:15:00+02:00",
        "2027-03-28T03:30:00+02:00"], got["2027-03-28"]
    # Autumn: four real hours; 02:00-03:00 happens twice, both are offered.
    autumn = got["2027-10-31"]
    assert len(autumn) == 15, autumn
    assert "2027-10-31T02:30:00+02:00" in autumn and "2027-10-31T02:30:00+01:00" in autumn
    assert autumn[-1] == "2027-10-31T03:30:00+01:00"
    # Both 02:30s can be booked by the one technician: they are an hour apart.
    for t in ("2027-10-31T02:30:00+02:00", "2027-10-31T02:30:00+01:00"):
        assert book(c, store, service, t).status == 201, t
    # A time that does not exist is not a slot.
    r = book(c, store, service, "2027-03-28T02:30:00+02:00")  # = 00:30Z = 01:30+01:00: valid
    assert r.status == 201, r
    assert count(ctx, "store_id = %s", (store,)) == 3


# ---- staff ----

def test_staff_day_schedule(ctx):
    svc = paris_service(ctx, "Setup")
    day = next_workday(ctx, 3)
    c = ctx.client()
    r = book(c, ctx.paris, svc, paris_local(ctx, day, "16:00"), name="Schedule Person")
    assert r.status == 201, r
    path = "/api/stores/%d/appointments?date=%s" % (ctx.paris, day)
    assert c.get(path).status == 401
    for email in ("specialist@carnet.test", "tech@carnet.test", "admin@carnet.test"):
        s = staff_client(ctx, email)
        r2 = s.get(path)
        assert r2.status == 200, (email, r2)
        assert r.json["appointment"]["id"] in [a["id"] for a in r2.json["appointments"]]
    assert ctx.sql1("select count(*) as n from audit_log where action = 'read' and "
                    "object_type = 'appointment_day'")["n"] >= 3
    lyon = staff_client(ctx, "lyon@carnet.test")
    assert lyon.get(path).status == 403
    s = staff_client(ctx, "specialist@carnet.test")
    r = s.get("/api/stores/%d/appointments?date=nope" % ctx.paris)
    assert r.status == 422 and r.error["field"] == "date", r
    admin = staff_client(ctx, "admin@carnet.test")
    r = admin.get("/api/stores/999999/appointments?date=%s" % day)
    assert r.status == 404 and r.error["field"] == "store", r


def test_staff_reschedule_and_cancel(ctx):
    svc = paris_service(ctx, "Mac diagnostics")
    day = next_workday(ctx, 4)
    c = ctx.client()
    r = book(c, ctx.paris, svc, paris_local(ctx, day, "10:30"))
    assert r.status == 201, r
    aid = r.json["appointment"]["id"]
    base = "/api/stores/%d/appointments/%d" % (ctx.paris, aid)
    new = paris_local(ctx, day, "17:00")
    assert c.post(base + "/reschedule", {"starts_at": new}).status == 401
    tech = staff_client(ctx, "tech@carnet.test")
    assert tech.post(base + "/cancel").status == 403
    lyon = staff_client(ctx, "lyon@carnet.test")
    assert lyon.post(base + "/cancel").status == 403
    r = lyon.post("/api/stores/%d/appointments/%d/cancel" % (ctx.lyon, aid))
    assert r.status == 404 and r.error["field"] == "id", r
    spec = staff_client(ctx, "specialist@carnet.test")
    r = spec.post(base + "/reschedule", {"starts_at": "soon"})
    assert r.status == 422 and r.error["field"] == "starts_at", r
    r = spec.post(base + "/reschedule", {"starts_at": new})
    assert r.status == 200 and r.json["starts_at"] == new, r
    r = spec.post(base + "/cancel")
    assert r.status == 200 and r.json["status"] == "cancelled", r
    row = ctx.sql1("select cancelled_by, status from appointments where id = %s", (aid,))
    me = ctx.sql1("select id from staff where email = 'specialist@carnet.test'")["id"]
    assert row == {"cancelled_by": me, "status": "cancelled"}, row
    assert ctx.sql1("select count(*) as n from audit_log where object_type = 'appointment' "
                    "and object_id = %s", (str(aid),))["n"] == 2


# ---- manager set-up ----

def test_manager_setup(ctx):
    store, _, staff = make_store(ctx, "setup", 1, [])
    ctx.sql("insert into staff_roles select id, %s, 'manager' from staff "
            "where email = 'manager@carnet.test'", (store,))
    m = staff_client(ctx, "manager@carnet.test")
    spec = staff_client(ctx, "specialist@carnet.test")
    base = "/api/stores/%d" % store
    assert spec.put(base + "/hours", {"hours": []}).status == 403
    assert ctx.client().post(base + "/services", {}).status == 401

    r = m.put(base + "/hours", {"hours": [{"weekday": d, "opens": "09:00", "closes": "12:00"}
                                          for d in range(1, 6)] +
                                         [{"weekday": 1, "opens": "14:00", "closes": "18:00"}]})
    assert r.status == 200 and len(r.json["hours"]) == 6, r
    for body, field in (({"hours": [{"weekday": 8, "opens": "09:00", "closes": "10:00"}]},
                         "hours[0].weekday"),
                        ({"hours": [{"weekday": 1, "opens": "9h", "closes": "10:00"}]},
                         "hours[0].opens"),
                        ({"hours": [{"weekday": 1, "opens": "11:00", "closes": "10:00"}]},
                         "hours[0].closes"),
                        ({"hours": [{"weekday": 1, "opens": "09:00", "closes": "12:00"},
                                    {"weekday": 1, "opens": "11:00", "closes": "13:00"}]},
                         "hours[1]"),
                        ({}, "hours")):
        r = m.put(base + "/hours", body)
        assert r.status == 422 and r.error["field"] == field, (body, r)
    assert ctx.sql1("select count(*) as n from store_hours where store_id = %s", (store,))["n"] == 6

    r = m.post(base + "/services", {"name": "Screen", "duration_min": 60, "skill": "repair",
                                    "buffer_min": 10})
    assert r.status == 201 and r.json["buffer_min"] == 10, r
    svc = r.json["id"]
    for body, status, field in (({"name": "X", "duration_min": 1, "skill": "repair"}, 422,
                                 "duration_min"),
                                ({"name": "X", "duration_min": 30, "skill": "Re pair"}, 422,
                                 "skill"),
                                ({"name": "", "duration_min": 30, "skill": "repair"}, 422, "name"),
                                ({"name": "Screen", "duration_min": 30, "skill": "repair"}, 409,
                                 "name")):
        r = m.post(base + "/services", body)
        assert r.status == status and r.error["field"] == field, (body, r)

    r = m.put(base + "/staff/%d/skills" % staff[0], {"skills": ["repair", "setup"]})
    assert r.status == 200 and r.json["skills"] == ["repair", "setup"], r
    r = m.put(base + "/staff/%d/skills" % ctx.sql1(
        "select id from staff where email='lyon@carnet.test'")["id"], {"skills": ["repair"]})
    assert r.status == 404 and r.error["field"] == "staff", r
    r = m.put(base + "/staff/%d/skills" % staff[0], {"skills": ["BAD"]})
    assert r.status == 422 and r.error["field"] == "skills", r

    # Monday 11 January 2027: 09:00-12:00 and 14:00-18:00.
    r = m.post(base + "/shifts", {"staff_id": staff[0], "starts_at": "2027-01-11T09:00:00+01:00",
                                  "ends_at": "2027-01-11T18:00:00+01:00"})
    assert r.status == 201, r
    r = m.post(base + "/shifts", {"staff_id": staff[0], "starts_at": "2027-01-11T17:00:00+01:00",
                                  "ends_at": "2027-01-11T19:00:00+01:00"})
    assert r.status == 409 and r.error["field"] == "starts_at", r
    r = m.post(base + "/shifts", {"staff_id": staff[0], "starts_at": "2027-01-11T19:00:00+01:00",
                                  "ends_at": "2027-01-11T18:00:00+01:00"})
    assert r.status == 422 and r.error["field"] == "ends_at", r
    r = m.post(base + "/shifts", {"staff_id": 999999, "starts_at": "2027-01-11T09:00:00+01:00",
                                  "ends_at": "2027-01-11T18:00:00+01:00"})
    assert r.status == 422 and r.error["field"] == "staff_id", r

    av = ctx.client().get(base + "/availability?service=%d&from=2027-01-11&to=2027-01-11" % svc)
    starts = [s["starts_at"][11:16] for s in av.json["days"][0]["slots"]]
    assert starts[0] == "09:00" and "11:00" in starts and "11:15" not in starts, starts
    assert "14:00" in starts and starts[-1] == "17:00" and "12:00" not in starts, starts

    r = m.post(base + "/closures", {"date": "2027-01-11", "reason": "inventory"})
    assert r.status == 201, r
    assert m.post(base + "/closures", {"date": "2027-01-11"}).status == 409
    r = m.post(base + "/closures", {"date": "11/01/2027"})
    assert r.status == 422 and r.error["field"] == "date", r
    av = ctx.client().get(base + "/availability?service=%d&from=2027-01-11&to=2027-01-11" % svc)
    assert av.json["days"] == [], av


def test_customer_cannot_move_or_cancel_a_started_booking(ctx):
    store, service, _ = make_store(ctx, "started", 1, [DAY])
    c = ctx.client()
    r = book(c, store, service, paris_local(ctx, DAY, "10:00"))
    assert r.status == 201, r
    aid, tok = r.json["appointment"]["id"], r.json["manage_token"]
    # Time passes: the appointment started five minutes ago (still inside the check-in window,
    # so the module's no-show job, which runs every 200 ms, leaves it booked).
    ctx.sql("update appointments set starts_at = now() - interval '5 minutes', "
            "ends_at = now() + interval '25 minutes', blocked_until = now() + interval "
            "'25 minutes' where id = %s", (aid,))
    for path, body in (("/api/manage/%s/cancel" % tok, None),
                       ("/api/manage/%s/reschedule" % tok,
                        {"starts_at": paris_local(ctx, DAY, "11:00")})):
        r = c.post(path, body)
        assert r.status == 409 and r.error["code"] == "too_late", (path, r)
    assert ctx.sql1("select status from appointments where id = %s", (aid,))["status"] == "booked"
    assert c.get("/api/manage/" + tok).status == 200


def test_store_detail(ctx):
    c = ctx.client()
    r = c.get("/api/stores/%d" % ctx.paris)
    assert r.status == 200 and r.json["timezone"] == "Europe/Paris", r
    assert [h["weekday"] for h in r.json["hours"]] == [1, 2, 3, 4, 5, 6], r.json
    assert r.json["hours"][0] == {"weekday": 1, "opens": "10:00", "closes": "20:00"}
    assert r.json["closures"] == []
    assert c.get("/api/stores/424242").status == 404


def test_rota_and_shift_removal(ctx):
    store, service, staff = make_store(ctx, "rota", 2, [DAY])
    ctx.sql("insert into staff_roles select id, %s, 'manager' from staff "
            "where email = 'manager@carnet.test'", (store,))
    m = staff_client(ctx, "manager@carnet.test")
    base = "/api/stores/%d/shifts" % store
    r = m.get(base + "?from=%s&to=%s" % (DAY, DAY))
    assert r.status == 200 and len(r.json["shifts"]) == 2, r
    assert r.json["shifts"][0]["skills"] == ["repair"], r.json
    r = m.get(base + "?from=%s&to=2027-06-01" % DAY)
    assert r.status == 422 and r.error["field"] == "to", r
    assert ctx.client().get(base + "?from=%s&to=%s" % (DAY, DAY)).status == 401
    assert staff_client(ctx, "lyon@carnet.test").get(base + "?from=%s&to=%s" % (DAY, DAY)).status == 403

    c = ctx.client()
    booked = book(c, store, service, paris_local(ctx, DAY, "10:00"))
    assert booked.status == 201, booked
    busy = ctx.sql1("select id from shifts where staff_id = %s",
                    (booked.json["appointment"]["staff_id"],))["id"]
    free = ctx.sql1("select id from shifts where store_id = %s and id <> %s", (store, busy))["id"]
    spec = staff_client(ctx, "specialist@carnet.test")
    assert spec.delete("%s/%d" % (base, free)).status == 403
    r = m.delete("%s/%d" % (base, busy))
    assert r.status == 409 and r.error["code"] == "has_appointments" and r.error["appointments"] == 1, r
    r = m.delete("%s/%d" % (base, free))
    assert r.status == 200, r
    assert m.delete("%s/%d" % (base, free)).status == 404
    assert ctx.sql1("select count(*) as n from shifts where store_id = %s", (store,))["n"] == 1
    # With one technician left, the 10:00 slot is full.
    r = book(c, store, service, paris_local(ctx, DAY, "10:00"))
    assert r.status == 409, r


# ---- times in bodies: a junk offset ----

# Offsets no time zone has: PostgreSQL refuses +99:00 in its own words ("time zone displacement
# out of range") and accepts up to +-15:59; real ones run from -12:00 to +14:00.
JUNK_OFFSETS = ("+99:00", "+15:00", "-13:00", "+05:99", "+9900")
OFFSET_MESSAGE = "that time zone offset does not exist: offsets run from -12:00 to +14:00"


def test_a_junk_offset_is_refused_in_our_words_on_every_route_that_takes_a_time(ctx):
    """Every route whose body takes a time answers a junk offset with 422 invalid, the time's
    own field and our message, and changes nothing; the same time with a real offset passes."""
    day = next_workday(ctx, 5)
    svc = paris_service(ctx, "Battery")
    c = ctx.client()
    r = book(c, ctx.paris, svc, paris_local(ctx, day, "15:00"))
    assert r.status == 201, r
    aid, token = r.json["appointment"]["id"], r.json["manage_token"]
    spec = staff_client(ctx, "specialist@carnet.test")
    tech = staff_client(ctx, "tech@carnet.test")
    mgr = staff_client(ctx, "manager@carnet.test")
    tech_id = ctx.sql1("select id from staff where email = 'tech@carnet.test'")["id"]
    assert tech.put("/api/devices/OFFSET0DEV1", {}).status == 201
    intake = {"checklist": [{"item": "screen", "ok": True}]}
    r = tech.post("/api/stores/%d/repairs" % ctx.paris,
                  {"serial": "OFFSET0DEV1", "problem": "battery", "intake": intake})
    assert r.status == 201, r
    rid = r.json["id"]
    later = (day + datetime.timedelta(days=1)).isoformat()
    paris_shift = ctx.sql1("select min(id) as id from shifts where store_id = %s", (ctx.paris,))["id"]
    results = [{"test": "battery", "passed": True}]
    # (client, method, path, body with the time as {t}, field)
    routes = [
        (c, "POST", "/api/stores/%d/appointments" % ctx.paris,
         customer(service_id=svc, starts_at="{t}"), "starts_at"),
        (c, "POST", "/api/manage/%s/reschedule" % token, {"starts_at": "{t}"}, "starts_at"),
        (spec, "POST", "/api/stores/%d/appointments/%d/reschedule" % (ctx.paris, aid),
         {"starts_at": "{t}"}, "starts_at"),
        (mgr, "POST", "/api/stores/%d/shifts" % ctx.paris,
         {"staff_id": tech_id, "starts_at": "{t}", "ends_at": later + "T18:00:00+01:00"},
         "starts_at"),
        (mgr, "POST", "/api/stores/%d/shifts" % ctx.paris,
         {"staff_id": tech_id, "starts_at": later + "T09:00:00+01:00", "ends_at": "{t}"},
         "ends_at"),
        (mgr, "PATCH", "/api/stores/%d/shifts/%d" % (ctx.paris, paris_shift),
         {"starts_at": "{t}", "ends_at": later + "T18:00:00+01:00"}, "starts_at"),
        (mgr, "PATCH", "/api/stores/%d/shifts/%d" % (ctx.paris, paris_shift),
         {"starts_at": later + "T09:00:00+01:00", "ends_at": "{t}"}, "ends_at"),
        (tech, "POST", "/api/stores/%d/repairs" % ctx.paris,
         {"serial": "OFFSET0DEV1", "problem": "battery", "intake": intake, "promised_at": "{t}"},
         "promised_at"),
        (tech, "PUT", "/api/repairs/%d/promise" % rid, {"promised_at": "{t}"}, "promised_at"),
        (tech, "POST", "/api/devices/OFFSET0DEV1/diagnostics",
         {"store_id": ctx.paris, "performed_at": "{t}", "results": results}, "performed_at"),
    ]

    def fill(body, t):
        return {k: (t if v == "{t}" else v) for k, v in body.items()}

    def snapshot():
        return [ctx.sql("select * from %s order by id" % t)
                for t in ("appointments", "shifts", "repair_orders", "diagnostic_sessions")]

    before = snapshot()
    for client, method, path, body, field in routes:
        for off in JUNK_OFFSETS:
            t = later + "T10:00" + off
            r = client.request(method, path, body=fill(body, t))
            assert r.status == 422 and r.error == {"code": "invalid", "field": field,
                                                   "message": OFFSET_MESSAGE}, (path, t, r)
    assert snapshot() == before
    # The same time with a real offset is taken (so the refusals above were the offset's).
    slot = datetime.datetime.fromisoformat(paris_local(ctx, day, "16:00"))
    far_east = slot.astimezone(datetime.timezone(datetime.timedelta(hours=14))).isoformat()
    assert far_east.endswith("+14:00"), far_east
    r = book(c, ctx.paris, svc, far_east)
    assert r.status == 201, r
    r = tech.put("/api/repairs/%d/promise" % rid, {"promised_at": later + "T10:00-12:00"})
    assert r.status == 200, r


# ---- personal data at rest (017, 018) ----

def test_a_booking_rests_sealed_with_its_blind_indexes_and_reads_clear(ctx):
    store, service, _ = make_store(ctx, "sealed", 1, [DAY])
    key = _key(data_key_file(ctx.run.workdir))
    c = ctx.client()
    r = book(c, store, service, paris_local(ctx, DAY, "11:00"), name=" Élodie Sealed ",
             email="Elodie.Sealed@Example.com", phone="+33 6 12 34 56 78")
    assert r.status == 201, r
    aid = r.json["appointment"]["id"]
    row = ctx.sql1("select * from appointments where id = %s", (aid,))
    # Ciphertext at once, written so by the request: the confirmation queued in the same
    # transaction carries the very same marker (the sealing job would seal each copy apart).
    for col in ("customer_name", "customer_email", "customer_phone"):
        assert row[col].startswith("{{pd:") and "Sealed" not in row[col], (col, row[col])
    assert ctx.opened(row["customer_name"]) == "Élodie Sealed"
    assert ctx.opened(row["customer_email"]) == "Elodie.Sealed@Example.com"
    assert ctx.opened(row["customer_phone"]) == "+33612345678"
    conf = ctx.sql1("select recipient from outbox where ref_type = 'appointment' and ref_id = %s "
                    "and kind = 'booking_confirmed'", (aid,))
    assert conf["recipient"] == row["customer_email"], conf
    assert row["customer_email_bi"] == blind(key, "email", "elodie.sealed@example.com")
    assert row["customer_phone_bi"] == blind(key, "phone", "+33 6 12 34 56 78")
    assert row["customer_initial"] == "É."
    # What the customer and staff read is clear.
    assert r.json["appointment"]["customer"] == {
        "name": "Élodie Sealed", "email": "Elodie.Sealed@Example.com", "phone": "+33612345678"}
    m = c.get("/api/manage/" + r.json["manage_token"])
    assert m.status == 200 and m.json["customer"]["name"] == "Élodie Sealed", m
    assert m.json["customer"]["email"] == "Elodie.Sealed@Example.com", m
    day = staff_client(ctx, "admin@carnet.test").get(
        "/api/stores/%d/appointments?date=%s" % (store, DAY))
    mine = [a for a in day.json["appointments"] if a["id"] == aid]
    assert mine and mine[0]["customer"]["name"] == "Élodie Sealed", day.json
    assert mine[0]["customer"]["phone"] == "+33612345678", mine


def test_an_idempotent_retry_of_a_sealed_booking_is_told_from_another_request(ctx):
    store, service, _ = make_store(ctx, "sealidem", 2, [DAY])
    c = ctx.client()
    start = paris_local(ctx, DAY, "15:00")
    h = {"Idempotency-Key": "sealed-retry"}
    r1 = book(c, store, service, start, headers=h, email="Same@Example.com")
    # Sealed twice, the bodies differ in the database; the request is the same.
    r2 = book(c, store, service, start, headers=h, email="Same@Example.com")
    assert r1.status == 201 and r2.status == 201 and r2.header("Idempotent-Replayed") == "true"
    assert r1.json == r2.json and r2.json["appointment"]["customer"]["email"] == "Same@Example.com"
    # Another email under the same key is another request.
    r3 = book(c, store, service, start, headers=h, email="other@example.com")
    assert r3.status == 422 and r3.error["code"] == "idempotency_key_reused", r3
    assert count(ctx, "store_id = %s", (store,)) == 1
    # The stored fingerprint is not a plain hash of the clear request.
    row = ctx.sql1("select request_hash from booking_idempotency where status = 201 "
                   "order by created_at desc limit 1")
    assert len(row["request_hash"]) == 64, row
