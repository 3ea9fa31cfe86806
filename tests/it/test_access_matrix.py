"""The role x endpoint matrix, derived from `carnetd --routes` so that every route added to the
table is covered without editing this file.

For every route that is not public, with its path parameters filled ({store}: the demo Paris
store; {token}: random; {staff}: a Paris staff member kept for this test; any other {x}: an
existing row of table x/xs/xes, from Paris when the table has a store_id, else 1):
  * no session                                             -> 401
  * a signed-in staff member with none of the route's roles -> 403
      (in the path's store for {store} routes, in any store otherwise)
  * a route role held only in ANOTHER store ({store} routes) -> 403
  * an allowed role in the right store, and an admin        -> the route's ALLOWED answer
  * a cookie session writing without X-CSRF-Token           -> 403 csrf
Writes are sent with an empty JSON object and reads without their query parameters, so an
allowed caller gets past the door and then the answer ALLOWED names for the route: a 2xx, or
the exact JSON 4xx error code that request earns (never 401/403, never a 5xx). A route added
to the table without an entry in ALLOWED fails test_allowed_roles_get_through until its
expected answer is written down here.

Sessions are minted straight into the sessions table (a fresh one per cell, so one cell's side
effects cannot change another's caller); test_auth.py covers signing in itself.
"""
import hashlib
import http.client
import json
import re
import secrets
import subprocess

DEMO = ["specialist@carnet.test", "tech@carnet.test", "tech2@carnet.test",
        "manager@carnet.test", "lyon@carnet.test", "admin@carnet.test"]
ALL_ROLES = {"specialist", "technician", "manager", "admin"}
WRITE = {"POST", "PUT", "PATCH", "DELETE"}


# What an allowed caller gets, per route, for the request these tests send (an empty JSON object
# for writes, no query parameters for reads, ids filled as the module docstring says): a set of
# "STATUS" (a 2xx) or "STATUS code" (a JSON error), and why.
_BODY = "the empty body misses required fields"
ALLOWED = {
    ("GET", "/api/auth/me"): ({"200"}, "who am I"),
    ("POST", "/api/auth/password"): ({"422 invalid"}, _BODY),
    ("POST", "/api/auth/pin"): ({"422 invalid"}, _BODY),
    ("POST", "/api/auth/lock"): ({"409 no_pin"}, "the demo accounts have no PIN"),
    ("GET", "/api/stores/{store}/staff"): ({"200"}, "the store's staff list"),
    ("POST", "/api/stores/{store}/staff"): ({"422 invalid"}, _BODY),
    ("PUT", "/api/stores/{store}/staff/{staff}/roles"): ({"422 invalid"}, _BODY),
    ("POST", "/api/stores/{store}/staff/{staff}/password"): ({"422 invalid"}, _BODY),
    ("POST", "/api/stores/{store}/staff/{staff}/disable"): (
        {"200"}, "disables the matrix target (no body needed; twice keeps the first time)"),
    ("POST", "/api/stores/{store}/staff/{staff}/enable"): ({"200"}, "enables it again"),
    ("GET", "/api/audit"): ({"200"}, "the audit log"),
    ("GET", "/api/stores/{store}/appointments"): ({"422 invalid"}, "the date parameter is required"),
    ("POST", "/api/stores/{store}/appointments/{id}/reschedule"): (
        {"404 not_found"}, "{id} is no appointment of Paris"),
    ("POST", "/api/stores/{store}/appointments/{id}/cancel"): (
        {"404 not_found"}, "{id} is no appointment of Paris"),
    ("PUT", "/api/stores/{store}/hours"): ({"422 invalid"}, _BODY),
    ("POST", "/api/stores/{store}/closures"): ({"422 invalid"}, _BODY),
    ("POST", "/api/stores/{store}/services"): ({"422 invalid"}, _BODY),
    ("POST", "/api/stores"): ({"422 invalid"}, _BODY),
    ("GET", "/api/chain"): ({"200"}, "every store with today's load"),
    ("GET", "/api/auth/stores"): ({"200"}, "the stores I may use, closed ones too"),
    ("PATCH", "/api/stores/{store}"): ({"422 invalid"}, "an empty change is refused"),
    ("GET", "/api/stores/{store}/services/all"): ({"200"}, "every service, archived ones too"),
    ("PATCH", "/api/stores/{store}/services/{id}"): (
        {"404 not_found", "422 invalid"},
        "{id} is whatever row the matrix picks: no Paris service (404) or one with nothing to change"),
    ("PUT", "/api/stores/{store}/staff/{staff}/skills"): ({"422 invalid"}, _BODY),
    ("GET", "/api/stores/{store}/shifts"): ({"422 invalid"}, "from and to are required"),
    ("POST", "/api/stores/{store}/shifts"): ({"422 invalid"}, _BODY),
    ("DELETE", "/api/stores/{store}/shifts/{id}"): (
        {"200", "404 not_found"}, "the first allowed caller deletes shift {id}; later ones find "
                                  "it gone"),
    # rota (issue #14 point 3)
    ("GET", "/api/stores/{store}/rota"): ({"422 invalid"}, "the week parameter is required"),
    ("POST", "/api/stores/{store}/rota/patterns"): ({"422 invalid"}, _BODY),
    ("PATCH", "/api/stores/{store}/rota/patterns/{id}"): (
        {"404 not_found"}, "the demo has no weekly pattern"),
    ("POST", "/api/stores/{store}/rota/copy-week"): ({"422 invalid"}, _BODY),
    ("PATCH", "/api/stores/{store}/shifts/{id}"): (
        {"422 invalid", "404 not_found"}, _BODY + " when shift {id} is still there"),
    ("PATCH", "/api/stores/{store}/closures/{id}"): (
        {"422 invalid", "404 not_found"}, _BODY + " when closure {id} is one of Paris"),
    ("DELETE", "/api/stores/{store}/closures/{id}"): (
        {"200", "404 not_found"}, "the first allowed caller reopens closure {id} if Paris has it"),
    ("POST", "/api/stores/{store}/checkin"): ({"422 invalid"}, _BODY + " (no code, id or token)"),
    ("GET", "/api/stores/{store}/checkin/search"): ({"422 invalid"}, "the name is required"),
    ("GET", "/api/stores/{store}/events"): ({"200"}, "the staff event stream opens"),
    ("GET", "/api/stores/{store}/queue"): ({"200"}, "the line"),
    ("POST", "/api/stores/{store}/queue/next"): ({"409 line_empty"}, "nobody waits in the line"),
    ("POST", "/api/visits/{id}/start"): ({"404 not_found"}, "{id} is no visit"),
    ("POST", "/api/visits/{id}/done"): ({"404 not_found"}, "{id} is no visit"),
    ("POST", "/api/visits/{id}/skip"): ({"404 not_found"}, "{id} is no visit"),
    ("POST", "/api/visits/{id}/requeue"): ({"404 not_found"}, "{id} is no visit"),
    ("POST", "/api/visits/{id}/left"): ({"404 not_found"}, "{id} is no visit"),
    # ---- door to bench (issue 13: serving card, hand-over, bench queue, queue controls) ----
    ("GET", "/api/visits/{id}"): ({"404 not_found"}, "{id} is no visit"),
    ("POST", "/api/visits/{id}/call"): ({"404 not_found"}, "{id} is no visit"),
    ("POST", "/api/visits/{id}/recall"): ({"404 not_found"}, "{id} is no visit"),
    ("PUT", "/api/session/desk"): ({"422 invalid"}, "an empty body names no desk"),
    ("POST", "/api/visits/{id}/transfer"): ({"404 not_found"}, "{id} is no visit"),
    ("POST", "/api/visits/{id}/handover"): ({"404 not_found"}, "{id} is no visit"),
    ("GET", "/api/stores/{store}/bench"): ({"200"}, "the bench queue"),
    ("POST", "/api/repairs/{id}/take"): (
        {"200", "409 already_taken"}, "the first allowed caller takes the seeded repair; later "
                                      "ones find it taken"),
    ("GET", "/api/stores/{store}/floor/settings"): ({"200"}, "the floor settings"),
    ("PUT", "/api/stores/{store}/floor/settings"): (
        {"200"}, "an empty change keeps every setting"),
    ("GET", "/api/devices"): ({"422 invalid"}, "the search q is required"),
    ("GET", "/api/devices/{serial}"): ({"200"}, "{serial} is a seeded device"),
    ("PUT", "/api/devices/{serial}"): ({"200"}, "an empty change to a seeded device"),
    ("POST", "/api/devices/{serial}/owners"): ({"422 invalid"}, _BODY),
    ("POST", "/api/devices/{serial}/diagnostics"): ({"422 invalid"}, _BODY),
    ("POST", "/api/devices/{serial}/diagnostics/import"): (
        {"422 unknown_report"}, "an empty object is no tool's report"),
    ("GET", "/api/devices/{serial}/trends"): ({"200"}, "trends of a seeded device"),
    ("POST", "/api/devices/{serial}/notes"): ({"422 invalid"}, _BODY),
    ("GET", "/api/devices/{serial}/verify"): ({"200"}, "the seeded device's chain verifies"),
    ("GET", "/api/devices/{serial}/passport"): (
        {"200", "404 not_found"}, "{serial} is the seeded Galaxy, only created: no repair, visit "
                                  "or booking anywhere, so unknown to store staff; an admin acts "
                                  "for the chain and gets it (test_passport covers both)"),
    # the conversation follows the device (issue #17 point 5)
    ("GET", "/api/devices/{serial}/conversations"): ({"200"}, "the seeded device's conversations"),
    ("POST", "/api/stores/{store}/repairs"): ({"422 required"}, _BODY),
    ("GET", "/api/repairs/{id}"): ({"200"}, "{id} is a seeded repair of Paris"),
    ("POST", "/api/repairs/{id}/transition"): ({"422 invalid"}, _BODY),
    ("PUT", "/api/repairs/{id}/estimate"): ({"409 bad_state"},
                                           "the demo repair is being repaired: too late for an estimate"),
    ("POST", "/api/repairs/{id}/parts"): ({"422 invalid"}, _BODY),
    ("POST", "/api/repairs/{id}/notes"): ({"422 invalid"}, _BODY),
    ("PUT", "/api/repairs/{id}/promise"): ({"422 required"}, _BODY),
    ("POST", "/api/repairs/{id}/observation"): ({"422 required"}, _BODY + " (callback_at)"),
    ("GET", "/api/repairs/{id}/observation"): ({"200"}, "the seeded repair's observations"),
    ("POST", "/api/repairs/{id}/observation/end"): (
        {"409 not_observing"}, "the seeded repair is not under observation"),
    ("POST", "/api/repairs/{id}/callback/done"): ({"422 invalid"}, _BODY + " (outcome)"),
    ("GET", "/api/stores/{store}/callbacks"): ({"200"}, "the store's call-back list"),
    ("GET", "/api/repairs/{id}/events"): ({"200"}, "the repair's event stream opens"),
    ("GET", "/api/stores/{store}/repair-settings"): ({"200"}, "the repair message settings"),
    ("PUT", "/api/stores/{store}/repair-settings"): (
        {"200"}, "an empty change keeps every setting"),
    # intake (intake.c)
    ("GET", "/api/repairs/{id}/intake"): ({"200"}, "{id} is a seeded repair of Paris"),
    ("POST", "/api/repairs/{id}/intake"): ({"422 invalid"}, _BODY),
    ("POST", "/api/repairs/{id}/photos"): ({"415 unsupported_type"}, "a JSON body is no image"),
    ("GET", "/api/repairs/{id}/photos/{photo}"): ({"404 not_found"}, "no photo is seeded"),
    ("POST", "/api/repairs/{id}/signature"): ({"422 required"}, _BODY),
    ("GET", "/api/stores/{store}/threads"): ({"200"}, "the store's threads"),
    ("GET", "/api/stores/{store}/threads/{thread}"): ({"200"}, "{thread} is a seeded thread"),
    ("POST", "/api/stores/{store}/threads/{thread}/messages"): ({"422 invalid"}, _BODY),
    ("GET", "/api/stores/{store}/outbox"): ({"200"}, "the store's outbox"),
    ("POST", "/api/stores/{store}/outbox/{id}/retry"): (
        {"409 not_failed"}, "message {id} has not failed"),
    ("GET", "/api/stores/{store}/reports/satisfaction"): ({"200"}, "the report's defaults"),
    ("GET", "/api/stores/{store}/reports/floor"): ({"200"}, "the report's defaults"),
    ("GET", "/api/stores/{store}/reports/repairs"): ({"200"}, "the last 7 days' repair figures"),
    ("GET", "/api/stores/{store}/reports/staff"): ({"200"}, "the last 7 days, per staff member"),
    ("GET", "/api/reports/chain"): ({"200"}, "every store's last 7 days (admins only)"),
    ("GET", "/api/stores/{store}/reports/promises"): ({"200"}, "promises kept, the last 7 days"),
    ("GET", "/api/reports/promises"): ({"200"}, "promises kept per store (admins only)"),
    ("GET", "/api/stores/{store}/repairs"): ({"200"}, "the store's repairs"),
    ("GET", "/api/customers"): ({"422 invalid"}, "an email or a phone is required"),
    ("POST", "/api/customers/erase"): ({"422 invalid"}, _BODY + " (no email or phone)"),
    ("GET", "/api/stores/{store}/erasure-requests"): ({"200"}, "the store's erasure requests"),
    # ---- calendar feeds (issue 14, point 8) ----
    ("GET", "/api/stores/{store}/calendar-feeds"): ({"200"}, "my feeds of the store"),
    ("POST", "/api/stores/{store}/calendar-feeds"): ({"422 invalid"}, _BODY + " (kind)"),
    ("DELETE", "/api/stores/{store}/calendar-feeds/{id}"): (
        {"404 not_found"}, "{id} is no calendar feed of Paris"),
    # webhooks (issue 14, point 9): {id} is 1, no endpoint of Paris unless one was made there
    ("GET", "/api/stores/{store}/webhooks"): ({"200"}, "the store's endpoints"),
    ("POST", "/api/stores/{store}/webhooks"): ({"422 invalid"}, _BODY + " (url)"),
    ("PATCH", "/api/stores/{store}/webhooks/{id}"): (
        {"422 invalid", "404 not_found"}, "nothing to change (404: no endpoint with that id)"),
    ("DELETE", "/api/stores/{store}/webhooks/{id}"): (
        {"200", "404 not_found"}, "deletes it (404 once it is gone, or none had that id)"),
    ("POST", "/api/stores/{store}/webhooks/{id}/rotate-secret"): (
        {"200", "404 not_found"}, "a new secret (404: no endpoint with that id)"),
    ("GET", "/api/stores/{store}/webhooks/{id}/deliveries"): (
        {"200", "404 not_found"}, "its log (404: no endpoint with that id)"),
}


def _blake(s):
    return hashlib.blake2b(s.encode(), digest_size=32).hexdigest()


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    out = subprocess.run([ctx.run.binary, "--routes"], capture_output=True, text=True, check=True)
    ctx.routes = json.loads(out.stdout)
    # A Paris staff member for {staff}: routes may disable or change them without touching the
    # demo accounts the cells sign in as.
    ctx.target = ctx.sql1(
        "insert into staff (email, name, password_hash)"
        " select 'matrix-target@carnet.test', 'Matrix Target', password_hash from staff"
        " where email = 'manager@carnet.test' returning id")["id"]
    ctx.sql("insert into staff_roles values (%s, %s, 'specialist')", (ctx.target, ctx.paris))
    ctx.users = {}
    for email in DEMO:
        row = ctx.sql1("select id, is_admin from staff where email = %s", (email,))
        roles = {}
        for x in ctx.sql("select store_id, role from staff_roles where staff_id = %s",
                         (row["id"],)):
            roles.setdefault(x["store_id"], set()).add(x["role"])
        ctx.users[email] = {"id": row["id"], "admin": row["is_admin"], "roles": roles}
    # Every demo account really signs in with the demo password.
    for email in DEMO:
        r = ctx.client().post("/api/auth/login", {"email": email, "password": "carnet-demo"})
        assert r.status == 200, (email, r)


def _access(text):
    if text == "staff":
        return set(ALL_ROLES)
    return set(text.split(","))


def _id_for(ctx, name):
    """An existing id for a path parameter called `name`, guessed from the table names."""
    for table in (name, name + "s", name + "es", name[:-1] + "ies" if name.endswith("y") else None):
        if not table:
            continue
        cols = {r["column_name"] for r in ctx.sql(
            "select column_name from information_schema.columns"
            " where table_schema = 'public' and table_name = %s", (table,))}
        if "id" not in cols:
            continue
        if "store_id" in cols:
            row = ctx.sql1('select min(id) as id from "%s" where store_id = %%s' % table,
                           (ctx.paris,))
            if row and row["id"] is not None:
                return str(row["id"])
        row = ctx.sql1('select min(id) as id from "%s"' % table)
        if row and row["id"] is not None:
            return str(row["id"])
    # Not a table: perhaps a natural key, a column of that name ({serial} -> devices.serial).
    for col in ctx.sql("select table_name from information_schema.columns"
                       " where table_schema = 'public' and column_name = %s"
                       " and data_type in ('text', 'character varying', 'bigint', 'integer')"
                       " order by table_name", (name,)):
        row = ctx.sql1('select min("%s"::text) as v from "%s"' % (name, col["table_name"]))
        if row and row["v"] is not None:
            return row["v"]
    return "1"


def _fill(ctx, path):
    def one(m):
        name = m.group(1)
        if name == "store":
            return str(ctx.paris)
        if name == "token":
            return secrets.token_urlsafe(32)
        if name == "staff":
            return str(ctx.target)
        return _id_for(ctx, name)
    return re.sub(r"{(\w+)}", one, path)


def _session(ctx, email):
    token = secrets.token_urlsafe(32)
    ctx.sql("insert into sessions (token_hash, staff_id, expires_at)"
            " values (%s, %s, now() + interval '1 hour')", (_blake(token), ctx.users[email]["id"]))
    return token


def _call(ctx, method, path, headers=None):
    """One request; the body of an event stream is not waited for, only its status."""
    h = dict(headers or {})
    body = None
    if method in WRITE:
        body = b"{}"
        h["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", ctx.server.port, timeout=15)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        ctype = r.getheader("Content-Type") or ""
        raw = b"" if ctype.startswith("text/event-stream") else r.read()
        try:
            err = (json.loads(raw) or {}).get("error") or {} if raw else {}
        except (ValueError, AttributeError):
            err = {}
        return r.status, err.get("code")
    finally:
        conn.close()


def _bearer(ctx, email):
    return {"Authorization": "Bearer " + _session(ctx, email)}


def _cookie(ctx, email, csrf=True):
    token = _session(ctx, email)
    h = {"Cookie": "carnet_session=" + token}
    if csrf:
        h["X-CSRF-Token"] = _blake("csrf:" + token)
    return h


def _relevant_roles(user, store):
    """The user's roles that count for a route: in `store`, or in any store when None."""
    if store is not None:
        return set(user["roles"].get(store, set()))
    return set().union(*user["roles"].values()) if user["roles"] else set()


def _protected(ctx):
    rows = [r for r in ctx.routes if r["access"] != "public"]
    assert rows, "no protected routes?"
    return rows


def test_every_route_refuses_without_a_session(ctx):
    bad = []
    for rt in _protected(ctx):
        path = _fill(ctx, rt["path"])
        status, code = _call(ctx, rt["method"], path)
        if status != 401 or code != "unauthenticated":
            bad.append((rt["method"], rt["path"], status, code))
    assert not bad, "must be 401 without a session: %s" % bad


def test_wrong_role_is_refused(ctx):
    bad, checked = [], 0
    for rt in _protected(ctx):
        access = _access(rt["access"])
        store = ctx.paris if "{store}" in rt["path"] else None
        path = _fill(ctx, rt["path"])
        for email, user in ctx.users.items():
            if user["admin"] or _relevant_roles(user, store) & access:
                continue
            checked += 1
            status, code = _call(ctx, rt["method"], path, _bearer(ctx, email))
            if status != 403:
                bad.append((rt["method"], rt["path"], email, status, code))
    assert not bad, "a role outside the route's access must get 403: %s" % bad
    assert checked > 0


def test_role_in_another_store_is_refused(ctx):
    bad, checked = [], 0
    for rt in _protected(ctx):
        if "{store}" not in rt["path"]:
            continue
        access = _access(rt["access"])
        path = _fill(ctx, rt["path"])
        for email, user in ctx.users.items():
            if user["admin"] or _relevant_roles(user, ctx.paris) & access:
                continue
            elsewhere = [s for s, roles in user["roles"].items() if s != ctx.paris and roles & access]
            if not elsewhere:
                continue
            checked += 1
            status, code = _call(ctx, rt["method"], path, _bearer(ctx, email))
            if status != 403:
                bad.append((rt["method"], rt["path"], email, status, code))
    assert not bad, "a role held only in another store must get 403: %s" % bad
    assert checked > 0, "lyon@ should have been tried on the {store} routes"


def test_allowed_roles_get_through(ctx):
    bad, covered = [], set()
    for rt in _protected(ctx):
        access = _access(rt["access"])
        store = ctx.paris if "{store}" in rt["path"] else None
        for email, user in ctx.users.items():
            if user["admin"]:
                pass
            elif "admin" in access and access == {"admin"}:
                continue
            elif not (user["roles"].get(ctx.paris, set()) & access):
                # Allowed cells are checked in the right store: Paris, where the filled ids are.
                continue
            elif store is None and not (_relevant_roles(user, None) & access):
                continue
            # Fill per cell: a write of an earlier cell may have changed which ids exist.
            path = _fill(ctx, rt["path"])
            # Admins through a cookie with its CSRF token, everyone else with a bearer token.
            headers = _cookie(ctx, email) if user["admin"] else _bearer(ctx, email)
            status, code = _call(ctx, rt["method"], path, headers)
            covered.add((rt["method"], rt["path"]))
            expected, why = ALLOWED.get((rt["method"], rt["path"]), (None, None))
            got = "%d" % status if 200 <= status < 300 and code is None else "%d %s" % (status, code)
            if expected is None:
                bad.append((rt["method"], rt["path"], "no ALLOWED entry; got " + got))
            elif got not in expected:
                bad.append((rt["method"], rt["path"], email, "got " + got,
                            "expected %s: %s" % (" or ".join(sorted(expected)), why)))
    assert not bad, "an allowed caller did not get the route's expected answer: %s" % bad
    missing = [(r["method"], r["path"]) for r in _protected(ctx)
               if (r["method"], r["path"]) not in covered]
    assert not missing, missing


def test_cookie_writes_need_the_csrf_header(ctx):
    bad, checked = [], 0
    for rt in _protected(ctx):
        if rt["method"] not in WRITE:
            continue
        path = _fill(ctx, rt["path"])
        for email in ("admin@carnet.test", "manager@carnet.test"):
            checked += 1
            status, code = _call(ctx, rt["method"], path, _cookie(ctx, email, csrf=False))
            if status != 403 or code != "csrf":
                bad.append((rt["method"], rt["path"], email, status, code))
            # A token that belongs to another session is as good as none.
            h = _cookie(ctx, email)
            h["X-CSRF-Token"] = _blake("csrf:" + secrets.token_urlsafe(32))
            status, code = _call(ctx, rt["method"], path, h)
            if status != 403 or code != "csrf":
                bad.append((rt["method"], rt["path"], email, "other token", status, code))
    assert not bad, "cookie writes without the right X-CSRF-Token must get 403 csrf: %s" % bad
    assert checked > 0


def test_ended_sessions_are_refused_everywhere(ctx):
    """An expired session, and one of a disabled account, open no protected route."""
    bad = []
    for rt in _protected(ctx):
        path = _fill(ctx, rt["path"])
        token = _session(ctx, "admin@carnet.test")
        ctx.sql("update sessions set expires_at = now() - interval '1 second'"
                " where token_hash = %s", (_blake(token),))
        status, _ = _call(ctx, rt["method"], path, {"Authorization": "Bearer " + token})
        if status != 401:
            bad.append((rt["method"], rt["path"], "expired", status))
    ctx.sql("update staff set disabled_at = now() where email = 'tech2@carnet.test'")
    try:
        for rt in _protected(ctx):
            path = _fill(ctx, rt["path"])
            status, _ = _call(ctx, rt["method"], path, _bearer(ctx, "tech2@carnet.test"))
            if status != 401:
                bad.append((rt["method"], rt["path"], "disabled", status))
    finally:
        ctx.sql("update staff set disabled_at = null where email = 'tech2@carnet.test'")
    assert not bad, bad


def test_access_rules_are_well_formed(ctx):
    for rt in ctx.routes:
        if rt["access"] == "public":
            continue
        assert _access(rt["access"]) <= ALL_ROLES, rt
        assert "admin" in _access(rt["access"]), ("admins act everywhere", rt)


def test_random_customer_tokens_open_nothing(ctx):
    """Public routes that take a link token: a made-up token opens no object and acts on none.
    (Routes of the booking, repair and survey domains are picked up here once merged.)"""
    bad = []
    for rt in ctx.routes:
        if rt["access"] != "public" or "{token}" not in rt["path"]:
            continue
        for _ in range(3):
            path = _fill(ctx, rt["path"])
            status, code = _call(ctx, rt["method"], path)
            if status < 400 or status >= 500:
                bad.append((rt["method"], rt["path"], status, code))
    assert not bad, "a random link token must be refused (4xx): %s" % bad
