"""A call-next that explains itself (issue 17, point 2): the queue says who is next and why, by
the same rule call next follows (floor_order); each call is recorded with its reason; calling
someone out of turn needs a reason, kept as an override; the staff report counts overrides."""
PW = "carnet-demo"


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    ctx.me = ctx.sql1("select id from staff where email = 'specialist@carnet.test'")["id"]


def clear_floor(ctx):
    ctx.sql("delete from visits")
    ctx.sql("delete from floor_tickets")
    ctx.sql("delete from floor_settings")


def join(ctx, name):
    r = ctx.client().post("/api/stores/%d/line" % ctx.paris, {"name": name})
    assert r.status == 201, r
    return r.json["visit_id"]


def booked(ctx, name, ticket, due, queued):
    """A booked visit checked in `queued` ago, due `due` from now (SQL intervals)."""
    return ctx.sql1("""insert into visits (store_id, kind, day, ticket, name, due_at, arrived_at,
                                           queued_at)
                       values (%s, 'booked', floor_today(%s), %s, %s, now() + %s::interval,
                               now() - %s::interval, now() - %s::interval) returning id""",
                    (ctx.paris, ctx.paris, ticket, name, due, queued, queued))["id"]


def snapshot(ctx):
    return (ctx.sql("select id, status, specialist_id, called_at from visits order by id"),
            ctx.sql("select id from visit_calls order by id"),
            ctx.sql1("select count(*) as n from audit_log where action = 'call'")["n"])


def queue(ctx, s):
    r = s.get("/api/stores/%d/queue" % ctx.paris)
    assert r.status == 200, r
    return r.json


def test_queue_says_who_is_next_and_why(ctx):
    clear_floor(ctx)
    w = join(ctx, "Walk In")
    ctx.sql("update visits set arrived_at = now() - interval '24 minutes', "
            "queued_at = now() - interval '24 minutes' where id = %s", (w,))
    due = booked(ctx, "Due Booked", 901, "-9 minutes", "9 minutes")
    early = booked(ctx, "Early Booked", 902, "40 minutes", "30 minutes")
    s = ctx.staff("specialist")
    q = queue(ctx, s)
    assert q["rule"] == "due_then_arrival", q
    got = [(x["visit_id"], x["reason"]["code"], x["reason"]["part"]) for x in q["waiting"]]
    assert got == [(due, "appointment_due", "appointment_due"),
                   (early, "booked_early", "arrival"),
                   (w, "walk_in", "arrival")], got
    first, _, walk = q["waiting"]
    assert first["reason"]["rule"] == "due_then_arrival" and first["reason"]["position"] == 1
    assert first["reason"]["due_at"] and first["reason"]["arrived_at"], first
    assert 8 * 60 <= first["reason"]["waited_s"] <= 11 * 60, first
    assert 23 * 60 <= walk["reason"]["waited_s"] <= 26 * 60, walk
    assert walk["reason"]["due_at"] is None and walk["reason"]["skips"] == 0, walk
    # The board and a customer's place follow the same order.
    board = ctx.client().get("/api/stores/%d/board" % ctx.paris)
    assert board.status == 200, board

    # Call next takes the one the queue names first, and keeps why.
    r = s.post("/api/stores/%d/queue/next" % ctx.paris)
    assert r.status == 200 and r.json["id"] == due, r
    call = r.json["call"]
    assert call["override"] is False and call["position"] == 1, call
    assert call["reason"]["code"] == "appointment_due" and call["override_reason"] is None, call
    row = ctx.sql1("select called_by, specialist_id, position, reason, override, passed_visit_id "
                   "from visit_calls where visit_id = %s", (due,))
    assert row["called_by"] == ctx.me and row["specialist_id"] == ctx.me, row
    assert row["reason"]["code"] == "appointment_due" and not row["override"], row
    assert row["passed_visit_id"] is None, row
    # The queue moved on: the early booking is next now, and says so.
    q = queue(ctx, s)
    assert q["waiting"][0]["visit_id"] == early and q["waiting"][0]["reason"]["position"] == 1


def test_skipped_person_keeps_their_skips_in_the_reason(ctx):
    clear_floor(ctx)
    a = join(ctx, "Alice")
    b = join(ctx, "Bob")
    s = ctx.staff("specialist")
    assert s.post("/api/stores/%d/queue/next" % ctx.paris).json["id"] == a
    assert s.post("/api/visits/%d/skip" % a).status == 200
    q = queue(ctx, s)
    assert [x["visit_id"] for x in q["waiting"]] == [b, a], q
    assert q["waiting"][1]["reason"]["skips"] == 1 and q["waiting"][1]["reason"]["code"] == "walk_in"


def test_out_of_turn_needs_a_reason(ctx):
    clear_floor(ctx)
    a = join(ctx, "Alice")
    b = join(ctx, "Bob")
    s = ctx.staff("specialist")
    before = snapshot(ctx)
    for body in (None, {}, {"reason": ""}, {"reason": "   "}, {"reason": None}):
        r = s.post("/api/visits/%d/call" % b, body)
        assert r.status == 422, (body, r)
        assert r.error["code"] == "reason_required" and r.error["field"] == "reason", r
        assert r.error["position"] == 2 and r.error["next_visit_id"] == a, r
        assert snapshot(ctx) == before
    # Too long, or not text: the reason itself is refused.
    for bad in ("x" * 201, 12, ["late"]):
        r = s.post("/api/visits/%d/call" % b, {"reason": bad})
        assert r.status == 422 and r.error["code"] == "invalid" and r.error["field"] == "reason", r
        assert snapshot(ctx) == before
    # With a reason: called, kept as an override naming who was passed over, reason sealed.
    why = "Urgent: only needs a pick-up é" + "x" * 170
    assert len(why) == 200
    r = s.post("/api/visits/%d/call" % b, {"reason": "  " + why + " "})
    assert r.status == 200 and r.json["status"] == "called", r
    call = r.json["call"]
    assert call["override"] is True and call["override_reason"] == why, call
    assert call["position"] == 2 and call["passed_visit_id"] == a, call
    row = ctx.sql1("select called_by, override, override_reason, passed_visit_id, reason "
                   "from visit_calls where visit_id = %s", (b,))
    assert row["called_by"] == ctx.me and row["override"] and row["passed_visit_id"] == a, row
    assert ctx.is_pd(row["override_reason"]) and ctx.opened(row["override_reason"]) == why, row
    assert row["reason"]["code"] == "walk_in" and row["reason"]["position"] == 2, row
    # The one who is next needs no reason, and one given anyway makes no override.
    r = s.post("/api/visits/%d/call" % a, {"reason": "just because"})
    assert r.status == 200 and r.json["call"]["override"] is False, r
    assert r.json["call"]["override_reason"] is None, r


def test_erasing_the_customer_clears_the_reason_that_named_them(ctx):
    """The reason for calling someone out of turn is staff text that may name a customer: it goes
    when that customer is erased, not only at the retention term."""
    clear_floor(ctx)
    a = join(ctx, "Alice")
    r = ctx.client().post("/api/stores/%d/line" % ctx.paris,
                          {"name": "Zoé Erasme", "contact": "zoe.erasme@example.com"})
    assert r.status == 201, r
    z = r.json["visit_id"]
    s = ctx.staff("specialist")
    r = s.post("/api/visits/%d/call" % z, {"reason": "Zoé Erasme only collects her phone"})
    assert r.status == 200 and r.json["call"]["override"] is True, r
    r = s.post("/api/visits/%d/call" % a, {})
    assert r.status == 200, r
    r = ctx.staff("manager").post("/api/customers/erase",
                                  {"email": "zoe.erasme@example.com"})
    assert r.status == 200, r
    row = ctx.sql1("select override, override_reason, passed_visit_id from visit_calls "
                   "where visit_id = %s", (z,))
    assert row["override"] and row["override_reason"] is None and row["passed_visit_id"] == a, row
    # Another person's call is left as it was.
    assert ctx.sql1("select count(*) as n from visit_calls where visit_id = %s", (a,))["n"] == 1


def test_call_next_past_a_locked_first_person_is_in_turn(ctx):
    """Call next skips a person another caller holds (SKIP LOCKED): whoever it takes is the first
    one still callable, recorded at position 1 and in turn, not as position 2."""
    import psycopg2
    clear_floor(ctx)
    a = join(ctx, "Alice")
    b = join(ctx, "Bob")
    other = psycopg2.connect(ctx.url)
    try:
        with other.cursor() as cur:
            cur.execute("select id from visits where id = %s for update", (a,))
            r = ctx.staff("specialist").post("/api/stores/%d/queue/next" % ctx.paris, {})
            assert r.status == 200 and r.json["id"] == b, r
            call = r.json["call"]
            assert call["position"] == 1 and call["override"] is False, call
            assert call["reason"]["position"] == 1 and call["reason"]["passed_locked"] == 1, call
    finally:
        other.rollback()
        other.close()
    row = ctx.sql1("select position, override from visit_calls where visit_id = %s", (b,))
    assert row["position"] == 1 and not row["override"], row
    # Nobody held: the first in line, as before, with nothing passed over.
    r = ctx.staff("specialist").post("/api/stores/%d/queue/next" % ctx.paris, {})
    assert r.status == 200 and r.json["id"] == a, r
    assert r.json["call"]["position"] == 1 and "passed_locked" not in r.json["call"]["reason"], r


def test_who_may_not_call(ctx):
    clear_floor(ctx)
    join(ctx, "Alice")
    b = join(ctx, "Bob")
    before = snapshot(ctx)
    path = "/api/visits/%d/call" % b
    r = ctx.client().post(path, {"reason": "x"})
    assert r.status == 401, r
    r = ctx.staff("lyon").post(path, {"reason": "x"})
    assert r.status in (403, 404), r
    r = ctx.staff("tech").post(path, {"reason": "x"})
    assert r.status == 403, r
    r = ctx.staff("specialist").post("/api/visits/999999999/call", {"reason": "x"})
    assert r.status == 404 and r.error["field"] == "id", r
    for who in (None, "lyon", "tech"):
        c = ctx.client() if who is None else ctx.staff(who)
        r = c.get("/api/stores/%d/queue" % ctx.paris)
        assert r.status in (401, 403), (who, r)
    assert snapshot(ctx) == before


def test_report_counts_overrides_per_staff(ctx):
    clear_floor(ctx)
    ids = [join(ctx, n) for n in ("A", "B", "C", "D")]
    s = ctx.staff("specialist")
    assert s.post("/api/stores/%d/queue/next" % ctx.paris).status == 200          # A, in turn
    r = s.post("/api/visits/%d/call" % ids[3], {"reason": "came back for a cable"})  # D over B
    assert r.status == 200 and r.json["call"]["override"], r
    m = ctx.staff("manager")
    r = m.post("/api/visits/%d/call" % ids[1])                                   # B, in turn
    assert r.status == 200 and not r.json["call"]["override"], r
    # A call from the period before, to show beside it.
    ctx.sql("""insert into visit_calls (visit_id, store_id, called_by, specialist_id, position,
                                        reason, override, passed_visit_id, override_reason)
               values (%s, %s, %s, %s, 2, '{}', true, %s, 'old')""",
            (ids[2], ctx.paris, ctx.me, ctx.me, ids[0]))
    ctx.sql("update visit_calls set called_at = now() - interval '10 days' "
            "where override_reason = 'old'")
    manager = ctx.sql1("select id from staff where email = 'manager@carnet.test'")["id"]
    r = m.get("/api/stores/%d/reports/staff?days=7" % ctx.paris)
    assert r.status == 200, r
    by = {x["staff_id"]: x for x in r.json["staff"]}
    me = by[ctx.me]
    assert (me["calls"], me["overrides"], me["override_pct"]) == (2, 1, 50.0), me
    assert (me["previous"]["calls"], me["previous"]["overrides"]) == (1, 1), me
    assert me["previous"]["override_pct"] == 100.0, me
    mg = by[manager]
    assert (mg["calls"], mg["overrides"], mg["override_pct"]) == (1, 0, 0.0), mg
    tot = r.json["calls"]
    assert (tot["calls"], tot["overrides"], tot["override_pct"]) == (3, 1, 33.3), tot
    assert tot["previous"]["calls"] == 1, tot
    # The CSV carries the same columns.
    r = m.get("/api/stores/%d/reports/staff?days=7&format=csv" % ctx.paris)
    assert r.status == 200, r
    lines = r.raw.decode().split("\r\n")
    head = lines[0].split(",")
    assert head[7:10] == ["calls", "overrides", "override_pct"], head
    mine = [ln.split(",") for ln in lines if ln.startswith(str(ctx.me) + ",")][0]
    assert mine[7:10] == ["2", "1", "50.0"], mine
    # Not for a specialist, another store's manager, or anyone signed out.
    for who in (None, "specialist", "lyon"):
        c = ctx.client() if who is None else ctx.staff(who)
        r = c.get("/api/stores/%d/reports/staff" % ctx.paris)
        assert r.status in (401, 403), (who, r)
