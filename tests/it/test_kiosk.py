"""The kiosk at a store's door (POST /api/stores/{store}/kiosk/checkin, server/kiosk.c,
schema/api/kiosk.sql): self check-in by confirmation code, QR token, or name and phone; the
store's check-in window; one neutral answer to every miss; the per-address throttle; and the
walk-in join the kiosk page sends."""
import secrets

from test_floor_checkin import appointment

PHONE = "+33 6 12 34 56 78"
KEYS = {"ticket", "first_name", "status", "position", "ahead", "wait_s", "store_name",
        "already_checked_in"}


def setup(ctx):
    ctx.seed_demo()
    ctx._server = ctx.start_carnetd(args=["--no-jobs"])
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]


def clear(ctx):
    ctx.sql("delete from visits")
    ctx.sql("delete from appointment_tokens")
    ctx.sql("delete from appointments")
    ctx.sql("delete from floor_settings")
    ctx.sql("delete from kiosk_attempts")


def soon(ctx, store=None, **kw):
    """A booking inside the check-in window and on the store's local today, whatever the hour
    (the kiosk looks a code up among today's bookings only)."""
    store = store or ctx.paris
    return appointment(ctx, starts_at=ctx.checkin_soon(store), store=store, **kw)


def today(ctx, ts, store=None):
    return ctx.sql1("select (%s::timestamptz at time zone timezone)::date"
                    " = (now() at time zone timezone)::date as t from stores where id = %s",
                    (ts, store or ctx.paris))["t"]


def url(ctx, store=None):
    return "/api/stores/%s/kiosk/checkin" % (store or ctx.paris)


def with_phone(ctx, a, phone=PHONE):
    ctx.sql("update appointments set customer_phone = %s, customer_phone_bi = %s where id = %s",
            (phone, ctx.blind("phone", phone.replace(" ", "")), a["id"]))
    return a


def state(ctx):
    return (ctx.sql("select id, status, checked_in_at from appointments order by id"),
            ctx.sql("select id, status, ticket from visits order by id"))


def attempts(ctx):
    return ctx.sql1("select count(*) as n from kiosk_attempts")["n"]


def test_checkin_by_code(ctx):
    clear(ctx)
    a = soon(ctx)
    r = ctx.client().post(url(ctx), {"code": " %s " % a["code"].lower()})
    assert r.status == 200, r
    assert set(r.json) == KEYS, r.json
    assert r.json["first_name"] == "Hélène" and r.json["ticket"] >= 1, r.json
    assert r.json["position"] == 1 and r.json["status"] == "waiting", r.json
    assert r.json["already_checked_in"] is False
    row = ctx.sql1("select status, checked_in_at from appointments where id = %s", (a["id"],))
    assert row["status"] == "checked_in" and row["checked_in_at"], row
    v = ctx.sql1("select kind, ticket, appointment_id from visits")
    assert v["kind"] == "booked" and v["ticket"] == r.json["ticket"], v
    # A check-in that succeeded leaves no attempt to count against the kiosk.
    assert attempts(ctx) == 0


def test_already_checked_in_is_idempotent(ctx):
    clear(ctx)
    a = soon(ctx)
    first = ctx.client().post(url(ctx), {"code": a["code"]})
    assert first.status == 200, first
    before = state(ctx)
    again = ctx.client().post(url(ctx), {"code": a["code"]})
    assert again.status == 200, again
    assert again.json["ticket"] == first.json["ticket"], (first, again)
    assert again.json["already_checked_in"] is True, again
    assert state(ctx) == before
    # Also when the desk checked them in.
    b = soon(ctx, name="Desk Done")
    s = ctx.staff("specialist")
    desk = s.post("/api/stores/%d/checkin" % ctx.paris, {"code": b["code"]})
    assert desk.status == 200, desk
    r = ctx.client().post(url(ctx), {"code": b["code"]})
    assert r.status == 200 and r.json["ticket"] == desk.json["visit"]["ticket"], r
    assert r.json["already_checked_in"] is True


def test_checkin_by_name_and_phone(ctx):
    clear(ctx)
    a = with_phone(ctx, soon(ctx))
    c = ctx.client()
    # A name or phone that does not match: the neutral answer, nothing changes.
    before = state(ctx)
    for body in ({"name": "Marie", "phone": PHONE}, {"name": "Hélène", "phone": "+33 6 00 00 00 00"},
                 {"name": "Booked", "phone": PHONE}, {"name": "Hél", "phone": PHONE}):
        r = c.post(url(ctx), body)
        assert r.status == 404 and r.error["code"] == "no_match", (body, r)
    assert state(ctx) == before
    # The first name (any case, accents included) or the whole name, the phone as typed.
    r = c.post(url(ctx), {"name": "  HÉLÈNE ", "phone": "+33-6-12-34-56-78"})
    assert r.status == 200 and r.json["first_name"] == "Hélène", r
    assert ctx.sql1("select status from appointments where id = %s", (a["id"],))["status"] == \
        "checked_in"
    b = with_phone(ctx, soon(ctx, name="Zoé Martin"),
                   "+33700000001")
    r = c.post(url(ctx), {"name": "zoé martin", "phone": "+33 7 00 00 00 01"})
    assert r.status == 200 and r.json["first_name"] == "Zoé", r
    assert ctx.sql1("select status from appointments where id = %s", (b["id"],))["status"] == \
        "checked_in"


def test_name_and_phone_only_for_today(ctx):
    clear(ctx)
    with_phone(ctx, appointment(ctx, starts_at=ctx.store_noon(ctx.paris, 1)))
    before = state(ctx)
    r = ctx.client().post(url(ctx), {"name": "Hélène", "phone": PHONE})
    assert r.status == 404 and r.error["code"] == "no_match", r
    assert state(ctx) == before


def test_checkin_by_qr_token(ctx):
    clear(ctx)
    a = soon(ctx)
    r = ctx.client().post(url(ctx), {"token": a["token"]})
    assert r.status == 200 and r.json["position"] == 1, r
    assert ctx.sql1("select status from appointments where id = %s", (a["id"],))["status"] == \
        "checked_in"
    r = ctx.client().post(url(ctx), {"token": "not a link"})
    assert r.status == 404 and r.error["code"] == "no_match", r
    r = ctx.client().post(url(ctx), {"token": secrets.token_urlsafe(32)})
    assert r.status == 404 and r.error["code"] == "no_match", r


def test_outside_the_window(ctx):
    """Too early or too late by the store's window (at the desk: 30 minutes before, 15 after),
    when the booking is today; a booking of another day is no match at the kiosk."""
    clear(ctx)
    ctx.sql("insert into floor_settings (store_id, checkin_early_min) values (%s, 5)", (ctx.paris,))
    early = appointment(ctx, 20)
    late = appointment(ctx, -60, name="Late Comer")
    tomorrow = appointment(ctx, starts_at=ctx.store_noon(ctx.paris, 1), name="Tomorrow")
    before = state(ctx)
    r = ctx.client().post(url(ctx), {"code": early["code"]})
    if today(ctx, ctx.sql1("select starts_at from appointments where id = %s",
                           (early["id"],))["starts_at"]):
        assert r.status == 409 and r.error["code"] == "too_early" and r.error.get("opens_at"), r
    else:
        assert r.status == 404 and r.error["code"] == "no_match", r
    r = ctx.client().post(url(ctx), {"code": late["code"]})
    if today(ctx, ctx.sql1("select starts_at from appointments where id = %s",
                           (late["id"],))["starts_at"]):
        assert r.status == 409 and r.error["code"] == "too_late", r
    else:
        assert r.status == 404 and r.error["code"] == "no_match", r
    r = ctx.client().post(url(ctx), {"code": tomorrow["code"]})
    assert r.status == 404 and r.error["code"] == "no_match", r
    # The manage link's QR code finds its booking whatever the day: its holder hears why.
    r = ctx.client().post(url(ctx), {"token": tomorrow["token"]})
    assert r.status == 409 and r.error["code"] == "too_early", r
    assert state(ctx) == before


def test_misses_get_one_answer(ctx):
    """An unknown code, another store's booking, a cancelled or finished one, a wrong name:
    the same status and body, and nothing changes: the kiosk tells nothing of other bookings."""
    clear(ctx)
    lyon = soon(ctx, store=ctx.lyon)
    cancelled = soon(ctx, status="cancelled")
    done = soon(ctx, status="done")
    with_phone(ctx, soon(ctx))
    before = state(ctx)
    c = ctx.client()
    bodies = [{"code": "ZZZZZZ"}, {"code": lyon["code"]}, {"code": cancelled["code"]},
              {"code": done["code"]}, {"token": lyon["token"]}, {"token": secrets.token_urlsafe(32)},
              {"name": "Nobody", "phone": PHONE}, {"name": "Hélène", "phone": "+44 20 0000 0000"}]
    answers = set()
    for body in bodies:
        r = c.post(url(ctx), body)
        assert r.status == 404, (body, r)
        answers.add(r.raw)
    assert len(answers) == 1, answers
    err = list(answers)[0].decode()
    for word in ("Hélène", "Lyon", "cancel", "done", lyon["code"]):
        assert word not in err, err
    assert state(ctx) == before
    # Lyon's own kiosk checks the Lyon booking in.
    r = c.post(url(ctx, ctx.lyon), {"code": lyon["code"]})
    assert r.status == 200, r


def test_bad_inputs(ctx):
    clear(ctx)
    soon(ctx)
    before = state(ctx)
    c = ctx.client()
    cases = [({}, 422, "code"), ({"code": "12"}, 422, "code"), ({"code": 123456}, 422, "code"),
             ({"code": "ABCDEFGHIJKLMNOPQ"}, 422, "code"), ({"code": "ABC1EF"}, 422, "code"),
             ({"name": "Hélène"}, 422, "phone"), ({"phone": PHONE}, 422, "name"),
             ({"name": "   ", "phone": PHONE}, 422, "name"),
             ({"name": "Hélène", "phone": "0612345678"}, 422, "phone"),
             ({"name": "x" * 101, "phone": PHONE}, 422, "name"),
             ({"name": "Hélène", "phone": 33612345678}, 422, "phone"),
             ({"token": 12}, 422, "token")]
    for body, status, field in cases:
        r = c.post(url(ctx), body)
        assert r.status == status and r.error["code"] == "invalid" and \
            r.error["field"] == field, (body, r)
    r = c.post(url(ctx, 999999), {"code": "ABCDEF"})
    assert r.status == 404 and r.error["code"] == "not_found" and r.error["field"] == "store", r
    r = c.post("/api/stores/paris/kiosk/checkin", {"code": "ABCDEF"})
    assert r.status == 404, r
    r = c.post(url(ctx), raw=b"[1]", headers={"Content-Type": "application/json"})
    assert r.status == 400, r
    r = c.post(url(ctx))
    assert r.status == 400, r
    assert state(ctx) == before
    # Refused inputs are no guesses: nothing counts against the kiosk.
    assert attempts(ctx) == 0


def test_rate_limit_then_recovery(ctx):
    clear(ctx)
    a = soon(ctx)
    c = ctx.client()
    for i in range(10):
        r = c.post(url(ctx), {"code": "ZZZZZ%s" % "23456789AB"[i]})
        assert r.status == 404 and r.error["code"] == "no_match", (i, r)
    before = state(ctx)
    r = c.post(url(ctx), {"code": "ZZZZZC"})
    assert r.status == 429 and r.error["code"] == "rate_limited", r
    retry = int(r.header("Retry-After"))
    assert 1 <= retry <= 60 and r.error["retry_after"] == retry, r
    # Even the right code waits: a guesser cannot tell a hit during the wait.
    r = c.post(url(ctx), {"code": a["code"]})
    assert r.status == 429, r
    r = c.post(url(ctx), {"name": "Hélène", "phone": PHONE})
    assert r.status == 429, r
    assert state(ctx) == before
    assert attempts(ctx) == 10, "a refused try is not recorded"
    # Another address is not held back, nor is this address at another store.
    other = ctx.client()
    other.source = "127.0.0.2"
    r = other.post(url(ctx), {"code": "ZZZZZD"})
    assert r.status == 404 and r.error["code"] == "no_match", r
    r = c.post(url(ctx, ctx.lyon), {"code": "ZZZZZD"})
    assert r.status == 404 and r.error["code"] == "no_match", r
    # Once the minute has passed, the kiosk works again.
    ctx.sql("update kiosk_attempts set at = at - interval '61 seconds'")
    r = c.post(url(ctx), {"code": a["code"]})
    assert r.status == 200, r


def test_rate_limit_across_stores(ctx):
    clear(ctx)
    c = ctx.client()
    c.source = "127.0.0.3"
    ctx.sql("insert into kiosk_attempts (store_id, address)"
            " select %s, '127.0.0.3' from generate_series(1, 30)", (ctx.lyon,))
    r = c.post(url(ctx), {"code": "ZZZZZZ"})
    assert r.status == 429 and r.error["code"] == "rate_limited", r
    ctx.sql("delete from kiosk_attempts")
    r = c.post(url(ctx), {"code": "ZZZZZZ"})
    assert r.status == 404, r


def test_success_shows_only_the_first_name(ctx):
    clear(ctx)
    a = with_phone(ctx, soon(ctx, name="Jean-Paul Sartre"))
    r = ctx.client().post(url(ctx), {"code": a["code"]})
    assert r.status == 200 and r.json["first_name"] == "Jean-Paul", r
    text = r.raw.decode()
    for word in ("Sartre", "booked@example.com", "612345678", a["code"], str(a["id"])):
        assert word not in text, (word, text)


def test_walk_in_join_from_the_kiosk(ctx):
    """What the kiosk page sends to join the line: a name, what it is about (problem), an
    optional serial. The join is floor_join_line's (test_floor.py covers it)."""
    clear(ctx)
    r = ctx.client().post("/api/stores/%d/line" % ctx.paris,
                          {"name": "Walk In", "problem": "the screen flickers"})
    assert r.status == 201 and r.json["ticket"] >= 1 and r.json["position"] == 1, r
    r = ctx.client().post("/api/stores/%d/line" % ctx.paris,
                          {"name": "Walk In", "serial": "!!", "problem": "x"})
    assert r.status == 422 and r.error["field"] == "serial", r


def test_attempts_are_kept_an_hour(ctx):
    """The throttle counts a minute; the retention job deletes attempts (with the client's
    address) once they are an hour old."""
    clear(ctx)
    ctx.sql("insert into kiosk_attempts (store_id, address, at) values"
            " (%s, '10.1.1.1', now() - interval '61 minutes'),"
            " (%s, '10.1.1.2', now() - interval '59 minutes')", (ctx.paris, ctx.paris))
    ctx.sql("select job_retention(7, 1, 1800, 30, 7)")
    left = ctx.sql("select address from kiosk_attempts")
    assert [r["address"] for r in left] == ["10.1.1.2"], left
