"""Estimates with lines (issue 13, point 5): parts and labour with VAT, totals computed in SQL in
the store's currency, versions bound to their approval links, and the customer's answers by link:
approve, decline with a reason, ask to be called back. Each bad input, each refused caller."""
import threading
from datetime import datetime, timedelta, timezone

from harness import Client

S = {}


def setup(ctx):
    ctx.seed_demo()
    # No background jobs: the snapshots below count the outbox, and the early-warning job may
    # write to it for the demo's repairs at any moment.
    ctx._server = ctx.start_carnetd(args=["--no-jobs"])
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]


def count(ctx, table, where="true", args=None):
    return ctx.sql1("select count(*) as n from %s where %s" % (table, where), args)["n"]


def snapshot(ctx):
    return tuple(count(ctx, t) for t in ("repair_estimates", "repair_estimate_lines", "repair_links",
                                         "record_entries", "outbox")) + (
        ctx.sql("select id, state, decided_at, decline_reason, callback_requested_at, callback_note "
                "from repair_estimates order by id"),
        ctx.sql("select id, estimate_cents, estimate_state from repair_orders order by id"))


def line(kind="part", description="Screen", quantity=1, unit_price=10000, vat_rate=2000):
    return {"kind": kind, "description": description, "quantity": quantity,
            "unit_price": unit_price, "vat_rate": vat_rate}


def body(*lines, **over):
    b = {"diagnosis": "The screen is cracked; the touch layer works.",
         "terms": "Valid 30 days. Parts carry a 90-day warranty.",
         "lines": list(lines) or [line()]}
    b.update(over)
    return b


def open_repair(ctx, c, serial, diagnosing=True):
    r = c.post("/api/stores/%d/repairs" % S["paris"], {
        "serial": serial, "problem": "cracked screen",
        "intake": {"checklist": [{"item": "screen", "ok": False}]},
        "owner": {"name": "Inès Client", "email": "ines@example.com"}})
    assert r.status == 201, r
    if diagnosing:
        assert c.post("/api/repairs/%d/transition" % r.json["id"], {"to": "diagnosing"}).status == 200
    return r.json


def test_lines_vat_totals_versions_and_approval(ctx):
    tech = ctx.staff("tech")
    anon = Client(ctx.server.port)
    rid = open_repair(ctx, tech, "EST1DEV001")["id"]
    # Screen 100.00 at 20 %, 1.5 h of labour at 33.33 (49.995 -> 50.00) at 20 %, a screw 0.25 x
    # 0.02 (0.005 -> 0.01) at 5.5 % (0.00055 -> 0.00): net 150.01, VAT 30.00, gross 180.01.
    r = tech.put("/api/repairs/%d/estimate" % rid, body(
        line(), line("labour", "Fitting", 1.5, 3333), line("part", "Screw", 0.25, 2, 550)))
    assert r.status == 200, r
    first = r.json["approval_token"]
    e = r.json["estimate"]
    assert [x["net"] for x in e["lines"]] == [10000, 5000, 1], e
    assert e["vat"] == [{"rate": 550, "base": 1, "vat": 0}, {"rate": 2000, "base": 15000, "vat": 3000}], e
    assert (e["net_total"], e["vat_total"], e["gross_total"], e["currency"]) == (15001, 3000, 18001, "EUR"), e
    assert e["version"] == 1 and e["state"] == "pending" and e["written_by"], e
    assert e["diagnosis"].startswith("The screen") and e["terms"].startswith("Valid"), e
    msg = ctx.sql1("select body from outbox where ref_type = 'repair' and ref_id = %s "
                   "and kind = 'estimate_ready' order by id desc limit 1", (rid,))
    assert "180.01 EUR" in msg["body"], msg

    # The customer sees lines, VAT, totals, diagnosis and terms; not the serial, nor who wrote it.
    v = anon.get("/api/estimates/" + first)
    assert v.status == 200, v
    ve = v.json["estimate"]
    assert ve["gross_total"] == 18001 and len(ve["lines"]) == 3 and ve["terms"], ve
    assert ve.get("written_by") is None and "versions" not in ve and "EST1DEV001" not in v.raw.decode(), v

    # Version 2 supersedes version 1, which stays as history; the first link still shows its own
    # version, which can no longer be answered.
    r = tech.put("/api/repairs/%d/estimate" % rid, body(line(unit_price=9000)))
    assert r.status == 200 and r.json["estimate"]["version"] == 2, r
    second = r.json["approval_token"]
    assert [x["state"] for x in r.json["estimate"]["versions"]] == ["pending", "superseded"], r
    v = anon.get("/api/estimates/" + first)
    assert v.status == 200 and v.json["estimate"]["version"] == 1, v
    assert v.json["estimate"]["state"] == "superseded" and v.json["estimate"]["gross_total"] == 18001, v
    before = snapshot(ctx)
    for token, b in ((first, {}), (first, {"version": 1}), (second, {"version": 1})):
        r = anon.post("/api/estimates/%s/approve" % token, b)
        assert r.status == 409 and r.error["code"] == "estimate_changed" and r.error["field"] == "version", r
    r = anon.post("/api/estimates/%s/approve" % second, {"version": "2"})
    assert r.status == 422 and r.error["field"] == "version", r
    # A status link is not an approval link; garbage is not found.
    rep = ctx.sql1("select number from repair_orders where id = %s", (rid,))
    assert rep
    assert anon.post("/api/estimates/%s/approve" % ("x" * 43)).status == 404
    assert anon.post("/api/estimates/short/approve").status == 404
    assert snapshot(ctx) == before

    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "awaiting_approval"}).status == 200
    r = anon.post("/api/estimates/%s/approve" % second, {"version": 2})
    assert r.status == 200 and r.json["estimate"]["state"] == "approved", r
    assert r.json["estimate"]["gross_total"] == 10800, r
    row = ctx.sql1("select estimate_state, estimate_cents, estimate_decided_at from repair_orders "
                   "where id = %s", (rid,))
    assert row["estimate_state"] == "approved" and row["estimate_cents"] == 10800, row
    assert row["estimate_decided_at"] is not None
    for verb, b in (("approve", {}), ("decline", {"reason": "no"}), ("callback", {})):
        r = anon.post("/api/estimates/%s/%s" % (second, verb), b)
        assert r.status == 409 and r.error["code"] == "already_decided", (verb, r)
    e = ctx.sql1("select kind, actor, content->>'version' as v from record_entries "
                 "where ref_type = 'repair' and ref_id = %s order by id desc limit 1", (rid,))
    assert e == {"kind": "estimate_approved", "actor": None, "v": "2"}, e
    g = tech.get("/api/repairs/%d" % rid).json["estimate"]
    assert g["state"] == "approved" and g["version"] == 2 and g["decided_at"], g
    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "repairing"}).status == 200
    # No new estimate once the work has started.
    r = tech.put("/api/repairs/%d/estimate" % rid, body())
    assert r.status == 409 and r.error["code"] == "bad_state" and r.error["field"] == "state", r


def test_store_currency(ctx):
    tech = ctx.staff("tech")
    rid = open_repair(ctx, tech, "EST1DEV002")["id"]
    ctx.sql("update stores set currency = 'CHF' where id = %s", (S["paris"],))
    try:
        r = tech.put("/api/repairs/%d/estimate" % rid, body(line(unit_price=12345, vat_rate=810)))
        assert r.status == 200 and r.json["estimate"]["currency"] == "CHF", r
        # 12345 x 8.1 % = 999.945 -> 1000
        assert r.json["estimate"]["vat_total"] == 1000 and r.json["estimate"]["gross_total"] == 13345, r
        r = tech.put("/api/repairs/%d/estimate" % rid, body(currency="EUR"))
        assert r.status == 422 and r.error["field"] == "currency", r
    finally:
        ctx.sql("update stores set currency = 'EUR' where id = %s", (S["paris"],))


def test_bad_estimates_change_nothing(ctx):
    tech = ctx.staff("tech")
    rid = open_repair(ctx, tech, "EST1DEV003")["id"]
    path = "/api/repairs/%d/estimate" % rid
    cases = [
        ({}, "required", "diagnosis"),
        (body(diagnosis="  "), "required", "diagnosis"),
        (body(diagnosis="x" * 4001), "invalid", "diagnosis"),
        (body(terms=5), "invalid", "terms"),
        ({"diagnosis": "d"}, "required", "lines"),
        (body(lines=[]), "required", "lines"),
        (body(lines={}), "invalid", "lines"),
        (body(lines=[line()] * 31), "too_many", "lines"),
        (body(line(), line(), "x"), "invalid", "lines[2]"),
        (body(line(), line(kind="gift")), "invalid", "lines[1].kind"),
        (body(line(description="")), "invalid", "lines[0].description"),
        (body(line(description="x" * 201)), "invalid", "lines[0].description"),
        (body(line(quantity=0)), "invalid", "lines[0].quantity"),
        (body(line(quantity=-1)), "invalid", "lines[0].quantity"),
        (body(line(quantity=1000)), "invalid", "lines[0].quantity"),
        (body(line(quantity=0.001)), "invalid", "lines[0].quantity"),
        (body(line(quantity="1")), "invalid", "lines[0].quantity"),
        (body(line(), line(), line(unit_price=-100)), "invalid", "lines[2].unit_price"),
        (body(line(unit_price=10000001)), "invalid", "lines[0].unit_price"),
        (body(line(unit_price=12.5)), "invalid", "lines[0].unit_price"),
        (body(line(unit_price=10 ** 15)), "invalid", "lines[0].unit_price"),
        (body(line(vat_rate=-1)), "invalid", "lines[0].vat_rate"),
        (body(line(vat_rate=3001)), "invalid", "lines[0].vat_rate"),
        (body(line(vat_rate=20.0)), "invalid", "lines[0].vat_rate"),
        (body(*[line(quantity=999, unit_price=10000000)] * 2), "too_large", "lines"),
        (body(currency="USD"), "invalid", "currency"),
    ]
    before = snapshot(ctx)
    for b, code, field in cases:
        r = tech.put(path, b)
        assert r.status == 422 and r.error["code"] == code and r.error["field"] == field, (b, r)
    assert tech.put(path).status == 400
    assert snapshot(ctx) == before
    # Who may not: no session, a specialist, another store's staff; an unknown repair.
    assert Client(ctx.server.port).put(path, body()).status == 401
    for who in ("specialist", "lyon"):
        r = ctx.staff(who).put(path, body())
        assert r.status == 403 and r.error["code"] == "forbidden", (who, r)
    assert tech.put("/api/repairs/99999999/estimate", body()).status == 404
    assert tech.put("/api/repairs/abc/estimate", body()).status == 404
    assert snapshot(ctx) == before
    # A closed repair takes no estimate.
    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "cancelled"}).status == 200
    r = tech.put(path, body())
    assert r.status == 409 and r.error["code"] == "bad_state", r


def test_call_me_then_decline_with_a_reason(ctx):
    tech = ctx.staff("tech")
    anon = Client(ctx.server.port)
    rid = open_repair(ctx, tech, "EST1DEV004")["id"]
    token = tech.put("/api/repairs/%d/estimate" % rid, body()).json["approval_token"]
    base = "/api/estimates/" + token
    soon = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0).isoformat()
    before = snapshot(ctx)
    for b, code, field in (({"when": "tomorrow"}, "invalid", "when"),
                           ({"when": "2001-01-01T10:00:00Z"}, "invalid", "when"),
                           ({"when": (datetime.now(timezone.utc) + timedelta(days=90)).isoformat()},
                            "invalid", "when"),
                           ({"note": 5}, "invalid", "note"),
                           ({"note": "x" * 501}, "invalid", "note"),
                           ({"version": 9}, "estimate_changed", "version")):
        r = anon.post(base + "/callback", b)
        assert r.status in (409, 422) and r.error["code"] == code and r.error["field"] == field, (b, r)
    assert snapshot(ctx) == before

    # Call me: the estimate stays pending; the store sees when and the note, sealed at rest.
    r = anon.post(base + "/callback", {"when": soon, "note": "  After 6 pm, Inès  "})
    assert r.status == 200 and r.json["estimate"]["state"] == "pending", r
    assert r.json["estimate"]["callback"]["requested_at"] and r.json["estimate"]["callback"]["note"] is None, r
    row = ctx.sql1("select callback_note, callback_at from repair_estimates where repair_id = %s", (rid,))
    assert ctx.is_pd(row["callback_note"]) and row["callback_at"] is not None, row
    cb = tech.get("/api/repairs/%d" % rid).json["estimate"]["callback"]
    assert cb["note"] == "After 6 pm, Inès" and cb["at"], cb
    listed = ctx.sql("select repair_id, call_at from repair_estimate_callbacks(%s)", (S["paris"],))
    assert [x["repair_id"] for x in listed].count(rid) == 1, listed
    # Asking again, with nothing to add, replaces the request.
    assert anon.post(base + "/callback").status == 200
    cb = tech.get("/api/repairs/%d" % rid).json["estimate"]["callback"]
    assert cb["at"] is None and cb["note"] is None, cb
    # The store's call-back list has it, with the customer's name opened; Lyon's has not.
    cbs = tech.get("/api/stores/%d/callbacks" % S["paris"]).json["callbacks"]
    mine = [c for c in cbs if c["repair_id"] == rid]
    assert len(mine) == 1 and mine[0]["kind"] == "estimate" and mine[0]["customer"]["name"], mine
    assert mine[0]["overdue"] is False and not ctx.is_pd(str(mine[0])), mine
    lyon = ctx.staff("lyon")
    assert lyon.get("/api/stores/%d/callbacks" % S["paris"]).status == 403
    # Called: it leaves the list, the ticket says how it went; a second "done" has nothing to do.
    r = tech.post("/api/repairs/%d/callback/done" % rid, {"outcome": "left_message"})
    assert r.status == 200, r
    cbs = tech.get("/api/stores/%d/callbacks" % S["paris"]).json["callbacks"]
    assert rid not in [c["repair_id"] for c in cbs], cbs
    cb = tech.get("/api/repairs/%d" % rid).json["estimate"]["callback"]
    assert cb["outcome"] == "left_message" and cb["done_at"], cb
    r = tech.post("/api/repairs/%d/callback/done" % rid, {"outcome": "reached"})
    assert r.status == 409 and r.error["code"] == "no_callback", r
    # Asking again opens it again.
    assert anon.post(base + "/callback").status == 200
    cbs = tech.get("/api/stores/%d/callbacks" % S["paris"]).json["callbacks"]
    assert [c["repair_id"] for c in cbs].count(rid) == 1, cbs

    # Decline: a reason is required, sealed at rest, shown to the store, not echoed back.
    before = snapshot(ctx)
    for b, code in (({}, "required"), ({"reason": "   "}, "required"), ({"reason": 3}, "invalid"),
                    ({"reason": "x" * 1001}, "invalid")):
        r = anon.post(base + "/decline", b)
        assert r.status == 422 and r.error["code"] == code and r.error["field"] == "reason", (b, r)
    assert anon.post(base + "/decline").status == 422
    assert snapshot(ctx) == before
    r = anon.post(base + "/decline", {"reason": "Too dear: I will buy a new phone.", "version": 1})
    assert r.status == 200 and r.json["estimate"]["state"] == "declined", r
    assert "Too dear" not in r.raw.decode(), r
    row = ctx.sql1("select decline_reason from repair_estimates where repair_id = %s", (rid,))
    assert ctx.is_pd(row["decline_reason"]), row
    g = tech.get("/api/repairs/%d" % rid).json["estimate"]
    assert g["state"] == "declined" and g["decline_reason"] == "Too dear: I will buy a new phone.", g
    assert ctx.sql1("select estimate_state from repair_orders where id = %s", (rid,))["estimate_state"] == "declined"
    # Answered: the call-back request leaves the list.
    listed = ctx.sql("select repair_id from repair_estimate_callbacks(%s)", (S["paris"],))
    assert rid not in [x["repair_id"] for x in listed], listed
    # An expired link is gone.
    ctx.sql("update repair_links set expires_at = now() - interval '1 day' where repair_id = %s", (rid,))
    r = anon.get(base)
    assert r.status == 410 and r.error["code"] == "expired", r


def test_links_answer_only_their_purpose(ctx):
    tech = ctx.staff("tech")
    anon = Client(ctx.server.port)
    rep = open_repair(ctx, tech, "EST1DEV005")
    tech.put("/api/repairs/%d/estimate" % rep["id"], body())
    before = snapshot(ctx)
    for verb in ("approve", "decline", "callback"):
        r = anon.post("/api/estimates/%s/%s" % (rep["status_token"], verb), {"reason": "x"})
        assert r.status == 404 and r.error["field"] == "token", (verb, r)
    assert anon.get("/api/estimates/" + rep["status_token"]).status == 404
    assert snapshot(ctx) == before


def test_closed_repair_takes_no_answer(ctx):
    tech = ctx.staff("tech")
    rid = open_repair(ctx, tech, "EST1DEV006")["id"]
    token = tech.put("/api/repairs/%d/estimate" % rid, body()).json["approval_token"]
    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "cancelled"}).status == 200
    r = Client(ctx.server.port).post("/api/estimates/%s/approve" % token)
    assert r.status == 409 and r.error["code"] == "repair_closed", r


def test_approve_and_decline_race(ctx):
    tech = ctx.staff("tech")
    for _ in range(5):
        rid = open_repair(ctx, tech, "RACE0DEV03", diagnosing=False)["id"]
        token = tech.put("/api/repairs/%d/estimate" % rid, body()).json["approval_token"]
        results = []
        barrier = threading.Barrier(2)

        def answer(verb):
            barrier.wait()
            results.append((verb, Client(ctx.server.port).post(
                "/api/estimates/%s/%s" % (token, verb), {"reason": "changed my mind"}).status))

        ts = [threading.Thread(target=answer, args=(v,)) for v in ("approve", "decline")]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert sorted(s for _, s in results) == [200, 409], results
        winner = [v for v, s in results if s == 200][0]
        state = ctx.sql1("select estimate_state from repair_orders where id = %s", (rid,))["estimate_state"]
        assert state == {"approve": "approved", "decline": "declined"}[winner], (results, state)
        assert count(ctx, "record_entries", "ref_type = 'repair' and ref_id = %s and kind like 'estimate_%%'",
                     (rid,)) == 1


def test_customer_answers_are_exported_and_erased(ctx):
    """A decline's reason and a call-back note are the customer's words: in their data export
    (opened), and gone once they are erased."""
    tech, manager = ctx.staff("tech"), ctx.staff("manager")
    anon = Client(ctx.server.port)
    owner = {"name": "Erin Answer", "email": "erin.answer@example.com"}
    r = tech.post("/api/stores/%d/repairs" % S["paris"], {
        "serial": "EST1DEV008", "problem": "battery", "owner": owner,
        "intake": {"checklist": [{"item": "screen", "ok": True}]}})
    assert r.status == 201, r
    rid = r.json["id"]
    token = tech.put("/api/repairs/%d/estimate" % rid, body()).json["approval_token"]
    assert anon.post("/api/estimates/%s/callback" % token, {"note": "Mornings only"}).status == 200
    assert anon.post("/api/estimates/%s/decline" % token, {"reason": "Erin says: too dear"}).status == 200
    x = manager.get("/api/customers?email=" + owner["email"])
    assert x.status == 200, x
    answers = [a for rep in x.json["repairs"] if rep["id"] == rid for a in rep["estimate_answers"]]
    assert answers and answers[0]["decline_reason"] == "Erin says: too dear", answers
    assert answers[0]["callback_note"] == "Mornings only", answers
    assert manager.post("/api/customers/erase", {"email": owner["email"]}).status == 200
    row = ctx.sql1("select decline_reason, callback_note, state from repair_estimates "
                   "where repair_id = %s", (rid,))
    assert row == {"decline_reason": None, "callback_note": None, "state": "declined"}, row
