"""No live customer link rests in the database in clear (issue 12, point 3): the data key that
seals them, the stock of ready links the database takes from, the outbox that opens a seal only
to deliver and then drops the text, and what carnetd does with a seal it cannot open."""
import json
import os
import re

from harness import Client, data_key_file, open_sealed, wait_for

FAST = {"CARNET_OUTBOX_INTERVAL_MS": "50", "CARNET_OUTBOX_BACKOFF_MS": "100"}
LINK = re.compile(r"/#([A-Za-z0-9_-]{43})\b")


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]


def _key(ctx, name, content, mode=0o600):
    path = os.path.join(ctx.run.workdir, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    os.chmod(path, mode)
    return path


def _book(ctx, client):
    day = ctx.store_noon(ctx.paris, days=3)
    r = client.get("/api/stores/%d/availability?service=%d&from=%s&to=%s" % (
        ctx.paris, ctx.service, day.date(), day.date()))
    assert r.status == 200, r
    slots = [s["starts_at"] for d in r.json["days"] for s in d["slots"]]
    assert slots, r.json
    r = client.post("/api/stores/%d/appointments" % ctx.paris,
                    {"service_id": ctx.service, "starts_at": slots[-1], "name": "Sam Sealed",
                     "email": "sam.sealed@example.test"})
    assert r.status == 201, r
    return r.json


def test_carnetd_refuses_to_start_without_a_proper_data_key(ctx):
    cases = [
        ({"CARNET_DATA_KEY_FILE": ""}, "no data key"),
        ({"CARNET_DATA_KEY_FILE": os.path.join(ctx.run.workdir, "missing.key")},
         "No such file"),
        ({"CARNET_DATA_KEY_FILE": _key(ctx, "open.key", os.urandom(32), 0o644)},
         "readable by others"),
        ({"CARNET_DATA_KEY_FILE": _key(ctx, "short.key", os.urandom(31))}, "32 bytes"),
        ({"CARNET_DATA_KEY_FILE": _key(ctx, "badhex.key", b"z" * 64 + b"\n")}, "32 bytes"),
    ]
    for env, why in cases:
        s = ctx.start_carnetd(env=env, wait=False, refuses_start=True)
        rc = s.proc.wait(20)
        assert rc != 0, (env, rc)
        assert why in s.read_log(), (why, s.read_log()[-500:])
    # 64 hex digits (and a newline) are a key too.
    s = ctx.start_carnetd(env={"CARNET_DATA_KEY_FILE": _key(
        ctx, "hex.key", os.urandom(32).hex().encode() + b"\n")})
    assert s.client.get("/healthz").status == 200
    s.stop()


def test_a_booking_link_is_sealed_then_delivered_then_dropped(ctx):
    ctx.service = ctx.sql1("select id from services where store_id = %s and name = 'Setup'",
                           (ctx.paris,))["id"]
    s = ctx.start_carnetd(env=FAST)
    booked = _book(ctx, Client(s.port))
    token = booked["manage_token"]
    row = ctx.sql1("select id from outbox where ref_type = 'appointment' and ref_id = %s "
                   "and kind = 'booking_confirmed'", (booked["appointment"]["id"],))
    doc = ctx.delivered(row["id"])
    # The customer gets the very link the reply handed out, with the public URL.
    assert "http://127.0.0.1:%d/manage/#%s" % (s.port, token) in doc["body"], doc["body"]
    assert "{{" not in doc["body"] and "{{" not in doc["sms"], doc
    # Delivered: the text is gone, the metadata stays for the manager's view.
    kept = ctx.sql1("select status, subject, body, sms, kind, recipient, sent_at, transport "
                    "from outbox where id = %s", (row["id"],))
    assert kept["status"] == "sent" and kept["sent_at"] and kept["transport"] == "file", kept
    assert kept["subject"] == kept["body"] == kept["sms"] == "", kept
    assert kept["kind"] == "booking_confirmed" \
        and ctx.opened(kept["recipient"]) == "sam.sealed@example.test", kept
    # The reminders still wait, their link sealed; opened with the key, it is the same link.
    for r in ctx.sql("select body, data from outbox where ref_type = 'appointment' "
                     "and ref_id = %s and status = 'pending'", (booked["appointment"]["id"],)):
        ctx.sealed_link(r["body"], token)
        ctx.sealed_link(json.dumps(r["data"]), token)
    # Cancelling drops the text of what will now never be sent.
    assert Client(s.port).post("/api/manage/%s/cancel" % token).status == 200
    gone = ctx.sql("select body from outbox where ref_type = 'appointment' and ref_id = %s "
                   "and status = 'cancelled'", (booked["appointment"]["id"],))
    assert gone and all(r["body"] == "" for r in gone), gone
    s.stop()


def test_links_the_database_mints_come_sealed_from_the_stock(ctx):
    s = ctx.start_carnetd(env=FAST)
    stock = ctx.sql1("select count(*) as n from link_stock")["n"]
    assert stock >= 200, stock  # filled at start-up, before the first request
    # No stock row holds anything but a hash and a seal that opens to that hash's token.
    rows = ctx.sql("select token_hash, sealed from link_stock order by id limit 5")
    import hashlib
    for r in rows:
        token = open_sealed(r["sealed"], ctx.run.workdir)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), token
        assert hashlib.sha256(token.encode()).hexdigest() == r["token_hash"]
    # A survey (minted inside SQL) takes one and carries it sealed; delivered, it opens.
    before = ctx.sql1("select count(*) as n from link_stock")["n"]
    ctx.sql("select survey_offer(%s, 'visit', 424242, 'email', 'val@example.test', 'en', "
            "'{\"name\": \"Val\"}')", (ctx.paris,))
    mid = ctx.sql1("select id, body from outbox where kind = 'survey' and ref_id = 424242")
    assert "{{sealed:" in mid["body"] and not LINK.search(mid["body"]), mid["body"]
    doc = ctx.delivered(mid["id"])
    tok = LINK.search(doc["body"]).group(1)
    r = Client(s.port).get("/api/surveys/" + tok)
    assert r.status == 200, r
    # The stock is topped up again by the jobs' carnetd.
    wait_for(lambda: ctx.sql1("select count(*) as n from link_stock")["n"] >= before,
             "the stock topped up")
    s.stop()


def test_an_empty_stock_is_a_retryable_answer_not_a_lost_event(ctx):
    # No carnetd runs: nobody tops the stock up. A survey offer then fails as a whole (the
    # transaction that would have sent it rolls back) with a 503 the caller can retry.
    for srv in ctx.servers:
        srv.stop()
    ctx.sql("delete from link_stock")
    try:
        ctx.sql("select survey_offer(%s, 'visit', 434343, 'email', 'v@example.test', 'en', '{}')",
                (ctx.paris,))
        raise AssertionError("a link was minted from an empty stock")
    except Exception as e:  # psycopg2 raises the CA503 error
        assert "busy" in str(e) and getattr(e, "pgcode", "") == "CA503", e
    assert ctx.sql1("select count(*) as n from surveys where ref_id = 434343")["n"] == 0
    # The next carnetd fills it before it serves.
    s = ctx.start_carnetd(env={"CARNET_NO_JOBS": "1"})
    assert ctx.sql1("select count(*) as n from link_stock")["n"] >= 200
    s.stop()


def test_a_seal_under_another_key_fails_the_message_for_good(ctx):
    for srv in ctx.servers:
        srv.stop()
    ctx.sql("update outbox set status = 'cancelled', once_key = null "
            "where status in ('pending', 'sending')")
    other = _key(ctx, "other.key", os.urandom(32))
    # A carnetd under another key seals a link (a booking confirmation)...
    ctx.service = ctx.sql1("select id from services where store_id = %s and name = 'Setup'",
                           (ctx.paris,))["id"]
    s = ctx.start_carnetd(env={"CARNET_DATA_KEY_FILE": other, "CARNET_NO_JOBS": "1"})
    booked = _book(ctx, Client(s.port))
    s.stop()
    # ...and one under the run's key cannot open it: the message fails for good, says why,
    # and no garbled link reaches the customer.
    s = ctx.start_carnetd(env=FAST)
    mid = ctx.sql1("select id from outbox where ref_type = 'appointment' and ref_id = %s "
                   "and kind = 'booking_confirmed'", (booked["appointment"]["id"],))["id"]
    row = wait_for(lambda: ctx.sql1("select status, last_error, attempts from outbox "
                                    "where id = %s and status = 'failed'", (mid,)), "the failure")
    assert "not one loaded" in row["last_error"] and row["attempts"] == 1, row
    assert not [n for n in os.listdir(s.outbox_dir) if n.startswith("%d-" % mid)] \
        if os.path.isdir(s.outbox_dir) else True
    # The stock left by the other key is replaced, not handed out.
    assert ctx.sql1("select count(*) as n from link_stock where sealed not like %s",
                    ("{{sealed:%s:%%" % _kid(ctx),))["n"] == 0
    s.stop()


def _kid(ctx):
    """The key id carnetd shows in its markers for the run's key (any stock row says it)."""
    return ctx.sql1("select substring(sealed from '^\\{\\{sealed:([0-9a-f]{16}):') as k "
                    "from link_stock order by id desc limit 1")["k"]


def test_run_key_is_owner_only(ctx):
    mode = os.stat(data_key_file(ctx.run.workdir)).st_mode & 0o777
    assert mode == 0o600, oct(mode)
