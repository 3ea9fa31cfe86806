"""Devices and the health record: serial normalisation (spaces, case, IMEI check), owners and
their redaction by store, diagnostics and the import of a tool's report, trends, notes and
corrections, keyset pagination, search, the append-only hash chain and its verification."""
import os
import subprocess
import threading
import urllib.parse

import psycopg2

from harness import Client

S = {}


def setup(ctx):
    ctx.seed_demo()
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]


def q(s):
    return urllib.parse.quote(s, safe="")


def count(ctx, table, where="true", args=None):
    return ctx.sql1("select count(*) as n from %s where %s" % (table, where), args)["n"]


def snapshot(ctx):
    return tuple(count(ctx, t) for t in ("devices", "device_owners", "record_entries",
                                         "diagnostic_sessions", "diagnostic_values"))


def diag_body(store, health, passed=True):
    return {"store_id": store, "results": [
        {"test": "battery", "passed": passed,
         "values": [{"name": "battery_health", "value": health, "unit": "%"},
                    {"name": "cycle_count", "value": 100, "unit": "cycles"}]},
        {"test": "speaker", "passed": True}]}


# ---- serial numbers ----

def test_serial_normalised_trimmed_upper_case_without_spaces(ctx):
    tech = ctx.staff("tech")
    r = tech.put("/api/devices/" + q("  c02 xk1 9ab  "), {"model": "MacBook Air"})
    assert r.status == 201, r
    assert r.json["device"]["serial"] == "C02XK19AB" and r.json["created"] is True, r
    for form in ("c02xk19ab", "C02XK19AB", " C02 XK19AB", "c02\txk19ab"):
        g = tech.get("/api/devices/" + q(form))
        assert g.status == 200, (form, g)
        assert g.json["device"]["serial"] == "C02XK19AB"
    r = tech.put("/api/devices/c02xk19ab", {"model": "MacBook Air M1"})
    assert r.status == 200 and r.json["created"] is False, r
    assert count(ctx, "devices", "serial = 'C02XK19AB'") == 1
    assert ctx.sql1("select model from devices where serial = 'C02XK19AB'")["model"] == "MacBook Air M1"


def test_serial_refused_when_malformed(ctx):
    tech = ctx.staff("tech")
    before = snapshot(ctx)
    for bad, code in (("ab1", "bad_serial"), ("C02-XK19", "bad_serial"), ("C02XK19AB%C3%A9", "bad_serial"),
                      ("A" * 33, "bad_serial"), ("A" * 70, "bad_serial")):
        r = tech.put("/api/devices/" + bad, {"model": "x"})
        assert r.status == 422, (bad, r)
        assert r.error["code"] == code and r.error["field"] == "serial", (bad, r)
    assert snapshot(ctx) == before


def test_imei_luhn_check(ctx):
    tech = ctx.staff("tech")
    r = tech.put("/api/devices/" + q("4901 5420 3237 518"), {"model": "Pixel"})
    assert r.status == 201 and r.json["device"]["serial"] == "490154203237518", r
    before = snapshot(ctx)
    r = tech.put("/api/devices/490154203237519", {"model": "Pixel"})
    assert r.status == 422 and r.error["code"] == "bad_imei" and r.error["field"] == "serial", r
    r = tech.get("/api/devices/490154203237519")
    assert r.status == 422 and r.error["code"] == "bad_imei", r
    # 14 or 16 digits are not IMEIs: no check digit applies.
    assert tech.put("/api/devices/49015420323751", {}).status == 201
    assert snapshot(ctx)[0] == before[0] + 1
    # The database refuses a bad IMEI even if a caller skipped the function.
    try:
        ctx.sql("insert into devices (serial) values ('490154203237519')")
        raise AssertionError("check constraint missing")
    except psycopg2.errors.CheckViolation:
        pass


def test_device_put_validation_and_access(ctx):
    tech = ctx.staff("tech")
    before = snapshot(ctx)
    for body, field in (({"model": 5}, "model"), ({"model": ""}, "model"),
                        ({"warranty_end": "tomorrow"}, "warranty_end"),
                        ({"warranty_end": "2026-02-30"}, "warranty_end"),
                        ({"warranty_end": 20260101}, "warranty_end")):
        r = tech.put("/api/devices/DEV0VALID1", body)
        assert r.status == 422 and r.error["field"] == field, (body, r)
    r = tech.put("/api/devices/DEV0VALID1")
    assert r.status == 400 and r.error["code"] == "missing_body", r
    assert snapshot(ctx) == before
    r = Client(ctx.server.port).put("/api/devices/DEV0VALID1", {"model": "x"})
    assert r.status == 401, r
    r = Client(ctx.server.port).get("/api/devices/F2LDEMO0PH13")
    assert r.status == 401, r
    assert snapshot(ctx) == before
    r = tech.put("/api/devices/DEV0VALID1", {"model": "iPad", "warranty_end": "2099-01-31"})
    assert r.status == 201 and r.json["device"]["under_warranty"] is True, r
    r = tech.get("/api/devices/DEV0NOPE01")
    assert r.status == 404 and r.error["field"] == "serial", r


# ---- owners ----

def test_owner_details_only_where_the_customer_has_business(ctx):
    spec, lyon, admin = ctx.staff("specialist"), ctx.staff("lyon"), ctx.staff("admin")
    tech = ctx.staff("tech")
    assert tech.put("/api/devices/OWN0DEV001", {"model": "iPhone 12"}).status == 201
    r = spec.post("/api/devices/OWN0DEV001/owners",
                  {"store_id": S["paris"], "name": "Noor Haddad", "email": "Noor@Example.com",
                   "phone": "+33 6 11 22 33 44"})
    assert r.status == 201, r
    assert r.json["owner"]["name"] == "Noor Haddad" and r.json["owner"]["phone"] == "+33611223344", r

    paris_view = spec.get("/api/devices/OWN0DEV001").json
    assert paris_view["owner"]["email"] == "Noor@Example.com", paris_view
    lyon_view = lyon.get("/api/devices/OWN0DEV001")
    assert lyon_view.status == 200, lyon_view
    assert lyon_view.json["owner"]["redacted"] is True, lyon_view
    assert "Noor" not in lyon_view.raw.decode() and "example.com" not in lyon_view.raw.decode()
    assert admin.get("/api/devices/OWN0DEV001").json["owner"]["name"] == "Noor Haddad"

    # Once the customer brings the device to Lyon, Lyon sees who they are.
    r = lyon.post("/api/stores/%d/repairs" % S["lyon"], {
        "serial": "own0dev001", "problem": "battery drains",
        "intake": {"checklist": [{"item": "screen", "ok": True}]}})
    assert r.status == 201, r
    assert lyon.get("/api/devices/OWN0DEV001").json["owner"]["name"] == "Noor Haddad"

    # A new owner: the old ownership closes, the history keeps both.
    r = lyon.post("/api/devices/OWN0DEV001/owners",
                  {"store_id": S["lyon"], "name": "Sam Second", "phone": "06 99 88 77 66"})
    assert r.status == 201, r
    rec = spec.get("/api/devices/OWN0DEV001").json
    assert len(rec["owners"]) == 2 and rec["owners"][1]["until"] is not None, rec["owners"]
    # Paris never had business with the second owner.
    assert rec["owner"]["redacted"] is True and rec["owners"][1]["redacted"] is False, rec["owners"]
    kinds = [e["kind"] for e in rec["entries"]]
    assert kinds.count("owner_change") == 2, kinds


def test_owner_validation_and_access(ctx):
    spec, lyon = ctx.staff("specialist"), ctx.staff("lyon")
    assert spec.put("/api/devices/OWN0DEV002", {}).status == 201
    before = snapshot(ctx)
    cases = (({"name": "A", "email": "a@b.fr"}, 422, "store_id"),
             ({"store_id": S["paris"], "email": "a@b.fr"}, 422, "owner.name"),
             ({"store_id": S["paris"], "name": "A", "email": "nope"}, 422, "owner.email"),
             ({"store_id": S["paris"], "name": "A", "phone": "12"}, 422, "owner.phone"),
             ({"store_id": S["paris"], "name": "A"}, 422, "owner.email"),
             ({"store_id": 999999, "name": "A", "email": "a@b.fr"}, 422, "store_id"))
    for body, status, field in cases:
        r = spec.post("/api/devices/OWN0DEV002/owners", body)
        assert r.status == status and r.error["field"] == field, (body, r)
    r = lyon.post("/api/devices/OWN0DEV002/owners", {"store_id": S["paris"], "name": "A", "email": "a@b.fr"})
    assert r.status == 403, r
    r = spec.post("/api/devices/NOPE0DEV99/owners", {"store_id": S["paris"], "name": "A", "email": "a@b.fr"})
    assert r.status == 404, r
    assert snapshot(ctx) == before


def _dump(ctx):
    pg_dump = "/usr/lib/postgresql/15/bin/pg_dump"
    return subprocess.run([pg_dump if os.path.exists(pg_dump) else "pg_dump", "-d", ctx.url],
                          capture_output=True, check=True).stdout.decode()


def test_owner_rests_sealed_and_is_found_by_blind_index(ctx):
    """An owner written through the API is ciphertext in the database at once (carnetd seals it
    before SQL; no wait for the sealing job), with the blind indexes of its email and phone; the
    API shows it in clear; search by email or phone (any case, any spacing) finds it for the
    owning store only; the same contact again is the same owner; the chain still verifies."""
    spec, lyon, tech = ctx.staff("specialist"), ctx.staff("lyon"), ctx.staff("tech")
    assert tech.put("/api/devices/PDB0OWN001", {"model": "Pixel"}).status == 201
    r = spec.post("/api/devices/PDB0OWN001/owners",
                  {"store_id": S["paris"], "name": "  Élise Chiffrée ",
                   "email": " Elise.Chiffree@Example.org", "phone": "+33 6 98-76.54 31"})
    assert r.status == 201, r
    assert r.json["owner"] == {"id": r.json["owner"]["id"], "name": "Élise Chiffrée",
                               "email": "Elise.Chiffree@Example.org", "phone": "+33698765431",
                               "since": r.json["owner"]["since"], "until": None,
                               "redacted": False}, r.json
    row = ctx.sql1("select * from device_owners where id = %s", (r.json["owner"]["id"],))
    for col in ("name", "email", "phone"):
        assert ctx.is_pd(row[col]), (col, row)
    assert ctx.opened(row["name"]) == "Élise Chiffrée", row
    assert row["email_bi"] == ctx.blind("email", "elise.chiffree@example.org"), row
    assert row["phone_bi"] == ctx.blind("phone", "+33698765431"), row
    dump = _dump(ctx)
    # ('+' and '@' are in no marker, hex or base64: a match is the clear value)
    for clear in ("Chiffrée", "Chiffree@", "chiffree@", "+33698765431", "+33 6 98"):
        assert clear not in dump, clear
    assert spec.get("/api/devices/PDB0OWN001").json["owner"]["name"] == "Élise Chiffrée"

    def found(c, query):
        r = c.get("/api/devices?q=" + q(query))
        assert r.status == 200, (query, r)
        return [(x["serial"], x["match"]) for x in r.json["results"]]

    for query, how in (("ELISE.chiffree@example.org", "email"), (" elise.chiffree@example.org ", "email"),
                       ("+33698765431", "phone"), ("+33 (6) 98 76 54 31", "phone")):
        assert found(spec, query) == [("PDB0OWN001", how)], query
        assert found(lyon, query) == [], query
    assert found(spec, "elise.chiffree@example.com") == [] and found(spec, "+33698765432") == []

    # The same contact (however it is written) is the same owner: nothing new is recorded.
    owners = count(ctx, "device_owners")
    entries = count(ctx, "record_entries")
    r = spec.post("/api/devices/PDB0OWN001/owners",
                  {"store_id": S["paris"], "name": "Élise Chiffrée",
                   "email": "elise.chiffree@EXAMPLE.org", "phone": "+336 98 76 54 31"})
    assert r.status == 201 and r.json["owner"]["name"] == "Élise Chiffrée", r
    assert count(ctx, "device_owners") == owners and count(ctx, "record_entries") == entries
    r = spec.post("/api/devices/PDB0OWN001/owners",
                  {"store_id": S["paris"], "name": "Élise Chiffrée", "phone": "+33698765431"})
    assert r.status == 201 and count(ctx, "device_owners") == owners + 1, r
    v = spec.get("/api/devices/PDB0OWN001/verify")
    assert v.status == 200 and v.json["ok"] is True, v


def test_owner_checked_in_clear_before_sealing(ctx):
    """What SQL can no longer check on a sealed owner, carnetd checks before sealing: bad values
    are refused naming the field, and nothing is stored."""
    spec = ctx.staff("specialist")
    assert spec.put("/api/devices/PDB0OWN002", {}).status == 201
    before = snapshot(ctx)
    base = {"store_id": S["paris"], "name": "Ana"}
    for extra, field in (({"name": "   ", "email": "a@b.fr"}, "owner.name"),
                         ({"name": "x" * 201, "email": "a@b.fr"}, "owner.name"),
                         ({"name": 7, "email": "a@b.fr"}, "owner.name"),
                         ({"email": "a b@c.fr"}, "owner.email"),
                         ({"email": "<a@b.fr>"}, "owner.email"),
                         ({"email": "a@b@c.fr"}, "owner.email"),
                         ({"email": "a@bfr"}, "owner.email"),
                         ({"email": "a@" + "b" * 250 + ".fr"}, "owner.email"),
                         ({"email": 12}, "owner.email"),
                         ({"phone": "12345"}, "owner.phone"),
                         ({"phone": "1234567890123456"}, "owner.phone"),
                         ({"phone": "06 12+34 56 78"}, "owner.phone"),
                         ({"phone": 612345678}, "owner.phone"),
                         ({"email": "  "}, "owner.email")):
        body = dict(base, **extra)
        r = spec.post("/api/devices/PDB0OWN002/owners", body)
        assert r.status == 422 and r.error["field"] == field, (body, r)
    # 200 characters (not bytes) is a name.
    r = spec.post("/api/devices/PDB0OWN002/owners", dict(base, name="é" * 200, email="a@b.fr"))
    assert r.status == 201, r
    assert snapshot(ctx)[1] == before[1] + 1
    # A repair intake's owner is checked and sealed the same way.
    tech = ctx.staff("tech")
    intake = {"serial": "PDB0OWN003", "problem": "dead", "intake": {"checklist": [{"item": "x", "ok": True}]}}
    r = tech.post("/api/stores/%d/repairs" % S["paris"], dict(intake, owner={"name": "B", "email": "nope"}))
    assert r.status == 422 and r.error["field"] == "owner.email", r
    r = tech.post("/api/stores/%d/repairs" % S["paris"], dict(intake, owner="Bob"))
    assert r.status == 422 and r.error["field"] == "owner", r
    assert count(ctx, "devices", "serial = 'PDB0OWN003'") == 0
    r = tech.post("/api/stores/%d/repairs" % S["paris"], dict(intake, owner={"name": "Bea", "phone": "0611223344"}))
    assert r.status == 201, r
    row = ctx.sql1("select o.* from repair_orders r join device_owners o on o.id = r.contact_owner_id"
                   " where r.id = %s", (r.json["id"],))
    assert ctx.is_pd(row["name"]) and ctx.is_pd(row["phone"]) and row["email"] is None, row
    assert row["phone_bi"] == ctx.blind("phone", "0611223344") and row["email_bi"] is None, row


# ---- diagnostics ----

def test_diagnostic_session_logged(ctx):
    tech = ctx.staff("tech")
    assert tech.put("/api/devices/DIAG0DEV01", {"model": "iPhone 14"}).status == 201
    r = tech.post("/api/devices/diag0dev01/diagnostics", diag_body(S["paris"], 93))
    assert r.status == 201, r
    assert r.json["passed"] == 2 and r.json["failed"] == 0 and r.json["source"] == "manual", r
    sid = r.json["session_id"]
    assert count(ctx, "diagnostic_values", "session_id = %s", (sid,)) == 2
    rec = tech.get("/api/devices/DIAG0DEV01").json
    e = rec["entries"][0]
    assert e["kind"] == "diagnostic" and e["store_id"] == S["paris"], e
    assert e["content"]["results"][0]["values"][0] == {"name": "battery_health", "value": 93, "unit": "%"}
    assert e["actor"]["name"] == "Théo Technicien", e


def test_diagnostic_refused(ctx):
    tech, spec, lyon = ctx.staff("tech"), ctx.staff("specialist"), ctx.staff("lyon")
    assert tech.put("/api/devices/DIAG0DEV02", {}).status == 201
    before = snapshot(ctx)
    p = S["paris"]
    cases = (
        ({"results": []}, "store_id"),
        ({"store_id": p}, "results"),
        ({"store_id": p, "results": []}, "results"),
        ({"store_id": p, "results": [{"test": "battery"}]}, "results[0].passed"),
        ({"store_id": p, "results": [{"test": "", "passed": True}]}, "results[0].test"),
        ({"store_id": p, "results": [{"test": "a", "passed": True},
                                     {"test": "b", "passed": True, "values": [{"name": "x", "value": "87%"}]}]},
         "results[1].values[0].value"),
        ({"store_id": p, "results": [{"test": "a", "passed": True, "values": [{"name": "Bad Name", "value": 1}]}]},
         "results[0].values[0].name"),
        ({"store_id": p, "performed_at": "yesterday", "results": [{"test": "a", "passed": True}]},
         "performed_at"),
        ({"store_id": p, "performed_at": "2999-01-01T00:00:00Z", "results": [{"test": "a", "passed": True}]},
         "performed_at"),
    )
    for body, field in cases:
        r = tech.post("/api/devices/DIAG0DEV02/diagnostics", body)
        assert r.status == 422 and r.error["field"] == field, (body, r)
    assert spec.post("/api/devices/DIAG0DEV02/diagnostics", diag_body(p, 90)).status == 403
    r = lyon.post("/api/devices/DIAG0DEV02/diagnostics", diag_body(p, 90))
    assert r.status == 403 and r.error["code"] == "forbidden", r
    r = tech.post("/api/devices/DIAG0NOPE2/diagnostics", diag_body(p, 90))
    assert r.status == 404 and r.error["field"] == "serial", r
    assert Client(ctx.server.port).post("/api/devices/DIAG0DEV02/diagnostics", diag_body(p, 90)).status == 401
    assert snapshot(ctx) == before


def report(serial="diag0dev03", **over):
    rep = {"format": "carnet-diag/1", "tool": {"name": "DiagKit", "version": "4.2"},
           "device": {"serial": serial}, "started_at": "2026-01-10T09:30:00+01:00",
           "tests": [{"id": "battery", "status": "PASS",
                      "measurements": {"battery_health": {"value": 88, "unit": "%"},
                                       "cycle_count": {"value": 512}}},
                     {"id": "thermal", "status": "fail", "message": "fan slow"}]}
    rep.update(over)
    return rep


def test_import_tool_report(ctx):
    tech = ctx.staff("tech")
    assert tech.put("/api/devices/DIAG0DEV03", {}).status == 201
    r = tech.post("/api/devices/DIAG0DEV03/diagnostics/import", {"store_id": S["paris"], "report": report()})
    assert r.status == 201, r
    assert r.json["source"] == "import" and r.json["passed"] == 1 and r.json["failed"] == 1, r
    s = ctx.sql1("select * from diagnostic_sessions where id = %s", (r.json["session_id"],))
    assert s["tool"] == "DiagKit 4.2" and s["source"] == "import", s
    assert s["performed_at"].isoformat().startswith("2026-01-10T08:30:00"), s
    vals = ctx.sql("select name, value, unit from diagnostic_values where session_id = %s order by name",
                   (s["id"],))
    assert [(v["name"], float(v["value"]), v["unit"]) for v in vals] == [
        ("battery_health", 88.0, "%"), ("cycle_count", 512.0, None)], vals
    e = tech.get("/api/devices/DIAG0DEV03").json["entries"][0]
    assert e["content"]["results"][1] == {"test": "thermal", "passed": False, "values": [], "note": "fan slow"}, e


def test_import_malformed_report_stores_nothing(ctx):
    tech = ctx.staff("tech")
    assert tech.put("/api/devices/DIAG0DEV04", {}).status == 201
    before = snapshot(ctx)
    good = report("diag0dev04")
    bad_tests = [dict(good["tests"][0]), {"id": "x", "status": "MAYBE"}]
    cases = (
        (report("diag0dev04", format="other/2"), "report.format"),
        (report("diag0dev04", tool={}), "report.tool.name"),
        (report("diag0dev04", tests=[]), "report.tests"),
        (report("diag0dev04", tests=bad_tests), "report.tests[1].status"),
        (report("diag0dev04", tests=[{"id": "b", "status": "PASS", "measurements": {"h": {"value": "high"}}}]),
         "report.tests[0].measurements.h"),
        (report("diag0dev04", tests=[{"id": "b", "status": "PASS", "measurements": [1]}]),
         "report.tests[0].measurements"),
        (report("diag0dev04", started_at="10/01/2026"), "report.started_at"),
        (report("OTHER0DEV9"), "report.device.serial"),
    )
    for rep, field in cases:
        r = tech.post("/api/devices/DIAG0DEV04/diagnostics/import", {"store_id": S["paris"], "report": rep})
        assert r.status == 422 and r.error["field"] == field, (field, r)
    r = tech.post("/api/devices/DIAG0DEV04/diagnostics/import", {"store_id": S["paris"], "report": "text"})
    assert r.status == 422 and r.error["field"] == "report", r
    r = tech.post("/api/devices/DIAG0DEV04/diagnostics/import", raw=b'{"store_id": 1, "report": {',
                  headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.error["code"] == "invalid_json", r
    assert snapshot(ctx) == before


def test_trends_across_sessions(ctx):
    tech, spec = ctx.staff("tech"), ctx.staff("specialist")
    assert tech.put("/api/devices/TREND0DEV1", {}).status == 201
    for days, health in ((300, 97), (200, 92), (10, 85)):
        body = diag_body(S["paris"], health)
        body["performed_at"] = ctx.sql1("select (now() - make_interval(days => %s))::text as t", (days,))["t"].replace(" ", "T")
        assert tech.post("/api/devices/TREND0DEV1/diagnostics", body).status == 201
    r = spec.get("/api/devices/trend0dev1/trends")
    assert r.status == 200, r
    series = r.json["metrics"]["battery_health"]
    assert [p["value"] for p in series] == [97, 92, 85], series
    assert sorted(r.json["metrics"]) == ["battery_health", "cycle_count"]
    rec = spec.get("/api/devices/TREND0DEV1").json
    assert rec["trends"]["battery_health"]["latest"] == 85 and rec["trends"]["battery_health"]["previous"] == 92, rec["trends"]
    assert rec["trends"]["battery_health"]["unit"] == "%", rec["trends"]
    last_entry = rec["entries"][-1]["id"]
    assert spec.get("/api/devices/TREND0DEV1?before=%d" % (last_entry + 1)).json["trends"] is None
    r = spec.get("/api/devices/TREND0DEV1/trends?metric=battery_health")
    assert list(r.json["metrics"]) == ["battery_health"], r
    assert spec.get("/api/devices/TREND0NOPE/trends").status == 404
    # A serial too long is refused first, whatever the query says (it used to be read after
    # the reply).
    for q in ("?metric=x", "?metric=", "?metric=" + "m" * 100, ""):
        r = spec.get("/api/devices/" + "S" * 70 + "/trends" + q)
        assert r.status == 422 and r.error["field"] == "serial", (q, r)


# ---- notes, corrections, pagination ----

def test_notes_and_corrections(ctx):
    spec = ctx.staff("specialist")
    assert spec.put("/api/devices/NOTE0DEV01", {}).status == 201
    assert spec.put("/api/devices/NOTE0DEV02", {}).status == 201
    r = spec.post("/api/devices/NOTE0DEV01/notes", {"text": "Customer says it fell in water", "store_id": S["paris"]})
    assert r.status == 201 and r.json["kind"] == "note", r
    old = r.json["id"]
    r = spec.post("/api/devices/NOTE0DEV01/notes", {"text": "It fell on the floor, not in water", "corrects": old})
    assert r.status == 201 and r.json["kind"] == "correction" and r.json["corrects"] == old, r
    fix = r.json["id"]
    rec = spec.get("/api/devices/NOTE0DEV01").json
    by_id = {e["id"]: e for e in rec["entries"]}
    assert by_id[old]["corrected_by"] == fix and by_id[old]["content"]["text"].endswith("water"), by_id
    # A correction must point into the same device's record.
    other = spec.post("/api/devices/NOTE0DEV02/notes", {"text": "x"}).json["id"]
    before = snapshot(ctx)
    for body, field in (({"text": "y", "corrects": other}, "corrects"),
                        ({"text": "y", "corrects": "abc"}, "corrects"),
                        ({"text": ""}, "text"), ({"text": 5}, "text"),
                        ({"text": "y", "store_id": S["lyon"]}, None)):
        r = spec.post("/api/devices/NOTE0DEV01/notes", body)
        if field is None:
            assert r.status == 403, r
        else:
            assert r.status == 422 and r.error["field"] == field, (body, r)
    assert snapshot(ctx) == before


def test_record_keyset_pagination(ctx):
    spec = ctx.staff("specialist")
    assert spec.put("/api/devices/PAGE0DEV01", {}).status == 201
    dev = ctx.sql1("select id from devices where serial = 'PAGE0DEV01'")["id"]
    ctx.sql("select record_append(%s, 'note', jsonb_build_object('text', 'n' || i), null) "
            "from generate_series(1, 120) i", (dev,))
    seen, before, pages = [], None, 0
    while True:
        url = "/api/devices/PAGE0DEV01?limit=50" + ("&before=%d" % before if before else "")
        r = spec.get(url)
        assert r.status == 200, r
        ids = [e["id"] for e in r.json["entries"]]
        assert ids == sorted(ids, reverse=True), ids
        assert len(ids) <= 50
        seen += ids
        pages += 1
        before = r.json["next_before"]
        if before is None:
            break
        assert before == ids[-1]
    assert pages == 3 and len(seen) == 121 and len(set(seen)) == 121, (pages, len(seen))
    assert seen == [r["id"] for r in ctx.sql(
        "select id from record_entries where device_id = %s order by id desc", (dev,))]
    r = spec.get("/api/devices/PAGE0DEV01?limit=5&before=%d" % seen[10])
    assert [e["id"] for e in r.json["entries"]] == seen[11:16], r
    for bad in ("limit=0", "limit=201", "limit=x", "before=abc", "before=-3"):
        r = spec.get("/api/devices/PAGE0DEV01?" + bad)
        assert r.status == 400 and r.error["code"] == "bad_value" \
            and r.error["field"] == bad.split("=")[0], (bad, r)
    # The page is read through the (device_id, id desc) index.
    plan = "\n".join(r["QUERY PLAN"] for r in ctx.sql(
        "explain select id from record_entries where device_id = %s and id < %s "
        "order by id desc limit 50", (dev, seen[50])))
    assert "record_entries_device_idx" in plan, plan


def test_record_read_is_audited(ctx):
    spec = ctx.staff("specialist")
    dev = ctx.sql1("select id from devices where serial = 'F2LDEMO0PH13'")["id"]
    n = count(ctx, "audit_log", "object_type = 'device' and object_id = %s and action = 'read'", (str(dev),))
    assert spec.get("/api/devices/F2LDEMO0PH13").status == 200
    assert count(ctx, "audit_log", "object_type = 'device' and object_id = %s and action = 'read'",
                 (str(dev),)) == n + 1


# ---- search ----

def test_search(ctx):
    spec, tech = ctx.staff("specialist"), ctx.staff("tech")
    for s in ("SRCH0AA001", "SRCH0AA002", "SRCH0AB003"):
        assert tech.put("/api/devices/" + s, {"model": "Watch"}).status == 201
    # A prefix finds the devices the caller's stores have dealt with (test_custody: no others).
    assert spec.post("/api/devices/SRCH0AA001/notes",
                     {"text": "seen at the bar", "store_id": S["paris"]}).status == 201
    assert spec.post("/api/devices/SRCH0AA002/owners", {"store_id": S["paris"], "name": "Lena",
                     "email": "lena.search@example.org", "phone": "+33 7 00 00 00 01"}).status == 201
    rep = tech.post("/api/stores/%d/repairs" % S["paris"], {"serial": "SRCH0AB003", "problem": "strap",
                    "intake": {"checklist": [{"item": "case", "ok": True}]}}).json

    def serials(query):
        r = spec.get("/api/devices?q=" + q(query))
        assert r.status == 200, (query, r)
        return [(x["serial"], x["match"]) for x in r.json["results"]]

    assert serials("srch0aa001") == [("SRCH0AA001", "serial")]
    assert serials("SRCH0AA") == [("SRCH0AA001", "serial_prefix"), ("SRCH0AA002", "serial_prefix")]
    assert serials("srch0a") == [("SRCH0AA001", "serial_prefix"), ("SRCH0AA002", "serial_prefix"),
                                 ("SRCH0AB003", "serial_prefix")]
    assert serials("LENA.search@Example.org") == [("SRCH0AA002", "email")]
    assert serials("+33 (7) 00-00-00-01") == [("SRCH0AA002", "phone")]
    r = spec.get("/api/devices?q=" + q(rep["number"].lower()))
    assert [(x["serial"], x["match"], x["repair_id"]) for x in r.json["results"]] == [
        ("SRCH0AB003", "repair", rep["id"])], r
    assert serials("nothing@example.org") == []
    assert "lena" not in spec.get("/api/devices?q=" + q("lena.search@example.org")).raw.decode().lower()
    r = spec.get("/api/devices")
    assert r.status == 422 and r.error["field"] == "q", r
    r = spec.get("/api/devices?q=a&limit=1000")
    assert r.status == 400 and r.error["field"] == "limit", r
    assert Client(ctx.server.port).get("/api/devices?q=SRCH").status == 401


# ---- the append-only hash chain ----

def test_record_cannot_be_rewritten(ctx):
    dev = ctx.sql1("select id from devices where serial = 'F2LDEMO0PH13'")["id"]
    for stmt in ("update record_entries set content = '{}' where device_id = %s",
                 "delete from record_entries where device_id = %s"):
        try:
            ctx.sql(stmt, (dev,))
            raise AssertionError("rewrite allowed: " + stmt)
        except psycopg2.Error as e:
            assert e.pgcode == "CA409" and "append_only" in str(e), e
    try:
        ctx.sql("truncate record_entries cascade")
        raise AssertionError("truncate allowed")
    except psycopg2.Error as e:
        assert e.pgcode == "CA409", e


def _tamper(ctx, stmt, args):
    """Changes the record as someone with database access could, bypassing the trigger."""
    ctx.sql("alter table record_entries disable trigger record_entries_no_rewrite")
    try:
        ctx.sql(stmt, args)
    finally:
        ctx.sql("alter table record_entries enable trigger record_entries_no_rewrite")


def test_verification_points_at_a_changed_entry(ctx):
    spec = ctx.staff("specialist")
    assert spec.put("/api/devices/CHAIN0DEV1", {"model": "Pixel 8"}).status == 201
    ids = [spec.post("/api/devices/CHAIN0DEV1/notes", {"text": "note %d" % i}).json["id"] for i in range(5)]
    r = spec.get("/api/devices/chain0dev1/verify")
    assert r.status == 200, r
    assert r.json["ok"] is True and r.json["entries"] == 6 and r.json["checked"] == 6, r
    assert r.json["broken_at"] is None and r.json["reason"] is None, r
    _tamper(ctx, "update record_entries set content = jsonb_build_object('text', 'rewritten') where id = %s",
            (ids[2],))
    r = spec.get("/api/devices/CHAIN0DEV1/verify")
    assert r.status == 200, r
    assert r.json["ok"] is False and r.json["broken_at"] == ids[2], r
    assert r.json["reason"] == "hash_mismatch" and r.json["checked"] == 3, r
    # Other devices' chains are untouched.
    assert spec.get("/api/devices/F2LDEMO0PH13/verify").json["ok"] is True


def test_verification_finds_removed_and_reordered_entries(ctx):
    spec = ctx.staff("specialist")
    assert spec.put("/api/devices/CHAIN0DEV2", {}).status == 201
    ids = [spec.post("/api/devices/CHAIN0DEV2/notes", {"text": "n%d" % i}).json["id"] for i in range(4)]
    _tamper(ctx, "delete from record_entries where id = %s", (ids[1],))
    r = spec.get("/api/devices/CHAIN0DEV2/verify").json
    assert r["ok"] is False and r["broken_at"] == ids[2] and r["reason"] == "prev_mismatch", r

    assert spec.put("/api/devices/CHAIN0DEV3", {}).status == 201
    ids = [spec.post("/api/devices/CHAIN0DEV3/notes", {"text": "n%d" % i}).json["id"] for i in range(3)]
    _tamper(ctx, "delete from record_entries where id = %s", (ids[-1],))
    r = spec.get("/api/devices/CHAIN0DEV3/verify").json
    assert r["ok"] is False and r["reason"] == "head_mismatch" and r["broken_at"] == ids[-1], r

    # Changing who acted is as visible as changing what was written.
    assert spec.put("/api/devices/CHAIN0DEV4", {}).status == 201
    nid = spec.post("/api/devices/CHAIN0DEV4/notes", {"text": "x"}).json["id"]
    _tamper(ctx, "update record_entries set actor = null where id = %s", (nid,))
    r = spec.get("/api/devices/CHAIN0DEV4/verify").json
    assert r["ok"] is False and r["broken_at"] == nid and r["reason"] == "hash_mismatch", r
    assert spec.get("/api/devices/CHAIN0NOPE/verify").status == 404
    assert Client(ctx.server.port).get("/api/devices/CHAIN0DEV4/verify").status == 401


def test_concurrent_appends_keep_one_chain(ctx):
    assert ctx.staff("tech").put("/api/devices/RACE0DEV01", {}).status == 201
    clients = [ctx.staff(w) for w in ("tech", "tech2", "specialist", "manager")]
    errors = []

    def writer(c, k):
        for i in range(10):
            r = c.post("/api/devices/RACE0DEV01/notes", {"text": "w%d-%d" % (k, i)})
            if r.status != 201:
                errors.append(r)

    threads = [threading.Thread(target=writer, args=(c, k)) for k, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    r = clients[0].get("/api/devices/RACE0DEV01/verify").json
    assert r["ok"] is True and r["entries"] == 41, r
    rows = ctx.sql("select e.id, e.prev_hash, e.hash from record_entries e join devices d on d.id = e.device_id "
                   "where d.serial = 'RACE0DEV01' order by e.id")
    for a, b in zip(rows, rows[1:]):
        assert bytes(b["prev_hash"]) == bytes(a["hash"])


def test_seeded_demo_record(ctx):
    admin = ctx.staff("admin")
    rec = admin.get("/api/devices/F2LDEMO0PH13").json
    assert rec["device"]["model"] == "iPhone 13" and rec["owner"]["name"] == "Claire Martin", rec
    assert rec["repairs"][0]["state"] == "repairing", rec["repairs"]
    assert [p["value"] for p in admin.get("/api/devices/F2LDEMO0PH13/trends").json["metrics"]["battery_health"]] == [96, 91, 87]
    for s in ("F2LDEMO0PH13", "C02DEMO0MBP1", "353918051234561"):
        assert admin.get("/api/devices/%s/verify" % s).json["ok"] is True, s


def test_every_device_endpoint_needs_a_session(ctx):
    anon = Client(ctx.server.port)
    before = snapshot(ctx)
    calls = (("GET", "/api/devices?q=F2L", None), ("GET", "/api/devices/F2LDEMO0PH13", None),
             ("PUT", "/api/devices/F2LDEMO0PH13", {"model": "x"}),
             ("POST", "/api/devices/F2LDEMO0PH13/owners", {"store_id": 1, "name": "A", "email": "a@b.fr"}),
             ("POST", "/api/devices/F2LDEMO0PH13/diagnostics", diag_body(1, 50)),
             ("POST", "/api/devices/F2LDEMO0PH13/diagnostics/import", {"store_id": 1, "report": report("F2LDEMO0PH13")}),
             ("GET", "/api/devices/F2LDEMO0PH13/trends", None),
             ("POST", "/api/devices/F2LDEMO0PH13/notes", {"text": "x"}),
             ("GET", "/api/devices/F2LDEMO0PH13/verify", None))
    for method, path, body in calls:
        r = anon.request(method, path, body=body)
        assert r.status == 401 and r.error["code"] == "unauthenticated", (method, path, r)
    # Specialists read the record but do not log diagnostics.
    spec = ctx.staff("specialist")
    for path, body in (("/api/devices/F2LDEMO0PH13/diagnostics", diag_body(S["paris"], 50)),
                       ("/api/devices/F2LDEMO0PH13/diagnostics/import",
                        {"store_id": S["paris"], "report": report("F2LDEMO0PH13")})):
        r = spec.post(path, body)
        assert r.status == 403 and r.error["code"] == "forbidden", (path, r)
    r = ctx.staff("lyon").post("/api/devices/F2LDEMO0PH13/diagnostics/import",
                                {"store_id": S["paris"], "report": report("F2LDEMO0PH13")})
    assert r.status == 403, r
    assert snapshot(ctx) == before


def test_other_domains_append_with_record_append(ctx):
    """The contract other domains rely on: record_append(device, kind, content, actor, store,
    ref_type, ref_id) adds an entry to the chain. A repair entry with a store counts as business
    there; a booking's does not (anybody can book anywhere naming any serial)."""
    lyon = ctx.staff("lyon")
    spec = ctx.staff("specialist")
    assert spec.put("/api/devices/APPT0DEV01", {}).status == 201
    assert spec.post("/api/devices/APPT0DEV01/owners", {"store_id": S["paris"], "name": "Bo",
                     "email": "bo@example.com"}).status == 201
    assert lyon.get("/api/devices/APPT0DEV01").json["owner"]["redacted"] is True
    dev = ctx.sql1("select device_ensure('appt0dev01') as id")["id"]
    e = ctx.sql1("select (record_append(%s, 'appointment', '{\"service\": \"Battery\"}', null, %s, "
                 "'appointment', 42)).*", (dev, S["lyon"]))
    assert e["hash"] and bytes(e["prev_hash"]) != b"\0" * 32, e
    rec = lyon.get("/api/devices/APPT0DEV01").json
    assert rec["entries"][0]["kind"] == "appointment" and rec["entries"][0]["ref_id"] == 42, rec
    assert rec["owner"]["redacted"] is True, rec["owner"]
    ctx.sql("select record_append(%s, 'repair_opened', '{}', null, %s, 'repair', 43)",
            (dev, S["lyon"]))
    rec = lyon.get("/api/devices/APPT0DEV01").json
    assert rec["owner"]["name"] == "Bo", rec["owner"]
    assert lyon.get("/api/devices/APPT0DEV01/verify").json["ok"] is True
    for bad in ("'Bad Kind'", "'appointment'"):
        try:
            ctx.sql("select record_append(%s, " + bad + ", '[1]', null)", (dev,))
            raise AssertionError("accepted " + bad)
        except psycopg2.errors.CheckViolation:
            pass
