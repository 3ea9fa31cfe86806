"""Metrics an operator watches: Prometheus' standard process metrics, the worker pools' queues,
and the outbox and webhook backlogs read from the database (server/system.c)."""
import re
import socket
import time

from harness import wait_for


def scrape(client):
    r = client.get("/metrics")
    assert r.status == 200, r
    return r.raw.decode()


def value(text, name):
    """The value of the sample `name` (with its labels, if any), or None."""
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def test_process_metrics(ctx):
    c = ctx.client()
    text = scrape(c)
    for name, kind in (("process_resident_memory_bytes", "gauge"), ("process_open_fds", "gauge"),
                       ("process_max_fds", "gauge"), ("process_cpu_seconds_total", "counter"),
                       ("process_start_time_seconds", "gauge")):
        assert "# HELP %s " % name in text, name
        assert "# TYPE %s %s\n" % (name, kind) in text, name
        assert value(text, name) is not None, (name, text[-2000:])
    pid = ctx.server.proc.pid
    with open("/proc/%d/status" % pid) as f:
        rss_kb = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    rss = value(text, "process_resident_memory_bytes")
    assert 0.5 * rss_kb * 1024 < rss < 2 * rss_kb * 1024, (rss, rss_kb)
    assert value(text, "process_cpu_seconds_total") > 0
    start = value(text, "process_start_time_seconds")
    assert time.time() - 3600 < start <= time.time() + 1, start
    fds = value(text, "process_open_fds")
    assert 0 < fds < value(text, "process_max_fds"), text
    # Ten more connections held open are ten more descriptors in carnetd.
    socks = [socket.create_connection(("127.0.0.1", ctx.server.port)) for _ in range(10)]
    try:
        more = wait_for(lambda: (lambda v: v if v >= fds + 10 else None)(
            value(scrape(c), "process_open_fds")), "ten more open descriptors")
        assert more >= fds + 10, (fds, more)
    finally:
        for s in socks:
            s.close()
    # Time spent computing shows in the CPU counter.
    cpu = value(scrape(c), "process_cpu_seconds_total")
    for _ in range(200):
        c.get("/api/openapi.json")
    assert value(scrape(c), "process_cpu_seconds_total") > cpu


def test_worker_pool_queues(ctx):
    text = scrape(ctx.client())
    assert "# TYPE carnet_worker_queue_length gauge" in text
    for pool in ("cpu", "io", "webhook", "resolve"):
        assert value(text, 'carnet_worker_queue_length{pool="%s"}' % pool) == 0, (pool, text)
        assert value(text, 'carnet_worker_busy_threads{pool="%s"}' % pool) >= 0, pool
        assert value(text, 'carnet_worker_threads{pool="%s"}' % pool) >= 1, pool


def late_message(ctx, seconds):
    """A message due `seconds` ago that a worker holds (its lease runs an hour), so no sender
    touches it while the test reads the backlog."""
    row = ctx.sql1("select outbox_enqueue('booking_confirmed', 'email', "
                   "'{{pd:0123456789abcdef:YQ==}}', 'en', '{}', null, null, null, null, "
                   "repeat('a', 64)) as id")
    ctx.sql("update outbox set status = 'sending', claim = gen_random_uuid(), "
            "claimed_until = now() + interval '1 hour', "
            "next_attempt_at = now() - make_interval(secs => %s) where id = %s",
            (seconds, row["id"]))
    return row["id"]


def test_outbox_backlog(ctx):
    c = ctx.client()
    oid = late_message(ctx, 600)
    try:
        def shows_late():
            text = scrape(c)
            age = value(text, "carnet_outbox_oldest_due_seconds")
            return text if age is not None and age >= 600 else None
        text = wait_for(shows_late, "the late message in carnet_outbox_oldest_due_seconds")
        assert value(text, "carnet_outbox_backlog") >= 1, text
        assert "# TYPE carnet_outbox_backlog gauge" in text
        assert value(text, "carnet_webhook_backlog") is not None, text
        assert value(text, "carnet_webhook_oldest_due_seconds") is not None, text
    finally:
        ctx.sql("update outbox set status = 'sent', sent_at = now() where id = %s", (oid,))
    # Once sent it leaves the backlog, and the age drops.
    wait_for(lambda: (value(scrape(c), "carnet_outbox_oldest_due_seconds") or 0) < 600,
             "the sent message to leave the backlog")


def test_backlog_starts_unknown_and_follows_scrapes(ctx):
    """The render is synchronous: a fresh carnetd's first scrape starts the first read and has
    no backlog figures yet, later ones have them."""
    s = ctx.start_carnetd(args=["--no-jobs"])
    first = scrape(s.client)
    assert "carnet_outbox_backlog" not in first, first[-1500:]
    wait_for(lambda: "carnet_outbox_backlog " in scrape(s.client), "the backlog figures")
    # The process metrics are there from the first scrape.
    assert value(first, "process_open_fds") > 0
