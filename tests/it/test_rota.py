"""The rota (issue #14 point 3): weekly patterns in local wall-clock time and their exceptions,
the daily job, moving a shift, copying a week, the week grid, editing and removing closures;
each with its bad inputs (and nothing changed) and who may not call it."""
import datetime
import threading

import psycopg2
import psycopg2.extras

from harness import HANG_GUARD_S
from test_booking import book, make_store, paris_local

WEEK = datetime.timedelta(days=7)


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    ctx.pw_hash = ctx.sql1("select password_hash from staff where email = 'tech@carnet.test'")[
        "password_hash"]
    ctx.lyon_staff = ctx.sql1("select id from staff where email = 'lyon@carnet.test'")["id"]


def rota_store(ctx, code, techs=2, days=()):
    """A new Paris-time store with `techs` technicians (shifts on `days`, 10:00-20:00) whose
    manager is the demo's Paris manager."""
    store, service, staff = make_store(ctx, code, techs, list(days))
    ctx.sql("insert into staff_roles select id, %s, 'manager' from staff "
            "where email = 'manager@carnet.test'", (store,))
    return store, service, staff


def next_monday(ctx, store, weeks=0):
    d = ctx.store_today(store) + datetime.timedelta(days=1)
    while d.isoweekday() != 1:
        d += datetime.timedelta(days=1)
    return d + weeks * WEEK


def snapshot(ctx):
    return [ctx.sql("select * from %s order by 1, 2" % t)
            for t in ("shifts", "shift_patterns", "shift_pattern_skips", "store_closures")]


def shift_times(ctx, pattern):
    return [(r["pattern_day"], r["s"], r["e"], r["exception"]) for r in ctx.sql(
        "select pattern_day, to_char(starts_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') as s, "
        "to_char(ends_at at time zone 'UTC', 'HH24:MI') as e, exception from shifts "
        "where pattern_id = %s order by starts_at", (pattern,))]


# ---- weekly patterns ----

def test_a_pattern_keeps_its_local_time_across_dst(ctx):
    """09:00-17:00 every Monday from 22 March 2027: 08:00Z before the change of 28 March,
    07:00Z after; seven Mondays over the 42-day horizon; the grid shows 09:00 on both sides; a
    copied week keeps its local times too."""
    store, _, staff = rota_store(ctx, "rota-dst", techs=1)
    m = ctx.staff("manager")
    base = "/api/stores/%d/rota" % store
    r = m.post(base + "/patterns", {"staff_id": staff[0], "starts": "09:00", "ends": "17:00",
                                    "from": "2027-03-22"})
    assert r.status == 201, r
    assert r.json["weekday"] == 1 and r.json["created"] == 7 and r.json["skipped"] == 0, r.json
    pid = r.json["id"]
    times = shift_times(ctx, pid)
    assert times[0][1:3] == ("2027-03-22 08:00", "16:00"), times
    assert times[1][1:3] == ("2027-03-29 07:00", "15:00"), times
    assert [t[0].isoformat() for t in times][-1] == "2027-05-03", times
    for week in ("2027-03-22", "2027-03-29"):
        g = m.get(base + "?week=" + week)
        assert g.status == 200, g
        row = next(s for s in g.json["staff"] if s["id"] == staff[0])
        assert [(s["date"], s["start"], s["end"]) for s in row["shifts"]] == [
            (week, "09:00", "17:00")], row
        assert row["shifts"][0]["pattern_id"] == pid and not row["shifts"][0]["exception"]
    # A one-off Saturday shift before the change, copied to the week after: same local hours.
    r = m.post("/api/stores/%d/shifts" % store, {
        "staff_id": staff[0], "starts_at": "2027-03-27T10:00:00+01:00",
        "ends_at": "2027-03-27T12:00:00+01:00"})
    assert r.status == 201, r
    r = m.post(base + "/copy-week", {"from": "2027-03-22", "to": "2027-03-29"})
    assert r.status == 200 and (r.json["copied"], r.json["skipped"]) == (1, 0), r
    g = m.get(base + "?week=2027-03-29")
    row = next(s for s in g.json["staff"] if s["id"] == staff[0])
    assert [(s["date"], s["start"], s["end"], s["pattern_id"] is None) for s in row["shifts"]] == [
        ("2027-03-29", "09:00", "17:00", False), ("2027-04-03", "10:00", "12:00", True)], row


def test_pattern_bad_input_changes_nothing_and_who_may_not(ctx):
    store, _, staff = rota_store(ctx, "rota-bad", techs=1)
    m = ctx.staff("manager")
    path = "/api/stores/%d/rota/patterns" % store
    good = {"staff_id": staff[0], "starts": "09:00", "ends": "17:00", "from": "2027-02-01"}
    before = snapshot(ctx)
    for change, field in (({"ends": "08:00"}, "ends"), ({"ends": "09:00"}, "ends"),
                          ({"starts": "9am"}, "starts"), ({"ends": "24:00"}, "ends"),
                          ({"staff_id": 999999}, "staff_id"),
                          ({"staff_id": ctx.lyon_staff}, "staff_id"),
                          ({"staff_id": "1"}, "staff_id"),
                          ({"from": "01/02/2027"}, "from"), ({"from": "2027-02-30"}, "from"),
                          ({"until": "2027-01-31"}, "until"), ({"weekday": 8}, "weekday")):
        r = m.post(path, dict(good, **change))
        assert r.status == 422 and r.error["code"] == "invalid" and r.error["field"] == field, (
            change, r)
    assert ctx.client().post(path, good).status == 401
    assert ctx.staff("lyon").post(path, good).status == 403
    ctx.sql("insert into staff_roles select id, %s, 'specialist' from staff "
            "where email = 'specialist@carnet.test'", (store,))
    assert ctx.staff("specialist").post(path, good).status == 403
    assert snapshot(ctx) == before
    # Another store's pattern is not found from this one.
    r = m.post(path, good)
    assert r.status == 201, r
    other, _, _ = rota_store(ctx, "rota-bad2", techs=1)
    r = m.patch("/api/stores/%d/rota/patterns/%d" % (other, r.json["id"]), {"until": "2027-02-01"})
    assert r.status == 404 and r.error["field"] == "id", r
    assert ctx.staff("lyon").patch("/api/stores/%d/rota/patterns/1" % store,
                                   {"until": "2027-02-01"}).status == 403


def test_exceptions_and_the_daily_job(ctx):
    """A deleted occurrence stays deleted and a moved one stays moved when the job runs; an
    occurrence that is simply missing (the horizon moved on) is added by the job."""
    store, _, staff = rota_store(ctx, "rota-job", techs=1)
    m = ctx.staff("manager")
    mon = next_monday(ctx, store, 1)
    r = m.post("/api/stores/%d/rota/patterns" % store, {
        "staff_id": staff[0], "starts": "10:00", "ends": "18:00", "from": mon.isoformat()})
    assert r.status == 201 and r.json["created"] >= 6, r
    pid = r.json["id"]
    occ = {r["pattern_day"]: r["id"] for r in ctx.sql(
        "select id, pattern_day from shifts where pattern_id = %s", (pid,))}
    shifts = "/api/stores/%d/shifts/" % store
    assert m.delete(shifts + str(occ[mon])).status == 200
    r = m.patch(shifts + str(occ[mon + WEEK]), {
        "starts_at": paris_local(ctx, mon + WEEK, "12:00"),
        "ends_at": paris_local(ctx, mon + WEEK, "19:00")})
    assert r.status == 200 and r.json["exception"] is True and r.json["pattern_id"] == pid, r
    ctx.sql("delete from shifts where id = %s", (occ[mon + 2 * WEEK],))
    assert ctx.sql1("select job_rota_extend() as n")["n"] == 1
    days = {t[0]: t for t in shift_times(ctx, pid)}
    assert mon not in days, days
    assert days[mon + WEEK][3] is True and days[mon + WEEK][1].endswith(":00"), days
    assert ctx.sql1("select to_char(starts_at at time zone 'Europe/Paris', 'HH24:MI') as t "
                    "from shifts where id = %s", (occ[mon + WEEK],))["t"] == "12:00"
    assert mon + 2 * WEEK in days
    assert ctx.sql1("select job_rota_extend() as n")["n"] == 0
    g = m.get("/api/stores/%d/rota?week=%s" % (store, mon + WEEK))
    row = next(s for s in g.json["staff"] if s["id"] == staff[0])
    assert row["shifts"][0]["exception"] is True and row["shifts"][0]["start"] == "12:00", row
    assert ctx.sql1("select count(*) as n from audit_log where action in "
                    "('add_shift_pattern', 'update_shift', 'delete_shift') and request_id is not null"
                    )["n"] >= 3


def test_ending_a_pattern_keeps_what_a_booking_relies_on(ctx):
    store, service, staff = rota_store(ctx, "rota-end", techs=1)
    m = ctx.staff("manager")
    mon = next_monday(ctx, store)
    r = m.post("/api/stores/%d/rota/patterns" % store, {
        "staff_id": staff[0], "starts": "10:00", "ends": "18:00", "from": mon.isoformat()})
    assert r.status == 201, r
    pid, created = r.json["id"], r.json["created"]
    b = book(ctx.client(), store, service, paris_local(ctx, mon + WEEK, "11:00"))
    assert b.status == 201, b
    # The booked occurrence cannot go on its own either.
    booked_shift = ctx.sql1("select id from shifts where pattern_id = %s and pattern_day = %s",
                            (pid, mon + WEEK))["id"]
    r = m.delete("/api/stores/%d/shifts/%d" % (store, booked_shift))
    assert r.status == 409 and r.error["code"] == "has_appointments", r
    path = "/api/stores/%d/rota/patterns/%d" % (store, pid)
    before = snapshot(ctx)
    for body in ({}, {"until": "soon"}, {"until": 5}):
        r = m.patch(path, body)
        assert r.status == 422 and r.error["field"] == "until", (body, r)
    assert snapshot(ctx) == before
    r = m.patch(path, {"until": mon.isoformat()})
    assert r.status == 200 and r.json["kept"] == 1 and r.json["removed"] == created - 2, r
    assert [t[0] for t in shift_times(ctx, pid)] == [mon, mon + WEEK]
    assert ctx.sql1("select job_rota_extend() as n")["n"] == 0
    # Ending it before its first day removes the pattern; the booked shift stays, as a one-off.
    r = m.patch(path, {"until": (mon - datetime.timedelta(days=1)).isoformat()})
    assert r.status == 200 and r.json["removed"] == 1 and r.json["kept"] == 1, r
    assert ctx.sql1("select count(*) as n from shift_patterns where id = %s", (pid,))["n"] == 0
    assert ctx.sql1("select pattern_id from shifts where id = %s",
                    (booked_shift,))["pattern_id"] is None
    assert m.patch(path, {"until": mon.isoformat()}).status == 404


def _job_while_pattern_changes(ctx, store, pid, body):
    """Runs rota_update_pattern(body) in a transaction left open, the extend job on another
    connection meanwhile, then commits: returns what the job added."""
    manager = ctx.sql1("select id from staff where email = 'manager@carnet.test'")["id"]
    a = psycopg2.connect(ctx.url)
    b = psycopg2.connect(ctx.url)
    b.autocommit = True
    got = {}

    def job():
        with b.cursor() as cur:
            cur.execute("select job_rota_extend()")
            got["n"] = cur.fetchone()[0]
    try:
        with a.cursor() as cur:
            cur.execute("select rota_update_pattern(%s, %s, %s, %s::jsonb, 'race')",
                        (manager, store, pid, psycopg2.extras.Json(body)))
        t = threading.Thread(target=job)
        t.start()
        # The job waits for the change instead of reading the old end beside it.
        ctx.wait_lock_waiters(1, like="job_rota_extend")
        a.commit()
        t.join(HANG_GUARD_S)
    finally:
        a.close()
        b.close()
    return got.get("n")


def test_the_job_waits_for_a_pattern_being_ended(ctx):
    """The job and a manager ending a pattern at the same time: the job adds nothing past the
    new end, and nothing at all for a pattern removed meanwhile."""
    store, _, staff = rota_store(ctx, "rota-race", techs=2)
    m = ctx.staff("manager")
    mon = next_monday(ctx, store)
    pids = []
    for who in staff:
        r = m.post("/api/stores/%d/rota/patterns" % store, {
            "staff_id": who, "starts": "10:00", "ends": "18:00", "from": mon.isoformat()})
        assert r.status == 201 and r.json["created"] >= 6, r
        pids.append(r.json["id"])
    # Days past the end to come are missing, as if the horizon had just moved on: the job
    # would add them from a stale read of the pattern.
    ctx.sql("delete from shifts where pattern_id = %s and pattern_day > %s", (pids[0], mon + WEEK))
    assert _job_while_pattern_changes(ctx, store, pids[0], {"until": str(mon + WEEK)}) == 0
    assert [t[0] for t in shift_times(ctx, pids[0])] == [mon, mon + WEEK]
    assert ctx.sql1("select until_day from shift_patterns where id = %s",
                    (pids[0],))["until_day"] == mon + WEEK
    # Ended before its first day, the pattern goes: the job finds it gone.
    ctx.sql("delete from shifts where pattern_id = %s", (pids[1],))
    assert _job_while_pattern_changes(
        ctx, store, pids[1], {"until": str(mon - datetime.timedelta(days=1))}) == 0
    assert ctx.sql1("select count(*) as n from shifts where store_id = %s and staff_id = %s",
                    (store, staff[1]))["n"] == 0
    assert ctx.sql1("select count(*) as n from shift_patterns where id = %s", (pids[1],))["n"] == 0


def test_the_job_leaves_a_closed_store_alone(ctx):
    store, _, staff = rota_store(ctx, "rota-shut", techs=1)
    m = ctx.staff("manager")
    mon = next_monday(ctx, store)
    r = m.post("/api/stores/%d/rota/patterns" % store, {
        "staff_id": staff[0], "starts": "10:00", "ends": "18:00", "from": mon.isoformat()})
    assert r.status == 201, r
    pid, created = r.json["id"], r.json["created"]
    ctx.sql("delete from shifts where pattern_id = %s and pattern_day > %s", (pid, mon + WEEK))
    ctx.sql("update stores set closed_at = now() where id = %s", (store,))
    assert ctx.sql1("select job_rota_extend() as n")["n"] == 0
    assert [t[0] for t in shift_times(ctx, pid)] == [mon, mon + WEEK]
    # Reopened, its rota grows again.
    ctx.sql("update stores set closed_at = null where id = %s", (store,))
    assert ctx.sql1("select job_rota_extend() as n")["n"] == created - 2
    assert len(shift_times(ctx, pid)) == created


def test_change_a_pattern_from_a_day_on(ctx):
    """"Every week from here": the old pattern ends the day before, a new one with the new
    times starts that day, in one call; a refused change leaves everything as it was."""
    store, _, staff = rota_store(ctx, "rota-split", techs=1)
    m = ctx.staff("manager")
    mon = next_monday(ctx, store)
    r = m.post("/api/stores/%d/rota/patterns" % store, {
        "staff_id": staff[0], "starts": "10:00", "ends": "18:00", "from": mon.isoformat()})
    assert r.status == 201, r
    pid = r.json["id"]
    path = "/api/stores/%d/rota/patterns/%d" % (store, pid)
    split = mon + 2 * WEEK
    before = snapshot(ctx)
    for body, field in (({"from": (split + datetime.timedelta(days=1)).isoformat(),
                          "starts": "12:00", "ends": "19:00"}, "from"),
                        ({"from": (mon - WEEK).isoformat(), "starts": "12:00", "ends": "19:00"},
                         "from"),
                        ({"from": split.isoformat(), "starts": "12:00", "ends": "11:00"}, "ends"),
                        ({"from": split.isoformat(), "starts": "noon", "ends": "19:00"}, "starts")):
        r = m.patch(path, body)
        assert r.status == 422 and r.error["field"] == field, (body, r)
    assert ctx.staff("lyon").patch(path, {"from": split.isoformat(), "starts": "12:00",
                                          "ends": "19:00"}).status == 403
    assert snapshot(ctx) == before
    r = m.patch(path, {"from": split.isoformat(), "starts": "12:00", "ends": "19:00"})
    assert r.status == 200 and r.json["until"] == (split - datetime.timedelta(days=1)).isoformat(), r
    new = r.json["pattern"]
    # The old one had 7 Mondays (42 days), 2 before the split; the new one has its own 42 days.
    assert (r.json["removed"], new["created"], new["from"]) == (5, 7, split.isoformat()), r.json
    assert [t[0] for t in shift_times(ctx, pid)] == [mon, mon + WEEK]
    local = ctx.sql("select pattern_day, to_char(starts_at at time zone 'Europe/Paris', 'HH24:MI') "
                    "as s from shifts where pattern_id = %s order by starts_at", (new["id"],))
    assert local[0]["pattern_day"] == split and {x["s"] for x in local} == {"12:00"}, local
    assert ctx.sql1("select job_rota_extend() as n")["n"] == 0


# ---- one shift ----

def test_move_a_shift(ctx):
    day = next_monday(ctx, ctx.paris, 1) + datetime.timedelta(days=1)
    store, service, staff = rota_store(ctx, "rota-move", techs=1, days=[day])
    m = ctx.staff("manager")
    sid = ctx.sql1("select id from shifts where staff_id = %s", (staff[0],))["id"]
    late = ctx.sql1("insert into shifts (store_id, staff_id, starts_at, ends_at) values "
                    "(%s, %s, %s, %s) returning id",
                    (store, staff[0], paris_local(ctx, day, "21:00"),
                     paris_local(ctx, day, "23:00")))["id"]
    b = book(ctx.client(), store, service, paris_local(ctx, day, "10:00"))
    assert b.status == 201, b
    path = "/api/stores/%d/shifts/%d" % (store, sid)

    def move(a, z, client=m, p=path):
        return client.patch(p, {"starts_at": paris_local(ctx, day, a),
                                "ends_at": paris_local(ctx, day, z)})

    before = snapshot(ctx)
    r = move("12:00", "20:00")
    assert r.status == 409 and r.error["code"] == "has_appointments" and \
        r.error["field"] == "starts_at" and r.error["appointments"] == 1, r
    r = move("10:00", "21:30")
    assert r.status == 409 and r.error["code"] == "overlap" and r.error["field"] == "starts_at", r
    r = move("18:00", "10:00")
    assert r.status == 422 and r.error["field"] == "ends_at", r
    r = m.patch(path, {"starts_at": "tomorrow", "ends_at": paris_local(ctx, day, "12:00")})
    assert r.status == 422 and r.error["field"] == "starts_at", r
    r = m.patch(path, {})
    assert r.status == 422 and r.error["field"] == "starts_at", r
    # A Paris shift through this store's path; this store's shift through Paris's.
    paris_shift = ctx.sql1("select min(id) as id from shifts where store_id = %s",
                           (ctx.paris,))["id"]
    r = move("10:00", "19:00", p="/api/stores/%d/shifts/%d" % (store, paris_shift))
    assert r.status == 404 and r.error["field"] == "id", r
    r = move("10:00", "19:00", p="/api/stores/%d/shifts/%d" % (ctx.paris, sid))
    assert r.status == 404, r
    assert move("10:00", "19:00", client=ctx.client()).status == 401
    assert move("10:00", "19:00", client=ctx.staff("lyon")).status == 403
    assert snapshot(ctx) == before
    r = move("09:00", "19:00")
    assert r.status == 200 and r.json["exception"] is False and r.json["pattern_id"] is None, r
    assert ctx.sql1("select to_char(ends_at at time zone 'Europe/Paris', 'HH24:MI') as t from "
                    "shifts where id = %s", (sid,))["t"] == "19:00"
    assert late


# ---- weeks ----

def test_copy_week(ctx):
    store, _, staff = rota_store(ctx, "rota-copy", techs=2)
    m = ctx.staff("manager")
    a = next_monday(ctx, store, 1)
    b = a + WEEK

    def add(sid, day, s, e):
        ctx.sql("insert into shifts (store_id, staff_id, starts_at, ends_at) values "
                "(%s, %s, %s, %s)", (store, sid, paris_local(ctx, day, s), paris_local(ctx, day, e)))
    add(staff[0], a, "10:00", "18:00")
    add(staff[1], a + datetime.timedelta(days=2), "12:00", "20:00")
    add(staff[1], b + datetime.timedelta(days=2), "08:00", "13:00")  # in the way of the copy
    # A pattern's occurrence in week a is not copied (its pattern has its own week b).
    r = m.post("/api/stores/%d/rota/patterns" % store, {
        "staff_id": staff[0], "starts": "10:00", "ends": "12:00",
        "from": (a + datetime.timedelta(days=4)).isoformat()})
    assert r.status == 201, r
    path = "/api/stores/%d/rota/copy-week" % store
    before = snapshot(ctx)
    for body, field in (({"from": a.isoformat()}, "to"), ({"to": b.isoformat()}, "from"),
                        ({"from": (a + datetime.timedelta(days=1)).isoformat(),
                          "to": b.isoformat()}, "from"),
                        ({"from": a.isoformat(), "to": "2027-13-01"}, "to"),
                        ({"from": a.isoformat(), "to": a.isoformat()}, "to")):
        r = m.post(path, body)
        assert r.status == 422 and r.error["field"] == field, (body, r)
    assert ctx.client().post(path, {"from": a.isoformat(), "to": b.isoformat()}).status == 401
    assert ctx.staff("lyon").post(path, {"from": a.isoformat(), "to": b.isoformat()}).status == 403
    assert snapshot(ctx) == before
    r = m.post(path, {"from": a.isoformat(), "to": b.isoformat()})
    assert r.status == 200 and (r.json["copied"], r.json["skipped"]) == (1, 1), r
    g = m.get("/api/stores/%d/rota?week=%s" % (store, b))
    assert g.status == 200, g
    row = next(s for s in g.json["staff"] if s["id"] == staff[0])
    assert [(s["date"], s["start"], s["end"]) for s in row["shifts"]] == [
        (b.isoformat(), "10:00", "18:00"),
        ((b + datetime.timedelta(days=4)).isoformat(), "10:00", "12:00")], row
    assert ctx.sql1("select count(*) as n from audit_log where action = 'copy_week' "
                    "and object_id = %s", (str(store),))["n"] == 1


def test_week_grid(ctx):
    store, _, staff = rota_store(ctx, "rota-grid", techs=2)
    mon = next_monday(ctx, store, 1)
    ctx.sql("insert into store_closures (store_id, day, reason) values (%s, %s, 'stock'), "
            "(%s, %s, 'later')", (store, mon + datetime.timedelta(days=3), store, mon + WEEK))
    path = "/api/stores/%d/rota" % store
    m = ctx.staff("manager")
    r = m.get(path + "?week=" + mon.isoformat())
    assert r.status == 200, r
    assert r.json["days"] == [(mon + datetime.timedelta(days=i)).isoformat() for i in range(7)]
    assert {s["id"] for s in r.json["staff"]} >= set(staff), r.json
    assert [(c["date"], c["reason"]) for c in r.json["closures"]] == [
        ((mon + datetime.timedelta(days=3)).isoformat(), "stock")], r.json
    for q in ("", "?week=", "?week=" + (mon + datetime.timedelta(days=1)).isoformat(),
              "?week=2027-02-30"):
        r = m.get(path + q)
        assert r.status == 422 and r.error["field"] == "week", (q, r)
    assert ctx.client().get(path + "?week=" + mon.isoformat()).status == 401
    assert ctx.staff("lyon").get(path + "?week=" + mon.isoformat()).status == 403
    assert m.get("/api/stores/999999/rota?week=" + mon.isoformat()).status in (403, 404)
    # Any staff role of the store may read it.
    r = ctx.staff("tech").get("/api/stores/%d/rota?week=%s" % (ctx.paris, mon))
    assert r.status == 200 and r.json["staff"], r


# ---- closures ----

def test_edit_and_delete_a_closure(ctx):
    store, _, _ = rota_store(ctx, "rota-closed", techs=1)
    m = ctx.staff("manager")
    base = "/api/stores/%d/closures" % store
    c1 = m.post(base, {"date": "2027-02-10", "reason": "stock"}).json["id"]
    c2 = m.post(base, {"date": "2027-02-11", "reason": "works"}).json["id"]
    lyon_c = ctx.sql1("insert into store_closures (store_id, day) values (%s, '2027-02-10') "
                      "returning id", (ctx.lyon,))["id"]
    before = snapshot(ctx)
    for body, status, code, field in (
            ({}, 422, "invalid", "date"),
            ({"date": "10/02/2027"}, 422, "invalid", "date"),
            ({"date": 20270210}, 422, "invalid", "date"),
            ({"reason": 5}, 422, "invalid", "reason"),
            ({"reason": "x" * 201}, 422, "too_long", "reason"),
            ({"date": "2027-02-11"}, 409, "exists", "date")):
        r = m.patch("%s/%d" % (base, c1), body)
        assert r.status == status and r.error["code"] == code and r.error["field"] == field, (
            body, r)
    r = m.patch("%s/%d" % (base, lyon_c), {"reason": "mine"})
    assert r.status == 404 and r.error["field"] == "id", r
    assert m.delete("%s/%d" % (base, lyon_c)).status == 404
    assert ctx.staff("lyon").patch("%s/%d" % (base, c1), {"reason": "x"}).status == 403
    assert ctx.staff("lyon").delete("%s/%d" % (base, c1)).status == 403
    assert ctx.client().delete("%s/%d" % (base, c1)).status == 401
    ctx.sql("insert into staff_roles select id, %s, 'technician' from staff "
            "where email = 'tech@carnet.test'", (store,))
    assert ctx.staff("tech").delete("%s/%d" % (base, c1)).status == 403
    assert snapshot(ctx) == before
    r = m.patch("%s/%d" % (base, c1), {"date": "2027-02-12", "reason": "inventory"})
    assert r.status == 200 and (r.json["date"], r.json["reason"]) == ("2027-02-12", "inventory"), r
    r = m.patch("%s/%d" % (base, c1), {"reason": ""})
    assert r.status == 200 and r.json["date"] == "2027-02-12" and r.json["reason"] == "", r
    r = m.delete("%s/%d" % (base, c2))
    assert r.status == 200 and r.json["deleted"] is True, r
    assert m.delete("%s/%d" % (base, c2)).status == 404
    assert [(str(x["day"]), x["reason"]) for x in ctx.sql(
        "select day, reason from store_closures where store_id = %s", (store,))] == [
        ("2027-02-12", "")]
    assert ctx.sql1("select count(*) as n from audit_log where action in "
                    "('update_closure', 'delete_closure')")["n"] == 3
