"""The conversation follows the device (issue 17, point 5): messages with a customer name the
device as well as the booking or repair (054), and GET /api/devices/{serial}/conversations shows
a technician of any store every earlier conversation about the serial, grouped by booking, visit
or repair, texts opened; another store's customer contact stays hidden; an erased customer's
messages show no text and no contact; who may read it."""
import datetime
import secrets
import string
import urllib.parse
import zoneinfo

from harness import Client

S = {}
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def setup(ctx):
    ctx.seed_demo()
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    S["slot"] = 0


def _serial():
    return "CV" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8))


def _book(ctx, serial, email):
    """A public booking at Paris for the device: its confirmation is a message about it."""
    svc = ctx.sql1("select id from services where store_id = %s and name = 'iPhone screen'",
                   (S["paris"],))["id"]
    c = ctx.client()
    for _ in range(40):
        S["slot"] += 1
        day = ctx.store_today(S["paris"]) + datetime.timedelta(days=2 + S["slot"] // 16)
        if day.isoweekday() == 7:
            continue
        minutes = 10 * 60 + 30 * (S["slot"] % 16)
        start = datetime.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60,
                                  tzinfo=PARIS).isoformat()
        r = c.post("/api/stores/%d/appointments" % S["paris"], {
            "name": "Camille Conv", "email": email, "problem": "cracked screen",
            "service_id": svc, "starts_at": start, "serial": serial})
        if r.status == 201:
            return r.json
        assert r.status == 409, r
    raise AssertionError("no free slot")


def _serve(ctx, booking, serial):
    """The customer of a booking at Paris comes in (checked in: a visit, as the floor makes one)
    and the specialist starts serving them, the device in hand."""
    appt = booking["appointment"]["id"]
    vid = ctx.sql1("""insert into visits (store_id, appointment_id, kind, day, ticket, name,
                                           status, due_at, called_at, device_serial)
                      select store_id, id, 'booked', floor_today(store_id), %s, 'Camille Conv',
                             'called', starts_at, now(), %s
                      from appointments where id = %s returning id""",
                   (10000 + secrets.randbelow(80000), serial, appt))["id"]
    r = ctx.staff("specialist").post("/api/visits/%d/start" % vid)
    assert r.status == 200 and r.json["status"] == "in_service", r
    return vid


def _repair(ctx, tech, serial, email, store=None):
    r = tech.post("/api/stores/%d/repairs" % (store or S["paris"]), {
        "serial": serial, "problem": "battery drains",
        "owner": {"name": "Camille Conv", "email": email},
        "intake": {"checklist": [{"item": "screen", "ok": True}], "accessories": "none",
                   "passcode_provided": False}})
    assert r.status == 201, r
    return r.json


def _conversation(ctx, serial, email):
    """A booking and a repair of the device at Paris, the booking's visit served, the customer
    writing from the repair's status link and the Paris specialist answering. Returns what was
    made."""
    tech = ctx.staff("tech")
    c = {"serial": serial, "email": email, "hello": "Is my battery covered? %s" % secrets.token_hex(4),
         "answer": "Yes, under warranty. %s" % secrets.token_hex(4)}
    c["booking"] = _book(ctx, serial, email)
    c["repair"] = _repair(ctx, tech, serial, email)
    c["visit"] = _serve(ctx, c["booking"], serial)
    anon = Client(ctx.server.port)
    r = anon.post("/api/messages/" + c["repair"]["status_token"], {"body": c["hello"]})
    assert r.status == 201, r
    c["thread"] = r.json["thread_id"]
    r = ctx.staff("specialist").post("/api/stores/%d/threads/%d/messages" % (S["paris"], c["thread"]),
                                     {"body": c["answer"]})
    assert r.status == 201, r
    return c


def _groups(j):
    return {(g["ref_type"], g["ref_id"]): g for g in j["groups"]}


def test_booking_and_repair_messages_reach_another_stores_technician(ctx):
    serial, email = _serial(), "conv.%s@example.test" % secrets.token_hex(4)
    c = _conversation(ctx, serial, email)
    dev = ctx.sql1("select id from devices where serial = %s", (serial,))["id"]
    # Every message about the device names it (054).
    rows = ctx.sql("select kind, device_id from outbox where (ref_type = 'appointment' and ref_id = %s)"
                   " or (ref_type = 'repair' and ref_id = %s) or (ref_type = 'thread' and ref_id = %s)",
                   (c["booking"]["appointment"]["id"], c["repair"]["id"], c["thread"]))
    assert rows and all(x["device_id"] == dev for x in rows), rows
    assert ctx.sql1("select device_id from message_threads where id = %s", (c["thread"],))[
        "device_id"] == dev

    lyon = ctx.staff("lyon")  # a technician of Lyon: never dealt with this customer
    r = lyon.get("/api/devices/%s/conversations" % serial.lower())
    assert r.status == 200, r
    assert r.json["serial"] == serial
    g = _groups(r.json)
    booking = g[("appointment", c["booking"]["appointment"]["id"])]
    assert booking["store_id"] == S["paris"] and booking["store"] == "Carnet Paris Opéra", booking
    assert booking["service"] == "iPhone screen", booking
    sent = [m for m in booking["messages"] if m["template"] == "booking_confirmed"]
    assert len(sent) == 1 and sent[0]["direction"] == "out" and sent[0]["channel"] == "email", sent
    assert "Carnet Paris Opéra" in sent[0]["text"] and "[link]" in sent[0]["text"], sent
    assert c["booking"]["code"] in sent[0]["text"], sent
    # Reminders not due yet were not said: they are not part of the conversation.
    assert not [m for m in booking["messages"] if m["template"].startswith("reminder")], booking

    repair = g[("repair", c["repair"]["id"])]
    assert repair["number"] == c["repair"]["number"] and repair["store_id"] == S["paris"], repair
    msgs = repair["messages"]
    assert [m["template"] for m in msgs if m["source"] == "outbox"][:1] == ["repair_opened"], msgs
    mine = [m for m in msgs if m["source"] == "thread"]
    assert [(m["direction"], m["channel"], m["text"]) for m in mine] == [
        ("in", "web", c["hello"]), ("out", "email", c["answer"])], mine
    assert mine[1]["template"] == "store_message" and mine[1]["staff_name"] == "Sam", mine
    # The notification that carried the answer is the answer, not a second message.
    assert not [m for m in msgs if m["source"] == "outbox" and m["template"] == "store_message"]
    # Another store's customer: no contact; nothing sealed and no link token leaves.
    assert all(m["contact"] is None for gr in r.json["groups"] for m in gr["messages"]), r.json
    raw = r.raw.decode()
    assert "{{pd:" not in raw and "{{sealed:" not in raw and "{{public_url}}" not in raw, raw
    assert c["repair"]["status_token"] not in raw and email not in raw, raw
    assert "Camille" not in raw, raw  # no greeting by name to another store
    # Paris's technician sees their own store's contact.
    p = ctx.staff("tech").get("/api/devices/%s/conversations" % serial)
    assert p.status == 200, p
    contacts = {m["contact"] for gr in p.json["groups"] for m in gr["messages"]}
    assert email in contacts, p.json
    assert ctx.sql1("select count(*) as n from audit_log where action = 'read_conversations'"
                    " and object_type = 'device' and object_id = %s", (str(dev),))["n"] >= 2


def test_a_walk_ins_message_follows_the_device_made_after_it(ctx):
    """A walk-in names a serial nobody has recorded: "you're next" goes before staff start the
    visit (which makes the device); it is attached then, and shows under the visit."""
    serial = _serial()
    r = Client(ctx.server.port).post("/api/stores/%d/line" % S["paris"], {
        "name": "Wally Walk", "contact": "+33 6 11 22 33 55", "serial": serial})
    assert r.status == 201, r
    vid = r.json["visit_id"]
    spec = ctx.staff("specialist")
    while True:  # earlier modules' walkers may still wait
        r = spec.post("/api/stores/%d/queue/next" % S["paris"], {})
        assert r.status == 200, r
        if r.json["id"] == vid:
            break
    nxt = ctx.sql1("select id, device_id from outbox where kind = 'youre_next'"
                   " and ref_type = 'visit' and ref_id = %s", (vid,))
    assert nxt["device_id"] is None, nxt  # no device yet
    assert spec.post("/api/visits/%d/start" % vid).status == 200
    dev = ctx.sql1("select id from devices where serial = %s", (serial,))["id"]
    assert ctx.sql1("select device_id from outbox where id = %s", (nxt["id"],))["device_id"] == dev
    r = ctx.staff("lyon").get("/api/devices/%s/conversations" % serial)
    assert r.status == 200, r
    g = _groups(r.json)[("visit", vid)]
    assert g["store_id"] == S["paris"] and g["ticket"] is not None, g
    assert [(m["template"], m["channel"]) for m in g["messages"]] == [("youre_next", "sms")], g
    assert "Carnet Paris Opéra" in g["messages"][0]["text"] and g["messages"][0]["contact"] is None


def test_another_devices_messages_do_not_appear(ctx):
    a, b = _serial(), _serial()
    ca = _conversation(ctx, a, "conv.a.%s@example.test" % secrets.token_hex(4))
    cb = _repair(ctx, ctx.staff("lyon"), b, "conv.b.%s@example.test" % secrets.token_hex(4),
                 store=S["lyon"])
    lyon = ctx.staff("lyon")
    ja = lyon.get("/api/devices/%s/conversations" % a)
    jb = lyon.get("/api/devices/%s/conversations" % b)
    assert ja.status == 200 and jb.status == 200, (ja, jb)
    keys_a, keys_b = set(_groups(ja.json)), set(_groups(jb.json))
    assert keys_b == {("repair", cb["id"])}, jb.json
    assert ("repair", cb["id"]) not in keys_a and ("repair", ca["repair"]["id"]) not in keys_b
    assert ca["hello"] not in jb.raw.decode()
    # A device nobody wrote about has an empty conversation.
    quiet = _serial()
    assert ctx.staff("tech").put("/api/devices/" + quiet, {"model": "Quiet"}).status == 201
    r = lyon.get("/api/devices/%s/conversations" % quiet)
    assert r.status == 200 and r.json["groups"] == [], r


def test_an_erased_customers_messages_show_no_content(ctx):
    serial, email = _serial(), "conv.e.%s@example.test" % secrets.token_hex(4)
    c = _conversation(ctx, serial, email)
    before = ctx.staff("lyon").get("/api/devices/%s/conversations" % serial)
    assert c["hello"] in before.raw.decode()
    # Sent before the erasure (one still waiting is cancelled by it: never said, not shown).
    for kind, ref_type, ref_id in (("booking_confirmed", "appointment",
                                    c["booking"]["appointment"]["id"]),
                                   ("repair_opened", "repair", c["repair"]["id"])):
        ctx.delivered(ctx.sql1("select id from outbox where kind = %s and ref_type = %s"
                               " and ref_id = %s", (kind, ref_type, ref_id))["id"])
    r = ctx.staff("admin").post("/api/customers/erase", {"email": email})
    assert r.status == 200, r
    for who in ("lyon", "tech", "admin"):
        r = ctx.staff(who).get("/api/devices/%s/conversations" % serial)
        assert r.status == 200, r
        msgs = [m for g in r.json["groups"] for m in g["messages"]]
        assert msgs and all(m["erased"] is True and m["text"] is None and m["contact"] is None
                            for m in msgs), (who, msgs)
        raw = r.raw.decode()
        assert c["hello"] not in raw and c["answer"] not in raw and email not in raw, raw
        assert "Camille" not in raw and c["booking"]["code"] not in raw, raw
        # The groups stay: what happened to the device is the stores' record.
        assert {("repair", c["repair"]["id"]),
                ("appointment", c["booking"]["appointment"]["id"])} <= set(_groups(r.json))


def test_a_message_whose_text_retention_dropped_says_so(ctx):
    serial, email = _serial(), "conv.r.%s@example.test" % secrets.token_hex(4)
    c = _conversation(ctx, serial, email)
    mid = ctx.sql1("select id from outbox where kind = 'booking_confirmed' and ref_type ="
                   " 'appointment' and ref_id = %s", (c["booking"]["appointment"]["id"],))["id"]
    ctx.delivered(mid)
    ctx.sql("update outbox set created_at = now() - interval '400 days' where id = %s", (mid,))
    ctx.sql("select job_retention(3650, 3650, 3600, 365, 3650)")
    assert ctx.sql1("select purged_at from outbox where id = %s", (mid,))["purged_at"]
    r = ctx.staff("tech").get("/api/devices/%s/conversations" % serial)
    m = [m for g in r.json["groups"] for m in g["messages"] if m["id"] == mid and
         m["source"] == "outbox"]
    assert len(m) == 1 and m[0]["purged"] is True and m[0]["erased"] is False, m
    assert m[0]["text"] is None and m[0]["contact"] is None, m  # not the word 'erased' either
    assert c["hello"] in r.raw.decode()  # the rest of the conversation stays


def test_who_may_read_and_bad_serials(ctx):
    serial = _serial()
    _repair(ctx, ctx.staff("tech"), serial, "conv.w.%s@example.test" % secrets.token_hex(4))
    path = "/api/devices/%s/conversations" % serial
    assert Client(ctx.server.port).get(path).status == 401
    # The front desk's specialist reads the store's own threads, not the chain's conversations.
    r = ctx.staff("specialist").get(path)
    assert r.status == 403, r
    for who in ("tech", "tech2", "lyon", "manager", "admin"):
        assert ctx.staff(who).get(path).status == 200, who
    tech = ctx.staff("tech")
    r = tech.get("/api/devices/%s/conversations" % _serial())
    assert (r.status, r.error["code"], r.error["field"]) == (404, "not_found", "serial"), r
    for bad in ("ab1", "C02-XK19", "A" * 70):
        r = tech.get("/api/devices/%s/conversations" % urllib.parse.quote(bad))
        assert (r.status, r.error["code"], r.error["field"]) == (422, "bad_serial", "serial"), (bad, r)


def test_the_short_form_shown_greets_nobody(ctx):
    """A sent message is shown as its template's SMS text (outbox_gist): none may name the
    customer, or another store's technician would read their name."""
    rows = ctx.sql("select kind, locale from message_templates where sms ~ '\\{\\{(name|message)\\}\\}'")
    assert rows == [], rows


def test_the_migrations_backfill_attaches_earlier_messages(ctx):
    """Messages written before 054 had no device: its backfill (run again here, on rows made to
    look like those) attaches them by their booking, repair and thread, and marks the messages
    of erased customers."""
    import os
    import re
    serial, email = _serial(), "conv.b.%s@example.test" % secrets.token_hex(4)
    c = _conversation(ctx, serial, email)
    dev = ctx.sql1("select id from devices where serial = %s", (serial,))["id"]
    ctx.sql("update outbox set device_id = null where device_id = %s", (dev,))
    ctx.sql("update message_threads set device_id = null where id = %s", (c["thread"],))
    assert ctx.staff("lyon").get("/api/devices/%s/conversations" % serial).json["groups"] == []
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "schema",
                           "054_conversation.sql")) as f:
        sql = re.sub(r"--[^\n]*", "", f.read())
    updates = [s for s in sql.split(";") if s.strip().startswith("update")]
    assert len(updates) == 7, updates
    for u in updates:
        ctx.sql(u)
    # 055 after it keeps them: the booking's visit was served, the device in hand.
    for u in _migration_updates("055_conversation_confirmed.sql", 3):
        ctx.sql(u)
    r = ctx.staff("lyon").get("/api/devices/%s/conversations" % serial)
    g = _groups(r.json)
    assert set(g) == {("appointment", c["booking"]["appointment"]["id"]),
                      ("repair", c["repair"]["id"])}, r.json
    assert c["hello"] in r.raw.decode()
    assert not [m for x in r.json["groups"] for m in x["messages"] if m["erased"]]


def _migration_updates(name, n):
    import os
    import re
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "schema", name)) as f:
        sql = re.sub(r"--[^\n]*", "", f.read())
    updates = [s for s in sql.split(";") if s.strip().startswith("update")]
    assert len(updates) == n, updates
    return updates


def _conversations(ctx, serial):
    r = ctx.staff("lyon").get("/api/devices/%s/conversations" % serial)
    assert r.status == 200, r
    return r


def test_a_typed_serial_alone_attaches_nothing_until_staff_serve_the_visit(ctx):
    """A booking carries whatever serial its customer typed: booking with another customer's
    device's serial and writing from the booking's link shows nothing on that device, until staff
    serve the visit with the device in hand (S3 of the #17 review)."""
    serial = _serial()
    owner = _repair(ctx, ctx.staff("tech"), serial, "conv.o.%s@example.test" % secrets.token_hex(4))
    dev = ctx.sql1("select id from devices where serial = %s", (serial,))["id"]
    before = _conversations(ctx, serial)
    assert set(_groups(before.json)) == {("repair", owner["id"])}, before.json
    # Someone else books with the serial and writes from their booking's link.
    b = _book(ctx, serial, "conv.m.%s@example.test" % secrets.token_hex(4))
    appt = b["appointment"]["id"]
    said = "Earlier: the screen was already broken %s" % secrets.token_hex(4)
    r = Client(ctx.server.port).post("/api/messages/" + b["manage_token"], {"body": said})
    assert r.status == 201, r
    thread = r.json["thread_id"]
    assert ctx.sql1("select device_id from message_threads where id = %s", (thread,))[
        "device_id"] is None
    rows = ctx.sql("select kind, device_id from outbox where (ref_type = 'appointment' and "
                   "ref_id = %s) or (ref_type = 'thread' and ref_id = %s)", (appt, thread))
    assert rows and all(x["device_id"] is None for x in rows), rows
    r = _conversations(ctx, serial)
    assert set(_groups(r.json)) == {("repair", owner["id"])}, r.json
    assert said not in r.raw.decode()
    # A device made later with the serial (another one's, say) does not take them either.
    other = _serial()
    b2 = _book(ctx, other, "conv.n.%s@example.test" % secrets.token_hex(4))
    assert ctx.staff("tech").put("/api/devices/" + other, {"model": "Later"}).status in (200, 201)
    assert ctx.sql1("select count(*) as n from outbox where ref_type = 'appointment' and "
                    "ref_id = %s and device_id is not null", (b2["appointment"]["id"],))["n"] == 0
    # Staff serve the visit, the device in hand: the booking's messages and thread join it.
    _serve(ctx, b, serial)
    assert ctx.sql1("select device_id from message_threads where id = %s", (thread,))[
        "device_id"] == dev
    rows = ctx.sql("select kind, device_id from outbox where (ref_type = 'appointment' and "
                   "ref_id = %s) or (ref_type = 'thread' and ref_id = %s)", (appt, thread))
    assert rows and all(x["device_id"] == dev for x in rows), rows
    r = _conversations(ctx, serial)
    assert set(_groups(r.json)) == {("repair", owner["id"]), ("appointment", appt)}, r.json
    assert said in r.raw.decode()


def test_migration_055_detaches_what_only_a_typed_serial_attached(ctx):
    """Rows 054 attached by a typed serial alone (made to look like those here) are detached by
    055; a served booking's stay."""
    serial = _serial()
    c = _conversation(ctx, serial, "conv.d.%s@example.test" % secrets.token_hex(4))
    dev = ctx.sql1("select id from devices where serial = %s", (serial,))["id"]
    b = _book(ctx, serial, "conv.x.%s@example.test" % secrets.token_hex(4))
    r = Client(ctx.server.port).post("/api/messages/" + b["manage_token"], {"body": "hi"})
    assert r.status == 201, r
    thread = r.json["thread_id"]
    appt = b["appointment"]["id"]
    ctx.sql("update message_threads set device_id = %s where id = %s", (dev, thread))
    ctx.sql("update outbox set device_id = %s where (ref_type = 'appointment' and ref_id = %s)"
            " or (ref_type = 'thread' and ref_id = %s)", (dev, appt, thread))
    kept = ctx.sql("select id from outbox where device_id = %s and not ((ref_type = 'appointment'"
                   " and ref_id = %s) or (ref_type = 'thread' and ref_id = %s)) order by id",
                   (dev, appt, thread))
    assert ("appointment", appt) in set(_groups(_conversations(ctx, serial).json))
    for u in _migration_updates("055_conversation_confirmed.sql", 3):
        ctx.sql(u)
    assert ctx.sql1("select device_id from message_threads where id = %s", (thread,))[
        "device_id"] is None
    assert ctx.sql("select id from outbox where device_id = %s order by id", (dev,)) == kept
    assert ctx.sql1("select device_id from message_threads where id = %s", (c["thread"],))[
        "device_id"] == dev
    g = set(_groups(_conversations(ctx, serial).json))
    assert g == {("repair", c["repair"]["id"]), ("appointment", c["booking"]["appointment"]["id"])}
