"""The chain's set-up (server/store.c, schema/api/store.sql): admins create, edit, close and
reopen stores and see the chain's load today; a manager edits their store's name, address and
phone; managers edit, price and archive services; a closed store takes no new business, its
pending offers and self check-ins are refused, and it closes only once its bookings to come are
dealt with; its staff still pick it in the staff app."""
import datetime
import hashlib
import secrets

from harness import wait_for

HOURS = [{"weekday": d, "opens": "09:00", "closes": "19:00"} for d in range(1, 8)]


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    ctx.n = [0]


def _code(ctx):
    ctx.n[0] += 1
    return "test-store-%d" % ctx.n[0]


def _body(ctx, **kw):
    b = {"name": "Bordeaux Sainte-Catherine", "code": _code(ctx), "timezone": "Europe/Paris",
         "currency": "EUR", "lang": "fr", "address": "12 rue Sainte-Catherine, Bordeaux",
         "phone": "+33 5 56 00 00 00"}
    b.update(kw)
    return b


def _new_store(ctx, **kw):
    r = ctx.staff("admin").post("/api/stores", _body(ctx, **kw))
    assert r.status == 201, r
    return r.json


def _stores(ctx):
    return ctx.sql1("select count(*) as n from stores")["n"]


def _audits(ctx, action):
    return ctx.sql1("select count(*) as n from audit_log where action = %s", (action,))["n"]


def _row(ctx, store):
    return ctx.sql1("select code, name, timezone, currency, lang, address, phone, closed_at"
                    " from stores where id = %s", (store,))


# ---- POST /api/stores ----

def test_admin_creates_a_store_with_hours(ctx):
    before = _audits(ctx, "store.create")
    r = ctx.staff("admin").post("/api/stores", _body(ctx, name="Nantes", hours=HOURS[:5]))
    assert r.status == 201, r
    s = r.json
    assert s["name"] == "Nantes" and s["timezone"] == "Europe/Paris" and s["currency"] == "EUR"
    assert s["lang"] == "fr" and s["closed"] is False and s["closed_at"] is None
    assert s["address"].startswith("12 rue") and s["phone"] == "+33 5 56 00 00 00"
    assert [h["weekday"] for h in s["hours"]] == [1, 2, 3, 4, 5]
    assert _audits(ctx, "store.create") == before + 1
    # It is open, so the public list shows it, with its details.
    pub = {x["id"]: x for x in ctx.client().get("/api/stores").json}
    assert pub[s["id"]]["address"] == s["address"]
    detail = ctx.client().get("/api/stores/%d" % s["id"]).json
    assert len(detail["hours"]) == 5 and detail["closed"] is False


def test_create_defaults(ctx):
    r = ctx.staff("admin").post("/api/stores", {"name": "Lille", "code": _code(ctx),
                                                "timezone": "America/New_York", "currency": "USD"})
    assert r.status == 201, r
    assert r.json["lang"] == "en" and r.json["address"] == "" and r.json["hours"] == []


def test_create_bad_inputs_change_nothing(ctx):
    a = ctx.staff("admin")
    cases = [
        ({"timezone": "Mars/Olympus"}, "invalid", "timezone"),
        ({"timezone": "XYZ+3"}, "invalid", "timezone"),
        ({"code": "Bad Code"}, "invalid", "code"),
        ({"code": "x"}, "invalid", "code"),
        ({"currency": "eur"}, "invalid", "currency"),
        ({"currency": "EURO"}, "invalid", "currency"),
        ({"lang": "de"}, "invalid", "lang"),
        ({"name": "  "}, "invalid", "name"),
        ({"name": 12}, "invalid", "name"),
        ({"phone": "call me maybe"}, "invalid", "phone"),
        ({"address": "x" * 301}, "too_long", "address"),
        ({"closed": True}, "invalid", "closed"),
        ({"colour": "red"}, "invalid", "colour"),
        ({"hours": [{"weekday": 9, "opens": "09:00", "closes": "10:00"}]}, "invalid",
         "hours[0].weekday"),
    ]
    n = _stores(ctx)
    for change, code, field in cases:
        r = a.post("/api/stores", _body(ctx, **change))
        assert r.status == 422 and r.error["code"] == code and r.error["field"] == field, \
            (change, r)
    for missing in ("name", "code", "timezone", "currency"):
        b = _body(ctx)
        del b[missing]
        r = a.post("/api/stores", b)
        assert r.status == 422 and r.error["field"] == missing, (missing, r)
    r = a.post("/api/stores", raw=b"[]", headers={"Content-Type": "application/json"})
    assert r.status == 400, r
    assert _stores(ctx) == n


def test_create_code_taken(ctx):
    n = _stores(ctx)
    r = ctx.staff("admin").post("/api/stores", _body(ctx, code="paris-opera"))
    assert r.status == 409 and r.error["code"] == "code_taken" and r.error["field"] == "code", r
    assert _stores(ctx) == n


def test_only_admins_create_stores(ctx):
    n = _stores(ctx)
    r = ctx.client().post("/api/stores", _body(ctx))
    assert r.status == 401, r
    for who in ("manager", "lyon", "specialist", "tech"):
        r = ctx.staff(who).post("/api/stores", _body(ctx))
        assert r.status == 403, (who, r)
    assert _stores(ctx) == n


# ---- PATCH /api/stores/{store} ----

def test_admin_edits_every_field(ctx):
    s = _new_store(ctx)
    code = _code(ctx)
    r = ctx.staff("admin").patch("/api/stores/%d" % s["id"], {
        "name": "Bordeaux Centre", "code": code, "timezone": "Europe/London",
        "currency": "GBP", "lang": "en", "address": "1 Main St", "phone": "+44 20 0000 0000"})
    assert r.status == 200, r
    row = _row(ctx, s["id"])
    assert (row["name"], row["code"], row["timezone"], row["currency"], row["lang"]) == \
        ("Bordeaux Centre", code, "Europe/London", "GBP", "en")
    assert r.json["address"] == "1 Main St"


def test_manager_edits_name_address_phone_only(ctx):
    m = ctx.staff("manager")
    old = _row(ctx, ctx.paris)
    before = _audits(ctx, "store.update")
    r = m.patch("/api/stores/%d" % ctx.paris, {"name": "Paris Opéra", "address": "2 rue Auber",
                                               "phone": "01 23 45 67 89"})
    assert r.status == 200, r
    row = _row(ctx, ctx.paris)
    assert (row["name"], row["address"], row["phone"]) == ("Paris Opéra", "2 rue Auber",
                                                          "01 23 45 67 89")
    assert _audits(ctx, "store.update") == before + 1
    for field, value in (("code", "paris-2"), ("timezone", "Europe/London"), ("currency", "GBP"),
                         ("lang", "fr"), ("closed", True), ("hours", HOURS)):
        r = m.patch("/api/stores/%d" % ctx.paris, {"name": "Changed", field: value})
        assert r.status == 403 and r.error["code"] == "forbidden" and r.error["field"] == field, \
            (field, r)
    assert _row(ctx, ctx.paris) == row


def test_patch_bad_inputs_change_nothing(ctx):
    s = _new_store(ctx)
    a = ctx.staff("admin")
    row = _row(ctx, s["id"])
    for change, status, code, field in [
            ({"timezone": "Mars/Olympus"}, 422, "invalid", "timezone"),
            ({"currency": "12A"}, 422, "invalid", "currency"),
            ({"closed": "yes"}, 422, "invalid", "closed"),
            ({"name": ""}, 422, "invalid", "name"),
            ({"code": "lyon-part-dieu"}, 409, "code_taken", "code"),
            ({}, 422, "invalid", None)]:
        r = a.patch("/api/stores/%d" % s["id"], change)
        assert r.status == status and r.error["code"] == code and r.error.get("field") == field, \
            (change, r)
    assert _row(ctx, s["id"]) == row
    r = a.patch("/api/stores/999999", {"name": "X"})
    assert r.status == 404, r
    r = a.patch("/api/stores/abc", {"name": "X"})
    assert r.status == 404, r


def test_patch_who_may_not(ctx):
    row = _row(ctx, ctx.paris)
    r = ctx.client().patch("/api/stores/%d" % ctx.paris, {"name": "X"})
    assert r.status == 401, r
    for who in ("lyon", "specialist", "tech"):
        r = ctx.staff(who).patch("/api/stores/%d" % ctx.paris, {"name": "X"})
        assert r.status == 403, (who, r)
    assert _row(ctx, ctx.paris) == row


def test_close_and_reopen(ctx):
    s = _new_store(ctx, hours=HOURS)
    a = ctx.staff("admin")
    sv = a.post("/api/stores/%d/services" % s["id"],
                {"name": "Battery", "duration_min": 30, "skill": "repair"}).json
    closes = _audits(ctx, "store.close")
    r = a.patch("/api/stores/%d" % s["id"], {"closed": True})
    assert r.status == 200 and r.json["closed"] is True and r.json["closed_at"], r
    assert _audits(ctx, "store.close") == closes + 1
    assert s["id"] not in [x["id"] for x in ctx.client().get("/api/stores").json]
    assert ctx.client().get("/api/stores/%d" % s["id"]).json["closed"] is True
    # No new business: booking, walk-in line, standby, kiosk.
    c = ctx.client()
    day = str(ctx.store_today(s["id"]))
    refused = [
        c.post("/api/stores/%d/appointments" % s["id"],
               {"service_id": sv["id"], "starts_at": day + "T10:00:00+01:00", "name": "Camille",
                "email": "camille@example.com"}),
        c.post("/api/stores/%d/line" % s["id"], {"name": "Camille"}),
        c.post("/api/stores/%d/standby" % s["id"],
               {"service_id": sv["id"], "date": day, "name": "Camille",
                "email": "camille@example.com"}),
        c.post("/api/stores/%d/kiosk/checkin" % s["id"], {"code": "ABCDEF"}),
        # Nor slots to pick, whatever the query (the page shows why instead of a calendar).
        c.get("/api/stores/%d/availability?service=%d&from=%s&to=%s"
              % (s["id"], sv["id"], day, day)),
        c.get("/api/stores/%d/availability" % s["id"]),
    ]
    for r in refused:
        assert r.status == 409 and r.error["code"] == "store_closed", r
    assert ctx.sql1("select (select count(*) from appointments where store_id = %s)"
                    " + (select count(*) from visits where store_id = %s)"
                    " + (select count(*) from standby where store_id = %s) as n",
                    (s["id"], s["id"], s["id"]))["n"] == 0
    # Its staff still read it; closing twice keeps the first date.
    first = ctx.sql1("select closed_at from stores where id = %s",
                     (s["id"],))["closed_at"]
    assert a.patch("/api/stores/%d" % s["id"], {"closed": True}).status == 200
    assert _row(ctx, s["id"])["closed_at"] == first
    r = a.get("/api/stores/%d/services/all" % s["id"])
    assert r.status == 200 and len(r.json["services"]) == 1, r
    r = a.get("/api/stores/%d/appointments?date=%s" % (s["id"], day))
    assert r.status == 200, r
    r = a.get("/api/stores/%d" % s["id"])
    assert r.status == 200 and r.json["closed"] is True and len(r.json["hours"]) == 7, r
    # Reopened: back in the list, and the line takes people again.
    r = a.patch("/api/stores/%d" % s["id"], {"closed": False})
    assert r.status == 200 and r.json["closed"] is False, r
    assert _audits(ctx, "store.reopen") >= 1
    assert s["id"] in [x["id"] for x in ctx.client().get("/api/stores").json]
    r = c.post("/api/stores/%d/line" % s["id"], {"name": "Camille"})
    assert r.status == 201, r
    r = c.get("/api/stores/%d/availability?service=%d&from=%s&to=%s"
              % (s["id"], sv["id"], day, day))
    assert r.status == 200 and r.json["service_id"] == sv["id"], r


def _staffed_store(ctx, days=(2, 3)):
    """A new open store (every day 09:00-19:00) with a 'Repair' service and one technician on
    shift those days ahead (store-local dates). Returns (store, service, technician)."""
    s = _new_store(ctx, hours=HOURS)
    sv = ctx.staff("admin").post("/api/stores/%d/services" % s["id"],
                                 {"name": "Repair", "duration_min": 30, "skill": "repair"}).json
    tech = ctx.sql1("insert into staff (email, name, password_hash) values (%s, 'Tech', 'x')"
                    " returning id", ("t%s@carnet.test" % secrets.token_hex(6),))["id"]
    ctx.sql("insert into staff_roles values (%s, %s, 'technician')", (tech, s["id"]))
    ctx.sql("insert into staff_skills values (%s, %s, 'repair')", (tech, s["id"]))
    for d in days:
        ctx.sql("insert into shifts (store_id, staff_id, starts_at, ends_at) values (%s, %s,"
                " (%s::date + time '09:00') at time zone 'Europe/Paris',"
                " (%s::date + time '19:00') at time zone 'Europe/Paris')",
                (s["id"], tech, ctx.store_today(s["id"]) + datetime.timedelta(d),
                 ctx.store_today(s["id"]) + datetime.timedelta(d)))
    return s, sv, tech


def _day(ctx, store, days):
    return str(ctx.store_today(store) + datetime.timedelta(days))


def _book(ctx, store, service, day, hhmm, name="Camille"):
    r = ctx.client().post("/api/stores/%d/appointments" % store,
                          {"service_id": service, "starts_at": "%sT%s:00+01:00" % (day, hhmm),
                           "name": name, "email": "%s@example.com" % name.lower()})
    assert r.status == 201, r
    return r.json["appointment"]


def _appts(ctx, store, to_come=False):
    # to_come: only those still ahead; a past 'booked' one may turn 'no_show' at any moment
    # (job_mark_no_shows runs in the background), so a comparison over time must leave it out.
    return ctx.sql("select id, status, starts_at from appointments where store_id = %s"
                   + (" and starts_at > now()" if to_come else "") + " order by id", (store,))


def test_closing_with_bookings_to_come_is_refused_with_their_count(ctx):
    s, sv, _ = _staffed_store(ctx)
    a = ctx.staff("admin")
    _book(ctx, s["id"], sv["id"], _day(ctx, s["id"], 2), "10:00", "Anna")
    _book(ctx, s["id"], sv["id"], _day(ctx, s["id"], 3), "11:00", "Basile")
    # A booking whose time has passed is history, not a customer to come.
    t = ctx.store_noon(s["id"], -1)
    ctx.sql("insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
            " blocked_until, code, customer_name, customer_email) select %s, %s, staff_id,"
            " %s, %s + interval '30 minutes', %s + interval '30 minutes', 'PST234', 'x', 'x'"
            " from staff_roles where store_id = %s limit 1",
            (s["id"], sv["id"], t, t, t, s["id"]))
    before, closes = _appts(ctx, s["id"], to_come=True), _audits(ctx, "store.close")
    for body in ({"closed": True}, {"closed": True, "cancel_bookings": False}):
        r = a.patch("/api/stores/%d" % s["id"], body)
        assert r.status == 409 and r.error["code"] == "has_bookings", r
        assert r.error["field"] == "closed" and r.error["bookings"] == 2, r
    assert _row(ctx, s["id"])["closed_at"] is None
    assert _appts(ctx, s["id"], to_come=True) == before
    assert _audits(ctx, "store.close") == closes
    assert s["id"] in [x["id"] for x in ctx.client().get("/api/stores").json]
    # Moved out of the way by staff, the store closes.
    assert len(before) == 2, before
    for x in before:
        assert a.post("/api/stores/%d/appointments/%d/cancel" % (s["id"], x["id"])).status == 200
    r = a.patch("/api/stores/%d" % s["id"], {"closed": True})
    assert r.status == 200 and r.json["closed"] is True and r.json["cancelled_bookings"] == 0, r
    ctx.sql("delete from appointments where code = 'PST234'")


def test_closing_can_cancel_the_bookings_to_come_and_tell_the_customers(ctx):
    s, sv, _ = _staffed_store(ctx)
    a = ctx.staff("admin")
    b1 = _book(ctx, s["id"], sv["id"], _day(ctx, s["id"], 2), "10:00", "Anna")
    b2 = _book(ctx, s["id"], sv["id"], _day(ctx, s["id"], 3), "11:00", "Basile")
    # Someone waits on standby for a full day of this store: the freed slots go to no one.
    wid = ctx.sql1("insert into standby (store_id, service_id, day, name, initial, email,"
                   " email_bi, token_hash) values (%s, %s, %s, 'x', 'X', 'x@example.com',"
                   " 'bi-x', %s) returning id",
                   (s["id"], sv["id"], _day(ctx, s["id"], 2), secrets.token_hex(32)))["id"]
    ctx.sql("update stores set lang = 'en' where id = %s", (s["id"],))
    cancels = _audits(ctx, "cancel")
    r = a.patch("/api/stores/%d" % s["id"], {"closed": True, "cancel_bookings": True})
    assert r.status == 200 and r.json["closed"] is True and r.json["cancelled_bookings"] == 2, r
    assert {x["status"] for x in _appts(ctx, s["id"])} == {"cancelled"}
    assert _audits(ctx, "cancel") == cancels + 2
    sent = ctx.sql("select ref_id from outbox where kind = 'booking_cancelled'"
                   " and ref_type = 'appointment' and store_id = %s order by ref_id", (s["id"],))
    assert [x["ref_id"] for x in sent] == sorted([b1["id"], b2["id"]]), sent
    # The standby place ended with the store, and its customer is told why, once.
    ctx.sql("select job_expire_standby_offers(60)")
    assert ctx.sql1("select status from standby where store_id = %s", (s["id"],))["status"] \
        == "expired"
    told = ctx.sql("select channel, recipient, recipient_bi, locale, subject from outbox"
                   " where kind = 'standby_closed' and ref_type = 'standby' and ref_id = %s",
                   (wid,))
    assert told == [{"channel": "email", "recipient": "x@example.com", "recipient_bi": "bi-x",
                     "locale": "en", "subject": "%s has closed" % s["name"]}], told
    assert ctx.sql1("select count(*) as n from appointments where store_id = %s"
                    " and status = 'booked'", (s["id"],))["n"] == 0


def test_closing_ends_the_standby_list_and_tells_each_one_in_the_store_language(ctx):
    s, sv, _ = _staffed_store(ctx, days=())
    ctx.sql("update stores set lang = 'fr' where id = %s", (s["id"],))

    def place(day, status="waiting", email=None, phone=None):
        return ctx.sql1("insert into standby (store_id, service_id, day, name, initial, email,"
                        " phone, status, token_hash) values (%s, %s, %s, 'x', 'X', %s, %s, %s,"
                        " %s) returning id",
                        (s["id"], sv["id"], _day(ctx, s["id"], day), email, phone, status,
                         secrets.token_hex(32)))["id"]
    today = place(0, email="a@example.com")
    by_sms = place(3, phone="+33600000001")
    left = place(1, "left", email="b@example.com")
    past = place(-1, email="c@example.com")
    r = ctx.staff("admin").patch("/api/stores/%d" % s["id"], {"closed": True})
    assert r.status == 200 and r.json["cancelled_bookings"] == 0, r
    st = {x["id"]: x["status"] for x in
          ctx.sql("select id, status from standby where store_id = %s", (s["id"],))}
    # A day already past ended by itself; one who left stays left.
    assert st == {today: "expired", by_sms: "expired", left: "left", past: "waiting"}, st
    told = ctx.sql("select ref_id, channel, recipient, locale, subject, sms from outbox"
                   " where kind = 'standby_closed' and store_id = %s order by ref_id", (s["id"],))
    assert [(x["ref_id"], x["channel"], x["recipient"], x["locale"]) for x in told] == [
        (today, "email", "a@example.com", "fr"), (by_sms, "sms", "+33600000001", "fr")], told
    assert told[0]["subject"] == "%s a fermé" % s["name"], told
    assert _day(ctx, s["id"], 3) in told[1]["sms"], told
    # Closing again tells no one twice.
    n = ctx.sql1("select count(*) as n from outbox where store_id = %s", (s["id"],))["n"]
    assert ctx.staff("admin").patch("/api/stores/%d" % s["id"], {"closed": True}).status == 200
    assert ctx.sql1("select count(*) as n from outbox where store_id = %s",
                    (s["id"],))["n"] == n


def test_closing_a_store_without_standby_touches_nothing_else(ctx):
    s, sv, _ = _staffed_store(ctx)
    other, osv, _ = _staffed_store(ctx)
    # Another store's standby list is not this one's.
    wid = ctx.sql1("insert into standby (store_id, service_id, day, name, initial, email,"
                   " token_hash) values (%s, %s, %s, 'x', 'X', 'x@example.com', %s)"
                   " returning id", (other["id"], osv["id"], _day(ctx, other["id"], 2),
                                     secrets.token_hex(32)))["id"]
    outbox = ctx.sql1("select count(*) as n from outbox where store_id = %s", (s["id"],))["n"]
    r = ctx.staff("admin").patch("/api/stores/%d" % s["id"], {"closed": True})
    assert r.status == 200 and r.json["closed"] is True and r.json["cancelled_bookings"] == 0, r
    assert ctx.sql1("select count(*) as n from outbox where store_id = %s",
                    (s["id"],))["n"] == outbox
    assert ctx.sql1("select count(*) as n from standby where store_id = %s",
                    (s["id"],))["n"] == 0
    assert ctx.sql1("select status from standby where id = %s", (wid,))["status"] == "waiting"


def test_closing_bad_inputs_and_who_may_not(ctx):
    s, sv, _ = _staffed_store(ctx)
    _book(ctx, s["id"], sv["id"], _day(ctx, s["id"], 2), "10:00", "Anna")
    a = ctx.staff("admin")
    before = (_row(ctx, s["id"]), _appts(ctx, s["id"]))
    for body in ({"closed": True, "cancel_bookings": "yes"},
                 {"cancel_bookings": True},
                 {"closed": False, "cancel_bookings": True},
                 {"name": "Renamed", "cancel_bookings": True}):
        r = a.patch("/api/stores/%d" % s["id"], body)
        assert r.status == 422 and r.error["field"] == "cancel_bookings", (body, r)
    r = a.post("/api/stores", _body(ctx, cancel_bookings=True))
    assert r.status == 422 and r.error["field"] == "cancel_bookings", r
    # A manager of the store may not close it, let alone cancel its bookings.
    ctx.sql("insert into staff_roles select id, %s, 'manager' from staff"
            " where email = 'manager@carnet.test' on conflict do nothing", (s["id"],))
    r = ctx.staff("manager").patch("/api/stores/%d" % s["id"],
                                   {"closed": True, "cancel_bookings": True})
    assert r.status == 403, r
    assert (_row(ctx, s["id"]), _appts(ctx, s["id"])) == before
    # Already closed: cancel_bookings has nothing to go with.
    ctx.sql("update appointments set status = 'cancelled' where store_id = %s", (s["id"],))
    assert a.patch("/api/stores/%d" % s["id"], {"closed": True}).status == 200
    r = a.patch("/api/stores/%d" % s["id"], {"closed": True, "cancel_bookings": True})
    assert r.status == 422 and r.error["field"] == "cancel_bookings", r


def test_an_offer_made_before_closing_cannot_be_claimed_after(ctx):
    s, sv, tech = _staffed_store(ctx, days=())
    day = _day(ctx, s["id"], 2)
    start = ctx.sql1("select (%s::date + time '10:00') at time zone 'Europe/Paris' as t",
                     (day,))["t"]
    ctx.sql("insert into shifts (store_id, staff_id, starts_at, ends_at)"
            " values (%s, %s, %s, %s + interval '30 minutes')", (s["id"], tech, start, start))
    full = _book(ctx, s["id"], sv["id"], day, "10:00", "Full")
    r = ctx.client().post("/api/stores/%d/standby" % s["id"],
                          {"service_id": sv["id"], "date": day, "name": "Anna",
                           "email": "anna@example.com"})
    assert r.status == 201, r
    token = r.json["token"]
    # The day's booking is cancelled: the slot is offered to Anna (by the job, here or carnetd's).
    assert ctx.staff("admin").post("/api/stores/%d/appointments/%d/cancel"
                                   % (s["id"], full["id"])).status == 200
    ctx.sql("select job_expire_standby_offers(600)")
    wait_for(lambda: ctx.client().get("/api/standby/" + token).json["status"] == "offered",
             "the standby offer")
    # The held slot is no customer's booking yet: the store closes without cancel_bookings,
    # and the offer ends with it: its placeholder is cancelled and Anna is told why.
    placeholder = ctx.sql1("select offered_appointment_id as id from standby where store_id = %s",
                           (s["id"],))["id"]
    r = ctx.staff("admin").patch("/api/stores/%d" % s["id"], {"closed": True})
    assert r.status == 200 and r.json["cancelled_bookings"] == 0, r
    assert ctx.client().get("/api/standby/" + token).json["status"] == "expired"
    assert ctx.sql1("select status from appointments where id = %s",
                    (placeholder,))["status"] == "cancelled"
    told = ctx.sql("select recipient from outbox where kind = 'standby_closed'"
                   " and store_id = %s", (s["id"],))
    assert len(told) == 1, told
    before = ctx.sql("select status, offered_appointment_id from standby where store_id = %s",
                     (s["id"],))
    held = _appts(ctx, s["id"])
    outbox = ctx.sql1("select count(*) as n from outbox where store_id = %s", (s["id"],))["n"]
    r = ctx.client().post("/api/standby/%s/claim" % token)
    assert r.status == 409 and r.error["code"] == "store_closed" and r.error["field"] == "store", r
    assert ctx.sql("select status, offered_appointment_id from standby where store_id = %s",
                   (s["id"],)) == before
    assert _appts(ctx, s["id"]) == held
    assert ctx.sql1("select count(*) as n from outbox where store_id = %s",
                    (s["id"],))["n"] == outbox
    # Reopened: the ended offer stays ended, and the slot is not given to anyone by itself.
    assert ctx.staff("admin").patch("/api/stores/%d" % s["id"], {"closed": False}).status == 200
    r = ctx.client().post("/api/standby/%s/claim" % token)
    assert r.status == 409 and r.error["code"] == "not_offered", r
    assert _appts(ctx, s["id"]) == held


def test_self_checkin_by_manage_link_is_refused_at_a_closed_store(ctx):
    s, sv, tech = _staffed_store(ctx, days=())
    # Started five minutes ago: inside the check-in window, and no booking "to come", so the
    # store closes without cancelling it.
    a = ctx.sql1("insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
                 " blocked_until, code, customer_name, customer_email) values (%s, %s, %s,"
                 " now() - interval '5 minutes', now() + interval '25 minutes',"
                 " now() + interval '25 minutes', 'CHK234', 'x', 'booked@example.com')"
                 " returning id", (s["id"], sv["id"], tech))["id"]
    token = secrets.token_urlsafe(32)
    ctx.sql("insert into appointment_tokens (token_hash, appointment_id, purpose, expires_at)"
            " values (%s, %s, 'manage', now() + interval '1 day')",
            (hashlib.sha256(token.encode()).hexdigest(), a))
    assert ctx.staff("admin").patch("/api/stores/%d" % s["id"], {"closed": True}).status == 200
    r = ctx.client().post("/api/checkin/" + token)
    assert r.status == 409 and r.error["code"] == "store_closed" and r.error["field"] == "store", r
    assert ctx.sql1("select status from appointments where id = %s", (a,))["status"] == "booked"
    assert ctx.sql1("select count(*) as n from visits where store_id = %s", (s["id"],))["n"] == 0
    # Nor may the customer move it to a new time; cancelling it stays possible.
    r = ctx.client().post("/api/manage/%s/reschedule" % token,
                          {"starts_at": "%sT10:00:00+01:00" % _day(ctx, s["id"], 2)})
    assert r.status == 409 and r.error["code"] == "store_closed", r
    # The desk, staff in the store, still checks them in.
    r = ctx.staff("admin").post("/api/stores/%d/checkin" % s["id"], {"code": "CHK234"})
    assert r.status == 200, r
    ctx.sql("delete from visits where store_id = %s", (s["id"],))
    ctx.sql("delete from appointments where id = %s", (a,))


# ---- GET /api/auth/stores ----

def test_staff_stores_include_closed_ones(ctx):
    s = _new_store(ctx, name="Closed For Staff")
    ctx.sql("insert into staff_roles select id, %s, 'specialist' from staff"
            " where email = 'specialist@carnet.test'", (s["id"],))
    assert ctx.staff("admin").patch("/api/stores/%d" % s["id"], {"closed": True}).status == 200
    assert s["id"] not in [x["id"] for x in ctx.client().get("/api/stores").json]
    r = ctx.staff("specialist").get("/api/auth/stores")
    assert r.status == 200, r
    by_id = {x["id"]: x for x in r.json}
    assert by_id[s["id"]]["closed"] is True and by_id[s["id"]]["name"] == "Closed For Staff"
    assert by_id[ctx.paris]["closed"] is False and by_id[ctx.paris]["timezone"] == "Europe/Paris"
    assert ctx.lyon not in by_id
    # Open stores first, so the picker's first choice is one that works.
    assert r.json[-1]["closed"] is True and r.json[0]["closed"] is False
    # Only one's own stores; an admin gets every one.
    assert s["id"] not in [x["id"] for x in ctx.staff("lyon").get("/api/auth/stores").json]
    assert [x["id"] for x in ctx.staff("lyon").get("/api/auth/stores").json] == [ctx.lyon]
    every = ctx.sql("select id from stores")
    r = ctx.staff("admin").get("/api/auth/stores")
    assert sorted(x["id"] for x in r.json) == sorted(x["id"] for x in every), r
    assert ctx.client().get("/api/auth/stores").status == 401
    ctx.sql("delete from staff_roles where store_id = %s", (s["id"],))


# ---- GET /api/chain ----

def test_chain_lists_every_store_with_today(ctx):
    s = _new_store(ctx, name="Zz Closed")
    ctx.staff("admin").patch("/api/stores/%d" % s["id"], {"closed": True})
    ctx.client().post("/api/stores/%d/line" % ctx.lyon, {"name": "Walk In"})
    r = ctx.staff("admin").get("/api/chain")
    assert r.status == 200, r
    by_id = {x["id"]: x for x in r.json["stores"]}
    assert {ctx.paris, ctx.lyon, s["id"]} <= set(by_id)
    assert by_id[s["id"]]["closed"] is True and by_id[ctx.paris]["closed"] is False
    # Closed stores come last.
    assert r.json["stores"][-1]["closed"] is True
    lyon = by_id[ctx.lyon]
    want = ctx.sql1(
        "select (select count(*) from visits where store_id = %(s)s and status = 'waiting'"
        "         and day = (now() at time zone 'Europe/Paris')::date) as waiting,"
        " (select count(*) from repair_orders r join repair_states rs using (state)"
        "   where r.store_id = %(s)s and not rs.terminal) as open_repairs,"
        " (select count(*) from appointments where store_id = %(s)s and status <> 'cancelled'"
        "   and (starts_at at time zone 'Europe/Paris')::date"
        "       = (now() at time zone 'Europe/Paris')::date) as appointments",
        {"s": ctx.lyon})
    assert lyon["waiting"] >= 1
    for k in ("waiting", "open_repairs", "appointments"):
        assert lyon[k] == want[k], (k, lyon, want)
    paris = by_id[ctx.paris]
    for k in ("appointments", "appointments_to_come", "waiting", "served", "open_repairs"):
        assert isinstance(paris[k], int) and paris[k] >= 0, (k, paris)
    assert paris["appointments_to_come"] <= paris["appointments"]
    assert paris["today"] == str(ctx.store_today(ctx.paris))


def test_chain_is_for_admins(ctx):
    assert ctx.client().get("/api/chain").status == 401
    for who in ("manager", "lyon", "specialist", "tech"):
        r = ctx.staff(who).get("/api/chain")
        assert r.status == 403, (who, r)


# ---- services ----

def _service(ctx, store, **kw):
    body = {"name": "Svc %d" % ctx.n[0], "duration_min": 30, "skill": "repair"}
    ctx.n[0] += 1
    body.update(kw)
    r = ctx.staff("admin").post("/api/stores/%d/services" % store, body)
    assert r.status == 201, r
    return r.json


def _svc_row(ctx, sid):
    return ctx.sql1("select name, duration_min, buffer_min, skill, price_minor, description,"
                    " active from services where id = %s", (sid,))


def test_add_service_with_price_and_description(ctx):
    r = ctx.staff("manager").post("/api/stores/%d/services" % ctx.paris, {
        "name": "Screen swap", "duration_min": 45, "skill": "repair", "price_minor": 8900,
        "description": "Original-quality screen, 6 months warranty"})
    assert r.status == 201, r
    assert r.json["price_minor"] == 8900 and r.json["currency"] == "EUR"
    assert r.json["description"].startswith("Original") and r.json["active"] is True
    pub = {x["id"]: x for x in ctx.client().get("/api/stores/%d/services" % ctx.paris).json}
    assert pub[r.json["id"]]["price_minor"] == 8900
    n = ctx.sql1("select count(*) as n from services")["n"]
    for bad, field in (({"price_minor": -1}, "price_minor"), ({"price_minor": 1.5}, "price_minor"),
                       ({"description": "x" * 501}, "description"),
                       ({"duration_min": 4}, "duration_min")):
        body = {"name": "Bad one", "duration_min": 30, "skill": "repair"}
        body.update(bad)
        r = ctx.staff("manager").post("/api/stores/%d/services" % ctx.paris, body)
        assert r.status == 422 and r.error["field"] == field, (bad, r)
    assert ctx.sql1("select count(*) as n from services")["n"] == n


def test_manager_edits_a_service(ctx):
    sv = _service(ctx, ctx.paris)
    before = _audits(ctx, "service.update")
    r = ctx.staff("manager").patch("/api/stores/%d/services/%d" % (ctx.paris, sv["id"]), {
        "name": "Battery swap", "duration_min": 40, "buffer_min": 10, "price_minor": 4900,
        "description": "While you wait", "skill": "diagnostics"})
    assert r.status == 200, r
    assert r.json["price_minor"] == 4900 and r.json["currency"] == "EUR"
    row = _svc_row(ctx, sv["id"])
    assert (row["name"], row["duration_min"], row["buffer_min"], row["price_minor"],
            row["description"], row["skill"]) == ("Battery swap", 40, 10, 4900, "While you wait",
                                                  "diagnostics")
    assert _audits(ctx, "service.update") == before + 1
    # null removes the price.
    r = ctx.staff("manager").patch("/api/stores/%d/services/%d" % (ctx.paris, sv["id"]),
                                   {"price_minor": None})
    assert r.status == 200 and r.json["price_minor"] is None, r


def test_service_bad_inputs_change_nothing(ctx):
    sv = _service(ctx, ctx.paris)
    other = _service(ctx, ctx.paris)
    m = ctx.staff("manager")
    row = _svc_row(ctx, sv["id"])
    path = "/api/stores/%d/services/%d" % (ctx.paris, sv["id"])
    for change, status, code, field in [
            ({"price_minor": -100}, 422, "invalid", "price_minor"),
            ({"price_minor": "12"}, 422, "invalid", "price_minor"),
            ({"duration_min": 4}, 422, "invalid", "duration_min"),
            ({"duration_min": 481}, 422, "invalid", "duration_min"),
            ({"buffer_min": 241}, 422, "invalid", "buffer_min"),
            ({"description": "x" * 501}, 422, "too_long", "description"),
            ({"skill": "Repair!"}, 422, "invalid", "skill"),
            ({"active": "no"}, 422, "invalid", "active"),
            ({"name": ""}, 422, "invalid", "name"),
            ({"colour": "red"}, 422, "invalid", "colour"),
            ({"name": other["name"]}, 409, "exists", "name"),
            ({}, 422, "invalid", None)]:
        r = m.patch(path, change)
        assert r.status == status and r.error["code"] == code and r.error.get("field") == field, \
            (change, r)
    assert _svc_row(ctx, sv["id"]) == row
    lyon_sv = ctx.sql1("select id from services where store_id = %s limit 1", (ctx.lyon,))["id"]
    r = m.patch("/api/stores/%d/services/%d" % (ctx.paris, lyon_sv), {"name": "Mine now"})
    assert r.status == 404 and r.error["code"] == "not_found", r
    r = m.patch("/api/stores/%d/services/999999" % ctx.paris, {"name": "X"})
    assert r.status == 404, r


def test_service_who_may_not(ctx):
    sv = _service(ctx, ctx.paris)
    row = _svc_row(ctx, sv["id"])
    path = "/api/stores/%d/services/%d" % (ctx.paris, sv["id"])
    assert ctx.client().patch(path, {"name": "X"}).status == 401
    for who in ("lyon", "specialist", "tech"):
        r = ctx.staff(who).patch(path, {"name": "X"})
        assert r.status == 403, (who, r)
    # A Lyon manager on a Paris service through the Lyon path: not found there.
    r = ctx.staff("lyon").patch("/api/stores/%d/services/%d" % (ctx.lyon, sv["id"]), {"name": "X"})
    assert r.status == 404, r
    assert _svc_row(ctx, sv["id"]) == row
    assert ctx.client().get("/api/stores/%d/services/all" % ctx.paris).status == 401
    assert ctx.staff("lyon").get("/api/stores/%d/services/all" % ctx.paris).status == 403


def test_archive_keeps_bookings_and_hides_from_booking(ctx):
    sv = _service(ctx, ctx.paris, price_minor=1000)
    staff_id = ctx.sql1("select id from staff where email = 'tech@carnet.test'")["id"]
    t = ctx.store_noon(ctx.paris, 3)
    ctx.sql("insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
            " blocked_until, code, customer_name, customer_email) values (%s, %s, %s, %s,"
            " %s + interval '30 minutes', %s + interval '30 minutes', 'ARC234', 'x', 'x')",
            (ctx.paris, sv["id"], staff_id, t, t, t))
    m = ctx.staff("manager")
    r = m.patch("/api/stores/%d/services/%d" % (ctx.paris, sv["id"]), {"active": False})
    assert r.status == 200 and r.json["active"] is False, r
    pub = [x["id"] for x in ctx.client().get("/api/stores/%d/services" % ctx.paris).json]
    assert sv["id"] not in pub
    r = ctx.client().get("/api/stores/%d/availability?service=%d&from=%s&to=%s" % (
        ctx.paris, sv["id"], ctx.store_today(ctx.paris), ctx.store_today(ctx.paris)))
    assert r.status == 404, r
    # The booking keeps it, and the day's list still names it.
    assert ctx.sql1("select service_id from appointments where code = 'ARC234'")["service_id"] \
        == sv["id"]
    day = ctx.sql1("select (starts_at at time zone 'Europe/Paris')::date as d from appointments"
                   " where code = 'ARC234'")["d"]
    r = m.get("/api/stores/%d/appointments?date=%s" % (ctx.paris, day))
    assert r.status == 200, r
    assert sv["name"] in r.raw.decode(), r
    # Staff see it to bring it back.
    allsv = {x["id"]: x for x in m.get("/api/stores/%d/services/all" % ctx.paris).json["services"]}
    assert allsv[sv["id"]]["active"] is False and allsv[sv["id"]]["price_minor"] == 1000
    r = m.patch("/api/stores/%d/services/%d" % (ctx.paris, sv["id"]), {"active": True})
    assert r.status == 200 and r.json["active"] is True, r
    pub = [x["id"] for x in ctx.client().get("/api/stores/%d/services" % ctx.paris).json]
    assert sv["id"] in pub
    ctx.sql("delete from appointments where code = 'ARC234'")


def test_services_all_for_specialists(ctx):
    r = ctx.staff("specialist").get("/api/stores/%d/services/all" % ctx.paris)
    assert r.status == 200 and r.json["currency"] == "EUR" and r.json["services"], r
