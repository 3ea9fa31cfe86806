"""Staff sign-in and sessions: credentials, no account enumeration, throttling without lock-out
(per account and address, per address, a capped per-account slow-down, and the owner getting in
while someone guesses), idle timeout and expiry, logout (with CSRF for cookies), disabled
accounts, cookie flags, CSRF, bearer tokens, secrets kept out of logs and replies, and hostile
text stored verbatim.

carnetd sees the socket's peer address (it trusts no X-Forwarded-For), so a client bound to
127.0.0.2, 127.0.0.3 ... on Linux loopback is another address to it."""
import hashlib
import os
import subprocess
import secrets
import threading
import time

from harness import Client

DEMO_PW = "carnet-demo"
SECRET_PW = "Very-Secret-Passw0rd-xyzzy"
SEEN = []  # every response of this module, to prove no password ever comes back


class RecordingClient(Client):
    def request(self, method, path, **kw):
        r = super().request(method, path, **kw)
        SEEN.append(r)
        return r


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]


def _client(ctx, server=None, source=None):
    c = RecordingClient((server or ctx.server).port)
    c.source = source
    return c


def _retry_after(r):
    """A throttled reply: 429 `throttled`, with Retry-After in seconds, the same as in the body."""
    assert r.status == 429 and r.error["code"] == "throttled", r
    seconds = int(r.header("Retry-After"))
    assert seconds >= 1 and r.error["retry_after"] == seconds, r
    return seconds


def _bearer(ctx, email, password=DEMO_PW, server=None):
    c = _client(ctx, server)
    r = c.post("/api/auth/login", {"email": email, "password": password, "bearer": True})
    assert r.status == 200, (email, r)
    c.bearer = r.json["token"]
    return c


def _token_hash(token):
    return hashlib.blake2b(token.encode(), digest_size=32).hexdigest()


def _forget_attempts(ctx):
    ctx.sql("delete from login_attempts")


def test_login_ok_cookie_and_bearer(ctx):
    c = _client(ctx)
    r = c.post("/api/auth/login", {"email": "manager@carnet.test", "password": DEMO_PW})
    assert r.status == 200, r
    assert r.json["staff"]["email"] == "manager@carnet.test" and r.json["csrf"], r
    assert "token" not in r.json, "a cookie login must not expose the token to scripts"
    cookie = r.header("Set-Cookie")
    token = cookie.split(";", 1)[0].split("=", 1)[1]
    row = ctx.sql1("select * from sessions where token_hash = %s", (_token_hash(token),))
    assert row, "the session is stored under the BLAKE2b hash of its token"
    assert not ctx.sql("select 1 from sessions where token_hash = %s", (token,))
    b = _bearer(ctx, "manager@carnet.test")
    me = b.get("/api/auth/me")
    assert me.status == 200 and me.json["name"] == "Marie Manager", me
    assert me.json["stores"] == [{"store_id": ctx.paris, "roles": ["specialist", "manager"]}]
    assert "csrf" not in me.json, "a bearer session has no CSRF value"
    # A cookie session can ask for its CSRF value again (a page that lost it), and it is the one
    # the login gave.
    c.cookie = cookie.split(";", 1)[0]
    me = c.get("/api/auth/me")
    assert me.status == 200 and me.json["csrf"] == r.json["csrf"], me
    assert ctx.sql1("select count(*) as n from audit_log where action = 'login'")["n"] >= 2


def test_bad_credentials_do_not_reveal_accounts(ctx):
    _forget_attempts(ctx)
    c = _client(ctx)
    wrong = c.post("/api/auth/login", {"email": "manager@carnet.test", "password": "nope-nope"})
    unknown = c.post("/api/auth/login", {"email": "nobody@carnet.test", "password": "nope-nope"})
    ctx.sql("update staff set disabled_at = now() where email = 'tech2@carnet.test'")
    try:
        disabled = c.post("/api/auth/login", {"email": "tech2@carnet.test", "password": DEMO_PW})
    finally:
        ctx.sql("update staff set disabled_at = null where email = 'tech2@carnet.test'")
    for r in (wrong, unknown, disabled):
        assert r.status == 401, r
        assert r.json == wrong.json, (r.json, wrong.json)
        assert r.header("Set-Cookie") is None
    assert wrong.error["code"] == "bad_credentials"
    for body, field in (({"email": "", "password": "x"}, "email"),
                        ({"email": "a@b.c"}, "password"), ({"email": 5, "password": "x"}, "email"),
                        ({"email": "a@b.c", "password": "p" * 1025}, "password")):
        r = c.post("/api/auth/login", body)
        assert r.status == 422 and r.error["field"] == field, (body, r)
    assert c.post("/api/auth/login").status == 400
    _forget_attempts(ctx)


def test_throttle_per_account_and_address(ctx):
    _forget_attempts(ctx)
    c = _client(ctx)
    for i in range(5):
        r = c.post("/api/auth/login", {"email": "specialist@carnet.test", "password": "bad-%d" % i})
        assert r.status == 401, (i, r)
    # The sixth attempt from this address is refused before any password check, even the right
    # password, and told to come back when the oldest failure leaves the 15-minute window.
    r = c.post("/api/auth/login", {"email": "SPECIALIST@carnet.test", "password": DEMO_PW})
    assert 890 <= _retry_after(r) <= 900, r
    assert r.error["field"] == "email", r
    # Refusals are not recorded: knocking on a closed door does not keep it closed.
    for _ in range(3):
        assert c.post("/api/auth/login", {"email": "specialist@carnet.test",
                                          "password": "bad-x"}).status == 429
    assert ctx.sql1("select count(*) as n from login_attempts")["n"] == 5
    # An unknown email is throttled the same way: the 429 does not tell accounts apart either.
    for i in range(5):
        assert c.post("/api/auth/login", {"email": "ghost@carnet.test",
                                          "password": "bad-%d" % i}).status == 401
    ghost = c.post("/api/auth/login", {"email": "ghost@carnet.test", "password": "x-x-x-x"})
    _retry_after(ghost)
    assert {k: v for k, v in ghost.error.items() if k != "retry_after"} == \
        {k: v for k, v in r.error.items() if k != "retry_after"}, (ghost, r)
    assert not ctx.sql("select 1 from login_attempts where ok")
    # Another account from the same address is not affected ...
    _bearer(ctx, "tech@carnet.test")
    # ... nor the same account from another address: the limit is not a lock-out.
    r = _client(ctx, source="127.0.0.2").post(
        "/api/auth/login", {"email": "specialist@carnet.test", "password": DEMO_PW})
    assert r.status == 200, r
    # The window is 15 minutes: once the failures are older, the account opens again.
    ctx.sql("update login_attempts set at = now() - interval '16 minutes'")
    _bearer(ctx, "specialist@carnet.test")
    _forget_attempts(ctx)


def test_throttle_holds_against_parallel_guesses(ctx):
    _forget_attempts(ctx)
    results = []

    def guess(i):
        results.append(_client(ctx).post(
            "/api/auth/login", {"email": "tech@carnet.test", "password": "guess-%d" % i}).status)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert sorted(results) == [401] * 5 + [429] * 15, sorted(results)
        n = ctx.sql1("select count(*) as n from login_attempts"
                     " where account_mac = login_mac('tech@carnet.test', %s)",
                     (ctx.login_key(),))["n"]
        assert n == 5, n
    finally:
        _forget_attempts(ctx)
    # A success does not count as a failure: many sign-ins in a row stay open.
    for _ in range(7):
        _bearer(ctx, "tech@carnet.test")
    assert not ctx.sql("select 1 from login_attempts where not ok")


def test_throttle_per_address(ctx):
    _forget_attempts(ctx)
    # 29 failures from this address on many accounts (below each account's own limit) ...
    ctx.sql("insert into login_attempts (account_mac, address, ok)"
            " select login_mac('spray' || g || '@carnet.test', %s), '127.0.0.1', false"
            " from generate_series(1, 29) g", (ctx.login_key(),))
    c = _client(ctx)
    r = c.post("/api/auth/login", {"email": "spray30@carnet.test", "password": "x-x-x-x"})
    assert r.status == 401, r
    # ... and the 31st attempt from the address is refused whatever the account.
    r = c.post("/api/auth/login", {"email": "manager@carnet.test", "password": DEMO_PW})
    assert 890 <= _retry_after(r) <= 900, r
    # The same account from another address is heard at the same moment.
    r = _client(ctx, source="127.0.0.2").post(
        "/api/auth/login", {"email": "manager@carnet.test", "password": DEMO_PW})
    assert r.status == 200, r
    # Failures from another address do not count against this one.
    ctx.sql("update login_attempts set address = '192.0.2.1'")
    _bearer(ctx, "manager@carnet.test")
    _forget_attempts(ctx)


def test_account_slow_down_is_capped_and_spares_clean_addresses(ctx):
    """Guesses on one account from many addresses slow down the addresses that keep failing on
    it, 2^(n-5) s after their own last failure (n: the account's failures), never more than
    30 s; an address with at most one failure there is not slowed at all."""
    _forget_attempts(ctx)
    email = "tech2@carnet.test"

    def at(addr, password):
        return _client(ctx, source=addr).post("/api/auth/login",
                                               {"email": email, "password": password})

    def failed_just_now(addr):
        ctx.sql("update login_attempts set at = now() where address = %s", (addr,))

    for addr in ("127.0.0.3", "127.0.0.4", "127.0.0.5"):
        for i in range(2):
            r = at(addr, "guess-%d" % i)
            assert r.status == 401, (addr, i, r)
    ctx.sql("insert into login_attempts (account_mac, address, ok)"
            " values (login_mac(%s, %s), '198.51.100.1', false)", (email, ctx.login_key()))
    # Seven failures on the account: an address that failed twice waits 4 s after its own last
    # failure (its clock is set so that the wait is exact), and is heard once it has waited.
    failed_just_now("127.0.0.5")
    wait = _retry_after(at("127.0.0.5", "guess-2"))
    assert 3 <= wait <= 4, wait
    time.sleep(wait)
    assert at("127.0.0.5", "guess-2").status == 401, "after Retry-After the address is heard"
    # A clean address with the right password gets in at once, and so does someone who
    # mistypes once (within two tries).
    assert at("127.0.0.6", DEMO_PW).status == 200
    assert at("127.0.0.7", "mistyped").status == 401
    assert at("127.0.0.7", DEMO_PW).status == 200
    # However many failures the account collects (a botnet), the wait never exceeds 30 s after
    # the address's own last failure, and clean addresses are never refused.
    ctx.sql("insert into login_attempts (account_mac, address, ok)"
            " select login_mac(%s, %s), '198.51.100.' || g, false from generate_series(2, 201) g",
            (email, ctx.login_key()))
    failed_just_now("127.0.0.4")
    wait = _retry_after(at("127.0.0.4", DEMO_PW))
    assert 28 <= wait <= 30, wait
    assert at("127.0.0.8", DEMO_PW).status == 200
    ctx.sql("update login_attempts set at = now() - interval '31 seconds'"
            " where address = '127.0.0.4'")
    assert at("127.0.0.4", DEMO_PW).status == 200, "the slow-down held it for more than 30 s"
    # After its success, that address's own earlier failures were the owner's typos.
    assert at("127.0.0.4", "mistyped").status == 401
    assert at("127.0.0.4", DEMO_PW).status == 200
    _forget_attempts(ctx)


def test_guessing_never_locks_the_owner_out(ctx):
    """One address guesses one account for 2 minutes, as fast as it is answered, while the owner
    signs in from another address every 20 seconds. The policy's windows are fixed in SQL
    (auth_throttle), so this runs the real 2 minutes: what it proves is that at no moment of a
    sustained attack, not only right after it starts, does the attacker's refusal become the
    owner's, and that the attacker's hammering does not push its own wait back. The owner
    mistypes first on two occasions: a sign-in within two tries."""
    _forget_attempts(ctx)
    email = "specialist@carnet.test"
    attacker = _client(ctx, source="127.0.0.2")
    answers = []  # (status, Retry-After) of every guess
    stop = threading.Event()

    def attack():
        i = 0
        while not stop.is_set():
            r = attacker.post("/api/auth/login", {"email": email, "password": "guess-%d" % i})
            answers.append((r.status, r.header("Retry-After")))
            i += 1
            time.sleep(0.05)

    t = threading.Thread(target=attack)
    t.start()
    tries = []
    start = time.time()
    try:
        while len(answers) < 6 and time.time() < start + 30:
            time.sleep(0.1)
        start = time.time()
        for occasion in range(7):
            time.sleep(max(0.0, start + 20 * occasion - time.time()))
            owner = _client(ctx, source="127.0.0.1")
            n = 0
            if occasion in (0, 3):
                r = owner.post("/api/auth/login", {"email": email, "password": "mistyped"})
                assert r.status == 401, (occasion, r)
                n += 1
            r = owner.post("/api/auth/login", {"email": email, "password": DEMO_PW})
            n += 1
            assert r.status == 200, (occasion, n, r)
            tries.append(n)
    finally:
        stop.set()
        t.join(30)
    assert time.time() - start >= 120
    assert tries == [2, 1, 1, 2, 1, 1, 1], tries
    # The attacker had its five guesses and nothing more, for the whole two minutes ...
    statuses = [s for s, _ in answers]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}, statuses[:10]
    assert len(answers) > 500, len(answers)
    assert ctx.sql1("select count(*) as n from login_attempts where address = '127.0.0.2'"
                    " and not ok")["n"] == 5
    # ... and each refusal said when to come back, a time its own refusals did not move.
    waits = [int(ra) for _, ra in answers[5:]]
    assert all(1 <= w <= 900 for w in waits), (min(waits), max(waits))
    assert waits[0] - waits[-1] >= 110, (waits[0], waits[-1])
    _forget_attempts(ctx)


def test_idle_timeout_and_expiry(ctx):
    s = ctx.start_carnetd(env={"CARNET_SESSION_IDLE": "60", "CARNET_SESSION_TTL": "120"})
    c = _bearer(ctx, "tech@carnet.test", server=s)
    h = _token_hash(c.bearer)
    row = ctx.sql1("select extract(epoch from expires_at - created_at)::int as ttl"
                   " from sessions where token_hash = %s", (h,))
    assert row["ttl"] == 120, row
    ctx.sql("update sessions set last_seen_at = now() - interval '50 seconds'"
            " where token_hash = %s", (h,))
    assert c.get("/api/auth/me").status == 200
    # Seen 50 s ago: still in the 60 s window, and the visit moved it, so a session in use
    # outlives the idle timeout (it used to move only once a minute: dead after 60 s).
    row = ctx.sql1("select now() - last_seen_at < interval '5 seconds' as fresh"
                   " from sessions where token_hash = %s", (h,))
    assert row["fresh"], "a short idle timeout needs last_seen_at moved more often"
    ctx.sql("update sessions set last_seen_at = now() - interval '61 seconds'"
            " where token_hash = %s", (h,))
    r = c.get("/api/auth/me")
    assert r.status == 401 and r.error["code"] == "unauthenticated", r
    # Expiry holds even for a session in constant use.
    c2 = _bearer(ctx, "tech@carnet.test", server=s)
    ctx.sql("update sessions set expires_at = now() - interval '1 second', last_seen_at = now()"
            " where token_hash = %s", (_token_hash(c2.bearer),))
    assert c2.get("/api/auth/me").status == 401
    # The default idle timeout (30 minutes) applies without the setting.
    c3 = _bearer(ctx, "tech@carnet.test")
    ctx.sql("update sessions set last_seen_at = now() - interval '29 minutes'"
            " where token_hash = %s", (_token_hash(c3.bearer),))
    assert c3.get("/api/auth/me").status == 200
    ctx.sql("update sessions set last_seen_at = now() - interval '31 minutes'"
            " where token_hash = %s", (_token_hash(c3.bearer),))
    assert c3.get("/api/auth/me").status == 401


def test_activity_keeps_a_session_alive(ctx):
    c = _bearer(ctx, "tech@carnet.test")
    h = _token_hash(c.bearer)
    ctx.sql("update sessions set last_seen_at = now() - interval '20 minutes'"
            " where token_hash = %s", (h,))
    assert c.get("/api/auth/me").status == 200
    row = ctx.sql1("select now() - last_seen_at < interval '1 minute' as fresh"
                   " from sessions where token_hash = %s", (h,))
    assert row["fresh"], "a request must move last_seen_at when it is older than a minute"


def test_logout_ends_the_session(ctx):
    c = _client(ctx)
    c.login("manager@carnet.test", DEMO_PW)
    token = c.cookie.split("=", 1)[1]
    assert c.get("/api/auth/me").status == 200
    r = c.post("/api/auth/logout")
    assert r.status == 204, r
    cookie = r.header("Set-Cookie")
    assert "Max-Age=0" in cookie and cookie.startswith("carnet_session=;"), cookie
    assert not ctx.sql("select 1 from sessions where token_hash = %s", (_token_hash(token),))
    assert c.get("/api/auth/me").status == 401
    b = _bearer(ctx, "manager@carnet.test")
    assert b.post("/api/auth/logout").status == 204
    assert b.get("/api/auth/me").status == 401
    # Logging out without a session is harmless.
    assert _client(ctx).post("/api/auth/logout").status == 204


def test_logout_needs_csrf_for_cookie_sessions(ctx):
    """A cookie goes with every request the browser makes, even from another site's form: without
    the CSRF value any page could sign our staff out. A bearer token is never sent on its own."""
    c = _client(ctx)
    c.login("manager@carnet.test", DEMO_PW)
    token = c.cookie.split("=", 1)[1]
    csrf = c.csrf
    c.csrf = None
    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": ""}):
        r = c.post("/api/auth/logout", headers=headers)
        assert r.status == 403 and r.error["code"] == "csrf", (headers, r)
        assert r.error["field"] == "X-CSRF-Token" and r.header("Set-Cookie") is None, r
    assert ctx.sql("select 1 from sessions where token_hash = %s", (_token_hash(token),))
    assert c.get("/api/auth/me").status == 200, "a refused logout leaves the session alone"
    # Another session's value does not fit this one.
    other = _client(ctx)
    other.login("manager@carnet.test", DEMO_PW)
    assert c.post("/api/auth/logout", headers={"X-CSRF-Token": other.csrf}).status == 403
    assert c.get("/api/auth/me").status == 200
    c.csrf = csrf
    assert c.post("/api/auth/logout").status == 204
    assert c.get("/api/auth/me").status == 401
    assert other.get("/api/auth/me").status == 200, "only the session that asked ends"
    # A bearer session signs out without one.
    b = _bearer(ctx, "manager@carnet.test")
    assert b.post("/api/auth/logout").status == 204
    assert b.get("/api/auth/me").status == 401


def test_stolen_session_of_disabled_account_fails_at_once(ctx):
    thief = _client(ctx)
    thief.login("tech2@carnet.test", DEMO_PW)
    b = _bearer(ctx, "tech2@carnet.test")
    assert thief.get("/api/auth/me").status == 200
    # Even if the sessions rows were left behind, the account check refuses them.
    ctx.sql("update staff set disabled_at = now() where email = 'tech2@carnet.test'")
    try:
        assert thief.get("/api/auth/me").status == 401
        assert b.get("/api/auth/me").status == 401
        assert ctx.sql("select 1 from sessions s join staff t on t.id = s.staff_id"
                       " where t.email = 'tech2@carnet.test'"), "rows were kept for this check"
    finally:
        ctx.sql("update staff set disabled_at = null where email = 'tech2@carnet.test'")
    # Through the API, disabling also deletes them: enabling again does not revive them.
    m = _bearer(ctx, "manager@carnet.test")
    tid = ctx.sql1("select id from staff where email = 'tech2@carnet.test'")["id"]
    assert m.post("/api/stores/%d/staff/%d/disable" % (ctx.paris, tid)).status == 200
    assert m.post("/api/stores/%d/staff/%d/enable" % (ctx.paris, tid)).status == 200
    assert thief.get("/api/auth/me").status == 401
    assert b.get("/api/auth/me").status == 401


def test_unknown_or_forged_sessions(ctx):
    c = _client(ctx)
    for headers in ({"Cookie": "carnet_session=" + secrets.token_urlsafe(32)},
                    {"Authorization": "Bearer " + secrets.token_urlsafe(32)},
                    {"Cookie": "carnet_session="}, {"Authorization": "Bearer "},
                    {"Cookie": "other=1; xcarnet_session=abc"}, {"Authorization": "Basic abc"}):
        r = c.get("/api/auth/me", headers=headers)
        assert r.status == 401 and r.error["code"] == "unauthenticated", (headers, r)
    # The stored hash itself is not a token.
    b = _bearer(ctx, "tech@carnet.test")
    r = c.get("/api/auth/me", headers={"Authorization": "Bearer " + _token_hash(b.bearer)})
    assert r.status == 401, r


def test_cookie_flags(ctx):
    r = _client(ctx).post("/api/auth/login", {"email": "tech@carnet.test", "password": DEMO_PW})
    cookie = r.header("Set-Cookie")
    attrs = [a.strip() for a in cookie.split(";")]
    assert attrs[0].startswith("carnet_session=") and len(attrs[0]) > 40, attrs
    assert "HttpOnly" in attrs and "SameSite=Strict" in attrs and "Path=/" in attrs, attrs
    assert "Secure" not in attrs, "no Secure over plain http, or the browser drops the cookie"
    assert "Max-Age=43200" in attrs, attrs
    s = ctx.start_carnetd(env={"CARNET_PUBLIC_URL": "https://carnet.example",
                               "CARNET_SESSION_TTL": "3600"})
    r = _client(ctx, s).post("/api/auth/login", {"email": "tech@carnet.test",
                                                  "password": DEMO_PW})
    attrs = [a.strip() for a in r.header("Set-Cookie").split(";")]
    assert "Secure" in attrs and "HttpOnly" in attrs and "SameSite=Strict" in attrs, attrs
    assert "Max-Age=3600" in attrs, attrs


def test_csrf_for_cookie_sessions_only(ctx):
    c = _client(ctx)
    c.login("manager@carnet.test", DEMO_PW)
    url = "/api/stores/%d/staff/999999/enable" % ctx.paris
    csrf = c.csrf
    c.csrf = None
    r = c.post(url)
    assert r.status == 403 and r.error["code"] == "csrf" and r.error["field"] == "X-CSRF-Token", r
    r = c.post(url, headers={"X-CSRF-Token": "0" * 64})
    assert r.status == 403 and r.error["code"] == "csrf", r
    # The token of another session does not fit this one.
    other = _client(ctx)
    other.login("manager@carnet.test", DEMO_PW)
    r = c.post(url, headers={"X-CSRF-Token": other.csrf})
    assert r.status == 403 and r.error["code"] == "csrf", r
    # Reads need none; the right token passes (404: no such staff member).
    assert c.get("/api/auth/me").status == 200
    c.csrf = csrf
    r = c.post(url)
    assert r.status == 404, r
    # A bearer token is not sent by browsers on their own: no CSRF header needed.
    b = _bearer(ctx, "manager@carnet.test")
    r = b.post(url)
    assert r.status == 404, r


def test_hostile_text_is_stored_and_returned_verbatim(ctx):
    a = _bearer(ctx, "admin@carnet.test")
    names = ["'; drop table staff; --", "<script>alert(1)</script>", "%s%n%x%d",
             "Robert\"); DELETE FROM sessions;--", "Zoë 李 😀 \u202e gnp.exe", "${jndi:ldap://x}",
             "{{7*7}} $(id) `id`", "\\x00\\u0000 back\\slash"]
    created = []
    for i, name in enumerate(names):
        email = "%s+%d@carnet.test" % (["o'hara", "<b>x</b>", "%s%n", "a\"b"][i % 4], i)
        r = a.post("/api/stores/%d/staff" % ctx.paris,
                   {"email": email, "name": name, "password": SECRET_PW, "roles": ["specialist"]})
        assert r.status == 201, (name, r)
        assert r.json["name"] == name and r.json["email"] == email, r
        created.append((r.json["id"], email, name))
    rows = {x["id"]: x for x in ctx.sql("select id, email, name from staff")}
    for sid, email, name in created:
        assert rows[sid]["name"] == name and rows[sid]["email"] == email, rows[sid]
    listed = {s["id"]: s for s in a.get("/api/stores/%d/staff" % ctx.paris).json["staff"]}
    for sid, email, name in created:
        assert listed[sid]["name"] == name and listed[sid]["email"] == email
    # The replies are JSON, never HTML that a browser would run.
    r = a.get("/api/stores/%d/staff" % ctx.paris)
    assert r.header("Content-Type").startswith("application/json")
    assert r.header("X-Content-Type-Options") == "nosniff"
    # Each of them signs in and sees its own name back.
    sid, email, name = created[1]
    me = _bearer(ctx, email, SECRET_PW).get("/api/auth/me").json
    assert me["name"] == name, me
    assert ctx.sql1("select count(*) as n from staff")["n"] >= len(created) + 6
    # A long name of multi-byte characters survives a session round trip whole.
    long_name = "😀" * 200
    r = a.post("/api/stores/%d/staff" % ctx.paris,
               {"email": "long@carnet.test", "name": long_name, "password": SECRET_PW,
                "roles": ["specialist"]})
    assert r.status == 201, r
    me = _bearer(ctx, "long@carnet.test", SECRET_PW).get("/api/auth/me")
    assert me.status == 200 and me.json["name"] == long_name, me


def test_passwords_never_in_logs_or_replies(ctx):
    """Runs last: every reply of this module and every carnetd log it produced."""
    _bearer(ctx, "manager@carnet.test").post(
        "/api/auth/password", {"old_password": DEMO_PW, "new_password": SECRET_PW + "-new"})
    secrets_used = [DEMO_PW, SECRET_PW, SECRET_PW + "-new", "nope-nope", "bad-1"]
    assert len(SEEN) > 50, len(SEEN)
    for r in SEEN:
        for pw in secrets_used:
            assert pw.encode() not in r.raw, (pw, r)
        assert b"$argon2" not in r.raw, r
    for s in ctx.servers:
        log = s.read_log()
        assert "POST /api/auth/login 200" in log or s is not ctx.server
        for pw in secrets_used:
            assert pw not in log, (pw, s.log_path)
        assert "$argon2" not in log
        # Session tokens stay out of the log too.
        for r in SEEN:
            if r.json and isinstance(r.json, dict) and r.json.get("token"):
                assert r.json["token"] not in log


def test_sign_in_attempts_keep_no_email(ctx):
    # Customers type their own email into the staff sign-in too: an attempt keeps only a tag of
    # the account (keyed from the data key), which nobody reading the database can reverse or
    # confirm by guessing.
    _forget_attempts(ctx)
    typed = "Zed.Customer-%s@Example.test" % os.getpid()
    r = _client(ctx).post("/api/auth/login", {"email": typed, "password": "x-x-x-x"})
    assert r.status == 401, r
    rows = ctx.sql("select account_mac from login_attempts")
    assert [x["account_mac"] for x in rows] == [
        ctx.sql1("select login_mac(%s, %s) as m", (typed.lower(), ctx.login_key()))["m"]], rows
    dump = subprocess.run(["/usr/lib/postgresql/15/bin/pg_dump", "-d", ctx.url],
                          capture_output=True, check=True).stdout.decode().lower()
    assert typed.lower() not in dump and "zed.customer" not in dump
    _forget_attempts(ctx)
