"""Early warnings (once, with a new estimate), customer <-> store threads with unread counts,
and surveys (one-tap link valid once, for one visit) feeding the satisfaction report."""
import json
import re
import time

import psycopg2

from harness import Client


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]


def _wait(cond, timeout=10, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def _staff(ctx, email="specialist@carnet.test"):
    c = ctx.client()
    c.login(email, "carnet-demo")
    return c


def _warnings(ctx, ref_type, ref_id):
    return ctx.sql("select * from outbox where ref_type = %s and ref_id = %s "
                   "and kind in ('running_late', 'promise_at_risk')", (ref_type, ref_id))


def _track(ctx, ref_type, ref_id, promised, state=None, locale="en"):
    ctx.sql("select promise_track(%s, %s, %s, " + promised + ", 'email', 'kim@example.test', "
            "%s, '{\"name\":\"Kim\",\"code\":\"R-77\"}', %s)",
            (ctx.paris, ref_type, ref_id, locale, state))


_marker_ids = iter(range(900000, 1000000))


def _job_round(ctx):
    """Waits for a full round of the early-warning job after this call: a late appointment
    tracked now gets its warning only from a round that started after it was committed, and
    that round also saw every promise tracked before."""
    ref = next(_marker_ids)
    _track(ctx, "appointment", ref, "now() - interval '30 minutes'")
    _wait(lambda: _warnings(ctx, "appointment", ref), what="a job round (marker %d)" % ref)


def test_running_late_warns_once_with_a_new_estimate(ctx):
    ctx.server  # its jobs run job_early_warnings every 200 ms
    _track(ctx, "appointment", 501, "now() - interval '20 minutes'")   # 20 min past, limit 15
    _track(ctx, "appointment", 502, "now() - interval '5 minutes'")    # still within the limit
    _track(ctx, "appointment", 503, "now() - interval '30 minutes'")
    ctx.sql("select promise_resolve('appointment', 503)")              # was called in time
    w = _wait(lambda: _warnings(ctx, "appointment", 501), what="the warning")
    assert len(w) == 1 and w[0]["kind"] == "running_late", w
    m = ctx.delivered(w[0]["id"])  # the jobs' outbox delivers it; the database keeps no text
    assert "running late" in m["subject"] and "Hello Kim" in m["body"], m
    assert re.search(r"around \w+ \d+ \w+ at \d\d:\d\d", m["body"]), m["body"]
    assert re.search(r"/messages/#[A-Za-z0-9_-]{43}\b", m["body"]), m["body"]
    _job_round(ctx)  # several more job rounds
    _job_round(ctx)
    assert len(_warnings(ctx, "appointment", 501)) == 1, "warned twice"
    assert not _warnings(ctx, "appointment", 502) and not _warnings(ctx, "appointment", 503)
    # Tracking the same promise again (a retried check-in) does not warn again.
    _track(ctx, "appointment", 501, "now() - interval '40 minutes'")
    _job_round(ctx)
    assert len(_warnings(ctx, "appointment", 501)) == 1
    p = ctx.sql1("select warned_at, expected_at from promises where ref_type = 'appointment' "
                 "and ref_id = 501")
    assert p["expected_at"] > p["warned_at"], p


def test_repair_at_risk_warns_once(ctx):
    ctx.server
    # Promised tomorrow but waiting for parts (about 3 days more): at risk.
    _track(ctx, "repair", 601, "now() + interval '1 day'", "awaiting_parts", "fr")
    # Promised tomorrow and in testing (a few hours more): fine.
    _track(ctx, "repair", 602, "now() + interval '1 day'", "testing")
    w = _wait(lambda: _warnings(ctx, "repair", 601), what="the warning")
    assert len(w) == 1 and w[0]["kind"] == "promise_at_risk" and w[0]["locale"] == "fr", w
    m = ctx.delivered(w[0]["id"])
    assert "R-77" in m["body"] and "Nouvelle estimation" in m["body"], m["body"]
    _job_round(ctx)
    assert len(_warnings(ctx, "repair", 601)) == 1 and not _warnings(ctx, "repair", 602)
    # 602 then stalls: the technician's new estimate passes the promise: warned once.
    ctx.sql("select promise_update('repair', 602, 'awaiting_parts', now() + interval '4 days')")
    w = _wait(lambda: _warnings(ctx, "repair", 602), what="the second warning")
    _job_round(ctx)
    assert len(_warnings(ctx, "repair", 602)) == 1


def _thread(ctx, ref_id, store=None):
    return ctx.sql1("select message_thread_open(%s, 'repair', %s, 'email', 'lou@example.test', "
                    "'en', 'Lou', null) as id", (store or ctx.paris, ref_id))["id"]


def _link_token(ctx, thread):
    row = _wait(lambda: ctx.sql1("select id from outbox where ref_type = 'thread' "
                                 "and ref_id = %s order by id desc limit 1", (thread,)),
                what="the notification")
    return re.search(r"messages/#([A-Za-z0-9_-]+)", ctx.message_body(row["id"])).group(1)


def test_thread_between_staff_and_customer(ctx):
    t = _thread(ctx, 701)
    staff = _staff(ctx)
    r = staff.post("/api/stores/%d/threads/%d/messages" % (ctx.paris, t),
                   {"body": "Your screen arrives tomorrow."})
    assert r.status == 201 and r.json["thread_id"] == t, r
    note = ctx.sql1("select * from outbox where ref_type = 'thread' and ref_id = %s", (t,))
    assert note["kind"] == "store_message", note
    assert ctx.opened(note["recipient"]) == "lou@example.test", note
    # The text rests sealed in the queued message too; the customer reads it in clear.
    assert "Your screen arrives tomorrow." not in note["body"], note
    assert "Your screen arrives tomorrow." in ctx.message_body(note["id"]), note
    token = _link_token(ctx, t)

    cust = Client(ctx.server.port)
    r = cust.get("/api/messages/" + token)
    assert r.status == 200, r
    assert [m["body"] for m in r.json["messages"]] == ["Your screen arrives tomorrow."], r.json
    assert r.json["messages"][0]["author"] == "staff" and r.json["customer_name"] is None, r.json
    r = cust.post("/api/messages/" + token, {"body": "Great, thanks! Can I pick it up at 6?"})
    assert r.status == 201, r
    cust.post("/api/messages/" + token, {"body": "Or Saturday."})

    r = staff.get("/api/stores/%d/threads" % ctx.paris)
    assert r.status == 200, r
    mine = [x for x in r.json["threads"] if x["thread_id"] == t][0]
    assert mine["unread"] == 2 and mine["messages"] == 3, mine
    assert r.json["unread"] >= 2
    r = staff.get("/api/stores/%d/threads?unread=true" % ctx.paris)
    assert t in [x["thread_id"] for x in r.json["threads"]]
    r = staff.get("/api/stores/%d/threads/%d" % (ctx.paris, t))
    assert r.status == 200 and len(r.json["messages"]) == 3, r
    assert r.json["customer_name"] == "Lou" and r.json["messages"][0]["staff_name"] == "Sam", r.json
    r = staff.get("/api/stores/%d/threads?unread=true" % ctx.paris)
    assert t not in [x["thread_id"] for x in r.json["threads"]], r.json
    assert ctx.sql1("select count(*) as n from audit_log where object_type = 'message_thread' "
                    "and object_id = %s and action = 'read'", (str(t),))["n"] == 1


def _repair_thread(ctx, serial, owner):
    """A repair opened through the API with `owner` (sealed by carnetd on its way in), and its
    thread: (repair id, thread id, status token)."""
    tech = _staff(ctx, "tech@carnet.test")
    r = tech.post("/api/stores/%d/repairs" % ctx.paris, {
        "serial": serial, "problem": "no sound",
        "intake": {"checklist": [{"item": "speaker", "ok": False}]}, "owner": owner})
    assert r.status == 201, r
    t = ctx.sql1("select id from message_threads where ref_type = 'repair' and ref_id = %s",
                 (r.json["id"],))["id"]
    return r.json["id"], t, r.json["status_token"]


def test_message_texts_rest_sealed(ctx):
    """A thread's contact and every message text are ciphertext the moment they are written (not
    after the sealing job), with the blind index of the recipient; the staff and the customer
    read them in clear; the delivered message carries the clear name, recipient and text; the
    device's record keeps the message's hash, shows its text, and still verifies."""
    rid, t, status_token = _repair_thread(ctx, "PDBMSG0001",
                                          {"name": "Zoé Scellée", "email": "Zoe.Sealed@Example.test"})
    th = ctx.sql1("select * from message_threads where id = %s", (t,))
    assert ctx.is_pd(th["recipient"]) and ctx.is_pd(th["customer_name"]), th
    assert th["recipient_bi"] == ctx.blind("email", "zoe.sealed@example.test"), th
    assert ctx.opened(th["customer_name"]) == "Zoé Scellée"

    staff = _staff(ctx)
    text = "Votre écran arrive demain, Zoé."
    r = staff.post("/api/stores/%d/threads/%d/messages" % (ctx.paris, t), {"body": text})
    assert r.status == 201, r
    mid = r.json["id"]
    row = ctx.sql1("select body from messages where id = %s", (mid,))
    assert ctx.is_pd(row["body"]) and ctx.opened(row["body"]) == text, row
    note = ctx.sql1("select * from outbox where ref_type = 'thread' and ref_id = %s "
                    "order by id desc limit 1", (t,))
    assert ctx.is_pd(note["recipient"]), note
    assert note["recipient_bi"] == ctx.blind("email", "zoe.sealed@example.test"), note
    assert "Zoé" not in note["body"] and "Zoe.Sealed" not in note["body"], note
    sent = ctx.delivered(note["id"])
    assert sent["to"].lower() == "zoe.sealed@example.test", sent
    assert "Hello Zoé Scellée" in sent["body"] and text in sent["body"], sent

    # The customer answers from the repair's status link: sealed too, read back in clear.
    cust = Client(ctx.server.port)
    r = cust.post("/api/messages/" + status_token, {"body": "Merci !"})
    assert r.status == 201, r
    assert ctx.is_pd(ctx.sql1("select body from messages where id = %s", (r.json["id"],))["body"])
    r = cust.get("/api/messages/" + status_token)
    assert [m["body"] for m in r.json["messages"]] == [text, "Merci !"], r.json
    r = staff.get("/api/stores/%d/threads/%d" % (ctx.paris, t))
    assert r.json["customer_name"] == "Zoé Scellée", r.json
    assert [m["body"] for m in r.json["messages"]] == [text, "Merci !"], r.json
    r = staff.get("/api/stores/%d/threads" % ctx.paris)
    assert [x["customer_name"] for x in r.json["threads"] if x["thread_id"] == t] == \
        ["Zoé Scellée"], r.json

    # The record: the entry names the message and holds the hash of its clear text, not the text
    # (in clear or sealed); the record view shows the text; the chain verifies.
    entries = ctx.sql("select content from record_entries where kind = 'message' "
                      "and content->>'thread_id' = %s order by id", (str(t),))
    assert len(entries) == 2, entries
    c = entries[0]["content"]
    assert c["message_id"] == mid and "body" not in c, c
    # A keyed hash (021): a reader of the database cannot test likely texts against it.
    assert "sha256" not in c and c["mac_key"] == ctx.sql1(
        "select substr(body, 6, 16) as k from messages where id = %s", (mid,))["k"], c
    assert c["mac"] == ctx.keyed("carnet-message-text", text), c
    assert "{{pd:" not in json.dumps(entries) and "Zoé" not in json.dumps(entries), entries
    rec = staff.get("/api/devices/PDBMSG0001").json
    shown = [e["content"] for e in rec["entries"] if e["kind"] == "message"]
    assert [e["body"] for e in shown] == ["Merci !", text], shown
    v = staff.get("/api/devices/PDBMSG0001/verify")
    assert v.status == 200 and v.json["ok"] is True, v


def test_sealed_message_bad_inputs(ctx):
    """What C checks before sealing (a text of 1..4000 characters, counted as characters) is
    refused with nothing stored, and SQL refuses a sealed text that comes without its hash."""
    rid, t, _ = _repair_thread(ctx, "PDBMSG0002", {"name": "Ana", "phone": "06 11 22 33 44"})
    th = ctx.sql1("select recipient, recipient_bi, channel from message_threads where id = %s",
                  (t,))
    assert th["channel"] == "sms" and ctx.is_pd(th["recipient"]), th
    assert th["recipient_bi"] == ctx.blind("phone", "0611223344"), th
    staff = _staff(ctx)
    base = "/api/stores/%d/threads/%d/messages" % (ctx.paris, t)
    before = ctx.sql1("select count(*) as n from messages")["n"]
    assert staff.post(base, {"body": "é" * 4000}).status == 201   # characters, not bytes
    n = before + 1
    for body in ({"body": "é" * 4001}, {"body": " \t\n "}, {"body": None}):
        r = staff.post(base, body)
        assert r.status == 422 and r.error["field"] == "body", (body, r)
    assert ctx.sql1("select count(*) as n from messages")["n"] == n
    # A marker without its keyed hash (only carnetd seals): refused by SQL, nothing stored.
    marker = ctx.sql1("select body from messages where thread_id = %s limit 1", (t,))["body"]
    try:
        ctx.sql("select message_staff_post(1, %s, %s, %s::jsonb, 'r')",
                (ctx.paris, t, json.dumps({"body": marker})))
        raise AssertionError("a sealed text without its hash was accepted")
    except psycopg2.Error as e:
        assert "sealed message carries its keyed hash" in str(e), e
    assert ctx.sql1("select count(*) as n from messages")["n"] == n


def test_thread_bad_inputs_and_access(ctx):
    t = _thread(ctx, 702)
    other = _thread(ctx, 703, ctx.lyon)
    before = ctx.sql1("select count(*) as n from messages")["n"]
    staff = _staff(ctx)
    base = "/api/stores/%d/threads/%d/messages" % (ctx.paris, t)
    for body, status, field in (({"body": ""}, 422, "body"), ({"body": "   "}, 422, "body"),
                                ({"body": 42}, 422, "body"), ({"text": "hi"}, 422, "body"),
                                ({"body": "x" * 4001}, 422, "body")):
        r = staff.post(base, body)
        assert r.status == status and r.error["field"] == field, (body, r)
    r = staff.post(base, raw=b"", headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.error["field"] == "body", r
    # a Lyon thread through the Paris path: not found
    r = staff.post("/api/stores/%d/threads/%d/messages" % (ctx.paris, other), {"body": "hi"})
    assert r.status == 404 and r.error["field"] == "thread", r
    r = staff.get("/api/stores/%d/threads/%d" % (ctx.paris, other))
    assert r.status == 404, r
    r = staff.get("/api/stores/%d/threads/x1" % ctx.paris)
    assert r.status == 404 and r.error["field"] == "thread", r
    # the Paris specialist in Lyon: forbidden; nobody signed in: 401
    assert staff.get("/api/stores/%d/threads" % ctx.lyon).status == 403
    assert staff.post("/api/stores/%d/threads/%d/messages" % (ctx.lyon, other),
                      {"body": "hi"}).status == 403
    anon = Client(ctx.server.port)
    assert anon.get("/api/stores/%d/threads" % ctx.paris).status == 401
    assert anon.post(base, {"body": "hi"}).status == 401
    r = staff.get("/api/stores/%d/threads?unread=maybe" % ctx.paris)
    assert r.status == 400 and r.error["field"] == "unread", r
    # customers: unknown, malformed and expired links
    for tok in ("A" * 43, "short", "bad%21chars" + "a" * 30):
        r = anon.get("/api/messages/" + tok)
        assert r.status == 404 and r.error["field"] == "token", (tok, r)
        r = anon.post("/api/messages/" + tok, {"body": "hello"})
        assert r.status == 404, (tok, r)
    staff.post(base, {"body": "hello"})
    token = _link_token(ctx, t)
    r = anon.post("/api/messages/" + token, {"body": ""})
    assert r.status == 422 and r.error["field"] == "body", r
    ctx.sql("update message_links set expires_at = now() - interval '1 second' "
            "where thread_id = %s", (t,))
    r = anon.get("/api/messages/" + token)
    assert r.status == 404, r
    assert ctx.sql1("select count(*) as n from messages")["n"] == before + 1


def _offer(ctx, ref_type, ref_id):
    sid = ctx.sql1("select survey_offer(%s, %s, %s, 'email', 'val@example.test', 'en', "
                   "'{\"name\":\"Val\"}') as id", (ctx.paris, ref_type, ref_id))["id"]
    mid = ctx.sql1("select id from outbox where kind = 'survey' and ref_type = %s "
                   "and ref_id = %s", (ref_type, ref_id))["id"]
    return sid, re.search(r"survey/#([A-Za-z0-9_-]+)", ctx.message_body(mid)).group(1)


def test_survey_link_works_once_and_for_one_visit(ctx):
    a, tok_a = _offer(ctx, "visit", 801)
    b, tok_b = _offer(ctx, "visit", 802)
    # offered once per visit
    assert ctx.sql1("select survey_offer(%s, 'visit', 801, 'email', 'v@example.test', 'en') "
                    "as id", (ctx.paris,))["id"] is None
    c = Client(ctx.server.port)
    r = c.get("/api/surveys/" + tok_a)
    assert r.status == 200 and r.json["answered"] is False and r.json["ref_type"] == "visit", r
    r = c.post("/api/surveys/" + tok_a, {"satisfaction": 5, "effort": 2, "recommendation": 10,
                                         "comment": "Quick and kind."})
    assert r.status == 200, r
    r = c.post("/api/surveys/" + tok_a, {"satisfaction": 1, "effort": 7, "recommendation": 0})
    assert r.status == 409 and r.error["code"] == "already_answered", r
    rows = {x["id"]: x for x in ctx.sql("select * from surveys where id in (%s, %s)", (a, b))}
    # The comment rests sealed, as a message text does (021).
    assert rows[a]["satisfaction"] == 5 and ctx.is_pd(rows[a]["comment"]), rows[a]
    assert ctx.opened(rows[a]["comment"]) == "Quick and kind.", rows[a]
    assert rows[b]["answered_at"] is None, "answering one visit touched another"
    assert c.get("/api/surveys/" + tok_a).json["answered"] is True
    # the other visit's link is still good, once
    r = c.post("/api/surveys/" + tok_b, {"satisfaction": 2, "effort": 6, "recommendation": 3})
    assert r.status == 200, r


def test_survey_bad_inputs_change_nothing(ctx):
    sid, tok = _offer(ctx, "repair", 901)
    c = Client(ctx.server.port)
    good = {"satisfaction": 4, "effort": 3, "recommendation": 8}
    for change, status, field in (({"satisfaction": 0}, 422, "satisfaction"),
                                  ({"satisfaction": 6}, 422, "satisfaction"),
                                  ({"satisfaction": "5"}, 422, "satisfaction"),
                                  ({"effort": 8}, 422, "effort"),
                                  ({"effort": None}, 422, "effort"),
                                  ({"recommendation": 11}, 422, "recommendation"),
                                  ({"recommendation": -1}, 422, "recommendation"),
                                  ({"comment": 5}, 422, "comment"),
                                  ({"comment": "x" * 2001}, 422, "comment")):
        body = dict(good)
        body.update(change)
        r = c.post("/api/surveys/" + tok, body)
        assert r.status == status and r.error["field"] == field, (change, r)
    # an answer names at least the score; the rest cannot come before it (036)
    for body in ({}, {"effort": 3}, {"comment": "hello"}):
        r = c.post("/api/surveys/" + tok, body)
        assert r.status == 422 and r.error["field"] == "satisfaction", (body, r)
    r = c.post("/api/surveys/" + tok, raw=b"", headers={"Content-Type": "application/json"})
    assert r.status == 400, r
    assert ctx.sql1("select answered_at from surveys where id = %s", (sid,))["answered_at"] is None
    for bad in ("Z" * 43, "x", "no.dots.allowed.here.at.all.12345"):
        r = c.post("/api/surveys/" + bad, good)
        assert r.status == 404 and r.error["field"] == "token", (bad, r)
    ctx.sql("update surveys set expires_at = now() - interval '1 second' where id = %s", (sid,))
    assert c.get("/api/surveys/" + tok).status == 404
    assert c.post("/api/surveys/" + tok, good).status == 404
    assert ctx.sql1("select answered_at from surveys where id = %s", (sid,))["answered_at"] is None


def test_satisfaction_report(ctx):
    # Lyon gets a week of known answers: 4 responses.
    ctx.sql("""insert into surveys (store_id, ref_type, ref_id, token_hash, expires_at,
                   answered_at, satisfaction, effort, recommendation)
               select %s, 'visit', 1000 + i, md5(i::text) || md5((i + 1)::text), now(), now(),
                      s, e, rec
               from (values (1, 5, 2, 10), (2, 4, 3, 9), (3, 2, 5, 6), (4, 5, 2, 8))
                    v(i, s, e, rec)""", (ctx.lyon,))
    m = Client(ctx.server.port)
    m.login("lyon@carnet.test", "carnet-demo")
    r = m.get("/api/stores/%d/reports/satisfaction?weeks=4" % ctx.lyon)
    assert r.status == 200, r
    week = r.json["weeks"][0]
    assert week["responses"] == 4, week
    assert week["csat"] == 75.0, week            # 3 of 4 gave 4-5
    assert week["ces"] == 3.0, week              # (2+3+5+2)/4
    assert week["nps"] == 25.0, week             # 2 promoters - 1 detractor, of 4
    assert m.get("/api/stores/%d/reports/satisfaction?weeks=0" % ctx.lyon).status == 400
    r = m.get("/api/stores/%d/reports/satisfaction?weeks=abc" % ctx.lyon)
    assert r.status == 400 and r.error["field"] == "weeks", r
    assert m.get("/api/stores/%d/reports/satisfaction" % ctx.paris).status == 403
    spec = _staff(ctx)
    assert spec.get("/api/stores/%d/reports/satisfaction" % ctx.paris).status == 403
    assert Client(ctx.server.port).get(
        "/api/stores/%d/reports/satisfaction" % ctx.paris).status == 401


def test_customer_pages_are_served(ctx):
    c = Client(ctx.server.port)
    for page, api in (("/survey.html", "/api/surveys/"), ("/messages.html", "/api/messages/")):
        r = c.get(page)
        assert r.status == 200 and r.header("Content-Type").startswith("text/html"), r
        # the link's page forwards to the web app's page keeping the fragment (the token, never
        # sent to a server); that page's module reads it and calls the API (browser-tested in
        # test_e2e)
        assert b"location.hash" in r.raw, page
        name = page[1:-len(".html")]
        assert ("/%s/" % name).encode() in r.raw, page
        assert c.get("/%s/" % name).status == 200, page
        module = c.get("/js/%s.js" % name)
        assert module.status == 200 and api.encode() in module.raw, page
