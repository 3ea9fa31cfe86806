"""Cross-store rules for the shared device record (issue 12, point 1): who may change a device's
owner or facts while a store has it in custody, what a repair's messages are addressed to after
an owner change, and what a search reveals across stores.

The policy is the table POLICY below, written here on purpose apart from the SQL that enforces
it (device_custody_check in schema/api/device.sql), so that the test checks the code:

  Custody. A store has a device in custody while it has an open repair of it (a state that is not
  terminal) or a booking for its serial that is not cancelled and starts on that store's local
  today. While another store has custody, changing the device's owner (POST .../owners, or an
  owner given at repair intake) or its facts (PUT: model, warranty) is refused with 403
  `other_store_custody` (the stores are named in `stores`). "Another store" is a store where the
  caller holds no role: someone who works in both stores acts for the custodian. Refused means
  refused even when nothing would change, or the answer would confirm a guessed owner.
  Reading the record, appending notes and diagnostics, and opening one's own repair (without
  changing the owner) stay open to every store: the record is shared.
  Admins act for the chain: they may override custody (for a customer who moved, a store that
  closed); each override writes a `custody_override` line in the audit log. Store staff may not.

  A repair keeps its contact. A repair's messages go to the owner at intake (or, when the device
  had none, the first owner recorded while the repair is open), never to a later owner.

  Search. An email or a phone finds only the caller's own stores' customers (an owner the
  caller's stores had business with, a booking of those stores); a repair number only their
  repairs; a serial prefix only devices their stores have dealt with. Across stores, a device is
  found by its exact serial.
"""
import os
import re
import threading
import zlib

import psycopg2
import psycopg2.extras

from harness import HANG_GUARD_S, ROOT, Client, wait_for
from smtpsink import SmtpSink

PW = "carnet-demo"
S = {}

# Who acts: the Lyon manager (manager, specialist and technician in Lyon only), the Paris manager
# (manager and specialist in Paris only), someone with a role in both stores, and an admin.
ACTORS = {"lyon": "lyon@carnet.test", "paris": "manager@carnet.test",
          "both": "both-stores@carnet.test", "admin": "admin@carnet.test"}

# Where the device is when the actor acts. Every device has a Paris customer as its owner.
SITUATIONS = ("none", "paris_repair", "paris_repair_closed", "paris_booking_today",
              "paris_booking_done_today", "paris_booking_cancelled", "paris_booking_tomorrow",
              "lyon_repair", "both_repairs")

# (actor, situation, action) -> expected answer: "<status>" or "<status> <error code>".
POLICY = [
    # Nobody has the device: any store's staff may record a new owner or correct the device.
    ("lyon", "none", "owner@lyon", "201"),
    ("lyon", "none", "facts", "200"),
    ("paris", "none", "owner@paris", "201"),
    # An open Paris repair: Lyon may read and add to the record, not change whose it is or what
    # it is. The first row is the case.
    ("lyon", "paris_repair", "owner@lyon", "403 other_store_custody"),
    ("lyon", "paris_repair", "same_owner@lyon", "403 other_store_custody"),
    ("lyon", "paris_repair", "owner@paris", "403 forbidden"),
    ("lyon", "paris_repair", "facts", "403 other_store_custody"),
    ("lyon", "paris_repair", "repair@lyon+owner", "403 other_store_custody"),
    ("lyon", "paris_repair", "repair@lyon", "201"),
    ("lyon", "paris_repair", "note@lyon", "201"),
    ("lyon", "paris_repair", "note", "201"),
    ("lyon", "paris_repair", "diagnostic@lyon", "201"),
    ("lyon", "paris_repair", "read", "200"),
    ("paris", "paris_repair", "owner@paris", "201"),
    ("paris", "paris_repair", "facts", "200"),
    ("both", "paris_repair", "owner@lyon", "201"),
    ("admin", "paris_repair", "owner@lyon", "201"),
    ("admin", "paris_repair", "facts", "200"),
    # A closed repair holds nothing.
    ("lyon", "paris_repair_closed", "owner@lyon", "201"),
    ("lyon", "paris_repair_closed", "facts", "200"),
    # A booking today holds the device for the day, whatever became of it but a cancellation.
    ("lyon", "paris_booking_today", "owner@lyon", "403 other_store_custody"),
    ("lyon", "paris_booking_today", "facts", "403 other_store_custody"),
    ("lyon", "paris_booking_today", "note@lyon", "201"),
    ("paris", "paris_booking_today", "owner@paris", "201"),
    ("lyon", "paris_booking_done_today", "owner@lyon", "403 other_store_custody"),
    ("lyon", "paris_booking_cancelled", "owner@lyon", "201"),
    ("lyon", "paris_booking_tomorrow", "owner@lyon", "201"),
    ("lyon", "paris_booking_tomorrow", "facts", "200"),
    # Custody is any store's, not Paris's privilege.
    ("lyon", "lyon_repair", "owner@lyon", "201"),
    ("paris", "lyon_repair", "owner@paris", "403 other_store_custody"),
    ("paris", "lyon_repair", "same_owner@paris", "403 other_store_custody"),
    ("paris", "lyon_repair", "facts", "403 other_store_custody"),
    ("paris", "lyon_repair", "note@paris", "201"),
    ("paris", "lyon_repair", "read", "200"),
    # Two stores in custody: only someone of both, or an admin.
    ("lyon", "both_repairs", "owner@lyon", "403 other_store_custody"),
    ("paris", "both_repairs", "owner@paris", "403 other_store_custody"),
    ("both", "both_repairs", "owner@lyon", "201"),
    ("admin", "both_repairs", "facts", "200"),
]

FAST = {"CARNET_OUTBOX_INTERVAL_MS": "50", "CARNET_OUTBOX_BACKOFF_MS": "100"}
CHECKLIST = {"checklist": [{"item": "screen", "ok": True}]}
DIAG = [{"test": "battery", "passed": True,
         "values": [{"name": "battery_health", "value": 88, "unit": "%"}]}]


def setup(ctx):
    ctx.seed_demo()
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    both = ctx.sql1("insert into staff (email, name, password_hash)"
                    " select 'both-stores@carnet.test', 'Bea Both', password_hash from staff"
                    " where email = 'manager@carnet.test' returning id")["id"]
    ctx.sql("insert into staff_roles values (%s, %s, 'specialist'), (%s, %s, 'specialist')",
            (both, S["paris"], both, S["lyon"]))
    S["service"] = ctx.sql1("select min(id) as id from services where store_id = %s",
                            (S["paris"],))["id"]
    S["booker"] = ctx.sql1("select id from staff where email = 'specialist@carnet.test'")["id"]
    S["bookings"] = 0


def login(ctx, email, port=None):
    c = Client(port or ctx.server.port)
    c.login(email, PW)
    return c


def who(ctx, actor):
    return login(ctx, ACTORS[actor])


def answer(r):
    return "%d" % r.status if r.status < 300 else "%d %s" % (r.status, r.error.get("code"))


def owner_body(store, serial, name="New Owner"):
    return {"store_id": store, "name": name, "email": "new.%s@example.test" % serial.lower()}


def paris_owner(serial):
    return {"name": "Paul Paris", "email": "paul.%s@example.test" % serial.lower(),
            "phone": "+336%08d" % (zlib.crc32(serial.encode()) % 100000000)}


def open_repair(c, store, serial, owner=None):
    body = {"serial": serial, "problem": "screen", "intake": CHECKLIST}
    if owner:
        body["owner"] = owner
    return c.post("/api/stores/%d/repairs" % store, body)


def book(ctx, serial, days=0, status="booked"):
    """A Paris booking for the device on the store's local day `days` from today (a row, as the
    floor tests make them: the booking page only offers future slots)."""
    S["bookings"] += 1
    return ctx.sql1(
        "insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
        " blocked_until, status, code, customer_name, customer_email, device_serial,"
        " cancelled_at)"
        " values (%s, %s, %s, %s::timestamptz + make_interval(mins => %s),"
        " %s::timestamptz + make_interval(mins => %s + 5),"
        " %s::timestamptz + make_interval(mins => %s + 5), %s, booking_new_code(), 'Paul Paris',"
        " %s, %s, case when %s = 'cancelled' then now() end) returning id",
        (S["paris"], S["service"], S["booker"], ctx.store_noon(S["paris"], days),
         S["bookings"] * 7, ctx.store_noon(S["paris"], days), S["bookings"] * 7,
         ctx.store_noon(S["paris"], days), S["bookings"] * 7, status,
         paris_owner(serial)["email"], serial, status))["id"]


def make_situation(ctx, situation, serial):
    paris, tech, lyon = who(ctx, "paris"), login(ctx, "tech@carnet.test"), who(ctx, "lyon")
    assert tech.put("/api/devices/" + serial, {"model": "iPhone 14"}).status == 201
    r = paris.post("/api/devices/%s/owners" % serial, dict(paris_owner(serial), store_id=S["paris"]))
    assert r.status == 201, r
    if situation in ("paris_repair", "paris_repair_closed", "both_repairs"):
        r = open_repair(tech, S["paris"], serial)
        assert r.status == 201, r
        if situation == "paris_repair_closed":
            r = tech.post("/api/repairs/%d/transition" % r.json["id"], {"to": "cancelled"})
            assert r.status == 200, r
    if situation in ("lyon_repair", "both_repairs"):
        assert open_repair(lyon, S["lyon"], serial).status == 201
    if situation.startswith("paris_booking_"):
        kind = situation[len("paris_booking_"):]
        book(ctx, serial, days=1 if kind == "tomorrow" else 0,
             status={"today": "booked", "done_today": "done", "cancelled": "cancelled",
                     "tomorrow": "booked"}[kind])


def act(ctx, c, action, serial):
    if action.startswith("owner@"):
        return c.post("/api/devices/%s/owners" % serial, owner_body(S[action[6:]], serial))
    if action.startswith("same_owner@"):
        return c.post("/api/devices/%s/owners" % serial,
                      dict(paris_owner(serial), store_id=S[action[11:]]))
    if action == "facts":
        return c.put("/api/devices/" + serial, {"model": "Changed", "warranty_end": "2030-01-01"})
    if action.startswith("note"):
        body = {"text": "looked at it"}
        if "@" in action:
            body["store_id"] = S[action[5:]]
        return c.post("/api/devices/%s/notes" % serial, body)
    if action == "diagnostic@lyon":
        return c.post("/api/devices/%s/diagnostics" % serial,
                      {"store_id": S["lyon"], "results": DIAG})
    if action == "read":
        return c.get("/api/devices/" + serial)
    if action == "repair@lyon":
        return open_repair(c, S["lyon"], serial)
    if action == "repair@lyon+owner":
        return open_repair(c, S["lyon"], serial, {"name": "Evil Lyon", "email": "e2@example.test"})
    raise AssertionError("no such action " + action)


def device_state(ctx, serial):
    """Everything a refused change could have touched, read back from the database."""
    d = ctx.sql1("select id, model, warranty_end, encode(head_hash, 'hex') as head from devices"
                 " where serial = %s", (serial,))
    return {
        "device": d,
        "owners": ctx.sql("select id, name, email, phone, since, until from device_owners"
                          " where device_id = %s order by id", (d["id"],)),
        "entries": ctx.sql1("select count(*) as n from record_entries where device_id = %s",
                            (d["id"],))["n"],
        "repairs": ctx.sql("select id, state, contact_owner_id from repair_orders"
                           " where device_id = %s order by id", (d["id"],)),
        "counters": ctx.sql("select * from repair_counters order by store_id"),
        "audit": ctx.sql1("select count(*) as n from audit_log where object_type = 'device'"
                          " and object_id = %s", (str(d["id"]),))["n"],
    }


def overrides(ctx, serial):
    return ctx.sql1("select count(*) as n from audit_log a join devices d on a.object_id = d.id::text"
                    " where a.action = 'custody_override' and a.object_type = 'device'"
                    " and d.serial = %s", (serial,))["n"]


def test_the_policy_table_is_well_formed(ctx):
    keys = [(a, s, x) for a, s, x, _ in POLICY]
    assert len(keys) == len(set(keys)), "a policy row is written twice"
    for actor, situation, _, expected in POLICY:
        assert actor in ACTORS and situation in SITUATIONS, (actor, situation)
        assert re.match(r"^\d{3}( [a-z_]+)?$", expected), expected
    assert {s for _, s, _, _ in POLICY} == set(SITUATIONS), "a situation without a row"
    # The issue's own case is in the table.
    assert ("lyon", "paris_repair", "owner@lyon", "403 other_store_custody") in POLICY


def test_every_policy_row_against_the_server(ctx):
    ctx.clear_of_midnight(S["paris"])
    clients = {a: who(ctx, a) for a in ACTORS}
    bad = []
    for i, (actor, situation, action, expected) in enumerate(POLICY):
        serial = "CUSTD%04d" % i
        make_situation(ctx, situation, serial)
        before = device_state(ctx, serial)
        r = act(ctx, clients[actor], action, serial)
        got = answer(r)
        row = (actor, situation, action)
        if got != expected:
            bad.append((row, "expected " + expected, "got " + got, r.raw[:200]))
            continue
        after = device_state(ctx, serial)
        custody_elsewhere = situation in ("paris_repair", "paris_booking_today",
                                          "paris_booking_done_today", "both_repairs",
                                          "lyon_repair")
        if r.status == 403:
            if after != before:
                bad.append((row, "a refused request changed", before, after))
            if "custody" in expected and not r.json["error"].get("stores"):
                bad.append((row, "the refusal does not name the stores", r.json))
            continue
        now_owner = after["owners"][-1] if after["owners"] else None
        if action.startswith("owner@") and (now_owner is None or now_owner["until"] is not None
                                            or not ctx.opened(now_owner["email"]).startswith("new.")):
            bad.append((row, "the owner did not change", after["owners"]))
        if action == "facts" and str(after["device"]["warranty_end"]) != "2030-01-01":
            bad.append((row, "the facts did not change", after["device"]))
        # Only an admin overrides, and only when another store has the device.
        want = 1 if actor == "admin" and custody_elsewhere and action in ("facts", "owner@lyon") \
            else 0
        if overrides(ctx, serial) != want:
            bad.append((row, "custody_override audit lines: %d, expected %d"
                        % (overrides(ctx, serial), want)))
    assert not bad, "\n".join(repr(b) for b in bad)


def test_lyon_staff_with_lyons_store_id_cannot_take_a_paris_repair_customer(ctx):
    """The issue's report, step by step: the 403 names Paris, and the repair's customer and
    status link stay where they were."""
    tech, lyon = login(ctx, "tech@carnet.test"), who(ctx, "lyon")
    r = open_repair(tech, S["paris"], "F2LPARIS0001",
                    {"name": "Paul", "email": "paul@example.test", "phone": "+33 6 00 00 00 01"})
    assert r.status == 201, r
    rid = r.json["id"]
    before = device_state(ctx, "F2LPARIS0001")
    r = lyon.post("/api/devices/F2LPARIS0001/owners",
                  {"store_id": S["lyon"], "name": "Evil Lyon", "email": "e2@example.test"})
    assert r.status == 403 and r.error["code"] == "other_store_custody", r
    assert r.error["field"] == "serial" and r.json["error"]["stores"] == [S["paris"]], r
    r = lyon.put("/api/devices/F2LPARIS0001", {"warranty_end": "2030-01-01"})
    assert r.status == 403 and r.error["code"] == "other_store_custody", r
    assert device_state(ctx, "F2LPARIS0001") == before
    owner = ctx.sql1("select o.email from repair_orders r join device_owners o"
                     " on o.id = r.contact_owner_id where r.id = %s", (rid,))
    assert ctx.opened(owner["email"]) == "paul@example.test", owner
    # Lyon still reads the shared record, without the Paris customer in it.
    rec = lyon.get("/api/devices/F2LPARIS0001")
    assert rec.status == 200 and rec.json["owner"]["redacted"] is True, rec
    assert "paul@" not in rec.raw.decode() and "Paul" not in rec.raw.decode(), rec


def test_bad_input_is_judged_before_custody(ctx):
    """A malformed change is a 422 on its field whoever asks; only a well-formed one meets
    custody. Neither changes anything."""
    make_situation(ctx, "paris_repair", "CUSTBAD001")
    lyon = who(ctx, "lyon")
    before = device_state(ctx, "CUSTBAD001")
    r = lyon.post("/api/devices/CUSTBAD001/owners", {"store_id": S["lyon"], "name": "X",
                                                     "email": "not an email"})
    assert r.status == 422 and r.error["field"] == "owner.email", r
    r = lyon.put("/api/devices/CUSTBAD001", {"warranty_end": "someday"})
    assert r.status == 422 and r.error["field"] == "warranty_end", r
    r = lyon.post("/api/devices/CUSTNONE01/owners", owner_body(S["lyon"], "CUSTNONE01"))
    assert r.status == 404, r
    assert device_state(ctx, "CUSTBAD001") == before


def _quiet(ctx):
    """Only the test's own carnetd delivers: the module's others are stopped and nothing waits."""
    for s in ctx.servers:
        s.stop()
    ctx.sql("update outbox set status = 'cancelled', once_key = null"
            " where status in ('pending', 'sending')")


def _delivered(ctx, sink, n):
    def done():
        pending = ctx.sql1("select count(*) as n from outbox where status in ('pending', 'sending')")
        return len(sink.messages) >= n and pending["n"] == 0
    wait_for(done, "%d delivered messages" % n, timeout=HANG_GUARD_S)
    return [m["to"] for m in sink.messages]


def _every_move_tells(ctx, on=True):
    """Paris sends a message for every repair move (by default only some do: repair-settings),
    so that each kind of message is seen to reach the intake's customer; off: the default."""
    if on:
        ctx.sql("insert into repair_settings (store_id, notify) values (%s, array['diagnosing', "
                "'awaiting_approval', 'awaiting_parts', 'repairing', 'testing', 'ready', "
                "'returned_unrepaired', 'cancelled', 'delayed']) on conflict (store_id) do "
                "update set notify = excluded.notify", (S["paris"],))
    else:
        ctx.sql("delete from repair_settings where store_id = %s", (S["paris"],))


def test_a_repair_keeps_the_contact_given_at_intake(ctx):
    """An owner change after intake (here by an admin, the only one custody lets through from
    another store) redirects none of the repair's messages: status moves, a staff answer in the
    repair's thread, the pick-up notice and the survey all go to the customer of the intake."""
    _quiet(ctx)
    sink = SmtpSink()
    _every_move_tells(ctx)
    try:
        s = ctx.start_carnetd(env=dict(FAST, CARNET_SMTP_URL=sink.url))
        tech, admin = login(ctx, "tech@carnet.test", s.port), login(ctx, ACTORS["admin"], s.port)
        r = open_repair(tech, S["paris"], "CUSTMSG001",
                        {"name": "Ines Intake", "email": "ines.intake@example.test"})
        assert r.status == 201, r
        rid, token = r.json["id"], r.json["status_token"]
        r = admin.post("/api/devices/CUSTMSG001/owners",
                       {"store_id": S["lyon"], "name": "Later Owner", "email": "later@example.test"})
        assert r.status == 201, r
        assert admin.get("/api/devices/CUSTMSG001").json["owner"]["email"] == "later@example.test"
        r = tech.post("/api/repairs/%d/transition" % rid, {"to": "diagnosing"})
        assert r.status == 200, r
        thread = Client(s.port).post("/api/messages/" + token, {"body": "Any news?"})
        assert thread.status == 201, thread
        r = tech.post("/api/stores/%d/threads/%d/messages" % (S["paris"], thread.json["thread_id"]),
                      {"body": "Tomorrow."})
        assert r.status == 201, r
        for to in ("repairing", "testing", "ready", "collected"):
            r = tech.post("/api/repairs/%d/transition" % rid, {"to": to})
            assert r.status == 200, (to, r)
        # intake, diagnosing, the answer, repairing, testing, ready for pick-up, the survey
        to = _delivered(ctx, sink, 7)
        assert to == [["<ines.intake@example.test>"]] * 7, to
        assert not any(token.encode() in m["data"] for m in sink.messages
                       if m["to"] != ["<ines.intake@example.test>"])
        s.stop()
    finally:
        sink.close()
        _every_move_tells(ctx, False)


def test_a_repair_without_an_owner_takes_the_first_one_recorded(ctx):
    """A repair opened for a device with no owner on file tells nobody until its store records
    one; that owner is then its customer, and a later change does not redirect it either (the
    thread the customer opens from the status link included)."""
    _quiet(ctx)
    sink = SmtpSink()
    _every_move_tells(ctx)
    try:
        s = ctx.start_carnetd(env=dict(FAST, CARNET_SMTP_URL=sink.url))
        tech = login(ctx, "tech@carnet.test", s.port)
        paris, admin = login(ctx, ACTORS["paris"], s.port), login(ctx, ACTORS["admin"], s.port)
        r = open_repair(tech, S["paris"], "CUSTMSG002")
        assert r.status == 201, r
        rid, token = r.json["id"], r.json["status_token"]
        assert ctx.sql1("select contact_owner_id from repair_orders where id = %s",
                        (rid,))["contact_owner_id"] is None
        r = paris.post("/api/devices/CUSTMSG002/owners",
                       {"store_id": S["paris"], "name": "First", "email": "first@example.test"})
        assert r.status == 201, r
        r = admin.post("/api/devices/CUSTMSG002/owners",
                       {"store_id": S["paris"], "name": "Second", "email": "second@example.test"})
        assert r.status == 201, r
        thread = Client(s.port).post("/api/messages/" + token, {"body": "Hello?"})
        assert thread.status == 201, thread
        r = tech.post("/api/stores/%d/threads/%d/messages" % (S["paris"], thread.json["thread_id"]),
                      {"body": "Hi."})
        assert r.status == 201, r
        assert tech.post("/api/repairs/%d/transition" % rid, {"to": "diagnosing"}).status == 200
        to = _delivered(ctx, sink, 2)
        assert to == [["<first@example.test>"]] * 2, to
        s.stop()
    finally:
        sink.close()
        _every_move_tells(ctx, False)


def test_search_finds_other_stores_devices_by_exact_serial_only(ctx):
    paris, lyon, admin = who(ctx, "paris"), who(ctx, "lyon"), who(ctx, "admin")
    tech = login(ctx, "tech@carnet.test")
    owner = {"name": "Paul Search", "email": "paul.search@example.test",
             "phone": "+33 6 55 44 33 22"}
    r = open_repair(tech, S["paris"], "CUSTSRCH01", owner)
    assert r.status == 201, r
    number = r.json["number"]
    assert tech.put("/api/devices/CUSTSRCH02", {"model": "iPad"}).status == 201
    book(ctx, "CUSTSRCH02", days=3)
    # Written in clear by SQL (their blind indexes unknown until carnetd's job seals them):
    # the search finds them either way.
    ctx.sql("update appointments set customer_email = 'booker.search@example.test',"
            " customer_phone = '+33655443311', customer_email_bi = null,"
            " customer_phone_bi = null where device_serial = 'CUSTSRCH02'")

    def found(c, query):
        r = c.get("/api/devices?q=" + re.sub(r"[^A-Za-z0-9.@-]", lambda m: "%%%02X" % ord(m.group()),
                                             query))
        assert r.status == 200, (query, r)
        return [(x["serial"], x["match"]) for x in r.json["results"]], r.raw.decode()

    for query, match in (("paul.search@example.test", "email"), ("+33 655-44-33-22", "phone"),
                         (number, "repair"), ("booker.search@example.test", "appointment_email"),
                         ("+33 6 55 44 33 11", "appointment_phone"), ("custsrch0", "serial_prefix")):
        got, _ = found(paris, query)
        assert got and all(m == match for _, m in got), (query, got)
        got, _ = found(admin, query)
        assert got and all(m == match for _, m in got), (query, got)
        # Lyon learns nothing from the same questions, not even that there is an answer.
        got, raw = found(lyon, query)
        assert got == [], (query, got)
        assert "CUSTSRCH" not in raw and "paul" not in raw.lower(), (query, raw)
    # Across stores, the exact serial finds the device, and its answer names no customer.
    got, raw = found(lyon, "custsrch01")
    assert got == [("CUSTSRCH01", "serial")], got
    assert "paul" not in raw.lower() and "example.test" not in raw, raw
    # A note is not business: writing one does not make Paris's customer Lyon's.
    assert lyon.post("/api/devices/CUSTSRCH01/notes",
                     {"text": "seen in Lyon", "store_id": S["lyon"]}).status == 201
    assert found(lyon, "paul.search@example.test")[0] == []
    assert lyon.get("/api/devices/CUSTSRCH01").json["owner"]["redacted"] is True
    # The customer bringing the device to Lyon does: Lyon's repair, Lyon's customer.
    assert open_repair(lyon, S["lyon"], "CUSTSRCH01").status == 201
    assert found(lyon, "paul.search@example.test")[0] == [("CUSTSRCH01", "email")]


def test_custody_migration_backfills_the_intake_owner(ctx):
    """011's backfill, run again on repairs whose contact it must work out: the owner at intake
    for every repair; an open repair opened without one takes the first owner after; a closed
    one opened without one stays silent."""
    tech, paris, admin = login(ctx, "tech@carnet.test"), who(ctx, "paris"), who(ctx, "admin")

    def owner_id(serial):
        return ctx.sql1("select o.id from device_owners o join devices d on d.id = o.device_id"
                        " where d.serial = %s and o.until is null", (serial,))["id"]

    def new_owner(c, serial, name):
        r = c.post("/api/devices/%s/owners" % serial,
                   {"store_id": S["paris"], "name": name, "email": name.lower() + "@example.test"})
        assert r.status == 201, r
        return owner_id(serial)

    r1 = open_repair(tech, S["paris"], "CUSTMIG001", {"name": "A", "email": "a@example.test"}).json
    a1 = owner_id("CUSTMIG001")
    new_owner(admin, "CUSTMIG001", "B")
    r2 = open_repair(tech, S["paris"], "CUSTMIG002").json
    a2 = new_owner(paris, "CUSTMIG002", "First")
    new_owner(admin, "CUSTMIG002", "Second")
    r3 = open_repair(tech, S["paris"], "CUSTMIG003").json
    assert tech.post("/api/repairs/%d/transition" % r3["id"], {"to": "cancelled"}).status == 200
    new_owner(paris, "CUSTMIG003", "Late")
    ids = (r1["id"], r2["id"], r3["id"])
    with open(os.path.join(ROOT, "schema", "011_custody.sql")) as f:
        backfill = re.search(r"^update repair_orders r set contact_owner_id.*?;$", f.read(),
                             re.S | re.M).group(0)
    conn = psycopg2.connect(ctx.url)
    try:
        with conn.cursor() as cur:
            cur.execute("update repair_orders set contact_owner_id = null where id in %s", (ids,))
            cur.execute(backfill)
            cur.execute("select id, contact_owner_id from repair_orders where id in %s order by id",
                        (ids,))
            got = dict(cur.fetchall())
    finally:
        conn.rollback()
        conn.close()
    assert got == {r1["id"]: a1, r2["id"]: a2, r3["id"]: None}, got
    # The live rule agrees with the backfill.
    live = dict((x["id"], x["contact_owner_id"]) for x in ctx.sql(
        "select id, contact_owner_id from repair_orders where id in %s", (ids,)))
    assert live == got, live


def test_an_owner_change_racing_an_intake_is_judged_after_it(ctx):
    """Custody is judged on what committed: an owner change that arrives while another store's
    intake of the device is under way waits for it and is then refused; an intake that arrives
    while an owner change is under way waits for it and takes that owner as its customer."""
    lyon = who(ctx, "lyon")
    tech_id = ctx.sql1("select id from staff where email = 'tech@carnet.test'")["id"]
    lyon_id = ctx.sql1("select id from staff where email = 'lyon@carnet.test'")["id"]
    make_situation(ctx, "none", "CUSTRACE01")
    make_situation(ctx, "none", "CUSTRACE02")
    intake = {"serial": "CUSTRACE01", "problem": "screen", "intake": CHECKLIST}

    conn = psycopg2.connect(ctx.url)
    try:
        with conn.cursor() as cur:
            cur.execute("select repair_open(%s, %s, %s::jsonb, %s, 'race')",
                        (tech_id, S["paris"], psycopg2.extras.Json(intake), "ab" * 32))
        got = {}
        t = threading.Thread(target=lambda: got.setdefault("r", lyon.post(
            "/api/devices/CUSTRACE01/owners", owner_body(S["lyon"], "CUSTRACE01"))))
        t.start()
        ctx.wait_lock_waiters(1)
        conn.commit()
        t.join(HANG_GUARD_S)
    finally:
        conn.close()
    assert answer(got["r"]) == "403 other_store_custody", got["r"]

    conn = psycopg2.connect(ctx.url)
    tech = login(ctx, "tech@carnet.test")
    try:
        with conn.cursor() as cur:
            cur.execute("select device_owner_add(%s, 'CUSTRACE02', %s::jsonb, 'race')",
                        (lyon_id, psycopg2.extras.Json(owner_body(S["lyon"], "CUSTRACE02"))))
        got = {}
        t = threading.Thread(target=lambda: got.setdefault("r", open_repair(
            tech, S["paris"], "CUSTRACE02")))
        t.start()
        ctx.wait_lock_waiters(1)
        conn.commit()
        t.join(HANG_GUARD_S)
    finally:
        conn.close()
    assert got["r"].status == 201, got["r"]
    contact = ctx.sql1("select o.email from repair_orders r join device_owners o"
                       " on o.id = r.contact_owner_id where r.id = %s", (got["r"].json["id"],))
    assert ctx.opened(contact["email"]) == "new.custrace02@example.test", contact
