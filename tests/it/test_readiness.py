"""Readiness apart from liveness (/livez, /readyz), the draining restart (SIGTERM: not ready
first, serve for --drain-delay-ms, then drain), and what requests in flight get when the pool's
database connection breaks under them."""
import signal
import subprocess
import threading

import psycopg2

from harness import HANG_GUARD_S, Client, wait_for


def _ready(s):
    return s.client.get("/readyz", timeout=HANG_GUARD_S)


def _wait_ready(s):
    return wait_for(lambda: _ready(s).status == 200, "/readyz to answer 200")


def _staff_token(ctx, c):
    ctx.seed_demo()
    r = c.post("/api/auth/login", {"email": "specialist@carnet.test",
                                    "password": "carnet-demo", "bearer": True})
    assert r.status == 200, r
    return r.json["token"]


def _locker(ctx):
    """Holds an exclusive lock on sessions so every authenticated request waits in SQL."""
    conn = psycopg2.connect(ctx.url)
    cur = conn.cursor()
    cur.execute("begin; lock table sessions in access exclusive mode")
    return conn


def _one_probe_connection_each(ctx):
    """Each running carnetd of the module holds one reserved connection, however many probes
    it answered (the backends of stopped ones go away asynchronously)."""
    live = sum(1 for x in ctx.servers if x.proc.poll() is None)
    wait_for(lambda: ctx.sql1(
        "select count(*) as n from pg_stat_activity where datname = current_database()"
        " and application_name = 'carnetd-ready'")["n"] == live,
        "one reserved connection per carnetd (%d)" % live)


def _log_since(s, mark):
    """What this process logged (a log file is shared by the processes that had its port)."""
    return s.read_log()[mark:]


def test_livez_and_readyz(ctx):
    s = ctx.server
    r = s.client.get("/livez")
    assert r.status == 200 and r.json == {"status": "live"}, r
    _wait_ready(s)
    r = _ready(s)
    assert r.json == {"status": "ready"}, r
    assert r.header("Retry-After") is None, r.headers
    # Read-only: a write method is refused like on any API path, not served by the web root.
    r = s.client.post("/readyz", {})
    assert r.status == 405 and r.error["code"] == "method_not_allowed", r
    _one_probe_connection_each(ctx)


def test_readyz_answers_beside_a_saturated_pool(ctx):
    # One pooled connection, one queue place, a queue timeout beyond the guard: a probe that
    # went through the pool would be refused (queue full) or would hang; /readyz must not.
    s = ctx.start_carnetd(env={"CARNET_POOL_SIZE": "1", "CARNET_QUEUE_MAX": "1",
                               "CARNET_PIPELINE_DEPTH": "1", "CARNET_NO_JOBS": "1",
                               "CARNET_QUEUE_TIMEOUT_MS": "60000"})
    token = _staff_token(ctx, s.client)
    _wait_ready(s)
    lock = _locker(ctx)
    results = []

    def call():
        c = Client(s.port)
        c.bearer = token
        results.append(c.get("/api/auth/me", timeout=HANG_GUARD_S * 3))

    threads = [threading.Thread(target=call) for _ in range(2)]
    try:
        threads[0].start()
        ctx.wait_lock_waiters(1)  # the only pooled connection is blocked in SQL
        threads[1].start()
        wait_for(lambda: "carnet_db_pool_waiting 1\n" in s.client.get("/metrics").raw.decode(),
                 "the second request waiting in the queue")
        c = Client(s.port)
        c.bearer = token
        r = c.get("/api/auth/me")
        assert r.status == 503 and r.header("Retry-After") and r.error["code"] == "overloaded", r
        r = s.client.get("/healthz", timeout=HANG_GUARD_S)
        assert r.status == 503, r  # the old probe waits in the same queue: a busy node looks down
        # A flood of probes: every one ready, over the one reserved connection.
        for _ in range(50):
            r = _ready(s)
            assert r.status == 200 and r.json == {"status": "ready"}, r
        assert s.client.get("/livez").status == 200
        _one_probe_connection_each(ctx)
        assert not results, results
    finally:
        lock.rollback()
        lock.close()
    for t in threads:
        t.join(HANG_GUARD_S)
    assert sorted(r.status for r in results) == [200, 200], results


def test_readyz_follows_the_database(ctx):
    s = ctx.start_carnetd(env={"CARNET_RECONNECT_MAX_MS": "300"})
    _wait_ready(s)
    ctx.cluster.stop()
    try:
        r = wait_for(lambda: (lambda r: r if r.status == 503 else None)(_ready(s)),
                     "/readyz to answer 503 with the database stopped")
        assert r.header("Retry-After") == "1", r.headers
        assert r.error["code"] == "not_ready" and "database" in r.error["message"], r
        r = s.client.get("/livez")
        assert r.status == 200 and r.json == {"status": "live"}, r
        assert s.proc.poll() is None
    finally:
        ctx.cluster.start()
        ctx._db = None
    _wait_ready(s)
    _one_probe_connection_each(ctx)


def test_sigterm_fails_readiness_then_drains(ctx):
    # A delay long enough for the test to act within it on a busy machine; the test does not
    # wait it out idly: the shutdown follows it.
    s = ctx.start_carnetd(env={"CARNET_DRAIN_DELAY_MS": "4000"})
    mark = len(s.read_log())
    token = _staff_token(ctx, s.client)
    _wait_ready(s)
    lock = _locker(ctx)
    results = []

    def call():
        c = Client(s.port)
        c.bearer = token
        results.append(c.get("/api/auth/me", timeout=HANG_GUARD_S))

    before = ctx.lock_waiters("auth_session")
    t = threading.Thread(target=call)
    t.start()
    try:
        ctx.wait_lock_waiters(before + 1, "auth_session")  # in flight, blocked in SQL
        s.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "not ready; still serving" in _log_since(s, mark), "the drain to start")
        r = _ready(s)
        assert r.status == 503 and r.error["code"] == "not_ready", r
        assert r.header("Retry-After") and "draining" in r.error["message"], r
        # Still serving in the delay: a fresh connection, a request through the pool.
        r = s.client.get("/api/stores")
        assert r.status == 200, r
        assert s.client.get("/livez").status == 200
        assert "shutting down" not in _log_since(s, mark), _log_since(s, mark)
        # Then the listener closes, with our request still in flight.
        wait_for(lambda: "shutting down (in flight: 1)" in _log_since(s, mark), "the shutdown")
        assert s.proc.poll() is None, "exited with a request in flight"
    finally:
        lock.rollback()
        lock.close()
    t.join(HANG_GUARD_S)
    assert results and results[0].status == 200, results
    assert s.proc.wait(HANG_GUARD_S) == 0
    log = _log_since(s, mark)
    assert log.index("not ready; still serving") < log.index("shutting down"), log[-2000:]


def test_second_signal_in_the_delay_exits_at_once(ctx):
    # A delay beyond the hang guard: exiting within the guard shows the second signal cut it.
    s = ctx.start_carnetd(env={"CARNET_DRAIN_DELAY_MS": str((HANG_GUARD_S + 30) * 1000)})
    mark = len(s.read_log())
    _wait_ready(s)
    s.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "not ready; still serving" in _log_since(s, mark), "the drain to start")
    assert _ready(s).status == 503
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(HANG_GUARD_S) == 0
    assert "second signal: exiting now" in _log_since(s, mark)


def test_drain_delay_zero_and_bad_values(ctx):
    s = ctx.start_carnetd(env={"CARNET_DRAIN_DELAY_MS": "0"})
    mark = len(s.read_log())
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(HANG_GUARD_S) == 0
    assert "not ready; still serving" not in _log_since(s, mark)
    assert "shutting down" in _log_since(s, mark)
    for bad in ("-1", "x", "600001"):
        p = subprocess.run([ctx.run.binary, "--drain-delay-ms", bad, "--version"],
                           capture_output=True, timeout=HANG_GUARD_S)
        assert p.returncode == 2 and b"drain-delay-ms" in p.stderr, (bad, p)


# ---- failover semantics: a request in flight when the pool's connection breaks ----

def _line_blocked(ctx, store):
    """A session holding the store's line lock, so a join waits in SQL (floor_join_line)."""
    conn = psycopg2.connect(ctx.url)
    conn.autocommit = True
    conn.cursor().execute("select pg_advisory_lock(hashtext('carnet_line:' || %s::text))",
                          (store,))
    return conn


def _carnetd_lock_waiters(ctx):
    return [r["pid"] for r in ctx.sql(
        "select pid from pg_stat_activity where datname = current_database()"
        " and application_name = 'carnetd' and wait_event_type = 'Lock'")]


def _join_in_flight(ctx, s, store, name):
    results = []

    def call():
        results.append(Client(s.port).post("/api/stores/%d/line" % store, {"name": name},
                                           timeout=HANG_GUARD_S))

    t = threading.Thread(target=call)
    t.start()
    wait_for(lambda: _carnetd_lock_waiters(ctx), "the join to wait on the line lock")
    return t, results


def _visits(ctx, store):
    return ctx.sql1("select count(*) as n from visits where store_id = %s", (store,))["n"]


def _assert_retry_later(results):
    assert len(results) == 1, results
    r = results[0]
    assert r.status == 503 and r.header("Retry-After"), r
    assert r.error["code"] in ("database_unavailable", "retry"), r


def test_write_in_flight_when_its_backend_is_terminated(ctx):
    ctx.seed_demo()
    store = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    s = ctx.start_carnetd(env={"CARNET_RECONNECT_MAX_MS": "300"})
    before = _visits(ctx, store)
    holder = _line_blocked(ctx, store)
    try:
        t, results = _join_in_flight(ctx, s, store, "Terminated Tess")
        for pid in _carnetd_lock_waiters(ctx):
            ctx.sql("select pg_terminate_backend(%s)", (pid,))
        t.join(HANG_GUARD_S)
        assert not t.is_alive(), "the request hung"
    finally:
        holder.close()
    _assert_retry_later(results)
    assert _visits(ctx, store) == before, "a refused write left a visit"
    # The pool reconnects: the retry succeeds.
    r = wait_for(lambda: (lambda r: r if r.status == 201 else None)(
        s.client.post("/api/stores/%d/line" % store, {"name": "Terminated Tess"})),
        "a join to succeed again")
    assert _visits(ctx, store) == before + 1, r


def test_write_in_flight_when_postgres_crashes(ctx):
    ctx.seed_demo()
    store = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    s = ctx.start_carnetd(env={"CARNET_RECONNECT_MAX_MS": "300"})
    _wait_ready(s)
    before = _visits(ctx, store)
    holder = _line_blocked(ctx, store)
    try:
        t, results = _join_in_flight(ctx, s, store, "Crashed Cole")
        ctx.cluster.restart(mode="immediate")
        ctx._db = None
        t.join(HANG_GUARD_S)
        assert not t.is_alive(), "the request hung"
    finally:
        try:
            holder.close()
        except psycopg2.Error:
            pass
    _assert_retry_later(results)
    assert _visits(ctx, store) == before, "a refused write left a visit"
    _wait_ready(s)
    r = wait_for(lambda: (lambda r: r if r.status == 201 else None)(
        s.client.post("/api/stores/%d/line" % store, {"name": "Crashed Cole"})),
        "a join to succeed again")
    assert _visits(ctx, store) == before + 1, r


def test_write_reaching_a_read_only_database_is_retry_later(ctx):
    """What a pool connection that lands on a standby after a failover meets (25006): 503 with
    Retry-After, not a 500."""
    ctx.seed_demo()
    store = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    s = ctx.start_carnetd(env={"CARNET_RECONNECT_MAX_MS": "300"})
    before = _visits(ctx, store)
    ctx.sql("alter database %s set default_transaction_read_only = on" % ctx.dbname)
    try:
        ctx.sql("select pg_terminate_backend(pid) from pg_stat_activity"
                " where datname = current_database() and application_name = 'carnetd'")
        r = wait_for(lambda: (lambda r: r if r.status != 503 or r.error["code"] == "retry"
                              else None)(s.client.post("/api/stores/%d/line" % store,
                                                       {"name": "Read Only Rae"})),
                     "a join to reach the read-only database")
        assert r.status == 503 and r.header("Retry-After") and r.error["code"] == "retry", r
    finally:
        ctx.sql("alter database %s reset default_transaction_read_only" % ctx.dbname)
        ctx.sql("select pg_terminate_backend(pid) from pg_stat_activity"
                " where datname = current_database() and application_name = 'carnetd'")
    assert _visits(ctx, store) == before
