"""Retention: the job in carnetd deletes old sign-in attempts and ended sessions, and purges the
text of finished messages and the contacts of past visits and ended standby places, each after
its configured term, and deletes ended webhook deliveries and their events after the messages' term, keeping the rows reports need; several carnetd run it at once without
failing; the terms and their defaults are the README's."""
import os
import re
import secrets
import subprocess

from harness import ROOT, Client, wait_for

PW = "carnet-demo"
# Short terms for the test, each different, so a row just inside a term tells them apart.
TERMS = {"CARNET_RETAIN_LOGIN_ATTEMPTS": "10", "CARNET_RETAIN_SESSIONS": "2",
         "CARNET_RETAIN_MESSAGES": "20", "CARNET_RETAIN_VISITS": "5",
         "CARNET_RETENTION_INTERVAL": "1"}
IDLE_S = 1800


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.service = ctx.sql1("select id from services where store_id = %s order by id limit 1",
                           (ctx.paris,))["id"]
    ctx.staff = ctx.sql1("select id from staff where email = 'manager@carnet.test'")["id"]
    # The module's own carnetd runs no jobs: each test starts the ones it watches.
    ctx._server = ctx.start_carnetd(args=["--no-jobs"])


def _attempt(ctx, days_ago, email="who@example.com"):
    return ctx.sql1("insert into login_attempts (account_mac, address, ok, at) values"
                    " (login_mac(%s, %s), '192.0.2.7', false,"
                    " now() - make_interval(days => %s)) returning id",
                    (email, ctx.login_key(), days_ago))["id"]


def _session(ctx, expires, last_seen):
    h = secrets.token_hex(32)
    ctx.sql("insert into sessions (token_hash, staff_id, expires_at, last_seen_at)"
            " values (%s, %s, now() + %s::interval, now() + %s::interval)",
            (h, ctx.staff, expires, last_seen))
    return h


def _message(ctx, status, days_ago, ref=None, data='{"name": "Ann Old", "link": "L"}',
             next_attempt="now()"):
    return ctx.sql1(
        "insert into outbox (kind, channel, recipient, locale, subject, body, sms, status,"
        " created_at, next_attempt_at, store_id, ref_type, ref_id, data) values"
        " ('booking_confirmed', 'email', 'ann@example.com', 'en', 'Your booking',"
        " 'Hello Ann, your link', 'sms text', %s, now() - make_interval(days => %s), " +
        next_attempt + ", %s, %s, %s, %s::jsonb) returning id",
        (status, days_ago, ctx.paris, "appointment" if ref else None, ref, data))["id"]


def _visit(ctx, days_ago, status="done", name="Vera Visit"):
    return ctx.sql1(
        "insert into visits (store_id, kind, day, ticket, name, contact, status)"
        " values (%s, 'walk_in', current_date - %s,"
        " (select coalesce(max(ticket), 0) + 1 from visits), %s, '+33600000001', %s)"
        " returning id", (ctx.paris, days_ago, name, status))["id"]


def _standby(ctx, days_ago, status):
    return ctx.sql1(
        "insert into standby (store_id, service_id, day, name, email, phone, status, token_hash)"
        " values (%s, %s, current_date - %s, 'Sam Standby', 'sam@example.com', '+33600000002',"
        " %s, %s) returning id",
        (ctx.paris, ctx.service, days_ago, status, secrets.token_hex(32)))["id"]


def _row(ctx, table, id_):
    return ctx.sql1("select * from %s where id = %%s" % table, (id_,))


def test_each_kind_is_purged_after_its_term_and_the_rest_is_kept(ctx):
    old_attempt, new_attempt = _attempt(ctx, 11), _attempt(ctx, 9)
    expired = _session(ctx, "-3 days", "-3 days")
    idled = _session(ctx, "+1 day", "-2 days -%d seconds -1 hour" % IDLE_S)
    recent = _session(ctx, "-1 day", "-1 day")
    live = _session(ctx, "+1 day", "0")
    ref = 424242
    older = _message(ctx, "sent", 21, ref, '{"name": "Ann Old", "link": "L1"}')
    newest = _message(ctx, "sent", 21, ref, '{"name": "Ann Old", "link": "L2"}')
    failed = _message(ctx, "failed", 21)
    cancelled = _message(ctx, "cancelled", 21)
    # Not finished (its next try is far ahead, so delivery leaves it alone), and finished lately.
    pending = _message(ctx, "pending", 21, next_attempt="now() + interval '1 day'")
    sent_lately = _message(ctx, "sent", 19)
    old_visit, old_waiting, new_visit = _visit(ctx, 6), _visit(ctx, 6, "waiting"), _visit(ctx, 4)
    old_left, old_waiting_place = _standby(ctx, 6, "left"), _standby(ctx, 6, "waiting")
    new_left = _standby(ctx, 4, "expired")

    s = ctx.start_carnetd(env=dict(TERMS, CARNET_SESSION_IDLE=str(IDLE_S)))
    wait_for(lambda: _row(ctx, "standby", old_left)["purged_at"] is not None
             and _row(ctx, "outbox", cancelled)["purged_at"] is not None
             and not ctx.sql("select 1 from login_attempts where id = %s", (old_attempt,)),
             "the retention job's purge")

    # Sign-in attempts and sessions: deleted past their terms.
    ids = [r["id"] for r in ctx.sql("select id from login_attempts where id in (%s, %s)",
                                    (old_attempt, new_attempt))]
    assert ids == [new_attempt], ids
    left = {r["token_hash"] for r in ctx.sql("select token_hash from sessions")}
    assert expired not in left and idled not in left, "ended sessions kept"
    assert recent in left and live in left, "sessions within their term deleted"

    # Finished messages: text and recipient gone, the row and its delivery facts kept.
    for mid in (older, newest, failed, cancelled):
        m = _row(ctx, "outbox", mid)
        assert (m["subject"], m["body"], m["sms"], m["recipient"]) == ("", "", "", "erased"), m
        assert m["purged_at"] and m["kind"] == "booking_confirmed" and m["status"], m
    # The newest message about an object keeps the placeholders later ones reuse.
    assert _row(ctx, "outbox", older)["data"] == {}
    kept = _row(ctx, "outbox", newest)["data"]  # its name sealed by now, or about to be
    assert set(kept) == {"name", "link"} and kept["link"] == "L2", kept
    assert ctx.opened(kept["name"]) == "Ann Old", kept
    assert _row(ctx, "outbox", failed)["data"] == {}
    for mid in (pending, sent_lately):
        m = _row(ctx, "outbox", mid)
        assert m["body"] == "Hello Ann, your link" and m["purged_at"] is None, m
    # A purged message cannot be sent again: its text is gone.
    mgr = Client(s.port)
    mgr.login("manager@carnet.test", PW)
    r = mgr.post("/api/stores/%d/outbox/%d/retry" % (ctx.paris, failed))
    assert r.status == 409 and r.error["code"] == "purged", r
    assert _row(ctx, "outbox", failed)["status"] == "failed"
    r = mgr.get("/api/stores/%d/outbox?status=failed" % ctx.paris)
    assert failed in [m["id"] for m in r.json["messages"]], r

    # Visits of past days: name and contact gone, whatever the state; the rows stay.
    for vid in (old_visit, old_waiting):
        v = _row(ctx, "visits", vid)
        assert v["name"] == "erased customer" and v["contact"] is None and v["purged_at"], v
    assert _row(ctx, "visits", old_visit)["status"] == "done"
    v = _row(ctx, "visits", new_visit)
    # (inserted in clear here, so possibly sealed by now: read as carnetd would)
    assert ctx.opened(v["name"]) == "Vera Visit" and ctx.opened(v["contact"]) == "+33600000001"
    assert not v["purged_at"], v

    # Standby places: ended ones past the term lose their contact; open ones keep it.
    p = _row(ctx, "standby", old_left)
    assert (p["name"], p["email"], p["phone"]) == ("erased customer", None, None), p
    assert p["status"] == "left"
    for pid in (old_waiting_place, new_left):
        p = _row(ctx, "standby", pid)
        assert ctx.opened(p["email"]) == "sam@example.com" and p["purged_at"] is None, p
    assert "job_retention failed" not in s.read_log()
    s.stop()


def test_several_carnetd_purge_a_backlog_together(ctx):
    """A backlog larger than one run's batch, and three carnetd running the job at once: every
    old row goes, none of them fails, and the recent rows stay."""
    n = 4000
    ctx.sql("insert into login_attempts (account_mac, address, ok, at) select"
            " login_mac('m' || i || '@example.com', %s), '192.0.2.9', false,"
            " now() - interval '30 days' from generate_series(1, %s) i", (ctx.login_key(), n))
    base = ctx.sql1("select coalesce(max(ticket), 0) as t from visits")["t"]
    ctx.sql("insert into visits (store_id, kind, day, ticket, name, contact, status)"
            " select %s, 'walk_in', current_date - 30, %s + i, 'Many ' || i, '+336000' || i,"
            " 'done' from generate_series(1, %s) i", (ctx.paris, base, n))
    keep = _attempt(ctx, 1, "keep@example.com")
    # Started together, so their first rounds meet on the backlog.
    servers = [ctx.start_carnetd(env=TERMS, wait=False) for _ in range(3)]
    for s in servers:
        s.wait_ready()
    wait_for(lambda: ctx.sql1("select count(*) as n from login_attempts"
                              " where at < now() - interval '20 days'")["n"] == 0
             and ctx.sql1("select count(*) as n from visits where day = current_date - 30"
                          " and purged_at is null")["n"] == 0,
             "the backlog purged", timeout=60)
    assert ctx.sql1("select count(*) as n from visits where day = current_date - 30")["n"] == n
    assert ctx.sql("select 1 from login_attempts where id = %s", (keep,))
    for s in servers:
        log = s.read_log()
        assert "job_retention failed" not in log and "jobs:" not in log, log[-2000:]
        s.stop()


def test_terms_are_settings_with_the_readme_defaults(ctx):
    """Each retention setting is in --help with the default the README's table gives, and a
    term of 0 days (which would purge what is in use) is refused at start-up."""
    out = subprocess.run([ctx.run.binary, "--help"], capture_output=True, text=True,
                         check=True).stdout
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    flags = ("retain-login-attempts", "retain-sessions", "retain-messages", "retain-visits",
             "retention-interval")
    for flag in flags:
        m = re.search(r"--%s=VALUE .*\(default (\d+)\)" % flag, out)
        assert m, (flag, out)
        row = re.search(r"^\| `--%s` \| `[A-Z_]+` \| (\d+)\b" % flag, readme, re.M)
        assert row, "no README row for --%s" % flag
        assert row.group(1) == m.group(1), (flag, row.group(0), m.group(0))
    for flag in flags:
        r = subprocess.run([ctx.run.binary, "--" + flag, "0"], capture_output=True, text=True)
        assert r.returncode == 2 and flag in r.stderr, (flag, r.stderr)


def test_old_webhook_deliveries_and_events_go_after_the_messages_term(ctx):
    """Ended webhook deliveries older than the messages' term go with their tries, then the
    events none is left for; a delivery still pending keeps its event, and recent ones stay."""
    hook = ctx.sql1("insert into webhook_endpoints (store_id, url, events, secret, active)"
                    " values (%s, 'https://hooks.example/x', array['booking.created'], 'x', false)"
                    " returning id", (ctx.paris,))["id"]

    def event(days_ago):
        return ctx.sql1("insert into webhook_events (store_id, type, payload, created_at) values"
                        " (%s, 'booking.created', '{\"id\": 1}', now() - make_interval(days => %s))"
                        " returning id", (ctx.paris, days_ago))["id"]

    def delivery(ev, status, days_ago):
        # Not due (a try made, the next far ahead): no carnetd sends it meanwhile.
        d = ctx.sql1("insert into webhook_deliveries (endpoint_id, event_id, status, attempts,"
                     " next_attempt_at, created_at) values (%s, %s, %s, 1, now() + interval '1 day',"
                     " now() - make_interval(days => %s)) returning id",
                     (hook, ev, status, days_ago))["id"]
        ctx.sql("insert into webhook_attempts (delivery_id, attempt, status_code, duration_ms)"
                " values (%s, 1, 500, 12)", (d,))
        return d

    old_done, old_failed, old_mixed, recent = event(21), event(21), event(21), event(19)
    gone = [delivery(old_done, "delivered", 21), delivery(old_failed, "failed", 21),
            delivery(old_mixed, "delivered", 21)]
    kept = [delivery(old_mixed, "pending", 21), delivery(recent, "delivered", 19)]

    s = ctx.start_carnetd(env=TERMS)
    wait_for(lambda: not ctx.sql("select 1 from webhook_events where id = %s", (old_failed,)),
             "the old webhook events purged")
    ids = lambda sql, xs: sorted(r["id"] for r in ctx.sql(sql, (xs,)))
    assert ids("select id from webhook_deliveries where id = any(%s)", gone + kept) == sorted(kept)
    assert ids("select delivery_id as id from webhook_attempts where delivery_id = any(%s)",
               gone + kept) == sorted(kept)
    assert ids("select id from webhook_events where id = any(%s)",
               [old_done, old_failed, old_mixed, recent]) == sorted([old_mixed, recent])
    assert ctx.sql("select 1 from webhook_endpoints where id = %s", (hook,))
    assert "job_retention failed" not in s.read_log()
    s.stop()
    ctx.sql("delete from webhook_endpoints where id = %s", (hook,))
    ctx.sql("delete from webhook_events where id = any(%s)", ([old_mixed, recent],))
