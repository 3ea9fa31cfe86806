"""Repair orders: intake, every allowed and refused state move, the approval gates, parts, labour
notes, the promised date, the customer's status page, and races. Estimates and their approval by
private link: test_estimate.py."""
import threading

from harness import Client

S = {}
# An estimate of one line (test_estimate.py covers estimates).
ESTIMATE = {"diagnosis": "Worn battery", "lines": [
    {"kind": "part", "description": "Battery", "quantity": 1, "unit_price": 9900, "vat_rate": 0}]}

STATES = ["intake", "diagnosing", "awaiting_approval", "awaiting_parts", "repairing", "testing",
          "ready", "collected", "returned_unrepaired", "cancelled"]
# Written out here on purpose, apart from the SQL table, so the test checks the table.
ALLOWED = {
    "intake": {"diagnosing", "cancelled"},
    "diagnosing": {"awaiting_approval", "awaiting_parts", "repairing", "returned_unrepaired", "cancelled"},
    "awaiting_approval": {"awaiting_parts", "repairing", "returned_unrepaired", "cancelled"},
    "awaiting_parts": {"repairing", "returned_unrepaired", "cancelled"},
    "repairing": {"testing", "awaiting_parts", "returned_unrepaired"},
    "testing": {"ready", "repairing"},
    "ready": {"collected"},
    "collected": set(),
    "returned_unrepaired": set(),
    "cancelled": set(),
}


def setup(ctx):
    ctx.seed_demo()
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]


def count(ctx, table, where="true", args=None):
    return ctx.sql1("select count(*) as n from %s where %s" % (table, where), args)["n"]


def snapshot(ctx):
    return tuple(count(ctx, t) for t in ("repair_orders", "repair_moves", "repair_links",
                                         "repair_parts", "record_entries", "devices", "device_owners"))


def intake(**over):
    body = {"serial": "REP0DEV001", "problem": "cracked screen",
            "intake": {"checklist": [{"item": "screen", "ok": False, "note": "crack"},
                                     {"item": "buttons", "ok": True}],
                       "accessories": "none", "passcode_provided": False}}
    body.update(over)
    return body


def open_repair(ctx, c, serial, store=None, **over):
    r = c.post("/api/stores/%d/repairs" % (store or S["paris"]), intake(serial=serial, **over))
    assert r.status == 201, r
    return r.json


def test_open_repair_order(ctx):
    tech = ctx.staff("tech")
    r = tech.post("/api/stores/%d/repairs" % S["paris"], intake(
        serial=" rep0 dev001 ", kept_overnight=True,
        owner={"name": "Ines", "email": "ines@example.com"}))
    assert r.status == 201, r
    j = r.json
    assert j["number"].startswith("R-PARIS-OPERA-") and j["state"] == "intake", j
    assert j["device"]["serial"] == "REP0DEV001" and j["kept_overnight"] is True, j
    assert j["intake"]["checklist"][0] == {"item": "screen", "ok": False, "note": "crack"}, j
    assert len(j["status_token"]) == 43, j
    assert j["moves"][0]["to"] == "intake" and j["moves"][0]["actor"]["name"] == "Théo Technicien", j
    assert sorted(j["allowed_moves"]) == sorted(ALLOWED["intake"]), j
    # Only the hash of the link is stored.
    assert count(ctx, "repair_links", "token_hash = %s", (j["status_token"],)) == 0
    assert count(ctx, "repair_links", "repair_id = %s and purpose = 'status'", (j["id"],)) == 1
    second = open_repair(ctx, tech, "REP0DEV001")
    n1, n2 = int(j["number"].rsplit("-", 1)[1]), int(second["number"].rsplit("-", 1)[1])
    assert n2 == n1 + 1, (j["number"], second["number"])
    kinds = [e["kind"] for e in tech.get("/api/devices/REP0DEV001").json["entries"]]
    assert kinds.count("repair_opened") == 2 and "owner_change" in kinds, kinds
    assert count(ctx, "audit_log", "action = 'create' and object_type = 'repair' and object_id = %s",
                 (str(j["id"]),)) == 1


def test_open_repair_refused(ctx):
    tech, spec, lyon = ctx.staff("tech"), ctx.staff("specialist"), ctx.staff("lyon")
    before = snapshot(ctx)
    cl = {"checklist": [{"item": "screen", "ok": True}]}
    cases = (
        ({"problem": "x", "intake": cl}, "serial"),
        (intake(serial="ab"), "serial"),
        (intake(serial="490154203237519"), "serial"),
        (intake(problem=""), "problem"),
        (intake(problem=None), "problem"),
        (intake(intake=None), "intake"),
        (intake(intake={"checklist": []}), "intake.checklist"),
        (intake(intake={"checklist": [{"item": "screen", "ok": "yes"}]}), "intake.checklist[0].ok"),
        (intake(intake={"checklist": [{"ok": True}]}), "intake.checklist[0].item"),
        (intake(promised_at="2001-01-01T10:00:00Z"), "promised_at"),
        (intake(promised_at="soon"), "promised_at"),
        (intake(promised_at="2099-01-01T10:00:00"), "promised_at"),
        (intake(kept_overnight="yes"), "kept_overnight"),
        (intake(owner={"name": "A"}), "owner.email"),
    )
    for body, field in cases:
        r = tech.post("/api/stores/%d/repairs" % S["paris"], body)
        assert r.status == 422 and r.error["field"] == field, (field, r)
    r = tech.post("/api/stores/%d/repairs" % S["paris"])
    assert r.status == 400, r
    assert spec.post("/api/stores/%d/repairs" % S["paris"], intake()).status == 403
    assert lyon.post("/api/stores/%d/repairs" % S["paris"], intake()).status == 403
    assert tech.post("/api/stores/%d/repairs" % S["lyon"], intake()).status == 403
    assert Client(ctx.server.port).post("/api/stores/%d/repairs" % S["paris"], intake()).status == 401
    r = ctx.staff("admin").post("/api/stores/paris/repairs", intake())
    assert r.status == 404 and r.error["field"] == "store", r
    assert snapshot(ctx) == before


def test_every_allowed_and_refused_move(ctx):
    tech = ctx.staff("tech")
    rep = open_repair(ctx, tech, "MOVE0DEV01")
    rid = rep["id"]
    dev = rep["device"]["id"]
    allowed_seen = refused_seen = 0
    for frm in STATES:
        for to in STATES:
            # Put the order in `frm` with an approved estimate so only the move itself is judged.
            ctx.sql("update repair_orders set state = %s, estimate_cents = 1000, estimate_currency = 'EUR', "
                    "estimate_state = 'approved' where id = %s", (frm, rid))
            moves = count(ctx, "repair_moves", "repair_id = %s", (rid,))
            entries = count(ctx, "record_entries", "device_id = %s", (dev,))
            r = tech.post("/api/repairs/%d/transition" % rid, {"to": to, "note": "%s->%s" % (frm, to)})
            if to in ALLOWED[frm]:
                assert r.status == 200, (frm, to, r)
                assert r.json["state"] == to, (frm, to, r)
                last = r.json["moves"][-1]
                assert (last["from"], last["to"], last["actor"]["name"]) == (frm, to, "Théo Technicien"), last
                assert count(ctx, "repair_moves", "repair_id = %s", (rid,)) == moves + 1
                e = ctx.sql1("select kind, content, actor from record_entries where device_id = %s "
                             "order by id desc limit 1", (dev,))
                assert e["kind"] == "repair_state" and e["content"]["from"] == frm and e["content"]["to"] == to, e
                allowed_seen += 1
            else:
                assert r.status == 409, (frm, to, r)
                assert r.error["code"] == "bad_transition" and r.error["field"] == "state", (frm, to, r)
                assert r.error["from"] == frm and r.error["to"] == to, r
                assert sorted(r.error["allowed"]) == sorted(ALLOWED[frm]), r
                assert ctx.sql1("select state from repair_orders where id = %s", (rid,))["state"] == frm
                assert count(ctx, "repair_moves", "repair_id = %s", (rid,)) == moves
                assert count(ctx, "record_entries", "device_id = %s", (dev,)) == entries
                refused_seen += 1
    assert allowed_seen == sum(len(v) for v in ALLOWED.values()) and allowed_seen + refused_seen == 100
    r = tech.post("/api/repairs/%d/transition" % rid, {"to": "fixed"})
    assert r.status == 422 and r.error["field"] == "to", r
    r = tech.post("/api/repairs/%d/transition" % rid, {})
    assert r.status == 422 and r.error["field"] == "to", r
    assert tech.post("/api/repairs/99999999/transition", {"to": "ready"}).status == 404
    assert tech.post("/api/repairs/abc/transition", {"to": "ready"}).status == 404
    assert ctx.staff("specialist").post("/api/repairs/%d/transition" % rid, {"to": "ready"}).status == 403
    r = ctx.staff("lyon").post("/api/repairs/%d/transition" % rid, {"to": "ready"})
    assert r.status == 403 and r.error["code"] == "forbidden", r


def test_approval_gates(ctx):
    tech = ctx.staff("tech")
    rid = open_repair(ctx, tech, "GATE0DEV01")["id"]
    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "diagnosing"}).status == 200
    r = tech.post("/api/repairs/%d/transition" % rid, {"to": "awaiting_approval"})
    assert r.status == 409 and r.error["code"] == "no_estimate" and r.error["field"] == "estimate", r
    assert tech.put("/api/repairs/%d/estimate" % rid, ESTIMATE).status == 200
    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "awaiting_approval"}).status == 200
    for to in ("repairing", "awaiting_parts"):
        r = tech.post("/api/repairs/%d/transition" % rid, {"to": to})
        assert r.status == 409 and r.error["code"] == "estimate_not_approved", r
    assert ctx.sql1("select state from repair_orders where id = %s", (rid,))["state"] == "awaiting_approval"


def test_customer_status_page(ctx):
    tech = ctx.staff("tech")
    anon = Client(ctx.server.port)
    mine = open_repair(ctx, tech, "STAT0DEV01", owner={"name": "Zoé Secret", "email": "zoe@example.com"})
    other = open_repair(ctx, tech, "STAT0DEV02", problem="other customer's problem")
    rid = mine["id"]
    r = tech.put("/api/repairs/%d/promise" % rid, {"promised_at": "2099-06-01T17:00:00+02:00"})
    assert r.status == 200, r
    # The messages domain appends customer-facing entries like this one.
    ctx.sql("select record_append(%s, 'message', jsonb_build_object('from', 'store', 'text', "
            "'Your part arrives tomorrow'), %s, %s, 'repair', %s)",
            (mine["device"]["id"], ctx.sql1("select id from staff where email = 'tech@carnet.test'")["id"],
             S["paris"], rid))
    tech.post("/api/repairs/%d/notes" % rid, {"text": "internal: customer was rude"})
    r = anon.get("/api/repair-status/" + mine["status_token"])
    assert r.status == 200, r
    j = r.json
    assert j["number"] == mine["number"] and j["state"] == "intake", j
    assert j["promised_at"].startswith("2099-06-01T15:00:00"), j
    assert [m["text"] for m in j["messages"]] == ["Your part arrives tomorrow"], j
    assert j["history"][0]["state"] == "intake" and j["device"]["serial_end"] == "EV01", j
    text = r.raw.decode()
    for secret in ("STAT0DEV01", "Zoé", "zoe@example.com", "Théo", "rude", "other customer", other["number"],
                   "cracked screen"):
        assert secret not in text, secret
    # Each link opens its own repair only, and only for its purpose.
    assert anon.get("/api/repair-status/" + other["status_token"]).json["number"] == other["number"]
    token = tech.put("/api/repairs/%d/estimate" % rid, ESTIMATE).json["approval_token"]
    assert anon.get("/api/repair-status/" + token).status == 404
    assert anon.get("/api/repair-status/" + "A" * 43).status == 404
    assert anon.get("/api/repair-status/../../etc").status == 404


def test_parts_notes_and_promise(ctx):
    tech, spec = ctx.staff("tech"), ctx.staff("specialist")
    rep = open_repair(ctx, tech, "PART0DEV01")
    rid = rep["id"]
    r = tech.post("/api/repairs/%d/parts" % rid, {"part_number": "661-1234"})
    assert r.status == 409 and r.error["code"] == "bad_state", r
    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "diagnosing"}).status == 200
    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "repairing"}).status == 200
    before = snapshot(ctx)
    for body, field in (({}, "part_number"), ({"part_number": "bad part!"}, "part_number"),
                        ({"part_number": "661-1", "quantity": 0}, "quantity"),
                        ({"part_number": "661-1", "serial": 7}, "serial")):
        r = tech.post("/api/repairs/%d/parts" % rid, body)
        assert r.status == 422 and r.error["field"] == field, (body, r)
    assert snapshot(ctx) == before
    r = tech.post("/api/repairs/%d/parts" % rid, {"part_number": "661-21990", "serial": " dsp 99x ",
                                                   "description": "Display"})
    assert r.status == 201, r
    assert r.json["parts"] == [{"id": r.json["parts"][0]["id"], "part_number": "661-21990", "serial": "DSP99X",
                                "description": "Display", "quantity": 1, "at": r.json["parts"][0]["at"],
                                "expected_at": None}], r
    r = tech.post("/api/repairs/%d/notes" % rid, {"text": "Replaced display, adhesive renewed"})
    assert r.status == 201, r
    assert tech.post("/api/repairs/%d/notes" % rid, {"text": ""}).status == 422
    assert spec.post("/api/repairs/%d/notes" % rid, {"text": "x"}).status == 403
    r = tech.put("/api/repairs/%d/promise" % rid, {"promised_at": "2001-01-01T00:00:00Z"})
    assert r.status == 422 and r.error["field"] == "promised_at", r
    r = tech.put("/api/repairs/%d/promise" % rid, {})
    assert r.status == 422, r
    r = tech.put("/api/repairs/%d/promise" % rid, {"promised_at": "2099-01-02T10:00:00Z", "kept_overnight": True})
    assert r.status == 200 and r.json["kept_overnight"] is True, r
    r = spec.get("/api/repairs/%d" % rid)
    assert r.status == 200, r
    assert r.json["notes"][0]["text"] == "Replaced display, adhesive renewed", r
    assert r.json["promised_at"].startswith("2099-01-02T10:00:00"), r
    assert ctx.staff("lyon").get("/api/repairs/%d" % rid).status == 403
    assert spec.get("/api/repairs/99999999").status == 404
    kinds = [e["kind"] for e in spec.get("/api/devices/PART0DEV01").json["entries"]]
    assert kinds[:3] == ["repair_promise", "repair_note", "repair_part"], kinds
    # A closed repair changes no more.
    for to in ("testing", "ready", "collected"):
        assert tech.post("/api/repairs/%d/transition" % rid, {"to": to}).status == 200
    r = tech.put("/api/repairs/%d/promise" % rid, {"kept_overnight": False})
    assert r.status == 409 and r.error["code"] == "repair_closed", r
    r = tech.post("/api/repairs/%d/parts" % rid, {"part_number": "1"})
    assert r.status == 409 and r.error["code"] == "repair_closed", r


def test_two_technicians_move_at_once(ctx):
    a, b = ctx.staff("tech"), ctx.staff("tech2")
    for _ in range(5):
        rid = open_repair(ctx, a, "RACE0DEV02")["id"]
        results = []
        barrier = threading.Barrier(2)

        def move(c):
            barrier.wait()
            results.append(c.post("/api/repairs/%d/transition" % rid, {"to": "diagnosing"}).status)

        ts = [threading.Thread(target=move, args=(c,)) for c in (a, b)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert sorted(results) == [200, 409], results
        assert count(ctx, "repair_moves", "repair_id = %s", (rid,)) == 2


def test_every_repair_endpoint_checks_who_calls(ctx):
    tech = ctx.staff("tech")
    rid = open_repair(ctx, tech, "AUTH0DEV01")["id"]
    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "diagnosing"}).status == 200
    anon, spec, lyon = Client(ctx.server.port), ctx.staff("specialist"), ctx.staff("lyon")
    writes = (("POST", "/api/repairs/%d/transition" % rid, {"to": "repairing"}),
              ("PUT", "/api/repairs/%d/estimate" % rid, {"amount_cents": 100}),
              ("POST", "/api/repairs/%d/parts" % rid, {"part_number": "661-1"}),
              ("POST", "/api/repairs/%d/notes" % rid, {"text": "x"}),
              ("PUT", "/api/repairs/%d/promise" % rid, {"kept_overnight": True}),
              ("POST", "/api/stores/%d/repairs" % S["paris"], intake(serial="AUTH0DEV01")))
    before = snapshot(ctx)
    for method, path, body in writes + (("GET", "/api/repairs/%d" % rid, None),):
        r = anon.request(method, path, body=body)
        assert r.status == 401, (method, path, r)
    for c in (spec, lyon):
        for method, path, body in writes:
            r = c.request(method, path, body=body)
            assert r.status == 403 and r.error["code"] == "forbidden", (method, path, r)
    assert lyon.get("/api/repairs/%d" % rid).status == 403
    assert snapshot(ctx) == before
    # The manager of the store may do the work too.
    r = ctx.staff("manager").post("/api/repairs/%d/notes" % rid, {"text": "checked by the manager"})
    assert r.status == 201, r
