"""From the door to the bench (issue 13, points 1-3): the serving card, the hand-over of a visit
being served to a repair order (idempotent, refused unless in service, a serial added on the
card when the visit had none), the bench queue and taking from it, and the queue controls (call
a given person, hand to a colleague, automatic no-show after max_skips). Bad inputs change
nothing; other stores' staff and the wrong roles are refused."""
import datetime
import secrets

from harness import Client

SERIAL = "F2LHAND0VER1"


def setup(ctx):
    ctx.seed_demo()
    ctx._server = ctx.start_carnetd(args=["--no-jobs"])
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    ctx.tech = ctx.sql1("select id from staff where email = 'tech@carnet.test'")["id"]
    ctx.spec = ctx.sql1("select id from staff where email = 'specialist@carnet.test'")["id"]
    ctx.manager = ctx.sql1("select id from staff where email = 'manager@carnet.test'")["id"]


def clear(ctx):
    ctx.sql("update visits set repair_id = null")
    ctx.sql("delete from handover_keys")
    ctx.sql("delete from visits")
    ctx.sql("delete from floor_tickets")
    ctx.sql("delete from floor_settings")


def booked(ctx, serial=SERIAL, problem="The screen flickers after the update",
           email="hand.over@example.com"):
    """A booking made by the customer through the API (so sealed as customers' are), brought to
    now and checked in by the specialist: its visit id."""
    sv = ctx.sql1("select id from services where store_id = %s and skill = 'setup'",
                  (ctx.paris,))["id"]
    c = Client(ctx.server.port)
    day = ctx.store_today(ctx.paris)
    slot = None
    for _ in range(21):
        day += datetime.timedelta(days=1)
        r = c.get("/api/stores/%d/availability?service=%d&from=%s&to=%s"
                  % (ctx.paris, sv, day, day))
        free = [x for d in r.json["days"] for x in d["slots"] if x["free"] > 0]
        if free:
            slot = free[0]["starts_at"]
            break
    assert slot, "no free slot in three weeks"
    body = {"service_id": sv, "starts_at": slot, "name": "Hanna Over", "email": email,
            "problem": problem}
    if serial:
        body["serial"] = serial
    r = c.post("/api/stores/%d/appointments" % ctx.paris, body)
    assert r.status == 201, r
    aid = r.json["appointment"]["id"]
    st = ctx.sql1("insert into staff (email, name, password_hash) values (%s, 'Slot Staff', 'x') "
                  "returning id", ("h%s@carnet.test" % secrets.token_hex(6),))["id"]
    ctx.sql("update appointments set staff_id = %s, starts_at = now() + interval '10 minutes', "
            "ends_at = now() + interval '40 minutes', blocked_until = now() + interval '40 minutes' "
            "where id = %s", (st, aid))
    r = ctx.staff("specialist").post("/api/stores/%d/checkin" % ctx.paris, {"appointment_id": aid})
    assert r.status == 200, r
    return r.json["visit"]["id"]


def serving(ctx, s, vid):
    r = s.post("/api/visits/%d/call" % vid)
    assert r.status == 200 and r.json["status"] == "called", r
    r = s.post("/api/visits/%d/start" % vid)
    assert r.status == 200 and r.json["status"] == "in_service", r


def walk_in(ctx, store=None, **extra):
    body = dict(name="Wanda Walk", contact="wanda@example.com")
    body.update(extra)
    r = ctx.client().post("/api/stores/%d/line" % (store or ctx.paris), body)
    assert r.status == 201, r
    return r.json["visit_id"]


def err(r):
    return (r.error.get("code"), r.error.get("field"))


def counts(ctx):
    return ctx.sql1("select (select count(*) from repair_orders) as repairs,"
                    " (select count(*) from handover_keys) as keys,"
                    " (select count(*) from record_entries) as entries,"
                    " (select string_agg(id || status, ',' order by id) from visits) as visits")


# ---- the walk-in's own words ----

def test_walk_in_problem_is_sealed_and_checked(ctx):
    clear(ctx)
    vid = walk_in(ctx, problem="  Battery drains overnight  ", serial="f2l walk 001")
    row = ctx.sql1("select problem, device_serial from visits where id = %s", (vid,))
    assert ctx.is_pd(row["problem"]) and row["device_serial"] == "F2LWALK001", row
    assert ctx.opened(row["problem"]) == "Battery drains overnight"
    before = counts(ctx)
    for bad in (12, "x" * 2001, ["a"]):
        r = ctx.client().post("/api/stores/%d/line" % ctx.paris, {"name": "Bad", "problem": bad})
        assert r.status == 422 and err(r) == ("invalid", "problem"), (bad, r)
    assert counts(ctx) == before
    # The staff queue shows it opened.
    q = ctx.staff("specialist").get("/api/stores/%d/queue" % ctx.paris).json
    assert q["waiting"][0]["visit_id"] == vid


# ---- the serving card ----

def test_serving_card_shows_service_words_device_history(ctx):
    clear(ctx)
    vid = booked(ctx, serial="F2LDEMO0PH13")  # the seeded device, with a repair in its record
    s = ctx.staff("specialist")
    serving(ctx, s, vid)
    r = s.get("/api/visits/%d" % vid)
    assert r.status == 200, r
    card = r.json
    assert card["service"]["name"], card
    assert card["problem"] == "The screen flickers after the update", card
    assert card["customer"]["name"] == "Hanna Over"
    assert card["device"]["serial"] == "F2LDEMO0PH13" and card["device"]["known"], card
    assert card["history"]["repairs"]["count"] >= 1, card
    assert card["history"]["repairs"]["latest"]["number"].startswith("R-"), card
    assert card["record_link"] == "#device/F2LDEMO0PH13"
    assert card["waited_s"] >= 0 and card["visit"]["status"] == "in_service"
    # A walk-in's card: their words, opened; no device without a serial.
    w = walk_in(ctx, problem="Won't charge")
    r = s.get("/api/visits/%d" % w)
    assert r.status == 200 and r.json["problem"] == "Won't charge" and r.json["device"] is None, r
    assert r.json["service"] is None and r.json["history"] is None
    # Who may not read it.
    assert ctx.client().get("/api/visits/%d" % vid).status == 401
    assert ctx.staff("lyon@carnet.test").get("/api/visits/%d" % vid).status == 403
    assert err(s.get("/api/visits/999999999")) == ("not_found", "id")


# ---- hand-over ----

def test_handover_carries_everything_to_the_bench(ctx):
    clear(ctx)
    vid = booked(ctx)
    s = ctx.staff("specialist")
    serving(ctx, s, vid)
    key = {"Idempotency-Key": "h-" + secrets.token_hex(8)}
    r = s.post("/api/visits/%d/handover" % vid, {"note": "Customer has a backup"}, headers=key)
    assert r.status == 201, (r, ctx.server.read_log()[-3000:])
    rep = r.json
    assert rep["state"] == "intake" and rep["device"]["serial"] == SERIAL, rep
    assert rep["problem"] == "The screen flickers after the update", rep
    assert [n["text"] for n in rep["notes"]] == ["Customer has a backup"], rep
    assert "status_token" not in rep
    # Exactly what GET /api/repairs/{id} answers (bar the clock).
    g = s.get("/api/repairs/%d" % rep["id"])
    assert g.status == 200
    assert {k: v for k, v in g.json.items() if k != "updated_at"} == \
        {k: v for k, v in rep.items() if k != "updated_at"}
    # The customer: the booking's, sealed as it was, and told by message with a status link.
    ro = ctx.sql1("select r.*, o.name, o.email, o.email_bi from repair_orders r"
                  " join device_owners o on o.id = r.contact_owner_id where r.id = %s", (rep["id"],))
    ap = ctx.sql1("select a.* from appointments a join visits v on v.appointment_id = a.id"
                  " where v.id = %s", (vid,))
    assert ro["name"] == ap["customer_name"] and ro["email_bi"] == ap["customer_email_bi"], ro
    assert ro["bench_since"] is not None and ro["technician_id"] is None
    msg = ctx.sql1("select * from outbox where ref_type = 'repair' and ref_id = %s", (rep["id"],))
    assert msg and ctx.opened(msg["recipient"]) == "hand.over@example.com", msg
    # The visit is done, its record entry names the repair.
    v = ctx.sql1("select * from visits where id = %s", (vid,))
    assert v["status"] == "done" and v["repair_id"] == rep["id"], v
    e = ctx.sql1("select content from record_entries where kind = 'visit' and ref_id = %s"
                 " and content->>'event' = 'done'", (vid,))
    assert e["content"]["repair_id"] == rep["id"] and e["content"]["repair_number"] == rep["number"]
    assert ctx.sql1("select status from appointments where id = %s", (ap["id"],))["status"] == "done"
    # Same key: the same repair, 201 again, nothing more made.
    before = counts(ctx)
    r2 = s.post("/api/visits/%d/handover" % vid, {"note": "Customer has a backup"}, headers=key)
    assert r2.status == 201 and r2.json["id"] == rep["id"], r2
    assert counts(ctx) == before
    # Without the key, the visit is done: 409.
    r3 = s.post("/api/visits/%d/handover" % vid, {})
    assert r3.status == 409 and err(r3) == ("not_in_service", "status"), r3
    # The key reused for another visit: 422, nothing made.
    other = walk_in(ctx, serial="F2LOTHER001")
    serving(ctx, s, other)
    before = counts(ctx)
    r4 = s.post("/api/visits/%d/handover" % other, {}, headers=key)
    assert r4.status == 422 and err(r4) == ("key_reused", "Idempotency-Key"), r4
    assert counts(ctx) == before

    # The bench queue: technicians see it, one takes it, a second gets 409.
    t1, t2 = ctx.staff("tech@carnet.test"), ctx.staff("tech2@carnet.test")
    b = t1.get("/api/stores/%d/bench" % ctx.paris)
    assert b.status == 200 and [x["id"] for x in b.json] == [rep["id"]], b
    assert b.json[0]["device"]["serial"] == SERIAL
    r = t1.post("/api/repairs/%d/take" % rep["id"])
    assert r.status == 200 and r.json["id"] == rep["id"], r
    r = t2.post("/api/repairs/%d/take" % rep["id"])
    assert r.status == 409 and err(r) == ("already_taken", "technician_id"), r
    assert ctx.sql1("select technician_id from repair_orders where id = %s",
                    (rep["id"],))["technician_id"] == ctx.tech
    assert t1.get("/api/stores/%d/bench" % ctx.paris).json == []
    assert ctx.sql1("select count(*) as n from events where type = 'bench_added'")["n"] >= 1
    assert ctx.sql1("select count(*) as n from events where type = 'bench_taken'")["n"] >= 1


def test_handover_walk_in_needs_a_serial_added_on_the_card(ctx):
    clear(ctx)
    vid = walk_in(ctx, problem="Cracked back glass", contact="+33 6 11 22 33 44")
    s = ctx.staff("specialist")
    serving(ctx, s, vid)
    before = counts(ctx)
    r = s.post("/api/visits/%d/handover" % vid, {})
    assert r.status == 422 and err(r) == ("serial_required", "serial"), r
    r = s.post("/api/visits/%d/handover" % vid, {"serial": "!!"})
    assert r.status == 422 and err(r)[1] == "serial", r
    for body, field in (({"note": 5}, "note"), ({"note": "x" * 2001}, "note"),
                        ({"technician_id": "x"}, "technician_id"),
                        ({"technician_id": ctx.spec}, "technician_id")):
        body["serial"] = "F2LWALKIN02"
        r = s.post("/api/visits/%d/handover" % vid, body)
        assert r.status == 422 and err(r) == ("invalid", field), (body, r)
    assert counts(ctx) == before
    # The serial is added, nothing else typed; to a named technician, so not on the bench.
    r = s.post("/api/visits/%d/handover" % vid, {"serial": "f2l walkin 02",
                                                  "technician_id": ctx.tech})
    assert r.status == 201, r
    assert r.json["problem"] == "Cracked back glass" and r.json["device"]["serial"] == "F2LWALKIN02"
    ro = ctx.sql1("select r.technician_id, o.name, o.phone from repair_orders r"
                  " join device_owners o on o.id = r.contact_owner_id where r.id = %s",
                  (r.json["id"],))
    assert ro["technician_id"] == ctx.tech and ctx.opened(ro["name"]) == "Wanda Walk", ro
    assert ctx.opened(ro["phone"]) == "+33611223344", ro
    assert ctx.sql1("select device_serial from visits where id = %s", (vid,))["device_serial"] \
        == "F2LWALKIN02"
    assert ctx.staff("tech@carnet.test").get("/api/stores/%d/bench" % ctx.paris).json == []


def test_handover_refused_unless_in_service_and_to_wrong_callers(ctx):
    clear(ctx)
    vid = walk_in(ctx, serial="F2LSTATE001")
    s = ctx.staff("specialist")
    before = counts(ctx)
    r = s.post("/api/visits/%d/handover" % vid, {})
    assert r.status == 409 and err(r) == ("not_in_service", "status"), r
    assert r.error["status"] == "waiting", r
    assert s.post("/api/visits/%d/call" % vid).status == 200
    r = s.post("/api/visits/%d/handover" % vid, {})
    assert r.status == 409 and err(r) == ("not_in_service", "status"), r
    assert s.post("/api/visits/%d/start" % vid).status == 200
    assert ctx.client().post("/api/visits/%d/handover" % vid, {}).status == 401
    assert ctx.staff("lyon@carnet.test").post("/api/visits/%d/handover" % vid, {}).status == 403
    assert ctx.staff("tech@carnet.test").post("/api/visits/%d/handover" % vid, {}).status == 403
    r = s.post("/api/visits/%d/handover" % vid, {}, headers={"Idempotency-Key": "a b"})
    assert r.status == 400 and err(r) == ("invalid", "Idempotency-Key"), r
    assert err(s.post("/api/visits/999999999/handover", {})) == ("not_found", "id")
    assert counts(ctx)["repairs"] == before["repairs"]
    # Another store's staff neither see nor take the bench.
    lyon = ctx.staff("lyon@carnet.test")
    assert lyon.get("/api/stores/%d/bench" % ctx.paris).status == 403
    assert ctx.client().get("/api/stores/%d/bench" % ctx.paris).status == 401
    rid = ctx.sql1("select id from repair_orders where store_id = %s limit 1", (ctx.paris,))["id"]
    assert lyon.post("/api/repairs/%d/take" % rid).status == 403
    assert s.post("/api/repairs/%d/take" % rid).status == 403  # a specialist does not take
    assert err(ctx.staff("tech@carnet.test").post("/api/repairs/999999999/take")) == \
        ("not_found", "id")


# ---- queue controls ----

def test_call_a_given_person_once(ctx):
    clear(ctx)
    a, b = walk_in(ctx), walk_in(ctx)
    s, m = ctx.staff("specialist"), ctx.staff("manager@carnet.test")
    # b is not next: out of turn, with a reason (test_call_reason)
    r = s.post("/api/visits/%d/call" % b, {"reason": "ready before the others"})
    assert r.status == 200 and r.json["specialist_id"] == ctx.spec, r
    r = m.post("/api/visits/%d/call" % b, {"reason": "ready before the others"})
    assert r.status == 409 and err(r) == ("not_waiting", "status"), r
    assert ctx.sql1("select specialist_id from visits where id = %s", (b,))["specialist_id"] == ctx.spec
    assert ctx.staff("lyon@carnet.test").post("/api/visits/%d/call" % a).status == 403
    assert ctx.staff("tech@carnet.test").post("/api/visits/%d/call" % a).status == 403
    assert ctx.sql1("select status from visits where id = %s", (a,))["status"] == "waiting"


def test_transfer_to_a_colleague(ctx):
    clear(ctx)
    a = walk_in(ctx)
    s = ctx.staff("specialist")
    r = s.post("/api/visits/%d/transfer" % a, {"staff_id": ctx.manager})
    assert r.status == 409 and err(r) == ("wrong_state", "status"), r
    assert s.post("/api/visits/%d/call" % a).status == 200
    lyon_id = ctx.sql1("select id from staff where email = 'lyon@carnet.test'")["id"]
    for body in ({}, {"staff_id": "1"}, {"staff_id": ctx.tech}, {"staff_id": lyon_id}):
        r = s.post("/api/visits/%d/transfer" % a, body)
        assert r.status == 422 and err(r) == ("invalid", "staff_id"), (body, r)
    assert ctx.sql1("select specialist_id from visits where id = %s", (a,))["specialist_id"] == ctx.spec
    r = s.post("/api/visits/%d/transfer" % a, {"staff_id": ctx.manager})
    assert r.status == 200 and r.json["specialist_id"] == ctx.manager, r
    assert ctx.staff("lyon@carnet.test").post("/api/visits/%d/transfer" % a,
                                               {"staff_id": ctx.spec}).status == 403


def test_no_show_after_max_skips(ctx):
    clear(ctx)
    m = ctx.staff("manager@carnet.test")
    r = m.get("/api/stores/%d/floor/settings" % ctx.paris)
    assert r.status == 200 and r.json["max_skips"] == 3, r
    for bad in (0, 21, "2"):
        r = m.put("/api/stores/%d/floor/settings" % ctx.paris, {"max_skips": bad})
        assert r.status == 422 and err(r) == ("invalid", "max_skips"), r
    assert ctx.staff("specialist").put("/api/stores/%d/floor/settings" % ctx.paris,
                          {"max_skips": 2}).status == 403
    r = m.put("/api/stores/%d/floor/settings" % ctx.paris, {"max_skips": 2})
    assert r.status == 200 and r.json["max_skips"] == 2, r
    a = walk_in(ctx)
    s = ctx.staff("specialist")
    assert s.post("/api/visits/%d/call" % a).status == 200
    r = s.post("/api/visits/%d/skip" % a)
    assert r.status == 200 and r.json["status"] == "waiting" and r.json["skips"] == 1, r
    assert s.post("/api/visits/%d/call" % a).status == 200
    r = s.post("/api/visits/%d/skip" % a)
    assert r.status == 200 and r.json["status"] == "left", r
    assert r.json["left_reason"] == "no_show" and r.json["skips"] == 2, r
    b = walk_in(ctx)
    r = s.post("/api/visits/%d/left" % b)
    assert r.status == 200 and r.json["left_reason"] == "left", r


def test_queue_names_who_a_hand_over_can_go_to(ctx):
    """The queue lists the store's technicians (for a hand-over to one by name) apart from the
    colleagues a visit can be transferred to; a Lyon technician is in neither."""
    q = ctx.staff("specialist").get("/api/stores/%d/queue" % ctx.paris)
    assert q.status == 200, q
    techs = {t["id"] for t in q.json["technicians"]}
    assert ctx.tech in techs and ctx.spec not in techs, q.json["technicians"]
    assert ctx.spec in {c["id"] for c in q.json["colleagues"]}
    lyon_tech = ctx.sql1("insert into staff (email, name, password_hash)"
                         " values ('lyon-tech@carnet.test', 'Lyon Tech', 'x') returning id")["id"]
    ctx.sql("insert into staff_roles (staff_id, store_id, role) values (%s, %s, 'technician')",
            (lyon_tech, ctx.lyon))
    q = ctx.staff("specialist").get("/api/stores/%d/queue" % ctx.paris)
    assert lyon_tech not in {t["id"] for t in q.json["technicians"]}, q.json["technicians"]
    lq = ctx.staff("lyon").get("/api/stores/%d/queue" % ctx.lyon)
    assert lyon_tech in {t["id"] for t in lq.json["technicians"]}, lq
