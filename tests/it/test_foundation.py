"""Foundation: HTTP limits and errors, static files, health under a database outage, a full
pool, graceful shutdown, concurrent migrations, metrics, configuration."""
import os
import signal
import socket
import subprocess
import threading
import time

import psycopg2

from harness import HANG_GUARD_S, ROOT, Client, wait_for


def test_healthz_ok(ctx):
    r = ctx.client().get("/healthz")
    assert r.status == 200, r
    assert r.json["status"] == "ok" and r.json["database"]["state"] == "up", r
    assert r.header("X-Request-Id"), r.headers


def test_unknown_endpoint_is_json_404(ctx):
    r = ctx.client().get("/api/no/such/thing")
    assert r.status == 404, r
    assert r.error["code"] == "not_found" and r.error["field"] == "path", r


def test_wrong_method_is_json_405(ctx):
    r = ctx.client().request("DELETE", "/healthz")
    assert r.status == 405, r
    assert r.error["code"] == "method_not_allowed", r


def test_malformed_path_is_json_400(ctx):
    # A percent-encoded NUL cannot be a path.
    r = ctx.client().get("/api/stores/%00")
    assert r.status == 400, r
    assert r.error["code"] == "bad_path" and r.error["field"] == "path", r


def test_oversized_body_is_json_413(ctx):
    s = ctx.start_carnetd(env={"CARNET_MAX_BODY": "2048"})
    r = s.client.post("/api/auth/login", raw=b"{" + b" " * 5000 + b"}",
                      headers={"Content-Type": "application/json"})
    assert r.status == 413, r
    assert r.error["code"] == "body_too_large" and r.error["field"] == "body", r


def test_invalid_json_is_400(ctx):
    c = ctx.client()
    r = c.post("/api/auth/login", raw=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.error["code"] == "invalid_json", r
    r = c.post("/api/auth/login", raw=b"[1,2]", headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.error["code"] == "invalid_json", r


def test_static_index_and_types(ctx):
    c = ctx.client()
    r = c.get("/")
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/html"), r.headers
    assert r.header("Cache-Control") == "no-cache"
    etag = r.header("ETag")
    assert etag
    r2 = c.get("/", headers={"If-None-Match": etag})
    assert r2.status == 304, r2
    r3 = c.get("/api/openapi.json")
    assert r3.status == 200 and r3.header("Content-Type").startswith("application/json")


def test_static_refuses_traversal(ctx):
    c = ctx.client()
    for path in ("/../schema/001_core.sql", "/%2e%2e/schema/001_core.sql",
                 "/..%2fMakefile", "/.git/config", "/%2e%2e%2f%2e%2e%2fetc/passwd"):
        r = c.get(path)
        assert r.status in (400, 404), (path, r)
        assert r.json and "error" in r.json, (path, r)
        assert b"argon2" not in r.raw and b"root:" not in r.raw


def test_request_id_in_access_log(ctx):
    s = ctx.server
    r = s.client.get("/healthz")
    rid = r.header("X-Request-Id")
    log = wait_for(lambda: rid in s.read_log() and s.read_log(), "the access log line")
    line = [l for l in log.splitlines() if rid in l]
    assert line, log[-1000:]
    assert "GET /healthz 200" in line[0], line


def test_metrics_text(ctx):
    c = ctx.client()
    c.get("/healthz")
    c.get("/api/nope")
    r = c.get("/metrics")
    assert r.status == 200 and r.header("Content-Type").startswith("text/plain"), r
    text = r.raw.decode()
    assert 'carnet_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'status="404"' in text
    assert "carnet_http_request_duration_seconds_bucket" in text
    for g in ("carnet_db_pool_in_use", "carnet_db_pool_waiting", "carnet_db_pool_reconnects_total"):
        assert g in text, g


def test_metrics_listen_moves_metrics_off_the_public_port(ctx):
    """--metrics-listen serves /metrics on its own address, and the public port then answers
    /metrics as it answers any unknown path; without it (test_metrics_text) the public port
    serves it."""
    from harness import free_port
    mport = free_port()
    s = ctx.start_carnetd(args=["--metrics-listen", "127.0.0.1:%d" % mport])
    s.client.get("/healthz")
    r = s.client.get("/metrics")
    unknown = s.client.get("/api/no/such/thing")
    assert r.status == 404 and r.json == unknown.json, (r, unknown)
    assert r.error == {"code": "not_found", "field": "path", "message": "no such endpoint"}, r
    m = Client(mport)
    r = m.get("/metrics")
    assert r.status == 200 and r.header("Content-Type").startswith("text/plain"), r
    text = r.raw.decode()
    # The counters of the public port, the pool and the outbox, as the public route had them.
    assert 'carnet_http_requests_total{method="GET",route="/healthz",status="200"}' in text, text
    assert 'carnet_http_requests_total{method="GET",route="/metrics",status="404"} 1' in text
    assert "carnet_db_pool_in_use" in text and "carnet_outbox" in text, text
    assert m.request("HEAD", "/metrics").status == 200
    # That address serves /metrics only: no API, no pages, no other method.
    for path in ("/healthz", "/api/stores", "/", "/metrics/x"):
        r = m.get(path)
        assert r.status == 404 and r.error["code"] == "not_found", (path, r)
    r = m.post("/metrics", {})
    assert r.status == 405 and r.error["code"] == "method_not_allowed", r
    assert "metrics on http://127.0.0.1:%d/metrics" % mport in s.read_log()
    s.stop()
    # A bad address is bad configuration: carnetd refuses to start.
    b = ctx.run.binary
    for bad in ("nonsense", "127.0.0.1:99999", ":80"):
        out = subprocess.run([b, "--metrics-listen", bad], capture_output=True, text=True)
        assert out.returncode == 2 and "metrics-listen" in out.stderr, (bad, out.stderr)
    # An address already taken stops start-up instead of serving without metrics.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        s = ctx.start_carnetd(args=["--metrics-listen", "127.0.0.1:%d" % busy.getsockname()[1]],
                              wait=False, refuses_start=True)
        s.proc.wait(HANG_GUARD_S)
        assert s.proc.returncode == 1, s.proc.returncode
        assert "metrics: cannot listen" in s.read_log()
    finally:
        busy.close()


def test_healthz_follows_database_outage(ctx):
    s = ctx.start_carnetd(env={"CARNET_RECONNECT_MAX_MS": "300"})
    assert s.client.get("/healthz").status == 200
    ctx.cluster.stop()
    try:
        deadline = time.time() + 10
        status = None
        while time.time() < deadline:
            r = s.client.get("/healthz", timeout=5)
            status = r.status
            if status == 503:
                break
            time.sleep(0.1)
        assert status == 503, "healthz stayed %s with the database down" % status
        assert r.header("Retry-After")
        assert s.proc.poll() is None, "carnetd died with the database"
    finally:
        ctx.cluster.start()
    deadline = time.time() + 15
    while time.time() < deadline:
        if s.client.get("/healthz").status == 200:
            break
        time.sleep(0.1)
    assert s.client.get("/healthz").status == 200, "did not recover after the restart"
    assert s.proc.poll() is None
    m = s.client.get("/metrics").raw.decode()
    line = [l for l in m.splitlines() if l.startswith("carnet_db_pool_reconnects_total")][0]
    assert int(line.split()[-1]) > 0, line
    ctx._db = None


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


def test_full_pool_answers_503_with_retry_after(ctx):
    # The queue timeout is long enough that the third request cannot have waited it out: its
    # 503 can only come from the full queue (the metrics below tell the two apart).
    s = ctx.start_carnetd(env={"CARNET_POOL_SIZE": "1", "CARNET_QUEUE_MAX": "1", "CARNET_NO_JOBS": "1",
                               "CARNET_PIPELINE_DEPTH": "1",
                               "CARNET_QUEUE_TIMEOUT_MS": "5000"})
    token = _staff_token(ctx, s.client)
    lock = _locker(ctx)
    results = []

    def call():
        c = Client(s.port)
        c.bearer = token
        results.append(c.get("/api/auth/me", timeout=20))

    try:
        t1 = threading.Thread(target=call)
        t1.start()
        ctx.wait_lock_waiters(1)  # t1 holds the only connection, blocked on the lock
        t2 = threading.Thread(target=call)
        t2.start()
        wait_for(lambda: "carnet_db_pool_waiting 1\n" in s.client.get("/metrics").raw.decode(),
                 "t2 waiting in the queue")
        c = Client(s.port)
        c.bearer = token
        r = c.get("/api/auth/me", timeout=HANG_GUARD_S)
        assert r.status == 503, r
        assert r.header("Retry-After"), r.headers
        assert r.error["code"] == "overloaded", r
        # Refused because the queue was full, not after waiting: t2 still waits.
        m = s.client.get("/metrics").raw.decode()
        assert 'carnet_db_pool_rejected_total{reason="queue_full"} 1' in m, m
        assert 'reason="queue_timeout"} 1' not in m and not results, (m, results)
        t2.join(HANG_GUARD_S)  # t2 waited past the queue deadline: 503 too
        assert results and results[0].status == 503 and results[0].header("Retry-After"), results
    finally:
        lock.rollback()
        lock.close()
    t1.join(10)
    assert len(results) == 2 and results[1].status == 200, results
    m = s.client.get("/metrics").raw.decode()
    assert 'carnet_db_pool_rejected_total{reason="queue_full"} 1' in m, m
    assert 'carnet_db_pool_rejected_total{reason="queue_timeout"} 1' in m, m


def test_sigterm_finishes_inflight_request(ctx):
    s = ctx.start_carnetd()
    token = _staff_token(ctx, s.client)
    lock = _locker(ctx)
    results = []

    def call():
        c = Client(s.port)
        c.bearer = token
        results.append(c.get("/api/auth/me", timeout=20))

    before = ctx.lock_waiters("auth_session")
    t = threading.Thread(target=call)
    t.start()
    ctx.wait_lock_waiters(before + 1, "auth_session")  # our request is in flight, blocked in SQL
    s.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "shutting down (in flight: 1)" in s.read_log(), "the shutdown to start")
    assert s.proc.poll() is None, "exited with a request in flight"
    # No new connections once shutting down.
    with socket.socket() as sock:
        sock.settimeout(1)
        refused = sock.connect_ex(("127.0.0.1", s.port)) != 0
    assert refused, "still accepting after SIGTERM"
    lock.rollback()
    lock.close()
    t.join(10)
    assert results and results[0].status == 200, results
    assert s.proc.wait(10) == 0
    assert "carnetd stopped" in s.read_log()


def test_two_carnetd_migrate_at_once(ctx):
    ctx.cluster.admin_exec("drop database if exists t_migrate_race")
    ctx.cluster.admin_exec("create database t_migrate_race")
    url = ctx.cluster.url_for("t_migrate_race")
    from harness import Carnetd
    a = Carnetd(ctx.run.binary, url, ctx.run.workdir)
    b = Carnetd(ctx.run.binary, url, ctx.run.workdir)
    ctx.servers += [a, b]
    a.wait_ready()
    b.wait_ready()
    conn = psycopg2.connect(url)
    cur = conn.cursor()
    cur.execute("select version, count(*) from schema_migrations group by version")
    rows = cur.fetchall()
    files = sorted(f for f in os.listdir(os.path.join(ROOT, "schema")) if f[:3].isdigit())
    assert sorted(r[0] for r in rows) == files, rows
    assert all(r[1] == 1 for r in rows)
    conn.close()
    # Running the migrations again changes nothing.
    out = subprocess.run([ctx.run.binary, "--migrate", "--database-url", url,
                          "--schema-dir", os.path.join(ROOT, "schema")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "0 applied" in out.stderr, out.stderr


def test_cli_help_version_and_bad_config(ctx):
    b = ctx.run.binary
    out = subprocess.run([b, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--pool-size" in out.stdout and "DATABASE_URL" in out.stdout
    out = subprocess.run([b, "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("carnetd ")
    out = subprocess.run([b, "--pool-size", "0"], capture_output=True, text=True)
    assert out.returncode == 2 and "pool-size" in out.stderr
    out = subprocess.run([b, "--listen", "nonsense"], capture_output=True, text=True)
    assert out.returncode == 2 and "listen" in out.stderr
    out = subprocess.run([b], capture_output=True, text=True,
                         env=dict(os.environ, CARNET_POOL_SIZE="many"))
    assert out.returncode == 2 and "pool-size" in out.stderr


def test_inflight_query_fails_503_when_database_restarts(ctx):
    s = ctx.start_carnetd(env={"CARNET_RECONNECT_MAX_MS": "300", "CARNET_NO_JOBS": "1"})
    token = _staff_token(ctx, s.client)
    lock = _locker(ctx)
    results = []

    def call():
        c = Client(s.port)
        c.bearer = token
        results.append(c.get("/api/auth/me", timeout=30))

    before = ctx.lock_waiters("auth_session")
    t = threading.Thread(target=call)
    t.start()
    ctx.wait_lock_waiters(before + 1, "auth_session")  # our query is in flight, blocked
    try:
        # An immediate shutdown: every backend dies at once. (A fast one lets the locker's
        # backend exit first, and ours may then finish its query before its own turn: 200.)
        ctx.cluster.restart(mode="immediate")
    finally:
        ctx._db = None  # the harness's own connection died too, whatever happens next
        try:
            lock.close()
        except Exception:
            pass
    t.join(20)
    assert results and results[0].status == 503, results
    assert results[0].header("Retry-After"), results[0].headers
    assert s.proc.poll() is None
    wait_for(lambda: s.client.get("/healthz").status == 200, "carnetd to reconnect")
    # /healthz proves one connection is back; another pooled connection may meet its dead
    # socket on its next query and answer that one request 503 + Retry-After (as it should), so
    # the session is checked the way a client does: until it answers, within the hang guard.
    c = Client(s.port)
    c.bearer = token
    seen = []
    wait_for(lambda: seen.append(c.get("/api/auth/me").status) or seen[-1] == 200,
             "the session to work again after the restart")
    assert set(seen) <= {200, 503}, seen


def test_client_gone_mid_request_is_survived(ctx):
    s = ctx.start_carnetd(env={"CARNET_NO_JOBS": "1"})
    token = _staff_token(ctx, s.client)
    lock = _locker(ctx)
    try:
        for i in range(5):
            sock = socket.create_connection(("127.0.0.1", s.port))
            sock.sendall(("GET /api/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                          % token).encode())
            ctx.wait_lock_waiters(i + 1)  # its query is in flight, blocked on the lock
            sock.close()  # gone before the answer
    finally:
        lock.rollback()
        lock.close()
    # The five queries finish and their answers go to clients that have left.
    wait_for(lambda: ctx.lock_waiters() == 0, "the queries to finish")
    wait_for(lambda: s.read_log().count("GET /api/auth/me") >= 5, "the five requests to end")
    assert s.proc.poll() is None, "carnetd died when clients went away"
    c = Client(s.port)
    c.bearer = token
    assert c.get("/api/auth/me").status == 200
    assert s.client.get("/healthz").status == 200


def test_pipelined_answers_reach_their_own_requests(ctx):
    """One connection carrying many queries at once: every answer goes to the request that asked,
    and an error in one query does not spill into its neighbours."""
    s = ctx.start_carnetd(env={"CARNET_POOL_SIZE": "1", "CARNET_PIPELINE_DEPTH": "8",
                               "CARNET_NO_JOBS": "1"})
    ctx.seed_demo()
    # The very first use of a statement fails in SQL (throttled): it must stay prepared.
    ctx.sql("insert into login_attempts (account_mac, address, ok) "
            "select login_mac('nobody@carnet.test', %s), '127.0.0.1', false "
            "from generate_series(1, 5)", (ctx.login_key(),))
    r = s.client.post("/api/auth/login", {"email": "nobody@carnet.test", "password": "x"})
    assert r.status == 429, r
    people = {}
    for email in ("admin", "manager", "specialist", "tech", "tech2", "lyon"):
        r = s.client.post("/api/auth/login", {"email": email + "@carnet.test",
                                               "password": "carnet-demo", "bearer": True})
        assert r.status == 200, r
        people[r.json["token"]] = r.json["staff"]["name"]
    tokens = list(people) + ["not-a-session"] * 3
    results = []
    lock = threading.Lock()

    def call(i):
        c = Client(s.port)
        tok = tokens[i % len(tokens)]
        c.bearer = tok
        r = c.get("/api/auth/me", timeout=30)
        with lock:
            results.append((tok, r))

    def bad_login(i):
        r = Client(s.port).post("/api/auth/login", {"email": "nobody@carnet.test",
                                                     "password": "wrong-%d" % i})
        with lock:
            results.append((None, r))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(90)]
    threads += [threading.Thread(target=bad_login, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 98
    for tok, r in results:
        if tok is None:
            assert r.status == 429 and r.error["code"] == "throttled", r
        elif tok in people:
            assert r.status == 200 and r.json["name"] == people[tok], (people[tok], r)
        else:
            assert r.status == 401, r
    # A statement whose query failed stays prepared: the next use must not PREPARE it again.
    r = Client(s.port).post("/api/auth/login", {"email": "tech@carnet.test",
                                                 "password": "carnet-demo"})
    assert r.status == 200, r
    m = s.client.get("/metrics").raw.decode()
    assert "carnet_db_pool_inflight" in m


SHUTDOWN_TIMEOUT_S = 4 * HANG_GUARD_S


def test_shutdown_is_prompt_after_clients_vanish(ctx):
    """Replies cut off by clients that hung up must not hold a shutdown until its deadline."""
    s = ctx.start_carnetd(env={"CARNET_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT_S),
                               "CARNET_NO_JOBS": "1"})
    socks = []
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        socks.append(sock)
    for sock in socks:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # reset, with the reply (tens of kB) possibly still being written
    wait_for(lambda: s.read_log().count("GET /api/openapi.json") >= 20, "the 20 requests")
    s.proc.send_signal(signal.SIGTERM)
    # The shutdown timeout (SHUTDOWN_TIMEOUT_S) is longer than the hang guard: exiting within
    # the guard shows the vanished clients did not hold the shutdown to its deadline.
    assert s.proc.wait(HANG_GUARD_S) == 0
