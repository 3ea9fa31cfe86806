"""The dashboard (issue 14, point 4): repair figures, per-staff and chain-wide figures over a
range of local dates, each beside the period before with the sample size of every percentage;
the floor and satisfaction reports over the same ranges; every report as CSV with formula cells
neutralised. Data is made through the API (line, check-in, call, serve, repairs, estimates,
surveys), then some of it is moved back into the period before, so every figure is known
exactly."""
import csv
import io
import re
from datetime import timedelta

from harness import Client

S = {}
# A staff name a spreadsheet would run as a formula if the CSV handed it over as it is.
FORMULA_NAME = "=HYPERLINK(\"http://evil.test\",\"x\")"


def setup(ctx):
    ctx.seed_demo()
    # No background jobs: no early warning or survey send moves the rows under the figures.
    ctx._server = ctx.start_carnetd(args=["--no-jobs"])
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lea"] = ctx.sql1("select id from staff where email = 'lyon@carnet.test'")["id"]
    ctx.clear_of_midnight(S["lyon"], minutes=5)
    S["today"] = ctx.store_today(S["lyon"])
    _make_data(ctx)


def _path(what, store=None):
    return "/api/stores/%d/reports/%s" % (store or S["lyon"], what)


def _iso(d):
    return d.isoformat()


def _serve(ctx, by, name, serial=None, contact=None):
    """A walk-in joins the line, `by` calls them next, serves them and ends: the visit's id."""
    body = {"name": name}
    if serial:
        body["serial"] = serial
    if contact:
        body["contact"] = contact
    r = ctx.client().post("/api/stores/%d/line" % S["lyon"], body)
    assert r.status == 201, r
    r = by.post("/api/stores/%d/queue/next" % S["lyon"])
    assert r.status == 200, r
    vid = r.json["id"]
    assert by.post("/api/visits/%d/start" % vid).status == 200
    assert by.post("/api/visits/%d/done" % vid).status == 200
    return vid


def _answer(ctx, vid, satisfaction):
    mid = ctx.sql1("select id from outbox where kind = 'survey' and ref_type = 'visit' "
                   "and ref_id = %s", (vid,))["id"]
    token = re.search(r"survey/#([A-Za-z0-9_-]+)", ctx.message_body(mid)).group(1)
    r = ctx.client().post("/api/surveys/" + token, {"satisfaction": satisfaction, "effort": 2,
                                                    "recommendation": 9})
    assert r.status == 200, r


def _repair(c, serial):
    r = c.post("/api/stores/%d/repairs" % S["lyon"], {
        "serial": serial, "problem": "cracked screen",
        "intake": {"checklist": [{"item": "screen", "ok": False}]},
        "owner": {"name": "Inès Client", "email": "ines@example.com"}})
    assert r.status == 201, r
    return r.json["id"]


def _move(c, rid, *states):
    for st in states:
        r = c.post("/api/repairs/%d/transition" % rid, {"to": st})
        assert r.status == 200, (st, r)


def _estimate(c, rid):
    r = c.put("/api/repairs/%d/estimate" % rid, {
        "diagnosis": "The screen is cracked.",
        "lines": [{"kind": "part", "description": "Screen", "quantity": 1,
                   "unit_price": 10000, "vat_rate": 2000}]})
    assert r.status in (200, 201), r
    return r.json["approval_token"]


def _back(ctx, table, where, days, cols):
    sets = ", ".join("%s = %s - interval '%d days'" % (c, c, days) for c in cols)
    ctx.sql("update %s set %s where %s" % (table, sets, where))


def _back_hours(ctx, vid, hours):
    sets = ", ".join("%s = %s - make_interval(hours => %d)" % (c, c, hours) for c in (
        "arrived_at", "queued_at", "called_at", "service_started_at", "done_at"))
    ctx.sql("update visits set %s where id = %%s" % sets, (vid,))


def _make_data(ctx):
    lea = ctx.staff("lyon")
    # A specialist whose name is a formula, made through the API.
    r = lea.post("/api/stores/%d/staff" % S["lyon"], {
        "email": "formula@carnet.test", "name": FORMULA_NAME, "password": "carnet-demo-pw-1",
        "roles": ["specialist"]})
    assert r.status == 201, r
    S["eve"] = r.json.get("id") or r.json.get("staff_id")
    eve = ctx.staff("formula@carnet.test", "carnet-demo-pw-1")

    # This period: V1 (device A, answered 5), V2 by Eve (device B, then a repair of it: not a
    # first-visit resolution), V3 (no device, answered 2).
    v1 = _serve(ctx, lea, "Ana", "DASHAAA001", "ana@example.test")
    v2 = _serve(ctx, eve, "Bob", "DASHBBB002")
    # Bob came 11 hours ago: before the repair of his device was opened (10 hours ago, below).
    _back_hours(ctx, v2, 11)
    v3 = _serve(ctx, lea, "Cyd", None, "cyd@example.test")
    # A booking made for today, checked in at the desk by its code and served by Léa; and one
    # of yesterday nobody came to.
    starts = ctx.checkin_soon(S["lyon"])
    appt = ctx.sql1(
        "insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
        " blocked_until, code, customer_name, customer_email)"
        " select %s, sv.id, %s, %s::timestamptz,"
        " %s::timestamptz + make_interval(mins => sv.duration_min),"
        " %s::timestamptz + make_interval(mins => sv.duration_min), booking_new_code(),"
        " 'Eva Booked', 'eva@example.test' from services sv where sv.store_id = %s"
        " order by sv.id limit 1 returning id, code",
        (S["lyon"], S["lea"], starts, starts, starts, S["lyon"]))
    r = lea.post("/api/stores/%d/checkin" % S["lyon"], {"code": appt["code"]})
    assert r.status == 200, r
    v5 = r.json["visit"]["id"]
    for step in ("call", "start", "done"):
        assert lea.post("/api/visits/%d/%s" % (v5, step)).status == 200, step
    ctx.sql("insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
            " blocked_until, status, code, customer_name, customer_email)"
            " select s.id, sv.id, %s, a, a + interval '30 minutes', a + interval '30 minutes',"
            " 'no_show', booking_new_code(), 'Nora Noshow', 'nora@example.test'"
            " from stores s join services sv on sv.store_id = s.id,"
            " lateral (select (((now() at time zone s.timezone)::date - 1) + time '10:00')"
            " at time zone s.timezone as a) x where s.id = %s order by sv.id limit 1",
            (S["lea"], S["lyon"]))
    _answer(ctx, v1, 5)
    _answer(ctx, v3, 2)
    # Service times: Léa 6, 10 and 8 minutes (median 8), Eve 4.
    for vid, minutes in ((v1, 6), (v3, 10), (v5, 8), (v2, 4)):
        ctx.sql("update visits set service_started_at = done_at - make_interval(mins => %s) "
                "where id = %s", (minutes, vid))

    # Repairs: R1 of device B goes all the way to ready after 10 hours, its estimate approved;
    # R2's estimate is declined and it waits for approval; R3 waits for parts, promised
    # tomorrow (awaiting parts needs 3 more days: at risk).
    r1 = _repair(lea, "DASHBBB002")
    _move(lea, r1, "diagnosing")
    tok = _estimate(lea, r1)
    _move(lea, r1, "awaiting_approval")
    assert ctx.client().post("/api/estimates/%s/approve" % tok, {"version": 1}).status == 200
    _move(lea, r1, "repairing", "testing", "ready")
    ctx.sql("update repair_orders set opened_at = (select at from repair_moves where repair_id = "
            "%s and to_state = 'ready') - interval '10 hours' where id = %s", (r1, r1))
    ctx.sql("update repair_moves set at = at - interval '10 hours' where repair_id = %s "
            "and to_state <> 'ready'", (r1,))
    r2 = _repair(lea, "DASHCCC003")
    _move(lea, r2, "diagnosing")
    tok = _estimate(lea, r2)
    _move(lea, r2, "awaiting_approval")
    r = ctx.client().post("/api/estimates/%s/decline" % tok, {"version": 1, "reason": "too dear"})
    assert r.status == 200, r
    r3 = _repair(lea, "DASHDDD004")
    _move(lea, r3, "diagnosing", "awaiting_parts")
    ctx.sql("update repair_orders set promised_at = now() + interval '1 day' where id = %s", (r3,))

    # The period before (8 days back): V4 (device E, answered 4), and R4, ready 5 hours after
    # it was opened, then collected today: open at the end of that period, not now.
    v4 = _serve(ctx, lea, "Dee", "DASHEEE005", "dee@example.test")
    _answer(ctx, v4, 4)
    ctx.sql("update visits set service_started_at = done_at - interval '3 minutes' where id = %s",
            (v4,))
    _back(ctx, "visits", "id = %d" % v4, 8,
          ("arrived_at", "queued_at", "called_at", "service_started_at", "done_at"))
    ctx.sql("update visits set day = day - 8 where id = %s", (v4,))
    _back(ctx, "surveys", "ref_type = 'visit' and ref_id = %d" % v4, 8, ("answered_at",))
    r4 = _repair(lea, "DASHFFF006")
    _move(lea, r4, "diagnosing", "repairing", "testing", "ready")
    ctx.sql("update repair_moves set at = at - interval '8 days' where repair_id = %s", (r4,))
    ctx.sql("update repair_orders set opened_at = (select at from repair_moves where repair_id = "
            "%s and to_state = 'ready') - interval '5 hours' where id = %s", (r4, r4))
    _move(lea, r4, "collected")
    S.update(v1=v1, v2=v2, v3=v3, v4=v4, r1=r1, r2=r2, r3=r3, r4=r4)


def _figures(j):
    return {f["figure"]: (f["value"], f["n"], f["previous"], f["previous_n"])
            for f in j["figures"]}


def test_repair_figures_exact_with_n_and_previous(ctx):
    m = ctx.staff("lyon")
    r = m.get(_path("repairs"))
    assert r.status == 200, r
    j = r.json
    today = S["today"]
    assert j["from"] == _iso(today - timedelta(days=6)) and j["to"] == _iso(today), j
    assert j["previous"] == {"from": _iso(today - timedelta(days=13)),
                             "to": _iso(today - timedelta(days=7))}, j
    assert [f["figure"] for f in j["figures"]] == [
        "open", "at_risk", "awaiting_approval", "awaiting_parts", "turnaround_median_h",
        "approval_pct", "first_visit_pct"], j
    assert _figures(j) == {
        "open": (3, None, 1, None),                 # R1 ready, R2, R3; before: R4 ready
        "at_risk": (1, None, 0, None),              # R3
        "awaiting_approval": (1, None, 0, None),
        "awaiting_parts": (1, None, 0, None),
        "turnaround_median_h": (10.0, 1, 5.0, 1),   # R1; before: R4
        "approval_pct": (50.0, 2, None, 0),         # 1 approved of 2 decided; none before
        "first_visit_pct": (50.0, 2, 100.0, 1),     # V1 yes, V2 no (repair); before: V4
    }, j
    # An explicit range: the period before alone.
    r = m.get(_path("repairs") + "?from=%s&to=%s" % (j["previous"]["from"], j["previous"]["to"]))
    f = _figures(r.json)
    assert f["first_visit_pct"][:2] == (100.0, 1) and f["turnaround_median_h"][:2] == (5.0, 1), f
    assert f["approval_pct"][:2] == (None, 0) and f["open"][0] == 1, f
    # A day far back: nothing, and every percentage null beside n = 0.
    r = m.get(_path("repairs") + "?from=2020-01-01&to=2020-01-01")
    f = _figures(r.json)
    assert f["approval_pct"] == (None, 0, None, 0), f
    assert f["first_visit_pct"] == (None, 0, None, 0), f
    assert f["turnaround_median_h"] == (None, 0, None, 0), f
    assert f["open"] == (0, None, 0, None), f


def test_floor_and_satisfaction_take_ranges(ctx):
    m = ctx.staff("lyon")
    today = S["today"]
    frm = _iso(today - timedelta(days=6))
    r = m.get(_path("floor") + "?from=%s&to=%s" % (frm, _iso(today)))
    assert r.status == 200, r
    j = r.json
    assert j["from"] == frm and len(j["days"]) == 7, j
    t, p = j["totals"], j["previous"]["totals"]
    assert (t["served"], t["walk_ins"], t["bookings"], t["no_shows"]) == (4, 3, 2, 1), t
    assert (t["no_show_pct"], t["no_show_n"]) == (50.0, 2), t     # the no-show of 2 bookings
    assert (p["served"], p["bookings"], p["no_show_pct"], p["no_show_n"]) == (1, 0, None, 0), p
    assert j["previous"]["from"] == _iso(today - timedelta(days=13)), j
    # The old form still answers as before.
    r = m.get(_path("floor") + "?days=3")
    assert r.status == 200 and len(r.json["days"]) == 3 and "previous" not in r.json, r
    # N is the ranged form's default length too (floor), and refused out of range in both forms.
    r = m.get(_path("floor") + "?days=3&to=%s" % _iso(today))
    assert r.status == 200 and r.json["from"] == _iso(today - timedelta(days=2)), r
    assert "previous" in r.json, r
    for q in ("?days=0", "?days=91&from=%s" % frm):
        r = m.get(_path("floor") + q)
        assert r.status == 400 and (r.error["code"], r.error["field"]) == ("bad_value", "days"), r

    r = m.get(_path("satisfaction") + "?from=%s&to=%s" % (frm, _iso(today)))
    assert r.status == 200, r
    j = r.json
    assert j["totals"]["n"] == 2 and j["totals"]["csat"] == 50.0, j        # 5 and 2
    assert j["previous"]["totals"]["n"] == 1 and j["previous"]["totals"]["csat"] == 100.0, j
    assert sum(w["n"] for w in j["weeks"]) == 2, j
    r = m.get(_path("satisfaction") + "?from=2020-01-01&to=2020-01-07")
    assert r.json["totals"] == {"n": 0, "csat": None, "ces": None, "ces_n": 0, "nps": None,
                               "nps_n": 0}, r
    assert r.json["weeks"] == [], r
    r = m.get(_path("satisfaction") + "?weeks=4")
    assert r.status == 200 and "weeks" in r.json and "totals" not in r.json, r
    r = m.get(_path("satisfaction") + "?weeks=105&to=%s" % _iso(today))
    assert r.status == 400 and (r.error["code"], r.error["field"]) == ("bad_value", "weeks"), r


def test_staff_figures(ctx):
    m = ctx.staff("lyon")
    r = m.get(_path("staff"))
    assert r.status == 200, r
    by = {s["staff_id"]: s for s in r.json["staff"]}
    lea, eve = by[S["lea"]], by[S["eve"]]
    assert (lea["served"], lea["service_median_min"], lea["service_n"]) == (3, 8.0, 3), lea
    assert (lea["csat_pct"], lea["csat_n"]) == (50.0, 2), lea
    assert lea["previous"] == {"served": 1, "service_median_min": 3.0, "service_n": 1,
                               "csat_pct": 100.0, "csat_n": 1, "calls": 0, "overrides": 0,
                               "override_pct": None}, lea
    # The calls made through the API this period, none out of turn (test_call_reason has those).
    assert (lea["calls"], lea["overrides"], lea["override_pct"]) == (4, 0, 0.0), lea
    assert eve["name"] == FORMULA_NAME, eve
    assert (eve["served"], eve["service_median_min"], eve["csat_pct"], eve["csat_n"]) == \
        (1, 4.0, None, 0), eve
    assert eve["previous"]["served"] == 0 and eve["previous"]["service_median_min"] is None
    names = [s["name"] for s in r.json["staff"]]
    assert names == sorted(names), names
    # Paris's staff are not Lyon's.
    paris_only = ctx.sql1("select id from staff where email = 'specialist@carnet.test'")["id"]
    assert paris_only not in by


def test_chain_figures_per_store_and_pooled_total(ctx):
    a = ctx.staff("admin")
    today = S["today"]
    q = "?from=%s&to=%s" % (_iso(today - timedelta(days=6)), _iso(today))
    r = a.get("/api/reports/chain" + q)
    assert r.status == 200, r
    rows = r.json["stores"]
    total = rows[-1]
    assert total["store_id"] is None and total["name"] is None, total
    stores = rows[:-1]
    by = {s["store_id"]: s for s in stores}
    assert S["lyon"] in by and S["paris"] in by, rows
    lyon = by[S["lyon"]]
    assert (lyon["open"], lyon["at_risk"], lyon["served"]) == (3, 1, 4), lyon
    assert (lyon["approval_pct"], lyon["approval_n"]) == (50.0, 2), lyon
    assert (lyon["first_visit_pct"], lyon["first_visit_n"]) == (50.0, 2), lyon
    assert (lyon["csat_pct"], lyon["csat_n"]) == (50.0, 2), lyon
    assert lyon["previous"]["served"] == 1 and lyon["previous"]["csat_n"] == 1, lyon
    for k in ("open", "at_risk", "served", "csat_n", "approval_n", "first_visit_n",
              "turnaround_n"):
        assert total[k] == sum(s[k] for s in stores), (k, total)
    # Pooled, not an average of averages.
    csat_yes = sum(round(s["csat_pct"] * s["csat_n"] / 100) for s in stores if s["csat_n"])
    if total["csat_n"]:
        assert total["csat_pct"] == round(100.0 * csat_yes / total["csat_n"], 1), total
    # Same figures as the store's own report.
    f = _figures(ctx.staff("lyon").get(_path("repairs") + q).json)
    assert f["first_visit_pct"][0] == lyon["first_visit_pct"], (f, lyon)


def _csv(r):
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/csv; charset=utf-8", r
    return list(csv.reader(io.StringIO(r.raw.decode("utf-8"), newline="")))


def test_csv_of_every_report(ctx):
    m = ctx.staff("lyon")
    today = S["today"]
    q = "from=%s&to=%s" % (_iso(today - timedelta(days=6)), _iso(today))
    r = m.get(_path("repairs") + "?format=csv&" + q)
    rows = _csv(r)
    assert r.header("Content-Disposition") == (
        'attachment; filename="carnet-repairs-lyon-part-dieu-%s_%s.csv"'
        % (_iso(today - timedelta(days=6)), _iso(today))), r.header("Content-Disposition")
    assert rows[0] == ["figure", "value", "n", "previous", "previous_n"], rows
    assert ["approval_pct", "50.0", "2", "", "0"] in rows, rows
    assert ["open", "3", "", "1", ""] in rows, rows
    assert len(rows) == 8, rows
    assert r.raw.endswith(b"\r\n")

    rows = _csv(m.get(_path("staff") + "?format=csv&" + q))
    assert rows[0] == ["staff_id", "name", "served", "service_median_min", "service_n",
                       "csat_pct", "csat_n", "calls", "overrides", "override_pct",
                       "previous.served", "previous.service_median_min",
                       "previous.service_n", "previous.csat_pct", "previous.csat_n",
                       "previous.calls", "previous.overrides", "previous.override_pct"], rows
    eve = [x for x in rows if x[0] == str(S["eve"])]
    # The formula is text with a leading quote; the CSV quoting keeps its commas and quotes.
    assert eve == [[str(S["eve"]), "'" + FORMULA_NAME, "1", "4.0", "1", "", "0", "1", "0", "0.0",
                    "0", "", "0", "", "0", "0", "0", ""]], rows
    lea = [x for x in rows if x[0] == str(S["lea"])]
    assert lea == [[str(S["lea"]), "Léa Lyon", "3", "8.0", "3", "50.0", "2", "4", "0", "0.0",
                    "1", "3.0", "1", "100.0", "1", "0", "0", ""]], rows
    assert ("\"'=HYPERLINK(\"\"http://evil.test\"\",\"\"x\"\")\"").encode() in \
        m.get(_path("staff") + "?format=csv&" + q).raw

    rows = _csv(m.get(_path("floor") + "?format=csv&" + q))
    assert rows[0][:4] == ["day", "bookings", "cancelled", "no_shows"] and len(rows) == 8, rows
    rows = _csv(m.get(_path("satisfaction") + "?format=csv&" + q))
    assert rows[0] == ["week", "n", "csat", "ces", "ces_n", "nps", "nps_n"], rows
    r = ctx.staff("admin").get("/api/reports/chain?format=csv&" + q)
    rows = _csv(r)
    assert rows[0][:4] == ["store_id", "code", "name", "open"], rows
    assert "previous.csat_n" in rows[0], rows
    assert rows[-1][0] == "" and len(rows) == 1 + 1 + len(
        ctx.sql("select 1 from stores where closed_at is null")), rows
    assert 'filename="carnet-chain-%s_' % _iso(today - timedelta(days=6)) in r.header("Content-Disposition"), r
    # The table by name; an unknown one names the choices.
    r = m.get(_path("floor") + "?format=csv&table=days&" + q)
    assert r.status == 200
    r = m.get(_path("floor") + "?format=csv&table=nope&" + q)
    assert r.status == 422 and r.error["field"] == "table", r
    assert "days" in r.error["message"], r


def test_csv_cells_are_neutralised(ctx):
    def cell(v):
        return ctx.sql1("select report_csv_cell(%s::json) as c", (v,))["c"]
    assert cell('"=1+1"') == "'=1+1"
    assert cell('"+33 6"') == "'+33 6"
    assert cell('"-2"') == "'-2"
    assert cell('"@SUM(A1)"') == "'@SUM(A1)"
    assert cell('"\\tx"') == "'\tx"
    assert cell('"\\rx"') == "\"'\rx\""
    assert cell('"a,b"') == '"a,b"' and cell('"say \\"hi\\""') == '"say ""hi"""'
    assert cell('"line\\nbreak"') == '"line\nbreak"'
    assert cell("-2.5") == "-2.5" and cell("null") == "" and cell("true") == "true"
    assert cell('"plain"') == "plain"


ROUTES = ("repairs", "staff", "floor", "satisfaction")


def test_bad_ranges_and_formats(ctx):
    m = ctx.staff("lyon")
    a = ctx.staff("admin")
    before = ctx.sql1("select count(*) as n from audit_log")["n"]
    for what in ROUTES:
        for q, field in (("from=2026-02-30", "from"), ("from=yesterday", "from"),
                         ("to=2026-13-01", "to"), ("from=", "from"), ("to=20260101", "to"),
                         ("from=2026-03-10&to=2026-03-09", "to"),
                         ("from=2025-01-01&to=2026-01-02", "to"),
                         ("format=xml", "format"), ("format=CSV", "format")):
            r = m.get(_path(what) + "?" + q)
            assert r.status == 422 and r.error["code"] == "invalid" and \
                r.error["field"] == field, (what, q, r)
            r = m.get(_path(what) + "?format=csv&" + q) if "format" not in q else r
            assert r.status == 422 and r.error["field"] == field, (what, q, r)
    # 366 days is the longest range.
    assert m.get(_path("repairs") + "?from=2025-01-01&to=2026-01-01").status == 200
    for q, field in (("from=2026-01-02&to=2026-01-01", "to"), ("to=x", "to"),
                     ("format=pdf", "format")):
        r = a.get("/api/reports/chain?" + q)
        assert r.status == 422 and r.error["field"] == field, (q, r)
    assert ctx.sql1("select count(*) as n from audit_log")["n"] == before, "reads change nothing"
    assert m.get("/api/stores/999999/reports/repairs").status in (403, 404)
    r = a.get("/api/stores/999999/reports/repairs")
    assert r.status == 404, r


def test_who_may_not(ctx):
    anon = Client(ctx.server.port)
    for what in ROUTES:
        lyon = _path(what)
        paris = _path(what, S["paris"])
        assert anon.get(lyon).status == 401
        assert anon.get(lyon + "?format=csv").status == 401
        assert ctx.staff("manager").get(lyon).status == 403           # Paris's manager
        assert ctx.staff("manager").get(lyon + "?format=csv").status == 403
        assert ctx.staff("specialist").get(paris).status == 403
        assert ctx.staff("tech").get(paris).status == 403
        assert ctx.staff("formula@carnet.test", "carnet-demo-pw-1").get(lyon).status == 403
        assert ctx.staff("manager").get(paris).status == 200
        assert ctx.staff("admin").get(lyon).status == 200
    for who in ("lyon", "manager", "specialist", "tech"):
        r = ctx.staff(who).get("/api/reports/chain")
        assert r.status == 403, (who, r)
        assert ctx.staff(who).get("/api/reports/chain?format=csv").status == 403
    assert anon.get("/api/reports/chain").status == 401
    # The SQL checks it too, should a route ever let someone else in.
    try:
        ctx.sql("select report_chain(%s, null, null, 'r')", (S["lea"],))
    except Exception as e:  # noqa: BLE001 - the database's refusal, whatever its class
        assert "forbidden" in str(e), e
    else:
        raise AssertionError("report_chain let a manager in")


def test_a_repair_without_moves_counts_in_its_state(ctx):
    # Rows written before moves were recorded (or by hand) have no moves: their state is
    # today's. Once ended, without a move, it is not read at all.
    dev = ctx.sql1("insert into devices (serial, model) values ('DASHNOMOVE1', 'Phone') "
                   "returning id")["id"]
    rid = ctx.sql1("insert into repair_orders (number, device_id, store_id, state, problem, "
                   "intake, opened_at) values ('R-DASH-NOMOVE', %s, %s, 'awaiting_parts', "
                   "'broken', '{}', now() - interval '1 day') returning id",
                   (dev, S["lyon"]))["id"]
    m = ctx.staff("lyon")
    f = _figures(m.get(_path("repairs")).json)
    assert f["open"][0] == 4 and f["awaiting_parts"][0] == 2, f
    assert f["open"][2] == 1, "it was opened after the period before ended"
    ctx.sql("update repair_orders set state = 'cancelled' where id = %s", (rid,))
    f = _figures(m.get(_path("repairs")).json)
    assert f["open"][0] == 3 and f["awaiting_parts"][0] == 1, f
