"""Browser journeys: Debian's chromium, driven by playwright-core from Node.js (tests/e2e/*.mjs),
against this module's carnetd and database with the demo seed. Each script asserts what the pages
show and saves screenshots under build/test-output/e2e; here we only run it and check it passed.
"""
import hashlib
import json
import os
import re
import secrets
import subprocess

import harness

E2E = os.path.join(harness.ROOT, "tests", "e2e")
JOURNEY_TIMEOUT_S = 300


def setup(ctx):
    ctx.seed_demo()
    if not os.path.isdir(os.path.join(E2E, "node_modules", "playwright-core")):
        # Pinned by package-lock.json; playwright-core downloads no browser of its own.
        subprocess.check_call(["npm", "ci", "--prefix", E2E, "--no-audit", "--no-fund",
                               "--loglevel", "error"])


def booked_soon(ctx, name, service, staff_email):
    """An appointment inside the check-in window AND on the store's local today, whatever the
    time of day the suite runs (ctx.checkin_soon: the name search only finds today's bookings;
    the booking page only offers future slots of opening hours)."""
    paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.clear_of_midnight(paris)
    starts = ctx.checkin_soon(paris)
    return ctx.sql1(
        "insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
        " blocked_until, code, customer_name, customer_email, device_serial, problem)"
        " select s.id, sv.id, st.id, %s::timestamptz,"
        " %s::timestamptz + make_interval(mins => sv.duration_min),"
        " %s::timestamptz + make_interval(mins => sv.duration_min), booking_new_code(), %s,"
        " 'customer@example.com', null, 'e2e'"
        " from stores s join services sv on sv.store_id = s.id and sv.name = %s"
        " join staff st on st.email = %s where s.id = %s returning code",
        (starts, starts, starts, name, service, staff_email, paris))["code"]


def manage_link(ctx, code):
    """A manage-link token for a booking made by booked_soon (carnetd stores its SHA-256 hash, link.c)."""
    token = secrets.token_urlsafe(32)
    ctx.sql("insert into appointment_tokens (token_hash, appointment_id, purpose, expires_at)"
            " select %s, id, 'manage', ends_at + interval '30 days' from appointments"
            " where code = %s and status = 'booked'",
            (hashlib.sha256(token.encode()).hexdigest(), code))
    return token


def journey(ctx, name, env=None):
    ctx.clear_of_midnight(ctx.sql1("select id from stores where code = 'paris-opera'")["id"])
    out = os.path.join(ctx.outdir, "e2e")
    os.makedirs(out, exist_ok=True)
    r = subprocess.run(
        ["node", os.path.join(E2E, name + ".mjs"), "--base",
         "http://127.0.0.1:%d" % ctx.server.port, "--out", out],
        cwd=harness.ROOT, capture_output=True, text=True, timeout=JOURNEY_TIMEOUT_S,
        env=dict(os.environ, **(env or {})))
    with open(os.path.join(out, name + ".log"), "w") as f:
        f.write(r.stdout + r.stderr)
    if r.returncode != 0:
        # The reason first: a CI log that keeps only the ends of long output still shows it.
        raise AssertionError("journey %s failed:\n%s\n%s" % (name, r.stderr[-2000:],
                                                              r.stdout[-1500:]))


def test_page_modules_parse(ctx):
    # A syntax error in a view loaded on demand would otherwise only show when someone opens it.
    subprocess.check_call([os.path.join(E2E, "check-syntax.sh")])


def test_english_and_french_have_the_same_keys(ctx):
    def dictionary(lang):
        with open(os.path.join(harness.ROOT, "web", "js", "i18n", lang + ".js")) as f:
            src = f.read()
        return src[src.index("const %s = {" % lang):src.index("export default")]
    en, fr = dictionary("en"), dictionary("fr")
    keys = lambda block: set(re.findall(r"^  '([a-z0-9_.]+)':", block, re.M))  # noqa: E731
    assert keys(en) and keys(en) == keys(fr), (keys(en) ^ keys(fr))
    # every key a page uses exists
    used = set()
    for folder, _, files in os.walk(os.path.join(harness.ROOT, "web")):
        for name in files:
            if name.endswith((".html", ".js")) and "vendor" not in folder:
                with open(os.path.join(folder, name)) as f:
                    text = f.read()
                used |= set(re.findall(r"data-i18n=\"([a-z0-9_]+\.[a-z0-9_.]+)\"", text))
                used |= set(re.findall(r"\bt\('([a-z0-9_]+\.[a-z0-9_.]+)'", text))
    # t('prefix.' + value): a key built at run time; at least one key of that prefix exists.
    prefixes = {u for u in used if u.endswith(".")}
    assert (used - prefixes) <= keys(en), (used - prefixes) - keys(en)
    assert all(any(k.startswith(p) for k in keys(en)) for p in prefixes), prefixes


def test_customer_books_and_manages(ctx):
    # A closure ahead, beyond the days the journey books, for the store's "closed on" line.
    ctx.sql("insert into store_closures (store_id, day, reason)"
            " select id, floor_today(id) + 40, 'Inventory' from stores where code = 'paris-opera'"
            " on conflict do nothing")
    journey(ctx, "book")


def test_specialist_checks_in_and_calls(ctx):
    code = booked_soon(ctx, "Dana Booked", "Setup", "specialist@carnet.test")
    self_code = booked_soon(ctx, "Eli Self", "Setup", "manager@carnet.test")
    scan_code = booked_soon(ctx, "Fay Scan", "Mac diagnostics", "tech@carnet.test")
    journey(ctx, "floor", {"CARNET_E2E_CODE": code,
                           "CARNET_E2E_MANAGE_TOKEN": manage_link(ctx, self_code),
                           "CARNET_E2E_SCAN_TOKEN": manage_link(ctx, scan_code)})


def test_wall_board_desk_clock_qr_and_chime(ctx):
    paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.sql("update visits set status = 'left', left_at = now() where store_id = %s"
            " and status in ('waiting', 'called', 'in_service')", (paris,))
    journey(ctx, "board")


def test_kiosk_check_in_and_walk_in(ctx):
    code = booked_soon(ctx, "Kim Kiosk", "Setup", "tech2@carnet.test")
    scan = manage_link(ctx, booked_soon(ctx, "Sam Scan", "Setup", "admin@carnet.test"))
    journey(ctx, "kiosk", {"CARNET_E2E_KIOSK_CODE": code, "CARNET_E2E_KIOSK_NAME": "Kim Kiosk",
                           "CARNET_E2E_KIOSK_SCAN_TOKEN": scan})


def test_manager_dashboard_and_setup(ctx):
    # Yesterday in Paris, for the dashboard's floor report: two served walk-ins (waits 120 and
    # 360 s, services 300 and 900 s) and a booking nobody came to.
    ctx.sql("insert into visits (store_id, kind, day, ticket, name, status, arrived_at,"
            " queued_at, called_at, service_started_at, done_at)"
            " select s.id, 'walk_in', y, 900 + i, 'Past Visitor', 'done', a, a,"
            " a + make_interval(secs => w), a + make_interval(secs => w),"
            " a + make_interval(secs => w + sv)"
            " from stores s, (values (1, 120, 300), (2, 360, 900)) v(i, w, sv),"
            " lateral (select (now() at time zone s.timezone)::date - 1 as y) d,"
            " lateral (select (d.y + time '11:00') at time zone s.timezone as a) x"
            " where s.code = 'paris-opera'")
    ctx.sql("insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
            " blocked_until, status, code, customer_name, customer_email)"
            " select s.id, sv.id, st.id, a, a + interval '30 minutes', a + interval '30 minutes',"
            " 'no_show', booking_new_code(), 'Nora Noshow', 'nora@example.com'"
            " from stores s join services sv on sv.store_id = s.id and sv.name = 'Setup'"
            " join staff st on st.email = 'specialist@carnet.test',"
            " lateral (select (((now() at time zone s.timezone)::date - 1) + time '10:00')"
            " at time zone s.timezone as a) x where s.code = 'paris-opera'")
    journey(ctx, "manager")


def test_manager_runs_the_rota(ctx):
    """Issue 14 point 3: the week grid, a weekly shift, copying a week, a refused delete, and
    closures edited and deleted. Théo has a booking at 11:00 on the Monday of the journey's
    week (the coming one), inside his demo shift."""
    week = ctx.sql1("select d + (8 - extract(isodow from d)::int) as w from"
                    " (select (now() at time zone timezone)::date as d from stores"
                    " where code = 'paris-opera') x")["w"]
    ctx.sql("insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
            " blocked_until, code, customer_name, customer_email)"
            " select s.id, sv.id, st.id, a, a + interval '30 minutes', a + interval '30 minutes',"
            " booking_new_code(), 'Rita Rota', 'rita@example.com'"
            " from stores s join services sv on sv.store_id = s.id and sv.name = 'Battery'"
            " join staff st on st.email = 'tech@carnet.test',"
            " lateral (select (%s::date + time '11:00') at time zone s.timezone as a) x"
            " where s.code = 'paris-opera'", (week,))
    journey(ctx, "rota", {"CARNET_E2E_ROTA_WEEK": week.isoformat()})


def test_dashboard_range_and_csv(ctx):
    # Issue 14, point 4: three visits served in Paris 20 days ago, inside the last 30 days but
    # not the last 7, so choosing the longer range changes the figures.
    ctx.sql("insert into visits (store_id, kind, day, ticket, name, status, arrived_at,"
            " queued_at, called_at, service_started_at, done_at)"
            " select s.id, 'walk_in', y, 950 + i, 'Past Visitor', 'done', a, a,"
            " a + interval '5 minutes', a + interval '5 minutes', a + interval '20 minutes'"
            " from stores s, generate_series(1, 3) i,"
            " lateral (select (now() at time zone s.timezone)::date - 20 as y) d,"
            " lateral (select (d.y + time '11:00') at time zone s.timezone"
            " + make_interval(mins => 30 * i) as a) x"
            " where s.code = 'paris-opera'")
    journey(ctx, "dashboard")


def test_door_to_bench(ctx):
    """Issue 13: check-in -> serving card -> hand-over -> bench queue -> diagnosis, with a
    booking that holds the serial and the problem, and an earlier visit of the device at Lyon."""
    serial = "F2LDOOR" + secrets.token_hex(3).upper()
    problem = "The screen goes black after ten minutes"
    code = booked_soon(ctx, "Dora Door", "Setup", "specialist@carnet.test")
    ctx.sql("update appointments set device_serial = %s, problem = %s,"
            " customer_email = 'dora.door@example.com' where code = %s", (serial, problem, code))
    ctx.sql("insert into visits (store_id, kind, day, ticket, name, status, arrived_at, queued_at,"
            " done_at, device_serial)"
            " select id, 'walk_in', current_date - 30, 990, 'Earlier Visitor', 'done',"
            " now() - interval '30 days', now() - interval '30 days', now() - interval '30 days', %s"
            " from stores where code = 'lyon-part-dieu'", (serial,))
    # The journey's customer is next: other journeys of this module leave people in Paris's line.
    ctx.sql("update visits set status = 'left', left_at = now()"
            " where status in ('waiting', 'called', 'in_service')"
            " and store_id = (select id from stores where code = 'paris-opera')")
    journey(ctx, "door", {"CARNET_E2E_MANAGE_TOKEN": manage_link(ctx, code),
                          "CARNET_E2E_NAME": "Dora Door", "CARNET_E2E_EMAIL": "dora.door@example.com",
                          "CARNET_E2E_SERIAL": serial, "CARNET_E2E_PROBLEM": problem,
                          "CARNET_E2E_SERVICE": "Setup"})


def test_technician_diagnoses_and_repairs_customer_follows(ctx):
    journey(ctx, "repair")


def test_promise_forecast_moves_and_dashboard(ctx):
    # Issue 17 point 3 (h17-promise): the forecast on the ticket, the slip job, promises kept.
    journey(ctx, "promise")


def test_technician_reads_the_devices_conversation_at_another_store(ctx):
    journey(ctx, "conversation")


def test_technician_records_intake_with_photo_and_signature(ctx):
    journey(ctx, "intake")


def test_technician_imports_real_tools_reports(ctx):
    journey(ctx, "importers")


def test_estimate_with_lines_approved_on_a_phone(ctx):
    journey(ctx, "estimate")


def standby_offer(ctx, name, at):
    """A standby place with a slot offered and held, as the standby job leaves it, six days
    ahead at `at` (local time, before opening: no booking there); returns the offer's link
    token as its message carries it (/standby/#TOKEN; the database keeps its hash) and the
    held appointment's id."""
    token = secrets.token_urlsafe(32)
    appt = ctx.sql1(
        "insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
        " blocked_until, code, customer_name, customer_email)"
        " select s.id, sv.id, st.id, t, t + interval '45 minutes', t + interval '45 minutes',"
        " booking_new_code(), %s, 'standby-e2e@example.com'"
        " from stores s join services sv on sv.store_id = s.id and sv.name = 'Battery'"
        " join staff st on st.email = 'tech@carnet.test',"
        " lateral (select ((now() at time zone s.timezone)::date + 6 + %s::time)"
        " at time zone s.timezone as t) x where s.code = 'paris-opera'"
        " returning id, store_id, service_id, starts_at", (name, at))
    ctx.sql("insert into standby (store_id, service_id, day, name, email, token_hash, status,"
            " offered_appointment_id, offered_at, offered_starts_at, offer_expires_at,"
            " offer_token_hash)"
            " select %s, %s, (%s::timestamptz at time zone s.timezone)::date, %s,"
            " 'standby-e2e@example.com', %s, 'offered', %s, now(), %s,"
            " now() + interval '10 minutes', message_token_hash(%s)"
            " from stores s where s.id = %s",
            (appt["store_id"], appt["service_id"], appt["starts_at"], name,
             secrets.token_hex(32), appt["id"], appt["starts_at"], token, appt["store_id"]))
    return token, appt


def test_standby_customer_takes_an_offer_by_its_link(ctx):
    held, _ = standby_offer(ctx, "Hana Held", "07:00")
    gone, appt = standby_offer(ctx, "Gaspard Gone", "08:00")
    journey(ctx, "standby", {"CARNET_E2E_OFFER_TOKEN": held, "CARNET_E2E_GONE_TOKEN": gone,
                             "CARNET_E2E_GONE_CANCEL": "/api/stores/%d/appointments/%d/cancel"
                                                       % (appt["store_id"], appt["id"])})


def test_customer_answers_survey(ctx):
    # A visit's survey, as the messages domain offers it when a visit ends (its link is
    # /survey/#TOKEN; the database keeps message_token_hash(TOKEN)).
    token = secrets.token_urlsafe(32)
    ctx.sql("insert into surveys (store_id, ref_type, ref_id, token_hash, expires_at)"
            " select s.id, 'visit', 987654321, message_token_hash(%s), now() + interval '14 days'"
            " from stores s where s.code = 'paris-opera'", (token,))
    plain = secrets.token_urlsafe(32)
    ctx.sql("insert into surveys (store_id, ref_type, ref_id, token_hash, expires_at)"
            " select s.id, 'visit', 987654320, message_token_hash(%s), now() + interval '14 days'"
            " from stores s where s.code = 'paris-opera'", (plain,))
    # One whose score was recorded 20 minutes ago: past the 15 minutes to correct it.
    late = secrets.token_urlsafe(32)
    ctx.sql("insert into surveys (store_id, ref_type, ref_id, token_hash, expires_at,"
            " answered_at, satisfaction)"
            " select s.id, 'visit', 987654319, message_token_hash(%s), now() + interval '14 days',"
            " now() - interval '20 minutes', 2 from stores s where s.code = 'paris-opera'", (late,))
    journey(ctx, "survey", {"CARNET_E2E_SURVEY_TOKEN": token, "CARNET_E2E_SURVEY_PLAIN_TOKEN": plain,
                            "CARNET_E2E_SURVEY_LATE_TOKEN": late, "CARNET_E2E_LOCALE": "fr-FR"})


def test_observation_overnight_and_callbacks(ctx):
    # A call-back already past its time, for the list to flag: a repair kept overnight whose
    # promised call-back time has since passed.
    paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    c = ctx.client()
    c.login("tech@carnet.test", "carnet-demo")
    r = c.post("/api/stores/%d/repairs" % paris, {
        "serial": "E2E0OBS002", "problem": "overheats",
        "intake": {"checklist": [{"item": "screen", "ok": True}]},
        "owner": {"name": "Olga Late", "email": "olga@example.com"}})
    assert r.status == 201, r
    at = ctx.sql1("select to_char((now() + interval '1 hour') at time zone 'UTC',"
                  " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') as t")["t"]
    assert c.post("/api/repairs/%d/observation" % r.json["id"], {"callback_at": at}).status == 200
    ctx.sql("update repair_observations set callback_at = now() - interval '20 minutes'"
            " where repair_id = %s", (r.json["id"],))
    journey(ctx, "callbacks", {"CARNET_E2E_LATE": r.json["number"]})


def test_french_validation_errors(ctx):
    # French everywhere (issue #13 point 7): every form's invalid input on a French page shows
    # French errors only; a survey link for the survey form.
    token = secrets.token_urlsafe(32)
    ctx.sql("insert into surveys (store_id, ref_type, ref_id, token_hash, expires_at)"
            " select s.id, 'visit', 987654322, message_token_hash(%s), now() + interval '14 days'"
            " from stores s where s.code = 'paris-opera'", (token,))
    code = booked_soon(ctx, "Françoise Française", "Setup", "specialist@carnet.test")
    journey(ctx, "french", {"CARNET_E2E_SURVEY_TOKEN": token, "CARNET_E2E_LOCALE": "fr-FR",
                            "CARNET_E2E_MANAGE_TOKEN": manage_link(ctx, code)})


def test_admin_sets_up_a_store_and_manager_prices_a_service(ctx):
    """Issue 14: a store created with its hours in the chain view, listed there and on the
    booking page, closed and reopened; a service priced, shown on the booking page, archived.
    A second store has a booking to come: closing it asks whether to cancel it, and once closed
    the staff app's store picker still offers it, marked closed."""
    store = ctx.sql1("insert into stores (code, name, timezone) values"
                     " ('closing-e2e', 'Carnet Closing E2E', 'Europe/Paris') returning id")["id"]
    service = ctx.sql1("insert into services (store_id, name, duration_min, skill)"
                       " values (%s, 'Repair', 30, 'repair') returning id", (store,))["id"]
    staff = ctx.sql1("insert into staff (email, name, password_hash)"
                     " values ('closing-e2e@carnet.test', 'Closing Tech', 'x') returning id")["id"]
    ctx.sql("insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
            " blocked_until, code, customer_name, customer_email)"
            " values (%s, %s, %s, now() + interval '5 days', now() + interval '5 days 30 minutes',"
            " now() + interval '5 days 30 minutes', booking_new_code(), 'Clara Closing',"
            " 'customer@example.com')", (store, service, staff))
    journey(ctx, "stores", {"CARNET_E2E_CLOSING": "closing-e2e"})


def test_calendar_feeds_made_copied_and_revoked(ctx):
    journey(ctx, "calendars")


def test_manager_sets_up_a_webhook(ctx):
    journey(ctx, "webhooks")


def test_passport_checked_in_the_browser_and_tampering_caught(ctx):
    journey(ctx, "passport")


def test_tablet_keeps_working_offline(ctx):
    """Issue 17 point 1: two check-ins and a diagnosis made offline reach the server once each,
    even sent again; a check-in of a booking cancelled meanwhile is shown as a conflict."""
    paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.clear_of_midnight(paris)
    starts = ctx.checkin_soon(paris)
    rows = []
    for name in ("Olga Offline", "Otto Offline", "Oona Cancelled"):
        # Each with a staff member of its own: the no-double-booking rule stays out of the way.
        st = ctx.sql1("insert into staff (email, name, password_hash) values (%s, 'Offline Staff', 'x')"
                      " returning id", ("off%s@carnet.test" % secrets.token_hex(6),))["id"]
        rows.append(ctx.sql1(
            "insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
            " blocked_until, code, customer_name, customer_email)"
            " select %s, sv.id, %s, %s::timestamptz, %s::timestamptz + interval '30 minutes',"
            " %s::timestamptz + interval '30 minutes', booking_new_code(), %s, 'off@example.com'"
            " from services sv where sv.store_id = %s and sv.skill = 'setup' limit 1"
            " returning id, code", (paris, st, starts, starts, starts, name, paris)))
    serial = "C02OFFL" + secrets.token_hex(3).upper()
    spec = {"store": paris, "serial": serial, "date": str(ctx.store_today(paris)),
            "codes": [r["code"] for r in rows], "ids": [r["id"] for r in rows]}
    try:
        journey(ctx, "offline", {"CARNET_E2E_OFFLINE": json.dumps(spec)})
    finally:
        # The journey gives the manager a PIN to lock with; other tests expect none.
        ctx.sql("update staff set pin_hash = null where email = 'manager@carnet.test'")
    # What the server holds, row by row: one visit per check-in, one diagnostic session.
    for r in rows[:2]:
        n = ctx.sql1("select count(*) as n from visits where appointment_id = %s", (r["id"],))["n"]
        assert n == 1, (r, n)
    assert ctx.sql1("select count(*) as n from visits where appointment_id = %s",
                    (rows[2]["id"],))["n"] == 0
    assert ctx.sql1("select status from appointments where id = %s",
                    (rows[2]["id"],))["status"] == "cancelled"
    assert ctx.sql1("select count(*) as n from diagnostic_sessions s join devices d"
                    " on d.id = s.device_id where d.serial = %s", (serial,))["n"] == 1
    assert ctx.sql1("select count(*) as n from record_entries e join devices d"
                    " on d.id = e.device_id where d.serial = %s and e.kind = 'note'",
                    (serial,))["n"] == 1


def test_queue_says_why_and_asks_why_out_of_turn(ctx):
    # Issue 17: nobody else waits in Paris; a booked customer whose time has come is checked in.
    paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.sql("update visits set status = 'left', left_at = now(), left_reason = 'left'"
            " where store_id = %s and status in ('waiting', 'called', 'in_service')", (paris,))
    ctx.sql("insert into visits (store_id, kind, day, ticket, name, due_at, arrived_at, queued_at)"
            " values (%s, 'booked', floor_today(%s), 977, 'Cora Booked',"
            " now() - interval '4 minutes', now() - interval '12 minutes',"
            " now() - interval '12 minutes')", (paris, paris))
    journey(ctx, "callnext")
    row = ctx.sql1("select k.override, k.override_reason, k.position, k.reason ->> 'code' as code"
                   " from visit_calls k join visits v on v.id = k.visit_id"
                   " where v.store_id = %s and k.called_at > now() - interval '10 minutes'"
                   " order by k.id desc limit 1", (paris,))
    assert row["override"] and row["position"] == 3 and row["code"] == "walk_in", row
    assert ctx.is_pd(row["override_reason"]), row
    assert ctx.opened(row["override_reason"]) == "Only collecting a charger left yesterday", row
