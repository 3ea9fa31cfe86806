"""Staff accounts: managers and admins create staff, set roles per store, reset passwords,
disable and enable accounts; staff change their own password; the audit log and its scope."""
import threading

import psycopg2

from harness import Client, wait_for

DEMO_PW = "carnet-demo"
NEW_PW = "Correct-Horse-42"


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    ctx.counter = [0]


def _client(ctx, email, password=DEMO_PW):
    c = ctx.client()
    r = c.post("/api/auth/login", {"email": email, "password": password, "bearer": True})
    assert r.status == 200, (email, r)
    c.bearer = r.json["token"]
    return c


def _staff_id(ctx, email):
    return ctx.sql1("select id from staff where lower(email) = lower(%s)", (email,))["id"]


def _new_email(ctx, prefix="person"):
    ctx.counter[0] += 1
    return "%s%d@carnet.test" % (prefix, ctx.counter[0])


def _create(ctx, c, store, roles=("specialist",), password=NEW_PW, **extra):
    email = _new_email(ctx)
    body = {"email": email, "name": "New " + email, "password": password, "roles": list(roles)}
    body.update(extra)
    r = c.post("/api/stores/%d/staff" % store, body)
    assert r.status == 201, r
    return r.json


def _counts(ctx):
    return ctx.sql1("select (select count(*) from staff) as staff,"
                    " (select count(*) from staff_roles) as roles,"
                    " (select count(*) from audit_log where action like 'staff.%%') as audit")


def test_list_staff_of_own_store(ctx):
    m = _client(ctx, "manager@carnet.test")
    r = m.get("/api/stores/%d/staff" % ctx.paris)
    assert r.status == 200, r
    by_email = {s["email"]: s for s in r.json["staff"]}
    assert {"manager@carnet.test", "specialist@carnet.test", "tech@carnet.test",
            "tech2@carnet.test"} <= set(by_email), by_email.keys()
    assert "lyon@carnet.test" not in by_email and "admin@carnet.test" not in by_email
    assert by_email["manager@carnet.test"]["roles"] == ["specialist", "manager"]
    assert by_email["tech@carnet.test"]["roles"] == ["technician"]
    assert all("password" not in k and "hash" not in k for s in r.json["staff"] for k in s)
    assert b"argon2" not in r.raw
    # Another store's manager, a specialist, nobody: refused.
    assert _client(ctx, "lyon@carnet.test").get("/api/stores/%d/staff" % ctx.paris).status == 403
    assert _client(ctx, "specialist@carnet.test").get(
        "/api/stores/%d/staff" % ctx.paris).status == 403
    assert ctx.client().get("/api/stores/%d/staff" % ctx.paris).status == 401
    # An admin sees every store; an unknown store is a 404 for them.
    a = _client(ctx, "admin@carnet.test")
    r = a.get("/api/stores/%d/staff" % ctx.lyon)
    assert r.status == 200 and [s["email"] for s in r.json["staff"]] == ["lyon@carnet.test"], r
    r = a.get("/api/stores/999999/staff")
    assert r.status == 404 and r.error["field"] == "store", r
    r = a.get("/api/stores/paris/staff")
    assert r.status == 404 and r.error["field"] == "store", r


def test_create_staff_then_sign_in(ctx):
    m = _client(ctx, "manager@carnet.test")
    email = _new_email(ctx, "Created")
    r = m.post("/api/stores/%d/staff" % ctx.paris,
               {"email": email, "name": "Zoé Créée", "password": NEW_PW,
                "roles": ["technician", "specialist", "technician"]})
    assert r.status == 201, r
    s = r.json
    assert s["email"] == email and s["name"] == "Zoé Créée" and s["admin"] is False, s
    assert s["roles"] == ["specialist", "technician"] and s["disabled"] is False, s
    assert NEW_PW.encode() not in r.raw and b"argon2" not in r.raw
    row = ctx.sql1("select password_hash from staff where id = %s", (s["id"],))
    assert row["password_hash"].startswith("$argon2id$"), row
    audit = ctx.sql1("select * from audit_log where action = 'staff.create' and object_id = %s",
                     (str(s["id"]),))
    assert audit and audit["staff_id"] == _staff_id(ctx, "manager@carnet.test"), audit
    assert audit["store_id"] == ctx.paris and audit["request_id"] == r.header("X-Request-Id")
    # The new account signs in, with any case of its email.
    c = _client(ctx, email.upper(), NEW_PW)
    me = c.get("/api/auth/me").json
    assert me["staff_id"] == s["id"] and me["stores"] == [
        {"store_id": ctx.paris, "roles": ["specialist", "technician"]}], me


def test_create_staff_bad_inputs_change_nothing(ctx):
    m = _client(ctx, "manager@carnet.test")
    url = "/api/stores/%d/staff" % ctx.paris
    good = {"email": "valid@carnet.test", "name": "Valid", "password": NEW_PW,
            "roles": ["specialist"]}
    before = _counts(ctx)
    r = m.post(url)
    assert r.status == 400 and r.error["code"] == "missing_body", r
    cases = [
        ({"email": None}, 422, "invalid", "email"),
        ({"email": "no-at-sign"}, 422, "invalid", "email"),
        ({"email": "two words@carnet.test"}, 422, "invalid", "email"),
        ({"email": "x" * 250 + "@c.fr"}, 422, "invalid", "email"),
        ({"email": 42}, 422, "invalid", "email"),
        ({"name": ""}, 422, "invalid", "name"),
        ({"name": "x" * 201}, 422, "invalid", "name"),
        ({"name": "line\nbreak"}, 422, "invalid", "name"),
        ({"name": ["list"]}, 422, "invalid", "name"),
        ({"password": "short-pw1"}, 422, "too_short", "password"),
        ({"password": "é" * 9}, 422, "too_short", "password"),
        ({"password": None}, 422, "invalid", "password"),
        ({"password": "p" * 1025}, 422, "invalid", "password"),
        ({"roles": ["admin"]}, 422, "invalid", "roles"),
        ({"roles": ["boss"]}, 422, "invalid", "roles"),
        ({"roles": "specialist"}, 422, "invalid", "roles"),
        ({"roles": [1]}, 422, "invalid", "roles"),
        ({"roles": []}, 422, "invalid", "roles"),
        ({"admin": "yes"}, 422, "invalid", "admin"),
        ({"email": "MANAGER@carnet.test"}, 409, "email_taken", "email"),
        ({"admin": True}, 403, "forbidden", "admin"),
    ]
    for change, status, code, field in cases:
        body = dict(good, **change)
        if change.get("email", "") is None:
            del body["email"]
        r = m.post(url, body)
        assert r.status == status and r.error["code"] == code and r.error["field"] == field, \
            (change, r)
    assert _counts(ctx) == before, (before, _counts(ctx))
    # 200 characters is the limit, not 199: multi-byte characters count once.
    r = m.post(url, dict(good, name="é" * 200, password="é" * 10))
    assert r.status == 201 and r.json["name"] == "é" * 200, r


def test_admin_creates_admin_and_roles_only_in_the_path_store(ctx):
    a = _client(ctx, "admin@carnet.test")
    s = _create(ctx, a, ctx.lyon, roles=[], admin=True)
    assert s["admin"] is True and s["roles"] == [], s
    # A manager cannot create in, or change roles of, another store: the dispatcher refuses.
    m = _client(ctx, "manager@carnet.test")
    before = _counts(ctx)
    r = m.post("/api/stores/%d/staff" % ctx.lyon,
               {"email": _new_email(ctx), "name": "X", "password": NEW_PW, "roles": ["manager"]})
    assert r.status == 403 and r.error["code"] == "forbidden", r
    lyon_id = _staff_id(ctx, "lyon@carnet.test")
    r = m.put("/api/stores/%d/staff/%d/roles" % (ctx.lyon, lyon_id), {"roles": []})
    assert r.status == 403, r
    assert _counts(ctx) == before


def test_set_roles(ctx):
    m = _client(ctx, "manager@carnet.test")
    s = _create(ctx, m, ctx.paris, roles=["specialist"])
    url = "/api/stores/%d/staff/%d/roles" % (ctx.paris, s["id"])
    r = m.put(url, {"roles": ["technician", "manager"]})
    assert r.status == 200 and r.json["roles"] == ["technician", "manager"], r
    assert ctx.sql1("select count(*) as n from audit_log where action = 'staff.roles'"
                    " and object_id = %s", (str(s["id"]),))["n"] == 1
    # Bad inputs name the field and change nothing.
    for body, status, field in (({"roles": ["admin"]}, 422, "roles"), ({"roles": None}, 422,
                                "roles"), ({}, 422, "roles"), ({"roles": [{}]}, 422, "roles")):
        r = m.put(url, body)
        assert r.status == status and r.error["field"] == field, (body, r)
    r = m.put(url)
    assert r.status == 400 and r.error["code"] == "missing_body", r
    rows = ctx.sql("select role from staff_roles where staff_id = %s order by role", (s["id"],))
    assert [x["role"] for x in rows] == ["manager", "technician"], rows
    # Someone of another store is not found from here (no hint that they exist) ...
    lyon_id = _staff_id(ctx, "lyon@carnet.test")
    r = m.put("/api/stores/%d/staff/%d/roles" % (ctx.paris, lyon_id), {"roles": ["specialist"]})
    assert r.status == 404 and r.error["field"] == "staff", r
    r = m.put("/api/stores/%d/staff/999999/roles" % ctx.paris, {"roles": ["specialist"]})
    assert r.status == 404 and r.error["field"] == "staff", r
    r = m.put("/api/stores/%d/staff/abc/roles" % ctx.paris, {"roles": ["specialist"]})
    assert r.status == 404 and r.error["field"] == "staff", r
    assert not ctx.sql("select 1 from staff_roles where staff_id = %s and store_id = %s",
                       (lyon_id, ctx.paris))
    # ... while an admin may bring them into this store; an empty list takes them out again.
    a = _client(ctx, "admin@carnet.test")
    r = a.put("/api/stores/%d/staff/%d/roles" % (ctx.paris, lyon_id), {"roles": ["specialist"]})
    assert r.status == 200 and r.json["roles"] == ["specialist"], r
    r = a.put("/api/stores/%d/staff/%d/roles" % (ctx.paris, lyon_id), {"roles": []})
    assert r.status == 200 and r.json["roles"] == [], r
    # An admin who also works in Paris is still out of a manager's reach.
    adm = _create(ctx, a, ctx.paris, roles=["specialist"], admin=True)
    r = m.put("/api/stores/%d/staff/%d/roles" % (ctx.paris, adm["id"]), {"roles": ["manager"]})
    assert r.status == 403 and r.error["field"] == "staff", r
    r = m.post("/api/stores/%d/staff/%d/disable" % (ctx.paris, adm["id"]))
    assert r.status == 403, r
    r = m.post("/api/stores/%d/staff/%d/password" % (ctx.paris, adm["id"]), {"password": NEW_PW})
    assert r.status == 403, r
    assert ctx.sql1("select disabled_at from staff where id = %s", (adm["id"],))[
        "disabled_at"] is None


def test_reset_password_ends_sessions(ctx):
    m = _client(ctx, "manager@carnet.test")
    s = _create(ctx, m, ctx.paris)
    victim = _client(ctx, s["email"], NEW_PW)
    assert victim.get("/api/auth/me").status == 200
    url = "/api/stores/%d/staff/%d/password" % (ctx.paris, s["id"])
    r = m.post(url, {"password": "short"})
    assert r.status == 422 and r.error["field"] == "password", r
    assert victim.get("/api/auth/me").status == 200, "a refused reset must change nothing"
    r = m.post(url, {"password": "Another-Password-7"})
    assert r.status == 200 and b"Another-Password-7" not in r.raw, r
    assert victim.get("/api/auth/me").status == 401
    assert ctx.client().post("/api/auth/login", {"email": s["email"],
                                                 "password": NEW_PW}).status == 401
    _client(ctx, s["email"], "Another-Password-7")
    assert ctx.sql1("select count(*) as n from audit_log where action = 'staff.password_reset'"
                    " and object_id = %s", (str(s["id"]),))["n"] == 1


def test_reset_password_unlocks_a_throttled_account(ctx):
    m = _client(ctx, "manager@carnet.test")
    s = _create(ctx, m, ctx.paris)
    ctx.sql("insert into login_attempts (account_mac, address, ok)"
            " select login_mac(%s, %s), '127.0.0.1', false from generate_series(1, 5)",
            (s["email"], ctx.login_key()))
    r = ctx.client().post("/api/auth/login", {"email": s["email"], "password": NEW_PW})
    assert r.status == 429, r
    assert m.post("/api/stores/%d/staff/%d/password" % (ctx.paris, s["id"]),
                  {"password": NEW_PW + "!"}).status == 200
    _client(ctx, s["email"], NEW_PW + "!")


def test_disable_ends_sessions_at_once_and_enable(ctx):
    m = _client(ctx, "manager@carnet.test")
    s = _create(ctx, m, ctx.paris)
    victim = _client(ctx, s["email"], NEW_PW)
    cookie = ctx.client()
    cookie.login(s["email"], NEW_PW)
    assert victim.get("/api/auth/me").status == 200 and cookie.get("/api/auth/me").status == 200
    r = m.post("/api/stores/%d/staff/%d/disable" % (ctx.paris, s["id"]))
    assert r.status == 200 and r.json["disabled"] is True and r.json["disabled_at"], r
    assert victim.get("/api/auth/me").status == 401
    assert cookie.get("/api/auth/me").status == 401
    assert not ctx.sql("select 1 from sessions where staff_id = %s", (s["id"],))
    r = ctx.client().post("/api/auth/login", {"email": s["email"], "password": NEW_PW})
    assert r.status == 401 and r.error["code"] == "bad_credentials", r
    # Disabling twice keeps the first time.
    first = ctx.sql1("select disabled_at from staff where id = %s", (s["id"],))["disabled_at"]
    assert m.post("/api/stores/%d/staff/%d/disable" % (ctx.paris, s["id"])).status == 200
    assert ctx.sql1("select disabled_at from staff where id = %s", (s["id"],))[
        "disabled_at"] == first
    r = m.post("/api/stores/%d/staff/%d/enable" % (ctx.paris, s["id"]))
    assert r.status == 200 and r.json["disabled"] is False, r
    _client(ctx, s["email"], NEW_PW)
    actions = [x["action"] for x in ctx.sql(
        "select action from audit_log where object_id = %s and action like 'staff.%%'"
        " order by id", (str(s["id"]),))]
    assert actions == ["staff.create", "staff.disable", "staff.disable", "staff.enable"], actions


def test_nobody_disables_themselves(ctx):
    m = _client(ctx, "manager@carnet.test")
    me = _staff_id(ctx, "manager@carnet.test")
    r = m.post("/api/stores/%d/staff/%d/disable" % (ctx.paris, me))
    assert r.status == 409 and r.error["code"] == "self" and r.error["field"] == "staff", r
    assert m.get("/api/auth/me").status == 200
    a = _client(ctx, "admin@carnet.test")
    r = a.post("/api/stores/%d/staff/%d/disable" % (ctx.paris, _staff_id(ctx,
                                                                          "admin@carnet.test")))
    assert r.status == 409, r


def test_disable_while_requests_run(ctx):
    """A disabled account's sessions stop working for every request that starts afterwards,
    even with many of its requests in flight."""
    m = _client(ctx, "manager@carnet.test")
    s = _create(ctx, m, ctx.paris)
    victim = _client(ctx, s["email"], NEW_PW)
    stop = threading.Event()
    after = []

    def hammer():
        while not stop.is_set():
            c = Client(victim.port)
            c.bearer = victim.bearer
            started_after = disabled.is_set()
            r = c.get("/api/auth/me")
            if started_after:
                after.append(r.status)

    disabled = threading.Event()
    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    r = m.post("/api/stores/%d/staff/%d/disable" % (ctx.paris, s["id"]))
    disabled.set()
    assert r.status == 200, r
    # Enough requests started after the disable, from every thread's loop.
    wait_for(lambda: len(after) >= 20, "20 requests started after the disable")
    stop.set()
    for t in threads:
        t.join()
    assert after and all(st == 401 for st in after), after


def test_change_own_password(ctx):
    m = _client(ctx, "manager@carnet.test")
    s = _create(ctx, m, ctx.paris)
    c1 = _client(ctx, s["email"], NEW_PW)
    c2 = ctx.client()
    c2.login(s["email"], NEW_PW)
    r = c1.post("/api/auth/password", {"old_password": "wrong-password", "new_password": "N" * 12})
    assert r.status == 422 and r.error["code"] == "bad_credentials", r
    assert r.error["field"] == "old_password", r
    r = c1.post("/api/auth/password", {"old_password": NEW_PW, "new_password": "short"})
    assert r.status == 422 and r.error["field"] == "new_password", r
    r = c1.post("/api/auth/password", {"new_password": "N" * 12})
    assert r.status == 422 and r.error["field"] == "old_password", r
    r = c1.post("/api/auth/password")
    assert r.status == 400, r
    assert c2.get("/api/auth/me").status == 200
    # Cookie sessions need the CSRF header like any other write.
    r = c2.request("POST", "/api/auth/password", body={"old_password": NEW_PW,
                                                       "new_password": "N" * 12},
                   headers={"X-CSRF-Token": "nope"})
    assert r.status == 403 and r.error["code"] == "csrf", r
    r = c1.post("/api/auth/password", {"old_password": NEW_PW, "new_password": "Brand-New-Pass"})
    assert r.status == 204, r
    assert c1.get("/api/auth/me").status == 200, "the session that changed it stays"
    assert c2.get("/api/auth/me").status == 401, "every other session ends"
    _client(ctx, s["email"], "Brand-New-Pass")
    assert ctx.client().post("/api/auth/login", {"email": s["email"],
                                                 "password": NEW_PW}).status == 401
    assert ctx.sql1("select count(*) as n from audit_log where action = 'staff.password_change'"
                    " and object_id = %s", (str(s["id"]),))["n"] == 1


def test_change_own_password_is_throttled(ctx):
    m = _client(ctx, "manager@carnet.test")
    s = _create(ctx, m, ctx.paris)
    c = _client(ctx, s["email"], NEW_PW)
    for _ in range(5):
        r = c.post("/api/auth/password", {"old_password": "guess-guess", "new_password": "N" * 12})
        assert r.status == 422, r
    r = c.post("/api/auth/password", {"old_password": NEW_PW, "new_password": "N" * 12})
    assert r.status == 429 and r.error["code"] == "throttled", r
    assert ctx.sql1("select password_hash from staff where id = %s", (s["id"],))
    r = ctx.client().post("/api/auth/login", {"email": s["email"], "password": NEW_PW})
    assert r.status == 429, "guesses through a session count towards the sign-in throttle"


def test_audit_log_scope(ctx):
    m = _client(ctx, "manager@carnet.test")
    lyon = _client(ctx, "lyon@carnet.test")
    a = _client(ctx, "admin@carnet.test")
    p = _create(ctx, m, ctx.paris)
    ly = _create(ctx, lyon, ctx.lyon)
    r = m.get("/api/audit?object_type=staff&object_id=%d" % p["id"])
    assert r.status == 200, r
    e = r.json["entries"]
    assert [x["action"] for x in e] == ["staff.create"], e
    assert e[0]["staff_name"] == "Marie Manager" and e[0]["store_id"] == ctx.paris, e
    assert e[0]["request_id"], e
    # A manager does not see another store's entries; its manager and admins do.
    r = m.get("/api/audit?object_type=staff&object_id=%d" % ly["id"])
    assert r.status == 200 and r.json["entries"] == [], r
    assert len(lyon.get("/api/audit?object_type=staff&object_id=%d" % ly["id"]).json[
        "entries"]) == 1
    assert len(a.get("/api/audit?object_type=staff&object_id=%d" % ly["id"]).json[
        "entries"]) == 1
    all_m = m.get("/api/audit?limit=500").json["entries"]
    paris_staff = {x["staff_id"] for x in ctx.sql(
        "select distinct staff_id from staff_roles where store_id = %s", (ctx.paris,))}
    assert all_m and all(x["store_id"] == ctx.paris or (x["store_id"] is None and x["staff_id"]
                                                        in paris_staff) for x in all_m), all_m
    # Entries without a store (sign-ins here, health record reads) show to the managers of the
    # stores their author works in, and to admins: not lyon@'s to manager@.
    lyon_id = _staff_id(ctx, "lyon@carnet.test")
    admin_id = _staff_id(ctx, "admin@carnet.test")
    every = a.get("/api/audit?limit=500").json["entries"]
    assert any(x["action"] == "login" and x["staff_id"] == lyon_id for x in every)
    assert any(x["action"] == "login" and x["staff_id"] == admin_id for x in every)
    assert any(x["action"] == "login" and x["staff_id"] == _staff_id(ctx, "manager@carnet.test")
               for x in all_m)
    assert not any(x["staff_id"] in (lyon_id, admin_id) and x["store_id"] is None
                   for x in all_m), all_m
    # Paging and filters.
    r = a.get("/api/audit?limit=2")
    assert r.status == 200 and len(r.json["entries"]) == 2, r
    older = a.get("/api/audit?limit=2&before=%d" % r.json["entries"][-1]["id"]).json["entries"]
    assert older and older[0]["id"] < r.json["entries"][-1]["id"], older
    r = a.get("/api/audit?object_type=&object_id=")
    assert r.status == 200, r
    for q, field in (("limit=0", "limit"), ("limit=501", "limit"), ("limit=x", "limit"),
                     ("limit=999999999999999999", "limit"),
                     ("before=-1", "before"), ("object_type=" + "x" * 65, "object_type")):
        r = a.get("/api/audit?" + q)
        assert r.status == 400 and r.error["field"] == field, (q, r)
    # Who may not read it.
    assert _client(ctx, "specialist@carnet.test").get("/api/audit").status == 403
    assert _client(ctx, "tech@carnet.test").get("/api/audit").status == 403
    assert ctx.client().get("/api/audit").status == 401


def test_audit_entries_of_other_domains_find_their_store(ctx):
    """carnet_audit (no store) on an object whose table has a store_id: the entry takes that
    store, so that store's managers see it and other stores' do not."""
    ctx.sql("create table widgets (id bigint primary key, store_id bigint)")
    ctx.sql("create table gizmo_things (id bigint primary key, store_id bigint)")
    ctx.sql("insert into gizmo_things values (3, %s)", (ctx.lyon,))
    ctx.sql("insert into audit_object_tables values ('gizmo', 'gizmo_things'),"
            " ('ghost', 'no_such_table')")
    ctx.sql("create table gadgets (id uuid primary key, store_id bigint)")
    ctx.sql("insert into widgets values (7, %s), (8, %s)", (ctx.paris, ctx.lyon))
    admin = _staff_id(ctx, "admin@carnet.test")
    for oid in ("7", "8", "999", "x7"):
        ctx.sql("select carnet_audit(%s, 'read', 'widget', %s, 'r-test')", (admin, oid))
    ctx.sql("select carnet_audit(%s, 'read', 'gadget', '5', 'r-test')", (admin,))
    ctx.sql("select carnet_audit(%s, 'read', 'gizmo', '3', 'r-test')", (admin,))
    ctx.sql("select carnet_audit(%s, 'read', 'ghost', '3', 'r-test')", (admin,))
    ctx.sql("select carnet_audit(%s, 'read', 'store', %s, 'r-test')", (admin, str(ctx.lyon)))
    rows = {(x["object_type"], x["object_id"]): x["store_id"] for x in ctx.sql(
        "select object_type, object_id, store_id from audit_log where request_id = 'r-test'")}
    assert rows == {("widget", "7"): ctx.paris, ("widget", "8"): ctx.lyon,
                    ("widget", "999"): None, ("widget", "x7"): None, ("gadget", "5"): None,
                    ("gizmo", "3"): ctx.lyon, ("ghost", "3"): None,
                    ("store", str(ctx.lyon)): ctx.lyon}, rows
    m = _client(ctx, "manager@carnet.test")
    seen = [x["object_id"] for x in m.get("/api/audit?object_type=widget").json["entries"]]
    assert seen == ["7"], seen
    seen = [x["object_id"] for x in _client(ctx, "lyon@carnet.test").get(
        "/api/audit?object_type=widget").json["entries"]]
    assert seen == ["8"], seen
    seen = [x["object_id"] for x in _client(ctx, "admin@carnet.test").get(
        "/api/audit?object_type=widget").json["entries"]]
    assert sorted(seen) == ["7", "8", "999", "x7"], seen


def test_disable_racing_a_sign_in_leaves_no_session(ctx):
    """A sign-in whose password check finishes while a disable is committing must not open a
    session that outlives the disable."""
    m = _client(ctx, "manager@carnet.test")
    s = _create(ctx, m, ctx.paris)
    result = []
    conn = psycopg2.connect(ctx.url)
    cur = conn.cursor()
    # What staff_disable does, held open: the row is disabled, the sessions not yet deleted.
    cur.execute("update staff set disabled_at = now() where id = %s", (s["id"],))
    t = threading.Thread(target=lambda: result.append(ctx.client().post(
        "/api/auth/login", {"email": s["email"], "password": NEW_PW, "bearer": True})))
    t.start()
    # The sign-in has verified the password and waits on the row our transaction holds.
    ctx.wait_lock_waiters(1)
    cur.execute("delete from sessions where staff_id = %s", (s["id"],))
    conn.commit()
    conn.close()
    t.join(20)
    assert result and result[0].status == 401, result
    assert not ctx.sql("select 1 from sessions where staff_id = %s", (s["id"],))



def test_reset_racing_a_sign_in_with_the_old_password(ctx):
    """The old password, checked while a reset commits, opens no session."""
    m = _client(ctx, "manager@carnet.test")
    s = _create(ctx, m, ctx.paris)
    other = ctx.sql1("select password_hash from staff where email = 'tech@carnet.test'")
    result = []
    conn = psycopg2.connect(ctx.url)
    cur = conn.cursor()
    # What staff_reset_password does, held open: new hash written, sessions not yet deleted.
    cur.execute("update staff set password_hash = %s where id = %s",
                (other["password_hash"], s["id"]))
    t = threading.Thread(target=lambda: result.append(ctx.client().post(
        "/api/auth/login", {"email": s["email"], "password": NEW_PW, "bearer": True})))
    t.start()
    ctx.wait_lock_waiters(1)  # the sign-in checked the old password and waits on the row
    cur.execute("delete from sessions where staff_id = %s", (s["id"],))
    conn.commit()
    conn.close()
    t.join(20)
    assert result and result[0].status == 401, result
    assert not ctx.sql("select 1 from sessions where staff_id = %s", (s["id"],))
    _client(ctx, s["email"], DEMO_PW)


def test_repair_audit_entries_reach_the_store_manager(ctx):
    """The repair domain audits with carnet_audit(..., 'repair', id): its entries carry the
    repair's store (audit_object_tables maps 'repair' to repair_orders)."""
    if not ctx.sql("select 1 from information_schema.tables where table_name = 'repair_orders'"):
        return
    tech = _client(ctx, "tech@carnet.test")
    r = tech.post("/api/stores/%d/repairs" % ctx.paris,
                  {"serial": "AUDIT0DEV1", "problem": "battery",
                   "intake": {"checklist": [{"item": "screen", "ok": True}],
                              "accessories": "none", "passcode_provided": False}})
    assert r.status == 201, r
    rid = str(r.json["id"])
    assert tech.get("/api/repairs/" + rid).status == 200
    rows = ctx.sql("select store_id from audit_log where object_type = 'repair'"
                   " and object_id = %s", (rid,))
    assert rows and all(x["store_id"] == ctx.paris for x in rows), rows
    seen = _client(ctx, "manager@carnet.test").get(
        "/api/audit?object_type=repair&object_id=" + rid).json["entries"]
    assert len(seen) == len(rows), (seen, rows)
    assert _client(ctx, "lyon@carnet.test").get(
        "/api/audit?object_type=repair&object_id=" + rid).json["entries"] == []

def test_new_passwords_stay_out_of_logs(ctx):
    """Runs last: the passwords this module created, reset and changed never reached a log."""
    for s in ctx.servers:
        log = s.read_log()
        assert "/staff" in log or s is not ctx.server
        for pw in (NEW_PW, "Another-Password-7", "Brand-New-Pass", NEW_PW + "!", "N" * 12,
                   "$argon2"):
            assert pw not in log, (pw, s.log_path)
