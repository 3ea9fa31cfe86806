"""pgconn: the database host given by name (resolved asynchronously by carnetd), by key=value
conninfo, a name that does not resolve (a start-up error, not a hang), and a database outage
seen through a name (503, then recovery)."""
import os
import subprocess
import time
import urllib.parse

from harness import ROOT, Client, data_key_file


def _named_url(ctx, host="localhost"):
    u = urllib.parse.urlsplit(ctx.url)
    netloc = u.netloc.replace("127.0.0.1", host)
    assert host in netloc, ctx.url
    return urllib.parse.urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))


def _wait_status(client, want, timeout):
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline:
        try:
            status = client.get("/healthz", timeout=5).status
        except OSError:
            status = None
        if status == want:
            return status
        time.sleep(0.1)
    return status


def test_host_name_in_uri(ctx):
    s = ctx.start_carnetd(env={"DATABASE_URL": _named_url(ctx), "CARNET_LOG_LEVEL": "debug"})
    r = s.client.get("/healthz")
    assert r.status == 200 and r.json["database"]["state"] == "up", r
    # The name went through evdns and libpq was handed the address.
    log = s.read_log()
    assert "localhost is 127.0.0.1" in log, log[-2000:]
    # The LISTEN connection connects by name too.
    deadline = time.time() + 10
    while time.time() < deadline and "pglisten: listening" not in s.read_log():
        time.sleep(0.1)
    assert "pglisten: listening" in s.read_log(), s.read_log()[-2000:]


def test_host_name_in_key_value_conninfo(ctx):
    u = urllib.parse.urlsplit(ctx.url)
    conninfo = "host=localhost port=%d user=%s dbname=%s" % (u.port, u.username, u.path[1:])
    s = ctx.start_carnetd(env={"DATABASE_URL": conninfo})
    r = s.client.get("/healthz")
    assert r.status == 200, r


def test_unresolvable_name_exits_at_startup(ctx):
    url = _named_url(ctx, "carnet-db.invalid")
    for extra in ({}, {"CARNET_SKIP_MIGRATE": "1"}):
        env = dict(os.environ, DATABASE_URL=url, CARNET_LISTEN="127.0.0.1:0",
                   CARNET_SCHEMA_DIR=os.path.join(ROOT, "schema"),
                   CARNET_DATA_KEY_FILE=data_key_file(ctx.run.workdir), **extra)
        t0 = time.time()
        out = subprocess.run([ctx.run.binary], capture_output=True, text=True, env=env,
                             timeout=30, cwd=ROOT)
        took = time.time() - t0
        assert out.returncode != 0, out
        assert "carnet-db.invalid" in out.stderr and "resolve" in out.stderr, out.stderr
        assert took < 5, "took %.1fs to give up" % took


def test_outage_through_a_name_is_503_then_recovers(ctx):
    s = ctx.start_carnetd(env={"DATABASE_URL": _named_url(ctx),
                               "CARNET_RECONNECT_MAX_MS": "300", "CARNET_NO_JOBS": "1"})
    assert s.client.get("/healthz").status == 200
    ctx.cluster.stop()
    try:
        t0 = time.time()
        assert _wait_status(s.client, 503, 10) == 503
        r = Client(s.port).post("/api/auth/login", {"email": "a@b.test", "password": "x"},
                                timeout=10)
        assert r.status == 503 and r.header("Retry-After"), r
        assert time.time() - t0 < 10
        assert s.proc.poll() is None, "carnetd died with the database"
    finally:
        ctx.cluster.start()
    assert _wait_status(s.client, 200, 15) == 200, "did not recover after the restart"
    ctx._db = None
