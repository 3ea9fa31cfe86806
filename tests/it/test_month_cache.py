"""The month view's cache (issue 16 point 5): two carnetd cache GET /availability per store,
service and day, and every change that alters free slots (through the API or straight in SQL)
reaches both through carnet_avail (046). After each random change their answers are the bytes
booking_availability computes, and those a carnetd without the cache (--avail-cache 0) sends."""
import datetime
import random
import time

from harness import Client, wait_for

ACTIVE = "('booked','checked_in','in_service')"


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.services = [r["id"] for r in ctx.sql(
        "select id from services where store_id = %s and active order by id limit 2",
        (ctx.paris,))]
    ctx.a = ctx.start_carnetd()
    ctx.b = ctx.start_carnetd()
    ctx.plain = ctx.start_carnetd(args=["--avail-cache", "0"])
    wait_listening(ctx, 2)


def wait_listening(ctx, n):
    """Until n carnetd listen on carnet_avail (the plain one does not)."""
    wait_for(lambda: ctx.sql1(
        "select count(*) as n from pg_stat_activity where state = 'idle' "
        "and query like '%%LISTEN carnet_avail%%'")["n"] >= n, "carnetd listening")


def month_path(store, service, frm, to):
    return "/api/stores/%s/availability?service=%s&from=%s&to=%s" % (store, service, frm, to)


def fresh(ctx, store, service, frm, to):
    return ctx.sql1("select booking_availability(%s, %s, %s, %s)::text as t",
                    (store, str(service), str(frm), str(to)))["t"].encode()


def month_range(ctx):
    today = ctx.store_today(ctx.paris)
    return today, today + datetime.timedelta(days=27)


def agree(ctx, store, service, frm, to):
    """Waits (notifications are asynchronous) until both caching carnetd send what the plain one
    sends, then asks them once more (now from their caches) and checks again."""
    path = month_path(store, service, frm, to)
    plain = Client(ctx.plain.port)

    def same(s):
        want = plain.get(path)
        got = Client(s.port).get(path)
        if want.status == 200 and want.raw != fresh(ctx, store, service, frm, to):
            return False  # a slot passed between the two: ask again
        return (got.status, got.raw) == (want.status, want.raw) and want

    for s in (ctx.a, ctx.b):
        want = wait_for(lambda: same(s), "cached month view equal to the computed one", timeout=10)
        again = Client(s.port).get(path)
        if want.status == 200:
            assert again.raw == want.raw or again.raw == fresh(ctx, store, service, frm, to), (
                again, want)
        else:
            assert (again.status, again.raw) == (want.status, want.raw), (again, want)
    return want


def metric(server, name):
    """A sample of carnetd's /metrics, by its name with labels, as a number (None: absent)."""
    for line in Client(server.port).get("/metrics").raw.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def first_diff(a, b):
    """Where two answers part, for a failure message."""
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return "at byte %d: %r | %r" % (i, a[max(0, i - 80):i + 80], b[max(0, i - 80):i + 80])


def staff_on(ctx, server, who):
    c = Client(server.port)
    c.login(who + "@carnet.test", "carnet-demo")
    return c


def test_answers_are_the_computed_bytes(ctx):
    frm, to = month_range(ctx)
    for svc in ctx.services:
        want = agree(ctx, ctx.paris, svc, frm, to)
        assert want.status == 200 and want.json["days"], want
        # The answer for a shorter range is a part of the same cached days.
        agree(ctx, ctx.paris, svc, frm + datetime.timedelta(days=3),
              frm + datetime.timedelta(days=9))


def test_the_cache_is_used_and_a_notification_drops_it(ctx):
    """A change that tells nobody (its trigger disabled) stays unseen by a warm cache: the
    answers do come from it. The notification then drops the store's days."""
    frm, to = month_range(ctx)
    svc = ctx.services[0]
    path = month_path(ctx.paris, svc, frm, to)
    before = agree(ctx, ctx.paris, svc, frm, to).raw
    day = frm + datetime.timedelta(days=5)
    try:
        ctx.sql("alter table shifts disable trigger avail_notify")
        ctx.sql("delete from shifts s where store_id = %s and (starts_at at time zone %s)::date = %s "
                "and not exists (select 1 from appointments a where a.staff_id = s.staff_id "
                "and a.starts_at < s.ends_at and a.blocked_until > s.starts_at)",
                (ctx.paris, "Europe/Paris", day))
    finally:
        ctx.sql("alter table shifts enable trigger avail_notify")
    now = fresh(ctx, ctx.paris, svc, frm, to)
    assert now != before
    hits = metric(ctx.a, 'carnet_avail_cache_lookups_total{result="hit"}')
    for s in (ctx.a, ctx.b):
        assert Client(s.port).get(path).raw == before
    assert Client(ctx.plain.port).get(path).raw == now
    # 28 days and the time zone, each a hit.
    assert metric(ctx.a, 'carnet_avail_cache_lookups_total{result="hit"}') == hits + 29
    assert metric(ctx.a, "carnet_avail_cache_bytes") > 0
    assert metric(ctx.plain, "carnet_avail_cache_entries") == 0
    ctx.sql("select pg_notify('carnet_avail', %s)", ("%d %s %s" % (ctx.paris, day, day),))
    agree(ctx, ctx.paris, svc, frm, to)


def test_random_changes(ctx):
    rnd = random.Random(16)
    frm, to = month_range(ctx)
    base = "/api/stores/%d" % ctx.paris
    mgr = {s.port: staff_on(ctx, s, "manager") for s in (ctx.a, ctx.b)}
    spec = {s.port: staff_on(ctx, s, "specialist") for s in (ctx.a, ctx.b)}
    tz = "Europe/Paris"
    done = []

    def server():
        return rnd.choice((ctx.a, ctx.b))

    def a_day():
        return frm + datetime.timedelta(days=rnd.randrange(1, 28))

    def book():
        svc = rnd.choice(ctx.services)
        days = Client(ctx.plain.port).get(month_path(ctx.paris, svc, frm, to)).json["days"]
        # Not today: the no-show job would change a booking that starts soon, mid-test.
        slots = [s for d in days if d["date"] != str(frm) for s in d["slots"]]
        if slots:
            s = rnd.choice(slots)
            r = Client(server().port).post(base + "/appointments", {
                "service_id": svc, "starts_at": s["starts_at"], "name": "Month Cache",
                "email": "m@example.com", "phone": "+33 6 12 34 56 78",
                "problem": "cracked screen"})
            assert r.status in (201, 409), r
            return "book %s: %d" % (s["starts_at"], r.status)

    def cancel_api():
        row = ctx.sql1("select id from appointments where store_id = %s and status = 'booked' "
                       "and starts_at > now() order by random() limit 1", (ctx.paris,))
        if row:
            r = spec[server().port].post(base + "/appointments/%d/cancel" % row["id"])
            assert r.status == 200, r
            return "cancel %d" % row["id"]

    def status_sql():
        st = rnd.choice(("cancelled", "no_show", "checked_in", "booked"))
        ctx.sql("update appointments set status = %s where id = (select id from appointments "
                "where store_id = %s order by random() limit 1)", (st, ctx.paris))
        return "status " + st

    def reschedule_sql():
        try:
            ctx.sql("update appointments set starts_at = starts_at + interval '15 minutes', "
                    "ends_at = ends_at + interval '15 minutes', blocked_until = blocked_until + "
                    "interval '15 minutes' where id = (select id from appointments where "
                    "store_id = %s and status in " + ACTIVE + " order by random() limit 1)",
                    (ctx.paris,))
        except Exception:  # the moved one overlaps another: nothing changed
            return None
        return "reschedule (sql)"

    def add_shift():
        d = a_day()
        staff = ctx.sql1("select staff_id from staff_skills where store_id = %s "
                         "order by random() limit 1", (ctx.paris,))["staff_id"]
        r = mgr[server().port].post(base + "/shifts", {
            "staff_id": staff, "starts_at": "%sT08:00:00+01:00" % d,
            "ends_at": "%sT09:30:00+01:00" % d})
        return "add shift %s: %d" % (d, r.status)

    def drop_shift():
        ctx.sql("delete from shifts s where id = (select id from shifts x where store_id = %s "
                "and not exists (select 1 from appointments a where a.staff_id = x.staff_id "
                "and a.starts_at < x.ends_at and a.blocked_until > x.starts_at) "
                "order by random() limit 1)", (ctx.paris,))
        return "drop shift"

    def shorten_shift():
        try:
            ctx.sql("update shifts set ends_at = ends_at - interval '1 hour' where id = "
                    "(select id from shifts where store_id = %s order by random() limit 1)",
                    (ctx.paris,))
        except Exception:
            return None
        return "shorten shift"

    def closure():
        d = a_day()
        r = mgr[server().port].post(base + "/closures", {"date": str(d), "reason": "stock"})
        return "close %s: %d" % (d, r.status)

    def reopen():
        ctx.sql("delete from store_closures where id = (select id from store_closures "
                "where store_id = %s order by random() limit 1)", (ctx.paris,))
        return "reopen"

    def hours():
        opens = rnd.choice(("09:00", "10:00", "10:30"))
        closes = rnd.choice(("18:00", "19:00", "20:00"))
        r = mgr[server().port].put(base + "/hours", {"hours": [
            {"weekday": d, "opens": opens, "closes": closes} for d in range(1, 7)]})
        assert r.status == 200, r
        return "hours %s-%s" % (opens, closes)

    def service_edit():
        svc = rnd.choice(ctx.services)
        col, val = rnd.choice((("duration_min", rnd.choice((30, 45, 60))),
                               ("buffer_min", rnd.choice((0, 10, 15))),
                               ("active", rnd.choice((True, False, True)))))
        ctx.sql("update services set %s = %%s where id = %%s" % col, (val, svc))
        return "service %d %s=%s" % (svc, col, val)

    def skills():
        row = ctx.sql1("select staff_id, skill from staff_skills where store_id = %s "
                       "order by random() limit 1", (ctx.paris,))
        ctx.sql("delete from staff_skills where staff_id = %s and store_id = %s and skill = %s",
                (row["staff_id"], ctx.paris, row["skill"]))
        done.append(lambda: ctx.sql("insert into staff_skills values (%s, %s, %s) "
                                    "on conflict do nothing",
                                    (row["staff_id"], ctx.paris, row["skill"])))
        return "skill off %s" % row

    def restore():
        if done:
            done.pop()()
            return "skill back"

    def disable_staff():
        # Not the two whose sessions make the changes (disabling ends them).
        row = ctx.sql1("select staff_id from staff_skills k join staff s on s.id = k.staff_id "
                       "where store_id = %s and s.email not in ('manager@carnet.test', "
                       "'specialist@carnet.test') order by random() limit 1", (ctx.paris,))
        ctx.sql("update staff set disabled_at = case when disabled_at is null then now() end "
                "where id = %s", (row["staff_id"],))
        return "staff %d toggled" % row["staff_id"]

    def close_store():
        ctx.sql("update stores set closed_at = case when closed_at is null then now() end "
                "where id = %s", (ctx.paris,))
        return "store closed toggled"

    changes = [book, book, book, cancel_api, status_sql, reschedule_sql, add_shift, drop_shift,
               shorten_shift, closure, reopen, hours, service_edit, skills, restore,
               disable_staff, close_store]
    seen = set()
    for i in range(40):
        change = rnd.choice(changes)
        what = change()
        if what:
            seen.add(change.__name__)
        for svc in ctx.services:
            want = agree(ctx, ctx.paris, svc, frm, to)
        # Stores closed, services off, staff disabled stay so only for a turn or two.
        if rnd.random() < 0.5:
            ctx.sql("update stores set closed_at = null where id = %s", (ctx.paris,))
            ctx.sql("update services set active = true where id = any(%s)", (ctx.services,))
            ctx.sql("update staff set disabled_at = null where id in (select staff_id from "
                    "staff_skills where store_id = %s)", (ctx.paris,))
    assert len(seen) >= 12, seen
    assert want.status in (200, 404, 409)


def test_odd_requests_answer_as_uncached(ctx):
    ctx.sql("update stores set closed_at = null where id = %s", (ctx.paris,))
    ctx.sql("update services set active = true where id = any(%s)", (ctx.services,))
    frm, to = month_range(ctx)
    svc = ctx.services[0]
    plain = Client(ctx.plain.port)
    for store, service, f, t in (
            ("0%d" % ctx.paris, svc, frm, to), (ctx.paris, "0%d" % svc, frm, to),
            (ctx.paris, svc, to, frm), (ctx.paris, svc, frm, frm + datetime.timedelta(days=42)),
            (ctx.paris, svc, frm, frm + datetime.timedelta(days=41)),
            (ctx.paris, svc, "2027-02-30", "2027-03-01"), (ctx.paris, svc, "1899-12-31",
                                                           "1900-01-02"),
            (ctx.paris, "", frm, to), (ctx.paris, 999999, frm, to), (999999, svc, frm, to),
            (ctx.paris, svc, "2027-1-05", "2027-01-06")):
        path = month_path(store, service, f, t)
        for _ in range(2):
            want = plain.get(path)
            for s in (ctx.a, ctx.b):
                got = Client(s.port).get(path)
                assert (got.status, got.raw) == (want.status, want.raw), (
                    path, got.status, want.status, first_diff(got.raw, want.raw))
    # A closed store is a 409 from the cached carnetd at once after its notification.
    ctx.sql("update stores set closed_at = now() where id = %s", (ctx.paris,))
    try:
        want = agree(ctx, ctx.paris, svc, frm, to)
        assert want.status == 409 and want.error["code"] == "store_closed", want
    finally:
        ctx.sql("update stores set closed_at = null where id = %s", (ctx.paris,))
    assert agree(ctx, ctx.paris, svc, frm, to).status == 200


def test_todays_first_slot_expires_with_the_clock(ctx):
    """A day's cached answer ends when its first free slot passes, with no notification: a
    store that opens a few seconds from now (a zone where it is about noon)."""
    utc = ctx.sql1("select extract(hour from now() at time zone 'UTC')::int as h")["h"]
    off = 12 - utc
    tz = "UTC" if off == 0 else "Etc/GMT%+d" % (-off)
    store = ctx.sql1("insert into stores (code, name, timezone) values ('soon', 'Soon', %s) "
                     "returning id", (tz,))["id"]
    svc = ctx.sql1("insert into services (store_id, name, duration_min, skill) "
                   "values (%s, 'Quick', 30, 'repair') returning id", (store,))["id"]
    sid = ctx.sql1("insert into staff (email, name, password_hash) select 'soon@carnet.test', "
                   "'Soon', password_hash from staff where email = 'tech@carnet.test' "
                   "returning id")["id"]
    ctx.sql("insert into staff_skills values (%s, %s, 'repair')", (sid, store))
    ctx.sql("insert into shifts (store_id, staff_id, starts_at, ends_at) "
            "values (%s, %s, now() - interval '1 hour', now() + interval '6 hours')",
            (store, sid))
    opens = ctx.sql1("select date_trunc('second', now() at time zone %s + interval '6 seconds') "
                     "as t", (tz,))["t"]
    ctx.sql("insert into store_hours values (%s, %s, %s, %s)",
            (store, opens.isoweekday(), opens.time(), (opens + datetime.timedelta(hours=2)).time()))
    day = opens.date()
    path = month_path(store, svc, day, day)
    first = agree(ctx, store, svc, day, day)
    assert len(first.json["days"][0]["slots"]) == 7, first
    for s in (ctx.a, ctx.b):  # from the caches now
        assert Client(s.port).get(path).raw == first.raw
    wait_for(lambda: ctx.sql1("select now() at time zone %s > %s as p", (tz, opens))["p"],
             "the first slot passed")
    time.sleep(0.2)
    for s in (ctx.a, ctx.b):
        got = Client(s.port).get(path)
        slots = [x["starts_at"] for x in got.json["days"][0]["slots"]]
        assert len(slots) == 6, (opens, slots, first.json["days"][0]["slots"])
    agree(ctx, store, svc, day, day)


def test_a_lost_listen_connection_drops_the_cache(ctx):
    """Changes made while a carnetd does not listen are unknown to it: on subscribing again it
    drops every entry."""
    ctx.sql("update stores set closed_at = null where id = %s", (ctx.paris,))
    frm, to = month_range(ctx)
    svc = ctx.services[0]
    before = agree(ctx, ctx.paris, svc, frm, to).raw
    try:
        ctx.sql("alter table store_closures disable trigger avail_notify")
        ctx.sql("select pg_terminate_backend(pid) from pg_stat_activity "
                "where query like '%%LISTEN carnet_avail%%' and pid <> pg_backend_pid()")
        d = frm + datetime.timedelta(days=2)
        while ctx.sql1("select 1 as x from store_closures where store_id = %s and day = %s",
                       (ctx.paris, d)):
            d += datetime.timedelta(days=1)
        ctx.sql("insert into store_closures (store_id, day) values (%s, %s)", (ctx.paris, d))
    finally:
        ctx.sql("alter table store_closures enable trigger avail_notify")
    assert fresh(ctx, ctx.paris, svc, frm, to) != before
    wait_listening(ctx, 2)
    path = month_path(ctx.paris, svc, frm, to)
    for s in (ctx.a, ctx.b):
        assert Client(s.port).get(path).raw == fresh(ctx, ctx.paris, svc, frm, to)
    agree(ctx, ctx.paris, svc, frm, to)
