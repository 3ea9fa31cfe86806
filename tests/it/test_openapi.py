"""The OpenAPI document served at /api/openapi.json describes exactly the routes carnetd has,
with the access rule each route enforces (x-access)."""
import json
import re
import subprocess


def _routes(ctx):
    out = subprocess.run([ctx.run.binary, "--routes"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_document_is_valid_openapi(ctx):
    r = ctx.client().get("/api/openapi.json")
    assert r.status == 200, r
    doc = r.json
    assert doc["openapi"].startswith("3."), doc.get("openapi")
    assert doc["info"]["title"]
    for path, ops in doc["paths"].items():
        assert path.startswith("/"), path
        for method, op in ops.items():
            assert method in ("get", "post", "put", "patch", "delete"), (path, method)
            assert op.get("summary"), (path, method)
            assert op.get("responses"), (path, method)
            for p in re.findall(r"{(\w+)}", path):
                names = [x["name"] for x in op.get("parameters", []) + ops.get("parameters", [])
                         if x.get("in") == "path"]
                assert p in names, "%s %s: path parameter %s undocumented" % (method, path, p)


def test_every_route_is_documented_and_nothing_else(ctx):
    doc = ctx.client().get("/api/openapi.json").json
    documented = {(m.upper(), p): op.get("x-access") for p, ops in doc["paths"].items()
                  for m, op in ops.items() if m != "parameters"}
    routes = {(r["method"], r["path"]): r["access"] for r in _routes(ctx)}
    missing = sorted(set(routes) - set(documented))
    extra = sorted(set(documented) - set(routes))
    assert not missing, "routes without documentation: %s" % missing
    assert not extra, "documented paths carnetd does not serve: %s" % extra
    wrong = [(k, routes[k], documented[k]) for k in routes if routes[k] != documented[k]]
    assert not wrong, "x-access differs from the route table: %s" % wrong


def test_document_is_cached_with_an_etag(ctx):
    """Merged once at start-up: the same text every time, and a client that has it gets 304."""
    c = ctx.client()
    a, b = c.get("/api/openapi.json"), c.get("/api/openapi.json")
    assert a.status == 200 and a.raw == b.raw, (a, b)
    tag = a.header("ETag")
    assert tag and tag.startswith('"') and tag == b.header("ETag"), a.headers
    r = c.get("/api/openapi.json", headers={"If-None-Match": tag})
    assert r.status == 304 and not r.raw, r
    assert c.get("/api/openapi.json", headers={"If-None-Match": '"other"'}).status == 200


def test_a_bad_document_stops_start_up(ctx):
    """Bad configuration is fatal at start-up: a part that does not parse stops carnetd before
    it serves, naming the file."""
    import os
    import shutil
    root = os.path.join(ctx.run.workdir, "web-bad-openapi")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web", "openapi")
    shutil.copytree(src, os.path.join(root, "openapi"), dirs_exist_ok=True)
    with open(os.path.join(root, "openapi", "900_broken.json"), "w") as f:
        f.write('{"paths": {')
    s = ctx.start_carnetd(env={"CARNET_WEB_ROOT": root}, wait=False, refuses_start=True)
    try:
        s.proc.wait(20)
    finally:
        rc = s.stop()
    assert rc not in (0, None), rc
    with open(s.log_path, "rb") as f:
        assert b"900_broken.json" in f.read()
