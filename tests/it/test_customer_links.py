"""Customer links: a link token opens its own object and no other (IDOR), does only what its kind
of link does, stops at expiry, and is no staff session (nor a staff session a link).

Covers the booking manage link (/api/manage/{token}); the repair status, estimate approval and
survey links join here when their domains are merged (see the report of the staff branch).
"""
import datetime
import hashlib
import secrets
import time
import zoneinfo

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.service = ctx.sql1("select id from services where store_id = %s order by id limit 1",
                           (ctx.paris,))["id"]
    day = ctx.store_today(ctx.paris) + datetime.timedelta(days=3)
    while day.isoweekday() == 7:
        day += datetime.timedelta(days=1)
    ctx.day = day


def _slot(ctx, hhmm):
    h, m = map(int, hhmm.split(":"))
    d = ctx.day
    return datetime.datetime(d.year, d.month, d.day, h, m, tzinfo=PARIS).isoformat()


def _book(ctx, hhmm, name, email):
    r = ctx.client().post("/api/stores/%d/appointments" % ctx.paris,
                          {"service_id": ctx.service, "starts_at": _slot(ctx, hhmm),
                           "name": name, "email": email, "phone": "+33 6 12 34 56 78",
                           "problem": "cracked screen"})
    assert r.status == 201, r
    return r.json["appointment"]["id"], r.json["manage_token"]


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _state(ctx):
    return ctx.sql("select id, status, starts_at from appointments order by id")


def test_a_link_opens_its_own_booking_and_no_other(ctx):
    a_id, a_tok = _book(ctx, "11:00", "Alice Avril", "alice@example.com")
    b_id, b_tok = _book(ctx, "14:00", "Bruno Brun", "bruno@example.com")
    c = ctx.client()
    ra, rb = c.get("/api/manage/" + a_tok), c.get("/api/manage/" + b_tok)
    assert ra.status == 200 and ra.json["id"] == a_id, ra
    assert rb.status == 200 and rb.json["id"] == b_id, rb
    assert b"bruno" not in ra.raw.lower() and b"alice" not in rb.raw.lower()
    # Near misses of a real token open nothing, and act on nothing.
    before = _state(ctx)
    flipped = a_tok[:-1] + ("A" if a_tok[-1] != "A" else "B")
    for bad in (flipped, a_tok[:-1], a_tok + "x", a_tok.upper(), _hash(a_tok), str(a_id),
                b_tok[:20] + a_tok[20:]):
        for method, path in (("GET", "/api/manage/%s"), ("POST", "/api/manage/%s/cancel")):
            r = c.request(method, path % bad)
            assert r.status == 404 and r.error["field"] == "token", (bad, r)
    assert _state(ctx) == before
    # Cancelling through A's link leaves B alone.
    assert c.post("/api/manage/%s/cancel" % a_tok).status == 200
    rows = {x["id"]: x["status"] for x in _state(ctx)}
    assert rows[a_id] == "cancelled" and rows[b_id] == "booked", rows


def test_an_expired_link_opens_nothing(ctx):
    a_id, tok = _book(ctx, "15:00", "Chloé Chêne", "chloe@example.com")
    ctx.sql("update appointment_tokens set expires_at = now() - interval '1 second'"
            " where appointment_id = %s", (a_id,))
    before = _state(ctx)
    c = ctx.client()
    assert c.get("/api/manage/" + tok).status == 404
    assert c.post("/api/manage/%s/cancel" % tok).status == 404
    assert c.post("/api/manage/%s/reschedule" % tok, {"starts_at": _slot(ctx, "16:00")}).status \
        == 404
    assert _state(ctx) == before


def test_links_and_staff_sessions_do_not_stand_in_for_each_other(ctx):
    a_id, tok = _book(ctx, "16:30", "Denis Doré", "denis@example.com")
    c = ctx.client()
    # A manage token is no staff session, by cookie or bearer.
    for headers in ({"Authorization": "Bearer " + tok}, {"Cookie": "carnet_session=" + tok}):
        r = c.get("/api/auth/me", headers=headers)
        assert r.status == 401, r
        r = c.get("/api/stores/%d/appointments?date=%s" % (ctx.paris, ctx.day), headers=headers)
        assert r.status == 401, r
    # A staff session token opens no customer link.
    r = c.post("/api/auth/login", {"email": "manager@carnet.test", "password": "carnet-demo",
                                   "bearer": True})
    staff_token = r.json["token"]
    assert c.get("/api/manage/" + staff_token).status == 404
    # A token for another kind of object is not a manage link, even for the same booking.
    other = secrets.token_urlsafe(32)
    ctx.sql("alter table appointment_tokens drop constraint appointment_tokens_purpose_check")
    try:
        ctx.sql("insert into appointment_tokens (token_hash, appointment_id, purpose, expires_at)"
                " values (%s, %s, 'survey', now() + interval '1 day')", (_hash(other), a_id))
        before = _state(ctx)
        assert c.get("/api/manage/" + other).status == 404
        assert c.post("/api/manage/%s/cancel" % other).status == 404
        assert _state(ctx) == before
    finally:
        ctx.sql("delete from appointment_tokens where purpose <> 'manage'")
        ctx.sql("alter table appointment_tokens add constraint appointment_tokens_purpose_check"
                " check (purpose in ('manage'))")
    # Customer link routes need no session and ignore one: a staff cookie does not widen them.
    r = c.get("/api/manage/" + tok, headers={"Authorization": "Bearer " + staff_token})
    assert r.status == 200 and r.json["id"] == a_id and "staff_id" not in r.json, r


def test_link_tokens_are_stored_hashed(ctx):
    a_id, tok = _book(ctx, "17:30", "Élise Été", "elise@example.com")
    rows = ctx.sql("select token_hash from appointment_tokens where appointment_id = %s", (a_id,))
    assert [r["token_hash"] for r in rows] == [_hash(tok)], rows
    assert not ctx.sql("select 1 from appointments a where a::text like %s", ("%" + tok + "%",))


# Which public {token} routes each kind of link may open: every other one must refuse it. The
# manage link doubles as the self check-in QR code (floor), as its route says.
# A customer writes to the store from the links they already hold: the booking's manage link and
# the repair's status link also open the thread of that booking or repair (test_wiring checks it
# is theirs); an estimate link does not.
OWN_ROUTES = {
    "manage": ("/api/manage/", "/api/checkin/", "/api/messages/"),
    "repair_status": ("/api/repair-status/", "/api/messages/"),
    "estimate": ("/api/estimates/",),
}


def _token_routes(ctx):
    import json
    import subprocess
    out = subprocess.run([ctx.run.binary, "--routes"], capture_output=True, text=True, check=True)
    return [r for r in json.loads(out.stdout)
            if r["access"] == "public" and "{token}" in r["path"]]


def _staff(ctx, email):
    from harness import Client
    c = Client(ctx.server.port)
    c.login(email, "carnet-demo")
    return c


def test_a_link_of_one_kind_opens_no_other_kind(ctx):
    """A booking link, a repair status link and an estimate link are each refused by every
    customer route that is not theirs (and change nothing there)."""
    tokens = {"manage": _book(ctx, "12:00", "Fanny Faure", "fanny@example.com")[1]}
    routes = _token_routes(ctx)
    if any(r["path"].startswith("/api/repair-status/") for r in routes):
        tech = _staff(ctx, "tech@carnet.test")
        r = tech.post("/api/stores/%d/repairs" % ctx.paris,
                      {"serial": "LINK0DEV01", "problem": "battery",
                       "intake": {"checklist": [{"item": "screen", "ok": True}],
                                  "accessories": "none",
                                  "passcode_provided": False}})
        assert r.status == 201, r
        tokens["repair_status"] = r.json["status_token"]
        rid = r.json["id"]
        assert tech.post("/api/repairs/%d/transition" % rid, {"to": "diagnosing"}).status == 200
        r = tech.put("/api/repairs/%d/estimate" % rid, {"diagnosis": "Worn battery", "lines": [
            {"kind": "part", "description": "Battery", "quantity": 1, "unit_price": 4900, "vat_rate": 0}]})
        assert r.status == 200, r
        tokens["estimate"] = r.json["approval_token"]
        assert tech.post("/api/repairs/%d/transition" % rid,
                         {"to": "awaiting_approval"}).status == 200
    c = ctx.client()
    bad, tried = [], 0
    for kind, token in tokens.items():
        for rt in routes:
            if rt["path"].startswith(OWN_ROUTES[kind]):
                continue
            tried += 1
            path = rt["path"].replace("{token}", token)
            if rt["path"].endswith("/events"):
                continue  # a stream; its non-stream sibling route is tried
            r = c.request(rt["method"], path, body={} if rt["method"] != "GET" else None)
            if not 400 <= r.status < 500:
                bad.append((kind, rt["method"], rt["path"], r.status))
    assert not bad, "a link opened a route of another kind: %s" % bad
    assert tried >= len(routes) - 2
    # Each still works where it belongs, so the refusals above were about the kind.
    assert c.get("/api/manage/" + tokens["manage"]).status == 200
    if "estimate" in tokens:
        assert c.get("/api/repair-status/" + tokens["repair_status"]).status == 200
        assert c.get("/api/estimates/" + tokens["estimate"]).status == 200


# ---- link format, checked before any query (link.c) ----

# Malformed links: too short, one short of a real one, one too long, a character outside the
# url-safe alphabet, far too long.
MALFORMED = ("nope", "A" * 42, "A" * 44, "A" * 42 + "*", "b" * 300)

# Every floor route that takes a customer's link, and the SSE stream of a place in line.
FLOOR_TOKEN_ROUTES = (
    ("GET", "/api/line/%s"),
    ("POST", "/api/line/%s/leave"),
    ("GET", "/api/line/%s/events"),
    ("POST", "/api/checkin/%s"),
    ("GET", "/api/standby/%s"),
    ("POST", "/api/standby/%s/claim"),
    ("POST", "/api/standby/%s/leave"),
)


def _floor_state(ctx):
    return (ctx.sql("select id, status from visits order by id"),
            ctx.sql("select id, status from standby order by id"))


def test_a_malformed_link_is_refused_on_every_floor_route_and_stream(ctx):
    server = ctx.server
    c = ctx.client()
    before = _floor_state(ctx)
    for _ in range(20):
        for bad in MALFORMED:
            for method, path in FLOOR_TOKEN_ROUTES:
                r = c.request(method, path % bad, body={} if method == "POST" else None,
                              timeout=5)
                assert r.status == 404 and r.json is not None, (method, path, bad, r)
                assert r.error["code"] == "not_found" and r.error["field"] == "token", \
                    (method, path, bad, r)
    assert _floor_state(ctx) == before
    assert server.proc.poll() is None, "carnetd exited"
    assert c.get("/healthz").status == 200


def test_anonymous_idempotent_booking_with_an_empty_body_is_refused_and_harmless(ctx):
    """This crashed the server before the kit: {} with an Idempotency-Key, 100 times."""
    server = ctx.server
    c = ctx.client()
    n = ctx.sql1("select count(*) as n from appointments")["n"]
    for store in ("x", str(ctx.paris)):
        for _ in range(100):
            r = c.post("/api/stores/%s/appointments" % store, {},
                       headers={"Idempotency-Key": "k1"}, timeout=5)
            assert 400 <= r.status < 500 and r.json is not None and r.error["code"], (store, r)
    assert ctx.sql1("select count(*) as n from appointments")["n"] == n
    assert server.proc.poll() is None, "carnetd exited"
    assert c.get("/healthz").status == 200


def test_carnetd_links_are_43_characters(ctx):
    """One token size for every kind of link carnetd mints: 32 random bytes, 43 characters."""
    c = ctx.client()
    r = c.post("/api/stores/%d/line" % ctx.paris, {"name": "Gaël Gris"})
    assert r.status == 201, r
    line = r.json["token"]
    assert len(line) == 43 and line.replace("-", "").replace("_", "").isalnum(), line
    assert c.get("/api/line/" + line).status == 200
    row = ctx.sql1("select line_token_hash from visits where id = %s", (r.json["visit_id"],))
    assert row["line_token_hash"] == _hash(line), row
    assert c.post("/api/line/%s/leave" % line).status == 200
    manage = _book(ctx, "18:00", "Hugo Houx", "hugo@example.com")[1]
    assert len(manage) == 43, manage


# Last in the module: it stops the database for a moment.
def _wait_health(server, status, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.client.get("/healthz", timeout=5).status == status:
            return True
        time.sleep(0.1)
    return False


def test_a_malformed_link_is_refused_before_any_query(ctx):
    """With the database down, a malformed link still gets its 404 (no query was tried), while
    a well-formed unknown one cannot be looked up: 503, or for a live stream 200 with only a
    `retry:` delay (a browser's EventSource gives up on a 503 but comes back after that)."""
    s = ctx.start_carnetd(env={"CARNET_RECONNECT_MAX_MS": "300"})
    ctx.cluster.stop()
    try:
        assert _wait_health(s, 503, 10), "healthz did not see the database go"
        for method, path in FLOOR_TOKEN_ROUTES + (("GET", "/api/manage/%s"),
                                                  ("POST", "/api/manage/%s/cancel")):
            r = s.client.request(method, path % MALFORMED[3],
                                 body={} if method == "POST" else None, timeout=5)
            assert r.status == 404 and r.error["field"] == "token", (method, path, r)
            r = s.client.request(method, path % secrets.token_urlsafe(32),
                                 body={} if method == "POST" else None, timeout=5)
            if path.endswith("/events"):
                assert r.status == 200 and r.raw.startswith(b"retry: "), (method, path, r)
            else:
                assert r.status == 503, (method, path, r)
        assert s.proc.poll() is None
    finally:
        ctx.cluster.start()
    ctx._db = None
    assert _wait_health(s, 200, 15), "did not recover after the restart"
    # The module's own carnetd lost its connections too: later tests need it back.
    assert _wait_health(ctx.server, 200, 60), "the module's carnetd did not recover"
