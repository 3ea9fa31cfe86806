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
