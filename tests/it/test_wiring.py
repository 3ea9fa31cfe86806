"""The domains keep each other's promises: booking, floor and repair events reach the customer
through the outbox (once, in the same transaction, nothing for a refused request), promises are
watched and resolved, surveys offered; customers write from the links they already hold; the
device's health record shows its appointments and visits, and its chain still verifies."""
import datetime
import hashlib
import re
import secrets

from harness import Client, wait_for

PW = "carnet-demo"
# Open round the clock, so a slot a few minutes ahead always exists for the check-in tests.
HOURS = ("00:00", "23:45")


def setup(ctx):
    ctx.seed_demo()
    # No jobs: the delivery loop would send rows while a test reads them, and the no-show job
    # would race the check-ins. Everything here happens in the request's own transaction.
    ctx._server = ctx.start_carnetd(args=["--no-jobs"])
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.pw_hash = ctx.sql1("select password_hash from staff where email = 'tech@carnet.test'")[
        "password_hash"]
    ctx.store, ctx.service = make_store(ctx)


def make_store(ctx):
    """A UTC store open all day with three repair technicians on shift from an hour ago for a
    day, whose floor is worked by the demo specialist and its repairs by the demo technician."""
    store = ctx.sql1("insert into stores (code, name, timezone) values ('wired', 'Wired', 'UTC') "
                     "returning id")["id"]
    ctx.sql("insert into store_hours select %s, d, %s, %s from generate_series(1, 7) d",
            (store, HOURS[0], HOURS[1]))
    service = ctx.sql1("insert into services (store_id, name, duration_min, skill) "
                       "values (%s, 'Repair', 15, 'repair') returning id", (store,))["id"]
    for i in range(3):
        sid = ctx.sql1("insert into staff (email, name, password_hash) values (%s, %s, %s) "
                       "returning id", ("wired-%d@carnet.test" % i, "Wired %d" % i,
                                        ctx.pw_hash))["id"]
        ctx.sql("insert into staff_roles values (%s, %s, 'technician')", (sid, store))
        ctx.sql("insert into staff_skills values (%s, %s, 'repair')", (sid, store))
        ctx.sql("insert into shifts (store_id, staff_id, starts_at, ends_at) values "
                "(%s, %s, date_trunc('hour', now()) - interval '1 hour', "
                "date_trunc('hour', now()) + interval '23 hours')", (store, sid))
    for email, role in (("specialist@carnet.test", "specialist"),
                        ("tech@carnet.test", "technician")):
        ctx.sql("insert into staff_roles select id, %s, %s from staff where email = %s",
                (store, role, email))
    return store, service


def staff(ctx, email):
    c = ctx.client()
    c.login(email, PW)
    return c


def slots(ctx, n=1):
    """The next `n` bookable slot starts of the wired store (the first within 15 minutes)."""
    today = ctx.store_today(ctx.store)  # the store's local date
    r = ctx.client().get("/api/stores/%d/availability?service=%d&from=%s&to=%s" % (
        ctx.store, ctx.service, today, today + datetime.timedelta(days=1)))
    assert r.status == 200, r
    out = [s["starts_at"] for d in r.json["days"] for s in d["slots"]]
    return out[:n]


def later_slot(ctx):
    """A slot two days ahead, so both reminders lie in the future."""
    day = ctx.store_today(ctx.store) + datetime.timedelta(days=2)
    return "%sT10:00:00Z" % day


def book(ctx, starts_at, **kw):
    body = {"service_id": ctx.service, "starts_at": starts_at, "name": "Robin Wired",
            "email": "robin-%s@example.com" % secrets.token_hex(3), "problem": "battery drains"}
    body.update(kw)
    return ctx.client().post("/api/stores/%d/appointments" % ctx.store, body)


def outbox(ctx, ref_type, ref_id, kind=None):
    return ctx.sql("select * from outbox where ref_type = %s and ref_id = %s "
                   "and (%s::text is null or kind = %s) order by id",
                   (ref_type, ref_id, kind, kind))


def add_shift_day(ctx, starts_at):
    """Shifts covering the day of `starts_at` for the store's technicians."""
    ctx.sql("insert into shifts (store_id, staff_id, starts_at, ends_at) "
            "select %s, staff_id, %s::date, %s::date + interval '23 hours 59 minutes' "
            "from staff_skills where store_id = %s "
            "and not exists (select 1 from shifts s where s.staff_id = staff_skills.staff_id "
            "and tstzrange(s.starts_at, s.ends_at) && tstzrange(%s::date, %s::date + 1))",
            (ctx.store, starts_at[:10], starts_at[:10], ctx.store, starts_at[:10],
             starts_at[:10]))


def entries(record, kind):
    return [e for e in record["entries"] if e["kind"] == kind]


# ---- booking -> outbox ----

def test_booking_confirms_once_with_the_manage_link_and_reminders(ctx):
    start = later_slot(ctx)
    add_shift_day(ctx, start)
    r = book(ctx, start)
    assert r.status == 201, r
    a = r.json["appointment"]
    rows = outbox(ctx, "appointment", a["id"])
    kinds = sorted(x["kind"] for x in rows)
    assert kinds == ["booking_confirmed", "reminder_day", "reminder_hour"], kinds
    conf = [x for x in rows if x["kind"] == "booking_confirmed"][0]
    # Sealed at rest (017), the recipient and the name in the texts: clear once opened.
    assert conf["recipient"].startswith("{{pd:") and "Robin Wired" not in conf["body"], conf
    assert conf["channel"] == "email" and ctx.opened(conf["recipient"]) == a["customer"]["email"]
    # The link rests sealed under the data key; opened, it is the one the reply handed out.
    assert "{{public_url}}/manage/#" + r.json["manage_token"] in \
        ctx.sealed_link(conf["body"], r.json["manage_token"])
    assert a["code"] in conf["body"] and "Robin Wired" in ctx.opened(conf["body"]), conf["body"]
    for rem in rows:
        if rem["kind"].startswith("reminder"):
            assert rem["status"] == "pending", rem
            ctx.sealed_link(rem["body"], r.json["manage_token"])
    # The delivery worker fills the placeholder with the public URL: the link is the one the
    # booking reply handed out.
    claimed = ctx.sql1("select outbox_claim(10, 60, 'https://carnet.example') as j")["j"]
    mine = [m for m in claimed if m["id"] == conf["id"]]
    assert mine and "https://carnet.example/manage/#" + r.json["manage_token"] in \
        ctx.sealed_link(mine[0]["body"], r.json["manage_token"]), claimed
    # Only email or SMS: a phone-only booking is confirmed by SMS.
    r = book(ctx, start, email=None, phone="+33 6 99 88 77 66")
    assert r.status == 201, r
    sms = outbox(ctx, "appointment", r.json["appointment"]["id"], "booking_confirmed")
    assert len(sms) == 1 and sms[0]["channel"] == "sms" and ctx.opened(sms[0]["recipient"]) == "+33699887766"


def test_refused_booking_sends_nothing(ctx):
    start = later_slot(ctx).replace("T10:00", "T11:00")
    add_shift_day(ctx, start)
    for _ in range(3):
        assert book(ctx, start).status == 201
    before = ctx.sql1("select count(*) as n from outbox")["n"]
    r = book(ctx, start)
    assert r.status == 409 and r.error["code"] == "slot_taken", r
    r = book(ctx, start.replace("T11:00:00", "T11:07:00"))
    assert r.status == 422 and r.error["field"] == "starts_at", r
    r = book(ctx, start, serial="353918051234562")
    assert r.status == 422 and r.error["field"] == "serial", r
    # The same through an Idempotency-Key: the stored 409 is replayed, nothing is queued.
    h = {"Idempotency-Key": "wired-" + secrets.token_hex(4)}
    body = {"service_id": ctx.service, "starts_at": start, "name": "Late", "email": "l@example.com"}
    for _ in range(2):
        r = ctx.client().post("/api/stores/%d/appointments" % ctx.store, body, headers=h)
        assert r.status == 409, r
    assert ctx.sql1("select count(*) as n from outbox")["n"] == before


def test_move_and_cancel_tell_the_customer_and_move_the_reminders(ctx):
    start = later_slot(ctx).replace("T10:00", "T13:00")
    add_shift_day(ctx, start)
    r = book(ctx, start)
    assert r.status == 201, r
    token, aid = r.json["manage_token"], r.json["appointment"]["id"]
    c = Client(ctx.server.port)
    new = start.replace("T13:00", "T14:00")
    assert c.post("/api/manage/%s/reschedule" % token, {"starts_at": new}).status == 200
    changed = outbox(ctx, "appointment", aid, "booking_changed")
    assert len(changed) == 1, changed
    ctx.sealed_link(changed[0]["body"], token)
    pending = [x for x in outbox(ctx, "appointment", aid)
               if x["kind"].startswith("reminder") and x["status"] == "pending"]
    assert len(pending) == 2, pending
    assert c.post("/api/manage/%s/cancel" % token).status == 200
    cancelled = outbox(ctx, "appointment", aid, "booking_cancelled")
    assert len(cancelled) == 1 and cancelled[0]["status"] == "pending", cancelled
    assert "{{public_url}}/" in cancelled[0]["body"]
    assert not [x for x in outbox(ctx, "appointment", aid)
                if x["kind"].startswith("reminder") and x["status"] == "pending"]
    # A refused cancel (already cancelled) queues nothing more.
    n = len(outbox(ctx, "appointment", aid))
    assert c.post("/api/manage/%s/cancel" % token).status == 409
    assert len(outbox(ctx, "appointment", aid)) == n


# ---- customers write from their links ----

def test_customer_writes_from_the_manage_link_and_staff_see_it_unread(ctx):
    start = later_slot(ctx).replace("T10:00", "T15:00")
    add_shift_day(ctx, start)
    r = book(ctx, start, serial="WIREDMSG01")
    assert r.status == 201, r
    token, aid = r.json["manage_token"], r.json["appointment"]["id"]
    cust = Client(ctx.server.port)
    g = cust.get("/api/messages/" + token)
    assert g.status == 200 and g.json["ref_type"] == "appointment" and g.json["ref_id"] == aid, g
    assert g.json["messages"] == [] and g.json["customer_name"] is None, g.json
    p = cust.post("/api/messages/" + token, {"body": "Can I bring the charger too?"})
    assert p.status == 201, p
    thread = p.json["thread_id"]
    assert cust.get("/api/messages/" + token).json["thread_id"] == thread  # one thread
    s = staff(ctx, "specialist@carnet.test")
    lst = s.get("/api/stores/%d/threads?unread=true" % ctx.store)
    assert lst.status == 200, lst
    mine = [t for t in lst.json["threads"] if t["thread_id"] == thread]
    assert mine and mine[0]["unread"] == 1 and mine[0]["customer_name"] == "Robin Wired", lst.json
    t = s.get("/api/stores/%d/threads/%d" % (ctx.store, thread))
    assert t.json["messages"][0]["body"] == "Can I bring the charger too?", t.json
    # Not on the device's record: the serial is only what the customer typed when booking, and
    # a typed serial attaches nothing to a device until staff serve the visit (anyone could
    # otherwise write onto any device's record from a booking of their own).
    rec = staff(ctx, "tech@carnet.test").get("/api/devices/WIREDMSG01").json
    assert entries(rec, "message") == [], rec["entries"]
    # Unknown and malformed tokens stay 404 and write nothing.
    before = ctx.sql1("select count(*) as n from messages")["n"]
    assert cust.post("/api/messages/" + secrets.token_urlsafe(32), {"body": "x"}).status == 404
    assert cust.get("/api/messages/" + token[:-2] + "xx").status == 404
    assert ctx.sql1("select count(*) as n from messages")["n"] == before


# ---- repairs -> outbox, promises, surveys ----

CHECKLIST = {"checklist": [{"item": "screen", "ok": True}]}


def open_repair(ctx, tech, serial, **kw):
    body = {"serial": serial, "problem": "no sound", "intake": CHECKLIST,
            "owner": {"name": "Dana Owner", "email": "dana@example.com"}}
    body.update(kw)
    r = tech.post("/api/stores/%d/repairs" % ctx.store, body)
    assert r.status == 201, r
    return r.json


def move(tech, rid, to):
    r = tech.post("/api/repairs/%d/transition" % rid, {"to": to})
    assert r.status == 200, r
    return r.json


def test_repair_tells_its_owner_each_step_and_offers_a_survey(ctx):
    tech = staff(ctx, "tech@carnet.test")
    promised = (datetime.datetime.now(datetime.timezone.utc)
                + datetime.timedelta(days=5)).isoformat()
    rep = open_repair(ctx, tech, "WIREDREP01", promised_at=promised)
    rid = rep["id"]
    first = outbox(ctx, "repair", rid)
    assert [x["kind"] for x in first] == ["repair_opened"], first
    # The owner's address rests sealed, with its blind index (written so, not sealed later).
    assert ctx.is_pd(first[0]["recipient"]), first[0]
    assert ctx.opened(first[0]["recipient"]) == "dana@example.com"
    assert "We have received your device" in first[0]["body"], first[0]["body"]
    assert first[0]["recipient_bi"] == ctx.blind("email", "dana@example.com"), first[0]
    assert "{{public_url}}/repair/#" + rep["status_token"] in \
        ctx.sealed_link(first[0]["body"], rep["status_token"])
    p = ctx.sql1("select * from promises where ref_type = 'repair' and ref_id = %s", (rid,))
    assert p and p["state"] == "intake" and p["resolved_at"] is None, p

    move(tech, rid, "diagnosing")
    est = tech.put("/api/repairs/%d/estimate" % rid, {"diagnosis": "Worn battery", "lines": [
        {"kind": "part", "description": "Battery", "quantity": 1, "unit_price": 12950, "vat_rate": 0}]})
    assert est.status == 200, est
    e = outbox(ctx, "repair", rid, "estimate_ready")
    assert len(e) == 1 and "129.50 EUR" in e[0]["body"], e
    assert "{{public_url}}/estimate/#" + est.json["approval_token"] in \
        ctx.sealed_link(e[0]["body"], est.json["approval_token"])
    assert Client(ctx.server.port).post(
        "/api/estimates/%s/approve" % est.json["approval_token"]).status == 200
    for to in ("awaiting_approval", "repairing", "testing"):
        move(tech, rid, to)
    # Only the moves the store chose send a message (by default: approval needed, ready,
    # delayed), named as the screens name them.
    status = outbox(ctx, "repair", rid, "repair_status")
    assert [re.search(r"repair R-[A-Z0-9-]+: ([A-Za-z ]+)\.", x["body"]).group(1)
            for x in status] == ["Waiting for approval"], status
    # Later messages still lead to the status page, not to the estimate.
    ctx.sealed_link(status[-1]["body"], rep["status_token"])
    assert ctx.sql1("select state from promises where ref_type = 'repair' and ref_id = %s",
                    (rid,))["state"] == "testing"

    move(tech, rid, "ready")
    ready = outbox(ctx, "repair", rid, "ready_for_pickup")
    assert len(ready) == 1, ready
    ctx.sealed_link(ready[0]["body"], rep["status_token"])
    assert ctx.sql1("select resolved_at from promises where ref_type = 'repair' "
                    "and ref_id = %s", (rid,))["resolved_at"] is not None
    assert not outbox(ctx, "repair", rid, "survey")
    move(tech, rid, "collected")
    sv = ctx.sql("select * from surveys where ref_type = 'repair' and ref_id = %s", (rid,))
    assert len(sv) == 1, sv
    survey = outbox(ctx, "repair", rid, "survey")
    assert len(survey) == 1 and "/survey/#" in survey[0]["body"], survey


def test_repair_promise_and_customer_thread_from_the_status_link(ctx):
    tech = staff(ctx, "tech@carnet.test")
    rep = open_repair(ctx, tech, "WIREDREP02")
    rid = rep["id"]
    assert not ctx.sql("select 1 from promises where ref_type = 'repair' and ref_id = %s", (rid,))
    promised = (datetime.datetime.now(datetime.timezone.utc)
                + datetime.timedelta(days=3)).replace(microsecond=0)
    r = tech.put("/api/repairs/%d/promise" % rid, {"promised_at": promised.isoformat()})
    assert r.status == 200, r
    p = ctx.sql1("select * from promises where ref_type = 'repair' and ref_id = %s", (rid,))
    assert p["promised_at"] == promised and ctx.opened(p["recipient"]) == "dana@example.com", p
    assert ctx.is_pd(p["recipient"]) and p["recipient_bi"] == ctx.blind("email", "dana@example.com")
    ctx.sealed_link(p["data"]["link"], rep["status_token"])
    # A bad promise changes nothing.
    r = tech.put("/api/repairs/%d/promise" % rid, {"promised_at": "2001-01-01T00:00:00Z"})
    assert r.status == 422 and r.error["field"] == "promised_at", r
    assert ctx.sql1("select promised_at from promises where ref_type = 'repair' and ref_id = %s",
                    (rid,))["promised_at"] == promised
    # The repair's thread was opened with it: the customer writes from the status link, staff
    # answer, and the status page shows both.
    cust = Client(ctx.server.port)
    r = cust.post("/api/messages/" + rep["status_token"], {"body": "Is it covered?"})
    assert r.status == 201, r
    thread = r.json["thread_id"]
    assert ctx.sql1("select ref_type, ref_id from message_threads where id = %s", (thread,)) == \
        {"ref_type": "repair", "ref_id": rid}
    s = staff(ctx, "tech@carnet.test")
    assert s.post("/api/stores/%d/threads/%d/messages" % (ctx.store, thread),
                  {"body": "Yes, under warranty."}).status == 201
    page = cust.get("/api/repair-status/" + rep["status_token"]).json
    assert [(m["from"], m["text"]) for m in page["messages"]] == \
        [("customer", "Is it covered?"), ("store", "Yes, under warranty.")], page["messages"]


def test_repair_without_owner_tells_nobody(ctx):
    tech = staff(ctx, "tech@carnet.test")
    rep = open_repair(ctx, tech, "WIREDREP03", owner=None)
    move(tech, rep["id"], "diagnosing")
    assert not outbox(ctx, "repair", rep["id"])
    r = Client(ctx.server.port).get("/api/messages/" + rep["status_token"])
    assert r.status == 404 and r.error["field"] == "token", r


# ---- the floor -> outbox and the health record ----

def test_booked_visit_follows_into_the_record_and_offers_a_survey(ctx):
    start = slots(ctx)[0]
    r = book(ctx, start, serial="wired rec 01")
    assert r.status == 201, r
    aid, code = r.json["appointment"]["id"], r.json["code"]
    tech = staff(ctx, "tech@carnet.test")
    rec = tech.get("/api/devices/WIREDREC01")
    assert rec.status == 200, rec
    appt = entries(rec.json, "appointment")
    assert len(appt) == 1 and appt[0]["ref_type"] == "appointment" and appt[0]["ref_id"] == aid
    assert appt[0]["content"]["event"] == "booked" and appt[0]["content"]["service"] == "Repair"
    assert appt[0]["content"]["problem"] == "battery drains" and appt[0]["store_id"] == ctx.store
    assert "robin" not in str(appt[0]["content"]).lower()  # no personal data in the chain
    assert [x["id"] for x in rec.json["appointments"]] == [aid], rec.json["appointments"]

    spec = staff(ctx, "specialist@carnet.test")
    r = spec.post("/api/stores/%d/checkin" % ctx.store, {"code": code})
    assert r.status == 200, r
    vid = r.json["visit"]["id"]
    p = ctx.sql1("select * from promises where ref_type = 'appointment' and ref_id = %s", (aid,))
    assert p and p["resolved_at"] is None and ctx.opened(p["recipient"]).startswith("robin-"), p
    r = spec.post("/api/stores/%d/queue/next" % ctx.store, {})
    assert r.status == 200 and r.json["id"] == vid, r
    assert ctx.sql1("select resolved_at from promises where ref_type = 'appointment' "
                    "and ref_id = %s", (aid,))["resolved_at"] is not None
    nxt = outbox(ctx, "appointment", aid, "youre_next")
    assert len(nxt) == 1 and nxt[0]["channel"] == "email", nxt
    assert spec.post("/api/visits/%d/start" % vid).status == 200
    assert not ctx.sql("select 1 from surveys where ref_type = 'visit' and ref_id = %s", (vid,))
    assert spec.post("/api/visits/%d/done" % vid).status == 200
    assert len(ctx.sql("select 1 from surveys where ref_type = 'visit' and ref_id = %s",
                       (vid,))) == 1
    assert len(outbox(ctx, "visit", vid, "survey")) == 1

    rec = tech.get("/api/devices/WIREDREC01").json
    events = [(e["kind"], e["content"]["event"]) for e in reversed(rec["entries"])]
    # The visit's end closes the appointment (004's trigger) before the visit's entry is written.
    assert events == [("appointment", "booked"), ("appointment", "checked_in"),
                      ("visit", "started"), ("appointment", "done"), ("visit", "done")], events
    visit = entries(rec, "visit")
    assert {e["ref_id"] for e in visit} == {vid} and visit[0]["actor"]["name"], visit
    assert visit[0]["content"]["appointment_id"] == aid and "service_s" in visit[0]["content"]
    v = tech.get("/api/devices/WIREDREC01/verify")
    assert v.status == 200 and v.json["ok"] is True, v


def test_moved_and_cancelled_bookings_are_in_the_record(ctx):
    start = later_slot(ctx).replace("T10:00", "T16:00")
    add_shift_day(ctx, start)
    r = book(ctx, start, serial="WIREDREC02")
    token = r.json["manage_token"]
    c = Client(ctx.server.port)
    assert c.post("/api/manage/%s/reschedule" % token,
                  {"starts_at": start.replace("T16:00", "T17:00")}).status == 200
    assert c.post("/api/manage/%s/cancel" % token).status == 200
    rec = staff(ctx, "tech@carnet.test").get("/api/devices/WIREDREC02").json
    events = [e["content"]["event"] for e in reversed(entries(rec, "appointment"))]
    assert events == ["booked", "rescheduled", "cancelled"], events
    moved = entries(rec, "appointment")[1]["content"]
    assert moved["previous_starts_at"] < moved["starts_at"], moved
    assert staff(ctx, "tech@carnet.test").get("/api/devices/WIREDREC02/verify").json["ok"]


def test_walk_in_with_a_serial_is_in_the_record(ctx):
    c = Client(ctx.server.port)
    r = c.post("/api/stores/%d/line" % ctx.store,
               {"name": "Walker", "contact": "+33 6 11 22 33 44", "serial": "wired walk 01"})
    assert r.status == 201, r
    vid = r.json["visit_id"]
    # The kiosk makes no device: staff starting the visit does.
    assert not ctx.sql("select 1 from devices where serial = 'WIREDWALK01'")
    before = ctx.sql1("select count(*) as n from visits")["n"]
    for body, field in (({"name": "X", "serial": 12345}, "serial"),
                        ({"name": "X", "serial": "ab"}, "serial"),
                        ({"name": "X", "serial": "353918051234562"}, "serial")):
        r = c.post("/api/stores/%d/line" % ctx.store, body)
        assert r.status == 422 and r.error["field"] == field, (body, r)
    assert ctx.sql1("select count(*) as n from visits")["n"] == before
    spec = staff(ctx, "specialist@carnet.test")
    # Earlier tests may have left people waiting; call until it is our walker.
    while True:
        r = spec.post("/api/stores/%d/queue/next" % ctx.store, {})
        assert r.status == 200, r
        if r.json["id"] == vid:
            break
    nxt = outbox(ctx, "visit", vid, "youre_next")
    assert len(nxt) == 1 and nxt[0]["channel"] == "sms" and \
        ctx.opened(nxt[0]["recipient"]) == "+33611223344", nxt
    assert spec.post("/api/visits/%d/start" % vid).status == 200
    assert spec.post("/api/visits/%d/done" % vid).status == 200
    tech = staff(ctx, "tech@carnet.test")
    rec = tech.get("/api/devices/WIREDWALK01").json
    assert [e["content"]["event"] for e in reversed(entries(rec, "visit"))] == \
        ["started", "done"], rec["entries"]
    assert len(outbox(ctx, "visit", vid, "survey")) == 1
    assert tech.get("/api/devices/WIREDWALK01/verify").json["ok"] is True
    # A walk-in who left no usable contact is told nothing.
    r = c.post("/api/stores/%d/line" % ctx.store, {"name": "Quiet", "contact": "table 4"})
    quiet = r.json["visit_id"]
    while spec.post("/api/stores/%d/queue/next" % ctx.store, {}).json["id"] != quiet:
        pass
    assert not outbox(ctx, "visit", quiet)


def test_device_search_finds_booked_devices_by_contact(ctx):
    start = later_slot(ctx).replace("T10:00", "T18:00")
    add_shift_day(ctx, start)
    email = "searcher-%s@example.com" % secrets.token_hex(3)
    r = book(ctx, start, serial="WIREDSRCH1", email=email, phone="+33 6 55 44 33 22")
    assert r.status == 201, r
    tech = staff(ctx, "tech@carnet.test")
    for q, how in ((email.upper(), "appointment_email"), ("+33655443322", "appointment_phone"),
                   ("+33 6 55 44 33 22", "appointment_phone")):
        s = tech.get("/api/devices?q=" + q.replace("+", "%2B").replace(" ", "%20"))
        assert s.status == 200, s
        assert [(x["serial"], x["match"]) for x in s.json["results"]] == \
            [("WIREDSRCH1", how)], (q, s.json)
        assert email not in s.raw.decode()
    assert tech.get("/api/devices?q=nobody%40example.com").json["results"] == []


def test_standby_offer_reaches_the_customer_and_a_claim_is_confirmed(ctx):
    day = ctx.store_today(ctx.store) + datetime.timedelta(days=4)
    if day.weekday() == 6:  # the demo stores are closed on Sundays
        day += datetime.timedelta(days=1)
    # The job offers the slot through booking_claim: the person must be on shift then.
    add_shift_day(ctx, str(day))
    staff_id = ctx.sql1("select staff_id from staff_skills where store_id = %s limit 1",
                        (ctx.store,))["staff_id"]
    tokens, ids = [], []
    for name, phone in (("Sasha Standby", "+33612121212"), ("Noor Standby", "+33613131313")):
        tok = secrets.token_urlsafe(32)  # a link as link.c mints and hashes it
        ids.append(ctx.sql1("insert into standby (store_id, service_id, day, name, phone, "
                            "token_hash) values (%s, %s, %s, %s, %s, %s) returning id",
                            (ctx.store, ctx.service, day, name, phone,
                             hashlib.sha256(tok.encode()).hexdigest()))["id"])
        tokens.append(tok)
    # A freed slot that day (as the cancel trigger records it); the standby job offers it.
    ctx.sql("insert into standby_slots (store_id, service_id, staff_id, starts_at, ends_at, "
            "blocked_until) values (%s, %s, %s, %s::date + time '09:00', "
            "%s::date + time '09:15', %s::date + time '09:15')",
            (ctx.store, ctx.service, staff_id, day, day, day))
    assert ctx.sql1("select job_expire_standby_offers(300) as n")["n"] == 1
    offer = outbox(ctx, "standby", ids[0], "standby_offer")
    assert len(offer) == 1 and offer[0]["channel"] == "sms", offer
    assert ctx.opened(offer[0]["recipient"]) == "+33612121212" and "09:00" in offer[0]["body"], \
        offer[0]
    assert not outbox(ctx, "standby", ids[1])
    # Sasha lets it lapse: Noor is offered it (once), and claims it: a booking confirmed like
    # any other, with its manage link and reminders; nothing more for Sasha.
    ctx.sql("update standby set offer_expires_at = now() where id = %s", (ids[0],))
    assert ctx.sql1("select job_expire_standby_offers(300) as n")["n"] == 2
    assert len(outbox(ctx, "standby", ids[0])) == 1
    assert len(outbox(ctx, "standby", ids[1], "standby_offer")) == 1
    r = Client(ctx.server.port).post("/api/standby/%s/claim" % tokens[1])
    assert r.status == 200, r
    aid = r.json["appointment"]["id"]
    rows = outbox(ctx, "appointment", aid)
    assert sorted(x["kind"] for x in rows) == ["booking_confirmed", "reminder_day",
                                               "reminder_hour"], rows
    conf = [x for x in rows if x["kind"] == "booking_confirmed"][0]
    assert ctx.opened(conf["recipient"]) == "+33613131313" and r.json["code"] in conf["sms"], conf
    assert "{{public_url}}/manage/#" + r.json["manage_token"] in \
        ctx.sealed_link(conf["body"], r.json["manage_token"])
    # A second claim is refused and queues nothing.
    r = Client(ctx.server.port).post("/api/standby/%s/claim" % tokens[1])
    assert r.status == 409, r
    assert len(outbox(ctx, "appointment", aid)) == 3


def test_a_booked_customer_who_leaves_is_not_warned(ctx):
    r = book(ctx, slots(ctx)[0])
    assert r.status == 201, r
    aid = r.json["appointment"]["id"]
    spec = staff(ctx, "specialist@carnet.test")
    r = spec.post("/api/stores/%d/checkin" % ctx.store, {"code": r.json["code"]})
    assert r.status == 200, r
    vid = r.json["visit"]["id"]
    assert ctx.sql1("select resolved_at from promises where ref_type = 'appointment' "
                    "and ref_id = %s", (aid,))["resolved_at"] is None
    assert spec.post("/api/visits/%d/left" % vid).status == 200
    assert ctx.sql1("select resolved_at from promises where ref_type = 'appointment' "
                    "and ref_id = %s", (aid,))["resolved_at"] is not None
    assert not outbox(ctx, "appointment", aid, "youre_next")
    assert not ctx.sql("select 1 from surveys where ref_type = 'visit' and ref_id = %s", (vid,))


# ---- reminders follow a moved booking (two carnetd delivering) ----

def test_a_moved_booking_is_reminded_again_after_its_reminder_went_out(ctx):
    start = later_slot(ctx).replace("T10:00", "T19:00")
    add_shift_day(ctx, start)
    r = book(ctx, start)
    assert r.status == 201, r
    token, aid = r.json["manage_token"], r.json["appointment"]["id"]
    servers = [ctx.start_carnetd(env={"CARNET_OUTBOX_INTERVAL_MS": "50"}) for _ in range(2)]

    def reminders(kind):
        return outbox(ctx, "appointment", aid, kind)

    def day_before_goes_out():
        # Its time comes (the test does not wait a day): one of the two workers sends it.
        ctx.sql("update outbox set next_attempt_at = now() where ref_type = 'appointment' "
                "and ref_id = %s and kind = 'reminder_day' and status = 'pending'", (aid,))
        wait_for(lambda: all(x["status"] == "sent" for x in reminders("reminder_day")),
                 "the day-before reminder sent")

    def at(iso, **delta):
        return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")) - \
            datetime.timedelta(**delta)

    try:
        day_before_goes_out()
        # The customer moves the booking by the manage link, after its reminder went out: the
        # new time gets its own day-before reminder, and the hour-before one moves.
        moved = start.replace("T19:00", "T20:00")
        r = Client(servers[0].port).post("/api/manage/%s/reschedule" % token,
                                         {"starts_at": moved})
        assert r.status == 200, r
        rows = reminders("reminder_day")
        assert [x["status"] for x in rows] == ["sent", "pending"], rows
        assert rows[1]["next_attempt_at"] == at(moved, days=1) and "20:00" in rows[1]["body"]
        hour = [x for x in reminders("reminder_hour") if x["status"] == "pending"]
        assert len(hour) == 1 and hour[0]["next_attempt_at"] == at(moved, hours=1), hour
        day_before_goes_out()
        # Staff move it again: the same.
        spec = Client(servers[1].port)
        spec.login("specialist@carnet.test", PW)
        again = start.replace("T19:00", "T21:00")
        r = spec.post("/api/stores/%d/appointments/%d/reschedule" % (ctx.store, aid),
                      {"starts_at": again})
        assert r.status == 200, r
        rows = reminders("reminder_day")
        assert [x["status"] for x in rows] == ["sent", "sent", "pending"], rows
        assert rows[2]["next_attempt_at"] == at(again, days=1) and "21:00" in rows[2]["body"]
        day_before_goes_out()
        # Each time's reminder was delivered once, for its own time.
        rows = reminders("reminder_day")
        for row, hhmm in zip(rows, ("19:00", "20:00", "21:00")):
            wait_for(lambda: ctx.delivered_by(servers, row), "the reminder's file")
            docs = ctx.delivered_by(servers, row)
            assert len(docs) == 1 and hhmm in docs[0]["body"], docs
        assert len([x for x in reminders("reminder_hour") if x["status"] == "pending"]) == 1
    finally:
        for s in servers:
            s.stop()
