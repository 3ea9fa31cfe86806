"""The repair ticket (issue 13, points 4 and 6): the customer block and the moves allowed now
(transition table plus approval state) in GET /api/repairs/{id}, the same rule enforced by the
transition; live updates of the staff ticket and of the customer's status page over SSE
(resuming with Last-Event-ID); messages in the customer's language with the screens' state
names, sent only for the moves the store chose (repair-settings, managers only); the delay
message with the old and the new promise; links built on the address carnetd serves when
--public-url is not set."""
import datetime
import json
import re

from harness import Client
from test_sse import Stream

S = {}
CHECKLIST = {"checklist": [{"item": "screen", "ok": True}]}


def estimate_body(cents):
    """An estimate of one labour line without VAT: `cents` in all (test_estimate covers lines)."""
    return {"diagnosis": "Found the fault.",
            "lines": [{"kind": "labour", "description": "Work", "quantity": 1,
                       "unit_price": cents, "vat_rate": 0}]}


def setup(ctx):
    ctx.seed_demo()
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    # No --public-url: the links in messages must use the address this carnetd serves.
    ctx._server = ctx.start_carnetd(env={"CARNET_PUBLIC_URL": ""})


def open_repair(ctx, c, serial, owner=True, **kw):
    body = {"serial": serial, "problem": "battery drains", "intake": CHECKLIST}
    if owner:
        body["owner"] = {"name": "Nora Client", "email": "nora@example.com"}
    body.update(kw)
    r = c.post("/api/stores/%d/repairs" % S["paris"], body)
    assert r.status == 201, r
    return r.json


def move(c, rid, to, status=200):
    r = c.post("/api/repairs/%d/transition" % rid, {"to": to})
    assert r.status == status, r
    return r


def outbox(ctx, rid, kind=None):
    q = "select * from outbox where ref_type = 'repair' and ref_id = %s"
    args = [rid]
    if kind:
        q += " and kind = %s"
        args.append(kind)
    return ctx.sql(q + " order by id", args)


def repair_row(ctx, rid):
    return ctx.sql1("select state, estimate_state, updated_at, promised_at from repair_orders "
                    "where id = %s", (rid,))


def test_ticket_has_the_customer_and_only_the_moves_allowed_now(ctx):
    tech = ctx.staff("tech")
    rep = open_repair(ctx, tech, "TICKET0001")
    rid = rep["id"]
    j = tech.get("/api/repairs/%d" % rid).json
    assert j["customer"] == {"name": "Nora Client", "email": "nora@example.com", "phone": None,
                             "channel": "email"}, j["customer"]
    assert j["lang"] == "en", j
    assert sorted(j["allowed_transitions"]) == ["cancelled", "diagnosing"], j
    j = move(tech, rid, "diagnosing").json
    # No estimate yet: approval cannot be asked; work may start (no estimate to approve).
    assert "awaiting_approval" not in j["allowed_transitions"], j
    assert "repairing" in j["allowed_transitions"], j
    assert "awaiting_approval" in j["allowed_moves"], j  # the table alone still lists it
    r = move(tech, rid, "awaiting_approval", 409)
    assert r.json["error"]["code"] == "no_estimate", r
    est = tech.put("/api/repairs/%d/estimate" % rid, estimate_body(8900))
    assert est.status == 200, est
    j = tech.get("/api/repairs/%d" % rid).json
    # A pending estimate: no work before the customer approves.
    assert sorted(j["allowed_transitions"]) == ["awaiting_approval", "cancelled",
                                                "returned_unrepaired"], j
    before = repair_row(ctx, rid)
    for to in ("repairing", "awaiting_parts"):
        r = move(tech, rid, to, 409)
        e = r.json["error"]
        assert e["code"] == "estimate_not_approved" and e["field"] == "estimate", r
        assert sorted(e["allowed"]) == sorted(j["allowed_transitions"]), e
    assert repair_row(ctx, rid) == before
    j = move(tech, rid, "awaiting_approval").json
    assert sorted(j["allowed_transitions"]) == ["cancelled", "returned_unrepaired"], j
    # Declined: still no work; approved: work may start.
    tok = est.json["approval_token"]
    assert Client(ctx.server.port).post("/api/estimates/%s/decline" % tok,
                                        {"reason": "Too dear"}).status == 200
    j = tech.get("/api/repairs/%d" % rid).json
    assert "repairing" not in j["allowed_transitions"], j
    move(tech, rid, "repairing", 409)
    est = tech.put("/api/repairs/%d/estimate" % rid, estimate_body(5900))
    assert est.status == 200, est
    assert Client(ctx.server.port).post(
        "/api/estimates/%s/approve" % est.json["approval_token"]).status == 200
    j = tech.get("/api/repairs/%d" % rid).json
    assert sorted(j["allowed_transitions"]) == ["awaiting_parts", "cancelled", "repairing",
                                                "returned_unrepaired"], j
    # Every offered move is accepted.
    move(tech, rid, "repairing")


def test_ticket_without_owner_has_no_customer_block(ctx):
    tech = ctx.staff("tech")
    rep = open_repair(ctx, tech, "TICKET0002", owner=False)
    assert rep["customer"] is None, rep
    assert not outbox(ctx, rep["id"])


def test_bad_moves_and_who_may_move(ctx):
    tech = ctx.staff("tech")
    rid = open_repair(ctx, tech, "TICKET0003")["id"]
    before = repair_row(ctx, rid)
    r = move(tech, rid, "flying", 422)
    assert r.json["error"]["code"] == "invalid" and r.json["error"]["field"] == "to", r
    r = move(tech, rid, "ready", 409)
    assert r.json["error"]["code"] == "bad_transition", r
    assert tech.post("/api/repairs/999999/transition", {"to": "diagnosing"}).status == 404
    # A specialist does not move repairs; Lyon's manager cannot touch a Paris repair; nor can
    # someone signed out.
    r = ctx.staff("specialist").post("/api/repairs/%d/transition" % rid, {"to": "diagnosing"})
    assert r.status == 403, r
    r = ctx.staff("lyon").post("/api/repairs/%d/transition" % rid, {"to": "diagnosing"})
    assert r.status in (403, 404), r
    r = ctx.staff("lyon").get("/api/repairs/%d" % rid)
    assert r.status in (403, 404) and b"Nora" not in r.raw, r
    assert Client(ctx.server.port).post("/api/repairs/%d/transition" % rid,
                                        {"to": "diagnosing"}).status == 401
    assert repair_row(ctx, rid) == before


def test_staff_ticket_updates_live_and_resumes(ctx):
    tech = ctx.staff("tech")
    rid = open_repair(ctx, tech, "TICKET0004")["id"]
    move(tech, rid, "diagnosing")
    path = "/api/repairs/%d/events" % rid
    st = Stream(ctx.server.port, path, cookie=tech.cookie)
    assert st.status == 200, st.body
    est = tech.put("/api/repairs/%d/estimate" % rid, estimate_body(4200))
    ev = st.next()
    assert ev["event"] == "repair" and ev["data"]["estimate_state"] == "pending", ev
    # The customer approves from their phone: the ticket hears of it without a reload.
    assert Client(ctx.server.port).post(
        "/api/estimates/%s/approve" % est.json["approval_token"]).status == 200
    ev2 = st.next()
    assert ev2["data"]["estimate_state"] == "approved" and int(ev2["id"]) > int(ev["id"]), ev2
    st.close()
    # Changes while away are replayed after Last-Event-ID, then the stream is live again.
    move(tech, rid, "repairing")
    assert tech.post("/api/repairs/%d/notes" % rid, {"text": "battery swapped"}).status == 201
    st2 = Stream(ctx.server.port, path, headers={"Last-Event-ID": ev2["id"]}, cookie=tech.cookie)
    got = [st2.next(), st2.next()]
    assert got[0]["data"]["state"] == "repairing", got
    assert int(got[1]["id"]) > int(got[0]["id"]) > int(ev2["id"]), got
    move(tech, rid, "testing")
    assert st2.next()["data"]["state"] == "testing"
    st2.expect_none()
    st2.close()


def test_who_may_follow_a_ticket(ctx):
    tech = ctx.staff("tech")
    rid = open_repair(ctx, tech, "TICKET0005")["id"]
    path = "/api/repairs/%d/events" % rid
    assert Stream(ctx.server.port, path).status == 401
    lyon = ctx.staff("lyon")
    st = Stream(ctx.server.port, path, cookie=lyon.cookie)
    assert st.status == 403, st.body
    st = Stream(ctx.server.port, "/api/repairs/999999/events", cookie=tech.cookie)
    assert st.status == 404, st.body
    st = Stream(ctx.server.port, path, headers={"Last-Event-ID": "x"}, cookie=tech.cookie)
    assert st.status == 400 and json.loads(st.body)["error"]["field"] == "last_event_id"
    # A specialist at the front desk may watch it.
    spec = ctx.staff("specialist")
    st = Stream(ctx.server.port, path, cookie=spec.cookie)
    assert st.status == 200
    st.close()


def test_customer_status_page_updates_live(ctx):
    tech = ctx.staff("tech")
    rep = open_repair(ctx, tech, "TICKET0006")
    path = "/api/repair-status/%s/events" % rep["status_token"]
    st = Stream(ctx.server.port, path)
    assert st.status == 200, st.body
    move(tech, rep["id"], "diagnosing")
    ev = st.next()
    assert ev["event"] == "repair" and set(ev["data"]) == {"state", "estimate_state",
                                                          "updated_at"}, ev
    assert ev["data"]["state"] == "diagnosing", ev
    # Another repair's changes do not reach it.
    other = open_repair(ctx, tech, "TICKET0007")
    move(tech, other["id"], "diagnosing")
    st.expect_none()
    st.close()
    assert Stream(ctx.server.port, "/api/repair-status/%s/events" % ("A" * 43)).status == 404
    assert Stream(ctx.server.port, "/api/repair-status/short/events").status == 404


def test_messages_follow_the_store_choice_in_the_customer_language(ctx):
    tech = ctx.staff("tech")
    rep = open_repair(ctx, tech, "TICKET0008", lang="fr")
    rid = rep["id"]
    assert rep["lang"] == "fr"
    first = outbox(ctx, rid)
    assert [m["kind"] for m in first] == ["repair_opened"] and first[0]["locale"] == "fr", first
    body = ctx.delivered(first[0]["id"])["body"]
    assert "Nous avons bien reçu votre appareil" in body, body
    # The link uses the address this carnetd serves (no --public-url given).
    assert re.search(r"http://127\.0\.0\.1:%d/repair/#%s" % (ctx.server.port, rep["status_token"]),
                     body), body
    move(tech, rid, "diagnosing")
    tech.put("/api/repairs/%d/estimate" % rid, estimate_body(1000))
    move(tech, rid, "awaiting_approval")
    st = outbox(ctx, rid, "repair_status")
    assert len(st) == 1 and st[0]["locale"] == "fr", st
    body = ctx.message_body(st[0]["id"])
    assert "En attente d’accord" in body and "awaiting" not in body, body
    # Diagnosing sent nothing (not chosen by default).
    assert [m["kind"] for m in outbox(ctx, rid)] == ["repair_opened", "estimate_ready",
                                                    "repair_status"]
    r = tech.post("/api/stores/%d/repairs" % S["paris"],
                  {"serial": "TICKET0009", "problem": "x", "intake": CHECKLIST, "lang": "de"})
    assert r.status == 422 and r.json["error"]["field"] == "lang", r


def test_manager_chooses_the_moves_that_send_a_message(ctx):
    mgr = ctx.staff("manager")
    url = "/api/stores/%d/repair-settings" % S["paris"]
    r = mgr.get(url)
    assert r.status == 200, r
    assert r.json["notify"] == ["awaiting_approval", "ready", "delayed"] and r.json["lang"] == "en"
    # Bad inputs change nothing.
    for body, field, code in (({"notify": ["flying"]}, "notify[0]", "invalid"),
                              ({"notify": "ready"}, "notify", "invalid"),
                              ({"notify": ["ready", 3]}, "notify[1]", "invalid"),
                              ({"notify": ["collected"]}, "notify[0]", "invalid"),
                              ({"lang": "de"}, "lang", "invalid"),
                              ({"colour": "red"}, "colour", "unknown_field")):
        r = mgr.put(url, body)
        assert r.status == 422 and r.json["error"]["field"] == field \
            and r.json["error"]["code"] == code, (body, r)
    assert mgr.get(url).json["notify"] == ["awaiting_approval", "ready", "delayed"]
    # Who may not: a technician or specialist of the store, Lyon's manager, anyone signed out.
    for who in ("tech", "specialist", "lyon"):
        c = ctx.staff(who)
        assert c.get(url).status == 403, who
        assert c.put(url, {"notify": []}).status == 403, who
    assert Client(ctx.server.port).get(url).status == 401
    assert mgr.get("/api/stores/999999/repair-settings").status in (403, 404)

    r = mgr.put(url, {"notify": ["diagnosing", "ready"], "lang": "fr"})
    assert r.status == 200 and r.json["notify"] == ["diagnosing", "ready"], r
    assert r.json["lang"] == "fr"
    try:
        tech = ctx.staff("tech")
        rep = open_repair(ctx, tech, "TICKET0010")  # no language given: the store's
        rid = rep["id"]
        assert rep["lang"] == "fr"
        move(tech, rid, "diagnosing")
        move(tech, rid, "repairing")
        move(tech, rid, "testing")
        move(tech, rid, "ready")
        kinds = [(m["kind"], m["locale"]) for m in outbox(ctx, rid)]
        assert kinds == [("repair_opened", "fr"), ("repair_status", "fr"),
                         ("ready_for_pickup", "fr")], kinds
        body = ctx.message_body(outbox(ctx, rid, "repair_status")[0]["id"])
        assert "Diagnostic en cours" in body, body
    finally:
        assert mgr.put(url, {"notify": ["awaiting_approval", "ready", "delayed"],
                             "lang": "en"}).status == 200


def test_delay_message_states_the_old_and_the_new_promise(ctx):
    tech = ctx.staff("tech")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    first = now + datetime.timedelta(days=2)
    rep = open_repair(ctx, tech, "TICKET0011", promised_at=first.isoformat())
    rid = rep["id"]
    # Earlier is no delay: no message.
    earlier = now + datetime.timedelta(days=1)
    assert tech.put("/api/repairs/%d/promise" % rid,
                    {"promised_at": earlier.isoformat()}).status == 200
    assert not outbox(ctx, rid, "repair_delayed")
    later = now + datetime.timedelta(days=4, hours=3)
    r = tech.put("/api/repairs/%d/promise" % rid, {"promised_at": later.isoformat()})
    assert r.status == 200, r
    d = outbox(ctx, rid, "repair_delayed")
    assert len(d) == 1, d
    body = ctx.message_body(d[0]["id"])
    m = re.search(r"will not be ready by (.+?) as we promised\.\nWe now promise it for (.+?)\.",
                  body)
    assert m, body
    tz = ctx.sql1("select timezone from stores where id = %s", (S["paris"],))["timezone"]
    fmt = lambda t: ctx.sql1("select outbox_format_time(%s, %s, 'en') as s", (t, tz))["s"]
    assert m.group(1) == fmt(earlier) and m.group(2) == fmt(later), (m.groups(), body)
    assert m.group(1) != m.group(2)
    # The promise moved later again: a second message, again with both dates.
    latest = later + datetime.timedelta(days=1)
    tech.put("/api/repairs/%d/promise" % rid, {"promised_at": latest.isoformat()})
    d = outbox(ctx, rid, "repair_delayed")
    assert len(d) == 2 and fmt(later) in ctx.message_body(d[1]["id"]) \
        and fmt(latest) in ctx.message_body(d[1]["id"]), d


def test_at_risk_warning_never_states_the_same_time_twice(ctx):
    """The early warning's new estimate is at least a quarter of an hour past the promise it
    breaks, so the two times never read the same."""
    ctx.server
    ctx.sql("select promise_track(%s, 'repair', 880001, now() + interval '1 day' - interval "
            "'10 seconds', 'email', 'kim@example.test', 'en', "
            "'{\"name\":\"Kim\",\"code\":\"R-88\"}', 'testing')", (S["paris"],))
    ctx.sql("select promise_update('repair', 880001, 'testing', now() + interval '1 day')")
    from harness import wait_for
    w = wait_for(lambda: ctx.sql("select * from outbox where ref_type = 'repair' and ref_id = "
                                 "880001 and kind = 'promise_at_risk'"), "the warning")
    body = ctx.message_body(w[0]["id"])
    m = re.search(r"ready by (.+?) as promised\.\nOur new estimate is (.+?)\.", body)
    assert m and m.group(1) != m.group(2), body
