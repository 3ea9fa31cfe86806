"""Shared tablets: a PIN (POST /api/auth/pin, with the account's password; weak ones refused),
sessions locked rather than ended after the idle timeout or on demand (every route but unlock
and logout answers 401 `locked`), unlocking with the PIN (POST /api/auth/unlock: the caller's
own session, or a colleague's opened on the same tablet), wrong PINs counted against the session
(the fifth ends it) and throttled per account and address like sign-in, absolute expiry, and
the tablet's list of who can come back (GET /api/auth/tablet).

A tablet is a browser: TabletClient keeps its cookies (the session's and the tablet's) as one
would. Each test uses its own loopback address (127.0.0.N) so the throttle of one does not
reach another."""
import hashlib

from harness import Client

DEMO_PW = "carnet-demo"
PINS = {"specialist@carnet.test": "2580", "tech@carnet.test": "9147",
        "tech2@carnet.test": "360715", "manager@carnet.test": "4826"}


class TabletClient(Client):
    """A browser: keeps every cookie carnetd sets and sends them back together."""

    def __init__(self, port, source):
        super().__init__(port)
        self.jar = {}
        self.source = source

    def request(self, method, path, **kw):
        self.cookie = "; ".join("%s=%s" % kv for kv in self.jar.items()) or None
        r = super().request(method, path, **kw)
        for k, v in r.headers:
            if k.lower() == "set-cookie":
                name, value = v.split(";", 1)[0].split("=", 1)
                if value:
                    self.jar[name] = value
                else:
                    self.jar.pop(name, None)
        if r.status == 200 and isinstance(r.json, dict) and r.json.get("csrf"):
            self.csrf = r.json["csrf"]
        return r

    def sign_in(self, email, password=DEMO_PW):
        r = self.post("/api/auth/login", {"email": email, "password": password})
        assert r.status == 200, (email, r)
        return r.json["staff"]


def setup(ctx):
    ctx.seed_demo()
    ctx.ids = {r["email"]: r["id"] for r in ctx.sql("select id, email from staff")}


def _tablet(ctx, n):
    return TabletClient(ctx.server.port, "127.0.0.%d" % n)


def _hash(token):
    return hashlib.blake2b(token.encode(), digest_size=32).hexdigest()


def _set_pin(c, email):
    r = c.post("/api/auth/pin", {"pin": PINS[email], "password": DEMO_PW})
    assert r.status == 204, r


def _idle(ctx, c):
    """Makes the tablet's current session idle past the timeout (30 minutes)."""
    ctx.sql("update sessions set last_seen_at = now() - interval '31 minutes'"
            " where token_hash = %s", (_hash(c.jar["carnet_session"]),))


def _pin_hash(ctx, email):
    return ctx.sql1("select pin_hash from staff where email = %s", (email,))["pin_hash"]


def test_set_pin_refuses_bad_input_and_changes_nothing(ctx):
    c = _tablet(ctx, 11)
    c.sign_in("tech2@carnet.test")
    cases = [
        ({"pin": "4826", "password": "not-my-password"}, 422, "bad_credentials", "password"),
        ({"pin": "4826"}, 422, "invalid", "password"),
        ({"password": DEMO_PW}, 422, "invalid", "pin"),
        ({"pin": "123", "password": DEMO_PW}, 422, "invalid", "pin"),
        ({"pin": "1234567", "password": DEMO_PW}, 422, "invalid", "pin"),
        ({"pin": "12a4", "password": DEMO_PW}, 422, "invalid", "pin"),
        ({"pin": " 4826", "password": DEMO_PW}, 422, "invalid", "pin"),
        ({"pin": 4826, "password": DEMO_PW}, 422, "invalid", "pin"),
        ({"pin": "\u0664\u0668\u0662\u0666", "password": DEMO_PW}, 422, "invalid", "pin"),
    ] + [({"pin": weak, "password": DEMO_PW}, 422, "weak_pin", "pin")
         for weak in ("0000", "1111", "999999", "1234", "123456", "4321", "987654", "1212",
                      "909090", "3456")]
    for body, status, code, field in cases:
        r = c.post("/api/auth/pin", body)
        assert (r.status, r.error.get("code"), r.error.get("field")) == (status, code, field), \
            (body, r)
    assert c.post("/api/auth/pin", raw=b"", headers={"Content-Type": "application/json"}).status == 400
    assert _pin_hash(ctx, "tech2@carnet.test") is None
    # The wrong password counted as a failed attempt of the account (the sign-in throttle).
    assert ctx.sql1("select count(*) as n from login_attempts where not ok"
                    " and address = '127.0.0.11'")["n"] == 1


def test_set_pin_needs_a_session(ctx):
    c = _tablet(ctx, 12)
    r = c.post("/api/auth/pin", {"pin": "4826", "password": DEMO_PW})
    assert r.status == 401 and r.error["code"] == "unauthenticated", r


def test_set_pin_stores_only_an_argon2id_hash(ctx):
    c = _tablet(ctx, 13)
    c.sign_in("tech@carnet.test")
    _set_pin(c, "tech@carnet.test")
    h = _pin_hash(ctx, "tech@carnet.test")
    assert h.startswith("$argon2id$") and PINS["tech@carnet.test"] not in h, h
    assert ctx.sql1("select count(*) as n from audit_log where action = 'staff.pin_set'"
                    " and staff_id = %s", (ctx.ids["tech@carnet.test"],))["n"] == 1


def test_idle_session_is_locked_not_ended_and_refused_elsewhere(ctx):
    c = _tablet(ctx, 14)
    c.sign_in("tech@carnet.test")
    _set_pin(c, "tech@carnet.test")
    _idle(ctx, c)
    for method, path, body in (("GET", "/api/auth/me", None),
                               ("POST", "/api/auth/password",
                                {"old_password": DEMO_PW, "new_password": "x" * 12}),
                               ("POST", "/api/auth/pin", {"pin": "5829", "password": DEMO_PW}),
                               ("POST", "/api/auth/lock", {})):
        r = c.request(method, path, body=body)
        assert r.status == 401 and r.error["code"] == "locked", (path, r)
    assert ctx.sql1("select locked_at is not null as locked from sessions where token_hash = %s",
                    (_hash(c.jar["carnet_session"]),))["locked"]
    # Without a PIN, an idle session ends as before.
    d = _tablet(ctx, 14)
    d.sign_in("specialist@carnet.test")
    assert _pin_hash(ctx, "specialist@carnet.test") is None
    _idle(ctx, d)
    r = d.get("/api/auth/me")
    assert r.status == 401 and r.error["code"] == "unauthenticated", r
    r = d.post("/api/auth/unlock", {"pin": "2580"})
    assert r.status == 401 and r.error["code"] == "unauthenticated", r
    # Sign-out still works on a locked session.
    assert c.post("/api/auth/logout", {}).status == 204
    assert c.post("/api/auth/unlock", {"pin": PINS["tech@carnet.test"]}).status == 401


def test_unlock_with_the_right_pin_gives_a_new_token(ctx):
    c = _tablet(ctx, 15)
    c.sign_in("tech@carnet.test")
    _set_pin(c, "tech@carnet.test")
    _idle(ctx, c)
    old = c.jar["carnet_session"]
    r = c.post("/api/auth/unlock", {"pin": PINS["tech@carnet.test"]})
    assert r.status == 200, r
    assert r.json["staff"]["staff_id"] == ctx.ids["tech@carnet.test"] and r.json["csrf"], r
    assert "token" not in r.json and c.jar["carnet_session"] != old
    assert c.get("/api/auth/me").status == 200
    # The token the session had before is dead.
    stale = Client(ctx.server.port)
    stale.cookie = "carnet_session=" + old
    assert stale.get("/api/auth/me").status == 401
    row = ctx.sql1("select locked_at, pin_failures, now() - last_seen_at < interval '5 seconds'"
                   " as fresh from sessions where token_hash = %s", (_hash(c.jar["carnet_session"]),))
    assert row["locked_at"] is None and row["pin_failures"] == 0 and row["fresh"], row
    # A bearer client gets its new token in the reply.
    b = Client(ctx.server.port)
    b.source = "127.0.0.15"
    r = b.post("/api/auth/login", {"email": "tech@carnet.test", "password": DEMO_PW, "bearer": True})
    b.bearer = r.json["token"]
    ctx.sql("update sessions set locked_at = now() where token_hash = %s", (_hash(b.bearer),))
    assert b.get("/api/auth/me").error["code"] == "locked"
    r = b.post("/api/auth/unlock", {"pin": PINS["tech@carnet.test"]})
    assert r.status == 200 and r.json["token"] != b.bearer, r
    b.bearer = r.json["token"]
    assert b.get("/api/auth/me").status == 200


def test_unlock_bad_input(ctx):
    c = _tablet(ctx, 16)
    c.sign_in("tech@carnet.test")
    _idle(ctx, c)
    for body, field in (({}, "pin"), ({"pin": "12"}, "pin"), ({"pin": "abcd"}, "pin"),
                        ({"pin": 9147}, "pin"), ({"pin": "9147", "staff_id": "x"}, "staff_id"),
                        ({"pin": "9147", "staff_id": 0}, "staff_id")):
        r = c.post("/api/auth/unlock", body)
        assert r.status == 422 and r.error["code"] == "invalid" and r.error["field"] == field, \
            (body, r)
    assert ctx.sql1("select count(*) as n from login_attempts where address = '127.0.0.16'"
                    " and not ok")["n"] == 0
    assert c.get("/api/auth/me").error["code"] == "locked"


def test_five_wrong_pins_end_the_session(ctx):
    c = _tablet(ctx, 17)
    c.sign_in("tech@carnet.test")
    _idle(ctx, c)
    for i in range(4):
        r = c.post("/api/auth/unlock", {"pin": "5555"})
        assert r.status == 401 and r.error["code"] == "bad_pin" and r.error["field"] == "pin", r
    r = c.post("/api/auth/unlock", {"pin": "5555"})
    assert r.status == 401 and r.error["code"] == "pin_ended", r
    r = c.post("/api/auth/unlock", {"pin": PINS["tech@carnet.test"]})
    assert r.status == 401 and r.error["code"] == "unauthenticated", r
    assert c.get("/api/auth/me").status == 401
    # A full sign-in still works from there (PIN guesses are counted apart from passwords).
    c.sign_in("tech@carnet.test")
    assert c.get("/api/auth/me").status == 200


def test_wrong_pins_are_throttled_per_account_and_address(ctx):
    key = ctx.login_key()
    c = _tablet(ctx, 18)
    c.sign_in("tech@carnet.test")
    _idle(ctx, c)
    ctx.sql("insert into login_attempts (account_mac, address, ok)"
            " select login_mac('pin:tech@carnet.test', %s), '127.0.0.18', false"
            " from generate_series(1, 5)", (key,))
    r = c.post("/api/auth/unlock", {"pin": PINS["tech@carnet.test"]})
    assert r.status == 429 and r.error["code"] == "throttled" and r.error["field"] == "pin", r
    assert int(r.header("Retry-After")) >= 1
    # The refusal checked nothing and left the session locked, not ended.
    assert c.get("/api/auth/me").error["code"] == "locked"
    # Another address is not held back by those guesses; the per-address limit (30, across
    # accounts) holds whatever account is tried.
    d = _tablet(ctx, 19)
    d.sign_in("tech@carnet.test")
    _idle(ctx, d)
    ctx.sql("insert into login_attempts (account_mac, address, ok)"
            " select login_mac('pin:x' || g || '@carnet.test', %s), '127.0.0.19', false"
            " from generate_series(1, 30) g", (key,))
    r = d.post("/api/auth/unlock", {"pin": PINS["tech@carnet.test"]})
    assert r.status == 429 and r.error["code"] == "throttled", r
    ctx.sql("delete from login_attempts where address in ('127.0.0.18', '127.0.0.19')")
    assert c.post("/api/auth/unlock", {"pin": PINS["tech@carnet.test"]}).status == 200
    assert d.post("/api/auth/unlock", {"pin": PINS["tech@carnet.test"]}).status == 200


def test_unlock_after_absolute_expiry_is_refused(ctx):
    c = _tablet(ctx, 20)
    c.sign_in("tech@carnet.test")
    ctx.sql("update sessions set expires_at = now() - interval '1 second'"
            " where token_hash = %s", (_hash(c.jar["carnet_session"]),))
    r = c.post("/api/auth/unlock", {"pin": PINS["tech@carnet.test"]})
    assert r.status == 401 and r.error["code"] == "unauthenticated", r
    assert c.get("/api/auth/tablet").json == {"staff": []}


def test_switching_staff_on_one_tablet(ctx):
    t = _tablet(ctx, 21)
    t.sign_in("manager@carnet.test")
    _set_pin(t, "manager@carnet.test")
    assert "carnet_tablet" in t.jar
    tablet = t.jar["carnet_tablet"]
    t.sign_in("tech@carnet.test")  # a colleague signs in on the same tablet
    assert t.jar["carnet_tablet"] == tablet, "the tablet keeps its cookie"
    names = [s["name"] for s in t.get("/api/auth/tablet").json["staff"]]
    assert sorted(names) == sorted(ctx.sql1("select string_agg(name, ',') as n from staff where"
                                            " email in ('manager@carnet.test', 'tech@carnet.test')")
                                   ["n"].split(",")), names
    assert ctx.sql1("select count(*) as n from sessions where tablet_hash = %s",
                    (_hash(tablet),))["n"] == 2
    tech_token = t.jar["carnet_session"]
    manager = ctx.ids["manager@carnet.test"]
    # The tech's PIN does not open the manager's session.
    r = t.post("/api/auth/unlock", {"pin": PINS["tech@carnet.test"], "staff_id": manager})
    assert r.status == 401 and r.error["code"] == "bad_pin", r
    assert t.jar["carnet_session"] == tech_token
    r = t.post("/api/auth/unlock", {"pin": PINS["manager@carnet.test"], "staff_id": manager})
    assert r.status == 200 and r.json["staff"]["staff_id"] == manager, r
    assert t.get("/api/auth/me").json["staff_id"] == manager
    # ... and back to the tech, whose session waited on the tablet.
    r = t.post("/api/auth/unlock", {"pin": PINS["tech@carnet.test"],
                                    "staff_id": ctx.ids["tech@carnet.test"]})
    assert r.status == 200 and t.get("/api/auth/me").json["staff_id"] == ctx.ids["tech@carnet.test"]
    # Another browser (no tablet cookie, or another tablet's) cannot come to those sessions.
    other = _tablet(ctx, 21)
    r = other.post("/api/auth/unlock", {"pin": PINS["manager@carnet.test"], "staff_id": manager})
    assert r.status == 401 and r.error["code"] == "unauthenticated", r
    assert other.get("/api/auth/tablet").json == {"staff": []}
    other.sign_in("specialist@carnet.test")
    r = other.post("/api/auth/unlock", {"pin": PINS["manager@carnet.test"], "staff_id": manager})
    assert r.status == 401 and r.error["code"] == "unauthenticated", r
    assert other.get("/api/auth/tablet").json == {"staff": []}, "no PIN: not listed"


def test_lock_now(ctx):
    t = _tablet(ctx, 22)
    t.sign_in("manager@carnet.test")
    # The staff app locks the tablet itself after this long without a touch.
    assert t.get("/api/auth/me").json["idle_seconds"] == 1800
    r = t.post("/api/auth/lock", {})
    assert r.status == 204, r
    assert t.get("/api/auth/me").error["code"] == "locked"
    assert t.post("/api/auth/unlock", {"pin": PINS["manager@carnet.test"]}).status == 200
    s = _tablet(ctx, 22)
    s.sign_in("specialist@carnet.test")
    r = s.post("/api/auth/lock", {})
    assert r.status == 409 and r.error["code"] == "no_pin", r
    assert s.get("/api/auth/me").status == 200
    # A cookie session locks only with its CSRF value, like any write.
    s.csrf = None
    assert s.post("/api/auth/lock", {}).status == 403


def test_anonymous(ctx):
    c = _tablet(ctx, 23)
    r = c.post("/api/auth/unlock", {"pin": "2580"})
    assert r.status == 401 and r.error["code"] == "unauthenticated", r
    r = c.post("/api/auth/unlock", {"pin": "2580", "staff_id": ctx.ids["manager@carnet.test"]})
    assert r.status == 401 and r.error["code"] == "unauthenticated", r
    c.jar["carnet_tablet"] = "made-up"
    r = c.post("/api/auth/unlock", {"pin": "2580", "staff_id": ctx.ids["manager@carnet.test"]})
    assert r.status == 401 and r.error["code"] == "unauthenticated", r
    assert c.get("/api/auth/tablet").json == {"staff": []}
    for path in ("/api/auth/pin", "/api/auth/lock"):
        r = c.post(path, {})
        assert r.status == 401 and r.error["code"] == "unauthenticated", (path, r)


def test_password_reset_clears_the_pin(ctx):
    m = _tablet(ctx, 24)
    m.sign_in("manager@carnet.test")
    t = _tablet(ctx, 25)
    t.sign_in("tech2@carnet.test")
    _set_pin(t, "tech2@carnet.test")
    paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    r = m.post("/api/stores/%d/staff/%d/password" % (paris, ctx.ids["tech2@carnet.test"]),
               {"password": DEMO_PW})
    assert r.status == 200, r
    assert _pin_hash(ctx, "tech2@carnet.test") is None
