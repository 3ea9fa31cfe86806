"""Reports (007): the manager's floor report per local day (exact waits, service times and
no-shows from known rows; DST days bucketed by the store's clock), the store's repair list
(newest first, state filter, at-risk flag), and staff names in the day's schedule."""
from harness import Client

PW = "carnet-demo"
TZ = "Europe/Paris"


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    ctx.service = ctx.sql1("select id from services where store_id = %s order by id limit 1",
                           (ctx.lyon,))["id"]
    ctx.lea = ctx.sql1("select id from staff where email = 'lyon@carnet.test'")["id"]
    ctx.ticket = 0


def _login(ctx, email):
    c = ctx.client()
    c.login(email, PW)
    return c


def _local(days_ago, hhmm):
    """SQL for a wall-clock time in Paris, `days_ago` local days before today."""
    return ("(((now() at time zone '%s')::date - %d) + time '%s') at time zone '%s'"
            % (TZ, days_ago, hhmm, TZ))


def _appointment(ctx, store, starts, status, staff=None, service=None):
    """A finished (or cancelled, no-show) booking: outside the no-double-booking constraint."""
    return ctx.sql1(
        "insert into appointments (store_id, service_id, staff_id, starts_at, ends_at, "
        "blocked_until, status, code, customer_name, customer_email) "
        "select %s, %s, %s, t, t + interval '30 minutes', t + interval '30 minutes', %s, "
        "'ABCDEF', 'Report Customer', 'report@example.test' from (select " + starts + " as t) x "
        "returning id", (store, service or ctx.service, staff or ctx.lea, status))["id"]


def _visit(ctx, store, kind, arrived, called=None, started=None, done=None):
    """A visit with its times given as seconds after `arrived` (an SQL timestamptz)."""
    ctx.ticket += 1
    status = "done" if done is not None else ("called" if called is not None else "waiting")

    def after(s):
        return "null" if s is None else "a + make_interval(secs => %d)" % s
    ctx.sql("insert into visits (store_id, kind, day, ticket, name, status, due_at, arrived_at, "
            "queued_at, called_at, service_started_at, done_at) "
            "select %s, %s, (a at time zone '" + TZ + "')::date, %s, 'Report Visitor', %s, "
            "case when %s = 'booked' then a end, a, a, " + after(called) + ", "
            + after(started) + ", " + after(done) + " from (select " + arrived + " as a) x",
            (store, kind, ctx.ticket, status, kind))


def _floor_rows(ctx):
    """Known rows in Lyon: yesterday and today (local), nothing the day before."""
    # Yesterday: five bookings, two no-shows, one cancelled.
    for hhmm, status in (("10:00", "done"), ("11:00", "no_show"), ("12:00", "no_show"),
                         ("13:00", "cancelled"), ("23:30", "done")):
        _appointment(ctx, ctx.lyon, _local(1, hhmm), status)
    # Waits 600, 1200, 2400 (left unserved) and 300 s; services 1200, 600 and 1800 s.
    _visit(ctx, ctx.lyon, "walk_in", _local(1, "10:00"), called=600, started=660, done=1860)
    _visit(ctx, ctx.lyon, "walk_in", _local(1, "10:05"), called=1200, started=1200, done=1800)
    _visit(ctx, ctx.lyon, "walk_in", _local(1, "10:20"), called=2400)
    _visit(ctx, ctx.lyon, "booked", _local(1, "09:55"), called=300, started=300, done=2100)
    # Today, just after local midnight (still yesterday in UTC): a booking and a waiting walk-in.
    _appointment(ctx, ctx.lyon, _local(0, "00:30"), "done")
    _visit(ctx, ctx.lyon, "walk_in", _local(0, "00:20"))


def test_floor_report_exact_numbers(ctx):
    _floor_rows(ctx)
    m = _login(ctx, "lyon@carnet.test")
    r = m.get("/api/stores/%d/reports/floor?days=3" % ctx.lyon)
    assert r.status == 200, r
    today = ctx.sql1("select (now() at time zone %s)::date::text as d", (TZ,))["d"]
    j = r.json
    assert j["timezone"] == TZ and j["to"] == today, j
    days = j["days"]
    assert [d["day"] for d in days][-1] == today and len(days) == 3, days
    before, yesterday, now = days
    assert before == {"day": before["day"], "bookings": 0, "cancelled": 0, "no_shows": 0,
                      "walk_ins": 0, "served": 0, "wait_mean_s": None, "wait_p90_s": None,
                      "service_mean_s": None}, before
    assert yesterday["bookings"] == 5 and yesterday["no_shows"] == 2, yesterday
    assert yesterday["cancelled"] == 1 and yesterday["walk_ins"] == 3, yesterday
    assert yesterday["served"] == 3, yesterday
    assert yesterday["wait_mean_s"] == 1125, yesterday          # (300+600+1200+2400)/4
    assert yesterday["wait_p90_s"] == 2040, yesterday           # 1200 + 0.7 * (2400-1200)
    assert yesterday["service_mean_s"] == 1200, yesterday       # (1200+600+1800)/3
    # 00:30 and 00:20 local are the previous day in UTC: they belong to today.
    assert now["bookings"] == 1 and now["walk_ins"] == 1 and now["served"] == 0, now
    assert now["wait_mean_s"] is None and now["service_mean_s"] is None, now
    t = j["totals"]
    assert (t["bookings"], t["no_shows"], t["cancelled"], t["walk_ins"], t["served"]) == \
        (6, 2, 1, 4, 3), t
    assert (t["wait_mean_s"], t["wait_p90_s"], t["service_mean_s"]) == (1125, 2040, 1200), t
    # The default is 14 days, today last; the Paris store's report has none of Lyon's rows.
    r = m.get("/api/stores/%d/reports/floor" % ctx.lyon)
    assert r.status == 200 and len(r.json["days"]) == 14, r
    assert r.json["days"][-1]["day"] == today and r.json["totals"]["bookings"] == 6, r.json
    assert len(m.get("/api/stores/%d/reports/floor?days=90" % ctx.lyon).json["days"]) == 90
    a = _login(ctx, "admin@carnet.test")
    r = a.get("/api/stores/%d/reports/floor?days=3" % ctx.paris)
    assert r.status == 200 and r.json["totals"]["bookings"] == 0, r


def test_floor_report_buckets_dst_days_by_the_store_clock(ctx):
    # Spring forward (29 March 2026: a 23-hour day) and fall back (26 October 2025: 25 hours).
    for at in ("2026-03-28 23:30+01", "2026-03-29 00:30+01", "2026-03-29 23:30+02",
               "2026-03-30 00:30+02", "2025-10-26 00:30+02", "2025-10-26 02:30+02",
               "2025-10-26 02:30+01", "2025-10-26 23:30+01", "2025-10-27 00:30+01"):
        _visit(ctx, ctx.lyon, "walk_in", "'%s'::timestamptz" % at, called=60)

    def walk_ins(frm, to):
        j = ctx.sql1("select report_floor_range(%s, %s, %s) as j", (ctx.lyon, frm, to))["j"]
        return {d["day"]: d["walk_ins"] for d in j["days"]}, j["totals"]["walk_ins"]

    # A fixed +01 offset would put 30 March 00:30 CEST (22:30 UTC) on the 29th.
    assert walk_ins("2026-03-28", "2026-03-30") == (
        {"2026-03-28": 1, "2026-03-29": 2, "2026-03-30": 1}, 4)
    # Both 02:30s of the repeated hour, and 23:30 CET, belong to the 26th.
    assert walk_ins("2025-10-25", "2025-10-27") == (
        {"2025-10-25": 0, "2025-10-26": 4, "2025-10-27": 1}, 5)


def test_floor_report_bad_inputs_and_access(ctx):
    m = _login(ctx, "lyon@carnet.test")
    path = "/api/stores/%d/reports/floor" % ctx.lyon
    for q in ("?days=0", "?days=abc", "?days=91", "?days=-1", "?days=", "?days=1e1",
              "?days=9999999999"):
        r = m.get(path + q)
        assert r.status == 400 and r.error["code"] == "bad_value" and r.error["field"] == "days", \
            (q, r)
    assert Client(ctx.server.port).get(path).status == 401
    assert _login(ctx, "manager@carnet.test").get(path).status == 403      # Paris's manager
    paris = "/api/stores/%d/reports/floor" % ctx.paris
    assert _login(ctx, "specialist@carnet.test").get(paris).status == 403  # not a manager
    assert _login(ctx, "tech@carnet.test").get(paris).status == 403
    assert _login(ctx, "manager@carnet.test").get(paris).status == 200


def _repair(ctx, store, number, state, promised, opened):
    dev = ctx.sql1("insert into devices (serial, model) values (%s, 'Phone X') "
                   "on conflict (serial) do update set model = excluded.model returning id",
                   ("RPT" + number.replace("-", ""),))["id"]
    return ctx.sql1("insert into repair_orders (number, device_id, store_id, state, problem, "
                    "intake, promised_at, opened_at) values (%s, %s, %s, %s, 'broken', '{}', "
                    + promised + ", " + opened + ") returning id",
                    (number, dev, store, state))["id"]


def test_store_repair_list(ctx):
    # intake needs 2 more days: promised tomorrow is at risk; testing needs 4 hours: not.
    # Lyon has no demo repairs: the list holds exactly these.
    r1 = _repair(ctx, ctx.lyon, "R-T-1", "intake", "now() + interval '1 day'",
                 "now() - interval '3 hours'")
    r2 = _repair(ctx, ctx.lyon, "R-T-2", "testing", "now() + interval '1 day'",
                 "now() - interval '2 hours'")
    r3 = _repair(ctx, ctx.lyon, "R-T-3", "collected", "now() - interval '1 day'",
                 "now() - interval '1 hour'")
    r4 = _repair(ctx, ctx.lyon, "R-T-4", "repairing", "null", "now()")
    r5 = _repair(ctx, ctx.lyon, "R-T-5", "repairing", "now() + interval '2 hours'",
                 "now() - interval '4 hours'")
    paris = _repair(ctx, ctx.paris, "R-T-6", "intake", "null", "now()")
    # Any staff of the store may read it: a Lyon specialist who is nothing else.
    ctx.sql("insert into staff (email, name, password_hash) select 'spec-lyon@carnet.test', "
            "'Sol Specialist', password_hash from staff where email = 'lyon@carnet.test'")
    ctx.sql("insert into staff_roles select id, %s, 'specialist' from staff "
            "where email = 'spec-lyon@carnet.test'", (ctx.lyon,))
    s = _login(ctx, "spec-lyon@carnet.test")
    path = "/api/stores/%d/repairs" % ctx.lyon
    audits = ctx.sql1("select count(*) as n from audit_log where object_type = 'repair_list'")["n"]
    r = s.get(path)
    assert r.status == 200, r
    rows = r.json["repairs"]
    assert [x["id"] for x in rows] == [r4, r3, r2, r1, r5], rows
    assert paris not in [x["id"] for x in rows]
    by = {x["id"]: x for x in rows}
    assert by[r1]["number"] == "R-T-1" and by[r1]["serial"] == "RPTRT1", by[r1]
    assert by[r1]["model"] == "Phone X" and by[r1]["state"] == "intake", by[r1]
    assert by[r1]["opened_at"] and by[r1]["promised_at"], by[r1]
    assert by[r4]["promised_at"] is None
    assert {i: by[i]["at_risk"] for i in by} == {r1: True, r2: False, r3: False, r4: False,
                                                 r5: True}
    assert ctx.sql1("select count(*) as n from audit_log where object_type = 'repair_list'")[
        "n"] == audits + 1
    r = s.get(path + "?state=open")
    assert [x["id"] for x in r.json["repairs"]] == [r4, r2, r1, r5], r
    r = s.get(path + "?state=testing")
    assert [x["id"] for x in r.json["repairs"]] == [r2] and r.json["state"] == "testing", r
    assert len(s.get(path + "?state=").json["repairs"]) == 5
    r = s.get(path + "?state=open&limit=2")
    assert [x["id"] for x in r.json["repairs"]] == [r4, r2], r
    for q, status, field in (("?state=broken", 422, "state"), ("?state=OPEN", 422, "state"),
                             ("?limit=0", 400, "limit"), ("?limit=501", 400, "limit"),
                             ("?limit=x", 400, "limit")):
        r = s.get(path + q)
        assert r.status == status and r.error["field"] == field, (q, r)
    assert ctx.sql1("select count(*) as n from audit_log where object_type = 'repair_list'")[
        "n"] == audits + 5, "refused requests are not audited"
    assert Client(ctx.server.port).get(path).status == 401
    assert _login(ctx, "manager@carnet.test").get(path).status == 403   # Paris's manager
    assert _login(ctx, "tech@carnet.test").get(path).status == 403
    r = _login(ctx, "lyon@carnet.test").get(path + "?state=intake")
    assert r.status == 200 and [x["id"] for x in r.json["repairs"]] == [r1], r


def test_day_schedule_names_who_serves(ctx):
    paris_service = ctx.sql1("select id from services where store_id = %s order by id limit 1",
                             (ctx.paris,))["id"]
    sam = ctx.sql1("select id from staff where email = 'specialist@carnet.test'")["id"]
    a = _appointment(ctx, ctx.paris, "'2027-01-12 10:00+01'::timestamptz", "booked", staff=sam,
                     service=paris_service)
    s = _login(ctx, "specialist@carnet.test")
    r = s.get("/api/stores/%d/appointments?date=2027-01-12" % ctx.paris)
    assert r.status == 200, r
    (appt,) = r.json["appointments"]
    assert appt["id"] == a and appt["staff_id"] == sam and appt["staff_name"] == "Sam Specialist"
    assert appt["customer"]["name"] == "Report Customer" and appt["status"] == "booked", appt
    r = s.get("/api/stores/%d/appointments?date=nope" % ctx.paris)
    assert r.status in (400, 422) and r.error["field"] == "date", r
