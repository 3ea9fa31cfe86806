"""Idempotency-Key on the writes a tablet retries after a failover (issue #15): staff check-in
of a booking, the walk-in join, a diagnostic posted to a device. The same key and body again:
one row, the same answer (the same private link). The same key with another body: 422
idempotency_mismatch and nothing changed. Another caller's key never replays your answer. The key
is kept only as a keyed hash, the request as a keyed fingerprint, and purged after a day."""
import threading

from harness import HANG_GUARD_S, Client
from test_floor_checkin import appointment

S = {}


def setup(ctx):
    ctx.seed_demo()
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    ctx.paris = S["paris"]


def key(k):
    return {"Idempotency-Key": k}


def count(ctx, table, where="true", args=()):
    return ctx.sql1("select count(*) as n from %s where %s" % (table, where), args)["n"]


def _same(a, b):
    assert a.status == b.status and a.json == b.json, (a, b)


# ---- the walk-in join ----

def test_join_twice_with_one_key_is_one_visit(ctx):
    c = ctx.client()
    url = "/api/stores/%d/line" % S["paris"]
    before = count(ctx, "visits")
    body = {"name": "Idem Ida", "contact": "ida@example.com", "party": 2}
    r1 = c.post(url, body, headers=key("join-1-ida"))
    assert r1.status == 201 and r1.json["token"], r1
    # The retry sends the same members in another order: still the same request.
    r2 = c.post(url, dict(reversed(list(body.items()))), headers=key("join-1-ida"))
    _same(r1, r2)
    assert count(ctx, "visits") == before + 1
    # The link handed back twice is the one stored (by its hash): it opens the place.
    st = c.get("/api/line/" + r2.json["token"])
    assert st.status == 200, st
    # Without a key, a second send is a second visit (as before).
    assert c.post(url, body).status == 201
    assert c.post(url, body).status == 201
    assert count(ctx, "visits") == before + 3
    # Stored: the key's keyed hash and a sealed link only, nothing of the key or token in clear.
    row = ctx.sql1("select * from idempotency_replies where scope = %s",
                   ("floor_join_line:%d" % S["paris"],))
    assert row and "join-1-ida" not in str(row) and r1.json["token"] not in str(row), row
    assert ctx.is_pd(row["answer"]["token"]), row


def test_join_key_with_another_body_is_refused(ctx):
    c = ctx.client()
    url = "/api/stores/%d/line" % S["paris"]
    assert c.post(url, {"name": "Idem Max"}, headers=key("join-2")).status == 201
    before = count(ctx, "visits")
    r = c.post(url, {"name": "Idem Maxime"}, headers=key("join-2"))
    assert r.status == 422 and r.error["code"] == "idempotency_mismatch", r
    assert r.error["field"] == "Idempotency-Key", r
    assert count(ctx, "visits") == before
    # The key is the store's: the same key at another store is another request.
    r = c.post("/api/stores/%d/line" % S["lyon"], {"name": "Idem Max"}, headers=key("join-2"))
    assert r.status == 201, r
    assert count(ctx, "visits") == before + 1


def test_bad_keys_are_400_before_anything_is_written(ctx):
    c = ctx.client()
    before = count(ctx, "visits")
    for bad in ("k" * 256, "two words", "\t"):
        r = c.post("/api/stores/%d/line" % S["paris"], {"name": "Idem Bad"}, headers=key(bad))
        assert r.status == 400 and r.error["field"] == "Idempotency-Key", (bad, r)
    tech = ctx.staff("tech")
    r = tech.post("/api/devices/IDEM0BAD01/diagnostics", {"store_id": S["paris"], "results": []},
                  headers=key("x" * 256))
    assert r.status == 400 and r.error["field"] == "Idempotency-Key", r
    desk = ctx.staff("specialist")
    r = desk.post("/api/stores/%d/checkin" % S["paris"], {"code": "ABCDEF"},
                  headers=key("é"))
    assert r.status == 400 and r.error["field"] == "Idempotency-Key", r
    assert count(ctx, "visits") == before
    # The longest key is fine.
    r = c.post("/api/stores/%d/line" % S["paris"], {"name": "Idem Long"}, headers=key("k" * 255))
    assert r.status == 201, r


def test_concurrent_twins_make_one_visit(ctx):
    url = "/api/stores/%d/line" % S["paris"]
    before = count(ctx, "visits")
    out = []

    def send():
        out.append(Client(ctx.server.port).post(url, {"name": "Idem Twin"},
                                                headers=key("join-twin"), timeout=HANG_GUARD_S))

    ts = [threading.Thread(target=send) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(HANG_GUARD_S)
    assert len(out) == 4 and all(r.status == 201 for r in out), out
    assert len({r.json["token"] for r in out}) == 1, out
    assert count(ctx, "visits") == before + 1


# ---- staff check-in of a booking ----

def test_checkin_twice_with_one_key_answers_the_first(ctx):
    ctx.clear_of_midnight(S["paris"])
    a = appointment(ctx, starts_at=ctx.checkin_soon(S["paris"]), name="Idem Booked")
    desk = ctx.staff("specialist")
    url = "/api/stores/%d/checkin" % S["paris"]
    r1 = desk.post(url, {"code": a["code"]}, headers=key("checkin-1"))
    assert r1.status == 200 and r1.json["token"], r1
    r2 = desk.post(url, {"code": a["code"]}, headers=key("checkin-1"))
    _same(r1, r2)
    assert count(ctx, "visits", "appointment_id = %s", (a["id"],)) == 1
    # Another body under the key: refused.
    b = appointment(ctx, starts_at=ctx.checkin_soon(S["paris"]), name="Idem Other")
    r = desk.post(url, {"code": b["code"]}, headers=key("checkin-1"))
    assert r.status == 422 and r.error["code"] == "idempotency_mismatch", r
    assert count(ctx, "visits", "appointment_id = %s", (b["id"],)) == 0
    # Another desk's key of the same text is theirs: it does not replay this answer.
    other = ctx.staff("manager")
    r = other.post(url, {"code": b["code"]}, headers=key("checkin-1"))
    assert r.status == 200 and r.json["visit"]["id"] != r1.json["visit"]["id"], r
    assert count(ctx, "visits", "appointment_id = %s", (b["id"],)) == 1


# ---- a diagnostic posted to a device ----

def diag_body(health):
    return {"store_id": S["paris"], "results": [
        {"test": "battery", "passed": True,
         "values": [{"name": "battery_health", "value": health, "unit": "%"}]}]}


def test_diagnostic_twice_with_one_key_is_one_session(ctx):
    tech = ctx.staff("tech")
    assert tech.put("/api/devices/IDEM0DEV01", {"model": "iPhone 14"}).status == 201
    url = "/api/devices/IDEM0DEV01/diagnostics"
    before = count(ctx, "diagnostic_sessions")
    r1 = tech.post(url, diag_body(91), headers=key("diag-1"))
    assert r1.status == 201, r1
    r2 = tech.post(url, diag_body(91), headers=key("diag-1"))
    _same(r1, r2)
    assert count(ctx, "diagnostic_sessions") == before + 1
    r = tech.post(url, diag_body(80), headers=key("diag-1"))
    assert r.status == 422 and r.error["code"] == "idempotency_mismatch", r
    # The same key on another device is another request (the path is part of it) : refused too.
    assert tech.put("/api/devices/IDEM0DEV02", {"model": "iPhone 14"}).status == 201
    r = tech.post("/api/devices/IDEM0DEV02/diagnostics", diag_body(91), headers=key("diag-1"))
    assert r.status == 422 and r.error["code"] == "idempotency_mismatch", r
    assert count(ctx, "diagnostic_sessions") == before + 1
    # A refusal is not stored: the same key, fixed, then goes through.
    r = tech.post(url, {"store_id": S["paris"], "results": "no"}, headers=key("diag-2"))
    assert r.status == 422, r
    r = tech.post(url, diag_body(70), headers=key("diag-2"))
    assert r.status == 201, r
    assert count(ctx, "diagnostic_sessions") == before + 2


# ---- retention ----

def test_keys_older_than_a_day_are_purged(ctx):
    c = ctx.client()
    assert c.post("/api/stores/%d/line" % S["paris"], {"name": "Idem Old"},
                  headers=key("join-old")).status == 201
    ctx.sql("update idempotency_replies set created_at = now() - interval '25 hours'")
    fresh = c.post("/api/stores/%d/line" % S["paris"], {"name": "Idem New"},
                   headers=key("join-new"))
    assert fresh.status == 201
    ctx.sql("select job_retention(7, 1, 1800, 30, 7)")
    assert count(ctx, "idempotency_replies") == 1
