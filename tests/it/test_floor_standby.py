"""Standby: a full day's waiting list; a freed slot is offered to the first customer, held for
standby_hold_s, and passed on when not claimed."""
import hashlib
import json
import re
import secrets
import threading

import psycopg2

from harness import Client, data_key_file, wait_for
from test_personal_data import _key, blind

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def setup(ctx):
    ctx.seed_demo()
    # The module's server runs no jobs: the tests run the standby job themselves, or start a
    # carnetd that does.
    ctx._server = ctx.start_carnetd(args=["--no-jobs"])
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    # A service only one person can do, on one shift of one slot: the day is easy to fill.
    ctx.service = ctx.sql1("""insert into services (store_id, name, duration_min, skill)
                              values (%s, 'Standby test', 30, 'sbtest') returning id""",
                           (ctx.paris,))["id"]
    ctx.tech = ctx.sql1("""insert into staff (email, name, password_hash)
                           values ('sb@carnet.test', 'Solo', 'x') returning id""")["id"]
    ctx.sql("insert into staff_skills values (%s, %s, 'sbtest')", (ctx.tech, ctx.paris))
    today = ctx.store_today(ctx.paris)  # the store's local date, not the database's
    ctx.day = ctx.sql1("""select d::date as d from generate_series(%s::date + 2,
                              %s::date + 9, interval '1 day') d
                          where extract(isodow from d) between 1 and 6 limit 1""",
                       (today, today))["d"]
    ctx.start = ctx.sql1("select (%s::date + time '10:00') at time zone 'Europe/Paris' as t",
                         (ctx.day,))["t"]
    ctx.sql("""insert into shifts (store_id, staff_id, starts_at, ends_at)
               values (%s, %s, %s, %s + interval '30 minutes')""",
            (ctx.paris, ctx.tech, ctx.start, ctx.start))


def fill_day(ctx, name="Full Day", staff=None):
    """The booking that fills the day, told apart by its problem: its name is sealed soon."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(6))
    return ctx.sql1("""insert into appointments (store_id, service_id, staff_id, starts_at,
                           ends_at, blocked_until, code, customer_name, customer_email, problem)
                       values (%s, %s, %s, %s, %s + interval '30 minutes',
                               %s + interval '30 minutes', %s, %s, 'x@example.com', 'fills')
                       returning id""",
                    (ctx.paris, ctx.service, staff or ctx.tech, ctx.start, ctx.start, ctx.start, code,
                     name))["id"]


def clear(ctx):
    ctx.sql("delete from standby_slots")
    ctx.sql("delete from standby")
    ctx.sql("delete from appointment_tokens")
    ctx.sql("delete from appointments")


def join(ctx, name, **kw):
    body = {"name": name, "service_id": ctx.service, "date": str(ctx.day),
            "email": "%s@example.com" % name.lower()}
    body.update(kw)
    r = ctx.client().post("/api/stores/%d/standby" % ctx.paris, body)
    assert r.status == 201, r
    return r.json


def status(ctx, token):
    r = ctx.client().get("/api/standby/" + token)
    assert r.status == 200, r
    return r.json


def free_slots(ctx):
    return ctx.sql1("select count(*) as n from booking_slots(%s, %s, %s, %s, null)",
                    (ctx.paris, ctx.service, ctx.day, ctx.day))["n"]


def test_join_needs_a_full_day(ctx):
    clear(ctx)
    r = ctx.client().post("/api/stores/%d/standby" % ctx.paris,
                          {"name": "Early", "service_id": ctx.service, "date": str(ctx.day),
                           "phone": "+33612345678"})
    assert r.status == 409 and r.error["code"] == "slots_available", r
    assert ctx.sql1("select count(*) as n from standby")["n"] == 0



def test_a_standby_place_rests_sealed_and_reads_clear(ctx):
    """The module's carnetd runs no jobs (so no sealing job): what rests sealed was sealed by the
    request."""
    clear(ctx)
    fill_day(ctx)
    key = _key(data_key_file(ctx.run.workdir))
    a = join(ctx, " Émile Standby ", email="Emile.Standby@Example.com", phone="+33622222222")
    row = ctx.sql1("select * from standby where id = %s", (a["id"],))
    for col in ("name", "email", "phone"):
        assert row[col].startswith("{{pd:") and "Standby" not in row[col], (col, row)
    assert ctx.opened(row["name"]) == "Émile Standby" and row["initial"] == "É."
    assert ctx.opened(row["email"]) == "Emile.Standby@Example.com"
    assert ctx.opened(row["phone"]) == "+33622222222"
    assert row["email_bi"] == blind(key, "email", "emile.standby@example.com")
    assert row["phone_bi"] == blind(key, "phone", "+33622222222")
    # The offer's booking takes the sealed values over as they are, blind indexes and initial
    # too; the offer goes to the email, sealed, and is delivered in clear.
    ctx.sql("update appointments set status = 'cancelled', cancelled_at = now() "
            "where problem = 'fills'")
    assert ctx.sql1("select job_expire_standby_offers(60) as n")["n"] == 1
    ap = ctx.sql1("select a.* from appointments a join standby s "
                  "on s.offered_appointment_id = a.id where s.id = %s", (a["id"],))
    assert (ap["customer_name"], ap["customer_email"], ap["customer_phone"]) == \
        (row["name"], row["email"], row["phone"]), ap
    assert (ap["customer_email_bi"], ap["customer_phone_bi"], ap["customer_initial"]) == \
        (row["email_bi"], row["phone_bi"], "É."), ap
    msg = offer_messages(ctx, a["id"])
    assert len(msg) == 1 and msg[0]["channel"] == "email", msg
    assert msg[0]["recipient"] == row["email"], msg
    # The customer reads their place and claims it: the booking reads clear.
    r = ctx.client().post("/api/standby/%s/claim" % a["token"])
    assert r.status == 200, r
    assert r.json["appointment"]["customer"] == {
        "name": "Émile Standby", "email": "Emile.Standby@Example.com",
        "phone": "+33622222222"}, r.json


def test_standby_contact_is_checked_before_it_is_sealed(ctx):
    clear(ctx)
    fill_day(ctx)
    c = ctx.client()
    p = "/api/stores/%d/standby" % ctx.paris
    good = {"name": "Ok", "service_id": ctx.service, "date": str(ctx.day), "email": "a@b.fr"}
    for body, field in ((dict(good, name="  "), "name"), (dict(good, name="x" * 201), "name"),
                        (dict(good, email="a b@c.fr"), "email"),
                        (dict(good, email="<a@b.fr>"), "email"),
                        (dict(good, email="a@b@c"), "email"),
                        (dict(good, email="x" * 250 + "@b.fr"), "email"),
                        (dict(good, email=None, phone="+33 6 12 34 56 78"), "phone"),
                        (dict(good, phone="+123456"), "phone"),
                        (dict(good, phone="+1234567890123456"), "phone"),
                        (dict(good, phone=33612345678), "phone")):
        r = c.post(p, body)
        assert r.status == 422 and r.error["field"] == field, (body, r)
    assert ctx.sql1("select count(*) as n from standby")["n"] == 0
    r = c.post(p, dict(good, initial="XXX", email_bi="0" * 64, phone_bi="1" * 64))
    assert r.status == 201, r
    row = ctx.sql1("select initial, email_bi, phone_bi from standby where id = %s", (r.json["id"],))
    assert row["initial"] == "O." and row["email_bi"] != "0" * 64 and row["phone_bi"] is None, row

def test_offer_hold_expiry_and_claim(ctx):
    clear(ctx)
    appt = fill_day(ctx)
    assert free_slots(ctx) == 0
    a = join(ctx, "Anna")
    b = join(ctx, "Basile", phone="+33611111111")
    assert a["status"] == "waiting" and a["position"] == 1 and b["position"] == 2, (a, b)
    assert a["token"] and ctx.sql1("select token_hash from standby where id = %s",
                                   (a["id"],))["token_hash"] != a["token"]
    # Nothing to offer yet.
    assert ctx.sql1("select job_expire_standby_offers(60) as n")["n"] == 0
    r = ctx.client().post("/api/standby/%s/claim" % a["token"])
    assert r.status == 409 and r.error["code"] == "no_offer", r
    # The booking is cancelled: the slot is offered to Anna and held for her.
    ctx.sql("update appointments set status = 'cancelled', cancelled_at = now() where id = %s",
            (appt,))
    assert ctx.sql1("select job_expire_standby_offers(60) as n")["n"] == 1
    sa = status(ctx, a["token"])
    assert sa["status"] == "offered" and sa["offer"]["appointment_id"], sa
    assert status(ctx, b["token"])["status"] == "waiting"
    assert free_slots(ctx) == 0, "the offered slot must be held"
    row = ctx.sql1("""select extract(epoch from offer_expires_at - offered_at)::int as hold
                      from standby where id = %s""", (a["id"],))
    assert row["hold"] == 60, row
    # Anna lets it lapse: it passes to Basile in the same run.
    ctx.sql("update standby set offer_expires_at = now() - interval '1 second' where id = %s",
            (a["id"],))
    r = ctx.client().post("/api/standby/%s/claim" % a["token"])
    assert r.status == 409 and r.error["code"] == "offer_expired", r
    assert ctx.sql1("select job_expire_standby_offers(60) as n")["n"] == 2
    assert status(ctx, a["token"])["status"] == "expired"
    sb = status(ctx, b["token"])
    assert sb["status"] == "offered", sb
    r = ctx.client().post("/api/standby/%s/claim" % a["token"])
    assert r.status == 409 and r.error["code"] == "not_offered", r
    # Basile claims: a real booking with its own manage link.
    r = ctx.client().post("/api/standby/%s/claim" % b["token"])
    assert r.status == 200, r
    assert r.json["standby"]["status"] == "booked" and r.json["code"] and r.json["manage_token"]
    m = ctx.client().get("/api/manage/" + r.json["manage_token"])
    assert m.status == 200, m
    ap = ctx.sql1("select status, customer_name, customer_phone from appointments where id = %s",
                  (r.json["appointment"]["id"],))
    # The place's sealed values, carried over as they are.
    assert ap["customer_name"].startswith("{{pd:"), ap
    assert {k: ctx.opened(v) for k, v in ap.items()} == {
        "status": "booked", "customer_name": "Basile", "customer_phone": "+33611111111"}, ap
    assert r.json["appointment"]["customer"]["name"] == "Basile", r
    # Claimed once only.
    r = ctx.client().post("/api/standby/%s/claim" % b["token"])
    assert r.status == 409, r
    # Staff boards heard about it.
    types = [e["type"] for e in ctx.sql("select type from events order by id")]
    assert "standby_offered" in types and "standby_claimed" in types


def test_leaving_with_an_offer_passes_it_on(ctx):
    clear(ctx)
    appt = fill_day(ctx)
    a = join(ctx, "Aline")
    b = join(ctx, "Bruno")
    ctx.sql("update appointments set status = 'cancelled', cancelled_at = now() where id = %s",
            (appt,))
    ctx.sql("select job_expire_standby_offers(60)")
    assert status(ctx, a["token"])["status"] == "offered"
    r = ctx.client().post("/api/standby/%s/leave" % a["token"])
    assert r.status == 200 and r.json["status"] == "left", r
    ctx.sql("select job_expire_standby_offers(60)")
    assert status(ctx, b["token"])["status"] == "offered"
    r = ctx.client().post("/api/standby/%s/leave" % a["token"])
    assert r.status == 409 and r.error["code"] == "not_waiting", r


def test_carnetd_runs_the_job_with_its_hold(ctx):
    clear(ctx)
    appt = fill_day(ctx)
    a = join(ctx, "Held")
    s = ctx.start_carnetd(env={"CARNET_STANDBY_HOLD": "10"})
    ctx.sql("update appointments set status = 'cancelled', cancelled_at = now() where id = %s",
            (appt,))
    wait_for(lambda: s.client.get("/api/standby/" + a["token"]).json["status"] == "offered",
             "the standby offer")
    row = ctx.sql1("""select status, extract(epoch from offer_expires_at - offered_at)::int as hold
                      from standby where id = %s""", (a["id"],))
    assert row == {"status": "offered", "hold": 10}, row
    s.stop()


def test_standby_bad_inputs_change_nothing(ctx):
    clear(ctx)
    fill_day(ctx)
    c = ctx.client()
    p = "/api/stores/%d/standby" % ctx.paris
    other = ctx.sql1("select id from services where store_id = %s limit 1", (ctx.lyon,))["id"]
    good = {"name": "Ok", "service_id": ctx.service, "date": str(ctx.day), "email": "a@b.fr"}
    cases = [
        (dict(good, service_id=None), 422, "service_id"),
        (dict(good, service_id=other), 422, "service_id"),
        (dict(good, date="2020-01-01"), 422, "date"),
        (dict(good, date="tomorrow"), 422, "date"),
        (dict(good, name=""), 422, "name"),
        ({k: v for k, v in good.items() if k != "email"}, 422, "email"),
        (dict(good, email="nope"), 422, "email"),
        (dict(good, phone="0612"), 422, "phone"),
    ]
    for body, st, field in cases:
        r = c.post(p, body)
        assert r.status == st and r.error["field"] == field, (body, r)
    r = c.post("/api/stores/999999/standby", good)
    assert r.status == 404 and r.error["field"] == "store", r
    assert ctx.sql1("select count(*) as n from standby")["n"] == 0
    for m, path in (("GET", "/api/standby/nope"), ("POST", "/api/standby/nope/claim"),
                    ("POST", "/api/standby/nope/leave")):
        r = c.request(m, path)
        assert r.status == 404 and r.error["field"] == "token", (path, r)


def test_a_moved_booking_frees_its_slot_too(ctx):
    clear(ctx)
    appt = fill_day(ctx)
    a = join(ctx, "Mover")
    # The booking moves to another day: its old slot is free for the standby list.
    ctx.sql("update appointments set starts_at = starts_at + interval '1 day', "
            "ends_at = ends_at + interval '1 day', blocked_until = blocked_until + interval '1 day' "
            "where id = %s", (appt,))
    assert ctx.sql1("select job_expire_standby_offers(60) as n")["n"] == 1
    sa = status(ctx, a["token"])
    assert sa["status"] == "offered" and sa["offer"]["starts_at"], sa


# ---- with two carnetd running the jobs (offers every 200 ms, messages every 50 ms) ----

PW = "carnet-demo"
JOBS = {"CARNET_STANDBY_HOLD": "120", "CARNET_OUTBOX_INTERVAL_MS": "50"}
OFFER_LINK = re.compile(r"(http://127\.0\.0\.1:\d+)/standby/#([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])")


def job_servers(ctx):
    return [ctx.start_carnetd(env=JOBS) for _ in range(2)]


def stop_all(servers):
    for s in servers:
        s.stop()


def offer_messages(ctx, standby_id):
    return ctx.sql("select * from outbox where kind = 'standby_offer' and ref_type = 'standby' "
                   "and ref_id = %s order by id", (standby_id,))


def refs_outbox(ctx, standby_id, appointment_id):
    return ctx.sql1("select count(*) as n from outbox where (ref_type = 'standby' and ref_id = %s) "
                    "or (ref_type = 'appointment' and ref_id = %s)",
                    (standby_id, appointment_id))["n"]


def manager(server):
    c = Client(server.port)
    c.login("manager@carnet.test", PW)
    return c


def offered(ctx, sb):
    ctx.sql("update appointments set status = 'cancelled', cancelled_at = now() "
            "where status = 'booked' and problem = 'fills'")
    wait_for(lambda: status(ctx, sb["token"])["status"] == "offered", "the standby offer")
    return status(ctx, sb["token"])


def test_the_offer_message_leads_to_the_offer_and_claims_it(ctx):
    clear(ctx)
    fill_day(ctx)
    a = join(ctx, "Odile")
    servers = job_servers(ctx)
    try:
        offered(ctx, a)
        wait_for(lambda: [m for m in offer_messages(ctx, a["id"]) if m["status"] == "sent"],
                 "the offer message sent")
        msgs = offer_messages(ctx, a["id"])
        assert len(msgs) == 1, msgs
        wait_for(lambda: ctx.delivered_by(servers, msgs[0]), "the offer message's file")
        files = ctx.delivered_by(servers, msgs[0])
        assert len(files) == 1, files
        m = OFFER_LINK.search(files[0]["body"])
        assert m and m.group(1) in ["http://127.0.0.1:%d" % s.port for s in servers], files[0]
        token = m.group(2)
        assert token != a["token"] and "{{" not in files[0]["body"], files[0]["body"]
        # Stored only as its hash, as every customer link.
        row = ctx.sql1("select offer_token_hash from standby where id = %s", (a["id"],))
        assert row["offer_token_hash"] == hashlib.sha256(token.encode()).hexdigest(), row
        assert token not in json.dumps(ctx.sql("select * from standby"), default=str)
        # The link opens the standby page, which shows the offer, its expiry, and that it is
        # held; on either process, and the same place as the link given when joining.
        page = servers[0].client.get("/standby/")
        assert page.status == 200 and b"/js/standby.js" in page.raw, page
        for s in servers:
            r = s.client.get("/api/standby/" + token)
            assert r.status == 200 and r.json["status"] == "offered", r
            assert r.json["offer"]["held"] is True and r.json["offer"]["expires_at"], r.json
            assert r.json["offer"]["starts_at"] == status(ctx, a["token"])["offer"]["starts_at"]
        # Claimed through the offer's link: booked and confirmed once.
        r = servers[1].client.post("/api/standby/%s/claim" % token)
        assert r.status == 200 and r.json["standby"]["status"] == "booked", r
        kinds = [x["kind"] for x in ctx.sql("select kind from outbox where ref_type = "
                                            "'appointment' and ref_id = %s",
                                            (r.json["appointment"]["id"],))]
        assert kinds.count("booking_confirmed") == 1, kinds
        assert status(ctx, a["token"])["status"] == "booked"
    finally:
        stop_all(servers)


def test_a_claim_of_a_slot_staff_cancelled_is_refused_and_sends_nothing(ctx):
    clear(ctx)
    fill_day(ctx)
    a = join(ctx, "Paule")
    b = join(ctx, "Quentin")
    servers = job_servers(ctx)
    try:
        held = offered(ctx, a)["offer"]["appointment_id"]
        # Staff cancel the held slot from their day list, where it shows under Paule's name.
        r = manager(servers[0]).post("/api/stores/%d/appointments/%d/cancel" % (ctx.paris, held))
        assert r.status == 200 and r.json["status"] == "cancelled", r
        # The jobs pass the slot to Quentin; Paule's page says her offer is no longer held.
        wait_for(lambda: status(ctx, b["token"])["status"] == "offered", "the slot passed on")
        sa = status(ctx, a["token"])
        assert sa["status"] == "offered" and sa["offer"]["held"] is False, sa
        before = refs_outbox(ctx, a["id"], held)
        r = servers[1].client.post("/api/standby/%s/claim" % a["token"])
        assert r.status == 409, r
        assert (r.error["code"], r.error["field"]) == ("offer_gone", "offer"), r.error
        assert refs_outbox(ctx, a["id"], held) == before, "a refused claim queued a message"
        assert ctx.sql1("select count(*) as n from appointment_tokens where appointment_id = %s",
                        (held,))["n"] == 0
        assert ctx.sql1("select status from appointments where id = %s",
                        (held,))["status"] == "cancelled"
        # Quentin's offer is the held one: his claim books it.
        r = servers[0].client.post("/api/standby/%s/claim" % b["token"])
        assert r.status == 200 and r.json["appointment"]["status"] == "booked", r
    finally:
        stop_all(servers)


def test_a_claim_of_a_slot_staff_moved_is_refused_and_sends_nothing(ctx):
    clear(ctx)
    fill_day(ctx)
    a = join(ctx, "Romane")
    later = ctx.sql1("select %s::timestamptz + interval '1 hour' as t", (ctx.start,))["t"]
    shift = ctx.sql1("insert into shifts (store_id, staff_id, starts_at, ends_at) "
                     "values (%s, %s, %s, %s + interval '30 minutes') returning id",
                     (ctx.paris, ctx.tech, later, later))["id"]
    servers = job_servers(ctx)
    try:
        held = offered(ctx, a)["offer"]["appointment_id"]
        r = manager(servers[1]).post("/api/stores/%d/appointments/%d/reschedule"
                                     % (ctx.paris, held), {"starts_at": later.isoformat()})
        assert r.status == 200 and r.json["status"] == "booked", r
        sa = status(ctx, a["token"])
        assert sa["status"] == "offered" and sa["offer"]["held"] is False, sa
        before = refs_outbox(ctx, a["id"], held)
        r = servers[0].client.post("/api/standby/%s/claim" % a["token"])
        assert r.status == 409 and r.error["code"] == "offer_gone", r
        assert refs_outbox(ctx, a["id"], held) == before, "a refused claim queued a message"
        assert ctx.sql1("select count(*) as n from appointment_tokens where appointment_id = %s",
                        (held,))["n"] == 0
    finally:
        stop_all(servers)
        clear(ctx)  # the moved appointment, off the module's one-slot day
        ctx.sql("delete from shifts where id = %s", (shift,))


def test_webhooks_hear_of_a_standby_booking_once_claimed(ctx):
    """A standby offer holds its slot with a 'booked' appointment: webhook receivers hear
    nothing of it (neither its making nor its lapsing) until the customer claims it, then
    booking.created; a claimed booking's cancellation is told as any other's."""
    clear(ctx)
    ctx.sql("delete from webhook_endpoints")
    ctx.sql("""insert into webhook_endpoints (store_id, url, events, secret)
               values (%s, 'https://hooks.example.com/sb', '{booking.created,booking.cancelled}',
                       '{{pd:test}}')""", (ctx.paris,))
    first = ctx.sql1("select coalesce(max(id), 0) as n from webhook_events")["n"]

    def said():
        return [(e["type"], e["appt"]) for e in ctx.sql(
            """select e.type, (e.payload->'data'->>'appointment_id')::bigint as appt
               from webhook_events e join webhook_deliveries d on d.event_id = e.id
               where e.id > %s order by e.id""", (first,))]

    appt = fill_day(ctx)
    a = join(ctx, "Agnes")
    b = join(ctx, "Bertrand")
    c = join(ctx, "Cyril")
    ctx.sql("update appointments set status = 'cancelled', cancelled_at = now() where id = %s",
            (appt,))
    assert ctx.sql1("select job_expire_standby_offers(60) as n")["n"] == 1  # offered to Agnes
    held = status(ctx, a["token"])["offer"]["appointment_id"]
    assert said() == [("booking.created", appt), ("booking.cancelled", appt)], said()
    # Agnes lets it lapse (its placeholder is cancelled), Bertrand leaves his: nothing said.
    ctx.sql("update standby set offer_expires_at = now() - interval '1 second' where id = %s",
            (a["id"],))
    assert ctx.sql1("select job_expire_standby_offers(60) as n")["n"] == 2
    r = ctx.client().post("/api/standby/%s/leave" % b["token"])
    assert r.status == 200, r
    ctx.sql("select job_expire_standby_offers(60)")
    sc = status(ctx, c["token"])
    assert sc["status"] == "offered", sc
    assert ctx.sql1("select status from appointments where id = %s", (held,))["status"] == \
        "cancelled"
    assert said() == [("booking.created", appt), ("booking.cancelled", appt)], said()
    # Cyril claims: now it is a booking.
    r = ctx.client().post("/api/standby/%s/claim" % c["token"])
    assert r.status == 200, r
    mine = r.json["appointment"]["id"]
    assert mine == sc["offer"]["appointment_id"]
    assert said()[2:] == [("booking.created", mine)], said()
    data = ctx.sql1("select payload from webhook_events where id = (select max(id) from "
                    "webhook_events)")["payload"]
    assert data["data"]["status"] == "booked" and data["data"]["starts_at"], data
    # Cancelled once claimed: told like any booking's.
    ctx.sql("update appointments set status = 'cancelled', cancelled_at = now() where id = %s",
            (mine,))
    assert said()[2:] == [("booking.created", mine), ("booking.cancelled", mine)], said()
    ctx.sql("delete from webhook_endpoints")


def _job_in_thread(ctx, out):
    """Runs the standby job on a connection of its own (the module's is shared)."""
    def run():
        conn = psycopg2.connect(ctx.url)
        try:
            cur = conn.cursor()
            cur.execute("select job_expire_standby_offers(60)")
            out["n"] = cur.fetchone()[0]
            conn.commit()
        finally:
            conn.close()
    t = threading.Thread(target=run)
    t.start()
    return t


def _shift_back(ctx):
    ctx.sql("""insert into shifts (store_id, staff_id, starts_at, ends_at)
               select %s, %s, %s, %s + interval '30 minutes'
               where not exists (select 1 from shifts where staff_id = %s)""",
            (ctx.paris, ctx.tech, ctx.start, ctx.start, ctx.tech))


def test_the_offer_waits_for_a_shift_removal_and_offers_no_shift_gone(ctx):
    """The offer books as any booking does (booking_claim): it takes the person's booking lock,
    so a removal of their shift held open in a transaction (as psql would) makes the job wait;
    once the removal commits, the freed slot rests on no shift and is offered to no one."""
    clear(ctx)
    appt = fill_day(ctx)
    a = join(ctx, "Raced")
    ctx.sql("update appointments set status = 'cancelled', cancelled_at = now() where id = %s",
            (appt,))
    conn = psycopg2.connect(ctx.url)
    try:
        cur = conn.cursor()
        cur.execute("select booking_lock_staff(%s)", (ctx.tech,))
        cur.execute("delete from shifts where staff_id = %s", (ctx.tech,))
        out = {}
        t = _job_in_thread(ctx, out)
        ctx.wait_lock_waiters(1, "job_expire_standby_offers")
        assert "n" not in out
        conn.commit()
        t.join(60)
        assert out == {"n": 0}, out
    finally:
        conn.close()
        _shift_back(ctx)
    assert status(ctx, a["token"])["status"] == "waiting"
    assert offer_messages(ctx, a["id"]) == []
    assert ctx.sql1("select count(*) as n from appointments where status = 'booked'")["n"] == 0


def test_no_offer_on_a_disabled_or_unskilled_person(ctx):
    """A freed slot goes only to someone who could take it now: enabled, with the skill, on
    shift. When its person is disabled or lost the skill, nothing is offered; someone else on
    shift with the skill takes it."""
    for change, undo in (
            ("update staff set disabled_at = now() where id = %s",
             "update staff set disabled_at = null where id = %s"),
            ("delete from staff_skills where staff_id = %s and skill = 'sbtest'",
             "insert into staff_skills values (%s, {paris}, 'sbtest')")):
        clear(ctx)
        appt = fill_day(ctx)
        a = join(ctx, "Nobody")
        ctx.sql("update appointments set status = 'cancelled', cancelled_at = now() "
                "where id = %s", (appt,))
        ctx.sql(change, (ctx.tech,))
        try:
            assert ctx.sql1("select job_expire_standby_offers(60) as n")["n"] == 0
            assert status(ctx, a["token"])["status"] == "waiting"
        finally:
            ctx.sql(undo.format(paris=ctx.paris), (ctx.tech,))
    # Another person with the skill on that shift: the slot freed by the first is theirs.
    clear(ctx)
    appt = fill_day(ctx)
    other = ctx.sql1("""insert into staff (email, name, password_hash)
                        values ('sb2@carnet.test', 'Duo', 'x') returning id""")["id"]
    ctx.sql("insert into staff_skills values (%s, %s, 'sbtest')", (other, ctx.paris))
    ctx.sql("insert into shifts (store_id, staff_id, starts_at, ends_at) values "
            "(%s, %s, %s, %s + interval '30 minutes')", (ctx.paris, other, ctx.start, ctx.start))
    try:
        second = fill_day(ctx, staff=other)
        assert free_slots(ctx) == 0
        a = join(ctx, "Someone")
        # Both bookings cancelled while the first person is disabled: one offer, on the other.
        ctx.sql("update staff set disabled_at = now() where id = %s", (ctx.tech,))
        ctx.sql("update appointments set status = 'cancelled', cancelled_at = now() "
                "where id in (%s, %s)", (appt, second))
        assert ctx.sql1("select job_expire_standby_offers(60) as n")["n"] == 1
        ap = ctx.sql1("select a.staff_id from appointments a join standby s "
                      "on s.offered_appointment_id = a.id where s.id = %s", (a["id"],))
        assert ap["staff_id"] == other, ap
    finally:
        ctx.sql("update staff set disabled_at = null where id = %s", (ctx.tech,))
        clear(ctx)
        ctx.sql("delete from shifts where staff_id = %s", (other,))
        ctx.sql("delete from staff_skills where staff_id = %s", (other,))
