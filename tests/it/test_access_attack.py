"""Attacks on issue 12's access-control promises, as another store's staff, an anonymous visitor
and someone holding the serving role's database credentials would try them.

What must hold (README: "One record, shared between stores", "Access and erasure", "Database
roles"):
  * Another store's staff learn nothing about a store's customer from the shared record: a
    booking or a walk-in that anybody can make at their store, naming the device's serial, does
    not make the device's owner their customer (the owner stays redacted, a search by the owner's
    email or phone finds nothing).
  * While a store has a device in custody, another store cannot change its owner or facts by any
    route or any spelling of the serial.
  * A manager erases what their stores hold: an owner row that another store's repair keeps as
    its contact is that store's, and stays.
  * The serving role may execute the sealing job's pd_store, but through it can only put sealed
    values in place of what they seal: no clear value, no other text of a message, no column
    that is not personal data, no replacing a value already sealed under the current key.
"""
import json
from urllib.parse import quote

import psycopg2

from harness import Client

S = {}


def setup(ctx):
    ctx.seed_demo()
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    S["lyon_service"] = ctx.sql1("select min(id) as id from services where store_id = %s",
                                 (S["lyon"],))["id"]


def paris_device(ctx, serial, repair=True):
    """A device whose owner Paris recorded, with an open Paris repair when `repair`."""
    paris = ctx.staff("manager@carnet.test")
    owner = {"name": "Pauline Paris", "email": "pauline.%s@example.test" % serial.lower(),
             "phone": "+33 6 11 22 %02d %02d" % (len(serial), sum(map(ord, serial)) % 100)}
    assert paris.put("/api/devices/" + serial, {"model": "iPhone 13"}).status == 201
    r = paris.post("/api/devices/%s/owners" % serial, dict(owner, store_id=S["paris"]))
    assert r.status == 201, r
    if repair:
        r = paris.post("/api/stores/%d/repairs" % S["paris"],
                       {"serial": serial, "problem": "screen",
                        "intake": {"checklist": [{"item": "screen", "ok": True}]}})
        assert r.status == 201, r
        owner["repair"] = r.json
    return owner


def lyon_slot(ctx):
    """A free start time at Lyon, a few days ahead."""
    c = Client(ctx.server.port)
    day = ctx.store_today(S["lyon"])
    import datetime
    frm, to = day + datetime.timedelta(days=2), day + datetime.timedelta(days=9)
    r = c.get("/api/stores/%d/availability?service=%d&from=%s&to=%s"
              % (S["lyon"], S["lyon_service"], frm, to))
    assert r.status == 200, r
    for d in r.json["days"]:
        if d["slots"]:
            s = d["slots"][0]
            return s["starts_at"] if isinstance(s, dict) else s
    raise AssertionError("no free slot at Lyon")


# ---- the shared record ----

def test_an_anonymous_booking_naming_the_serial_does_not_reveal_the_owner(ctx):
    serial = "ATKVIS0001"
    owner = paris_device(ctx, serial)
    lyon = ctx.staff("lyon@carnet.test")
    assert lyon.get("/api/devices/" + serial).json["owner"]["redacted"] is True
    # Anybody (the Lyon manager, signed out) books at Lyon naming the Paris customer's serial.
    r = Client(ctx.server.port).post(
        "/api/stores/%d/appointments" % S["lyon"],
        {"name": "Eve", "email": "eve@example.test", "service_id": S["lyon_service"],
         "starts_at": lyon_slot(ctx), "serial": serial})
    assert r.status == 201, r
    # ... and a walk-in at the Lyon kiosk naming it too.
    r = Client(ctx.server.port).post("/api/stores/%d/line" % S["lyon"],
                                     {"name": "Eve", "contact": "+33699999999", "serial": serial})
    assert r.status in (201, 409, 422), r
    rec = lyon.get("/api/devices/" + serial)
    assert rec.status == 200, rec
    assert rec.json["owner"]["redacted"] is True, rec.json["owner"]
    assert all(o.get("redacted") for o in rec.json.get("owners", []) if isinstance(o, dict)), rec.json
    assert owner["email"].split("@")[0] not in json.dumps(rec.json)
    for q in (owner["email"], owner["email"].upper(), owner["phone"],
              owner["phone"].replace(" ", ""), owner["phone"].replace(" ", "-")):
        r = lyon.get("/api/devices?q=" + quote(q))
        assert r.status == 200 and r.json["results"] == [], (q, r)
    # Paris still sees its customer.
    paris = ctx.staff("manager@carnet.test")
    assert paris.get("/api/devices/" + serial).json["owner"]["redacted"] is False
    r = paris.get("/api/devices?q=" + owner["email"].upper())
    assert [x["serial"] for x in r.json["results"]] == [serial], r


def test_custody_holds_for_every_spelling_of_the_serial(ctx):
    serial = "ATKCUS0002"
    paris_device(ctx, serial)
    lyon = ctx.staff("lyon@carnet.test")
    evil = {"name": "Evil Lyon", "email": "evil@example.test"}
    for spelled in (serial.lower(), " %s " % serial.lower().replace("0", " 0"), serial):
        path = "/api/devices/" + spelled.replace(" ", "%20")
        r = lyon.post(path + "/owners", dict(evil, store_id=S["lyon"]))
        assert r.status == 403 and r.error["code"] == "other_store_custody", (spelled, r)
        r = lyon.put(path, {"warranty_end": "2030-01-01"})
        assert r.status == 403 and r.error["code"] == "other_store_custody", (spelled, r)
        r = lyon.post("/api/stores/%d/repairs" % S["lyon"],
                      {"serial": spelled, "problem": "x", "owner": evil,
                       "intake": {"checklist": [{"item": "screen", "ok": True}]}})
        assert r.status == 403 and r.error["code"] == "other_store_custody", (spelled, r)
    # The owner and facts are Paris's still.
    row = ctx.sql1("select d.warranty_end, o.name from devices d join device_owners o"
                   " on o.device_id = d.id and o.until is null where d.serial = %s", (serial,))
    assert row["warranty_end"] is None and row["name"] != "Evil Lyon", row


def test_search_across_stores_is_exact_serial_only(ctx):
    serial = "ATKSRC0003"
    owner = paris_device(ctx, serial)
    lyon = ctx.staff("lyon@carnet.test")
    for q in (serial[:-1], serial[:5], serial.lower()[:-2], owner["repair"]["number"],
              owner["repair"]["number"].lower()):
        r = lyon.get("/api/devices?q=" + q)
        assert r.status == 200 and r.json["results"] == [], (q, r)
    r = lyon.get("/api/devices?q=" + serial.lower())
    assert [x["serial"] for x in r.json["results"]] == [serial], r


# ---- access and erasure ----

def test_a_manager_cannot_erase_an_owner_another_store_keeps_as_its_contact(ctx):
    """Lyon opens its own repair of a Paris customer's device (allowed: the record is shared), so
    the customer is a Lyon customer too; a Lyon erasure erases what Lyon holds, not the owner
    row that Paris's open repair writes to."""
    serial = "ATKERA0004"
    owner = paris_device(ctx, serial)
    lyon = ctx.staff("lyon@carnet.test")
    r = lyon.post("/api/stores/%d/repairs" % S["lyon"],
                  {"serial": serial, "problem": "battery",
                   "intake": {"checklist": [{"item": "screen", "ok": True}]}})
    assert r.status == 201, r
    r = lyon.post("/api/customers/erase", {"email": owner["email"]})
    assert r.status in (200, 404), r
    row = ctx.sql1("select o.name, o.email, o.erased_at from repair_orders r"
                   " join device_owners o on o.id = r.contact_owner_id where r.id = %s",
                   (owner["repair"]["id"],))
    assert row["erased_at"] is None and row["email"] is not None, row
    # Nor can Paris now: Lyon's repair has the same contact. That needs an admin.
    r = ctx.staff("manager@carnet.test").post("/api/customers/erase", {"email": owner["email"]})
    assert r.status == 200 and r.json["owners"] == 0, r
    assert ctx.sql1("select o.erased_at from repair_orders r join device_owners o"
                    " on o.id = r.contact_owner_id where r.id = %s",
                    (owner["repair"]["id"],))["erased_at"] is None
    r = ctx.staff("admin@carnet.test").post("/api/customers/erase", {"email": owner["email"]})
    assert r.status == 200 and r.json["owners"] == 1, r
    assert ctx.sql1("select o.erased_at from repair_orders r join device_owners o"
                    " on o.id = r.contact_owner_id where r.id = %s",
                    (owner["repair"]["id"],))["erased_at"] is not None


def test_another_stores_customer_is_answered_like_nobody(ctx):
    owner = paris_device(ctx, "ATKGDP0005", repair=True)
    lyon = ctx.staff("lyon@carnet.test")
    for key, known, unknown in (("email", owner["email"], "nobody.atk@example.test"),
                                ("phone", owner["phone"], "+33 6 00 00 00 01")):
        a = lyon.get("/api/customers?%s=%s" % (key, quote(known)))
        b = lyon.get("/api/customers?%s=%s" % (key, quote(unknown)))
        assert a.status == b.status == 404, (a, b)
        assert a.raw == b.raw, (a.raw, b.raw)
        skip = {"date", "x-request-id"}
        ha = sorted((k.lower(), v) for k, v in a.headers if k.lower() not in skip)
        hb = sorted((k.lower(), v) for k, v in b.headers if k.lower() not in skip)
        assert ha == hb, (ha, hb)
        a = lyon.post("/api/customers/erase", {key: known})
        b = lyon.post("/api/customers/erase", {key: unknown})
        assert a.status == b.status == 404 and a.raw == b.raw, (a, b)
    # Lyon's list of requests is Lyon's; Paris's is not Lyon's to read.
    assert lyon.get("/api/stores/%d/erasure-requests" % S["paris"]).status == 403
    spec = ctx.staff("specialist@carnet.test")
    assert spec.get("/api/customers?email=" + owner["email"]).status == 403
    assert spec.post("/api/customers/erase", {"email": owner["email"]}).status == 403
    anon = Client(ctx.server.port)
    assert anon.get("/api/customers?email=" + owner["email"]).status == 401
    assert anon.post("/api/customers/erase", {"email": owner["email"]}).status == 401
    # Nothing was erased by any of that.
    assert ctx.sql1("select count(*) as n from device_owners o join devices d on d.id = o.device_id"
                    " where d.serial = 'ATKGDP0005' and o.erased_at is not null")["n"] == 0


# ---- the serving role's credentials ----

def _app(ctx):
    conn = psycopg2.connect(ctx.app_url)
    conn.autocommit = True
    return conn


def _call(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0] if cur.description else None


def _due(conn, tbl, col, row_id, kid):
    """What pd_due tells anyone who may call it about one value: its md5 (the `old` pd_store
    asks for), asked as a rotation to a key id nobody holds, so that everything is 'due'. (The
    current key id `kid` is no secret: it is in every marker an API answer carries.)"""
    due = _call(conn, "select pd_due('00000000deadbeef', 100000, %s::text[], true)",
                ("{00000000deadbeef,%s}" % kid,))
    for it in due:
        if it["t"] == tbl and it["c"] == col and it["id"] == row_id:
            return it
    raise AssertionError("pd_due did not list %s.%s %s" % (tbl, col, row_id))


def _refused_or_nothing(conn, rows):
    try:
        n = _call(conn, "select pd_store(%s::json)", (json.dumps(rows),))
    except psycopg2.Error as e:
        return e.pgcode
    return n


def test_pd_store_cannot_point_at_the_record_or_the_audit_log(ctx):
    app = _app(ctx)
    try:
        for t, c in (("record_entries", "content"), ("audit_log", "detail"),
                     ("device_owners", "until"), ("repair_orders", "state"),
                     ("staff", "password_hash")):
            got = _refused_or_nothing(app, [{"t": t, "id": 1, "c": c, "old": "x", "v": "y",
                                             "bi": None}])
            assert got == "CA422", (t, c, got)
    finally:
        app.close()


def test_pd_store_cannot_redirect_a_customer_or_rewrite_a_message(ctx):
    serial = "ATKPDS0006"
    paris_device(ctx, serial, repair=False)
    oid = ctx.sql1("select o.id from device_owners o join devices d on d.id = o.device_id"
                   " where d.serial = %s and o.until is null", (serial,))["id"]
    before = ctx.sql1("select email, email_bi, name from device_owners where id = %s", (oid,))
    assert ctx.is_pd(before["email"]), before
    x = ctx.sql1("insert into outbox (store_id, kind, channel, recipient, subject, body, data,"
                 " status, locale, sms) values (%s, 'test', 'email', 'c@example.test', 'Your repair',"
                 " 'Hello, your repair is ready.', '{\"name\": \"Cleo\"}', 'failed', 'en', '')"
                 " returning id", (S["paris"],))["id"]
    # Let the sealing job seal the new row's values (its next round).
    import harness
    harness.wait_for(lambda: ctx.is_pd(ctx.sql1("select recipient from outbox where id = %s",
                                                (x,))["recipient"]), "the outbox row sealed")
    bx = ctx.sql1("select recipient, subject, body, data::text as data from outbox where id = %s",
                  (x,))
    app = _app(ctx)
    try:
        marker = ctx.sql1("select customer_email from appointments where customer_email like"
                          " '{{pd:%%' limit 1")
        attempts = [
            # A clear address of the attacker's, with a blind index of their choosing.
            ("device_owners", "email", oid, "evil@example.test", before["email_bi"]),
            ("device_owners", "name", oid, "Evil", None),
            ("outbox", "recipient", x, "evil@example.test", None),
            ("outbox", "body", x, "Pay here: https://evil.example/", None),
            ("outbox", "subject", x, "Urgent", None),
            ("outbox", "data", x, '{"name": "Evil"}', None),
        ]
        if marker:
            # Someone else's sealed address in place of one already sealed under the current key.
            attempts.append(("device_owners", "email", oid, marker["customer_email"],
                             before["email_bi"]))
            attempts.append(("outbox", "recipient", x, marker["customer_email"], None))
        # pd_due hands anyone who may call it the md5 pd_store asks for; the attacker of a
        # message text may also guess its template. Either way, they have it.
        assert _due(app, "device_owners", "email", oid, before["email"][5:21])["h"] == \
            ctx.sql1("select md5(email) as h from device_owners where id = %s", (oid,))["h"]
        for t, c, rid, v, bi in attempts:
            old = ctx.sql1("select md5(%s::text) as h from %s where id = %%s" % (c, t),
                           (rid,))["h"]
            got = _refused_or_nothing(app, [{"t": t, "id": rid, "c": c, "old": old, "v": v,
                                             "bi": bi}])
            # carnet_fail(422): refused, not merely skipped.
            assert got == "CA422", (t, c, v, got)
    finally:
        app.close()
    after = ctx.sql1("select email, email_bi, name from device_owners where id = %s", (oid,))
    assert after == before
    ax = ctx.sql1("select recipient, subject, body, data::text as data from outbox where id = %s",
                  (x,))
    assert ax == bx


def test_the_serving_role_cannot_redact_the_record_by_hand(ctx):
    app = _app(ctx)
    try:
        with app.cursor() as cur:
            cur.execute("begin")
            cur.execute("select set_config('carnet.redact_entry', "
                        "(select min(id) from record_entries)::text, true)")
    except psycopg2.Error as e:
        # Reading record_entries is refused already.
        assert e.pgcode == "42501", e.pgerror
        app.rollback() if not app.autocommit else None
    finally:
        app.close()
    app = _app(ctx)
    try:
        with app.cursor() as cur:
            try:
                cur.execute("begin; select set_config('carnet.redact_entry', '1', true);"
                            " update record_entries set content = '{}' where id = 1; commit")
                raise AssertionError("the serving role updated record_entries")
            except psycopg2.Error as e:
                assert e.pgcode == "42501", e.pgerror
    finally:
        app.close()


# ---- sign-in throttling ----

def _begin(ctx, email, address):
    try:
        ctx.sql1("select auth_login_begin(%s, %s, %s) as j", (email, address, ctx.login_key()))
        return "ok"
    except psycopg2.Error as e:
        return e.pgcode


def test_an_ipv6_host_does_not_get_fresh_addresses_from_its_own_64(ctx):
    """One IPv6 host has a /64 to itself: guessing from a new address of it each time must meet
    the per-address limits as one address would; another /64 (the owner elsewhere) is free."""
    email = "v6-target@carnet.test"
    got = [_begin(ctx, email, "2001:db8:1:2::%x" % (i + 1)) for i in range(7)]
    assert got[:5] == ["ok"] * 5 and set(got[5:]) == {"CA429"}, got
    assert _begin(ctx, email, "2001:db8:1:3::1") == "ok"
    # IPv4, and IPv4 mapped into IPv6, stay one address each.
    assert _begin(ctx, email, "::ffff:192.0.2.7") == "ok"
    mac = ctx.sql1("select login_mac(%s, %s) as m", (email, ctx.login_key()))["m"]
    assert ctx.sql1("select address from login_attempts where account_mac = %s order by id desc"
                    " limit 1", (mac,))["address"] == "192.0.2.7"
    ctx.sql("delete from login_attempts where account_mac = %s", (mac,))


def test_a_lyon_manager_who_is_a_paris_specialist_is_no_paris_manager(ctx):
    serial = "ATKTWO0007"
    owner = paris_device(ctx, serial)
    lyon_id = ctx.sql1("select id from staff where email = 'lyon@carnet.test'")["id"]
    ctx.sql("insert into staff_roles values (%s, %s, 'specialist')", (lyon_id, S["paris"]))
    try:
        lyon = ctx.staff("lyon@carnet.test")
        # Customers' data is a manager's: a Paris specialist gets what any outsider gets.
        a = lyon.get("/api/customers?email=" + quote(owner["email"]))
        b = lyon.get("/api/customers?email=nobody.two@example.test")
        assert a.status == b.status == 404 and a.raw == b.raw, (a, b)
        assert lyon.post("/api/customers/erase", {"email": owner["email"]}).status == 404
        assert lyon.get("/api/stores/%d/erasure-requests" % S["paris"]).status == 403
        # As Paris staff they act for Paris on the record: the device is in Paris's custody.
        rec = lyon.get("/api/devices/" + serial)
        assert rec.json["owner"]["redacted"] is False, rec.json["owner"]
        r = lyon.put("/api/devices/" + serial, {"model": "iPhone 13 mini"})
        assert r.status == 200, r
    finally:
        ctx.sql("delete from staff_roles where staff_id = %s and store_id = %s",
                (lyon_id, S["paris"]))
    r = ctx.staff("lyon@carnet.test").put("/api/devices/" + serial, {"model": "x"})
    assert r.status == 403 and r.error["code"] == "other_store_custody", r


def test_the_serving_role_cannot_purge_beyond_the_retention_policy(ctx):
    """job_retention takes the policy from carnetd's configuration (at least a day each): with
    the serving role's credentials, a policy of minus a year must not purge today's data."""
    app = _app(ctx)
    try:
        for args in ((-365, 1, 60, 1, 1), (1, -365, 60, 1, 1), (1, 1, -1, 1, 1),
                     (1, 1, 60, -365, 1), (1, 1, 60, 1, -365), (0, 1, 60, 1, 1)):
            before = ctx.sql1("select (select count(*) from sessions) as s,"
                              " (select count(*) from login_attempts) as l,"
                              " (select count(*) from visits where purged_at is not null) as v")
            try:
                _call(app, "select job_retention(%s, %s, %s, %s, %s)", args)
                raise AssertionError("job_retention%r ran" % (args,))
            except psycopg2.Error as e:
                assert e.pgcode == "CA422", (args, e.pgerror)
            after = ctx.sql1("select (select count(*) from sessions) as s,"
                             " (select count(*) from login_attempts) as l,"
                             " (select count(*) from visits where purged_at is not null) as v")
            assert after == before, (args, before, after)
    finally:
        app.close()


def test_pd_store_cannot_swap_one_current_marker_for_another(ctx):
    """A link or value already sealed under the current key is not the job's to replace: a
    sealed link copied from another message is no re-sealing. Re-sealing one under another key
    is."""
    kid = ctx.sql1("select substr(email, 6, 16) as k from device_owners"
                   " where email like '{{pd:%%' limit 1")["k"]
    mine, theirs, old = ("{{sealed:%s:%s}}" % (kid, "A" * 40), "{{sealed:%s:%s}}" % (kid, "B" * 40),
                         "{{sealed:ffffffffffffffff:%s}}" % ("C" * 40))
    x = ctx.sql1("insert into outbox (store_id, kind, channel, recipient, subject, body, sms,"
                 " data, status, locale) values (%s, 'test', 'email', %s, 'Your booking',"
                 " %s, '', %s, 'failed', 'en') returning id",
                 (S["paris"], "{{pd:%s:%s}}" % (kid, "D" * 40), "Manage it: " + mine,
                  json.dumps({"name": "{{pd:%s:%s}}" % (kid, "E" * 40), "link": mine})))["id"]
    app = _app(ctx)
    try:
        for c, v in (("body", "Manage it: " + theirs),
                     ("data", json.dumps({"name": "{{pd:%s:%s}}" % (kid, "E" * 40),
                                          "link": theirs})),
                     ("data", json.dumps({"name": "{{pd:%s:%s}}" % (kid, "F" * 40),
                                          "link": mine}))):
            h = ctx.sql1("select md5(%s::text) as h from outbox where id = %%s" % c, (x,))["h"]
            got = _refused_or_nothing(app, [{"t": "outbox", "id": x, "c": c, "old": h, "v": v,
                                             "bi": None}])
            assert got == "CA422", (c, v, got)
    finally:
        app.close()
    assert ctx.sql1("select body from outbox where id = %s", (x,))["body"] == "Manage it: " + mine
    ctx.sql("delete from outbox where id = %s", (x,))
    # What the job does is still allowed: an old key's marker sealed again under the current one.
    assert ctx.sql1("select pd_resealed(%s, %s) as ok", ("Go " + old + ".", "Go " + mine + "."))["ok"]
    assert not ctx.sql1("select pd_resealed(%s, %s) as ok", ("Go " + old + ".", "Go " + mine))["ok"]
    assert not ctx.sql1("select pd_resealed(%s, %s) as ok", ("Go " + old, "Go " + old + mine))["ok"]
