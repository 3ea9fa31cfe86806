"""Kept under observation overnight: a repair put under observation with a call-back time, the one
message its customer gets (store's time zone, their language), the night's diagnostics as a
timeline on the ticket, the store's call-back list with overdue flags, and marking a call-back
made; with bad inputs and who may not."""
from harness import Client

S = {}


def setup(ctx):
    ctx.seed_demo()
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]


def count(ctx, table, where="true", args=None):
    return ctx.sql1("select count(*) as n from %s where %s" % (table, where), args)["n"]


def tomorrow_at(ctx, hour=10, days=1):
    """`hour`:00 of the store's local day `days` ahead, as ISO 8601 with an offset."""
    return ctx.sql1("select to_char(((((now() at time zone timezone)::date + %s)"
                    " + make_time(%s, 0, 0)) at time zone timezone) at time zone 'UTC',"
                    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') as t from stores where id = %s",
                    (days, hour, S["paris"]))["t"]


def open_repair(ctx, c, serial, owner=None, diagnosing=True):
    body = {"serial": serial, "problem": "restarts at night",
            "intake": {"checklist": [{"item": "screen", "ok": True}]}}
    if owner:
        body["owner"] = owner
    r = c.post("/api/stores/%d/repairs" % S["paris"], body)
    assert r.status == 201, r
    if diagnosing:
        assert c.post("/api/repairs/%d/transition" % r.json["id"], {"to": "diagnosing"}).status == 200
    return r.json


def diag(ctx, c, serial, passed=True):
    r = c.post("/api/devices/%s/diagnostics" % serial, {
        "store_id": S["paris"], "summary": "night run",
        "results": [{"test": "battery", "passed": True,
                     "values": [{"name": "battery_health", "value": 81, "unit": "%"}]},
                    {"test": "logic_board", "passed": passed}]})
    assert r.status == 201, r
    return r.json["session_id"]


def imported(ctx, c, serial):
    rep = {"format": "carnet-diag/1", "tool": {"name": "DiagKit", "version": "4.2"},
           "device": {"serial": serial},
           "tests": [{"id": "thermal", "status": "FAIL", "message": "fan slow"}]}
    r = c.post("/api/devices/%s/diagnostics/import" % serial, {"store_id": S["paris"], "report": rep})
    assert r.status == 201, r
    return r.json["session_id"]


def callback_messages(ctx, rid):
    return ctx.sql("select id, locale from outbox where kind = 'repair_callback' and ref_type = 'repair'"
                   " and ref_id = %s order by id", (rid,))


def test_observation_started_customer_told_once(ctx):
    tech = ctx.staff("tech")
    rep = open_repair(ctx, tech, "OBS0DEV001", owner={"name": "Inès Obs", "email": "ines.obs@example.com"})
    rid = rep["id"]
    at = tomorrow_at(ctx)
    r = tech.post("/api/repairs/%d/observation" % rid, {"callback_at": at, "note": "watch reboots"})
    assert r.status == 200, r
    j = r.json
    assert j["under_observation"] is True and j["callback_pending"] is True, j
    assert j["timezone"] == "Europe/Paris" and j["number"] == rep["number"], j
    o = j["observations"][0]
    assert o["note"] == "watch reboots" and o["started_by"]["name"] == "Théo Technicien", o
    assert o["callback"]["state"] == "pending" and o["callback"]["overdue"] is False, o
    assert o["sessions"] == [] and o["ended_at"] is None, o
    assert tech.get("/api/repairs/%d" % rid).json["kept_overnight"] is True
    msgs = callback_messages(ctx, rid)
    assert len(msgs) == 1 and msgs[0]["locale"] == "en", msgs
    body = ctx.message_body(msgs[0]["id"])
    local = ctx.sql1("select to_char((%s::timestamptz) at time zone 'Europe/Paris', 'HH24:MI') as t",
                     (at,))["t"]
    assert local == "10:00" and "at 10:00" in body and "Inès Obs" in body, body
    assert rep["number"] in body, body
    assert count(ctx, "record_entries", "kind = 'repair_observation' and ref_id = %s", (rid,)) == 1
    assert count(ctx, "audit_log", "action = 'observe' and object_id = %s", (str(rid),)) == 1


def test_message_in_the_customers_language(ctx):
    tech = ctx.staff("tech")
    rid = open_repair(ctx, tech, "OBS0DEV002", owner={"name": "Zoé", "phone": "+33611223344"})["id"]
    ctx.sql("update message_threads set locale = 'fr' where ref_type = 'repair' and ref_id = %s", (rid,))
    r = tech.post("/api/repairs/%d/observation" % rid, {"callback_at": tomorrow_at(ctx, 9)})
    assert r.status == 200, r
    msgs = callback_messages(ctx, rid)
    assert len(msgs) == 1 and msgs[0]["locale"] == "fr", msgs
    body = ctx.message_body(msgs[0]["id"])
    assert "à 09h00" in body and "Bonjour Zoé" in body, body


def test_diagnostics_of_the_night_make_the_timeline(ctx):
    tech = ctx.staff("tech")
    rid = open_repair(ctx, tech, "OBS0DEV003", owner={"name": "Ana", "email": "ana@example.com"})["id"]
    before = diag(ctx, tech, "OBS0DEV003")
    assert tech.post("/api/repairs/%d/observation" % rid, {"callback_at": tomorrow_at(ctx)}).status == 200
    s1 = diag(ctx, tech, "OBS0DEV003", passed=False)
    s2 = imported(ctx, tech, "OBS0DEV003")
    r = ctx.staff("specialist").get("/api/repairs/%d/observation" % rid)
    assert r.status == 200, r
    sessions = r.json["observations"][0]["sessions"]
    assert [s["session_id"] for s in sessions] == [s1, s2], (before, sessions)
    assert sessions[0]["source"] == "manual" and sessions[0]["failed"] == 1, sessions
    assert sessions[0]["results"][1] == {"test": "logic_board", "passed": False}, sessions
    assert sessions[1]["source"] == "import" and sessions[1]["tool"] == "DiagKit 4.2", sessions
    # A state move ends the observation; what is logged afterwards is not the night's; the
    # call-back is still due.
    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "repairing"}).status == 200
    diag(ctx, tech, "OBS0DEV003")
    j = tech.get("/api/repairs/%d/observation" % rid).json
    assert j["under_observation"] is False and j["callback_pending"] is True, j
    o = j["observations"][0]
    assert o["end_reason"] == "moved" and len(o["sessions"]) == 2, o
    # Ending by hand.
    rid2 = open_repair(ctx, tech, "OBS0DEV004")["id"]
    assert tech.post("/api/repairs/%d/observation" % rid2, {"callback_at": tomorrow_at(ctx)}).status == 200
    r = tech.post("/api/repairs/%d/observation/end" % rid2)
    assert r.status == 200 and r.json["observations"][0]["end_reason"] == "ended", r
    diag(ctx, tech, "OBS0DEV004")
    assert tech.get("/api/repairs/%d/observation" % rid2).json["observations"][0]["sessions"] == []
    r = tech.post("/api/repairs/%d/observation/end" % rid2)
    assert r.status == 409 and r.error["code"] == "not_observing", r


def _find(lst, rid):
    return [c for c in lst["callbacks"] if c["repair_id"] == rid]


def test_callback_list_and_marking_done(ctx):
    tech, spec = ctx.staff("tech"), ctx.staff("specialist")
    rep = open_repair(ctx, tech, "OBS0DEV005", owner={"name": "Paul Rappel", "email": "paul@example.com",
                                                      "phone": "+33600000005"})
    rid = rep["id"]
    assert tech.put("/api/devices/OBS0DEV005", {"model": "iPhone 13"}).status == 200
    assert tech.post("/api/repairs/%d/observation" % rid, {"callback_at": tomorrow_at(ctx, 10)}).status == 200
    diag(ctx, tech, "OBS0DEV005", passed=False)
    imported(ctx, tech, "OBS0DEV005")
    r = spec.get("/api/stores/%d/callbacks" % S["paris"])
    assert r.status == 200 and r.json["timezone"] == "Europe/Paris", r
    [c] = _find(r.json, rid)
    assert c["customer"] == {"name": "Paul Rappel", "email": "paul@example.com",
                             "phone": "+33600000005"}, c
    assert c["number"] == rep["number"] and c["device"] == {"serial": "OBS0DEV005", "model": "iPhone 13"}, c
    assert c["overdue"] is False and c["under_observation"] is True, c
    res = c["results"]
    assert res["sessions"] == 2 and res["failed"] == 2 and res["passed"] == 1, res
    assert sorted(res["failed_tests"]) == ["logic_board", "thermal"], res
    # The list is ordered by time; a call-back past its time is overdue (read time).
    ctx.sql("update repair_observations set callback_at = now() - interval '5 minutes'"
            " where repair_id = %s", (rid,))
    lst = spec.get("/api/stores/%d/callbacks" % S["paris"]).json
    assert _find(lst, rid)[0]["overdue"] is True, lst
    ats = [c["callback_at"] for c in lst["callbacks"]]
    assert ats == sorted(ats), ats
    # Marking it made: any staff of the store; it leaves the list and the tablets hear of it.
    events = count(ctx, "events", "type = 'callback_done' and store_id = %s", (S["paris"],))
    r = spec.post("/api/repairs/%d/callback/done" % rid, {"outcome": "reached", "note": "will come at 5"})
    assert r.status == 200, r
    cb = r.json["observations"][0]["callback"]
    assert cb["state"] == "done" and cb["outcome"] == "reached" and cb["overdue"] is False, cb
    assert cb["done_by"]["name"] and cb["note"] == "will come at 5", cb
    assert _find(spec.get("/api/stores/%d/callbacks" % S["paris"]).json, rid) == []
    assert count(ctx, "events", "type = 'callback_done' and store_id = %s", (S["paris"],)) == events + 1
    ev = ctx.sql1("select payload from events where type = 'callback_done' order by id desc limit 1")
    # Only under "staff", which the public board's stream drops (sse.c).
    assert ev["payload"] == {"staff": {"repair_id": rid, "outcome": "reached"}}, ev
    r = spec.post("/api/repairs/%d/callback/done" % rid, {"outcome": "reached"})
    assert r.status == 409 and r.error["code"] == "no_callback" and r.error["field"] == "callback", r


def test_closing_the_repair_cancels_its_callback(ctx):
    tech = ctx.staff("tech")
    rid = open_repair(ctx, tech, "OBS0DEV006", owner={"name": "Lea", "email": "lea@example.com"})["id"]
    assert tech.post("/api/repairs/%d/observation" % rid, {"callback_at": tomorrow_at(ctx)}).status == 200
    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "cancelled"}).status == 200
    j = tech.get("/api/repairs/%d/observation" % rid).json
    assert j["observations"][0]["callback"]["state"] == "cancelled" and not j["callback_pending"], j
    assert _find(tech.get("/api/stores/%d/callbacks" % S["paris"]).json, rid) == []
    r = tech.post("/api/repairs/%d/callback/done" % rid, {"outcome": "reached"})
    assert r.status == 409 and r.error["code"] == "no_callback", r
    r = tech.post("/api/repairs/%d/observation" % rid, {"callback_at": tomorrow_at(ctx)})
    assert r.status == 409 and r.error["code"] == "repair_closed", r


def snapshot(ctx):
    return tuple(count(ctx, t) for t in ("repair_observations", "outbox", "record_entries", "events"))


def test_observation_refused(ctx):
    tech, spec, lyon = ctx.staff("tech"), ctx.staff("specialist"), ctx.staff("lyon")
    rid = open_repair(ctx, tech, "OBS0DEV007", owner={"name": "Max", "email": "max@example.com"})["id"]
    good = {"callback_at": tomorrow_at(ctx)}
    before = snapshot(ctx)
    cases = (
        ({}, 422, "required", "callback_at"),
        ({"callback_at": None}, 422, "required", "callback_at"),
        ({"callback_at": "2001-01-01T10:00:00Z"}, 422, "invalid", "callback_at"),
        ({"callback_at": "tomorrow at 10"}, 422, "invalid", "callback_at"),
        ({"callback_at": "2099-01-01T10:00:00"}, 422, "invalid", "callback_at"),
        ({"callback_at": 1700000000}, 422, "invalid", "callback_at"),
        ({"callback_at": tomorrow_at(ctx, 10, 8)}, 422, "invalid", "callback_at"),
        (dict(good, note=12), 422, "invalid", "note"),
        (dict(good, note="x" * 2001), 422, "invalid", "note"),
    )
    for body, status, code, field in cases:
        r = tech.post("/api/repairs/%d/observation" % rid, body)
        assert (r.status, r.error["code"], r.error["field"]) == (status, code, field), (body, r)
    assert tech.post("/api/repairs/%d/observation" % rid).status == 400
    assert spec.post("/api/repairs/%d/observation" % rid, good).status == 403
    r = lyon.post("/api/repairs/%d/observation" % rid, good)
    assert r.status == 403 and r.error["code"] == "forbidden", r
    assert Client(ctx.server.port).post("/api/repairs/%d/observation" % rid, good).status == 401
    assert tech.post("/api/repairs/99999999/observation", good).status == 404
    assert tech.post("/api/repairs/abc/observation", good).status == 404
    # Reading and marking done: other store's staff and anonymous callers may not.
    assert lyon.get("/api/repairs/%d/observation" % rid).status == 403
    assert Client(ctx.server.port).get("/api/repairs/%d/observation" % rid).status == 401
    assert lyon.get("/api/stores/%d/callbacks" % S["paris"]).status == 403
    assert Client(ctx.server.port).get("/api/stores/%d/callbacks" % S["paris"]).status == 401
    assert tech.get("/api/stores/%d/callbacks" % S["lyon"]).status == 403
    assert ctx.staff("admin").get("/api/stores/99999999/callbacks").status in (403, 404)
    assert lyon.post("/api/repairs/%d/callback/done" % rid, {"outcome": "reached"}).status == 403
    assert Client(ctx.server.port).post("/api/repairs/%d/callback/done" % rid,
                                        {"outcome": "reached"}).status == 401
    assert lyon.post("/api/repairs/%d/observation/end" % rid).status == 403
    assert spec.post("/api/repairs/%d/observation/end" % rid).status == 403
    r = tech.post("/api/repairs/%d/callback/done" % rid, {"outcome": "reached"})
    assert r.status == 409 and r.error["code"] == "no_callback", r
    assert snapshot(ctx) == before
    # One at a time; bad outcomes are refused and change nothing.
    assert tech.post("/api/repairs/%d/observation" % rid, good).status == 200
    before = snapshot(ctx)
    r = tech.post("/api/repairs/%d/observation" % rid, good)
    assert r.status == 409 and r.error["code"] == "already_observing", r
    for body, field in (({}, "outcome"), ({"outcome": "maybe"}, "outcome"), ({"outcome": 1}, "outcome"),
                        ({"outcome": "reached", "note": ["x"]}, "note")):
        r = tech.post("/api/repairs/%d/callback/done" % rid, body)
        assert r.status == 422 and r.error["field"] == field, (body, r)
    assert tech.post("/api/repairs/%d/callback/done" % rid).status == 400
    assert snapshot(ctx) == before
    assert len(callback_messages(ctx, rid)) == 1
