"""The session cache (server/authcache.c): a request whose session was checked a moment ago
skips auth_session and gets the same answer; every change that alters a session or its staff
member (logout, lock, disabling, roles) is refused at once on every carnetd, through
NOTIFY carnet_auth; an idle session is still found idle; without LISTEN the cache is bypassed,
and used again once subscribed."""
import hashlib
import re
import time

from harness import Client, wait_for

PW = "carnet-demo"


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]


def _bearer(port, email):
    c = Client(port)
    r = c.post("/api/auth/login", {"email": email, "password": PW, "bearer": True})
    assert r.status == 200, r
    c.bearer = r.json["token"]
    return c


def _on(port, c):
    """The same session as client `c`, spoken to another carnetd."""
    o = Client(port)
    o.bearer = c.bearer
    return o


def _hash(token):
    return hashlib.blake2b(token.encode(), digest_size=32).hexdigest()


def _metrics(port):
    text = Client(port).get("/metrics").raw.decode()
    out = {}
    for name in ("hits", "misses", "bypassed", "invalidations"):
        m = re.search(r"^carnet_auth_cache_%s_total (\d+)$" % name, text, re.M)
        assert m, "carnet_auth_cache_%s_total missing from /metrics" % name
        out[name] = int(m.group(1))
    m = re.search(r"^carnet_auth_cache_entries (\d+)$", text, re.M)
    assert m, text
    out["entries"] = int(m.group(1))
    return out


def _listening(s):
    wait_for(lambda: "listening on carnet_auth" in s.read_log(),
             "LISTEN on carnet_auth by carnetd on port %d" % s.port)


def _announced(port, before):
    """Waits until carnetd on `port` has received an announcement after `before` (its
    invalidations count then): another carnetd's change is refused from that moment, a few ms
    after the commit (LISTEN/NOTIFY is asynchronous)."""
    wait_for(lambda: _metrics(port)["invalidations"] > before, "the announcement on carnetd %d"
             % port)


def _sql_raw(ctx, query, args=None):
    """A change straight in SQL, without the harness's wait for carnetd to hear of it
    (Context.auth_settle): here the triggers' own announcements are what is tested."""
    with ctx.db.cursor() as cur:
        cur.execute(query, args)


def _inv(port):
    return _metrics(port)["invalidations"]


def _second(ctx):
    b = ctx.start_carnetd()
    _listening(b)
    _listening(ctx.server)
    return ctx.server, b


def test_token_hash_helper_matches_the_database(ctx):
    c = _bearer(ctx.server.port, "tech@carnet.test")
    assert ctx.sql1("select 1 as x from sessions where token_hash = %s", (_hash(c.bearer),))


def test_hit_gives_the_same_answers(ctx):
    s = ctx.server
    _listening(s)
    c = _bearer(s.port, "manager@carnet.test")
    before = _metrics(s.port)
    first = c.get("/api/auth/me")
    assert first.status == 200, first
    mid = _metrics(s.port)
    assert mid["misses"] == before["misses"] + 1 and mid["hits"] == before["hits"], (before, mid)
    for _ in range(3):
        again = c.get("/api/auth/me")
        assert again.status == 200 and again.json == first.json, (first.json, again.json)
    after = _metrics(s.port)
    assert after["hits"] == mid["hits"] + 3 and after["misses"] == mid["misses"], (mid, after)
    assert after["entries"] >= 1
    # Role checks on a hit: what the manager may do, and what a technician may not.
    assert c.get("/api/stores/%d/staff" % ctx.paris).status == 200
    t = _bearer(s.port, "tech@carnet.test")
    assert t.get("/api/auth/me").status == 200  # cached now
    r = t.get("/api/stores/%d/staff" % ctx.paris)
    assert r.status == 403, r
    lyon = ctx.sql1("select id from stores where code <> 'paris-opera' order by id limit 1")["id"]
    assert t.get("/api/stores/%d/shifts" % lyon).status == 403
    assert _metrics(s.port)["hits"] >= after["hits"] + 3
    # Cookie sessions on a hit: the CSRF value still comes from the token, and writes need it.
    k = Client(s.port)
    k.login("tech@carnet.test", PW)
    me1, me2 = k.get("/api/auth/me"), k.get("/api/auth/me")
    assert me1.json["csrf"] == me2.json["csrf"] == k.csrf
    r = k.post("/api/auth/lock", headers={"X-CSRF-Token": "wrong"})
    assert r.status == 403 and r.error["code"] == "csrf", r


def test_announcement_all_empties_the_cache(ctx):
    s = ctx.server
    c = _bearer(s.port, "tech@carnet.test")
    assert c.get("/api/auth/me").status == 200
    assert _metrics(s.port)["entries"] >= 1

    def flushes():
        return int(re.search(r"^carnet_auth_cache_flushes_total (\d+)$",
                             Client(s.port).get("/metrics").raw.decode(), re.M).group(1))
    n = flushes()
    ctx.sql("select pg_notify('carnet_auth', 'all')")
    wait_for(lambda: flushes() > n, "the announcement 'all'")
    assert _metrics(s.port)["entries"] == 0
    m = _metrics(s.port)
    assert c.get("/api/auth/me").status == 200
    assert _metrics(s.port)["misses"] == m["misses"] + 1


def test_no_session_and_bad_tokens_are_never_cached(ctx):
    s = ctx.server
    c = Client(s.port)
    c.bearer = "not-a-session"
    for _ in range(3):
        r = c.get("/api/auth/me")
        assert r.status == 401 and r.error["code"] == "unauthenticated", r
    r = Client(s.port).get("/api/auth/me")
    assert r.status == 401


def test_logout_on_one_carnetd_is_refused_on_another_at_once(ctx):
    a, b = _second(ctx)
    for i in range(10):
        c = _bearer(a.port, "specialist@carnet.test")
        other = _on(b.port, c)
        assert other.get("/api/auth/me").status == 200
        before = _metrics(b.port)["hits"]
        assert other.get("/api/auth/me").status == 200
        assert _metrics(b.port)["hits"] == before + 1, "the second request was not a hit"
        n = _inv(b.port)
        assert c.post("/api/auth/logout").status == 204
        # On A, which made the change, at once; on B once announced.
        assert c.get("/api/auth/me").status == 401
        _announced(b.port, n)
        r = other.get("/api/auth/me")
        assert r.status == 401 and r.error["code"] == "unauthenticated", (i, r)


def test_lock_and_disable_across_carnetd(ctx):
    a, b = _second(ctx)
    # Locking a session (a PIN holder's) on A: B answers `locked` at once.
    p = Client(a.port)
    p.login("tech2@carnet.test", PW)
    assert p.post("/api/auth/pin", {"pin": "482913", "password": PW}).status == 204
    c = _bearer(a.port, "tech2@carnet.test")
    other = _on(b.port, c)
    assert other.get("/api/auth/me").status == 200
    assert other.get("/api/auth/me").status == 200
    n = _inv(b.port)
    assert c.post("/api/auth/lock").status == 204
    r = c.get("/api/auth/me")
    assert r.status == 401 and r.error["code"] == "locked", r
    _announced(b.port, n)
    r = other.get("/api/auth/me")
    assert r.status == 401 and r.error["code"] == "locked", r
    # Disabling the account (any change to the staff row): refused on B at once.
    c = _bearer(a.port, "tech@carnet.test")
    other = _on(b.port, c)
    assert other.get("/api/auth/me").status == 200
    assert other.get("/api/auth/me").status == 200
    n = _inv(b.port)
    _sql_raw(ctx, "update staff set disabled_at = now() where email = 'tech@carnet.test'")
    try:
        _announced(b.port, n)
        assert other.get("/api/auth/me").status == 401
    finally:
        ctx.sql("update staff set disabled_at = null where email = 'tech@carnet.test'")
    # A renamed staff member is named anew on the next request (the cache kept the old name).
    other = _on(b.port, c)
    assert other.get("/api/auth/me").json["name"] == "Théo Technicien"
    n = _inv(b.port)
    _sql_raw(ctx, "update staff set name = 'Théo Renamed' where email = 'tech@carnet.test'")
    try:
        _announced(b.port, n)
        assert other.get("/api/auth/me").json["name"] == "Théo Renamed"
    finally:
        ctx.sql("update staff set name = 'Théo Technicien' where email = 'tech@carnet.test'")


def test_role_removal_across_carnetd(ctx):
    a, b = _second(ctx)
    spec = ctx.sql1("select id from staff where email = 'specialist@carnet.test'")["id"]
    c = _bearer(a.port, "specialist@carnet.test")
    other = _on(b.port, c)
    path = "/api/stores/%d/appointments?date=%s" % (ctx.paris, ctx.store_today(ctx.paris))
    assert other.get(path).status == 200
    h = _metrics(b.port)["hits"]
    assert other.get(path).status == 200
    assert _metrics(b.port)["hits"] == h + 1
    m = _bearer(a.port, "manager@carnet.test")
    same = _on(a.port, c)
    assert same.get(path).status == 200
    n = _inv(b.port)
    r = m.put("/api/stores/%d/staff/%d/roles" % (ctx.paris, spec), {"roles": []})
    assert r.status == 200, r
    try:
        assert same.get(path).status == 403  # A made the change: at once
        _announced(b.port, n)
        r = other.get(path)
        assert r.status == 403, r
        assert other.get("/api/auth/me").status == 403  # staff of no store any more
        # And given back (straight in SQL: the triggers announce it too): allowed again.
        n = _inv(b.port)
        _sql_raw(ctx, "insert into staff_roles values (%s, %s, 'specialist')", (spec, ctx.paris))
        _announced(b.port, n)
        assert other.get(path).status == 200
    finally:
        ctx.sql("insert into staff_roles values (%s, %s, 'specialist') on conflict do nothing",
                (spec, ctx.paris))


def test_idle_lock_still_happens(ctx):
    # Idle limit 60 s: auth_session marks a session seen every 6 s, so no entry lives longer.
    s = ctx.start_carnetd(env={"CARNET_SESSION_IDLE": "60"})
    _listening(s)
    c = _bearer(s.port, "manager@carnet.test")
    h = _hash(c.bearer)
    assert c.get("/api/auth/me").status == 200
    m0 = _metrics(s.port)
    assert c.get("/api/auth/me").status == 200
    m1 = _metrics(s.port)
    assert m1["hits"] == m0["hits"] + 1
    # An entry older than the marking interval goes back to the database, which marks the
    # session seen: a session in use through the cache does not idle out.
    n = _inv(s.port)
    _sql_raw(ctx, "update sessions set last_seen_at = now() - interval '7 seconds'"
            " where token_hash = %s", (h,))  # moved back: announced, dropped
    _announced(s.port, n)
    assert c.get("/api/auth/me").status == 200
    m2 = _metrics(s.port)
    assert m2["misses"] == m1["misses"] + 1, (m1, m2)
    row = ctx.sql1("select now() - last_seen_at < interval '2 seconds' as fresh"
                   " from sessions where token_hash = %s", (h,))
    assert row["fresh"], "the session was not marked seen through the cache"
    assert c.get("/api/auth/me").status == 200
    m3 = _metrics(s.port)
    assert m3["hits"] == m2["hits"] + 1
    time.sleep(6.5)
    assert c.get("/api/auth/me").status == 200
    assert _metrics(s.port)["misses"] == m3["misses"] + 1, "an entry outlived the interval"
    # Idle past the limit: ended by the database, not answered from memory.
    n = _inv(s.port)
    _sql_raw(ctx, "update sessions set last_seen_at = now() - interval '61 seconds'"
            " where token_hash = %s", (h,))
    _announced(s.port, n)
    r = c.get("/api/auth/me")
    assert r.status == 401 and r.error["code"] == "unauthenticated", r


def test_listen_down_bypasses_the_cache_then_uses_it_again(ctx):
    s = ctx.start_carnetd()
    _listening(s)
    c = _bearer(s.port, "manager@carnet.test")
    keep = _bearer(s.port, "tech@carnet.test")
    for x in (c, keep):
        assert x.get("/api/auth/me").status == 200
        assert x.get("/api/auth/me").status == 200
    before = _metrics(s.port)
    n = ctx.sql("select pg_terminate_backend(pid, 5000) from pg_stat_activity "
                "where application_name = 'carnetd-listen' and datname = current_database()")
    assert len(n) >= 1
    # Ended while nobody listens: no announcement reaches this carnetd, and it must not matter.
    _sql_raw(ctx, "delete from sessions where token_hash = %s", (_hash(c.bearer),))
    r = c.get("/api/auth/me")
    assert r.status == 401 and r.error["code"] == "unauthenticated", r
    assert keep.get("/api/auth/me").status == 200
    after = _metrics(s.port)
    assert after["bypassed"] > before["bypassed"] or after["entries"] == 0, (before, after)
    # Subscribed again: the cache starts empty and is used again.
    wait_for(lambda: s.read_log().count("listening on carnet_auth") >= 2, "LISTEN again")
    assert keep.get("/api/auth/me").status == 200
    m = _metrics(s.port)
    assert keep.get("/api/auth/me").status == 200
    assert _metrics(s.port)["hits"] == m["hits"] + 1
    assert c.get("/api/auth/me").status == 401


def test_read_audit_rows_are_written_without_a_synchronous_commit(ctx):
    s = ctx.server
    c = _bearer(s.port, "tech@carnet.test")
    dev = ctx.sql1("select id from devices where serial = 'F2LDEMO0PH13'")["id"]
    count = "select count(*) as n from audit_log where object_type = 'device' and object_id = %s" \
            " and action = 'read'"
    n = ctx.sql1(count, (str(dev),))["n"]
    for _ in range(3):
        r = c.get("/api/devices/F2LDEMO0PH13")
        assert r.status == 200, r
    assert ctx.sql1(count, (str(dev),))["n"] == n + 3, "a read's audit row is missing"
    day = c.get("/api/stores/%d/appointments?date=%s" % (ctx.paris, ctx.store_today(ctx.paris)))
    assert day.status == 200, day
    assert ctx.sql1("select count(*) as n from audit_log where action = 'read'"
                    " and object_type = 'appointment_day' and object_id like %s",
                    ("%d:%%" % ctx.paris,))["n"] >= 1
    # The read's transaction commits asynchronously; a write's stays synchronous.
    tech = ctx.sql1("select id from staff where email = 'tech@carnet.test'")["id"]
    db = ctx.db
    db.autocommit = False
    try:
        with db.cursor() as cur:
            cur.execute("select device_record(%s, 'F2LDEMO0PH13', null, 5, 'sync-test')", (tech,))
            cur.execute("show synchronous_commit")
            assert cur.fetchone()[0] == "off"
        db.commit()
        with db.cursor() as cur:
            cur.execute("select device_note_add(%s, 'F2LDEMO0PH13', '{\"text\": \"sync\"}', 'sync-w')",
                        (tech,))
            cur.execute("show synchronous_commit")
            assert cur.fetchone()[0] == "on"
        db.rollback()
    finally:
        db.rollback()
        db.autocommit = True
    assert ctx.sql1("select count(*) as n from audit_log where request_id = 'sync-test'")["n"] == 1
