"""Diagnostic importers (issue 17, point 6): POST /api/devices/{serial}/diagnostics/import takes a
real tool's report as the tool wrote it (smartctl --json -a, system_profiler -json SPPowerDataType,
upower -i text), the store in ?store_id=, detects the kind from the content and stores one
session whose values show in the record and its trends; the part measured keeps its own serial.
The reports are in tests/it/data/diag (their sources in the README there)."""
import json
import os

from harness import Client

S = {}
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "diag")


def setup(ctx):
    ctx.seed_demo()
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]


def data(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def snapshot(ctx):
    return tuple(ctx.sql1("select count(*) as n from %s" % t)["n"]
                 for t in ("record_entries", "diagnostic_sessions", "diagnostic_values"))


def imp(c, serial, raw, store=None, ctype="application/json"):
    path = "/api/devices/%s/diagnostics/import" % serial
    if store is not None:
        path += "?store_id=%s" % store
    return c.post(path, raw=raw, headers={"Content-Type": ctype})


def device(ctx, serial):
    tech = ctx.staff("tech")
    assert tech.put("/api/devices/" + serial, {}).status in (200, 201)
    return tech


def values(ctx, session_id):
    return {v["name"]: (float(v["value"]), v["unit"], v["test"]) for v in ctx.sql(
        "select test, name, value, unit from diagnostic_values where session_id = %s", (session_id,))}


def test_smartctl_ata_report_of_a_laptop_disk(ctx):
    tech = device(ctx, "IMPLAPTOP01")
    r = imp(tech, "IMPLAPTOP01", data("smartctl-ata-failing-scrutiny.json"), S["paris"])
    assert r.status == 201, r
    assert r.json["kind"] == "smartctl" and r.json["source"] == "import", r
    assert r.json["failed"] >= 3 and r.json["passed"] >= 1, r
    s = ctx.sql1("select * from diagnostic_sessions where id = %s", (r.json["session_id"],))
    assert s["tool"] == "smartctl 7.1" and s["store_id"] == S["paris"], s
    # performed when smartctl ran (its local_time), not when it was imported
    assert s["performed_at"].isoformat().startswith("2021-11-16T05:18:38"), s
    v = values(ctx, s["id"])
    assert v["disk_reallocated_sectors"] == (1975.0, "sectors", "disk_reallocated_sectors"), v
    assert v["disk_pending_sectors"] == (8.0, "sectors", "disk_pending_sectors"), v
    assert v["disk_power_on_hours"] == (65592.0, "h", "disk_power_on"), v
    assert v["disk_temperature"][:2] == (25.0, "°C"), v
    # the disk's own serial is kept on each result; the device keeps its own
    e = tech.get("/api/devices/IMPLAPTOP01").json
    assert e["device"]["serial"] == "IMPLAPTOP01"
    entry = e["entries"][0]
    assert entry["kind"] == "diagnostic" and entry["content"]["tool"] == "smartctl 7.1", entry
    res = {x["test"]: x for x in entry["content"]["results"]}
    assert res["disk_smart_status"]["passed"] is False, res
    assert res["disk_pending_sectors"]["component"] == {
        "kind": "disk", "model": "Hitachi HDS721050DLE630", "serial": "MSK423Y20S3HBC",
        "firmware": res["disk_pending_sectors"]["component"]["firmware"]}, res
    assert e["trends"]["disk_reallocated_sectors"]["latest"] == 1975, e["trends"]


def test_smartctl_trends_across_two_reports(ctx):
    tech = device(ctx, "IMPNAS0001")
    assert imp(tech, "IMPNAS0001", data("smartctl-ata-scrutiny.json"), S["paris"]).status == 201
    r = imp(tech, "IMPNAS0001", data("smartctl-nvme-scrutiny.json"), S["paris"])
    assert r.status == 201, r
    v = values(ctx, r.json["session_id"])
    assert v["disk_wear_used"] == (0.0, "%", "disk_wear"), v
    assert v["disk_media_errors"][0] == 0 and v["disk_available_spare"][0] == 100, v
    t = tech.get("/api/devices/IMPNAS0001/trends?metric=disk_power_on_hours").json["metrics"]
    assert [p["value"] for p in t["disk_power_on_hours"]] in ([1730, 2401], [2401, 1730]), t
    assert all(p["unit"] == "h" for p in t["disk_power_on_hours"]), t


def test_system_profiler_battery(ctx):
    tech = device(ctx, "IMPMACBOOK1")
    r = imp(tech, "IMPMACBOOK1", data("system_profiler-power.json"), S["paris"])
    assert r.status == 201 and r.json["kind"] == "system_profiler", r
    assert r.json["passed"] == 3 and r.json["failed"] == 0, r
    v = values(ctx, r.json["session_id"])
    assert v["battery_health"] == (83.0, "%", "battery_capacity"), v
    assert v["cycle_count"] == (88.0, "cycles", "battery_cycles"), v
    rec = tech.get("/api/devices/IMPMACBOOK1").json
    assert rec["trends"]["battery_health"]["latest"] == 83, rec["trends"]
    res = {x["test"]: x for x in rec["entries"][0]["content"]["results"]}
    assert res["battery_condition"]["note"] == "Condition: Good", res
    assert res["battery_cycles"]["component"]["serial"] == "F8Y2451PQ0ANHFRAZ", res


def test_upower_text_and_the_trend_it_continues(ctx):
    """upower's text, sent as text/plain; its battery_health continues the series a Carnet or
    macOS report started, whatever the tool."""
    tech = device(ctx, "IMPTHINKPAD")
    r = imp(tech, "IMPTHINKPAD", data("upower-dell-gpm0365.txt"), S["paris"], "text/plain")
    assert r.status == 201 and r.json["kind"] == "upower", r
    r = imp(tech, "IMPTHINKPAD", data("upower-lenovo-w520.txt"), S["paris"], "text/plain; charset=utf-8")
    assert r.status == 201, r
    assert r.json["failed"] == 1 and r.json["passed"] == 0, r  # 49.81 % < 80 %; cycles N/A
    v = values(ctx, r.json["session_id"])
    assert v["battery_health"] == (49.81, "%", "battery_capacity"), v
    assert v["battery_energy_full"][:2] == (46.44, "Wh") and v["battery_charge"][:2] == (38.0, "%"), v
    assert "cycle_count" not in v, v
    s = ctx.sql1("select tool, source from diagnostic_sessions where id = %s", (r.json["session_id"],))
    assert s == {"tool": "upower", "source": "import"}, s
    series = tech.get("/api/devices/IMPTHINKPAD/trends").json["metrics"]["battery_health"]
    assert sorted(p["value"] for p in series) == [49.81, 100], series


def test_carnet_json_still_imports_bare_or_wrapped(ctx):
    tech = device(ctx, "IMPCARNET1")
    rep = {"format": "carnet-diag/1", "tool": {"name": "DiagKit", "version": "4.2"},
           "device": {"serial": "impcarnet1"}, "started_at": "2026-01-10T09:30:00+01:00",
           "tests": [{"id": "battery", "status": "PASS",
                      "measurements": {"battery_health": {"value": 88, "unit": "%"}}}]}
    r = imp(tech, "IMPCARNET1", json.dumps(rep).encode(), S["paris"])
    assert r.status == 201 and r.json["kind"] == "carnet" and r.json["passed"] == 1, r
    r = tech.post("/api/devices/IMPCARNET1/diagnostics/import", {"store_id": S["paris"], "report": rep})
    assert r.status == 201 and r.json["kind"] == "carnet", r
    # the query may name the wrapper's store again, not another one
    r = imp(tech, "IMPCARNET1", json.dumps({"store_id": S["paris"], "report": rep}).encode(), S["paris"])
    assert r.status == 201, r
    before = snapshot(ctx)
    r = imp(tech, "IMPCARNET1", json.dumps({"store_id": S["paris"], "report": rep}).encode(), S["lyon"])
    assert r.status == 422 and r.error["field"] == "store_id", r
    r = imp(tech, "IMPCARNET1", json.dumps(dict(rep, format="carnet-diag/9")).encode(), S["paris"])
    assert r.status == 422 and r.error["code"] == "unsupported_format", r
    assert snapshot(ctx) == before


def test_unknown_and_malformed_reports_store_nothing(ctx):
    tech = device(ctx, "IMPBAD0001")
    before = snapshot(ctx)
    p = S["paris"]
    r = imp(tech, "IMPBAD0001", b'{"hello": "world"}', p)
    assert r.status == 422 and r.error["code"] == "unknown_report" and r.error["field"] == "report", r
    assert r.error["kinds"] == ["carnet", "smartctl", "system_profiler", "upower"], r.error
    for text in ("smartctl", "system_profiler", "upower"):
        assert text in r.error["message"], r.error
    r = imp(tech, "IMPBAD0001", b"Battery: 80%\nall good\n", p, "text/plain")
    assert r.status == 422 and r.error["code"] == "unknown_report", r
    r = imp(tech, "IMPBAD0001", b'{"smartctl": {"version": [7, 3]', p)
    assert r.status == 400 and r.error["code"] == "invalid_json", r
    r = imp(tech, "IMPBAD0001", data("smartctl-7.3-no-device.json"), p)
    assert r.status == 422 and r.error["code"] == "empty_report", r
    assert "Unable to detect device type" in r.error["message"], r
    r = imp(tech, "IMPBAD0001", b"  native-path: BAT0\n  battery\n  charge-cycles: N/A\n", p, "text/plain")
    assert r.status == 422 and r.error["code"] == "empty_report", r
    r = imp(tech, "IMPBAD0001", b"native-path: \xff\xfe\n", p, "text/plain")
    assert r.status == 422 and r.error["code"] == "invalid", r
    r = imp(tech, "IMPBAD0001", b"", p)
    assert r.status == 400 and r.error["code"] == "missing_body", r
    # the store: required, a number, a real store
    r = imp(tech, "IMPBAD0001", data("upower-dell-gpm0365.txt"), None, "text/plain")
    assert r.status == 422 and r.error["field"] == "store_id", r
    r = imp(tech, "IMPBAD0001", data("upower-dell-gpm0365.txt"), "paris", "text/plain")
    assert r.status == 400 and r.error["field"] == "store_id", r
    r = imp(tech, "IMPBAD0001", data("upower-dell-gpm0365.txt"), 999999, "text/plain")
    assert r.status == 422 and r.error["field"] == "store_id", r
    # no such device
    r = imp(tech, "IMPNOPE0001", data("upower-dell-gpm0365.txt"), p, "text/plain")
    assert r.status == 404 and r.error["field"] == "serial", r
    # text shaped like sealed data is refused (replies would open it)
    r = imp(tech, "IMPBAD0001", b"native-path: BAT0\nbattery\ncapacity: 90%\nmodel: {{pd:0123456789abcdef:AAAA}}\n",
            p, "text/plain")
    assert r.status == 422 and r.error["code"] == "invalid", r
    # ... also written with JSON escapes, in a disk's serial
    raw = (b'{"smartctl": {}, "smart_status": {"passed": true}, '
           b'"serial_number": "\\u007b\\u007bpd:0123456789abcdef:AAAA}}"}')
    assert b"{{" not in raw and json.loads(raw)["serial_number"].startswith("{{pd:"), raw
    r = imp(tech, "IMPBAD0001", raw, p)
    assert r.status == 422 and r.error["code"] == "invalid", r
    assert snapshot(ctx) == before


def test_who_may_not_import(ctx):
    device(ctx, "IMPACCESS01")
    before = snapshot(ctx)
    body = data("smartctl-nvme-scrutiny.json")
    anon = Client(ctx.server.port)
    r = imp(anon, "IMPACCESS01", body, S["paris"])
    assert r.status == 401 and r.error["code"] == "unauthenticated", r
    # a specialist reads the record but does not log diagnostics
    r = imp(ctx.staff("specialist"), "IMPACCESS01", body, S["paris"])
    assert r.status == 403 and r.error["code"] == "forbidden", r
    # Lyon's staff cannot log a session for Paris
    r = imp(ctx.staff("lyon"), "IMPACCESS01", body, S["paris"])
    assert r.status == 403, r
    r = imp(ctx.staff("lyon"), "IMPACCESS01", data("upower-lenovo-w520.txt"), S["paris"], "text/plain")
    assert r.status == 403, r
    assert snapshot(ctx) == before
    # The caller is checked first: a refused one learns neither whether the serial exists nor
    # what is wrong in the report.
    lyon = ctx.staff("lyon")
    r = imp(lyon, "IMPNOSUCH01", body, S["paris"])
    assert r.status == 403 and r.error["code"] == "forbidden", r
    bad = json.dumps({"store_id": S["paris"], "report": {"tool": "x", "tests": []}}).encode()
    for serial in ("IMPACCESS01", "IMPNOSUCH01"):
        r = imp(lyon, serial, bad)
        assert r.status == 403 and r.error["code"] == "forbidden", (serial, r)
    assert snapshot(ctx) == before


def test_a_negative_percent_is_422_naming_it(ctx):
    tech = device(ctx, "IMPNEGATIVE1")
    before = snapshot(ctx)
    for field, rep in (
            ("sppower_battery_health_maximum_capacity",
             {"sppower_battery_health_info": {"sppower_battery_health_maximum_capacity": -1e20}}),
            ("sppower_battery_state_of_charge",
             {"sppower_battery_health_info": {"sppower_battery_health_maximum_capacity": 80},
              "sppower_battery_charge_info": {"sppower_battery_state_of_charge": -1e300}})):
        raw = json.dumps({"SPPowerDataType": [rep]}).encode()
        r = imp(tech, "IMPNEGATIVE1", raw, S["paris"])
        assert r.status == 422 and r.error["code"] == "invalid" and r.error["field"] == field, r
    assert snapshot(ctx) == before
