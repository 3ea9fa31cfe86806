"""Calendar feeds (issue 14, point 8): private .ics URLs of a store's appointments or one staff
member's shifts and appointments; RFC 5545 text parsed here by a small parser (no icalendar
package); the feed follows bookings, moves and cancellations; DST in Europe/Paris and a zone
without DST; who may make, list and revoke feeds; tokens only ever hashed."""
import datetime
import hashlib
import re
import zoneinfo

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
TOKEN_PATH_RE = re.compile(r"^/api/stores/(\d+)/calendar/([A-Za-z0-9_-]{43})\.ics$")


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    ctx.ids = {r["email"].split("@")[0]: r["id"]
               for r in ctx.sql("select id, email from staff where email like '%%@carnet.test'")}


# ---- a small RFC 5545 reader ----

def unfold(text):
    """Content lines: every line ends with CRLF, is at most 75 octets, and a line that starts
    with a space continues the one before."""
    assert text.endswith("\r\n"), text[-20:]
    raw = text.encode()
    lines = raw.split(b"\r\n")[:-1]
    for ln in lines:
        assert len(ln) <= 75, ln
        ln.decode()  # a fold never splits a UTF-8 sequence
    assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF"
    out = []
    for ln in lines:
        if ln.startswith(b" "):
            out[-1] += ln[1:]
        else:
            out.append(ln)
    return [x.decode() for x in out]


def unescape(v):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), v)


def parse(text):
    """The calendar as nested dicts: {"props": {NAME: [(params, value)]}, "subs": [(NAME, c)]}."""
    stack = [{"name": "ROOT", "props": {}, "subs": []}]
    for ln in unfold(text):
        m = re.match(r"^([A-Z0-9-]+)((?:;[^:]*)?):(.*)$", ln)
        assert m, ln
        name, params, value = m.group(1), m.group(2), m.group(3)
        if name == "BEGIN":
            c = {"name": value, "props": {}, "subs": []}
            stack[-1]["subs"].append(c)
            stack.append(c)
        elif name == "END":
            assert stack[-1]["name"] == value, (stack[-1]["name"], value)
            stack.pop()
        else:
            p = dict(x.split("=", 1) for x in params[1:].split(";")) if params else {}
            stack[-1]["props"].setdefault(name, []).append((p, value))
    assert len(stack) == 1 and len(stack[0]["subs"]) == 1, "one VCALENDAR"
    return stack[0]["subs"][0]


def prop(c, name, text=False):
    v = c["props"][name][0][1]
    return unescape(v) if text else v


def subs(c, name):
    return [s for s in c["subs"] if s["name"] == name]


def events(cal):
    return {prop(e, "UID"): e for e in subs(cal, "VEVENT")}


def offset(text):
    sign = -1 if text[0] == "-" else 1
    return sign * datetime.timedelta(hours=int(text[1:3]), minutes=int(text[3:5]))


def to_utc(cal, local_text):
    """A local DTSTART/DTEND read with the calendar's own VTIMEZONE: the offset of the last
    observance whose onset (local, before the change) is not after it."""
    local = datetime.datetime.strptime(local_text, "%Y%m%dT%H%M%S")
    (tz,) = subs(cal, "VTIMEZONE")
    obs = sorted(((datetime.datetime.strptime(prop(o, "DTSTART"), "%Y%m%dT%H%M%S"),
                   offset(prop(o, "TZOFFSETTO"))) for o in tz["subs"]), key=lambda x: x[0])
    current = None
    for onset, off in obs:
        if onset <= local:
            current = off
    assert current is not None, (local_text, obs)
    return (local - current).replace(tzinfo=datetime.timezone.utc)


# ---- helpers ----

def staff(ctx, who):
    return ctx.staff(who)


def create(c, store, body):
    return c.post("/api/stores/%d/calendar-feeds" % store, body)


def store_feed(ctx, c, store):
    """A new feed of the store's appointments; the earlier tests' ones are revoked first, as a
    diary has at most five working feeds."""
    ctx.sql("update calendar_feeds set revoked_at = now() where kind = 'store' and store_id = %s"
            " and revoked_at is null", (store,))
    r = create(c, store, {"kind": "store"})
    assert r.status == 201, r
    return r.json


def fetch(ctx, url, headers=None):
    path = url[url.index("/api/"):]
    return ctx.client().get(path, headers=headers)


def feed_text(ctx, url):
    r = fetch(ctx, url)
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/calendar; charset=utf-8", r.headers
    assert r.header("Cache-Control") == "private, max-age=300", r.headers
    assert r.header("ETag"), r.headers
    return r.raw.decode()


def paris_service(ctx, name):
    return ctx.sql1("select id from services where store_id = %s and name = %s",
                    (ctx.paris, name))["id"]


def next_workday(ctx, offset_days=2):
    d = ctx.store_today(ctx.paris) + datetime.timedelta(days=offset_days)
    while d.isoweekday() == 7:
        d += datetime.timedelta(days=1)
    return d


def paris_local(day, hhmm):
    h, m = map(int, hhmm.split(":"))
    return datetime.datetime(day.year, day.month, day.day, h, m, tzinfo=PARIS).isoformat()


def book(ctx, service, starts_at, name="Zoé Martin"):
    r = ctx.client().post("/api/stores/%d/appointments" % ctx.paris, {
        "service_id": service, "starts_at": starts_at, "name": name,
        "email": "zoe@example.com", "phone": "+33 6 11 22 33 44", "problem": "screen cracked"})
    assert r.status == 201, r
    return r.json


def assert_no_booking_code(ctx, text, store):
    """No booking code of the store anywhere in a feed's text (unfolded)."""
    flat = "\n".join(unfold(text))
    codes = [r["code"] for r in ctx.sql("select code from appointments where store_id = %s",
                                        (store,))]
    assert codes
    for code in codes:
        assert code not in flat, code


def feeds_count(ctx):
    return ctx.sql1("select count(*) as n, count(revoked_at) as revoked from calendar_feeds")


# ---- the store's feed follows bookings ----

def test_store_feed_follows_bookings(ctx):
    m = staff(ctx, "manager")
    feed = store_feed(ctx, m, ctx.paris)
    assert feed["kind"] == "store" and feed["staff_id"] is None and feed["live"], feed
    path = feed["url"][feed["url"].index("/api/"):]
    mt = TOKEN_PATH_RE.match(path)
    assert mt and int(mt.group(1)) == ctx.paris and mt.group(2) == feed["token"], feed["url"]
    row = ctx.sql1("select token_hash from calendar_feeds where id = %s", (feed["id"],))
    assert row["token_hash"] == hashlib.sha256(feed["token"].encode()).hexdigest()

    svc = paris_service(ctx, "iPhone screen")
    day = next_workday(ctx)
    b = book(ctx, svc, paris_local(day, "11:00"))
    appt, code = b["appointment"], b["code"]

    text = feed_text(ctx, feed["url"])
    cal = parse(text)
    assert prop(cal, "VERSION") == "2.0" and prop(cal, "PRODID"), cal["props"]
    assert prop(cal, "X-WR-CALNAME", True) == "Carnet Paris Opéra", cal["props"]
    (tz,) = subs(cal, "VTIMEZONE")
    assert prop(tz, "TZID") == "Europe/Paris"
    evs = events(cal)
    uid = "appointment-%d@127.0.0.1" % appt["id"]
    ev = evs[uid]
    assert ev["props"]["DTSTART"][0][0] == {"TZID": "Europe/Paris"}, ev["props"]["DTSTART"]
    assert prop(ev, "DTSTART") == day.strftime("%Y%m%d") + "T110000", prop(ev, "DTSTART")
    assert prop(ev, "DTEND") == day.strftime("%Y%m%d") + "T120000"
    assert to_utc(cal, prop(ev, "DTSTART")) == datetime.datetime.fromisoformat(appt["starts_at"])
    assert prop(ev, "STATUS") == "CONFIRMED" and prop(ev, "SEQUENCE") == "0", ev["props"]
    assert re.match(r"^\d{8}T\d{6}Z$", prop(ev, "DTSTAMP")), prop(ev, "DTSTAMP")
    summary = prop(ev, "SUMMARY", True)
    assert summary == "iPhone screen · Z.", summary
    # A leaked URL gives away no customer: no name, email, phone or their words, nor the
    # booking code that checks them in at the kiosk.
    for secret in ("Zoé", "Martin", "zoe@example.com", "33611223344", "11 22 33", "cracked",
                   code):
        assert secret not in "\n".join(unfold(text)), secret
    assert prop(ev, "DESCRIPTION", True).startswith("Booking (booked)"), prop(ev, "DESCRIPTION", True)

    # Unchanged: the same text and ETag; If-None-Match answers 304.
    r1, r2 = fetch(ctx, feed["url"]), fetch(ctx, feed["url"])
    assert r1.raw == r2.raw and r1.header("ETag") == r2.header("ETag"), (r1, r2)
    r = fetch(ctx, feed["url"], headers={"If-None-Match": r1.header("ETag")})
    assert r.status == 304 and not r.raw, r
    r = ctx.client().request("HEAD", feed["url"][feed["url"].index("/api/"):])
    assert r.status == 200 and r.header("ETag") == r1.header("ETag") and not r.raw, r

    # Moved: same UID, a higher SEQUENCE, the new time, a new ETag.
    token = b["manage_token"]
    r = ctx.client().post("/api/manage/%s/reschedule" % token,
                          {"starts_at": paris_local(day, "15:30")})
    assert r.status == 200, r
    r3 = fetch(ctx, feed["url"])
    assert r3.header("ETag") != r1.header("ETag")
    ev = events(parse(r3.raw.decode()))[uid]
    assert prop(ev, "DTSTART").endswith("T153000") and prop(ev, "SEQUENCE") == "1", ev["props"]
    assert fetch(ctx, feed["url"], headers={"If-None-Match": r1.header("ETag")}).status == 200

    # Cancelled: stays, as CANCELLED, with a higher SEQUENCE.
    assert ctx.client().post("/api/manage/%s/cancel" % token).status == 200
    ev = events(parse(feed_text(ctx, feed["url"])))[uid]
    assert prop(ev, "STATUS") == "CANCELLED" and prop(ev, "SEQUENCE") == "2", ev["props"]
    assert "(cancelled)" in prop(ev, "DESCRIPTION", True)

    # Another customer's initial; an old cancellation leaves the feed.
    b2 = book(ctx, svc, paris_local(day, "17:00"), name="anne")
    uid2 = "appointment-%d@127.0.0.1" % b2["appointment"]["id"]
    ev2 = events(parse(feed_text(ctx, feed["url"])))[uid2]
    assert prop(ev2, "SUMMARY", True).endswith(" · A.")
    ctx.sql("update appointments set cancelled_at = now() - interval '20 days' where id = %s",
            (appt["id"],))
    assert uid not in events(parse(feed_text(ctx, feed["url"])))
    assert_no_booking_code(ctx, feed_text(ctx, feed["url"]), ctx.paris)

    # The list names the feed without its URL or token; the fetch was noted.
    r = m.get("/api/stores/%d/calendar-feeds" % ctx.paris)
    assert r.status == 200 and r.json["can_manage"] is True, r
    listed = {f["id"]: f for f in r.json["feeds"]}
    assert listed[feed["id"]]["last_fetched_at"], listed
    assert feed["token"].encode() not in r.raw and b"url" not in r.raw and b"token" not in r.raw


def test_staff_feed_shows_my_shifts_and_appointments(ctx):
    t = staff(ctx, "tech")
    r = create(t, ctx.paris, {"kind": "staff"})
    assert r.status == 201 and r.json["staff_id"] == ctx.ids["tech"], r
    url = r.json["url"]
    svc = paris_service(ctx, "iPhone screen")
    day = next_workday(ctx, 3)
    booked = [book(ctx, svc, paris_local(day, "10:00"))["appointment"],
              book(ctx, svc, paris_local(day, "10:00"))["appointment"]]
    mine = [a for a in booked if a["staff_id"] == ctx.ids["tech"]]
    theirs = [a for a in booked if a["staff_id"] != ctx.ids["tech"]]
    assert len(mine) == 1 and len(theirs) == 1, booked
    cal = parse(feed_text(ctx, url))
    name = ctx.sql1("select name from staff where id = %s", (ctx.ids["tech"],))["name"]
    assert prop(cal, "X-WR-CALNAME", True) == name + " · Carnet Paris Opéra", cal["props"]
    evs = events(cal)
    assert "appointment-%d@127.0.0.1" % mine[0]["id"] in evs
    assert "appointment-%d@127.0.0.1" % theirs[0]["id"] not in evs
    shifts = ctx.sql("select id, starts_at from shifts where staff_id = %s and store_id = %s"
                     " and starts_at::date = %s", (ctx.ids["tech"], ctx.paris, day))
    assert shifts
    sev = evs["shift-%d@127.0.0.1" % shifts[0]["id"]]
    assert prop(sev, "TRANSP") == "TRANSPARENT" and prop(sev, "SUMMARY", True).startswith("Shift")
    assert to_utc(cal, prop(sev, "DTSTART")) == shifts[0]["starts_at"]
    assert_no_booking_code(ctx, feed_text(ctx, url), ctx.paris)
    # Shifts of colleagues are not in it.
    other = ctx.sql1("select id from shifts where staff_id = %s limit 1", (ctx.ids["tech2"],))
    assert "shift-%d@127.0.0.1" % other["id"] not in evs

    # A moved shift says so: a higher SEQUENCE and a new DTSTAMP (042), the same UID; a change
    # a calendar does not show bumps nothing.
    later = ctx.sql1("select id from shifts where staff_id = %s and store_id = %s"
                     " and starts_at > %s order by starts_at limit 1",
                     (ctx.ids["tech"], ctx.paris, shifts[0]["starts_at"]))["id"]
    suid = "shift-%d@127.0.0.1" % later
    ctx.sql("update shifts set updated_at = updated_at - interval '1 day', exception = exception"
            " where id = %s", (later,))
    before = events(parse(feed_text(ctx, url)))[suid]
    assert prop(before, "SEQUENCE") == "0", before["props"]
    ctx.sql("update shifts set starts_at = starts_at + interval '30 minutes' where id = %s",
            (later,))
    moved = events(parse(feed_text(ctx, url)))[suid]
    assert prop(moved, "SEQUENCE") == "1", moved["props"]
    assert prop(moved, "DTSTART") != prop(before, "DTSTART")
    assert prop(moved, "DTSTAMP") > prop(before, "DTSTAMP"), (moved["props"], before["props"])
    assert prop(moved, "LAST-MODIFIED") == prop(moved, "DTSTAMP")

    # A manager makes one for a staff member of the store.
    m = staff(ctx, "manager")
    r = create(m, ctx.paris, {"kind": "staff", "staff_id": ctx.ids["tech2"]})
    assert r.status == 201 and r.json["staff_id"] == ctx.ids["tech2"], r
    cal = parse(feed_text(ctx, r.json["url"]))
    assert "appointment-%d@127.0.0.1" % theirs[0]["id"] in events(cal)
    # tech2 sees it in their list (it shows them), tech does not.
    ids = [f["id"] for f in staff(ctx, "tech2").get(
        "/api/stores/%d/calendar-feeds" % ctx.paris).json["feeds"]]
    assert r.json["id"] in ids
    lst = t.get("/api/stores/%d/calendar-feeds" % ctx.paris)
    assert lst.json["can_manage"] is False and r.json["id"] not in [f["id"] for f in lst.json["feeds"]]


def test_bad_inputs_change_nothing(ctx):
    m, s = staff(ctx, "manager"), staff(ctx, "specialist")
    before = feeds_count(ctx)
    for body, status, code, field in [
            ({}, 422, "invalid", "kind"),
            ({"kind": "week"}, 422, "invalid", "kind"),
            ({"kind": 1}, 422, "invalid", "kind"),
            ({"kind": "staff", "staff_id": ctx.ids["lyon"]}, 422, "invalid", "staff_id"),
            ({"kind": "staff", "staff_id": "2"}, 422, "invalid", "staff_id"),
            ({"kind": "staff", "staff_id": 999999}, 422, "invalid", "staff_id"),
            ({"kind": "store", "staff_id": ctx.ids["tech"]}, 422, "invalid", "staff_id")]:
        r = create(m, ctx.paris, body)
        assert r.status == status and r.error["code"] == code and r.error["field"] == field, \
            (body, r)
    # Not a manager: not the store's feed, not someone else's.
    r = create(s, ctx.paris, {"kind": "store"})
    assert r.status == 403 and r.error["code"] == "forbidden", r
    r = create(s, ctx.paris, {"kind": "staff", "staff_id": ctx.ids["tech"]})
    assert r.status == 403 and r.error["code"] == "forbidden", r
    r = m.post("/api/stores/%d/calendar-feeds" % ctx.paris, raw=b"[1]",
               headers={"Content-Type": "application/json"})
    assert r.status == 400, r
    r = m.post("/api/stores/999999/calendar-feeds", {"kind": "staff"})
    assert r.status in (403, 404), r
    r = m.delete("/api/stores/%d/calendar-feeds/abc" % ctx.paris)
    assert r.status == 404 and r.error["field"] == "id", r
    r = m.delete("/api/stores/%d/calendar-feeds/999999" % ctx.paris)
    assert r.status == 404 and r.error["field"] == "id", r
    assert feeds_count(ctx) == before


def test_a_diary_has_at_most_five_working_feeds(ctx):
    s = staff(ctx, "specialist")
    live = ctx.sql1("select count(*) as n from calendar_feeds where kind = 'staff'"
                    " and staff_id = %s and revoked_at is null", (ctx.ids["specialist"],))["n"]
    made = [create(s, ctx.paris, {"kind": "staff"}).json for _ in range(5 - live)]
    before = feeds_count(ctx)
    r = create(s, ctx.paris, {"kind": "staff"})
    assert r.status == 409 and r.error["code"] == "too_many_feeds" and r.error["field"] == "kind", r
    assert feeds_count(ctx) == before
    assert s.delete("/api/stores/%d/calendar-feeds/%d" % (ctx.paris, made[0]["id"])).status == 200
    assert create(s, ctx.paris, {"kind": "staff"}).status == 201


def test_a_feed_the_database_answers_badly_is_an_internal_error(ctx):
    """Not a JSON object (unparsable for carnetd, or another kind of value): a 500 internal,
    not a 503 out_of_memory that a client would retry."""
    feed = store_feed(ctx, staff(ctx, "manager"), ctx.paris)
    saved = ctx.sql1("select pg_get_functiondef('ics_feed_read'::regproc) as d")["d"]
    try:
        for answer in ("null", "[1]", '"feed"'):
            ctx.sql("create or replace function ics_feed_read(p_store bigint, p_token_hash text)"
                    " returns json language sql as $$ select %s::json $$", (answer,))
            r = fetch(ctx, feed["url"])
            assert r.status == 500 and r.error["code"] == "internal", (answer, r)
    finally:
        ctx.sql(saved)
    assert fetch(ctx, feed["url"]).status == 200


def test_who_may_not(ctx):
    m = staff(ctx, "manager")
    feed = store_feed(ctx, m, ctx.paris)
    before = feeds_count(ctx)
    anon = ctx.client()
    assert anon.post("/api/stores/%d/calendar-feeds" % ctx.paris, {"kind": "staff"}).status == 401
    assert anon.get("/api/stores/%d/calendar-feeds" % ctx.paris).status == 401
    assert anon.delete("/api/stores/%d/calendar-feeds/%d" % (ctx.paris, feed["id"])).status == 401
    lyon = staff(ctx, "lyon")
    assert lyon.get("/api/stores/%d/calendar-feeds" % ctx.paris).status == 403
    assert lyon.delete("/api/stores/%d/calendar-feeds/%d" % (ctx.paris, feed["id"])).status == 403
    assert create(lyon, ctx.paris, {"kind": "staff"}).status == 403
    # Through their own store, a Paris feed is no feed of theirs.
    r = lyon.delete("/api/stores/%d/calendar-feeds/%d" % (ctx.lyon, feed["id"]))
    assert r.status == 404, r
    assert all(f["id"] != feed["id"] for f in
               lyon.get("/api/stores/%d/calendar-feeds" % ctx.lyon).json["feeds"])
    # A specialist of Paris can neither see nor revoke the manager's store feed.
    s = staff(ctx, "specialist")
    assert all(f["id"] != feed["id"] for f in
               s.get("/api/stores/%d/calendar-feeds" % ctx.paris).json["feeds"])
    r = s.delete("/api/stores/%d/calendar-feeds/%d" % (ctx.paris, feed["id"]))
    assert r.status == 404, r
    assert feeds_count(ctx) == before
    assert fetch(ctx, feed["url"]).status == 200


def test_tokens_of_another_store_revoked_or_unknown_are_404(ctx):
    m = staff(ctx, "manager")
    feed = store_feed(ctx, m, ctx.paris)
    token = feed["token"]
    other = ctx.client()
    flip = "A" if token[-1] != "A" else "B"
    answers = []
    for path in ["/api/stores/%d/calendar/%s.ics" % (ctx.lyon, token),
                 "/api/stores/999999/calendar/%s.ics" % token,
                 "/api/stores/%d/calendar/%s.ics" % (ctx.paris, token[:-1] + flip),
                 "/api/stores/%d/calendar/%s" % (ctx.paris, token),
                 "/api/stores/%d/calendar/%s.ics" % (ctx.paris, token[:20]),
                 "/api/stores/%d/calendar/%s.txt" % (ctx.paris, token)]:
        r = other.get(path)
        assert r.status == 404 and r.error["code"] == "not_found", (path, r)
        answers.append((r.error["field"], r.error["message"]))
    assert len(set(answers)) == 1 and answers[0][0] == "token", answers
    assert fetch(ctx, feed["url"]).status == 200
    # A Lyon manager's own store feed does not open through Paris either.
    lf = store_feed(ctx, staff(ctx, "lyon"), ctx.lyon)
    assert other.get("/api/stores/%d/calendar/%s.ics" % (ctx.paris, lf["token"])).status == 404
    assert fetch(ctx, lf["url"]).status == 200

    # Revoked: 404 from then on; revoking again keeps the first time.
    r = m.delete("/api/stores/%d/calendar-feeds/%d" % (ctx.paris, feed["id"]))
    assert r.status == 200 and r.json["revoked_at"] and not r.json["live"], r
    r2 = m.delete("/api/stores/%d/calendar-feeds/%d" % (ctx.paris, feed["id"]))
    assert r2.status == 200 and r2.json["revoked_at"] == r.json["revoked_at"], r2
    r = fetch(ctx, feed["url"])
    assert r.status == 404 and (r.error["field"], r.error["message"]) == answers[0], r
    assert ctx.sql1("select count(*) as n from audit_log where action = 'revoke_calendar_feed'"
                    " and object_id = %s", (str(feed["id"]),))["n"] == 1

    # A staff member revokes their own feed.
    t = staff(ctx, "tech")
    tf = create(t, ctx.paris, {"kind": "staff"}).json
    assert t.delete("/api/stores/%d/calendar-feeds/%d" % (ctx.paris, tf["id"])).status == 200
    assert fetch(ctx, tf["url"]).status == 404


def test_a_feed_stops_when_its_maker_loses_the_right(ctx):
    """A feed works while the person who made it could make it again."""
    m = staff(ctx, "manager")
    feed = store_feed(ctx, m, ctx.paris)
    assert fetch(ctx, feed["url"]).status == 200
    ctx.sql("delete from staff_roles where staff_id = %s and store_id = %s and role = 'manager'",
            (ctx.ids["manager"], ctx.paris))
    try:
        assert fetch(ctx, feed["url"]).status == 404
    finally:
        ctx.sql("insert into staff_roles values (%s, %s, 'manager')", (ctx.ids["manager"], ctx.paris))
    assert fetch(ctx, feed["url"]).status == 200


# ---- DST: the feed's clock moved to the days around a change ----

def _pin_today(ctx, day):
    ctx.sql("create or replace function ics_today(p_tz text) returns date language sql stable"
            " as $$ select %s::date $$", (day,))


def _unpin_today(ctx):
    ctx.sql("create or replace function ics_today(p_tz text) returns date language sql stable"
            " as $$ select (now() at time zone p_tz)::date $$")


def _insert_appt(ctx, store, service, staff_id, starts_utc, minutes=60):
    return ctx.sql1(
        "insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
        " blocked_until, code, customer_name, customer_email, customer_initial)"
        " values (%s, %s, %s, %s, %s + make_interval(mins => %s), %s + make_interval(mins => %s),"
        " booking_new_code(), 'x', 'x@example.com', 'D.') returning id",
        (store, service, staff_id, starts_utc, starts_utc, minutes, starts_utc, minutes))["id"]


def test_dst_in_paris(ctx):
    m = staff(ctx, "manager")
    feed = store_feed(ctx, m, ctx.paris)
    svc = paris_service(ctx, "iPhone screen")
    tech = ctx.ids["tech"]
    utc = datetime.timezone.utc
    cases = {
        # 28 March 2027: 02:00 CET becomes 03:00 CEST (01:00 UTC).
        "2027-03-20": [(datetime.datetime(2027, 3, 28, 0, 30, tzinfo=utc), "20270328T013000"),
                       (datetime.datetime(2027, 3, 28, 8, 0, tzinfo=utc), "20270328T100000"),
                       (datetime.datetime(2027, 3, 27, 9, 0, tzinfo=utc), "20270327T100000")],
        # 31 October 2027: 03:00 CEST becomes 02:00 CET (01:00 UTC).
        "2027-10-25": [(datetime.datetime(2027, 10, 31, 0, 30, tzinfo=utc), "20271031T023000"),
                       (datetime.datetime(2027, 10, 31, 1, 30, tzinfo=utc), "20271031T013000Z"),
                       (datetime.datetime(2027, 10, 31, 9, 0, tzinfo=utc), "20271031T100000")],
    }
    try:
        for today, appts in cases.items():
            ids = [(_insert_appt(ctx, ctx.paris, svc, tech, at, 30), at, local)
                   for at, local in appts]
            _pin_today(ctx, today)
            cal = parse(feed_text(ctx, feed["url"]))
            (tz,) = subs(cal, "VTIMEZONE")
            obs = [(o["name"], prop(o, "DTSTART"), prop(o, "TZOFFSETFROM"), prop(o, "TZOFFSETTO"),
                    prop(o, "TZNAME")) for o in tz["subs"]]
            if today == "2027-03-20":
                assert obs == [("STANDARD", "20261025T030000", "+0200", "+0100", "CET"),
                               ("DAYLIGHT", "20270328T020000", "+0100", "+0200", "CEST")], obs
            else:
                assert obs == [("DAYLIGHT", "20270328T020000", "+0100", "+0200", "CEST"),
                               ("STANDARD", "20271031T030000", "+0200", "+0100", "CET")], obs
            evs = events(cal)
            for id_, at, local in ids:
                ev = evs["appointment-%d@127.0.0.1" % id_]
                assert prop(ev, "DTSTART") == local, (at, prop(ev, "DTSTART"))
                # 02:30 on 31 October happens twice: the first (00:30 UTC) is written as local
                # time, which RFC 5545 reads as the first; the second in UTC.
                if local.endswith("Z"):
                    assert ev["props"]["DTSTART"][0][0] == {}, ev["props"]["DTSTART"]
                    assert datetime.datetime.strptime(local, "%Y%m%dT%H%M%SZ").replace(
                        tzinfo=utc) == at
                else:
                    assert ev["props"]["DTSTART"][0][0] == {"TZID": "Europe/Paris"}
                    assert to_utc(cal, prop(ev, "DTSTART")) == at, (local, at)
    finally:
        _unpin_today(ctx)


def test_zone_without_dst(ctx):
    store = ctx.sql1("insert into stores (code, name, timezone) values ('tokyo-ginza',"
                     " 'Carnet Ginza', 'Asia/Tokyo') returning id")["id"]
    svc = ctx.sql1("insert into services (store_id, name, duration_min, skill) values"
                   " (%s, 'Repair', 60, 'repair') returning id", (store,))["id"]
    ctx.sql("insert into staff_roles values (%s, %s, 'manager')", (ctx.ids["lyon"], store))
    feed = create(staff(ctx, "lyon"), store, {"kind": "store"}).json
    at = datetime.datetime(2027, 3, 28, 1, 0, tzinfo=datetime.timezone.utc)
    id_ = _insert_appt(ctx, store, svc, ctx.ids["lyon"], at)
    _pin_today(ctx, "2027-03-20")
    try:
        cal = parse(feed_text(ctx, feed["url"]))
    finally:
        _unpin_today(ctx)
    (tz,) = subs(cal, "VTIMEZONE")
    assert prop(tz, "TZID") == "Asia/Tokyo"
    obs = [(o["name"], prop(o, "DTSTART"), prop(o, "TZOFFSETFROM"), prop(o, "TZOFFSETTO"))
           for o in tz["subs"]]
    assert obs == [("STANDARD", "19700101T000000", "+0900", "+0900")], obs
    ev = events(cal)["appointment-%d@127.0.0.1" % id_]
    assert ev["props"]["DTSTART"][0][0] == {"TZID": "Asia/Tokyo"}
    assert prop(ev, "DTSTART") == "20270328T100000" and prop(ev, "DTEND") == "20270328T110000"
    assert to_utc(cal, prop(ev, "DTSTART")) == at


def test_long_text_is_folded_and_escaped(ctx):
    ctx.sql("update services set name = %s where store_id = %s and name = 'Battery'",
            ("Batterie, écran; câble\\ et tout le reste " * 2, ctx.paris))
    try:
        m = staff(ctx, "manager")
        feed = store_feed(ctx, m, ctx.paris)
        svc = paris_service(ctx, "Batterie, écran; câble\\ et tout le reste " * 2)
        b = book(ctx, svc, paris_local(next_workday(ctx, 4), "14:00"))
        text = feed_text(ctx, feed["url"])
        assert "Batterie\\, écran\\; câble\\\\ et" in text.replace("\r\n ", ""), text
        ev = events(parse(text))["appointment-%d@127.0.0.1" % b["appointment"]["id"]]
        assert prop(ev, "SUMMARY", True).startswith("Batterie, écran; câble\\ et tout le reste")
    finally:
        ctx.sql("update services set name = 'Battery' where store_id = %s and name like 'Batterie%%'",
                (ctx.paris,))


def test_tokens_never_in_clear(ctx):
    """Every token handed out by this module (collected by the harness from the answers) is
    neither in the database nor in a log; the access log withholds the feed's path segment."""
    m = staff(ctx, "manager")
    feed = store_feed(ctx, m, ctx.paris)
    assert fetch(ctx, feed["url"]).status == 200
    assert ctx.check_no_clear_tokens() >= 1
    log = ctx.server.read_log()
    assert "/calendar/\u2026" in log, log[-2000:]
